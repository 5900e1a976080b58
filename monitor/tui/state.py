"""What the dashboard knows: the daemon's latest documents and the live list, as plain values.

The daemon sends a snapshot (replace everything), then events, totals and alerts as they
happen (api.py's protocol). A `FeedBatch` gathers what arrived within one refresh interval
— the reader fills it, never waiting for the screen — and `DashboardState.apply` folds it
in and says what changed, so the App redraws only those widgets.

No textual, no socket, no clock: the App passes "now" where a time matters. The dashboard
never sums money itself: totals, budgets and series are the daemon's (the only exact
source); events only feed the live list.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor.api import AlertMsg, EventMsg, Message, Resync, Snapshot, TotalsMsg
from monitor.events import UsageEvent, event_from_payload, utc

LIVE_CAP: Final = 500
"""Calls kept in memory for the live list (newest first); older ones fall off."""
ALERTS_CAP: Final = 200
DIMENSIONS: Final = ("model", "provider", "source", "operation")
PERIODS: Final = ("today", "week", "month")
_EXTRAS: Final = ("series", "breakdown", "recent", "alerts")

Level = Literal["ok", "warn", "over"]


@dataclass(slots=True)
class FeedBatch:
    """Messages received since the last refresh, already reduced to what still matters.

    A snapshot makes everything before it moot; only the latest totals count; of a burst
    of events only the newest `LIVE_CAP` can still be on screen.
    """

    snapshot: dict[str, Any] | None = None
    events: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=LIVE_CAP))
    totals: dict[str, Any] | None = None
    alerts: list[dict[str, Any]] = field(default_factory=list)
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


def parse_event(payload: Mapping[str, Any]) -> UsageEvent | None:
    """An event payload → UsageEvent, or None for one the dashboard cannot show."""
    try:
        e = event_from_payload(dict(payload))
    except (KeyError, ValueError, TypeError, ArithmeticError):
        return None
    e.ts = utc(e.ts)
    return e


def budget_level(budget: Mapping[str, Any]) -> Level:
    """ok below the first warning threshold, warn from there, over from 100 %."""
    fraction = budget.get("fraction")
    if not isinstance(fraction, int | float):
        return "ok"
    if fraction >= 1.0:
        return "over"
    warn_at = [w for w in budget.get("warn_at") or (0.5, 0.8) if isinstance(w, int | float)]
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
        self.status: dict[str, Any] = {}
        """The latest status document (DESIGN §10 `status --json`)."""
        self.series: dict[str, Any] = {}
        self.breakdown: dict[str, Any] = {}
        self.live: list[UsageEvent] = []
        """Newest first, by the call's own time (a late backfilled call sorts into place)."""
        self.alerts: list[dict[str, Any]] = []
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

    def _load(self, snapshot: Mapping[str, Any]) -> None:
        self.loaded = True
        self._take_document(snapshot)
        self.live = []
        self.add_events(snapshot.get("recent") or ())
        known = snapshot.get("alerts")
        if isinstance(known, list):
            self.alerts = []
            self.add_alerts(reversed(known))

    def _take_document(self, doc: Mapping[str, Any]) -> None:
        """Status, and the series and breakdown when the document carries them.

        Totals messages may come without series or breakdown; then the last known ones
        stay on screen until the next document that has them.
        """
        self.status = {k: v for k, v in doc.items() if k not in _EXTRAS and k != "type"}
        if isinstance(doc.get("series"), dict):
            self.series = doc["series"]
        if isinstance(doc.get("breakdown"), dict):
            self.breakdown = doc["breakdown"]
        name = self.status.get("timezone")
        if name != self._tz_name:
            self._tz_name = name
            self.tz = resolve_zone(name)

    def add_events(self, payloads: Iterable[Mapping[str, Any]]) -> set[str]:
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

    def add_alerts(self, alerts: Iterable[Mapping[str, Any]]) -> None:
        """Newest first; an alert already listed (same kind, title, time) is not repeated."""
        seen = {_alert_id(a) for a in self.alerts}
        for a in alerts:
            if _alert_id(a) not in seen:
                seen.add(_alert_id(a))
                self.alerts.insert(0, dict(a))
        del self.alerts[ALERTS_CAP:]

    def visible(self, needle: str = "") -> list[UsageEvent]:
        """The live list, filtered by a case-insensitive substring."""
        if not needle:
            return self.live
        folded = needle.casefold()
        return [e for e in self.live if folded in event_text(e)]

    def period(self, label: str) -> Mapping[str, Any]:
        entry = self.status.get(label)
        return entry if isinstance(entry, dict) else {}

    def budgets(self) -> list[Mapping[str, Any]]:
        return [b for b in self.status.get("budgets") or () if isinstance(b, dict)]

    def unpriced(self) -> list[Mapping[str, Any]]:
        return [u for u in self.status.get("unpriced") or () if isinstance(u, dict)]

    def breakdown_rows(self, period: str, dimension: str) -> Sequence[Mapping[str, Any]]:
        rows = (self.breakdown.get(period) or {}).get(dimension) or ()
        return [r for r in rows if isinstance(r, dict)]

    def series_values(self, name: str) -> list[str]:
        values = self.series.get(name)
        return [str(v) for v in values] if isinstance(values, list) else []


def _alert_id(a: Mapping[str, Any]) -> tuple[str, str, str]:
    return (str(a.get("kind", "")), str(a.get("title", "")), str(a.get("created", "")))
