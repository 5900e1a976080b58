"""Plan windows end to end: a Codex rollout's `rate_limits` → ledger → `status --json`;
window alerts through a real Apprise receiver across a restart and into the next window;
an estimated window, equal from the daemon and from the ledger."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest
import tomli_w

from tests.daemon_harness import Source, Workspace, append, claude_line, wait_for
from tests.http_receiver import Receiver

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(60)]


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


def _with_receiver(
    ws: Workspace, sources: list[Source], receiver: Receiver, limits: Sequence[dict[str, Any]] = ()
) -> None:
    alerts = {"alerts": {"urls": [receiver.url], "retry_max_seconds": 0.2}}
    # Tables after the sources' array of tables, so none of it lands in the last source.
    ws.config_path.write_text(
        ws.config_text(sources)
        + tomli_w.dumps(alerts)
        + "".join("\n[[limits]]\n" + tomli_w.dumps(entry) for entry in limits)
    )


def _hhmm(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M")


def test_window_alerts_reach_apprise_once_across_a_restart_and_again_in_the_next_window(
    ws: Workspace,
) -> None:
    receiver = Receiver().start()
    try:
        f = ws.root / "codex" / "sessions" / "2026" / "12" / "03" / "rollout-x.jsonl"
        f.parent.mkdir(parents=True)
        f.write_bytes(b"")
        codex = Source("codex", "codex", (f"{ws.root}/codex/sessions/**/*.jsonl",))
        _with_receiver(ws, [codex], receiver)
        daemon = ws.start()
        first = int(time.time()) + 3600
        append(f, rollout_line(50.0, first))
        append(f, rollout_line(81.0, first))
        receiver.wait_for(1, timeout=10)
        append(f, rollout_line(96.0, first))
        receiver.wait_for(2, timeout=10)
        assert receiver.titles() == [
            f"llm-monitor: limit 'codex 5h' at 80 % (resets {_hhmm(first)})",
            f"llm-monitor: limit 'codex 5h' at 95 % (resets {_hhmm(first)})",
        ]
        assert daemon.stop() == 0

        again = ws.start()
        append(f, rollout_line(97.0, first))

        def five_hour_used() -> float:
            [w] = [w for w in again.snapshot()["limits"] if w["window"] == "5h"]
            return float(w["used_percent"])

        wait_for(lambda: five_hour_used() == 97.0, 10, "97 % after the restart")
        time.sleep(1.0)  # a repeat would be on its way by now
        assert len(receiver.titles()) == 2

        second = first + 5 * 3600  # the next window re-arms the thresholds
        append(f, rollout_line(85.0, second))
        receiver.wait_for(3, timeout=10)
        assert receiver.titles()[2] == (
            f"llm-monitor: limit 'codex 5h' at 80 % (resets {_hhmm(second)})"
        )
        assert again.stop() == 0
    finally:
        receiver.stop()


_NOW_DEPENDENT = {"burn_tokens_per_minute", "burn_usd_per_hour", "projected_tokens",
                  "projected_cost_usd", "projected_percent"}  # fmt: skip


def _stable(windows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The windows without what moves with the clock between two `status` calls."""
    out = []
    for w in windows:
        w = dict(w)
        if "estimate" in w:
            w["estimate"] = {k: v for k, v in w["estimate"].items() if k not in _NOW_DEPENDENT}
        out.append(w)
    return out


def test_an_estimated_window_is_the_same_live_and_from_the_ledger_and_warns_when_sized(
    ws: Workspace,
) -> None:
    receiver = Receiver().start()
    try:
        f = ws.root / "claude" / "projects" / "-home-u-app" / "s.jsonl"
        f.parent.mkdir(parents=True)
        f.write_bytes(b"")
        claude = Source("claude", "claude-code", (f"{ws.root}/claude/projects/**/*.jsonl",))
        limit = {"tool": "claude", "window": "5h", "tokens": 1000}
        _with_receiver(ws, [claude], receiver, limits=[limit])
        daemon = ws.start()
        append(f, claude_line("msg_a", 500, 100))

        def window() -> dict[str, Any] | None:
            return next((w for w in daemon.snapshot()["limits"] if w["tool"] == "claude"), None)

        wait_for(lambda: (w := window()) is not None and w["used_percent"] == 60.0, 10, "60 %")
        append(f, claude_line("msg_b", 200, 50))
        receiver.wait_for(1, timeout=10)
        live = window()
        assert live is not None
        start = datetime.fromisoformat(live["estimate"]["block_start"])
        assert start.minute == 0 and live["basis"] == "estimated"
        assert receiver.titles() == [
            f"llm-monitor: limit 'claude 5h' at 80 % (estimated, resets "
            f"{_hhmm(int(start.timestamp()) + 5 * 3600)})"
        ]
        assert (live["used_percent"], live["estimate"]["tokens"]) == (85.0, 850)
        assert live["estimate"]["limit_from"] == "configured"
        from_daemon = json.loads(ws.cli("status", "--json").stdout)["limits"]
        assert daemon.stop() == 0
        from_ledger = json.loads(ws.cli("status", "--json").stdout)["limits"]
        assert _stable(from_daemon) == _stable(from_ledger) != []
    finally:
        receiver.stop()
