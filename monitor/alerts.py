"""Alerts that never miss and never repeat: the alert store and the delivery loop.

`AlertStore` owns the ledger's `alerts` table. A decision is written there BEFORE any
delivery is tried, with INSERT OR IGNORE on its key (kind, rule, period, threshold), so
one budget threshold of one period instance exists once whatever happens: a re-run of
the rules, a restart, a crash between the decision and the delivery. Delivery status is
written as it happens: `sent_to` lists the targets (by the redacted label `Notifier`
gives them) that confirmed the alert, recorded right after each attempt; `delivered` is
set once every configured target has; `attempts` and `last_error` tell how tries went. A
restart delivers what is still undelivered, each alert only to the configured targets
not in its `sent_to`, and never repeats what any target got.

`AlertService` is what the daemon owns: `evaluate()` runs the rules of
`monitor.budgets` against the live totals and records what is new (it touches SQLite
only when something new is decided — a few times a month — so it is cheap after every
ingest batch); `run()` is the delivery task: it sends due alerts through the notifier,
retries each failed target alone with exponential back-off capped at
`retry_max_seconds`, waits for quiet hours to end, and wakes early when `evaluate`
records something. It runs beside ingestion, never in its way: a target that is down
costs a sleeping task, nothing more.

SQLite access: give the store its own connection (`AlertStore.open(ledger_path)`), used
only from the event loop's thread. WAL lets it read while the ingest thread writes;
its few short writes wait for the ingest commit in flight (busy_timeout), never inside
another thread's transaction, which sharing the ingest connection would risk.

The ledger is the only record of which targets still owe an alert, so a reload that
replaces a target owes pending alerts to the new one only. One window is left: the
notifier sends to all owed targets at once and answers when the last one has, so a
crash after a target accepted the alert but before that answer was written repeats it
to that target after the restart — a repeat is the price of never missing one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol

from monitor.budgets import (
    AlertKey,
    Decision,
    HealthWatch,
    Severity,
    TotalsView,
    apply_quiet_hours,
    budget_decisions,
    spike_decisions,
)
from monitor.events import from_ts_ms, ts_ms, utc

if TYPE_CHECKING:
    from monitor.config import Config
    from monitor.ledger import Applied
    from monitor.notify import Outcome

log = logging.getLogger("llm_monitor.alerts")

RETRY_BASE: Final = 1.0
"""Seconds before the first retry; doubled per failure up to `retry_max_seconds`."""
NO_TARGETS: Final = "no notification targets configured"

_COLS: Final = (
    "id, kind, rule, period, threshold, created, severity, title, body, hold_until, "
    "delivered, attempts, last_error, sent_to"
)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class AlertRow:
    id: int
    kind: str
    rule: str
    period: str
    threshold: str
    created: datetime
    severity: str
    title: str
    body: str
    hold_until: datetime | None
    delivered: datetime | None
    attempts: int
    last_error: str | None
    sent_to: frozenset[str] = frozenset()
    """Labels of the targets that confirmed this alert."""

    @property
    def key(self) -> AlertKey:
        return (self.kind, self.rule, self.period, self.threshold)

    @classmethod
    def from_row(cls, r: Sequence[Any]) -> AlertRow:
        return cls(
            id=r[0],
            kind=r[1],
            rule=r[2],
            period=r[3],
            threshold=r[4],
            created=from_ts_ms(r[5]),
            severity=r[6],
            title=r[7],
            body=r[8],
            hold_until=from_ts_ms(r[9]) if r[9] is not None else None,
            delivered=from_ts_ms(r[10]) if r[10] else None,
            attempts=r[11],
            last_error=r[12],
            sent_to=_labels(r[13]),
        )

    def payload(self) -> dict[str, Any]:
        """The JSON shape of `{"type":"alert",…}` on the socket and in status."""
        return {
            "id": self.id,
            "kind": self.kind,
            "rule": self.rule,
            "period": self.period,
            "threshold": self.threshold,
            "severity": self.severity,
            "title": self.title,
            "body": self.body,
            "created": self.created.isoformat(),
            "hold_until": self.hold_until.isoformat() if self.hold_until else None,
            "delivered": self.delivered.isoformat() if self.delivered else None,
            "attempts": self.attempts,
            "last_error": self.last_error,
        }


class AlertStore:
    """The ledger's `alerts` table (created by the ledger's migration 2)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        """`db` must be in autocommit mode (`isolation_level=None`, as the ledger's is)."""
        self.db = db

    @classmethod
    def open(cls, ledger_path: Path) -> AlertStore:
        """A store with its own connection to an existing, migrated ledger."""
        db = sqlite3.connect(ledger_path, isolation_level=None)
        db.execute("PRAGMA busy_timeout = 10000")
        return cls(db)

    def close(self) -> None:
        self.db.close()

    def record(self, decisions: Iterable[Decision], now: datetime) -> list[AlertRow]:
        """Store decisions (one transaction); return only those not stored before."""
        created = ts_ms(now)
        new_ids: list[int] = []
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for d in decisions:
                cur = self.db.execute(
                    """INSERT OR IGNORE INTO alerts (kind, rule, period, threshold, created,
                           severity, title, body, hold_until)
                       VALUES (?,?,?,?,?,?,?,?,?)""",
                    (
                        d.kind,
                        d.rule,
                        d.period,
                        d.threshold,
                        created,
                        d.severity,
                        d.title,
                        d.body,
                        ts_ms(d.hold_until) if d.hold_until is not None else None,
                    ),
                )
                if cur.rowcount == 1 and cur.lastrowid is not None:
                    new_ids.append(cur.lastrowid)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return self._by_ids(new_ids)

    def _by_ids(self, ids: Sequence[int]) -> list[AlertRow]:
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        return [
            AlertRow.from_row(r)
            for r in self.db.execute(
                f"SELECT {_COLS} FROM alerts WHERE id IN ({marks}) ORDER BY id", list(ids)
            )
        ]

    def pending(self) -> list[AlertRow]:
        """Every alert not delivered yet, oldest first."""
        return [
            AlertRow.from_row(r)
            for r in self.db.execute(f"SELECT {_COLS} FROM alerts WHERE delivered = 0 ORDER BY id")
        ]

    def due(self, now: datetime) -> list[AlertRow]:
        """Undelivered alerts whose quiet-hours hold (if any) has passed."""
        at = ts_ms(now)
        return [r for r in self.pending() if r.hold_until is None or ts_ms(r.hold_until) <= at]

    def mark_delivered(self, alert_id: int, now: datetime, note: str | None = None) -> None:
        self.db.execute(
            "UPDATE alerts SET delivered = ?, attempts = attempts + 1, last_error = ? WHERE id = ?",
            (max(ts_ms(now), 1), note, alert_id),
        )

    def mark_sent_to(self, alert_id: int, labels: Collection[str]) -> None:
        """Record that the targets labelled `labels` confirmed the alert (kept sorted)."""
        if not labels:
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            row = self.db.execute("SELECT sent_to FROM alerts WHERE id = ?", (alert_id,)).fetchone()
            if row is not None:
                merged = sorted(_labels(row[0]) | set(labels))
                self.db.execute(
                    "UPDATE alerts SET sent_to = ? WHERE id = ?",
                    (json.dumps(merged, separators=(",", ":")), alert_id),
                )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def mark_failed(self, alert_id: int, error: str) -> None:
        """Count a failed attempt; `error` must already be redacted."""
        self.db.execute(
            "UPDATE alerts SET attempts = attempts + 1, last_error = ? WHERE id = ?",
            (error[:1000], alert_id),
        )

    def for_budget(self, name: str, period: str) -> list[dict[str, Any]]:
        """A budget's alerts in one period instance, shaped for `status` (DESIGN §10)."""
        from monitor.status import ledger_alerts

        return ledger_alerts(self.db, name, period)

    def recent(self, limit: int = 20) -> list[AlertRow]:
        return [
            AlertRow.from_row(r)
            for r in self.db.execute(
                f"SELECT {_COLS} FROM alerts ORDER BY id DESC LIMIT ?", (limit,)
            )
        ]

    def keys(self) -> set[AlertKey]:
        return {
            (k, r, p, t)
            for k, r, p, t in self.db.execute("SELECT kind, rule, period, threshold FROM alerts")
        }


class Deliverer(Protocol):
    """What the delivery loop needs (`monitor.notify.Notifier`)."""

    @property
    def labels(self) -> tuple[str, ...]: ...

    async def deliver(
        self, title: str, body: str, severity: Severity, only: Collection[str] | None = None
    ) -> dict[str, Outcome]: ...


class AlertService:
    """Decide (`evaluate`) and deliver (`run`) alerts; the daemon owns one.

    Everything here runs on the event loop's thread.
    """

    def __init__(
        self,
        config: Config,
        store: AlertStore,
        notifier: Deliverer,
        totals_provider: Callable[[], TotalsView],
        clock: Callable[[], datetime] = _utcnow,
        *,
        sources_provider: Callable[[], Mapping[str, Mapping[str, Any]]] | None = None,
        retry_base: float = RETRY_BASE,
    ) -> None:
        self.config = config
        self.store = store
        self.notifier = notifier
        self.totals_provider = totals_provider
        self.clock = clock
        self.sources_provider = sources_provider
        self.retry_base = retry_base
        self.started = clock()
        self.health = HealthWatch()
        self._known: set[AlertKey] = store.keys()
        self._wake = asyncio.Event()
        self._failures: dict[int, int] = {}
        self._next_try: dict[int, datetime] = {}

    def reconfigure(self, config: Config, notifier: Deliverer | None = None) -> None:
        """Take a reloaded config (budgets set/rm, new targets) without losing state."""
        self.config = config
        if notifier is not None:
            self.notifier = notifier
            self._wake.set()

    # ------------------------------------------------------------ deciding

    def evaluate(
        self, now: datetime | None = None, applied: Iterable[Applied] = ()
    ) -> list[AlertRow]:
        """Run every rule at `now`; record and return the alerts that are new.

        Call it after each applied ingest batch (with the batch, for per-call spikes)
        and on a regular tick (quiet sources, period rollover).
        """
        now = utc(now or self.clock())
        config = self.config
        tz = config.tz
        totals = self.totals_provider()
        decisions: list[Decision] = []
        for b in config.budgets:
            try:
                decisions += budget_decisions([b], totals, now, tz, self._known)
            except ValueError as exc:
                log.error("budget %s: %s", b.name, exc)
        events = [a.event for a in applied]
        decisions += spike_decisions(config.alerts, totals, events, now, tz, self._known)
        if self.sources_provider is not None:
            decisions += self.health.check(
                now,
                tz,
                config.sources,
                self.sources_provider(),
                since=self.started,
                known=self._known,
            )
        if not decisions:
            return []
        decisions = apply_quiet_hours(decisions, config.alerts.quiet_hours, now, tz)
        rows = self.store.record(decisions, now)
        self._known.update(d.key for d in decisions)
        for row in rows:
            held = f", held until {row.hold_until:%H:%M} UTC" if row.hold_until else ""
            log.info("alert: %s%s", row.title, held)
        if rows:
            self._wake.set()
        return rows

    # ------------------------------------------------------------ delivering

    def wake(self) -> None:
        """Make the delivery loop look at the store now (after a reload, a clock jump)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver due alerts until `stop` is set; retries with capped back-off."""
        while not stop.is_set():
            self._wake.clear()
            next_at = await self.deliver_due()
            delay = None
            if next_at is not None:
                delay = max(0.0, (next_at - self.clock()).total_seconds())
            await self._sleep(stop, delay)

    async def deliver_due(self) -> datetime | None:
        """One delivery round; returns when the next round is needed (None = on wake)."""
        now = self.clock()
        next_at: datetime | None = None
        for row in self.store.pending():
            not_before = self._next_try.get(row.id)
            if row.hold_until is not None and (not_before is None or row.hold_until > not_before):
                not_before = row.hold_until
            if not_before is not None and not_before > now:
                next_at = not_before if next_at is None else min(next_at, not_before)
                continue
            retry_at = await self._deliver(row)
            if retry_at is not None:
                next_at = retry_at if next_at is None else min(next_at, retry_at)
        return next_at

    async def _deliver(self, row: AlertRow) -> datetime | None:
        """Send `row` to the targets that still owe it; the next try's time on failure."""
        labels = self.notifier.labels
        if not labels:
            self.store.mark_delivered(row.id, self.clock(), NO_TARGETS)
            return None
        owed = set(labels) - row.sent_to
        failed: dict[str, str] = {}
        if owed:
            results = await self.notifier.deliver(
                row.title, row.body, _severity(row.severity), owed
            )
            sent: set[str] = set()
            for label in owed:
                outcome = results.get(label)
                if outcome is not None and outcome.ok:
                    sent.add(label)
                else:
                    failed[label] = outcome.error if outcome is not None else "not attempted"
            self.store.mark_sent_to(row.id, sent)
        now = self.clock()
        if not failed:
            self.store.mark_delivered(row.id, now)
            if self._failures.pop(row.id, 0):
                log.info("alert %d delivered after retrying: %s", row.id, row.title)
            self._next_try.pop(row.id, None)
            return None
        error = "; ".join(f"{label}: {why}" for label, why in sorted(failed.items()))
        self.store.mark_failed(row.id, error)
        n = self._failures[row.id] = self._failures.get(row.id, 0) + 1
        delay = min(self.config.alerts.retry_max_seconds, self.retry_base * 2 ** (n - 1))
        if n == 1 or n % 10 == 0:
            log.warning(
                "alert %d not delivered (attempt %d), retrying in %.1f s: %s",
                row.id,
                n,
                delay,
                error,
            )
        retry_at = now + timedelta(seconds=delay)
        self._next_try[row.id] = retry_at
        return retry_at

    async def _sleep(self, stop: asyncio.Event, delay: float | None) -> None:
        waits = {asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())}
        try:
            await asyncio.wait(waits, timeout=delay, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await w

    # ------------------------------------------------------------ reading

    def recent_payloads(self, limit: int = 20) -> list[dict[str, Any]]:
        return [r.payload() for r in self.store.recent(limit)]


def _labels(text: str | None) -> frozenset[str]:
    """The `sent_to` column: a JSON list of labels, '' (or a damaged value) for none."""
    if not text:
        return frozenset()
    try:
        value = json.loads(text)
    except ValueError:
        return frozenset()
    if not isinstance(value, list):
        return frozenset()
    return frozenset(v for v in value if isinstance(v, str))


def _severity(text: str) -> Severity:
    if text == "failure":
        return "failure"
    if text == "info":
        return "info"
    return "warning"


__all__ = ["AlertRow", "AlertService", "AlertStore", "Deliverer", "NO_TARGETS", "RETRY_BASE"]
