"""What the daemon knows in memory: the picture its clients are shown.

Totals (today / week / month, forecasts), the most recent calls, the unpriced models and
each source's counters: rebuilt from the ledger at start-up and after a reload (built
aside, then swapped in whole), moved by every commit's applied events, and rendered into
the status and snapshot documents of the socket. Owned by the loop thread; no I/O but
the ledger reads of `from_ledger` (run in the worker thread).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, cast

from monitor.events import UsageEvent, event_payload
from monitor.ledger.limits import latest as latest_limits
from monitor.ledger.reads import first_day
from monitor.limits import LimitSnapshot, window_states
from monitor.periods import DOC_KEYS, PERIODS
from monitor.status import budget_entries, build_status, sources_entries, totals_from_ledger
from monitor.status.from_ledger import estimated_limits
from monitor.totals import Totals, TotalsSummary, Usage
from monitor.wire import AlertPayload, BreakdownRow, SnapshotDoc

if TYPE_CHECKING:
    import sqlite3

    from monitor.config import Config
    from monitor.ingest import IngestReport
    from monitor.ledger import Applied, Ledger

RECENT: Final = 200
"""Recent events kept in memory for snapshots (newest first)."""
REBUILD_DAYS: Final = 41


def tracked_tags(config: Config) -> list[str]:
    """Tags that budgets are scoped by: the totals must split by them."""
    return sorted({k[4:] for b in config.budgets for k in b.scope if k.startswith("tag.")})


def _new_stats() -> dict[str, Any]:
    return {"events": 0, "errors": 0, "last_event": None}


@dataclass(slots=True)
class Picture:
    totals: Totals
    recent: deque[UsageEvent] = field(default_factory=lambda: deque(maxlen=RECENT))
    unpriced: dict[tuple[str, str], int] = field(default_factory=dict)
    source_stats: dict[str, dict[str, Any]] = field(default_factory=dict)
    limits: list[LimitSnapshot] = field(default_factory=list)
    """Each (tool, window)'s latest reported snapshot."""
    estimated: list[LimitSnapshot] = field(default_factory=list)
    """The estimated 5-hour windows, as `estimated_limits` last read them from the ledger."""

    @classmethod
    def empty(cls, config: Config) -> Picture:
        return cls(Totals(config.tz, tracked_tags=tracked_tags(config)))

    @classmethod
    def from_ledger(cls, ledger: Ledger, config: Config, now: datetime) -> Picture:
        """The picture the ledger holds (worker thread; swapped in by the loop thread)."""
        tracked = tracked_tags(config)
        if tracked:
            # Budgets scoped by tag need per-tag sums the day rollup does not split by.
            totals = Totals(config.tz, tracked_tags=tracked)
            totals.prune(now)
            for e in ledger.iter_events(since=now - timedelta(days=REBUILD_DAYS)):
                totals.add(e)
            first = first_day(ledger.db)
            if first is not None:
                totals.seed_first_day(first)
        else:
            totals = totals_from_ledger(ledger, now)
        reported = latest_limits(ledger.db)
        return cls(
            totals=totals,
            recent=deque(ledger.recent_events(RECENT), maxlen=RECENT),
            unpriced={(p, m): n for p, m, n in ledger.unpriced()},
            source_stats=ledger.source_stats(),
            limits=reported,
            estimated=estimated_limits(ledger.db, config, now, reported),
        )

    # -- moved by commits ------------------------------------------------------------

    def apply(self, applied: Iterable[Applied], *, keep_recent: bool) -> None:
        """Count what a commit stored (a larger streamed copy moves totals by the growth)."""
        for a in applied:
            e = a.event
            self.totals.add(e, a.previous)
            if a.previous is not None and a.previous.cost is None:
                k = (a.previous.provider, a.previous.model)
                self.unpriced[k] = self.unpriced.get(k, 0) - a.previous.calls
            if e.cost is None:
                k = (e.provider, e.model)
                self.unpriced[k] = self.unpriced.get(k, 0) + e.calls
            st = self.source_stats.setdefault(e.source, _new_stats())
            if a.previous is None:
                st["events"] = st.get("events", 0) + 1
            if st.get("last_event") is None or e.ts > st["last_event"]:
                st["last_event"] = e.ts
            if keep_recent:
                self._remember_recent(e)

    def _remember_recent(self, e: UsageEvent) -> None:
        for i, old in enumerate(self.recent):
            if old.key == e.key:
                del self.recent[i]
                break
        if not self.recent or e.ts >= self.recent[0].ts:
            self.recent.appendleft(e)
        elif len(self.recent) < RECENT or e.ts > self.recent[-1].ts:
            items = sorted([*self.recent, e], key=lambda x: x.ts, reverse=True)
            self.recent = deque(items[:RECENT], maxlen=RECENT)

    def count_round(
        self, report: IngestReport, cursors: Iterable[tuple[str, str]], now: datetime
    ) -> None:
        """A round's bad records and plan-window snapshots, and the files each source
        follows now."""
        for name, c in report.sources.items():
            st = self.source_stats.setdefault(name, _new_stats())
            st["errors"] = st.get("errors", 0) + c.errors
        if report.limits:
            self.limits = [s.snapshot for s in window_states([*self.limits, *report.limits], now)]
        files: dict[str, int] = {}
        for source, _ in cursors:
            files[source] = files.get(source, 0) + 1
        for name, n in files.items():
            self.source_stats.setdefault(name, _new_stats())["files"] = n

    def all_limits(self) -> list[LimitSnapshot]:
        """The windows clients and alert rules see: reported, then estimated."""
        return [*self.limits, *self.estimated]

    # -- what clients see ------------------------------------------------------------

    def status_document(
        self,
        config: Config,
        state: str,
        alerts_db: sqlite3.Connection | None,
        now: datetime | None = None,
        summary: TotalsSummary | None = None,
        backfill: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        now = now or datetime.now(UTC)
        budgets = (
            budget_entries(config.budgets, self.totals, now, config.tz, alerts_db)
            if alerts_db is not None
            else []
        )
        unpriced = sorted(
            ((p, m, n) for (p, m), n in self.unpriced.items() if n > 0), key=lambda r: -r[2]
        )
        return build_status(
            summary=summary or self.totals.summary(now, top=5),
            timezone=config.timezone_name,
            daemon=True,
            budgets=budgets,
            unpriced=unpriced,
            sources=sources_entries(config, self.source_stats),
            state=state,
            limits=self.all_limits(),
            backfill=backfill,
        )

    def snapshot(
        self,
        config: Config,
        state: str,
        alerts_db: sqlite3.Connection | None,
        alerts: Sequence[AlertPayload],
        *,
        recent: bool = True,
        backfill: Mapping[str, Any] | None = None,
    ) -> SnapshotDoc:
        now = datetime.now(UTC)
        summary = self.totals.summary(now, top=10)
        doc = cast(
            SnapshotDoc,
            self.status_document(config, state, alerts_db, now, summary, backfill),
        )
        doc["series"] = {
            "hourly_usd": [str(v) for v in summary.hourly],
            "daily_usd": [str(v) for v in summary.daily],
        }
        doc["breakdown"] = {
            DOC_KEYS[kind]: {
                dim: [_breakdown_row(value, u) for value, u in rows]
                for dim, rows in summary.period(kind).by.items()
            }
            for kind in PERIODS
        }
        if recent:
            doc["recent"] = [event_payload(e) for e in self.recent]
        doc["alerts"] = list(alerts)
        return doc


def _breakdown_row(value: str | None, u: Usage) -> BreakdownRow:
    return {
        "key": value,
        "cost_usd": str(u.cost),
        "calls": u.calls,
        "input_tokens": u.input_tokens,
        "output_tokens": u.output_tokens,
        "unpriced_calls": u.unpriced_calls,
    }
