"""The live dashboard: a Textual App attached to the daemon's socket.

It holds a `DashboardState`, folds in the batches `LiveFeed` posts, and redraws only the
widgets a batch touched. Spend, budgets, series and breakdowns are the daemon's documents
shown as they are (typed in `monitor.wire`); the dashboard never opens the ledger and
never imports the daemon: everything arrives through `monitor.api.AsyncClient`, or
through any `Connect` given to the constructor (tests and screenshots replay fixed
messages that way).

`clock` is injectable so a test can freeze "now" (the status bar's time, "today" in
the live list); the highlight of fresh rows expires on a timer, not on the clock.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar, Final

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import Footer, Input
from textual.widgets._key_panel import KeyPanel

from monitor.tui.feed import BATCH_INTERVAL, Connect, Link, LiveFeed
from monitor.tui.fmt import dec
from monitor.tui.messages import FeedUpdate, LinkChanged
from monitor.tui.state import DIMENSIONS, PERIODS, Changes, DashboardState, FeedBatch
from monitor.tui.widgets import (
    AlertsPane,
    BreakdownTable,
    BudgetList,
    Chart,
    LinkBar,
    LiveTable,
    PanelTitle,
    SpendHeader,
    UnpricedNotice,
    WindowGauges,
    link_text,
)
from monitor.wire import PeriodKey

FRESH_SECONDS: Final = 2.0
"""How long a newly arrived call stays highlighted."""
_PERIOD_TITLES: Final = {"today": "Today", "week": "This week", "month": "This month"}


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Dashboard(App[int]):
    CSS_PATH = Path(__file__).with_name("app.tcss")  # absolute: subclasses live elsewhere
    TITLE = "llm-monitor"
    AUTO_FOCUS = "LiveTable"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("p", "toggle_pause", "Pause"),
        Binding("slash", "filter", "Filter", key_display="/"),
        Binding("b", "cycle_breakdown", "Breakdown"),
        Binding("t", "cycle_period", "Period"),
        Binding("question_mark", "toggle_help", "Help", key_display="?"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    VERTICAL_BREAKPOINTS = [(0, "-short"), (34, "-tall")]

    def __init__(
        self,
        connect: Connect | None,
        *,
        socket_label: str = "the daemon",
        clock: Callable[[], datetime] = _utc_now,
        interval: float = BATCH_INTERVAL,
        fresh_seconds: float = FRESH_SECONDS,
    ) -> None:
        super().__init__()
        self.state = DashboardState()
        self.link = Link("connecting")
        self.paused = False
        self.missed = 0
        """Calls that arrived while the live list was paused."""
        self.filter_text = ""
        self.dimension = DIMENSIONS[0]
        self.period: PeriodKey = "month"
        self.batches = 0
        self._connect = connect
        self._socket_label = socket_label
        self._clock = clock
        self._interval = interval
        self._fresh_seconds = fresh_seconds
        self._fresh: set[str] = set()
        self._home: Screen[object]

    # -- layout ------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield LinkBar(id="link")
        yield SpendHeader(id="spend")
        yield BudgetList(id="budgets")
        yield WindowGauges(id="windows")
        yield UnpricedNotice(id="unpriced")
        with Horizontal(id="charts"):
            yield Chart("24 h", "/h", id="hourly")
            yield Chart("Month", "/day", id="daily")
        with Vertical(id="live"):
            yield PanelTitle(id="live-title", classes="panel-title")
            yield Input(
                placeholder="filter: source, model, operation, tag…",
                id="filter",
                disabled=True,
            )
            yield LiveTable(id="live-table")
        with Horizontal(id="lower"):
            with Vertical(id="breakdown"):
                yield PanelTitle(id="breakdown-title", classes="panel-title")
                yield BreakdownTable(id="breakdown-table")
            with Vertical(id="alerts"):
                yield PanelTitle("Alerts", id="alerts-title", classes="panel-title")
                yield AlertsPane(id="alerts-pane")
        yield Footer()

    def on_mount(self) -> None:
        # Widgets are looked up on this screen even while another (the command palette)
        # is on top, so updates keep landing where they belong.
        self._home = self.screen
        # A steady cursor: a blinking one would make every screenshot differ.
        self._home.query_one("#filter", Input).cursor_blink = False
        self._render_status()
        self._render_live()
        self._render_alerts()
        self.set_interval(1.0, self._render_link)
        if self._connect is not None:
            feed = LiveFeed(
                self._connect, self._post_batch, self._post_link, interval=self._interval
            )
            self.run_worker(feed.run(), name="feed", group="feed", exclusive=True)

    # -- what the feed posts -------------------------------------------------------------

    def _post_batch(self, batch: FeedBatch) -> None:
        self.post_message(FeedUpdate(batch))

    def _post_link(self, link: Link) -> None:
        self.post_message(LinkChanged(link))

    def on_feed_update(self, message: FeedUpdate) -> None:
        self.batches += 1
        changes = self.state.apply(message.batch)
        self._note_fresh(changes)
        if changes.status:
            self._render_status()
        if changes.live:
            if self.paused:
                self.missed += len(changes.fresh)
                self._render_live_title()
            else:
                self._render_live()
        if changes.alerts:
            self._render_alerts()

    def on_link_changed(self, message: LinkChanged) -> None:
        self.link = message.link
        self._home.set_class(self.link.state != "live", "-stale")
        self._render_link()

    def _note_fresh(self, changes: Changes) -> None:
        if not changes.fresh:
            return
        keys = set(changes.fresh)
        self._fresh |= keys

        def expire() -> None:
            self._fresh -= keys
            with suppress(NoMatches):  # the app is closing
                if not self.paused and self._home.query_one(LiveTable).shows_any(keys):
                    self._render_live()

        self.set_timer(self._fresh_seconds, expire)

    # -- drawing -------------------------------------------------------------------------

    def _render_link(self) -> None:
        text = link_text(
            self.link,
            self._socket_label,
            self.state.zone_name(),
            self._clock().astimezone(self.state.tz),
            self.state.daemon_state(),
        )
        # The once-a-second redraw can fire while the app is tearing its widgets down.
        with suppress(NoMatches):
            self._home.query_one(LinkBar).show(text)

    def _render_status(self) -> None:
        s = self.state
        now = self._clock()
        today = now.astimezone(s.tz).date()
        self._render_link()
        self._home.query_one(SpendHeader).show(
            {p: s.period(p) for p in PERIODS}, s.burn_rate(), s.loaded
        )
        self._home.query_one(BudgetList).show(s.budgets(), today)
        self._home.query_one(WindowGauges).show(s.limits(), now)
        self._home.query_one(UnpricedNotice).show(s.unpriced())
        self._home.query_one("#hourly", Chart).show(s.series_values("hourly_usd"))
        daily = self._home.query_one("#daily", Chart)
        daily.title = today.strftime("%b")
        daily.show(s.series_values("daily_usd"))
        self._render_breakdown()

    def _render_breakdown(self) -> None:
        self._home.query_one("#breakdown-title", PanelTitle).show(
            f"{_PERIOD_TITLES[self.period]} by {self.dimension}  (b, t: switch)"
        )
        period = self.state.period(self.period)
        total = dec(period.get("cost_usd") if period is not None else None)
        self._home.query_one(BreakdownTable).show(
            self.state.breakdown_rows(self.period, self.dimension), total
        )

    def _render_live_title(self) -> None:
        parts = ["Live calls, newest first"]
        if self.filter_text:
            parts.append(f"filter “{self.filter_text}” (esc clears)")
        if self.paused:
            parts.append(f"PAUSED, {self.missed:,} new (scroll; p resumes)")
        self._home.query_one("#live-title", PanelTitle).show(" · ".join(parts))

    def _render_live(self) -> None:
        self._render_live_title()
        rows = self.state.visible(self.filter_text)
        table = self._home.query_one(LiveTable)
        table.follow = not self.paused
        table.show(rows, frozenset(self._fresh), self._clock(), self.state.tz)

    def _render_alerts(self) -> None:
        self._home.query_one(AlertsPane).show(self.state.alerts, self._clock(), self.state.tz)

    # -- keys ----------------------------------------------------------------------------

    def action_toggle_pause(self) -> None:
        self.paused = not self.paused
        self.missed = 0
        self._render_live()

    def action_filter(self) -> None:
        box = self._home.query_one("#filter", Input)
        box.disabled = False
        box.add_class("-shown")
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        self._render_live()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._close_filter()

    def action_clear_filter(self) -> None:
        box = self._home.query_one("#filter", Input)
        if box.value:
            box.value = ""
        self.filter_text = ""
        self._close_filter()
        self._render_live()

    def _close_filter(self) -> None:
        box = self._home.query_one("#filter", Input)
        box.remove_class("-shown")
        box.disabled = True
        self._home.query_one(LiveTable).focus()

    def action_cycle_breakdown(self) -> None:
        self.dimension = DIMENSIONS[(DIMENSIONS.index(self.dimension) + 1) % len(DIMENSIONS)]
        self._render_breakdown()

    def action_cycle_period(self) -> None:
        self.period = PERIODS[(PERIODS.index(self.period) + 1) % len(PERIODS)]
        self._render_breakdown()

    def action_toggle_help(self) -> None:
        if self.screen.query(KeyPanel):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()
