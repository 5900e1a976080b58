"""The always-on service: the one place that wires the modules together with asyncio.

Life cycle, like uvicorn's server: `startup()` (open the ledger, rebuild totals, bind
the socket — it answers "backfilling" at once —, tell systemd READY=1), `main_loop()`
(backfill, then watch → ingest → totals → broadcast, plus ticks, watchdog and config
reloads, all tasks owned by one TaskGroup), `shutdown()` (stop watching, finish the
commit in flight, close clients, remove the socket, STOPPING=1). Signal handlers only
set flags; a second SIGTERM/SIGINT forces the exit.

Ingestion runs in a worker thread (`asyncio.to_thread`), one batch at a time: parsing a
big backfill holds the GIL in slices, so the socket keeps answering meanwhile. Results
come back to the loop thread — the only thread that touches totals and clients.

READY=1 is sent once the socket answers, before the backfill ends (unlike DESIGN §1's
order): a first backfill of a large tree can outlast systemd's start timeout, and
clients are served meanwhile; STATUS= tells the backfill's progress.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections import deque
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from monitor import sdnotify
from monitor.alerts import AlertService, AlertStore
from monitor.api import (
    AlertMsg,
    AlreadyRunning,
    ApiServer,
    EventMsg,
    Snapshot,
    TotalsMsg,
    daemon_answers,
)
from monitor.config import Config, ConfigError, find_config, load_config, user_config_path
from monitor.events import UsageEvent, event_payload
from monitor.ingest import Ingestor, IngestReport
from monitor.ledger import Applied, Ledger
from monitor.metrics import Metrics, maybe_start
from monitor.notify import Notifier
from monitor.pricing import Pricer
from monitor.status import (
    budget_entries,
    build_status,
    sources_entries,
    totals_from_ledger,
)
from monitor.totals import Period, Totals, TotalsSummary, local_day, local_midnight
from monitor.watch import Watcher
from monitor.writer_lock import LedgerBusy, WriterLock

log = logging.getLogger("llm_monitor.daemon")

RECENT: Final = 200
"""Recent events kept in memory for snapshots (newest first)."""
TOTALS_EVERY: Final = 30.0
"""Seconds between unsolicited totals messages (rollover and burn rates move with time)."""
CONFIG_POLL: Final = 2.0
LIVE_EVENTS_MAX: Final = 500
"""Per ingest round, at most this many `event` messages; beyond, clients get totals only."""
REBUILD_DAYS: Final = 41
WATCH_READY_TIMEOUT: Final = 10.0
RETRY_AFTER: Final = 1.0
BACKFILL_RETRY: Final = 10.0
TRIM_AFTER_EVENTS: Final = 20_000
"""Live events after which an idle moment returns the heap's unused memory to the system."""
LOCK_WAIT: Final = 10.0
"""Seconds a starting daemon waits for the ledger lock held by a process that is exiting."""
_PERIOD_LABELS: Final[tuple[tuple[str, Period], ...]] = (
    ("today", "day"),
    ("week", "week"),
    ("month", "month"),
)


@dataclass(frozen=True, slots=True)
class _LedgerState:
    totals: Totals
    recent: list[UsageEvent]
    unpriced: dict[tuple[str, str], int]
    source_stats: dict[str, dict[str, Any]]


def _release_memory() -> None:
    """Give the heap a big backfill used back to the system (glibc keeps it otherwise)."""
    import ctypes
    import ctypes.util
    import gc

    gc.collect()
    name = ctypes.util.find_library("c")
    if name:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(name).malloc_trim(0)


def _tracked_tags(config: Config) -> list[str]:
    return sorted({k[4:] for b in config.budgets for k in b.scope if k.startswith("tag.")})


class Daemon:
    def __init__(self, config_path: str | Path | None = None) -> None:
        self.config_path = config_path
        self.config: Config = load_config(config_path)
        self.should_exit = asyncio.Event()
        self.force_exit = False
        self.reload_requested = asyncio.Event()
        self.state = "starting"
        self.started_at = datetime.now(UTC)
        self.ledger: Ledger | None = None
        self.ingestor: Ingestor | None = None
        self.totals = Totals(self.config.tz, tracked_tags=_tracked_tags(self.config))
        self.recent: deque[UsageEvent] = deque(maxlen=RECENT)
        self.unpriced: dict[tuple[str, str], int] = {}
        self.source_stats: dict[str, dict[str, Any]] = {}
        self.server: ApiServer | None = None
        self.alert_store: AlertStore | None = None
        self.alerts: AlertService | None = None
        self.watcher: Watcher | None = None
        self._pending: set[str] = set()
        self._wake = asyncio.Event()
        self._busy: asyncio.Future[Any] | None = None
        self._child: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()
        self._config_stamp = self._stamp()
        self.pricer = Pricer(self.config.prices)
        self.metrics: Metrics | None = None
        self.writer_lock: WriterLock | None = None
        self._since_trim = 0

    # -- life cycle ---------------------------------------------------------------------

    async def run(self) -> int:
        self._install_signals()
        try:
            await self.startup()
            await self.main_loop()
        finally:
            await self.shutdown()
            self._restore_signals()
        return 0

    async def startup(self) -> None:
        config = self.config
        config.state_dir.mkdir(parents=True, exist_ok=True)
        config.spool_dir.mkdir(parents=True, exist_ok=True)
        self.writer_lock = await asyncio.to_thread(_take_writer_lock, config)
        self.ledger = Ledger(config.ledger_path, config.tz, config.timezone_name, threaded=True)
        # Its own connection: alert writes happen on the loop thread while an ingest
        # transaction may be open in the worker thread (WAL lets both proceed).
        self.alert_store = AlertStore.open(config.ledger_path)
        self.alerts = AlertService(
            config,
            self.alert_store,
            Notifier.from_config(config.alerts),
            lambda: self.totals,
            sources_provider=lambda: self.source_stats,
        )
        self.server = ApiServer(config.socket_path, self.snapshot, self.hello_info)
        await self.server.start()
        self.state = "backfilling"
        sdnotify.notify("READY=1\nSTATUS=backfilling")
        log.info("listening on %s; ledger %s", config.socket_path, config.ledger_path)
        self._adopt_state(await self._in_worker(self._read_ledger_state, True))
        # Seeded after the start-up reprice, so a price change moves the counters once.
        self.metrics = await self._in_worker(
            lambda: maybe_start(config, self.ledger, state=lambda: self.state)
        )

    async def main_loop(self) -> None:
        config = self.config
        self.watcher = Watcher(
            [g for s in config.sources if s.enabled for g in s.globs()],
            exclude=[config.state_dir],
        )
        async with asyncio.TaskGroup() as tg:
            tasks = [
                tg.create_task(self._watch()),
                tg.create_task(self._backfill_then_ingest()),
                tg.create_task(self._tick()),
                tg.create_task(self._watch_config()),
            ]
            if self.alerts is not None:
                tasks.append(tg.create_task(self.alerts.run(self.should_exit)))
            interval = sdnotify.watchdog_interval()
            if interval:
                tasks.append(tg.create_task(self._watchdog(interval)))
            await self.should_exit.wait()
            self.state = "stopping"
            sdnotify.notify("STOPPING=1")
            if self.ingestor is not None:
                self.ingestor.stop.set()
            if self.watcher is not None:
                self.watcher.stop()
            for t in tasks:
                t.cancel()

    async def shutdown(self) -> None:
        if self._busy is not None:
            # A commit in flight finishes: its events and cursor land together.
            with contextlib.suppress(Exception):
                await asyncio.shield(self._busy)
        if self.server is not None:
            await self.server.stop()
        if self.metrics is not None:
            self.metrics.stop()
            self.metrics = None
        if self.alert_store is not None:
            self.alert_store.close()
            self.alert_store = None
        if self.ledger is not None:
            self.ledger.close()
            self.ledger = None
        if self.writer_lock is not None:
            self.writer_lock.release()
            self.writer_lock = None
        log.info("stopped")

    # -- signals ---------------------------------------------------------------------------

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._on_exit_signal, sig)
        loop.add_signal_handler(signal.SIGHUP, self._on_reload_signal)

    def _restore_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(sig)

    def _on_reload_signal(self) -> None:
        log.info("SIGHUP received: reloading the config")
        self.reload_requested.set()
        self._wake.set()

    def _on_exit_signal(self, sig: signal.Signals) -> None:
        if self.should_exit.is_set():
            self.force_exit = True
            log.warning("second %s: exiting now", sig.name)
            os._exit(1)
        log.info("%s received: shutting down", sig.name)
        self.should_exit.set()

    # -- work in the worker thread ---------------------------------------------------------

    async def _in_worker(self, fn: Any, *args: Any) -> Any:
        """Run ledger work in the worker thread, one job at a time."""
        async with self._lock:
            self._busy = asyncio.ensure_future(asyncio.to_thread(fn, *args))
            try:
                return await asyncio.shield(self._busy)
            finally:
                if self._busy.done():
                    self._busy = None

    def _read_ledger_state(self, reprice: bool = False) -> _LedgerState:
        """In-memory state rebuilt from the ledger (worker thread).

        Built aside and swapped in by the loop thread (`_adopt_state`): a snapshot asked
        for meanwhile sees the old state whole, never a half-built one.
        """
        assert self.ledger is not None
        if reprice:
            from monitor.reprice import reprice_ledger

            changed, _ = reprice_ledger(self.ledger, self.pricer, self.config.sources, force=False)
            if changed:
                log.info("repriced %d stored events after a price change", changed)
        now = datetime.now(UTC)
        tracked = _tracked_tags(self.config)
        if tracked:
            # Budgets scoped by tag need per-tag sums the day rollup does not split by.
            totals = Totals(self.config.tz, tracked_tags=tracked)
            totals.prune(now)
            for e in self.ledger.iter_events(since=now - timedelta(days=REBUILD_DAYS)):
                totals.add(e)
            first = self.ledger.db.execute("SELECT MIN(day) FROM daily").fetchone()
            if first and first[0]:
                totals.seed_first_day(date.fromisoformat(first[0]))
        else:
            totals = totals_from_ledger(self.ledger, now)
        return _LedgerState(
            totals=totals,
            recent=self.ledger.recent_events(RECENT),
            unpriced={(p, m): n for p, m, n in self.ledger.unpriced()},
            source_stats=self.ledger.source_stats(),
        )

    def _adopt_state(self, state: _LedgerState) -> None:
        self.totals = state.totals
        self.recent = deque(state.recent, maxlen=RECENT)
        self.unpriced = state.unpriced
        self.source_stats = state.source_stats

    async def _backfill_in_child(self) -> bool:
        """`llm-monitor scan --for-daemon` with this daemon's config; True if it succeeded."""
        assert self.writer_lock is not None and self.writer_lock.fd is not None
        argv = [sys.executable, "-m", "monitor.cli", "scan", "--for-daemon"]
        if self.config_path is not None:
            argv += ["--config", str(self.config_path)]
        try:
            # The child holds this daemon's writer lock (the inherited descriptor) and
            # dies with it: see writer_lock.py.
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                pass_fds=(self.writer_lock.fd,),
                env={**os.environ, **self.writer_lock.child_env()},
            )
        except OSError:
            log.exception("cannot start the backfill process")
            return False
        self._child = proc
        try:
            code = await proc.wait()
        finally:
            if proc.returncode is None:  # the daemon is stopping: so does the backfill
                proc.terminate()
                with contextlib.suppress(Exception):
                    await asyncio.shield(proc.wait())
            self._child = None
        return code == 0

    def _make_ingestor(self) -> Ingestor:
        assert self.ledger is not None
        loop = asyncio.get_running_loop()

        def on_commit(applied: list[Applied]) -> None:
            loop.call_soon_threadsafe(self._apply, applied)

        return Ingestor(self.config.sources, self.ledger, self.pricer, on_commit=on_commit)

    # -- tasks -------------------------------------------------------------------------------

    async def _backfill_then_ingest(self) -> None:
        assert self.ledger is not None
        if self.watcher is not None:
            # Watches first, then the backfill: a line appended in between is seen by one.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.watcher.ready.wait(), WATCH_READY_TIMEOUT)
        # The backfill runs as a child `scan`: a cold backfill of a big tree needs a few
        # hundred MB of heap that a long-lived process would keep. Its commits are the same
        # exactly-once commits; the state here is rebuilt from the ledger's rollups after.
        ok = await self._backfill_in_child()
        events = "?"
        if not ok and not self.should_exit.is_set():
            log.warning("backfill in a child process failed; backfilling in-process")
            self.ingestor = Ingestor(self.config.sources, self.ledger, self.pricer)
            while True:
                try:
                    report: IngestReport = await self._in_worker(self.ingestor.scan)
                    events = str(report.events)
                    break
                except Exception:
                    # E.g. a full disk: what was committed stays, the rest is read again.
                    log.exception("backfill failed; retrying in %.0f s", BACKFILL_RETRY)
                    sdnotify.notify("STATUS=backfill failed; retrying")
                    await asyncio.sleep(BACKFILL_RETRY)
                    self.ingestor = Ingestor(self.config.sources, self.ledger, self.pricer)
        if self.should_exit.is_set():
            return
        self.ingestor = self._make_ingestor()
        self._adopt_state(await self._in_worker(self._read_ledger_state))
        if self.metrics is not None:
            await self._in_worker(self.metrics.seed_from_ledger, self.ledger)
        await self._in_worker(self.ledger.shrink_cache)
        _release_memory()
        self.state = "ready"
        sdnotify.notify("STATUS=ready")
        log.info("backfill done (%s new events); following live", events)
        self._publish_snapshot()
        self._evaluate_alerts()
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self.reload_requested.is_set():
                try:
                    await self._reload()
                except Exception:
                    log.exception("config reload failed; the daemon goes on")
                continue
            paths, self._pending = self._pending, set()
            if paths:
                try:
                    report = await self._in_worker(self.ingestor.ingest_paths, sorted(paths))
                except Exception:
                    # A failed commit stored nothing; cursors are reloaded from the ledger
                    # and the paths tried again. The daemon never exits because of input.
                    log.exception("ingest round failed; retrying these files shortly")
                    self._pending |= paths
                    self.ingestor = self._make_ingestor()
                    await asyncio.sleep(RETRY_AFTER)
                    self._wake.set()
                    continue
                self._after_ingest(report)
                self._since_trim += report.events
                if not self._pending and self._since_trim >= TRIM_AFTER_EVENTS:
                    # Big rounds leave the heap at their peak; give it back once the
                    # burst is over, so memory stays flat under sustained load.
                    self._since_trim = 0
                    await asyncio.to_thread(_release_memory)

    async def _watch(self) -> None:
        assert self.watcher is not None
        async for paths in self.watcher.changes():
            self._pending.update(paths)
            self._wake.set()

    async def _tick(self) -> None:
        """Publish totals regularly and right after local midnight (rollover without events)."""
        while True:
            now = datetime.now(UTC)
            midnight = local_midnight(
                local_day(now, self.config.tz) + timedelta(days=1), self.config.tz
            )
            delay = min(TOTALS_EVERY, max(0.05, (midnight - now).total_seconds() + 0.05))
            await asyncio.sleep(delay)
            self._publish_totals()
            if self.state == "ready":
                self._evaluate_alerts()

    async def _watchdog(self, interval: float) -> None:
        while True:
            sdnotify.notify("WATCHDOG=1")
            await asyncio.sleep(interval)

    async def _watch_config(self) -> None:
        while True:
            await asyncio.sleep(CONFIG_POLL)
            stamp = self._stamp()
            if stamp != self._config_stamp:
                self._config_stamp = stamp
                log.info("config file changed: reloading")
                self.reload_requested.set()
            if self.reload_requested.is_set():
                self._wake.set()

    def _stamp(self) -> tuple[Any, ...]:
        """What a reload watches: the config file (or where one would be created) and the
        budgets.toml that `budget set/rm` write — also beside an embedded default."""
        path = find_config(self.config_path) or user_config_path()
        stamps: list[Any] = []
        if path is not None:
            for p in (path, self.config.budgets_path or path.parent / "budgets.toml"):
                try:
                    st = p.stat()
                    stamps.append((str(p), st.st_mtime_ns, st.st_size, st.st_ino))
                except OSError:
                    stamps.append((str(p), None))
        return tuple(stamps)

    async def _reload(self) -> None:
        self.reload_requested.clear()
        try:
            config = load_config(self.config_path)
        except ConfigError as exc:
            log.error("config reload failed, keeping the running config: %s", exc)
            return
        old = self.config
        self.config = config
        self.pricer = Pricer(config.prices)
        if config.timezone_name != old.timezone_name:
            # Local days are stored with each event: reopening re-derives them.
            await self._in_worker(self._reopen_ledger)
        prices_changed = config.prices != old.prices or {
            s.name: s.cost for s in config.sources
        } != {s.name: s.cost for s in old.sources}
        if (
            prices_changed
            or _tracked_tags(config) != _tracked_tags(old)
            or config.timezone_name != old.timezone_name
        ):
            self._adopt_state(await self._in_worker(self._read_ledger_state, prices_changed))
        sources_changed = config.sources != old.sources
        if sources_changed or prices_changed:
            self.ingestor = self._make_ingestor()
        if self.alerts is not None:
            changed = config.alerts != old.alerts
            self.alerts.reconfigure(
                config, Notifier.from_config(config.alerts) if changed else None
            )
        if self.watcher is not None:
            self.watcher.update([g for s in config.sources if s.enabled for g in s.globs()])
        log.info(
            "config reloaded: %d sources, %d budgets", len(config.sources), len(config.budgets)
        )
        if sources_changed and self.ingestor is not None:
            report = await self._in_worker(self.ingestor.scan)
            self._after_ingest(report)
        self._publish_totals()
        self._evaluate_alerts()

    def _reopen_ledger(self) -> None:
        """Worker thread: the ledger again, under the new time zone."""
        if self.ledger is not None:
            self.ledger.close()
        config = self.config
        self.ledger = Ledger(config.ledger_path, config.tz, config.timezone_name, threaded=True)

    # -- results on the loop thread -----------------------------------------------

    def _apply(self, applied: list[Applied]) -> None:
        if self.metrics is not None:
            self.metrics.observe(applied)
        live = self.state == "ready" and len(applied) <= LIVE_EVENTS_MAX
        for a in applied:
            e = a.event
            self.totals.add(e, a.previous)
            if a.previous is not None and a.previous.cost is None:
                k = (a.previous.provider, a.previous.model)
                self.unpriced[k] = self.unpriced.get(k, 0) - a.previous.calls
            if e.cost is None:
                k = (e.provider, e.model)
                self.unpriced[k] = self.unpriced.get(k, 0) + e.calls
            st = self.source_stats.setdefault(
                e.source, {"events": 0, "errors": 0, "last_event": None}
            )
            if a.previous is None:
                st["events"] = st.get("events", 0) + 1
            if st.get("last_event") is None or e.ts > st["last_event"]:
                st["last_event"] = e.ts
            if self.state == "ready":
                self._remember_recent(e)
            if live and self.server is not None:
                self.server.publish(EventMsg(payload=event_payload(e)))
        if self.state == "ready":
            if live:
                self._publish_totals()
            else:
                self._publish_snapshot()
            self._evaluate_alerts(applied)

    def _evaluate_alerts(self, applied: list[Applied] | tuple[()] = ()) -> None:
        """Decide alerts (recorded before any delivery) and announce the new ones."""
        if self.alerts is None:
            return
        try:
            rows = self.alerts.evaluate(applied=applied)
        except Exception:
            log.exception("alert evaluation failed; ingestion goes on")
            return
        for row in rows:
            self.publish_alert(row.payload())

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

    def _after_ingest(self, report: IngestReport) -> None:
        if self.metrics is not None:
            self.metrics.observe_report(report)
        for name, c in report.sources.items():
            st = self.source_stats.setdefault(name, {"events": 0, "errors": 0, "last_event": None})
            st["errors"] = st.get("errors", 0) + c.errors
        if self.ingestor is not None:
            files: dict[str, int] = {}
            for source, _ in self.ingestor.cursors:
                files[source] = files.get(source, 0) + 1
            for name, n in files.items():
                self.source_stats.setdefault(name, {"events": 0, "errors": 0, "last_event": None})[
                    "files"
                ] = n

    def _publish_totals(self) -> None:
        """Totals for subscribers: the snapshot minus the recent events (series included)."""
        if self.metrics is None and (self.server is None or not self.server.client_count):
            return
        doc = self.snapshot(recent=False)
        if self.metrics is not None:
            self.metrics.set_budgets(doc["budgets"])
        if self.server is not None:
            self.server.publish(TotalsMsg(payload=doc))

    def _publish_snapshot(self) -> None:
        """A whole new picture: after the backfill, or a round too big to stream event by event."""
        if self.server is not None:
            self.server.publish(Snapshot(payload=self.snapshot()))

    def publish_alert(self, payload: dict[str, Any]) -> None:
        if self.server is not None:
            self.server.publish(AlertMsg(payload=payload))

    # -- what clients see ---------------------------------------------------------

    def hello_info(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "state": self.state,
            "started": self.started_at.isoformat(),
            "config": str(find_config(self.config_path) or "(embedded default)"),
            "ledger": str(self.config.ledger_path),
        }

    def status_document(
        self, now: datetime | None = None, summary: TotalsSummary | None = None
    ) -> dict[str, Any]:
        now = now or datetime.now(UTC)
        config = self.config
        budgets = (
            budget_entries(config.budgets, self.totals, now, config.tz, self.alert_store.db)
            if self.alert_store is not None
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
            state=self.state,
        )

    def snapshot(self, *, recent: bool = True) -> dict[str, Any]:
        now = datetime.now(UTC)
        summary = self.totals.summary(now, top=10)
        doc = self.status_document(now, summary)
        doc["series"] = {
            "hourly_usd": [str(v) for v in summary.hourly],
            "daily_usd": [str(v) for v in summary.daily],
        }
        doc["breakdown"] = {
            label: {
                dim: [
                    {
                        "key": value,
                        "cost_usd": str(u.cost),
                        "calls": u.calls,
                        "input_tokens": u.input_tokens,
                        "output_tokens": u.output_tokens,
                        "unpriced_calls": u.unpriced_calls,
                    }
                    for value, u in rows
                ]
                for dim, rows in summary.period(kind).by.items()
            }
            for label, kind in _PERIOD_LABELS
        }
        if recent:
            doc["recent"] = [event_payload(e) for e in self.recent]
        doc["alerts"] = self.alerts.recent_payloads() if self.alerts is not None else []
        return doc


def _take_writer_lock(config: Config) -> WriterLock:
    """The ledger's writer lock, or AlreadyRunning / LedgerBusy naming who holds it.

    A daemon that answers on our socket is refused at once. Otherwise the holder may be
    the backfill child of a daemon that was just killed, which the kernel is killing
    too: wait a little for it instead of refusing a restart.
    """
    lock = WriterLock(config.ledger_path)
    try:
        lock.acquire("daemon")
    except LedgerBusy as busy:
        if daemon_answers(config.socket_path):
            who = f" ({busy.holder})" if busy.holder else ""
            raise AlreadyRunning(
                f"another llm-monitor daemon is running on {config.socket_path}{who} "
                f"and writes {config.ledger_path}"
            ) from None
        lock.acquire("daemon", wait=LOCK_WAIT)
    return lock


def run_daemon(config_path: str | Path | None = None) -> int:
    """`llm-monitor daemon`: run in the foreground until SIGTERM/SIGINT."""
    daemon = Daemon(config_path)
    return asyncio.run(daemon.run())
