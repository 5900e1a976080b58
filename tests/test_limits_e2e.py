"""Plan windows end to end: a Codex rollout's `rate_limits` → ledger → `status --json`."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.daemon_harness import Source, Workspace, append, wait_for, workspace

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    with workspace(tmp_path) as w:
        yield w


def rollout_line(pct5: float, resets5: int) -> bytes:
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
    record = {
        "timestamp": now,
        "type": "event_msg",
        "payload": {
            "type": "token_count",
            "info": None,
            "rate_limits": {
                "primary": {"used_percent": pct5, "window_minutes": 300, "resets_at": resets5},
                "secondary": {
                    "used_percent": 3.0,
                    "window_minutes": 10080,
                    "resets_at": resets5 + 4 * 86400,
                },
                "plan_type": "plus",
            },
        },
    }
    return json.dumps(record).encode() + b"\n"


def limits(ws: Workspace) -> list[dict[str, Any]]:
    out = ws.cli("status", "--json")
    assert out.returncode == 0, out.stderr
    return list(json.loads(out.stdout)["limits"])


def test_codex_windows_reach_status_live_and_from_the_ledger(ws: Workspace) -> None:
    f = ws.root / "codex" / "sessions" / "2026" / "12" / "03" / "rollout-x.jsonl"
    f.parent.mkdir(parents=True)
    f.write_bytes(b"")
    ws.write_config([Source("codex", "codex", (f"{ws.root}/codex/sessions/**/*.jsonl",))])
    daemon = ws.start()
    resets = int(time.time()) + 3600
    append(f, rollout_line(42.0, resets))

    def five_hour() -> dict[str, Any] | None:
        return next((w for w in limits(ws) if w["window"] == "5h"), None)

    live = wait_for(five_hour, 10, "the 5h window in status")
    assert (live["tool"], live["used_percent"], live["plan"], live["basis"]) == (
        "codex",
        42.0,
        "plus",
        "reported",
    )
    append(f, rollout_line(57.5, resets))
    wait_for(lambda: (w := five_hour()) is not None and w["used_percent"] == 57.5, 10, "57.5 %")
    assert daemon.stop() == 0
    offline = {w["window"]: w["used_percent"] for w in limits(ws)}
    assert offline == {"5h": 57.5, "7d": 3.0}
