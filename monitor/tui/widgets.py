"""The dashboard's widgets: each renders one part of `DashboardState`, nothing else.

They hold no state of their own beyond what they were last shown, never talk to the
daemon, and are told when to redraw (the App knows what a batch changed). Colours come
from app.tcss; every level is also written out (a symbol, a percentage), so the screen
reads the same under NO_COLOR.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime, tzinfo
from decimal import Decimal
from typing import ClassVar, Final

from rich.console import RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import DataTable, Label, Sparkline, Static

from monitor.events import UsageEvent
from monitor.tui import fmt
from monitor.tui.feed import Link
from monitor.tui.state import budget_level, what
from monitor.wire import (
    AlertPayload,
    BreakdownRow,
    BudgetEntry,
    BurnRate,
    LimitEntry,
    PeriodDoc,
    PeriodKey,
    UnpricedModel,
)

_EIGHTHS: Final = " ▏▎▍▌▋▊▉"
LEVEL_MARK: Final = {"ok": " ", "warn": "!", "over": "‼"}
NAME_WIDTH: Final = 16
SEVERITY_MARK: Final = {"failure": "✖", "error": "✖", "critical": "✖", "warning": "⚠"}
_SPEND_COLUMNS: Final[tuple[tuple[PeriodKey, str], ...]] = (
    ("today", "Today"),
    ("week", "Week"),
    ("month", "Month"),
)


def link_text(link: Link, socket: str, tz_name: str, now: datetime | None, state: str) -> Text:
    text = Text()
    text.append("llm-monitor ", style="bold")
    if link.state == "live":
        text.append("● live", style="bold")
        pid: int | None = link.daemon.get("pid") if link.daemon is not None else None
        if pid:
            text.append(f" · daemon pid {pid}")
        if state and state != "ready":
            text.append(f" ({state})")
    elif link.state == "connecting":
        text.append(f"◌ connecting to {socket}…")
    else:
        retry = f" — retrying in {link.retry_in:g} s" if link.retry_in is not None else ""
        text.append("✖ daemon unreachable", style="bold")
        text.append(f"{retry} · {link.detail}")
    if now is not None:
        text.append(f" · {tz_name} {now.strftime('%a %H:%M')}")
    return text


class Painted(Widget):
    """A fixed-size widget that repaints only when what it shows changed.

    `Static.update` re-lays out the whole screen; these lines never change size, so a
    repaint is enough — it matters when a burst updates them several times a second.
    """

    def __init__(self, *, id: str, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._key: object = None
        self._content: RenderableType = ""

    def paint(self, key: object, build: Callable[[], RenderableType]) -> None:
        if key != self._key:
            self._key, self._content = key, build()
            self.refresh()

    def render(self) -> RenderableType:
        return self._content


class LinkBar(Painted):
    """Connection status, the daemon's pid and state, the zone and the time."""

    def show(self, text: Text) -> None:
        self.paint(text.plain, lambda: text)


class SpendHeader(Painted):
    """Today / week / month spend with forecasts, the burn rate, calls today."""

    def show(
        self,
        periods: Mapping[PeriodKey, PeriodDoc | None],
        burn: BurnRate | None,
        loaded: bool,
    ) -> None:
        self.paint(
            repr((periods, burn, loaded)),
            lambda: spend_table(periods, burn) if loaded else Text("Waiting for the daemon…"),
        )


def spend_table(periods: Mapping[PeriodKey, PeriodDoc | None], burn: BurnRate | None) -> Table:
    grid = Table.grid(expand=True, padding=(0, 1))
    for ratio in (4, 4, 6, 4):
        grid.add_column(ratio=ratio, no_wrap=True, overflow="ellipsis")
    top: list[RenderableType] = []
    bottom: list[RenderableType] = []
    for key, title in _SPEND_COLUMNS:
        cost = forecast = low = high = None
        if (p := periods.get(key)) is not None:
            cost, forecast = p.get("cost_usd"), p.get("forecast_usd")
            low, high = p.get("forecast_low_usd"), p.get("forecast_high_usd")
        head = Text(f"{title} ", style="bold")
        head.append(fmt.money(cost), style="bold")
        top.append(head)
        band = ""
        if low is not None and high is not None:
            band = f" ({fmt.money(low)}–{fmt.money(high)})"
        bottom.append(Text(f"→ {fmt.money(forecast)}{band}", style="dim"))
    rate = Text("Burn ", style="bold")
    per_hour = burn.get("per_hour_usd") if burn is not None else None
    rate.append(f"{fmt.money(per_hour)}/h", style="bold")
    top.append(rate)
    today = periods.get("today")
    calls: int = today.get("calls", 0) if today is not None else 0
    bottom.append(Text(f"{calls:,} calls today", style="dim"))
    grid.add_row(*top)
    grid.add_row(*bottom)
    return grid


def gauge_line(
    budget: BudgetEntry, width: int, today: date | None = None, name_width: int = 0
) -> Text:
    """One budget on one line: name, bar with the forecast marked, %, spent of limit, outlook."""
    level = budget_level(budget)
    fraction: float | None = budget.get("fraction")
    frac = float(fraction) if isinstance(fraction, int | float) else 0.0
    name: str = budget.get("name", "")
    period: str = budget.get("period", "")
    name = fmt.clip(str(name), NAME_WIDTH)
    right = (
        f" {fmt.percent(fraction if isinstance(fraction, int | float) else None):>6}"
        f"{LEVEL_MARK[level]} {fmt.money(budget.get('spent_usd'))}"
        f" of {fmt.money(budget.get('limit_usd'))}"
    )
    left = f"{name:<{name_width}} {period:<5} "
    tails = [f" · fc {fmt.money(budget.get('forecast_usd'))}"]
    out: str | None = budget.get("runs_out_on")
    if isinstance(out, str) and out:
        try:
            day = date.fromisoformat(out)
            shown = "today" if day == today else day.strftime("%b %d")
        except ValueError:
            shown = out
        tails.append(f" · runs out {shown}")
    while tails and width - len(left) - len(right) - sum(map(len, tails)) < 10:
        tails.pop()
    cells = max(width - len(left) - len(right) - sum(map(len, tails)), 4)
    limit = fmt.dec(budget.get("limit_usd"))
    fc = fmt.dec(budget.get("forecast_usd"))
    fc_frac = float(fc / limit) if fc is not None and limit else None
    line = Text(left, style="bold")
    line.append_text(_bar(frac, fc_frac, cells))
    line.append(right, style="bold")
    line.append("".join(tails), style="dim")
    return line


def _bar(frac: float, fc_frac: float | None, cells: int) -> Text:
    eighths = int(max(0.0, min(frac, 1.0)) * cells * 8)
    full, part = divmod(eighths, 8)
    chars = ["█"] * full
    if part and full < cells:
        chars.append(_EIGHTHS[part])
    filled = len(chars)
    chars.extend("·" * (cells - filled))
    mark = None
    if fc_frac is not None and fc_frac > frac:
        mark = min(int(fc_frac * cells), cells - 1)
        chars[mark] = "»" if fc_frac > 1.0 else "│"
    bar = Text("".join(chars))
    bar.stylize("dim", filled, cells)
    if mark is not None and mark >= filled:
        bar.stylize("not dim bold", mark, mark + 1)
    return bar


class BudgetGauge(Widget):
    """One budget; its class (-ok, -warn, -over) colours it."""

    DEFAULT_CSS = "BudgetGauge { height: 1; }"

    def __init__(self, budget: BudgetEntry) -> None:
        super().__init__()
        self.budget: BudgetEntry = budget
        self.today: date | None = None
        self.name_width = 0

    def show(self, budget: BudgetEntry, today: date | None, name_width: int) -> None:
        if (budget, today, name_width) == (self.budget, self.today, self.name_width):
            return
        self.budget, self.today, self.name_width = budget, today, name_width
        level = budget_level(budget)
        for name in ("ok", "warn", "over"):
            self.set_class(name == level, f"-{name}")
        self.refresh()

    @property
    def level(self) -> str:
        return budget_level(self.budget)

    def render(self) -> Text:
        return gauge_line(self.budget, self.size.width, self.today, self.name_width)


class BudgetList(Vertical):
    """A gauge per budget, in the daemon's order; rebuilt only when the set of names changes."""

    def show(self, budgets: Sequence[BudgetEntry], today: date | None) -> None:
        gauges = list(self.query(BudgetGauge))
        names: list[str | None] = [b.get("name") for b in budgets]
        if [g.budget.get("name") for g in gauges] != names:
            for g in gauges:
                g.remove()
            gauges = [BudgetGauge(b) for b in budgets]
            self.mount_all(gauges)
        name_width = min(max((len(str(b.get("name", ""))) for b in budgets), default=0), NAME_WIDTH)
        for gauge, budget in zip(gauges, budgets, strict=True):
            gauge.show(budget, today, name_width)


def _window_name(entry: LimitEntry) -> str:
    return f"{entry.get('tool', '?')} {entry.get('window', '?')}"


def _window_facts(entry: LimitEntry, now: datetime) -> str:
    """What follows a window's bar: %, the countdown to its reset, its basis."""
    pct = float(entry.get("used_percent", 0.0))
    try:
        resets = datetime.fromisoformat(entry["resets_at"])
        minutes = max(int((resets - now).total_seconds() // 60), 0)
        countdown = f"resets in {minutes // 60}h{minutes % 60:02d}m"
    except (KeyError, ValueError):
        countdown = ""
    basis = entry.get("basis", "")
    estimate = entry.get("estimate")
    if estimate is not None:
        # Where the block ends at its burn rate: what makes an estimate worth a look.
        basis += f", {estimate.get('projected_percent', 0.0):.0f} % at this pace"
    return f" {pct:5.1f} % · {countdown} · {basis}"


def window_line(
    entry: LimitEntry, width: int, now: datetime, name_width: int = 0, facts_width: int = 0
) -> Text:
    """One plan window: tool and window, bar, %, the countdown to its reset, its basis;
    names and facts padded to the given widths, so the bars of several windows line up."""
    pct = float(entry.get("used_percent", 0.0))
    left = f"{_window_name(entry):<{name_width}} "
    right = f"{_window_facts(entry, now):<{facts_width}}"
    cells = max(width - len(left) - len(right), 4)
    line = Text(left, style="bold")
    line.append_text(_bar(pct / 100, None, cells))
    line.append(right, style="bold" if pct >= 80 else "")
    return line


class WindowGauges(Static):
    """A gauge per plan window (the 5-hour window, the weekly cap), marked reported or
    estimated, with the countdown to its reset; nothing at all when no tool reports one."""

    DEFAULT_CSS = "WindowGauges { height: auto; padding: 0 1; }"

    _windows: Sequence[LimitEntry] = ()
    _now: datetime | None = None

    def show(self, windows: Sequence[LimitEntry], now: datetime) -> None:
        self._windows, self._now = list(windows), now
        self.display = bool(windows)
        worst = max((float(w.get("used_percent", 0.0)) for w in windows), default=0.0)
        self.set_class(worst >= 95, "-over")
        self.set_class(80 <= worst < 95, "-warn")
        self.refresh(layout=True)

    def render(self) -> Text:
        # Drawn at the width the widget has now, as the budget gauges are: bars fill it.
        if not self._windows or self._now is None:
            return Text("")
        width = max(self.size.width, 40)
        now = self._now
        name_width = max(len(_window_name(w)) for w in self._windows)
        facts_width = max(len(_window_facts(w, now)) for w in self._windows)
        return Text("\n").join(
            window_line(w, width, now, name_width, facts_width) for w in self._windows
        )


def _calls(n: object) -> str:
    count = n if isinstance(n, int) else 0
    return f"{count:,} call" if count == 1 else f"{count:,} calls"


def _unpriced_model(u: UnpricedModel) -> str:
    provider: str = u.get("provider", "?")
    model: str = u.get("model", "?")
    calls: int = u.get("calls", 0)
    return f"{provider}/{model} ({_calls(calls)})"


class UnpricedNotice(Static):
    """Shown only while some calls have no known price."""

    _shown: object = None

    def show(self, unpriced: Sequence[UnpricedModel]) -> None:
        if unpriced == self._shown:
            return
        self._shown = list(unpriced)
        self.set_class(bool(unpriced), "-shown")
        if not unpriced:
            return
        models = ", ".join(map(_unpriced_model, unpriced))
        self.update(
            Text(f'⚠ unpriced: {models} — cost unknown; add [prices."MODEL"] to the config')
        )


class Chart(Horizontal):
    """A label and a sparkline of one money series."""

    def __init__(self, title: str, unit: str, *, id: str) -> None:
        super().__init__(id=id)
        self.title, self.unit = title, unit
        self._shown: tuple[str, Sequence[str]] | None = None

    def compose(self) -> ComposeResult:
        yield Label(self.title, classes="chart-label")
        yield Sparkline([], summary_function=max)

    def show(self, values: Sequence[str]) -> None:
        if (self.title, values) == self._shown:
            return
        self._shown = (self.title, list(values))
        amounts = [d for d in (fmt.dec(v) for v in values) if d is not None]
        peak = max(amounts, default=Decimal(0))
        label = f"{self.title} peak {fmt.money(peak)}{self.unit}"
        self.query_one(Label).update(label)
        # Bar heights only: a float is fine here, no money is summed.
        self.query_one(Sparkline).data = [float(a) for a in amounts]


class PanelTitle(Painted):
    """A panel's one-line heading (borders would cost two lines at 80×24)."""

    def __init__(self, text: str = "", *, id: str, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.show(text)

    def show(self, text: str) -> None:
        self.paint(text, lambda: Text(text))


class LiveTable(DataTable[Text]):
    """The most recent calls, newest first; fresh rows highlighted for a moment.

    While it follows the stream only the rows that fit are drawn (a burst redraws a
    screenful, not hundreds of rows); paused, it draws up to `browse_rows` to scroll through.
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {"live--fresh", "live--unpriced"}
    FIXED: Final = (("Time", 8), ("In", 6), ("Out", 6), ("Cache", 6), ("Cost", 9))

    def __init__(self, *, id: str) -> None:
        super().__init__(id=id, cursor_type="none", show_cursor=False, zebra_stripes=False)
        self._widths: tuple[int, ...] = ()
        self._calls: Sequence[UsageEvent] = ()
        self._fresh: frozenset[str] = frozenset()
        self._now: datetime | None = None
        self._tz: tzinfo | None = None
        self._drawn: set[str] = set()
        self._height = 0
        self.follow = True
        self.browse_rows = 200

    def on_resize(self) -> None:
        if not self._relayout() and self.size.height != self._height:
            self._fill()

    def shows_any(self, keys: set[str]) -> bool:
        """Whether one of these calls is among the drawn rows."""
        return not self._drawn.isdisjoint(keys)

    def _relayout(self) -> bool:
        """Rebuild the columns for the current width (and redraw); False if they fit already."""
        width = self.size.width or 80
        fixed = sum(w for _, w in self.FIXED)
        flex = max(width - fixed - 8 * 2 * self.cell_padding - 1, 18)
        source = max(flex * 25 // 100, 6)
        model = max(flex * 45 // 100, 8)
        widths = (source, model, flex - source - model)
        if widths == self._widths:
            return False
        self._widths = widths
        self.clear(columns=True)
        (_, tw), (_, iw), (_, ow), (_, cw), (_, kw) = self.FIXED
        for label, w in (
            ("Time", tw),
            ("Source", source),
            ("Model", model),
            ("Operation", widths[2]),
            ("In", iw),
            ("Out", ow),
            ("Cache", cw),
            ("Cost", kw),
        ):
            self.add_column(label, width=w, key=label.lower())
        self._fill()
        return True

    def show(
        self, rows: Sequence[UsageEvent], fresh: frozenset[str], now: datetime, tz: tzinfo
    ) -> None:
        self._calls, self._fresh, self._now, self._tz = rows, fresh, now, tz
        if not self._widths:
            self._relayout()
        else:
            self._fill()

    def _fill(self) -> None:
        self.clear()
        self._height = self.size.height
        self._drawn = set()
        if self._now is None or self._tz is None or not self._widths:
            return
        count = max(self._height - 1, 1) if self.follow else self.browse_rows
        fresh_style = self.get_component_rich_style("live--fresh", partial=True)
        unpriced_style = self.get_component_rich_style("live--unpriced", partial=True)
        _, model_w, what_w = self._widths
        rows = []
        for e in self._calls[:count]:
            self._drawn.add(e.key)
            model = e.model if model_w < 24 else f"{e.provider}/{e.model}"
            cost = Text(fmt.cost_cell(e.cost, e.cost_basis), justify="right")
            if e.cost is None:
                cost.stylize(unpriced_style)
            cells = [
                Text(fmt.when(e.ts, self._now, self._tz)),
                Text(fmt.clip(e.source, self._widths[0])),
                Text(fmt.clip(model, model_w)),
                Text(fmt.clip(what(e), what_w)),
                Text(fmt.tokens(e.input_tokens), justify="right"),
                Text(fmt.tokens(e.output_tokens), justify="right"),
                Text(fmt.tokens(e.cache_read_tokens + e.cache_write_tokens), justify="right"),
                cost,
            ]
            if e.key in self._fresh:
                for cell in cells:
                    cell.stylize(fresh_style)
            rows.append(cells)
        self.add_rows(rows)


class BreakdownTable(DataTable[Text]):
    """Spend of one period grouped by one dimension (the daemon's top rows)."""

    def __init__(self, *, id: str) -> None:
        super().__init__(id=id, cursor_type="none", show_cursor=False, zebra_stripes=False)
        self._shown: tuple[Sequence[BreakdownRow], Decimal | None] = ((), None)
        self._wide: bool | None = None

    def on_resize(self) -> None:
        wide = self.size.width >= 70
        if wide != self._wide:
            self._wide = wide
            self.clear(columns=True)
            self.add_column("Key", key="key")
            self.add_column("Cost", key="cost")
            self.add_column("Calls", key="calls")
            self.add_column("Share", key="share")
            if wide:
                self.add_column("In", key="in")
                self.add_column("Out", key="out")
            self._fill()

    def show(self, rows: Sequence[BreakdownRow], total: Decimal | None) -> None:
        if (rows, total) == self._shown and self._wide is not None:
            return
        self._shown = (rows, total)
        if self._wide is None:
            self.on_resize()
        else:
            self._fill()

    def _fill(self) -> None:
        self.clear()
        rows, total = self._shown
        key_width = max(self.size.width - (45 if self._wide else 29), 8)
        out = []
        for r in rows:
            key: str | None = r.get("key")
            cost_usd: str | None = r.get("cost_usd")
            calls: int = r.get("calls", 0)
            unpriced: int = r.get("unpriced_calls") or 0
            cost = fmt.dec(cost_usd)
            share = (
                f"{cost / total * 100:.0f} %" if cost is not None and total and total > 0 else ""
            )
            cells = [
                Text(fmt.clip(str(key or "(none)"), key_width)),
                Text(fmt.money(cost_usd) + ("*" if unpriced else ""), justify="right"),
                Text(f"{calls:,}", justify="right"),
                Text(share, justify="right"),
            ]
            if self._wide:
                tokens_in: int = r.get("input_tokens") or 0
                tokens_out: int = r.get("output_tokens") or 0
                cells.append(Text(fmt.tokens(int(tokens_in)), justify="right"))
                cells.append(Text(fmt.tokens(int(tokens_out)), justify="right"))
            out.append(cells)
        self.add_rows(out)


def alert_lines(alerts: Sequence[AlertPayload], now: datetime, tz: tzinfo) -> Text:
    if not alerts:
        return Text("No alerts sent.", style="dim")
    text = Text()
    for i, a in enumerate(alerts):
        if i:
            text.append("\n")
        created: str | None = a.get("created")
        severity: str = a.get("severity", "")
        title: str = a.get("title", a.get("kind", "alert"))
        stamp = ""
        if isinstance(created, str):
            try:
                stamp = fmt.when(datetime.fromisoformat(created), now, tz)
            except ValueError:
                stamp = created[:16]
        mark = SEVERITY_MARK.get(str(severity), "•")
        title = str(title).removeprefix("llm-monitor: ")
        text.append(f"{stamp} ", style="dim")
        text.append(f"{mark} ", style="bold")
        text.append(title, style="bold" if mark == "✖" else "")
    return text


class AlertsPane(VerticalScroll):
    """Every alert the daemon sent, newest first."""

    _shown: object = None

    def compose(self) -> ComposeResult:
        yield Static(id="alert-lines")

    def show(self, alerts: Sequence[AlertPayload], now: datetime, tz: tzinfo) -> None:
        key = (list(alerts), now.astimezone(tz).date())
        if key != self._shown:
            self._shown = key
            self.query_one("#alert-lines", Static).update(alert_lines(alerts, now, tz))
