"""What the dashboard knows: the daemon's latest documents and the live list, as plain values.

The daemon sends a snapshot (replace everything), then events, totals and alerts as they
happen (`monitor.api.protocol`). A `FeedBatch` gathers what arrived within one refresh interval
— the reader fills it, never waiting for the screen — and `DashboardState.apply` folds it
in and says what changed, so the App redraws only those widgets.

No textual, no socket, no clock: the App passes "now" where a time matters. The dashboard
never sums money itself: totals, budgets and series are the daemon's (the only exact
source); events only feed the live list.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor.api import AlertMsg, EventMsg, Message, Resync, Snapshot, TotalsMsg
from monitor.events import UsageEvent, event_from_payload, utc
from monitor.wire import (
    PERIOD_KEYS,
    AlertPayload,
    Breakdown,
    BreakdownRow,
    BudgetEntry,
    BurnRate,
    EventPayload,
    LimitEntry,
    PeriodDoc,
    PeriodKey,
    SeriesDoc,
    SnapshotDoc,
    StatusDoc,
    UnpricedModel,
)

LIVE_CAP: Final = 500
"""Calls kept in memory for the live list (newest first); older ones fall off."""
ALERTS_CAP: Final = 200
DIMENSIONS: Final = ("model", "provider", "source", "operation")
PERIODS: Final = PERIOD_KEYS
"""The status document's period keys: "today", "week", "month"."""

Level = Literal["ok", "warn", "over"]


@dataclass(slots=True)
class FeedBatch:
    """Messages received since the last refresh, already reduced to what still matters.

    A snapshot makes everything before it moot; only the latest totals count; of a burst
    of events only the newest `LIVE_CAP` can still be on screen.
    """

    snapshot: SnapshotDoc | None = None
    events: deque[EventPayload] = field(default_factory=lambda: deque(maxlen=LIVE_CAP))
    totals: SnapshotDoc | None = None
    """The latest totals document (a snapshot document without `recent`)."""
    alerts: list[AlertPayload] = field(default_factory=list)
    resynced: bool = False
    received: int = 0
    """Messages folded into this batch (the bench counts them)."""

    def add(self, msg: Message) -> None:
        self.received += 1
        match msg:
            case Snapshot(payload=payload):
                self.snapshot = payload
                self.events.clear()
                self.totals = None
                self.alerts.clear()
            case EventMsg(payload=payload):
                self.events.append(payload)
            case TotalsMsg(payload=payload):
                self.totals = payload
            case AlertMsg(payload=payload):
                self.alerts.append(payload)
            case Resync():
                self.resynced = True
            case _:
                pass

    def __bool__(self) -> bool:
        return bool(
            self.snapshot is not None or self.events or self.totals is not None or self.alerts
        )


@dataclass(frozen=True, slots=True)
class Changes:
    """Which parts of the state an `apply` touched."""

    status: bool = False
    live: bool = False
    alerts: bool = False
    fresh: frozenset[str] = frozenset()
    """Keys of the calls that arrived live in this batch (highlighted for a moment)."""


def resolve_zone(name: object) -> tzinfo:
    """The snapshot's time zone; this machine's local zone when the name is not an IANA key.

    The daemon may report "localtime" or an abbreviation for a zone it read from a file;
    the dashboard runs on the same machine, so its local zone is the same one.
    """
    if isinstance(name, str) and name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    local = datetime.now().astimezone().tzinfo
    assert local is not None
    return local


def parse_event(payload: EventPayload) -> UsageEvent | None:
    """An event payload → UsageEvent, or None for one the dashboard cannot show."""
    try:
        e = event_from_payload(dict(payload))
    except (KeyError, ValueError, TypeError, ArithmeticError):
        return None
    e.ts = utc(e.ts)
    return e


def budget_level(budget: BudgetEntry) -> Level:
    """ok below the first warning threshold, warn from there, over from 100 %."""
    fraction: float | None = budget.get("fraction")
    if not isinstance(fraction, int | float):
        return "ok"
    if fraction >= 1.0:
        return "over"
    levels: Iterable[float] = budget.get("warn_at") or (0.5, 0.8)
    warn_at = [w for w in levels if isinstance(w, int | float)]
    first = min((w for w in warn_at if w < 1.0), default=None)
    return "warn" if first is not None and fraction >= first else "ok"


def event_text(e: UsageEvent) -> str:
    """What the live filter searches: source, provider, model, operation and tag values."""
    parts = [e.source, e.provider, e.model, e.operation or ""]
    parts.extend(f"{k}={v}" for k, v in e.tags.items())
    return " ".join(parts).casefold()


def what(e: UsageEvent) -> str:
    """The live list's "operation or tags" cell."""
    if e.operation:
        return e.operation
    # Tag values alone (a project path by its last part): the cell is narrow.
    return " ".join(
        v.rstrip("/\\").rsplit("/", 1)[-1] for k, v in sorted(e.tags.items()) if k != "session"
    )


class DashboardState:
    def __init__(self, live_cap: int = LIVE_CAP) -> None:
        self.live_cap = live_cap
        self.status: StatusDoc | None = None
        """The latest document from the daemon, read as the status document it contains."""
        self.series: SeriesDoc | None = None
        self.breakdown: Breakdown = {}
        self.live: list[UsageEvent] = []
        """Newest first, by the call's own time (a late backfilled call sorts into place)."""
        self.alerts: list[AlertPayload] = []
        """Newest first."""
        self.tz: tzinfo = resolve_zone(None)
        self.loaded = False
        """Whether a snapshot arrived yet (before it, the screen says it is waiting)."""
        self._tz_name: object = None

    def apply(self, batch: FeedBatch) -> Changes:
        status = live = alerts = False
        fresh: set[str] = set()
        if batch.snapshot is not None:
            self._load(batch.snapshot)
            status = live = alerts = True
        if batch.events:
            fresh = self.add_events(batch.events)
            live = True
        if batch.totals is not None:
            self._take_document(batch.totals)
            status = True
        if batch.alerts:
            self.add_alerts(batch.alerts)
            alerts = True
        return Changes(status=status, live=live, alerts=alerts, fresh=frozenset(fresh))

    def _load(self, snapshot: SnapshotDoc) -> None:
        self.loaded = True
        self._take_document(snapshot)
        self.live = []
        self.add_events(snapshot.get("recent") or ())
        known: list[AlertPayload] | None = snapshot.get("alerts")
        if isinstance(known, list):
            self.alerts = []
            self.add_alerts(reversed(known))

    def _take_document(self, doc: SnapshotDoc) -> None:
        """Status, and the series and breakdown when the document carries them.

        Totals messages may come without series or breakdown; then the last known ones
        stay on screen until the next document that has them.
        """
        self.status = doc
        series: SeriesDoc | None = doc.get("series")
        if isinstance(series, dict):
            self.series = series
        breakdown: Breakdown | None = doc.get("breakdown")
        if isinstance(breakdown, dict):
            self.breakdown = breakdown
        name: str | None = doc.get("timezone")
        if name != self._tz_name:
            self._tz_name = name
            self.tz = resolve_zone(name)

    def add_events(self, payloads: Iterable[EventPayload]) -> set[str]:
        """Merge calls into the live list; a call seen again (streamed update) replaces its row."""
        incoming: dict[str, UsageEvent] = {}
        for p in payloads:
            e = parse_event(p)
            if e is not None:
                incoming[e.key] = e
        if not incoming:
            return set()
        kept = [e for e in self.live if e.key not in incoming]
        merged = sorted([*kept, *incoming.values()], key=lambda e: e.ts, reverse=True)
        self.live = merged[: self.live_cap]
        on_list = {e.key for e in self.live}
        return {k for k in incoming if k in on_list}

    def add_alerts(self, alerts: Iterable[AlertPayload]) -> None:
        """Newest first; an alert already listed (same kind, title, time) is not repeated."""
        seen = {_alert_id(a) for a in self.alerts}
        for a in alerts:
            if _alert_id(a) not in seen:
                seen.add(_alert_id(a))
                self.alerts.insert(0, a.copy())
        del self.alerts[ALERTS_CAP:]

    def visible(self, needle: str = "") -> list[UsageEvent]:
        """The live list, filtered by a case-insensitive substring."""
        if not needle:
            return self.live
        folded = needle.casefold()
        return [e for e in self.live if folded in event_text(e)]

    # The documents come from another process and may lack a part: each reader below
    # answers "nothing" (None, empty) for a part that is missing or not the right shape.

    def period(self, key: PeriodKey) -> PeriodDoc | None:
        entry = self.status.get(key) if self.status is not None else None
        return entry if isinstance(entry, dict) else None

    def burn_rate(self) -> BurnRate | None:
        burn = self.status.get("burn_rate") if self.status is not None else None
        return burn if isinstance(burn, dict) else None

    def budgets(self) -> list[BudgetEntry]:
        budgets = self.status.get("budgets") if self.status is not None else None
        return [b for b in budgets or () if isinstance(b, dict)]

    def limits(self) -> list[LimitEntry]:
        limits = self.status.get("limits") if self.status is not None else None
        return [w for w in limits or () if isinstance(w, dict)]

    def unpriced(self) -> list[UnpricedModel]:
        unpriced = self.status.get("unpriced") if self.status is not None else None
        return [u for u in unpriced or () if isinstance(u, dict)]

    def daemon_state(self) -> str:
        """The daemon's state as its last document said ("backfilling", "ready"), or ""."""
        state = self.status.get("state") if self.status is not None else None
        backfill = self.status.get("backfill") if self.status is not None else None
        if state and isinstance(backfill, dict) and "percent" in backfill:
            complete = (
                ", this month complete"
                if backfill.get("recent_final")
                else ", today complete"
                if backfill.get("today_final")
                else ""
            )
            return f"{state}, {backfill['percent']:.0f} %{complete}"
        return str(state) if state else ""

    def zone_name(self) -> str:
        """The configured zone's name as the daemon reports it ("local" before it does)."""
        name = self.status.get("timezone") if self.status is not None else None
        return str(name or "local")

    def breakdown_rows(self, period: PeriodKey, dimension: str) -> Sequence[BreakdownRow]:
        rows = (self.breakdown.get(period) or {}).get(dimension) or ()
        return [r for r in rows if isinstance(r, dict)]

    def series_values(self, name: Literal["hourly_usd", "daily_usd"]) -> list[str]:
        values: list[str] | None = self.series.get(name) if self.series is not None else None
        return [str(v) for v in values] if isinstance(values, list) else []


def _alert_id(a: AlertPayload) -> tuple[str, str, str]:
    kind: str = a.get("kind", "")
    title: str = a.get("title", "")
    created: str = a.get("created", "")
    return (str(kind), str(title), str(created))
