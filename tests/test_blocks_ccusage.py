"""`report --by block` against ccusage 20.0.24's `blocks` on the same Claude Code files.

The tree has gaps between blocks, a burst that runs across a block's end (a call exactly
five hours after the block's start stays in it, one a second later opens the next
block), a call half a second past the boundary, and sessions split over files. Our rows
must be ccusage's non-gap blocks: same starts, entries = calls, and the tokens in our
semantics (input counts cache reads and writes).
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bench.ccusage import CcusageUnavailable, install
from tests.factories import one_source_config
from tests.test_cli import REPO, run

SESSIONS = ("3b1e6f0a-2c4d-4e8f-9a1b-5c6d7e8f9a0b", "8d2f7a1b-3e5c-4f9a-8b2c-6d7e8f9a0b1c")


def _times() -> list[datetime]:
    day = datetime(2026, 11, 20, tzinfo=UTC)
    burst = [day + timedelta(hours=10, minutes=17 + 20 * i) for i in range(20)]  # to 16:37
    edges = [
        day + timedelta(hours=15),  # exactly 5 h after the 10:00 start: stays
        day + timedelta(hours=15, seconds=1),  # opens the 15:00 block
    ]
    later = [
        day + timedelta(days=1, hours=1),  # after a gap of over 5 h
        day + timedelta(days=1, hours=6),  # exactly 5 h after 01:00: stays
        day + timedelta(days=1, hours=6, milliseconds=500),  # opens the 06:00 block
        day + timedelta(days=4, hours=23, minutes=59, seconds=59, milliseconds=999),
    ]
    return sorted([*burst, *edges, *later])


def _line(obj: dict[str, Any]) -> str:
    # Compact, as Claude Code writes: ccusage's fast filter skips spaced JSON.
    return json.dumps(obj, separators=(",", ":")) + "\n"


def _stamp(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


def write_tree(root: Path) -> None:
    """Two sessions of one project, calls alternating between them, each after a prompt."""
    project = root / "projects" / "-home-user-blocks"
    project.mkdir(parents=True)
    lines: dict[str, list[str]] = {s: [] for s in SESSIONS}
    for i, ts in enumerate(_times()):
        session = SESSIONS[i % 2]
        common = {
            "isSidechain": False,
            "userType": "external",
            "cwd": "/home/user/blocks",
            "sessionId": session,
            "version": "2.0.14",
            "gitBranch": "main",
        }
        prompt_uuid = f"5e1f{i:04x}-0000-4000-8000-000000b10c00"
        lines[session].append(
            _line(
                {
                    "parentUuid": None,
                    **common,
                    "type": "user",
                    "message": {"role": "user", "content": f"step {i}"},
                    "uuid": prompt_uuid,
                    "timestamp": _stamp(ts - timedelta(milliseconds=1)),
                }
            )
        )
        lines[session].append(
            _line(
                {
                    "parentUuid": prompt_uuid,
                    **common,
                    "type": "assistant",
                    "message": {
                        "id": f"msg_01Blocks{i:016d}",
                        "type": "message",
                        "role": "assistant",
                        "model": "claude-sonnet-4-5-20250929",
                        "content": [{"type": "text", "text": f"done {i}"}],
                        "stop_reason": "end_turn",
                        "stop_sequence": None,
                        "usage": {
                            "input_tokens": 3 + i,
                            "cache_creation_input_tokens": 100 * i,
                            "cache_read_input_tokens": 1000 + 7 * i,
                            "cache_creation": {
                                "ephemeral_5m_input_tokens": 100 * i,
                                "ephemeral_1h_input_tokens": 0,
                            },
                            "output_tokens": 50 + 11 * i,
                            "service_tier": "standard",
                        },
                    },
                    "requestId": f"req_011Blocks{i:012d}",
                    "uuid": f"5e1f{i:04x}-0001-4000-8000-000000b10c01",
                    "timestamp": _stamp(ts),
                }
            )
        )
    for session, text in lines.items():
        (project / f"{session}.jsonl").write_text("".join(text))


def _ccusage(tmp_path: Path) -> Path:
    cache = REPO / "bench" / "out"
    prefix = cache / "ccusage" if cache.is_dir() else tmp_path / "ccusage"
    try:
        return install(prefix)
    except CcusageUnavailable as exc:
        pytest.skip(f"ccusage 20.0.24 cannot be installed here (npm or the registry): {exc}")


@pytest.mark.e2e
def test_report_by_block_equals_ccusage_blocks_on_the_same_files(tmp_path: Path) -> None:
    binary = _ccusage(tmp_path)
    tree = tmp_path / "claude"
    write_tree(tree)

    theirs = subprocess.run(
        [str(binary), "claude", "blocks", "--json", "--offline", "--timezone", "UTC"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "CLAUDE_CONFIG_DIR": str(tree), "NO_COLOR": "1"},
    )
    assert theirs.returncode == 0, theirs.stderr
    expected = [
        {
            "block": datetime.fromisoformat(b["startTime"]).isoformat(),
            "calls": b["entries"],
            "input_tokens": b["tokenCounts"]["inputTokens"]
            + b["tokenCounts"]["cacheCreationInputTokens"]
            + b["tokenCounts"]["cacheReadInputTokens"],
            "output_tokens": b["tokenCounts"]["outputTokens"],
            "cache_read_tokens": b["tokenCounts"]["cacheReadInputTokens"],
            "cache_write_tokens": b["tokenCounts"]["cacheCreationInputTokens"],
        }
        for b in json.loads(theirs.stdout)["blocks"]
        if not b["isGap"]
    ]

    config = one_source_config(
        tmp_path, "claude-code", "claude-code", f"{tree}/projects/**/*.jsonl", "Europe/Berlin"
    )
    scan = run("scan", config=config)
    assert scan.returncode == 0, scan.stderr
    report = run("report", "--by", "block", "--format", "json", config=config)
    assert report.returncode == 0, report.stderr
    ours = [
        {
            "block": row["key"]["block"],
            **{k: row[k] for k in expected[0] if k != "block"},
        }
        for row in json.loads(report.stdout)["rows"]
    ]

    # The boundaries this tree was built to draw, so a ccusage change shows as such.
    assert [e["block"] for e in expected] == [
        "2026-11-20T10:00:00+00:00",
        "2026-11-20T15:00:00+00:00",
        "2026-11-21T01:00:00+00:00",
        "2026-11-21T06:00:00+00:00",
        "2026-11-24T23:00:00+00:00",
    ]
    assert ours == expected
