"""Codex's plan windows, read from real-shaped rollouts: `rate_limits` on token_count lines."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from monitor.sources.codex import parse
from tests.factories import parse_ctx

RESET_5H = 1763862524
RESET_7D = 1764176208


def line(kind: str, payload: dict[str, Any], ts: str = "2025-11-22T20:00:00.000Z") -> bytes:
    return json.dumps({"timestamp": ts, "type": kind, "payload": payload}).encode() + b"\n"


def token_count(info: Any, limits: Any, ts: str = "2025-11-22T20:00:00.000Z") -> bytes:
    return line("event_msg", {"type": "token_count", "info": info, "rate_limits": limits}, ts)


def limits(p5: float, p7: float, plan: str = "plus", reset5: int = RESET_5H) -> dict[str, Any]:
    return {
        "primary": {"used_percent": p5, "window_minutes": 300, "resets_at": reset5},
        "secondary": {"used_percent": p7, "window_minutes": 10080, "resets_at": RESET_7D},
        "credits": {"has_credits": False, "unlimited": False, "balance": None},
        "plan_type": plan,
    }


USAGE = {
    "total_token_usage": {
        "input_tokens": 1000,
        "cached_input_tokens": 200,
        "output_tokens": 50,
        "reasoning_output_tokens": 10,
    }
}
CTX = parse_ctx("codex", "/h/.codex/sessions/2025/11/22/rollout-x.jsonl", latest=None)


def test_rate_limits_are_read_from_token_count_lines_also_when_info_is_null() -> None:
    data = token_count(None, limits(12.0, 3.0)) + token_count(
        USAGE, limits(14.0, 3.5), ts="2025-11-22T20:01:00.000Z"
    )
    result = parse(CTX, {}, data)
    assert [e.input_tokens for e in result.events] == [1000]
    assert [(s.window, s.used_percent, s.plan) for s in result.limits] == [
        ("5h", 12.0, "plus"),
        ("7d", 3.0, "plus"),
        ("5h", 14.0, "plus"),
        ("7d", 3.5, "plus"),
    ]
    assert result.limits[2].observed_at == datetime(2025, 11, 22, 20, 1, tzinfo=UTC)
    assert not result.errors


def test_a_plan_change_and_a_new_window_are_new_snapshots() -> None:
    later = RESET_5H + 5 * 3600
    data = token_count(None, limits(90.0, 40.0)) + token_count(
        None, limits(2.0, 41.0, plan="pro", reset5=later), ts="2025-11-22T23:30:00.000Z"
    )
    five = [s for s in parse(CTX, {}, data).limits if s.window == "5h"]
    assert [(s.used_percent, s.plan, int(s.resets_at.timestamp())) for s in five] == [
        (90.0, "plus", RESET_5H),
        (2.0, "pro", later),
    ]


def test_a_broken_snapshot_is_a_bad_record_and_the_usage_on_its_line_still_counts() -> None:
    broken = {"primary": {"used_percent": "lots", "window_minutes": 300, "resets_at": 1}}
    result = parse(CTX, {}, token_count(USAGE, broken))
    assert [e.input_tokens for e in result.events] == [1000]
    assert result.limits == []
    assert [e.offset for e in result.errors] == [0]


def test_zero_placeholder_windows_give_no_snapshot() -> None:
    zero = {"used_percent": 0.0, "window_minutes": 0, "resets_at": 0}
    result = parse(CTX, {}, token_count(None, {"primary": zero, "secondary": zero}))
    assert result.limits == [] and result.errors == []
