"""The dashboard's main screen as pictures: 80×24 and 120×40 on fixed data, frozen clock.

The SVGs under tests/__snapshots__/ are the accepted look; `pytest --snapshot-update`
rewrites them after a deliberate change (look at them before committing). Nothing on
screen moves by itself: the clock is frozen, no cursor blinks (the live table has none and
the filter box is closed), and the data comes from one fixed snapshot.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot

from tests.test_tui import fixed_app


async def _loaded(pilot: Pilot[Any]) -> None:
    app = pilot.app
    for _ in range(200):
        if getattr(app, "state", None) is not None and app.state.loaded:  # type: ignore[attr-defined]
            break
        await pilot.pause(0.01)
    await pilot.pause()


def test_main_screen_at_80x24(snap_compare: Callable[..., bool]) -> None:
    assert snap_compare(fixed_app(), terminal_size=(80, 24), run_before=_loaded)


def test_main_screen_at_120x40(snap_compare: Callable[..., bool]) -> None:
    assert snap_compare(fixed_app(), terminal_size=(120, 40), run_before=_loaded)


def test_filtered_live_list_at_120x40(snap_compare: Callable[..., bool]) -> None:
    assert snap_compare(
        fixed_app(), terminal_size=(120, 40), run_before=_loaded, press=["slash", "g", "p", "t"]
    )


def _with_windows() -> Any:
    """The fixed data plus a reported 5-hour window, a weekly cap and an estimated window."""
    from datetime import UTC, timedelta

    from tests.test_tui import NOW, sample_snapshot

    def at(hours: float) -> str:
        return (NOW + timedelta(hours=hours)).astimezone(UTC).isoformat()

    snap = sample_snapshot()
    seen = NOW.astimezone(UTC).isoformat()
    snap["limits"] = [
        {"tool": "codex", "window": "5h", "window_minutes": 300, "used_percent": 82.5,
         "resets_at": at(2.2), "observed_at": seen, "basis": "reported", "plan": "plus"},
        {"tool": "codex", "window": "7d", "window_minutes": 10080, "used_percent": 31.0,
         "resets_at": at(80), "observed_at": seen, "basis": "reported", "plan": "plus"},
        {"tool": "claude-code", "window": "5h", "window_minutes": 300, "used_percent": 64.0,
         "resets_at": at(1.5), "observed_at": seen, "basis": "estimated",
         "estimate": {"projected_percent": 121.4, "limit_from": "learned"}},
    ]  # fmt: skip
    return snap


def test_plan_window_gauges_at_120x40(snap_compare: Callable[..., bool]) -> None:
    assert snap_compare(fixed_app(_with_windows()), terminal_size=(120, 40), run_before=_loaded)
