"""What every alert rule shares: the decision and its key, what a rule sees, the rule
protocol, quiet hours and the text helpers of titles.

Pure: no I/O, no clock (`now` is always handed in), no SQL, no apprise. Whether a
decision was already made is the caller's knowledge, handed in as `known` (a set of
`Decision.key`s); the alert store's UNIQUE (kind, rule, period, threshold) makes it stick
across restarts, and the alert service records a decision before any delivery is tried.

Severity and quiet hours
------------------------
A rule sets each decision's severity and whether quiet hours may hold it
(`quiet_exempt`: today the alerts at or over 100 % and spikes). `apply_quiet_hours` then
holds the others until the quiet hours end, computed in local time by constructing the
wall-clock end (DST-safe).
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol

from monitor.events import utc

if TYPE_CHECKING:
    from monitor.config import Config
    from monitor.events import UsageEvent
    from monitor.forecast import Forecast
    from monitor.limits import LimitSnapshot
    from monitor.periods import Period
    from monitor.totals import TotalsSummary

Severity = Literal["info", "warning", "failure"]
AlertKey = tuple[str, str, str, str]
"""(kind, rule, period, threshold): at most one alert each."""

PREFIX: Final = "llm-monitor:"
"""Every alert title starts with it (mail filters and phone rules match on it)."""


@dataclass(frozen=True, slots=True)
class Decision:
    """One alert to record and deliver; `key` says what counts as the same alert."""

    kind: str
    """The rule's kind ("budget", "forecast", "spike", "health", …)."""
    rule: str
    """Which instance of the kind: a budget's name, a source's name, "call"…"""
    period: str
    """The episode: a period label, an hour, an event key; a new one re-arms the alert."""
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
class Situation:
    """Everything a rule may look at in one evaluation (built by the alert service)."""

    now: datetime
    """Aware UTC."""
    config: Config
    """The running config: budgets, `[alerts]`, sources, the time zone."""
    totals: TotalsView
    known: Container[AlertKey]
    """Keys already decided (stored): a rule returns only what is not in here."""
    events: Sequence[UsageEvent] = ()
    """Events applied since the last evaluation (new calls, grown streamed copies)."""
    sources: Mapping[str, Mapping[str, Any]] | None = None
    """Per-source counters (`events`, `errors`, `last_event`); None when not watching."""
    since: datetime | None = None
    """When watching began."""
    limits: Sequence[LimitSnapshot] = ()
    """The latest snapshot of each plan window the tools reported."""

    @property
    def tz(self) -> tzinfo:
        return self.config.tz


class Rule(Protocol):
    """One kind of alert. `decide` is pure apart from the rule's own memory (a rule may
    remember what it saw, as `HealthWatch` does): no I/O, no clock, no SQL."""

    def decide(self, s: Situation) -> Iterable[Decision]: ...


# ---------------------------------------------------------------- text helpers


def threshold_text(fraction: Decimal) -> str:
    """The stored spelling of a threshold: 0.5 → "0.5", 1 → "1.0" (one key per value)."""
    text = f"{fraction.normalize():f}"
    return text if "." in text else text + ".0"


def percent_text(fraction: Decimal) -> str:
    """0.8 → "80", 0.333 → "33.3", 1.25 → "125"."""
    return f"{(fraction * 100).quantize(Decimal('0.1')).normalize():f}"


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


__all__ = [
    "PREFIX",
    "AlertKey",
    "Decision",
    "Rule",
    "Severity",
    "Situation",
    "TotalsView",
    "apply_quiet_hours",
    "percent_text",
    "quiet_until",
    "threshold_text",
]
