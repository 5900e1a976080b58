"""Parsing new files in worker processes during a large backfill.

A cold backfill of a Claude Code tree is ~0.5 GB of JSON: parsing, pricing and turning
events into ledger rows is CPU work that a second core halves. Workers only read files
nobody has a cursor for yet (new content, offset 0) and hand back plain rows, cursors and
bad-record reports; every decision that involves the ledger (dedup, rotation, commit)
stays in the main process, so exactly-once does not depend on the workers.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import select
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import tzinfo
from itertools import repeat
from multiprocessing.context import ForkServerContext
from typing import Any, Final

from monitor.db_reader import read_database_file
from monitor.events import UsageEvent
from monitor.ledger import DayOf, EventRow, unstorable
from monitor.ledger.hourly import Hours
from monitor.ledger.minutes import KEEP_MS, Minutes
from monitor.ledger.rollups import Delta
from monitor.ledger.rows import origin_of, priced_row
from monitor.limits import LimitSnapshot
from monitor.parse_file import SourceSpec, parse_chunks
from monitor.sources import get_format
from monitor.sources.base import Format
from monitor.sources.sqlite_db import DatabaseFormat
from monitor.tail import READ_LIMIT, Chunk, Cursor, read_document_file, read_lines_file

log = logging.getLogger("llm_monitor.ingest")

MIN_FILES: Final = 64
"""Fewer new files than this are parsed in-process: workers cost ~0.3 s to start."""
JOB_BYTES: Final = 4 * 1024 * 1024
"""Files are grouped into jobs of about this many bytes (balance vs. per-job overhead)."""
IN_FLIGHT: Final = 12
"""Jobs given to the workers at a time (~50 MB of files, a few MB of rows coming back):
enough that the workers keep parsing while the main process stores a batch (~0.5 s), and
a bound on what waits in memory."""
WORKER_NICENESS: Final = 10
"""How much a worker yields to the process that stores its rows. That process is the one
stage nothing can share (one SQLite writer), and on two cores it would otherwise get the
same third of them as each worker while they run ahead: with the workers at nice 10 it
gets a core whenever it has rows to store (200 k-call scan: 7.0–7.4 s → 6.5–7.2 s in
same-hour A/B pairs). For the daemon this also keeps a backfill behind the user's work."""


@dataclass(slots=True)
class FileResult:
    """One new file as a worker read it (its rows are the job's, `JobResult.rows`)."""

    path: str
    cursors: list[Cursor] = field(default_factory=list)
    errors: list[tuple[str, int, str]] = field(default_factory=list)
    """(path, offset, message) of bad records."""
    limits: list[LimitSnapshot] = field(default_factory=list)
    pending: bool = False
    unreadable: str | None = None
    """Why the file could not be read (its OS error), if it could not."""

    def __reduce__(self) -> tuple[type[FileResult], tuple[Any, ...]]:
        """Pickled as its fields, as `Cursor` is: one per file of a backfill."""
        return FileResult, (
            self.path, self.cursors, self.errors, self.limits, self.pending, self.unreadable,
        )  # fmt: skip


@dataclass(slots=True)
class JobResult:
    """A job's files, and the rollup delta, hour and minute sums of all their rows
    (`ledger.PreparedRows`): summed here, where the CPU is to spare, not in the process
    that stores them."""

    files: list[FileResult]
    rows: list[EventRow]
    """The ledger rows of the files' events, in file order: checked storable
    (`ledger.unstorable`; the refused are in the files' errors). Pickled, which sends a
    string the rows share (a day, a session's tags) once per job and gives the
    process that stores them one copy of it: 16 MB less at the scan's peak than
    MessagePack, which would decode a copy per row."""
    delta: Delta
    """Folded (`Delta.fold`): its tags already split into their rollup rows."""
    hours: Hours
    minutes: Minutes


_worker: dict[str, Any] = {}


def _init_worker(
    overrides: Mapping[str, Any],
    ledger_tz: tzinfo,
    formats: Sequence[str],
    owner: int | None = None,
) -> None:
    import gc

    # A worker lives for one backfill, making short-lived objects only: no cycle
    # collection (a quarter of its time otherwise; monitor.heap).
    gc.disable()
    os.nice(WORKER_NICENESS)
    if owner is not None:
        threading.Thread(target=_exit_with, args=(owner,), daemon=True).start()
    load_worker(overrides, ledger_tz, formats)


def load_worker(overrides: Mapping[str, Any], ledger_tz: tzinfo, formats: Sequence[str]) -> None:
    """What `parse_files` needs, in this process (a worker's; or a test's, which runs the
    jobs in-process and keeps its own priority and collector)."""
    from monitor.pricing import Pricer

    _worker["pricer"] = Pricer(overrides)
    _worker["day_of"] = DayOf(ledger_tz)
    for name in formats:
        get_format(name)  # import the adapter (and msgspec) before the first job


def _exit_with(owner: int) -> None:
    """End this worker when the process that owns the pool is gone, however it went.

    A pool's workers wait on a queue they themselves hold open, so an owner killed with
    SIGKILL (a daemon's backfill child dies with the daemon) would leave them, and their
    fork server, waiting forever."""
    try:
        fd = os.pidfd_open(owner)
    except (AttributeError, OSError):
        pass  # no pidfd here (before Linux 5.3): ask every second instead
    else:
        select.select([fd], [], [])  # readable once the owner has exited
        os._exit(0)
    while True:
        time.sleep(1.0)
        try:
            os.kill(owner, 0)
        except ProcessLookupError:
            os._exit(0)
        except PermissionError:
            pass


def parse_files(spec: SourceSpec, paths: Sequence[str]) -> JobResult:
    """Worker entry point: every path from offset 0 (no cursor yet), through the same
    per-file pipeline as in-process ingestion (`parse_chunks`).

    A stage at a time over the whole job — every file parsed, then every event priced
    and made a row, then the rows checked, then summed — not each file through all of
    them: 24.1 → 21.2 µs per call (same rows), each stage's code and data staying warm
    in the CPU's caches instead of taking turns."""
    pricer = _worker["pricer"]
    day_of = _worker["day_of"]
    fmt = get_format(spec.format)
    out = []
    events: list[UsageEvent] = []
    owners: list[FileResult] = []
    """The file of each event: where a row that cannot be stored is reported."""
    for path in paths:
        try:
            chunks = _fresh_chunks(spec.name, fmt, path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            out.append(FileResult(path, unreadable=exc.strerror or str(exc)))
            continue
        parsed = parse_chunks(spec, fmt, None, chunks)
        result = FileResult(
            path, cursors=parsed.cursors, errors=parsed.errors, limits=parsed.limits,
            pending=parsed.pending,
        )  # fmt: skip
        out.append(result)
        events.extend(parsed.events)
        owners.extend(repeat(result, len(parsed.events)))
    costs = pricer.costs_of(events, spec.cost)
    rows = [priced_row(e, day_of, c) for e, c in zip(events, costs, strict=True)]
    stored: list[EventRow] = []
    for row, owner in zip(rows, owners, strict=True):
        why = unstorable(row)
        if why is None:
            stored.append(row)
        else:
            owner.errors.append((*origin_of(row)[1:], why))
    delta = Delta()
    hours = Hours()
    recent = Minutes(time.time_ns() // 1_000_000 - KEEP_MS)
    for row in stored:
        delta.add(row)
        hours.add(row)
        recent.add(row)
    delta.fold()
    return JobResult(out, stored, delta, hours, recent)


def _fresh_chunks(source: str, fmt: Format, path: str) -> list[Chunk]:
    """All of a file nobody has a cursor for, as the tail hands it out."""
    if fmt.kind == "document":
        if isinstance(fmt, DatabaseFormat):  # a database: all its rows, read-only
            chunk = read_database_file(source, path, None, fmt)
        else:
            chunk = read_document_file(source, path, None)
        return [chunk] if chunk is not None else []
    chunks: list[Chunk] = []
    cursor = None
    while True:
        got = read_lines_file(source, path, cursor)
        chunks.extend(got)
        if not got or got[-1].cursor.size - got[-1].base_offset <= READ_LIMIT:
            # All of the file as it was when opened: what follows is read with the next
            # change, as for any file (a second open here would only find nothing new).
            return chunks
        cursor = got[-1].cursor


def _context() -> ForkServerContext:
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["monitor.worker_preload"])
    return context


class Pool:
    """A process pool for one backfill; `forkserver` so forking from a threaded daemon is safe."""

    def __init__(
        self, overrides: Mapping[str, Any], ledger_tz: tzinfo, formats: Sequence[str] = ()
    ) -> None:
        workers = max(1, min(os.cpu_count() or 1, 4))
        context = _context()
        self.executor = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            initializer=_init_worker,
            initargs=(overrides, ledger_tz, tuple(formats), os.getpid()),
        )
        self.workers = workers

    def warm(self) -> None:
        """Start the workers now, so a cold backfill's first files do not wait for them.

        A worker is forked by the fork server once that has loaded the pipeline and the
        prices (`monitor.worker_preload`, ~0.35 s of CPU): starting one waits for that.
        A thread does the waiting, and this process goes on (listing the tree)
        meanwhile; a job given to the pool before then waits for it the same."""
        name = "llm-monitor-workers"
        threading.Thread(target=self._start_workers, name=name, daemon=True).start()

    def _start_workers(self) -> None:
        try:
            for _ in range(self.workers):
                self.executor.submit(os.getpid)
        except Exception:
            pass  # a pool that cannot start says so when the first job is given to it

    def stream(self, spec: SourceSpec, total_bytes: int) -> JobStream:
        """A stream for `total_bytes` of new files of one source (as listed)."""
        return JobStream(self, spec, job_bytes(total_bytes, self.workers))

    def close(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


def job_bytes(total_bytes: int, workers: int) -> int:
    """How many bytes of files make a job: about JOB_BYTES, in a number of jobs that is
    a multiple of the workers'. Files come in stages (today's, this month's, the rest),
    each drained before the next: a stage of a few files (today's) is shared instead of
    parsed by one worker while the other waits, and a stage's last round keeps every
    worker busy."""
    jobs = max(1, -(-total_bytes // JOB_BYTES))
    jobs = -(-jobs // workers) * workers
    return max(1, -(-total_bytes // jobs))


class JobStream:
    """New files of one source, sent to the workers in jobs of about `job_bytes` (see
    `job_bytes`), in the order they are added.

    At most IN_FLIGHT jobs are given to the workers at a time, and a job's results are
    let go once the caller has taken them: workers that parse faster than the ledger
    stores would otherwise pile a whole tree's rows up in memory (330 MB for 200 k calls).

    If the pool breaks (a worker killed, a platform without forkserver), the paths it did
    not finish are kept in `leftover` for the caller to parse in-process: the workers are
    an optimisation, never a way to lose a file.
    """

    def __init__(self, pool: Pool, spec: SourceSpec, job_bytes: int) -> None:
        self.pool = pool
        self.spec = spec
        self.job_bytes = job_bytes
        self.leftover: list[str] = []
        self._job: list[str] = []
        self._bytes = 0
        self._queued: deque[list[str]] = deque()
        self._futures: dict[Future[JobResult], list[str]] = {}
        self._broken = False

    def add(self, path: str, size: int) -> None:
        """Queue `path` (`size` bytes as listed: jobs are only balanced by it)."""
        self._bytes += size
        self._job.append(path)
        if self._bytes >= self.job_bytes:
            self._close_job()

    def _close_job(self) -> None:
        if self._job:
            self._queued.append(self._job)
            self._job, self._bytes = [], 0
        self._fill()

    def _fill(self) -> None:
        while self._queued and len(self._futures) < IN_FLIGHT and not self._broken:
            job = self._queued.popleft()
            try:
                self._futures[self.pool.executor.submit(parse_files, self.spec, job)] = job
            except Exception:
                log.warning("parsing workers unavailable; parsing in-process", exc_info=True)
                self._broken = True
                self.leftover.extend(job)

    def results(self) -> Iterator[JobResult]:
        """Every job's results, as they finish (failed jobs' paths go to `leftover`)."""
        self._close_job()
        while self._futures:
            done, _ = wait(set(self._futures), return_when=FIRST_COMPLETED)
            for fut in done:
                job = self._futures.pop(fut)
                try:
                    results = fut.result()
                except Exception:
                    if not self._broken:
                        log.warning("a parsing worker failed; parsing in-process", exc_info=True)
                    self._broken = True
                    self.leftover.extend(job)
                    continue
                self._fill()  # the next job starts before the caller stores this one
                yield results
        while self._queued:  # a broken pool: the rest is parsed in-process
            self.leftover.extend(self._queued.popleft())

    def draining(self) -> bool:
        """The last jobs are with the workers (no more of them than workers) and none has
        a result ready: the caller would only wait, and this is the moment to store what
        it has taken in. Left for later it is stored alone once the workers are done (a
        commit of up to BATCH_EVENTS rows on one core while the other idles); stored
        earlier, after every job, each commit would write the whole random-ordered key
        index to the WAL again for a few rows."""
        return (
            not self._queued
            and not self._job
            and len(self._futures) <= self.pool.workers
            and not any(f.done() for f in self._futures)
        )

    def cancel(self) -> None:
        for fut in self._futures:
            fut.cancel()
        self._queued.clear()
