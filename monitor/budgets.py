"""Budget, spike and health rules → alert decisions. Pure: no I/O, no clock, no apprise.

Every function takes `now`, the time zone and a totals view (`monitor.totals.Totals`
satisfies `TotalsView`), and returns `Decision`s. Whether a decision was already made
is the caller's knowledge, handed in as `known` (a set of `Decision.key`s); the alert
store's UNIQUE (kind, rule, period, threshold) makes it stick across restarts.

What counts as one alert
------------------------
- Budget threshold: ("budget", budget name, period label, "0.8"). The period label
  (`monitor.status.period_label`: "2026-11-23", "2026-W48", "2026-11") makes a new period
  start fresh. Thresholds are fractions of the limit, so raising a budget above the
  current spend re-fires nothing already sent this period, and lowering it so that the
  spend crosses a threshold not yet sent fires that one.
- When several thresholds are crossed at once (a first start over a month already at
  85 %, one huge call), only the highest goes out: "at 80 %" says everything "at 50 %"
  would, and a burst of stale warnings teaches people to ignore them. A threshold is
  also taken as sent when a higher one was, so the lower one never follows later.
- Forecast: ("forecast", budget name, period label, "forecast"), once per period,
  while the spend is still under the limit and the expected end of the period is over
  it. Week and month forecasts need at least one complete day of history first: on the
  first day of data the pace projection swings too wildly to warn on.
- Spike, one call: ("spike", "call", event key, ""): a streamed call that grows keeps its
  key, so it alerts once. Only calls from the last `SPIKE_WINDOW` count: a backfill of
  old files is history, not a spike.
- Spike, hourly: ("spike", "hourly", local hour "2026-11-23T14+0100", ""): spend over
  the limit in the last 60 minutes, at most once per local hour (the UTC offset keeps
  the repeated hour of a DST change apart).
- Health, parse errors: ("health", source, local day, "errors"): at least
  `ERROR_MIN` unreadable records that are more than `ERROR_SHARE` of the source's
  records within `ERROR_WINDOW` (a tool update that changed its format); at most once
  per source and day. Counting starts when `HealthWatch` first sees the source, so
  errors of a backfill that happened before are not a jump.
- Health, silence: ("health", source, newest event time or "never", "silent"): a source
  with `expect_every` whose newest event is older than that. The episode is named by
  that event, so it alerts once until the source writes again.

Severity and quiet hours
------------------------
Warnings below 100 %, failure at or over it. Quiet hours hold everything except the
alerts at or over 100 % and spikes (`quiet_exempt`) until the quiet hours end, computed
in local time by constructing the wall-clock end (DST-safe).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

from monitor.events import usd_text, usd_true_text, utc
from monitor.status import period_label
from monitor.totals import Forecast, Period, TotalsSummary, local_day, runs_out_on

if TYPE_CHECKING:
    from monitor.config import AlertsConfig, BudgetConfig, SourceConfig
    from monitor.events import UsageEvent

Kind = Literal["budget", "forecast", "spike", "health", "test"]
Severity = Literal["info", "warning", "failure"]
AlertKey = tuple[str, str, str, str]
"""(kind, rule, period, threshold): at most one alert each."""

PREFIX: Final = "llm-monitor:"
TOP_N: Final = 3
SPIKE_WINDOW: Final = timedelta(hours=1)
ERROR_WINDOW: Final = timedelta(hours=1)
ERROR_MIN: Final = 10
ERROR_SHARE: Final = Decimal("0.2")
_ONE: Final = Decimal(1)


class TotalsView(Protocol):
    """What the rules read from the running totals (`monitor.totals.Totals` has it)."""

    def spent(
        self, kind: Period, now: datetime, scope: Mapping[str, str] | None = None
    ) -> Decimal: ...

    def forecast(
        self, kind: Period, now: datetime, scope: Mapping[str, str] | None = None
    ) -> Forecast: ...

    def burn_per_hour(self, now: datetime, scope: Mapping[str, str] | None = None) -> Decimal: ...

    def summary(self, now: datetime, *, top: int | None = None) -> TotalsSummary: ...


@dataclass(frozen=True, slots=True)
class Decision:
    """One alert to record and deliver (see the module docstring for its key)."""

    kind: Kind
    rule: str
    period: str
    threshold: str
    severity: Severity
    title: str
    body: str
    quiet_exempt: bool = False
    hold_until: datetime | None = None
    """Aware UTC: deliver no earlier (quiet hours); None = at once."""

    @property
    def key(self) -> AlertKey:
        return (self.kind, self.rule, self.period, self.threshold)


# ---------------------------------------------------------------- text helpers


def threshold_text(fraction: Decimal) -> str:
    """The stored spelling of a threshold: 0.5 → "0.5", 1 → "1.0" (one key per value)."""
    text = f"{fraction.normalize():f}"
    return text if "." in text else text + ".0"


def percent_text(fraction: Decimal) -> str:
    """0.8 → "80", 0.333 → "33.3", 1.25 → "125"."""
    return f"{(fraction * 100).quantize(Decimal('0.1')).normalize():f}"


def scope_text(scope: Mapping[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in scope.items())


def _hour_label(now: datetime, tz: tzinfo) -> str:
    return utc(now).astimezone(tz).strftime("%Y-%m-%dT%H%z")


def _period_name(kind: Period, label: str) -> str:
    return {"day": "day", "week": "week", "month": "month"}[kind] + f" {label}"


# ---------------------------------------------------------------- budgets


def top_spenders(
    totals: TotalsView,
    kind: Period,
    now: datetime,
    dim: str,
    scope: Mapping[str, str] | None = None,
    n: int = TOP_N,
) -> list[tuple[str, Decimal]]:
    """The `n` costliest values of `dim` (model, source, …) this period, within `scope`."""
    scope = dict(scope or {})
    if dim in scope:
        spent = totals.spent(kind, now, scope)
        return [(scope[dim], spent)] if spent > 0 else []
    rows = totals.summary(now).period(kind).by.get(dim, ())
    out: list[tuple[str, Decimal]] = []
    for value, usage in rows:
        if value is None:
            continue
        cost = totals.spent(kind, now, {**scope, dim: value}) if scope else usage.cost
        if cost > 0:
            out.append((value, cost))
    out.sort(key=lambda row: (-row[1], row[0]))
    return out[:n]


def budget_body(
    budget: BudgetConfig,
    totals: TotalsView,
    now: datetime,
    tz: tzinfo,
    spent: Decimal,
    fc: Forecast,
) -> str:
    """Spent, limit, forecast with its band, when it runs out, top models and sources."""
    scope = dict(budget.scope) or None
    label = period_label(budget.period, local_day(now, tz))
    pct = f" ({percent_text(spent / budget.limit)} %)" if budget.limit > 0 else ""
    lines = [
        f"Spent {usd_true_text(spent)} of {usd_true_text(budget.limit)}{pct} "
        f"in {_period_name(budget.period, label)}.",
        f"Forecast for the {budget.period}: {usd_text(fc.expected)} "
        f"(range {usd_text(fc.low)}–{usd_text(fc.high)}).",
    ]
    if spent >= budget.limit:
        lines.append("The limit is reached.")
    else:
        out_on = runs_out_on(budget.limit, fc, now, tz)
        lines.append(
            f"At this pace the budget runs out on {out_on.isoformat()}."
            if out_on
            else f"At this pace the budget lasts to the end of the {budget.period}."
        )
    for dim, name in (("model", "models"), ("source", "sources")):
        top = top_spenders(totals, budget.period, now, dim, scope)
        if top:
            lines.append(f"Top {name}: " + ", ".join(f"{v} {usd_text(c)}" for v, c in top))
    if budget.scope:
        lines.append(f"Scope: {scope_text(budget.scope)}")
    return "\n".join(lines)


def budget_decisions(
    budgets: Iterable[BudgetConfig],
    totals: TotalsView,
    now: datetime,
    tz: tzinfo,
    known: Container[AlertKey] = frozenset(),
) -> list[Decision]:
    """Threshold and forecast alerts due for each budget at `now` (not yet in `known`).

    A scope the totals cannot answer (an untracked tag) raises ValueError, as
    `Totals.spent` does; callers check scopes when the config loads.
    """
    out: list[Decision] = []
    for b in budgets:
        label = period_label(b.period, local_day(now, tz))
        scope = dict(b.scope) or None
        spent = totals.spent(b.period, now, scope)
        threshold = _threshold_due(b, spent, label, known)
        fc: Forecast | None = None
        if threshold is not None:
            fc = totals.forecast(b.period, now, scope)
            over = threshold >= _ONE
            out.append(
                Decision(
                    kind="budget",
                    rule=b.name,
                    period=label,
                    threshold=threshold_text(threshold),
                    severity="failure" if over else "warning",
                    title=(
                        f"{PREFIX} budget '{b.name}' at {percent_text(threshold)} % "
                        f"({usd_true_text(spent)} of {usd_true_text(b.limit)})"
                    ),
                    body=budget_body(b, totals, now, tz, spent, fc),
                    quiet_exempt=over,
                )
            )
        forecast_key: AlertKey = ("forecast", b.name, label, "forecast")
        if not b.forecast or b.limit <= 0 or spent >= b.limit or forecast_key in known:
            continue
        fc = fc or totals.forecast(b.period, now, scope)
        if fc.expected > b.limit and (b.period == "day" or fc.history_days > 0):
            out.append(
                Decision(
                    kind="forecast",
                    rule=b.name,
                    period=label,
                    threshold="forecast",
                    severity="warning",
                    title=(
                        f"{PREFIX} budget '{b.name}' forecast "
                        f"{usd_true_text(fc.expected)} "
                        f"of {usd_true_text(b.limit)}"
                    ),
                    body=budget_body(b, totals, now, tz, spent, fc),
                )
            )
    return out


def _threshold_due(
    b: BudgetConfig, spent: Decimal, label: str, known: Container[AlertKey]
) -> Decimal | None:
    """The highest crossed threshold, unless it or a higher one was already decided."""
    if spent <= 0:
        return None
    crossed = [t for t in b.warn_at if spent >= t * b.limit]
    if not crossed:
        return None
    top = max(crossed)
    if any(("budget", b.name, label, threshold_text(t)) in known for t in b.warn_at if t >= top):
        return None
    return top


# ---------------------------------------------------------------- spikes


def spike_decisions(
    alerts: AlertsConfig,
    totals: TotalsView,
    events: Iterable[UsageEvent],
    now: datetime,
    tz: tzinfo,
    known: Container[AlertKey] = frozenset(),
) -> list[Decision]:
    """`[alerts.spike]`: one recent call over `call_cost`, or the last 60 minutes over `hourly`."""
    out: list[Decision] = []
    seen: set[AlertKey] = set()
    if alerts.spike_call_cost > 0:
        since = utc(now) - SPIKE_WINDOW
        for e in events:
            if e.cost is None or e.cost <= alerts.spike_call_cost or utc(e.ts) < since:
                continue
            key: AlertKey = ("spike", "call", e.key, "")
            if key in known or key in seen:
                continue
            seen.add(key)
            local = utc(e.ts).astimezone(tz)
            op = f" ({e.operation})" if e.operation else ""
            out.append(
                Decision(
                    kind="spike",
                    rule="call",
                    period=e.key,
                    threshold="",
                    severity="warning",
                    title=(
                        f"{PREFIX} spike {usd_true_text(e.cost)} in one call to "
                        f"{e.model} (over {usd_true_text(alerts.spike_call_cost)})"
                    ),
                    body="\n".join(
                        [
                            f"One call cost {usd_true_text(e.cost)}, over the "
                            f"per-call limit of {usd_true_text(alerts.spike_call_cost)}.",
                            f"Model: {e.provider}/{e.model}{op}",
                            f"Source: {e.source}",
                            f"Tokens: {e.input_tokens:,} in, {e.output_tokens:,} out",
                            f"At: {local:%Y-%m-%d %H:%M:%S %Z}",
                        ]
                    ),
                    quiet_exempt=True,
                )
            )
    if alerts.spike_hourly > 0:
        burn = totals.burn_per_hour(now)
        key = ("spike", "hourly", _hour_label(now, tz), "")
        if burn > alerts.spike_hourly and key not in known:
            today = totals.spent("day", now)
            out.append(
                Decision(
                    kind="spike",
                    rule="hourly",
                    period=key[2],
                    threshold="",
                    severity="warning",
                    title=(
                        f"{PREFIX} spike {usd_text(burn)} in the last hour "
                        f"(over {usd_text(alerts.spike_hourly)})"
                    ),
                    body=(
                        f"Spend in the last 60 minutes: {usd_text(burn)}, over the hourly "
                        f"limit of {usd_text(alerts.spike_hourly)}.\n"
                        f"Spent today: {usd_text(today)}."
                    ),
                    quiet_exempt=True,
                )
            )
    return out


# ---------------------------------------------------------------- health


class HealthWatch:
    """Parse-error jumps and silent sources (see the module docstring).

    Keeps, per source, the (time, events, errors) counts seen over the last
    `ERROR_WINDOW`, so the error share is measured over recent records, not all time.
    No clock and no I/O: `check` is called with `now` and the counters.
    """

    def __init__(
        self,
        *,
        window: timedelta = ERROR_WINDOW,
        min_errors: int = ERROR_MIN,
        min_share: Decimal = ERROR_SHARE,
    ) -> None:
        self.window = window
        self.min_errors = min_errors
        self.min_share = min_share
        self._samples: dict[str, deque[tuple[datetime, int, int]]] = {}

    def check(
        self,
        now: datetime,
        tz: tzinfo,
        sources: Sequence[SourceConfig],
        stats: Mapping[str, Mapping[str, Any]],
        *,
        since: datetime,
        known: Container[AlertKey] = frozenset(),
    ) -> list[Decision]:
        """Health alerts due at `now`.

        `stats` are per-source counters as the daemon keeps them (`events`, `errors`,
        `last_event`); `since` is when watching began (a source that never wrote counts
        as silent from then).
        """
        now = utc(now)
        out: list[Decision] = []
        for s in sources:
            if not s.enabled:
                continue
            st = stats.get(s.name, {})
            jump = self._error_jump(s.name, now, int(st.get("events", 0)), int(st.get("errors", 0)))
            if jump is not None:
                errors, records = jump
                key: AlertKey = ("health", s.name, local_day(now, tz).isoformat(), "errors")
                if key not in known:
                    out.append(
                        Decision(
                            kind="health",
                            rule=s.name,
                            period=key[2],
                            threshold="errors",
                            severity="warning",
                            title=(
                                f"{PREFIX} health source '{s.name}': {errors:,} of "
                                f"{records:,} records unreadable in the last hour"
                            ),
                            body=(
                                f"Source '{s.name}' (format {s.format}) could not read "
                                f"{errors:,} of its last {records:,} records. Did the tool "
                                "that writes it change its format? `llm-monitor status` "
                                "lists the sources; the bad records are skipped, not counted."
                            ),
                        )
                    )
            if s.expect_every is not None:
                last = st.get("last_event")
                quiet_since = utc(last) if isinstance(last, datetime) else None
                start = quiet_since or utc(since)
                if now - start > s.expect_every:
                    episode = quiet_since.isoformat(timespec="seconds") if quiet_since else "never"
                    key = ("health", s.name, episode, "silent")
                    if key not in known:
                        out.append(_silent(s, quiet_since, now, tz, episode))
        return out

    def _error_jump(
        self, name: str, now: datetime, events: int, errors: int
    ) -> tuple[int, int] | None:
        samples = self._samples.setdefault(name, deque())
        if samples and (events < samples[-1][1] or errors < samples[-1][2]):
            samples.clear()  # counters were reset (a reload rebuilt them)
        # One sample per 1/60 of the window: enough to find its start, and bounded
        # however many rounds a busy source makes (one per round grew without end).
        if not samples or now - samples[-1][0] >= self.window / 60:
            samples.append((now, events, errors))
        while len(samples) > 1 and samples[1][0] <= now - self.window:
            samples.popleft()
        _, base_events, base_errors = samples[0]
        new_errors = errors - base_errors
        records = new_errors + events - base_events
        if new_errors >= self.min_errors and new_errors > self.min_share * records:
            return new_errors, records
        return None


def _silent(
    s: SourceConfig, last: datetime | None, now: datetime, tz: tzinfo, episode: str
) -> Decision:
    expected = _duration_text(s.expect_every or timedelta())
    if last is None:
        title = f"{PREFIX} health source '{s.name}' has written nothing (expected every {expected})"
        body = f"Source '{s.name}' has produced no usage record since llm-monitor started."
    else:
        silent = _duration_text(now - last)
        local = last.astimezone(tz)
        title = f"{PREFIX} health source '{s.name}' silent for {silent} (expected every {expected})"
        body = f"Source '{s.name}' last recorded a call at {local:%Y-%m-%d %H:%M %Z}."
    paths = ", ".join(s.paths)
    return Decision(
        kind="health",
        rule=s.name,
        period=episode,
        threshold="silent",
        severity="warning",
        title=title,
        body=f"{body}\nIt watches: {paths}\nIs the tool still running, or did its files move?",
    )


def _duration_text(d: timedelta) -> str:
    minutes = int(d.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours}h"
    return f"{hours // 24}d"


# ---------------------------------------------------------------- quiet hours


def quiet_until(quiet: tuple[time, time] | None, now: datetime, tz: tzinfo) -> datetime | None:
    """End of the quiet hours `now` falls in (aware UTC), or None outside them.

    The end is built from the local date and wall-clock time, so a DST change inside
    the quiet hours moves the UTC instant, not the local one.
    """
    if quiet is None:
        return None
    start, end = quiet
    local = utc(now).astimezone(tz)
    t = local.time().replace(tzinfo=None)
    inside = start <= t < end if start < end else (t >= start or t < end)
    if not inside:
        return None
    day: date = local.date() if t < end else local.date() + timedelta(days=1)
    until = datetime.combine(day, end, tzinfo=tz).astimezone(UTC)
    return until if until > utc(now) else None


def apply_quiet_hours(
    decisions: Iterable[Decision], quiet: tuple[time, time] | None, now: datetime, tz: tzinfo
) -> list[Decision]:
    """Hold the decisions that quiet hours may hold until the quiet hours end."""
    until = quiet_until(quiet, now, tz)
    return [
        d if until is None or d.quiet_exempt else replace(d, hold_until=until) for d in decisions
    ]


def notify_test_decision(now: datetime, tz: tzinfo) -> Decision:
    """What `notify-test` sends (never stored)."""
    local = utc(now).astimezone(tz)
    return Decision(
        kind="test",
        rule="",
        period=local.isoformat(timespec="seconds"),
        threshold="",
        severity="info",
        title=f"{PREFIX} test notification",
        body=(
            f"This is a test from llm-monitor, sent {local:%Y-%m-%d %H:%M:%S %Z}. "
            "Budget alerts will arrive here."
        ),
        quiet_exempt=True,
    )


__all__ = [
    "AlertKey",
    "Decision",
    "HealthWatch",
    "TotalsView",
    "apply_quiet_hours",
    "budget_body",
    "budget_decisions",
    "notify_test_decision",
    "percent_text",
    "quiet_until",
    "spike_decisions",
    "threshold_text",
    "top_spenders",
]
