"""Alerts that never miss and never repeat: decide with the registered rules, record,
then deliver.

`AlertService` is what the daemon owns; `run()` is its task. Deciding: `request()`
(called on the event loop after each applied ingest batch and on every tick; it never
blocks) wakes a round (`evaluate()`): every rule of `monitor.rules.RULES` looks at the
live totals, quiet hours are applied, and what is new is recorded. Delivering: due
alerts go through the notifier, each failed target is retried alone with exponential
back-off capped at `retry_max_seconds`, held alerts wait for quiet hours to end, and a
round that records something wakes the delivery at once. It runs beside ingestion,
never in its way: a target that is down costs a sleeping task, nothing more.

Order: a decision is in the ledger (`monitor.alert_store`) before any delivery is tried
and before it is announced to clients, so a crash between the two delivers it after
the restart instead of losing it.

Threads: the rules run on the event loop (the only thread that touches the totals);
every store write runs in this service's one writer thread, one job at a time, so a
write waiting up to the busy timeout for an ingest commit never freezes the socket.
Rounds are serialized by a lock: the next one sees what the previous one recorded.
Reads (`pending`, `recent`) use the store's reader connection: under WAL a writer
holding the lock does not block them.

The ledger is the only record of which targets still owe an alert, so a reload that
replaces a target owes pending alerts to the new one only. One window is left: the
notifier sends to all owed targets at once and answers when the last one has, so a
crash after a target accepted the alert but before that answer was written repeats it
to that target after the restart — a repeat is the price of never missing one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, ParamSpec, Protocol, TypeVar

from monitor.alert_store import AlertRow, AlertStore
from monitor.events import utc
from monitor.rules import RULES
from monitor.rules.base import (
    AlertKey,
    Decision,
    Rule,
    Severity,
    Situation,
    TotalsView,
    apply_quiet_hours,
)

if TYPE_CHECKING:
    from monitor.config import Config
    from monitor.ledger import Applied
    from monitor.limits import LimitSnapshot
    from monitor.notify import Outcome
    from monitor.wire import AlertPayload

log = logging.getLogger("llm_monitor.alerts")

RETRY_BASE: Final = 1.0
"""Seconds before the first retry; doubled per failure up to `retry_max_seconds`."""
NO_TARGETS: Final = "no notification targets configured"

_P = ParamSpec("_P")
_T = TypeVar("_T")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Deliverer(Protocol):
    """What the delivery loop needs (`monitor.notify.Notifier`)."""

    @property
    def labels(self) -> tuple[str, ...]: ...

    async def deliver(
        self, title: str, body: str, severity: Severity, only: Collection[str] | None = None
    ) -> dict[str, Outcome]: ...


class AlertService:
    """Decide (`request`, `evaluate`) and deliver (`run`) alerts; the daemon owns one."""

    def __init__(
        self,
        config: Config,
        store: AlertStore,
        notifier: Deliverer,
        totals_provider: Callable[[], TotalsView],
        clock: Callable[[], datetime] = _utcnow,
        *,
        sources_provider: Callable[[], Mapping[str, Mapping[str, Any]]] | None = None,
        limits_provider: Callable[[], Sequence[LimitSnapshot]] | None = None,
        on_alert: Callable[[AlertRow], None] | None = None,
        retry_base: float = RETRY_BASE,
        rules: Sequence[Callable[[], Rule]] = RULES,
    ) -> None:
        """`on_alert` is told of each new alert once it is recorded (the daemon
        broadcasts it); `rules` are the rule factories (the registry by default)."""
        self.config = config
        self.store = store
        self.notifier = notifier
        self.totals_provider = totals_provider
        self.clock = clock
        self.sources_provider = sources_provider
        self.limits_provider = limits_provider
        self.on_alert = on_alert
        self.retry_base = retry_base
        self.rules = [make() for make in rules]
        self.started = clock()
        self._known: set[AlertKey] = store.keys()
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="alert-store")
        self._deciding = asyncio.Lock()
        self._delivering = asyncio.Lock()
        self._asked = asyncio.Event()
        self._applied: list[Applied] = []
        self._wake = asyncio.Event()
        self._failures: dict[int, int] = {}
        self._next_try: dict[int, datetime] = {}

    def reconfigure(self, config: Config, notifier: Deliverer | None = None) -> None:
        """Take a reloaded config (budgets set/rm, new targets) without losing state."""
        self.config = config
        if notifier is not None:
            self.notifier = notifier
            self._wake.set()

    async def aclose(self) -> None:
        """Wait for the store write in flight (if any); the store may be closed after."""
        await asyncio.to_thread(self._writer.shutdown)

    async def _write(self, fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
        """Run a store write in the writer thread, after the writes asked for before it."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer, lambda: fn(*args, **kwargs))

    # ------------------------------------------------------------ deciding

    def request(self, applied: Iterable[Applied] = ()) -> None:
        """Ask for a round of decisions soon; never blocks (call it on the loop thread).

        Call it after each applied ingest batch (with the batch, for per-call spikes)
        and on a regular tick (quiet sources, period rollover). Requests made while a
        round runs are merged into the next one.
        """
        self._applied.extend(applied)
        self._asked.set()

    async def evaluate(
        self, now: datetime | None = None, applied: Iterable[Applied] = ()
    ) -> list[AlertRow]:
        """Run every rule at `now`; record and return the alerts that are new."""
        async with self._deciding:
            now = utc(now or self.clock())
            config = self.config
            situation = Situation(
                now=now,
                config=config,
                totals=self.totals_provider(),
                known=self._known,
                events=[a.event for a in applied],
                sources=self.sources_provider() if self.sources_provider is not None else None,
                since=self.started,
                limits=self.limits_provider() if self.limits_provider is not None else (),
            )
            decisions: list[Decision] = []
            for rule in self.rules:
                try:
                    decisions += rule.decide(situation)
                except Exception:
                    log.exception("alert rule %s failed; the others go on", type(rule).__name__)
            if not decisions:
                return []
            decisions = apply_quiet_hours(decisions, config.alerts.quiet_hours, now, config.tz)
            rows = await self._write(self.store.record, decisions, now)
            self._known.update(d.key for d in decisions)
        for row in rows:
            held = f", held until {row.hold_until:%H:%M} UTC" if row.hold_until else ""
            log.info("alert: %s%s", row.title, held)
        if rows:
            self._wake.set()
        return rows

    async def _decide(self) -> None:
        """The deciding task: one round per batch of requests."""
        while True:
            await self._asked.wait()
            self._asked.clear()
            applied, self._applied = self._applied, []
            try:
                rows = await self.evaluate(applied=applied)
            except Exception:
                # E.g. the ledger stayed locked past the busy timeout: nothing was
                # recorded. The events go back for the next round (per-call spikes).
                log.exception("alert evaluation failed; ingestion goes on")
                self._applied[:0] = applied
                continue
            if self.on_alert is not None:
                for row in rows:
                    self.on_alert(row)

    # ------------------------------------------------------------ delivering

    async def run(self, stop: asyncio.Event) -> None:
        """Decide on request and deliver due alerts until `stop` is set."""
        async with asyncio.TaskGroup() as tg:
            deciding = tg.create_task(self._decide())
            try:
                await self._deliver_until(stop)
            finally:
                deciding.cancel()

    async def _deliver_until(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._wake.clear()
            try:
                next_at = await self.deliver_due()
            except sqlite3.Error:
                # The ledger stayed locked past the busy timeout. A delivery whose
                # outcome was not written goes out again later: a repeat, never a miss.
                log.exception("alert delivery round failed; trying again shortly")
                next_at = self.clock() + timedelta(seconds=self.config.alerts.retry_max_seconds)
            delay = None
            if next_at is not None:
                delay = max(0.0, (next_at - self.clock()).total_seconds())
            await self._sleep(stop, delay)

    async def deliver_due(self) -> datetime | None:
        """One delivery round; returns when the next round is needed (None = on wake).

        Rounds never overlap: one asked for while another runs waits for it, then sees
        what it delivered.
        """
        async with self._delivering:
            now = self.clock()
            next_at: datetime | None = None
            for row in self.store.pending():
                not_before = self._next_try.get(row.id)
                if row.hold_until is not None and (
                    not_before is None or row.hold_until > not_before
                ):
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
            await self._write(self.store.mark_delivered, row.id, self.clock(), NO_TARGETS)
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
            await self._write(self.store.mark_sent_to, row.id, sent)
        now = self.clock()
        if not failed:
            await self._write(self.store.mark_delivered, row.id, now)
            if self._failures.pop(row.id, 0):
                log.info("alert %d delivered after retrying: %s", row.id, row.title)
            self._next_try.pop(row.id, None)
            return None
        error = "; ".join(f"{label}: {why}" for label, why in sorted(failed.items()))
        await self._write(self.store.mark_failed, row.id, error)
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

    def recent_payloads(self, limit: int = 20) -> list[AlertPayload]:
        return [r.payload() for r in self.store.recent(limit)]


def _severity(text: str) -> Severity:
    if text == "failure":
        return "failure"
    if text == "info":
        return "info"
    return "warning"


__all__ = [
    "NO_TARGETS",
    "RETRY_BASE",
    "AlertRow",
    "AlertService",
    "AlertStore",
    "Deliverer",
]
