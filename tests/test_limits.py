"""Plan-limit snapshots, pure: read as Codex and Claude Code report them, or a bad record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor.limits import (
    BadLimit,
    LimitSnapshot,
    claude_limits,
    codex_limits,
    window_minutes,
    window_name,
    window_states,
)

SEEN = datetime(2026, 11, 22, 20, 0, tzinfo=UTC)
PRIMARY_RESET = 1763862524
WEEKLY_RESET = 1764176208


def codex(**overrides: Any) -> dict[str, Any]:
    limits: dict[str, Any] = {
        "primary": {"used_percent": 12.0, "window_minutes": 300, "resets_at": PRIMARY_RESET},
        "secondary": {"used_percent": 3.0, "window_minutes": 10080, "resets_at": WEEKLY_RESET},
        "credits": {"has_credits": False, "unlimited": False, "balance": None},
        "plan_type": "plus",
    }
    limits.update(overrides)
    return limits


def test_codex_rate_limits_become_a_5h_and_a_7d_window_with_the_plan() -> None:
    five, week = codex_limits(codex(), SEEN)
    assert (five.window, five.used_percent, five.plan) == ("5h", 12.0, "plus")
    assert five.resets_at == datetime.fromtimestamp(PRIMARY_RESET, UTC)
    assert (week.window, week.used_percent) == ("7d", 3.0)
    assert five.observed_at == SEEN and five.basis == "reported"


def test_the_window_length_decides_the_window_not_primary_or_secondary() -> None:
    swapped = codex(
        primary={"used_percent": 40.0, "window_minutes": 10080, "resets_at": WEEKLY_RESET},
        secondary={"used_percent": 7.0, "window_minutes": 300, "resets_at": PRIMARY_RESET},
    )
    assert {s.window: s.used_percent for s in codex_limits(swapped, SEEN)} == {
        "7d": 40.0,
        "5h": 7.0,
    }


def test_a_zero_placeholder_window_is_no_snapshot_not_a_zero_percent_window() -> None:
    zero = {"used_percent": 0.0, "window_minutes": 0, "resets_at": 0}
    assert codex_limits(codex(primary=zero, secondary=None), SEEN) == []


def test_older_codex_resets_in_seconds_is_relative_to_the_event() -> None:
    old = {"used_percent": 5.0, "window_minutes": 300, "resets_in_seconds": 3600}
    [s] = codex_limits(codex(primary=old, secondary=None), SEEN)
    assert s.resets_at == SEEN + timedelta(hours=1)


@pytest.mark.parametrize(
    "primary",
    [
        {"used_percent": "12", "window_minutes": 300, "resets_at": PRIMARY_RESET},
        {"used_percent": -1, "window_minutes": 300, "resets_at": PRIMARY_RESET},
        {"used_percent": 12.0, "window_minutes": 300},
        {"used_percent": 12.0, "window_minutes": 300, "resets_at": 1e30},
        {"used_percent": 12.0, "window_minutes": True, "resets_at": PRIMARY_RESET},
        "full",
    ],
)
def test_a_snapshot_with_a_missing_or_out_of_range_field_is_bad(primary: Any) -> None:
    with pytest.raises(BadLimit):
        codex_limits(codex(primary=primary), SEEN)


def test_claude_statusline_windows_and_their_absence() -> None:
    five, week = claude_limits(
        {
            "five_hour": {"used_percentage": 63, "resets_at": PRIMARY_RESET},
            "seven_day": {"used_percentage": 20.5, "resets_at": WEEKLY_RESET},
        },
        SEEN,
    )
    assert (five.tool, five.window, five.used_percent) == ("claude-code", "5h", 63.0)
    assert (week.window, week.used_percent) == ("7d", 20.5)
    assert claude_limits({"five_hour": None, "seven_day": None}, SEEN) == []
    with pytest.raises(BadLimit):
        claude_limits({"five_hour": {"used_percentage": "lots", "resets_at": 1}}, SEEN)


def test_window_names() -> None:
    assert [window_name(m) for m in (300, 10080, 90)] == ["5h", "7d", "90m"]
    assert [window_minutes(n) for n in ("5h", "7d", "90m")] == [300, 10080, 90]


def test_a_window_is_its_latest_snapshot_and_shows_as_reset_once_its_time_has_passed() -> None:
    resets = SEEN + timedelta(hours=2)

    def snap(pct: float, seen: datetime) -> LimitSnapshot:
        return LimitSnapshot("codex", 300, pct, resets, seen)

    older, newer = snap(80.0, SEEN - timedelta(minutes=5)), snap(85.0, SEEN)
    [state] = window_states([newer, older], SEEN)
    assert (state.used_percent, state.reset, state.time_left) == (85.0, False, timedelta(hours=2))
    [after] = window_states([older, newer], resets + timedelta(seconds=1))
    assert (after.used_percent, after.reset, after.time_left) == (0.0, True, timedelta(0))


def test_older_codex_windows_a_minute_short_are_still_the_5h_and_7d_windows() -> None:
    old = {
        "primary": {"used_percent": 4.0, "window_minutes": 299, "resets_in_seconds": 15110},
        "secondary": {"used_percent": 21.0, "window_minutes": 10079, "resets_in_seconds": 361052},
    }
    assert [s.window for s in codex_limits(old, SEEN)] == ["5h", "7d"]
