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
