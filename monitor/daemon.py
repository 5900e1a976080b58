"""The always-on service: the one place that wires the modules together with asyncio.

Life cycle, like uvicorn's server: `startup()` (open the ledger, rebuild totals, bind
the socket — it answers "backfilling" at once —, tell systemd READY=1), `main_loop()`
(backfill, then watch → ingest → totals → broadcast, plus ticks, watchdog and config
reloads (config_reload.py), all tasks owned by one TaskGroup), `shutdown()` (stop
watching, finish the commit in flight, close clients, remove the socket, STOPPING=1).
Signal handlers only set flags; a second SIGTERM/SIGINT forces the exit.

The first backfill runs in a child process (`scan --for-daemon`, backfill.py): a cold
backfill of a big tree needs hundreds of MB of heap that a long-lived process would
keep. The command takes the writer lock and starts it before it even loads this module,
so the child reads today's files while the daemon starts (today's total is final on the
socket within a second or two); the watches are armed once those are in, and the files
written since the backfill started are read again from their cursors afterwards
(`_catch_up`). The child commits through the same exactly-once path, holds this daemon's
writer lock (inherited) and dies with it (writer_lock.py); the daemon rebuilds its
totals from the ledger's rollups when it reports today's, then this month's files in,
and once it is done. Live ingestion runs in a worker thread
(`asyncio.to_thread`), one batch at a time, so the socket keeps answering; results come
back to the loop thread — the only thread that touches totals and clients.

READY=1 is sent once the socket answers, before the backfill ends: a first backfill of
a large tree can outlast systemd's start timeout, and clients are served meanwhile;
STATUS= tells the backfill's progress.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final, cast

from monitor import sdnotify
from monitor.alert_store import AlertStore
from monitor.alerts import AlertService
from monitor.api import AlertMsg, ApiServer, EventMsg, Snapshot, TotalsMsg
from monitor.backfill import EarlyStart, backfill_in_child, backfill_in_process, start_early
from monitor.config import Config, find_config, load_config
from monitor.config_reload import ConfigReload
from monitor.events import event_payload
from monitor.heap import release_memory
from monitor.ingest import Ingestor, IngestReport
from monitor.ledger import Applied, Ledger
from monitor.metrics import Metrics, maybe_start
from monitor.notify import Notifier
from monitor.periods import local_day, local_midnight
from monitor.picture import Picture
from monitor.pricing import Pricer
from monitor.progress import Progress
from monitor.status.from_ledger import estimated_limits
from monitor.watch import Watcher
from monitor.wire import AlertPayload, DaemonInfo, SnapshotDoc, StatusDoc
from monitor.writer_lock import WriterLock

log = logging.getLogger("llm_monitor.daemon")

TOTALS_EVERY: Final = 30.0
"""Seconds between unsolicited totals messages (rollover and burn rates move with time)."""
ESTIMATE_EVERY: Final = 2.0
ALERTS_DRAIN: Final = 5.0
LIVE_EVENTS_MAX: Final = 500
"""Per ingest round, at most this many `event` messages; beyond, clients get totals only."""
WATCH_READY_TIMEOUT: Final = 10.0
WATCH_AFTER: Final = 5.0
"""Seconds the watches wait for today's files to be read before they are armed anyway."""
CATCH_UP_SLACK: Final = 2.0
"""Seconds before the backfill's start from which a file's mtime counts as "written since"
(file times are coarser than the clock: a few ms on Linux, 2 s on FAT)."""
RETRY_AFTER: Final = 1.0
TRIM_AFTER_EVENTS: Final = 20_000
"""Live events after which an idle moment returns the heap's unused memory to the system."""


class Daemon:
    def __init__(
        self,
        config_path: str | Path | None = None,
        *,
        config: Config | None = None,
        early: EarlyStart | None = None,
    ) -> None:
        """`early`: the writer lock and the backfill child, when the command started them
        before loading this module (`backfill.start_early`); else `startup` does."""
        self.config_path = config_path
        self.config: Config = config or load_config(config_path)
        self._early = early
        self.should_exit = asyncio.Event()
        self.reload_requested = asyncio.Event()
        self.state = "starting"
        self.started_at = datetime.now(UTC)
        self.ledger: Ledger | None = None
        self.ingestor: Ingestor | None = None
        self.picture = Picture.empty(self.config)
        self.server: ApiServer | None = None
        self.alert_store: AlertStore | None = None
        self.alerts: AlertService | None = None
        self.watcher: Watcher | None = None
        self._pending: set[str] = set()
        self._today_final = asyncio.Event()
        """Today's total is final (the backfill read today's files, or it is over)."""
        self.wake = asyncio.Event()
        self._busy: asyncio.Future[Any] | None = None
        self._lock = asyncio.Lock()
        self._config_reload = ConfigReload(self)
        self.pricer = Pricer(self.config.prices)
        self.metrics: Metrics | None = None
        self.writer_lock: WriterLock | None = None
        self._since_trim = 0
        self._estimates_due = asyncio.Event()
        self.backfill: Progress | None = None
        """The first backfill's progress, as its child process reports it."""

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
        if self._early is None:
            # On this thread, not a worker's: the child dies with the thread that started
            # it (PR_SET_PDEATHSIG). Nothing else runs yet that a lock wait could stall.
            self._early = start_early(self.config_path, config)
        self.writer_lock = self._early.lock
        self.ledger = Ledger(config.ledger_path, config.tz, config.timezone_name, threaded=True)
        # Its own connections: alert writes run in the alert service's writer thread
        # while an ingest transaction may be open in the worker thread (WAL).
        self.alert_store = AlertStore.open(config.ledger_path)
        self.alerts = AlertService(
            config,
            self.alert_store,
            Notifier.from_config(config.alerts),
            lambda: self.picture.totals,
            sources_provider=lambda: self.picture.source_stats,
            limits_provider=lambda: self.picture.all_limits(),
            on_alert=lambda row: self.publish_alert(row.payload()),
        )
        self.server = ApiServer(
            config.socket_path, self.snapshot, self.hello_info, status=self.status
        )
        await self.server.start()
        self.state = "backfilling"
        sdnotify.notify("READY=1\nSTATUS=backfilling")
        log.info("listening on %s; ledger %s", config.socket_path, config.ledger_path)
        self.adopt_state(await self.in_worker(self.read_ledger_state, True))
        # Seeded after the start-up reprice, so a price change moves the counters once.
        self.metrics = await self.in_worker(
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
                tg.create_task(self._config_reload.watch()),
                tg.create_task(self._estimate()),
            ]
            alerts = None
            if self.alerts is not None:
                alerts = tg.create_task(self.alerts.run(self.should_exit))
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
            if alerts is not None:
                # A notification on its way finishes and is recorded as sent: cut off
                # between the two, it would go out again after the restart.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(alerts), ALERTS_DRAIN)
                alerts.cancel()

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
        if self.alerts is not None:
            await self.alerts.aclose()
        if self.alert_store is not None:
            self.alert_store.close()
            self.alert_store = None
        if self.ledger is not None:
            self.ledger.close()
            self.ledger = None
        child = self._early.child if self._early is not None else None
        if child is not None and child.poll() is None:  # start-up failed before following it
            child.terminate()
            await asyncio.to_thread(child.wait)
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
        self.wake.set()

    def _on_exit_signal(self, sig: signal.Signals) -> None:
        if self.should_exit.is_set():
            log.warning("second %s: exiting now", sig.name)
            os._exit(1)
        log.info("%s received: shutting down", sig.name)
        self.should_exit.set()

    # -- work in the worker thread ---------------------------------------------------------

    async def in_worker(self, fn: Any, *args: Any) -> Any:
        """Run ledger work in the worker thread, one job at a time."""
        async with self._lock:
            self._busy = asyncio.ensure_future(asyncio.to_thread(fn, *args))
            try:
                return await asyncio.shield(self._busy)
            finally:
                if self._busy.done():
                    self._busy = None

    def read_ledger_state(self, reprice: bool = False) -> Picture:
        """The picture rebuilt from the ledger (worker thread), after repricing if asked.

        Built aside and swapped in by the loop thread (`_adopt_state`): a snapshot asked
        for meanwhile sees the old picture whole, never a half-built one.
        """
        assert self.ledger is not None
        if reprice:
            from monitor.reprice import reprice_ledger

            changed, _ = reprice_ledger(self.ledger, self.pricer, self.config.sources, force=False)
            if changed:
                log.info("repriced %d stored events after a price change", changed)
        return Picture.from_ledger(self.ledger, self.config, datetime.now(UTC))

    def adopt_state(self, picture: Picture) -> None:
        self.picture = picture

    async def _backfill_progress(self, progress: Progress) -> None:
        """Show how far the backfill has come; once today's files are in, and again once
        this month's are (they go first), rebuild the picture from the ledger, so those
        totals are final on the socket while older history fills in behind."""
        before = self.backfill
        newly_final = (progress.today_final and not (before and before.today_final)) or (
            progress.recent_final and not (before and before.recent_final)
        )
        sdnotify.notify(f"STATUS=backfilling, {progress.fraction * 100:.0f} %")
        if newly_final:
            # The picture first, then the word that it is final: a client asking in
            # between must not read "final" beside the old totals.
            self.adopt_state(await self.in_worker(self.read_ledger_state))
            self.backfill = progress
            what = "this month's" if progress.recent_final else "today's"
            log.info("%s files are in (%s); older history follows", what, progress.line())
            self._publish_snapshot()
        else:
            self.backfill = progress
            self.publish_totals()
        if progress.today_final:
            # Only now may the watches be armed (`_watch`): arming a big tree takes a
            # core and the event loop for a while, which would hold up this publication.
            self._today_final.set()

    def _backfill_entry(self) -> dict[str, Any] | None:
        if self.state != "backfilling" or self.backfill is None:
            return None
        return self.backfill.entry()

    def make_ingestor(self) -> Ingestor:
        assert self.ledger is not None
        loop = asyncio.get_running_loop()

        def on_commit(applied: list[Applied]) -> None:
            loop.call_soon_threadsafe(self._apply, applied)

        return Ingestor(self.config.sources, self.ledger, self.pricer, on_commit=on_commit)

    # -- tasks -------------------------------------------------------------------------------

    async def _backfill_then_ingest(self) -> None:
        try:
            events = await self._backfill()
        finally:
            self._today_final.set()
        if self.should_exit.is_set():
            return
        self.ingestor = self.make_ingestor()
        await self._catch_up()
        self.adopt_state(await self.in_worker(self.read_ledger_state))
        if self.metrics is not None:
            await self.in_worker(self.metrics.seed_from_ledger, self.ledger)
        assert self.ledger is not None
        await self.in_worker(self.ledger.shrink_cache)
        release_memory()
        self.state = "ready"
        sdnotify.notify("STATUS=ready")
        log.info("backfill done (%s new events); following live", events)
        self._publish_snapshot()
        self.evaluate_alerts()
        await self._ingest_live()

    async def _backfill(self) -> str:
        """The first backfill (backfill.py); how many new events it stored, "?" when a
        child did it."""
        assert self.ledger is not None and self._early is not None
        # The backfill runs as a child `scan` (started with the lock, before the rest of
        # the start-up): a cold backfill of a big tree needs a few hundred MB of heap that
        # a long-lived process would keep. Its commits are the same exactly-once commits;
        # the state here is rebuilt from the ledger's rollups after. It does not wait for
        # the watches (a big tree takes seconds to arm): a line appended after it read its
        # file but before the file's watch was armed is found by `_catch_up`.
        ok = await backfill_in_child(self._early.child, self._backfill_progress)
        if ok or self.should_exit.is_set():
            return "?"
        log.warning("backfill in a child process failed; backfilling in-process")
        report = await backfill_in_process(self._scan_in_process)
        return str(report.events)

    async def _catch_up(self) -> None:
        """Once the watches are armed: every file written since the backfill started (and
        every database) is read again from its cursor — what was appended before its
        watch existed; the rest of such a file was read, and is not read twice."""
        assert self.ingestor is not None
        if self.watcher is not None:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(WATCH_READY_TIMEOUT):  # not wait_for: see `_watch`
                    await self.watcher.ready.wait()
        assert self._early is not None
        since = self._early.started - CATCH_UP_SLACK
        self._pending |= await self.in_worker(self.ingestor.written_since, since)
        if self._pending:
            self.wake.set()

    async def _scan_in_process(self) -> IngestReport:
        assert self.ledger is not None
        self.ingestor = Ingestor(self.config.sources, self.ledger, self.pricer)
        return cast(IngestReport, await self.in_worker(self.ingestor.scan))

    async def _ingest_live(self) -> None:
        """Ingest what the watcher reports, reload when asked; until cancelled."""
        assert self.ingestor is not None
        while True:
            await self.wake.wait()
            self.wake.clear()
            if self.reload_requested.is_set():
                try:
                    await self._config_reload.reload()
                except Exception:
                    log.exception("config reload failed; the daemon goes on")
                continue
            paths, self._pending = self._pending, set()
            if paths:
                try:
                    report = await self.in_worker(self.ingestor.ingest_paths, sorted(paths))
                except Exception:
                    # A failed commit stored nothing; cursors are reloaded from the ledger
                    # and the paths tried again. The daemon never exits because of input.
                    log.exception("ingest round failed; retrying these files shortly")
                    self._pending |= paths
                    self.ingestor = self.make_ingestor()
                    await asyncio.sleep(RETRY_AFTER)
                    self.wake.set()
                    continue
                self.after_ingest(report)
                if report.retry:  # a database locked or busy this round: read it again soon
                    asyncio.get_running_loop().call_later(
                        RETRY_AFTER, self._ingest_again, set(report.retry)
                    )
                self._since_trim += report.events
                if not self._pending and self._since_trim >= TRIM_AFTER_EVENTS:
                    # Big rounds leave the heap at their peak; give it back once the
                    # burst is over, so memory stays flat under sustained load.
                    self._since_trim = 0
                    await asyncio.to_thread(release_memory)

    def _ingest_again(self, paths: set[str]) -> None:
        self._pending.update(paths)
        self.wake.set()

    async def _watch(self) -> None:
        assert self.watcher is not None
        # Armed once today's final total is published (or the backfill is over, or after a
        # few seconds): listing a big tree for the watches would take a core from the
        # backfill while it reads today's files, and arming it holds the event loop (~0.4 s
        # for 9,000 directories). `_catch_up` covers the time before.
        # `asyncio.timeout`, not `wait_for`: Python 3.11's `wait_for` swallows a cancellation
        # that comes as the awaited event is set, and a task cancelled by SIGTERM then went
        # on to follow live forever, the daemon never stopping.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(WATCH_AFTER):
                await self._today_final.wait()
        async for paths in self.watcher.changes():
            self._pending.update(paths)
            self.wake.set()

    async def _tick(self) -> None:
        """Publish totals regularly and right after local midnight (rollover without events)."""
        while True:
            now = datetime.now(UTC)
            midnight = local_midnight(
                local_day(now, self.config.tz) + timedelta(days=1), self.config.tz
            )
            delay = min(TOTALS_EVERY, max(0.05, (midnight - now).total_seconds() + 0.05))
            await asyncio.sleep(delay)
            self.publish_totals()
            if self.state == "ready":
                self.evaluate_alerts()
                self._estimates_due.set()

    async def _estimate(self) -> None:
        """Re-read the estimated 5-hour windows after new calls (at most every
        ESTIMATE_EVERY seconds: the read covers eight days of calls) and on every tick (a
        block ends with time alone), then publish them."""
        while True:
            await self._estimates_due.wait()
            self._estimates_due.clear()
            if self.ledger is None or self.state != "ready":
                continue
            picture = self.picture
            estimated = await self.in_worker(
                estimated_limits, self.ledger.db, self.config, datetime.now(UTC), picture.limits
            )
            if picture is self.picture:  # not replaced by a reload meanwhile
                picture.estimated = estimated
                self.publish_totals()
                self.evaluate_alerts()
            await asyncio.sleep(ESTIMATE_EVERY)

    async def _watchdog(self, interval: float) -> None:
        while True:
            sdnotify.notify("WATCHDOG=1")
            await asyncio.sleep(interval)

    # -- results on the loop thread -----------------------------------------------

    def _apply(self, applied: list[Applied]) -> None:
        if self.metrics is not None:
            self.metrics.observe(applied)
        ready = self.state == "ready"
        live = ready and len(applied) <= LIVE_EVENTS_MAX
        self.picture.apply(applied, keep_recent=ready)
        if live and self.server is not None:
            for a in applied:
                self.server.publish(EventMsg(payload=event_payload(a.event)))
        if ready:
            if live:
                self.publish_totals()
            else:
                self._publish_snapshot()
            self.evaluate_alerts(applied)

    def evaluate_alerts(self, applied: list[Applied] | tuple[()] = ()) -> None:
        """Ask for a round of alert decisions; never blocks. The alert service decides on
        this thread, records off it (before any delivery) and announces the new ones."""
        if self.alerts is not None:
            self.alerts.request(applied)

    def after_ingest(self, report: IngestReport) -> None:
        if self.metrics is not None:
            self.metrics.observe_report(report)
        self.picture.count_round(
            report, self.ingestor.cursors if self.ingestor else (), datetime.now(UTC)
        )
        if report.events or report.limits:
            self._estimates_due.set()

    def publish_totals(self) -> None:
        """Totals for subscribers: the snapshot minus the recent events (series included)."""
        if self.metrics is None and (self.server is None or not self.server.client_count):
            return
        doc = self.snapshot(recent=False)
        if self.metrics is not None:
            self.metrics.set_budgets(doc["budgets"])
            self.metrics.set_limits(doc.get("limits", []))
        if self.server is not None:
            self.server.publish(TotalsMsg(payload=doc))

    def _publish_snapshot(self) -> None:
        """A whole new picture: after the backfill, or a round too big to stream event by event."""
        if self.server is not None:
            self.server.publish(Snapshot(payload=self.snapshot()))

    def publish_alert(self, payload: AlertPayload) -> None:
        if self.server is not None:
            self.server.publish(AlertMsg(payload=payload))

    # -- what clients see ---------------------------------------------------------

    def hello_info(self) -> DaemonInfo:
        return {
            "pid": os.getpid(),
            "state": self.state,
            "started": self.started_at.isoformat(),
            "config": str(find_config(self.config_path) or "(embedded default)"),
            "ledger": str(self.config.ledger_path),
        }

    def status(self) -> StatusDoc:
        alerts_db = self.alert_store.reader if self.alert_store is not None else None
        doc = self.picture.status_document(
            self.config, self.state, alerts_db, backfill=self._backfill_entry()
        )
        return cast(StatusDoc, doc)

    def snapshot(self, *, recent: bool = True) -> SnapshotDoc:
        return self.picture.snapshot(
            self.config,
            self.state,
            self.alert_store.reader if self.alert_store is not None else None,
            self.alerts.recent_payloads() if self.alerts is not None else [],
            recent=recent,
            backfill=self._backfill_entry(),
        )


def run_daemon(
    config_path: str | Path | None = None,
    *,
    config: Config | None = None,
    early: EarlyStart | None = None,
) -> int:
    """`llm-monitor daemon`: run in the foreground until SIGTERM/SIGINT."""
    daemon = Daemon(config_path, config=config, early=early)
    return asyncio.run(daemon.run())
