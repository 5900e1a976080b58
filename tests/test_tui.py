"""The dashboard: its state and formats on plain values, the App on scripted daemons, and a
few pilot tests against a real daemon subprocess on temporary files.

The scripted daemon plays the far end of the socket (hello, a stream the test writes,
going away), which is the dashboard's only edge to the outside world. The real-daemon
tests poll for what the screen shows, each with a deadline.
"""

from __future__ import annotations

import asyncio
import io
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
from rich.console import Console

from monitor.api import (
    PROTOCOL_VERSION,
    AlertMsg,
    DaemonUnavailable,
    EventMsg,
    Hello,
    Message,
    Snapshot,
    TotalsMsg,
)
from monitor.tui import fmt
from monitor.tui.app import Dashboard
from monitor.tui.feed import Stream, replay_connector
from monitor.tui.state import LIVE_CAP, DashboardState, FeedBatch, budget_level
from monitor.tui.widgets import BudgetGauge, LiveTable, gauge_line
from tests.daemon_harness import Source, Workspace, append, studio_line
from tests.factories import until

T = TypeVar("T")
NOW = datetime(2026, 11, 23, 14, 30, 0, tzinfo=UTC)
DEADLINE = 5.0


# -- fixed data ------------------------------------------------------------------------------


def event(i: int, **fields: Any) -> dict[str, Any]:
    """One event payload as the daemon sends it, `i` minutes before NOW (times 3)."""
    payload: dict[str, Any] = {
        "key": f"k{i}",
        "ts": (NOW - timedelta(minutes=3 * i)).isoformat(),
        "source": "claude-code",
        "provider": "anthropic",
        "model": "claude-sonnet-4-5",
        "operation": None,
        "input_tokens": 12000 + i * 100,
        "output_tokens": 800 + i,
        "cache_read_tokens": 9000,
        "cache_write_tokens": 0,
        "cache_write_1h_tokens": 0,
        "reasoning_tokens": 0,
        "calls": 1,
        "cost_usd": f"{Decimal('0.0123') + Decimal(i) / 1000:.6f}",
        "cost_basis": "priced",
        "reported_cost_usd": None,
        "priced_cost_usd": None,
        "tags": {"project": "/home/user/myproj", "session": "abc"},
        "origin": "x:0",
        "flags": 0,
    }
    payload.update(fields)
    return payload


def _rows(*rows: tuple[str | None, str, int]) -> list[dict[str, Any]]:
    return [
        {
            "key": k,
            "cost_usd": c,
            "calls": n,
            "input_tokens": 100_000,
            "output_tokens": 5_000,
            "unpriced_calls": 0,
        }
        for k, c, n in rows
    ]


BREAKDOWN = {
    "model": _rows(
        ("claude-sonnet-4-5", "18.500000", 640),
        ("gpt-4o", "7.600000", 212),
        ("gemini-2.5-flash", "4.020000", 330),
    ),
    "provider": _rows(("anthropic", "18.500000", 640), ("openai", "7.600000", 212)),
    "source": _rows(("claude-code", "18.500000", 640), ("studio", "7.600000", 212)),
    "operation": _rows((None, "18.500000", 640), ("advocate", "7.600000", 212)),
}


def budget(
    name: str, period: str, limit: str, spent: str, fraction: float, **kw: Any
) -> dict[str, Any]:
    b: dict[str, Any] = {
        "name": name,
        "period": period,
        "limit_usd": limit,
        "spent_usd": spent,
        "fraction": fraction,
        "forecast_usd": kw.pop("forecast", spent),
        "forecast_low_usd": spent,
        "forecast_high_usd": spent,
        "runs_out_on": kw.pop("runs_out_on", None),
        "scope": {},
        "warn_at": [0.5, 0.8, 1.0],
        "alerts": [],
    }
    b.update(kw)
    return b


def sample_snapshot(**changes: Any) -> dict[str, Any]:
    """A daemon snapshot with something in every pane, in a fixed zone, at NOW."""
    snap: dict[str, Any] = {
        "now": NOW.isoformat(),
        "timezone": "Europe/Berlin",
        "daemon": True,
        "state": "ready",
        "today": {
            "cost_usd": "2.300000",
            "calls": 82,
            "unpriced_calls": 1,
            "forecast_usd": "3.100000",
        },
        "week": {"cost_usd": "8.400000", "calls": 300, "unpriced_calls": 1, "forecast_usd": "12.0"},
        "month": {
            "cost_usd": "30.120000",
            "calls": 1200,
            "unpriced_calls": 1,
            "forecast_usd": "55.000000",
            "forecast_low_usd": "41.000000",
            "forecast_high_usd": "70.000000",
        },
        "burn_rate": {"per_hour_usd": "0.420000", "per_day_usd": "1.900000"},
        "budgets": [
            budget(
                "monthly",
                "month",
                "50.000000",
                "30.120000",
                0.6024,
                forecast="55.000000",
                runs_out_on="2026-11-27",
            ),
            budget(
                "anthropic-daily",
                "day",
                "2.000000",
                "2.300000",
                1.15,
                forecast="3.100000",
                runs_out_on="2026-11-23",
            ),
            budget("ci", "week", "20.000000", "2.000000", 0.1, forecast="5.000000"),
        ],
        "unpriced": [{"provider": "acme", "model": "my-finetune-v2", "calls": 1}],
        "sources": [],
        "series": {
            "hourly_usd": [f"{(i % 7) * 0.05:.6f}" for i in range(24)],
            "daily_usd": [f"{(i % 5) * 0.9 + 0.2:.6f}" for i in range(23)],
        },
        "breakdown": {"today": BREAKDOWN, "week": BREAKDOWN, "month": BREAKDOWN},
        "recent": [
            event(0),
            event(
                1,
                source="studio",
                provider="openai",
                model="gpt-4o",
                operation="advocate",
                cost_usd="0.150000",
                cost_basis="reported",
            ),
            event(
                2,
                source="qc",
                provider="google",
                model="gemini-2.5-flash",
                tags={"client": "diageo", "profile": "key_visual"},
            ),
            event(
                3,
                source="nightly-eval",
                provider="acme",
                model="my-finetune-v2",
                operation="classify",
                cost_usd=None,
                cost_basis="unpriced",
            ),
            event(4, source="codex", provider="openai", model="gpt-5-codex", cache_read_tokens=0),
            event(
                40,
                source="novel",
                provider="anthropic",
                model="claude-3-5-haiku",
                operation="generate_images_chapters_2",
                calls=25,
                ts=(NOW - timedelta(days=3)).isoformat(),
            ),
        ],
        "alerts": [
            {
                "kind": "budget",
                "severity": "failure",
                "title": "llm-monitor: budget 'anthropic-daily' at 100 % ($2.00 of $2.00)",
                "created": (NOW - timedelta(minutes=20)).isoformat(),
            },
            {
                "kind": "budget",
                "severity": "warning",
                "title": "llm-monitor: budget 'monthly' at 50 % ($25.01 of $50.00)",
                "created": (NOW - timedelta(days=2)).isoformat(),
            },
        ],
    }
    snap.update(changes)
    return snap


def fixed_app(snapshot: dict[str, Any] | None = None) -> Dashboard:
    """The dashboard on a daemon that sends one snapshot, with the clock frozen at NOW."""
    return Dashboard(replay_connector([Snapshot(snapshot or sample_snapshot())]), clock=lambda: NOW)


# -- helpers ---------------------------------------------------------------------------------


def screen_text(app: Dashboard) -> str:
    """What the terminal shows, as plain text."""
    width, height = app.size
    console = Console(
        width=width, height=height, file=io.StringIO(), record=True, color_system=None
    )
    console.print(app.screen._compositor.render_update(full=True))
    return console.export_text()


def live_rows(app: Dashboard) -> list[list[str]]:
    table = app.query_one(LiveTable)
    return [[cell.plain for cell in table.get_row_at(i)] for i in range(table.row_count)]


def gauges(app: Dashboard) -> dict[str, str]:
    return {str(g.budget["name"]): g.level for g in app.query(BudgetGauge)}


def _both(text: str, *needles: str) -> str | None:
    return text if all(n in text for n in needles) else None


class ScriptedDaemon:
    """The far end of the socket, played by the test: it accepts connections while `up`,
    streams whatever the test sends, and can go away mid-stream."""

    _GONE = object()

    def __init__(self) -> None:
        self.up = True
        self.connects = 0
        self._queue: asyncio.Queue[Any] | None = None

    async def connect(self) -> Stream:
        self.connects += 1
        if not self.up:
            raise DaemonUnavailable("no llm-monitor daemon answers (scripted)")
        self._queue = asyncio.Queue()
        return _ScriptedStream(self._queue)

    def send(self, *messages: Message) -> None:
        assert self._queue is not None, "nobody is connected"
        for m in messages:
            self._queue.put_nowait(m)

    def go_away(self) -> None:
        self.up = False
        if self._queue is not None:
            self._queue.put_nowait(self._GONE)


class _ScriptedStream:
    def __init__(self, queue: asyncio.Queue[Any]) -> None:
        self._queue = queue

    async def hello(self) -> Hello:
        return Hello(PROTOCOL_VERSION, {"pid": 4242, "state": "ready"})

    async def subscribe(self) -> AsyncIterator[Message]:
        while True:
            item = await self._queue.get()
            if item is ScriptedDaemon._GONE:
                raise DaemonUnavailable("the daemon closed the connection")
            yield item

    async def close(self) -> None:
        pass


def scripted_app(daemon: ScriptedDaemon, **kw: Any) -> Dashboard:
    return Dashboard(daemon.connect, clock=lambda: NOW, **kw)


# -- formats and state, no screen ------------------------------------------------------------


def test_token_counts_fit_five_characters() -> None:
    assert [fmt.tokens(n) for n in (950, 12_345, 456_789, 1_250_000, 345_000_000)] == [
        "950",
        "12.3k",
        "456k",
        "1.25M",
        "345M",
    ]


def test_call_time_shows_clock_today_and_date_before() -> None:
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo("Europe/Berlin")
    assert fmt.when(NOW - timedelta(minutes=5), NOW, berlin) == "15:25:00"
    assert fmt.when(NOW - timedelta(days=3), NOW, berlin) == "Nov 20"


def test_sub_cent_call_keeps_its_places_and_estimates_are_marked() -> None:
    assert fmt.cost_cell(Decimal("0.000412"), "priced") == "$0.000412"
    assert fmt.cost_cell(Decimal("0.5"), "estimated") == "~$0.50"
    assert fmt.cost_cell(None, "unpriced") == "unpriced"


def test_budget_level_follows_first_warning_and_full_limit() -> None:
    assert budget_level({"fraction": 0.49, "warn_at": [0.5, 0.8, 1.0]}) == "ok"
    assert budget_level({"fraction": 0.5, "warn_at": [0.5, 0.8, 1.0]}) == "warn"
    assert budget_level({"fraction": 1.0, "warn_at": [0.5, 0.8, 1.0]}) == "over"
    assert budget_level({"fraction": None}) == "ok"


def test_gauge_marks_forecast_and_drops_outlook_when_narrow() -> None:
    b = budget(
        "m", "month", "10.000000", "2.000000", 0.2, forecast="6.000000", runs_out_on="2026-11-27"
    )
    wide = gauge_line(b, 100).plain
    assert "│" in wide and "20 %" in wide and "runs out Nov 27" in wide
    narrow = gauge_line(b, 40).plain
    assert "runs out" not in narrow and "$2.00 of $10.00" in narrow


def test_snapshot_replaces_what_came_before_it_in_a_batch() -> None:
    batch = FeedBatch()
    batch.add(EventMsg(event(1)))
    batch.add(TotalsMsg({"today": {"cost_usd": "1"}}))
    batch.add(Snapshot(sample_snapshot(recent=[])))
    batch.add(EventMsg(event(2)))
    assert batch.totals is None
    assert [e["key"] for e in batch.events] == ["k2"]


def test_the_top_line_says_how_far_the_backfill_is_and_which_totals_are_complete() -> None:
    state = DashboardState()
    seen = []
    for flags in ({}, {"today_final": True}, {"today_final": True, "recent_final": True}):
        state.status = {"state": "backfilling", "backfill": {"percent": 34.4, **flags}}  # type: ignore[typeddict-item]
        seen.append(state.daemon_state())
    state.status = {"state": "ready"}  # type: ignore[typeddict-item]
    assert [*seen, state.daemon_state()] == [
        "backfilling, 34 %",
        "backfilling, 34 %, today complete",
        "backfilling, 34 %, this month complete",
        "ready",
    ]


def test_latest_totals_win_and_a_burst_keeps_only_what_fits_the_list() -> None:
    batch = FeedBatch()
    for i in range(LIVE_CAP + 100):
        batch.add(EventMsg(event(i)))
        batch.add(TotalsMsg({"today": {"calls": i}}))
    assert batch.totals == {"today": {"calls": LIVE_CAP + 99}}
    assert len(batch.events) == LIVE_CAP
    assert batch.received == 2 * (LIVE_CAP + 100)


def test_streamed_update_replaces_its_row_and_late_call_sorts_into_place() -> None:
    state = DashboardState()
    state.apply(FeedBatch(snapshot=sample_snapshot()))
    update = event(0, output_tokens=5000)
    late = event(10, key="late")
    batch = FeedBatch()
    batch.events.extend([update, late])
    changes = state.apply(batch)
    keys = [e.key for e in state.live]
    assert keys.count("k0") == 1 and state.live[0].output_tokens == 5000
    assert keys.index("late") == keys.index("k4") + 1
    assert changes.fresh == {"k0", "late"}


def test_totals_without_series_keep_the_last_known_series() -> None:
    state = DashboardState()
    state.apply(FeedBatch(snapshot=sample_snapshot()))
    doc = {k: v for k, v in sample_snapshot().items() if k not in ("series", "breakdown")}
    doc["today"] = {"cost_usd": "9.000000", "calls": 99}
    state.apply(FeedBatch(totals=doc))
    assert state.period("today")["calls"] == 99
    assert len(state.series_values("hourly_usd")) == 24
    assert state.breakdown_rows("month", "model")


def test_live_filter_matches_model_source_operation_and_tags() -> None:
    state = DashboardState()
    state.apply(FeedBatch(snapshot=sample_snapshot()))
    assert {e.key for e in state.visible("GPT")} == {"k1", "k4"}
    assert {e.key for e in state.visible("diageo")} == {"k2"}
    assert {e.key for e in state.visible("chapters")} == {"k40"}


# -- the App on scripted daemons ---------------------------------------------------------------


async def test_snapshot_fills_every_pane() -> None:
    app = fixed_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: app.state.loaded, DEADLINE, "the snapshot")
        await pilot.pause()
        text = screen_text(app)
        assert "Today $2.30" in text and "Month $30.12" in text
        assert "($41.00–$70.00)" in text and "Burn $0.42/h" in text and "82 calls today" in text
        assert gauges(app) == {"monthly": "warn", "anthropic-daily": "over", "ci": "ok"}
        assert "runs out Nov 27" in text
        rows = live_rows(app)
        assert [r[0] for r in rows] == [
            "15:30:00",
            "15:27:00",
            "15:24:00",
            "15:21:00",
            "15:18:00",
            "Nov 20",
        ]
        assert rows[3][-1] == "unpriced"
        assert "budget 'anthropic-daily' at 100 %" in text
        assert "claude-sonnet-4-5" in text and "This month by model" in text


async def test_plan_windows_show_as_gauges_with_the_countdown_and_their_basis() -> None:
    snap = sample_snapshot()
    resets = (NOW + timedelta(hours=2, minutes=13)).astimezone(UTC).isoformat()
    snap["limits"] = [
        {
            "tool": "codex",
            "window": "5h",
            "window_minutes": 300,
            "used_percent": 82.5,
            "resets_at": resets,
            "observed_at": NOW.astimezone(UTC).isoformat(),
            "basis": "reported",
            "plan": "plus",
        }
    ]
    app = fixed_app(snap)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: app.state.loaded, DEADLINE, "the snapshot")
        await pilot.pause()
        text = screen_text(app)
        assert "codex 5h" in text and "82.5 % · resets in 2h13m · reported" in text
    app = fixed_app()  # no tool reports a window: no gauge, no empty line
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: app.state.loaded, DEADLINE, "the snapshot")
        await pilot.pause()
        assert "resets in" not in screen_text(app)


async def test_unpriced_warning_shows_only_while_models_are_unpriced() -> None:
    daemon = ScriptedDaemon()
    app = scripted_app(daemon)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(lambda: daemon.connects, DEADLINE, "a connection")
        await pilot.pause()
        daemon.send(Snapshot(sample_snapshot()))
        await until(lambda: app.state.loaded, DEADLINE, "the snapshot")
        await pilot.pause()
        assert "unpriced: acme/my-finetune-v2 (1 call)" in screen_text(app)
        daemon.send(TotalsMsg(sample_snapshot(unpriced=[])))
        await until(lambda: not app.state.unpriced(), DEADLINE, "totals without unpriced")
        await pilot.pause()
        assert "unpriced:" not in screen_text(app)


async def test_new_call_goes_on_top_highlighted_for_a_moment() -> None:
    daemon = ScriptedDaemon()
    app = scripted_app(daemon, fresh_seconds=0.3)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: daemon.connects, DEADLINE, "a connection")
        await pilot.pause()
        daemon.send(Snapshot(sample_snapshot()))
        await until(lambda: app.state.loaded, DEADLINE, "the snapshot")
        new = event(0, key="new", ts=(NOW + timedelta(seconds=5)).isoformat(), model="o3")
        daemon.send(EventMsg(new))
        await until(lambda: live_rows(app)[0][2].endswith("o3"), DEADLINE, "the new row")
        table = app.query_one(LiveTable)
        fresh = table.get_component_rich_style("live--fresh", partial=True)
        assert fresh.bold and fresh.color is not None
        assert table.get_row_at(0)[0].spans[0].style == fresh
        await until(lambda: not table.get_row_at(0)[0].spans, DEADLINE, "the highlight to end")


async def test_pause_freezes_the_live_list_but_not_the_totals() -> None:
    daemon = ScriptedDaemon()
    app = scripted_app(daemon)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: daemon.connects, DEADLINE, "a connection")
        await pilot.pause()
        daemon.send(Snapshot(sample_snapshot()))
        await until(lambda: app.state.loaded, DEADLINE, "the snapshot")
        await pilot.press("p")
        today = dict(sample_snapshot()["today"], calls=83)
        daemon.send(
            EventMsg(event(0, key="while-paused", ts=(NOW + timedelta(seconds=1)).isoformat())),
            TotalsMsg(sample_snapshot(today=today)),
        )
        await until(lambda: "83 calls today" in screen_text(app), DEADLINE, "the totals")
        assert len(live_rows(app)) == 6
        assert "PAUSED, 1 new" in screen_text(app)
        await pilot.press("p")
        await pilot.pause()
        assert len(live_rows(app)) == 7


async def test_filter_key_narrows_the_live_list_and_escape_clears_it() -> None:
    app = fixed_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: app.state.loaded, DEADLINE, "the snapshot")
        await pilot.press("slash", "g", "p", "t", "enter")
        await pilot.pause()
        assert [r[1] for r in live_rows(app)] == ["studio", "codex"]
        assert "filter “gpt”" in screen_text(app)
        await pilot.press("escape")
        await pilot.pause()
        assert len(live_rows(app)) == 6 and app.filter_text == ""
        await pilot.press("q")  # the filter box is closed: q is quit again, not a letter
        await pilot.pause()
        assert not app.is_running


async def test_b_cycles_the_breakdown_through_every_dimension() -> None:
    app = fixed_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: app.state.loaded, DEADLINE, "the snapshot")
        seen = [app.dimension]
        for _ in range(4):
            await pilot.press("b")
            seen.append(app.dimension)
        assert seen == ["model", "provider", "source", "operation", "model"]
        await pilot.press("b")
        await pilot.pause()
        assert "This month by provider" in screen_text(app)
        assert "anthropic" in screen_text(app)
        await pilot.press("t")
        await pilot.pause()
        assert "Today by provider" in screen_text(app)


async def test_help_key_toggles_the_key_panel() -> None:
    from textual.widgets._key_panel import KeyPanel

    app = fixed_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert app.screen.query(KeyPanel)
        await pilot.press("question_mark")
        await pilot.pause()
        assert not app.screen.query(KeyPanel)


async def test_alerts_arrive_newest_first() -> None:
    daemon = ScriptedDaemon()
    app = scripted_app(daemon)
    async with app.run_test(size=(120, 40)):
        await until(lambda: daemon.connects, DEADLINE, "a connection")
        daemon.send(Snapshot(sample_snapshot(alerts=sample_snapshot()["alerts"][1:])))
        await until(lambda: "'monthly' at 50 %" in screen_text(app), DEADLINE, "the old alert")
        daemon.send(
            AlertMsg(
                {
                    "kind": "budget",
                    "severity": "warning",
                    "title": "llm-monitor: budget 'ci' at 80 % ($16.00 of $20.00)",
                    "created": NOW.isoformat(),
                }
            )
        )
        # Both lines, not just the new one: the pane grows a line on the next layout.
        text = await until(
            lambda: _both(screen_text(app), "'ci' at 80 %", "'monthly' at 50 %"),
            DEADLINE,
            "both alerts",
        )
        assert "15:30:00 ⚠ budget 'ci' at 80 %" in text
        assert text.index("'ci' at 80 %") < text.index("'monthly' at 50 %")


async def test_says_when_the_daemon_is_gone_and_resyncs_when_it_is_back() -> None:
    daemon = ScriptedDaemon()
    app = scripted_app(daemon)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(lambda: daemon.connects, DEADLINE, "a connection")
        daemon.send(Snapshot(sample_snapshot()))
        await until(lambda: app.state.loaded, DEADLINE, "the snapshot")
        daemon.go_away()
        await until(lambda: app.link.state == "down", DEADLINE, "the link to drop")
        await pilot.pause()
        assert "daemon unreachable" in screen_text(app)
        assert app.screen.has_class("-stale")
        daemon.up = True
        await until(lambda: app.link.state == "live", DEADLINE, "a reconnection")
        daemon.send(Snapshot(sample_snapshot(recent=[event(7, key="after")])))
        await until(lambda: [e.key for e in app.state.live] == ["after"], DEADLINE, "a resync")
        await pilot.pause()
        assert "● live" in screen_text(app) and not app.screen.has_class("-stale")


async def test_burst_of_events_is_drawn_in_a_few_batches() -> None:
    daemon = ScriptedDaemon()
    app = scripted_app(daemon)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: daemon.connects, DEADLINE, "a connection")
        daemon.send(Snapshot(sample_snapshot(recent=[])))
        await until(lambda: app.state.loaded, DEADLINE, "the snapshot")
        before = app.batches
        burst = [
            EventMsg(event(0, key=f"b{i}", ts=(NOW + timedelta(milliseconds=i)).isoformat()))
            for i in range(2000)
        ]
        daemon.send(*burst)
        await until(lambda: app.state.live and app.state.live[0].key == "b1999", DEADLINE, "all")
        await pilot.pause()
        assert app.batches - before <= 5
        assert len(app.state.live) == LIVE_CAP
        assert live_rows(app)[0][0] == "15:30:01"


async def test_no_color_draws_in_greys_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = fixed_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await until(lambda: app.state.loaded, DEADLINE, "the snapshot")
        await pilot.pause()
        svg = app.export_screenshot()
    # The SVG's own window decoration and default foreground are not the app's colours.
    chrome = {"#ff5f57", "#febc2e", "#28c840", "#c5c8c6"}
    colours = set(re.findall(r"#[0-9a-f]{6}\b", svg)) - chrome
    assert colours
    assert all(c[1:3] == c[3:5] == c[5:7] for c in colours), sorted(colours)
    assert app.no_color


# -- import hygiene --------------------------------------------------------------------------


@pytest.mark.e2e
def test_core_modules_do_not_import_textual() -> None:
    code = (
        "import sys, monitor.daemon, monitor.ledger, monitor.report, monitor.launch, "
        "monitor.demo; print(sorted(m for m in sys.modules if m.split('.')[0] == 'textual'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


# -- against a real daemon -------------------------------------------------------------------


BUDGET_TOML = """
[[budgets]]
name = "small"
period = "day"
limit = 0.05
warn_at = [0.5, 0.8, 1.0]
forecast = false
"""


@pytest.fixture
def workspace(tmp_path: Path) -> Any:
    ws = Workspace(tmp_path)
    sources = [Source("studio", "studio-tokens", (str(ws.root / "**/run_*/tokens.jsonl"),))]
    ws.config_path.write_text(ws.config_text(sources) + BUDGET_TOML)
    yield ws
    ws.close()


def live_app(ws: Workspace) -> Dashboard:
    from monitor.tui.feed import socket_connector

    return Dashboard(socket_connector(ws.socket), socket_label=str(ws.socket))


@pytest.mark.e2e
async def test_appended_record_shows_within_a_second_the_gauge_changes_level_and_keys_work(
    workspace: Workspace,
) -> None:
    workspace.start()
    tokens = workspace.root / "run_1" / "tokens.jsonl"
    app = live_app(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: app.state.loaded, DEADLINE, "the first snapshot")
        assert gauges(app) == {"small": "ok"}
        steps = (("advocate", "ok"), ("contrarian", "warn"), ("judge", "over"))
        for i, (op, level) in enumerate(steps):
            append(tokens, studio_line(op, 1000, 500, cost_usd=0.02))  # 40, 80, 120 %
            await until(lambda n=i + 1: len(live_rows(app)) == n, 1.0, f"{op} in the live list")
            assert live_rows(app)[0][3] == op
            await until(lambda lv=level: gauges(app)["small"] == lv, DEADLINE, f"level {level}")
        await pilot.pause()
        assert "120 %‼" in screen_text(app)
        await pilot.press("slash", *"judge", "enter")
        await until(lambda: len(live_rows(app)) == 1, DEADLINE, "the filter")
        assert live_rows(app)[0][3] == "judge"
        await pilot.press("b", "b")
        await pilot.pause()
        assert app.dimension == "source"
        text = screen_text(app)
        assert "This month by source" in text and "studio" in text


@pytest.mark.e2e
async def test_survives_a_daemon_restart_and_shows_fresh_data(workspace: Workspace) -> None:
    first = workspace.start()
    tokens = workspace.root / "run_3" / "tokens.jsonl"
    app = live_app(workspace)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(lambda: app.state.loaded, DEADLINE, "the first snapshot")
        first.kill()
        await until(lambda: app.link.state == "down", DEADLINE, "the link to drop")
        await pilot.pause()
        assert "daemon unreachable" in screen_text(app)
        append(tokens, studio_line("synthesizer", 1000, 500))
        second = workspace.start()
        await until(lambda: app.link.state == "live", 10.0, "a reconnection")
        await until(
            lambda: [r[3] for r in live_rows(app)] == ["synthesizer"], DEADLINE, "fresh data"
        )
        assert (app.link.daemon or {}).get("pid") == second.pid


# -- launching ---------------------------------------------------------------------------------


def test_dash_without_a_daemon_says_how_to_start_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from monitor.launch import run_dash

    assert run_dash(tmp_path / "nobody.sock") == 1
    assert "llm-monitor run" in capsys.readouterr().err


def test_nothing_to_watch_until_a_source_has_a_file(workspace: Workspace) -> None:
    from monitor.config import load_config
    from monitor.launch import nothing_to_watch

    config = load_config(workspace.config_path)
    assert nothing_to_watch(config)
    append(workspace.root / "run_9" / "tokens.jsonl", studio_line("judge", 1, 1))
    assert not nothing_to_watch(config)


@pytest.mark.e2e
def test_ensure_daemon_starts_one_detached_once_and_it_outlives_the_call(
    workspace: Workspace,
) -> None:
    import os
    import signal

    from monitor.api import daemon_answers
    from monitor.launch import daemon_pid, ensure_daemon, stop_hint

    socket = ensure_daemon(str(workspace.config_path))
    pid = daemon_pid(socket)
    try:
        assert socket == workspace.socket and pid is not None
        assert os.getsid(pid) == pid  # its own session: closing our terminal leaves it running
        assert ensure_daemon(str(workspace.config_path)) == socket
        assert daemon_pid(socket) == pid
        assert "`llm-monitor stop`" in stop_hint(pid) and f"pid {pid}" in stop_hint(pid)
        assert (workspace.state_dir / "daemon.log").exists()
    finally:
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + DEADLINE
    while daemon_answers(socket) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not daemon_answers(socket)
    from monitor import launch

    for proc in launch._STARTED:  # reap the detached daemon we started and stopped
        proc.wait(timeout=DEADLINE)
