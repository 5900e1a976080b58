"""Ingestion: configured sources → tail → adapters → pricing → ledger, synchronously.

`scan` runs it once over every file; the daemon runs it for the paths the watcher
reports. Either way the unit of work is a file's new bytes, and what they produce is
committed together with the file's cursor (see ledger.py).

This module owns the mapping from paths to sources and the in-memory index of cursors
(by path, and by inode so that a file renamed to another matching name is recognised
as already read, not read again from its start). A source whose tool keeps its usage in
SQLite (`sources.sqlite_db.DatabaseFormat`) is read through `db_reader`: its database is
a document made of the rows its format names, read read-only; a database that cannot be
read now (locked, busy, corrupt) is logged, stores nothing, and is tried again with the
next round (`IngestReport.retry`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final, NamedTuple

from monitor import parallel as _parallel
from monitor.db_reader import DatabaseUnreadable, FullReads, read_database_file
from monitor.globs import Glob
from monitor.heap import collection_paused
from monitor.ledger import (
    Applied,
    BadRecord,
    Batch,
    CursorConflict,
    Ledger,
    PreparedRows,
)
from monitor.limits import LimitSnapshot
from monitor.parse_file import Parsed, SourceSpec, parse_chunks
from monitor.periods import local_day, local_midnight, period_days
from monitor.progress import Progress
from monitor.sources import get_format
from monitor.sources.base import Format
from monitor.sources.sqlite_db import DatabaseFormat
from monitor.tail import Cursor, read_document_file, read_lines_file, read_moved, unchanged

if TYPE_CHECKING:
    from monitor.config import SourceConfig
    from monitor.pricing import Pricer

log = logging.getLogger("llm_monitor.ingest")

BATCH_EVENTS: Final = 20_000
"""Commit at least this often during a backfill: bounds memory and shows progress."""
MANY_FILES: Final = 1000
"""A first backfill of at least this many files starts the parsing workers once the tree
is listed, and they parse all of it, today's files first; a smaller one starts them only
if a stage has `parallel.MIN_FILES` new files."""
LOGGED_ERRORS_PER_FILE: Final = 5
CONFLICT_RETRIES: Final = 3
"""Re-reads of a batch whose cursors another writer moved, before giving up (the lock
should make this never happen; see writer_lock.py)."""


@dataclass(slots=True)
class SourceCounts:
    files: int = 0
    files_read: int = 0
    events: int = 0
    updated: int = 0
    errors: int = 0
    pending: int = 0
    """Documents caught half-written: retried on their next change."""
    unreadable: int = 0


@dataclass(slots=True)
class IngestReport:
    sources: dict[str, SourceCounts] = field(default_factory=dict)
    applied: list[Applied] = field(default_factory=list)
    limits: list[LimitSnapshot] = field(default_factory=list)
    """Plan-window snapshots the round stored (or found stored already)."""
    retry: set[str] = field(default_factory=set)
    """Databases that could not be read this round (locked, busy, corrupt): read them
    again soon, even if nothing reports a change (`ingest_paths` also retries them)."""

    def counts(self, source: str) -> SourceCounts:
        c = self.sources.get(source)
        if c is None:
            c = self.sources[source] = SourceCounts()
        return c

    @property
    def events(self) -> int:
        return sum(c.events for c in self.sources.values())

    @property
    def errors(self) -> int:
        return sum(c.errors for c in self.sources.values())


@dataclass(slots=True)
class _Source:
    config: SourceConfig
    fmt: Format
    globs: list[Glob]
    spec: SourceSpec


class Listed(NamedTuple):
    """A file a source's globs match, as the listing found it."""

    path: str
    size: int
    mtime: float
    mtime_ns: int
    ident: tuple[int, int] | None
    """(device, inode), None when the file was gone by the time it was looked at."""


def _found_files(src: _Source, when_many: Callable[[], object] | None = None) -> list[Listed]:
    """Every file a source's globs match, in the order they were last written (see
    `Ingestor.scan`); `when_many` is called once MANY_FILES are found."""
    out: list[Listed] = []
    seen: set[str] = set()
    for glob in src.globs:
        for path in glob.walk():
            if path in seen:
                continue
            seen.add(path)
            try:
                st = os.stat(path)
            except OSError:
                # Gone since the walk: read (and found missing) like any other.
                out.append(Listed(path, 0, 0.0, 0, None))
            else:
                ident = (st.st_dev, st.st_ino)
                out.append(Listed(path, st.st_size, st.st_mtime, st.st_mtime_ns, ident))
            if len(out) == MANY_FILES and when_many is not None:
                when_many()
    out.sort(key=lambda f: f.mtime)
    return out


def _unchanged(cursor: Cursor, listed: Listed | None) -> bool:
    """The listing's stat of an append-only file shows nothing new (`tail.unchanged`)."""
    return (
        listed is not None
        and listed.ident is not None
        and unchanged(cursor, listed.size, listed.mtime_ns, listed.ident)
    )


class Ingestor:
    def __init__(
        self,
        sources: Sequence[SourceConfig],
        ledger: Ledger,
        pricer: Pricer,
        *,
        keep_applied: bool = False,
        on_commit: Callable[[list[Applied]], None] | None = None,
        on_progress: Callable[[Progress], None] | None = None,
    ) -> None:
        self.ledger = ledger
        self.pricer = pricer
        self.keep_applied = keep_applied
        """Keep the Applied list in reports (a big scan does not need it)."""
        self.on_commit = on_commit
        """Called after every commit with what it stored (the daemon feeds its totals)."""
        self.on_progress = on_progress
        """Told how far a `scan` has come after each commit (and when the recent files are
        in); the caller throttles what it shows."""
        self.progress = Progress()
        self._listed: dict[str, Listed] = {}
        """The files of the scan under way, as its listing found them."""
        self._started = time.monotonic()
        self.stop = threading.Event()
        """Set from another thread to end a long `scan` early, after a clean commit."""
        self.sources: dict[str, _Source] = {}
        for sc in sources:
            if sc.enabled:
                self.sources[sc.name] = _Source(
                    sc, get_format(sc.format), [Glob(p) for p in sc.paths], SourceSpec.of(sc)
                )
        if ledger.was_empty and not ledger.readonly:
            # Everything this new ledger will hold is priced now, at today's prices.
            from monitor.reprice import STAMP_KEY, prices_stamp

            if ledger.meta(STAMP_KEY) is None:
                ledger.set_meta(STAMP_KEY, prices_stamp(pricer, sources))
        self.cursors: dict[tuple[str, str], Cursor] = {}
        self.by_inode: dict[tuple[str, int, int], Cursor] = {}
        self._cursors_mark = (-1, -1)
        """`Ledger.change_mark` when the cursors were loaded."""
        self._reload_cursors()
        self._errors_logged: dict[tuple[str, str], int] = {}
        self._unreadable_logged: set[str] = set()
        self._retry: set[str] = set()
        """Databases that could not be read: tried again with every round."""
        self._full_reads: FullReads = {}
        """When each database was last read whole (db_reader: heals incremental reads)."""

    # -- bookkeeping ---------------------------------------------------------------

    def _reload_cursors(self) -> None:
        self.cursors.clear()
        self.by_inode.clear()
        for c in self.ledger.cursors():
            self._remember(c)
        self._cursors_mark = self.ledger.change_mark()

    def _remember(self, c: Cursor) -> None:
        self.cursors[(c.source, c.path)] = c
        self.by_inode[(c.source, c.dev, c.inode)] = c

    def _forget(self, source: str, path: str) -> None:
        c = self.cursors.pop((source, path), None)
        if c is not None and self.by_inode.get((source, c.dev, c.inode)) is c:
            del self.by_inode[(source, c.dev, c.inode)]

    def sources_for(self, path: str) -> list[str]:
        return [name for name, s in self.sources.items() if any(g.matches(path) for g in s.globs)]

    def scan(
        self,
        *,
        parallel: bool = True,
        today_since: datetime | None = None,
        recent_since: datetime | None = None,
    ) -> IngestReport:
        """Every file of every source, once: a backfill or a `scan` command.

        The most recently written files first, in three stages: those changed since
        `today_since` (default: today's local midnight), then since `recent_since` (the
        start of this month or this week, whichever is earlier), then the rest. A file
        last written before an instant holds no call after it, so once a stage is in,
        today's (`Progress.today_final`), then this week's and this month's
        (`Progress.recent_final`) totals are complete, told through `on_progress`, while
        older history fills in behind.
        Within each stage files go in the order they were written: of two equal copies of
        a call (`log --id` run twice), the one written first is kept, as before.
        Files nobody has read yet are parsed in worker processes when there are many
        (see monitor.parallel); files with a cursor are followed here.
        """
        with collection_paused():  # a burst of short-lived objects (monitor.heap)
            return self._scan(parallel, today_since, recent_since)

    def _scan(
        self, parallel: bool, today_since: datetime | None, recent_since: datetime | None
    ) -> IngestReport:
        report = IngestReport()
        # The ledger is the truth: a cursor another process committed since this one
        # started (a rotation it followed, say) must be followed from here too. Unless
        # nothing was committed since they were loaded (a new `scan`, a restarted daemon).
        if self.ledger.change_mark() != self._cursors_mark:
            self._reload_cursors()
        pool: _parallel.Pool | None = None
        first_backfill = not self.cursors

        def start_workers() -> None:
            """A first backfill of many files: the workers are started as soon as that is
            known, while the rest of the tree is listed — their fork server loads (~0.35 s
            of CPU) and forks them on the other core, so the first jobs find them ready.
            They parse every file, today's too: on both cores, and this process, which
            only stores, never loads the price data (`monitor.price_tables`)."""
            nonlocal pool
            if pool is None:
                pool = self._pool()
                pool.warm()

        try:
            early = start_workers if parallel and first_backfill else None
            found = {name: _found_files(src, early) for name, src in self.sources.items()}
            progress = self.progress = Progress(
                files_total=sum(len(f) for f in found.values()),
                bytes_total=sum(f.size for listed in found.values() for f in listed),
            )
            if early is not None and progress.files_total >= MANY_FILES:
                early()  # many files, but fewer in every source: started only now
            self._listed = {f.path: f for listed in found.values() for f in listed}
            self._started = time.monotonic()
            today, recent = self._stage_starts(today_since, recent_since)
            until = float("inf")
            for since, final in ((today, "today_final"), (recent, "recent_final"), (None, "")):
                start = float("-inf") if since is None else since.timestamp()
                # Otherwise a day's files are read here: starting the workers for them
                # would delay today's total.
                workers = parallel and (final != "today_final" or pool is not None)
                for name, src in self.sources.items():
                    files = [f.path for f in found[name] if start <= f.mtime < until]
                    pool = self._scan_files(src, files, report, workers, pool)
                    if self.stop.is_set():
                        break
                if self.stop.is_set():
                    break
                if final:
                    setattr(progress, final, True)
                    self._tell()
                until = start
            for name, src in self.sources.items():
                if src.fmt.kind == "lines" and not self.stop.is_set():
                    seen = {f.path for f in found[name]}
                    batch = Batch()
                    for source, path in list(self.cursors):
                        if source == name and path not in seen:
                            if any(g.matches(path) for g in src.globs):
                                self._collect(src, path, batch, report)
                    self._commit(batch, report)
        finally:
            self._listed = {}
            if pool is not None:
                pool.close()
        progress.done = not self.stop.is_set()
        self._tell()
        return report

    def written_since(self, instant: float) -> set[str]:
        """Files of every source last written at or after `instant` (epoch seconds), and
        every database (a write may touch only its -wal file)."""
        out: set[str] = set()
        for src in self.sources.values():
            every = isinstance(src.fmt, DatabaseFormat)
            out.update(f.path for f in _found_files(src) if every or f.mtime >= instant)
        return out

    def _stage_starts(
        self, today: datetime | None, recent: datetime | None
    ) -> tuple[datetime, datetime]:
        """Where the backfill's first two stages start: today's local midnight, and the
        start of this month or this week, whichever is earlier (never after the first)."""
        tz = self.ledger.tz
        day = local_day(datetime.now(UTC), tz)
        if today is None:
            today = local_midnight(day, tz)
        if recent is None:
            first = min(period_days("month", day)[0], period_days("week", day)[0])
            recent = local_midnight(first, tz)
        return today, min(today, recent)

    def _scan_files(
        self,
        src: _Source,
        files: list[str],
        report: IngestReport,
        parallel: bool,
        pool: _parallel.Pool | None,
    ) -> _parallel.Pool | None:
        """Read `files` (in the order given) of one source; returns the pool it made."""
        name = src.config.name
        report.counts(name).files += len(files)
        batch = Batch()
        fresh: list[str] = []
        lines = src.fmt.kind == "lines"
        for path in files:
            listed = self._listed.get(path)
            cursor = self.cursors.get((name, path))
            if cursor is None and self._moved_from(name, path, listed) is None:
                fresh.append(path)
                continue
            if lines and cursor is not None and _unchanged(cursor, listed):
                # Nothing to read (a restarted daemon's catch-up: every file of the tree).
                self._advance(path)
                continue
            self._collect(src, path, batch, report)
            self._advance(path)
            batch = self._maybe_commit(batch, report)
            if self.stop.is_set():
                break
        many = len(fresh) >= _parallel.MIN_FILES or pool is not None
        if parallel and fresh and many and not self.stop.is_set():
            # Many new files (a backfill), or a few with the workers running: they parse
            # them, in that order.
            if pool is None:
                pool = self._pool()
            sizes = [self._size(path) for path in fresh]
            stream = pool.stream(src.spec, sum(sizes))
            for path, size in zip(fresh, sizes, strict=True):
                stream.add(path, size)
            fresh = self._collect_parallel(stream, src, batch, report)
            batch = Batch()
        for path in fresh:
            if self.stop.is_set():
                break
            self._collect(src, path, batch, report)
            self._advance(path)
            batch = self._maybe_commit(batch, report)
        self._commit(batch, report)
        return pool

    def _advance(self, path: str) -> None:
        progress = self.progress
        progress.files_done += 1
        progress.bytes_done += self._size(path)

    def _tell(self) -> None:
        if self.on_progress is not None:
            self.progress.elapsed = time.monotonic() - self._started
            self.on_progress(self.progress)

    def _pool(self) -> _parallel.Pool:
        formats = sorted({s.config.format for s in self.sources.values()})
        return _parallel.Pool(self.pricer.overrides, self.ledger.tz, formats)

    def _maybe_commit(self, batch: Batch, report: IngestReport) -> Batch:
        if batch.size >= BATCH_EVENTS:
            self._commit(batch, report)
            return Batch()
        return batch

    def _collect_parallel(
        self,
        stream: _parallel.JobStream,
        src: _Source,
        batch: Batch,
        report: IngestReport,
    ) -> list[str]:
        """Take in what the workers parsed; returns the paths left to parse in-process
        (those of jobs a broken pool did not finish)."""
        name = src.config.name
        counts = report.counts(name)
        for job in stream.results():
            for res in job.files:
                self._advance(res.path)
                if res.unreadable is not None:
                    counts.unreadable += 1
                    log.warning("source %s: cannot read %s: %s", name, res.path, res.unreadable)
                    continue
                if res.pending:
                    counts.pending += 1
                    continue
                counts.files_read += 1
                batch.limits.extend(res.limits)
                for c in res.cursors:
                    batch.expect(name, c.path, None)
                    batch.put_cursor(c)
                    self._remember(c)
                for path, offset, message in res.errors:
                    self._bad(name, path, offset, message, batch, counts)
            batch.prepared.append(PreparedRows(job.rows, job.delta, job.hours, job.minutes))
            if stream.draining():
                self._commit(batch, report)
                batch = Batch()
            else:
                batch = self._maybe_commit(batch, report)
            if self.stop.is_set():
                stream.cancel()
                break
        self._commit(batch, report)
        return stream.leftover

    def ingest_paths(self, paths: Iterable[str]) -> IngestReport:
        """The given paths (reported changed by the watcher), for every source they match,
        and the databases an earlier round could not read."""
        report = IngestReport()
        batch = Batch()
        given = list(paths)
        for path in [*given, *sorted(self._retry.difference(given))]:
            names = self.sources_for(path)
            if not names:
                self._retry.discard(path)  # no source reads it any more (config reload)
            for name in names:
                report.counts(name).files += 1
                self._collect(self.sources[name], path, batch, report)
        self._commit(batch, report)
        return report

    def _commit(self, batch: Batch, report: IngestReport) -> None:
        if not batch:
            return
        want = self.keep_applied or self.on_commit is not None
        for attempt in range(CONFLICT_RETRIES + 1):
            try:
                applied = self.ledger.commit(batch, want_applied=want)
                break
            except CursorConflict as exc:
                if attempt == CONFLICT_RETRIES:
                    raise
                log.warning(
                    "another writer moved %d cursors under this batch; re-reading them from "
                    "the ledger's cursors",
                    len(exc.paths),
                )
                batch = self._reread(batch, report)
        for source, (new, updated) in self.ledger.last_counts.items():
            counts = report.counts(source)
            counts.events += new
            counts.updated += updated
        report.limits.extend(batch.limits)
        for bad in self.ledger.last_refused:
            self._log_bad(bad.source, bad.path, bad.offset, bad.message, report.counts(bad.source))
        if self.keep_applied:
            report.applied.extend(applied)
        if self.on_commit is not None and applied:
            self.on_commit(applied)
        self.progress.calls = report.events
        self._tell()

    def _reread(self, batch: Batch, report: IngestReport) -> Batch:
        """The same files read again from the cursors the ledger holds now (batch dropped)."""
        self._reload_cursors()
        again = Batch()
        for source, path in batch.expected:
            src = self.sources.get(source)
            if src is not None:
                self._collect(src, path, again, report)
        return again

    # -- one file -------------------------------------------------------------------------

    def _collect(self, src: _Source, path: str, batch: Batch, report: IngestReport) -> None:
        name = src.config.name
        counts = report.counts(name)
        try:
            if src.fmt.kind == "document":
                self._collect_document(src, path, batch, counts)
            else:
                self._collect_lines(src, path, batch, counts)
        except FileNotFoundError:
            self._retry.discard(path)
            return
        except OSError as exc:
            counts.unreadable += 1
            if isinstance(exc, DatabaseUnreadable):
                # Nothing of it is stored and no cursor moves: read it again soon.
                self._retry.add(path)
                report.retry.add(path)
            if path not in self._unreadable_logged:
                self._unreadable_logged.add(path)
                log.warning("source %s: cannot read %s: %s", name, path, exc.strerror or exc)
            return
        self._unreadable_logged.discard(path)
        self._retry.discard(path)

    def _size(self, path: str) -> int:
        listed = self._listed.get(path)
        return 0 if listed is None else listed.size

    def _moved_from(self, source: str, path: str, listed: Listed | None = None) -> Cursor | None:
        """The cursor of a file new at `path` that we already read under another name.

        A rename to a name the glob also matches (`app.log` → `app.log.1` with
        `app.log*`) must continue from the old offset, not re-read from 0. A scan looks
        the file up as its listing found it (`listed`) moments ago, not with a stat of
        its own (a first backfill's later stages: 22 k stats, 0.14 s).
        """
        if not self.by_inode:
            return None  # a first backfill: no file read yet, and no stat per file for it
        if listed is not None and listed.ident is not None:
            size, (dev, inode) = listed.size, listed.ident
        else:
            try:
                st = os.stat(path)
            except OSError:
                return None
            size, dev, inode = st.st_size, st.st_dev, st.st_ino
        known = self.by_inode.get((source, dev, inode))
        if known is None or known.path == path or size < known.offset:
            return None
        try:
            there = os.stat(known.path)
            if (there.st_dev, there.st_ino) == (known.dev, known.inode):
                return None  # still there too: a hard link, its own file
        except OSError:
            pass
        return known

    def _collect_lines(self, src: _Source, path: str, batch: Batch, counts: SourceCounts) -> None:
        name = src.config.name
        cursor = self.cursors.get((name, path))
        batch.expect(name, path, cursor)
        if cursor is None:
            known = self._moved_from(name, path)
            if known is not None:
                batch.expect(name, known.path, known)
                batch.drop_cursor(name, known.path)
                self._forget(name, known.path)
                cursor = replace(known, path=path)
        read_any = False
        while True:
            try:
                chunks = read_lines_file(name, path, cursor)
            except FileNotFoundError:
                if cursor is None or cursor.path != path:
                    raise
                chunks = read_moved(cursor)
                if chunks:
                    # The content lives on under its new name; the old name is free.
                    batch.drop_cursor(name, path)
                    self._forget(name, path)
                    self._take(
                        src, parse_chunks(src.spec, src.fmt, self.pricer, chunks), batch, counts
                    )
                    counts.files_read += 1
                raise
            if not chunks:
                break
            read_any = True
            self._take(src, parse_chunks(src.spec, src.fmt, self.pricer, chunks), batch, counts)
            cursor = chunks[-1].cursor
        if read_any:
            counts.files_read += 1

    def _take(self, src: _Source, parsed: Parsed, batch: Batch, counts: SourceCounts) -> None:
        """Add what a file's chunks gave to the batch: its events, bad records and cursors."""
        name = src.config.name
        batch.events.extend(parsed.events)
        batch.limits.extend(parsed.limits)
        for path, offset, message in parsed.errors:
            self._bad(name, path, offset, message, batch, counts)
        for cur in parsed.cursors:
            batch.put_cursor(cur)
            self._remember(cur)

    def _collect_document(
        self, src: _Source, path: str, batch: Batch, counts: SourceCounts
    ) -> None:
        name = src.config.name
        cursor = self.cursors.get((name, path))
        batch.expect(name, path, cursor)
        if isinstance(src.fmt, DatabaseFormat):
            chunk = read_database_file(name, path, cursor, src.fmt, self._full_reads)
        else:
            chunk = read_document_file(name, path, cursor)
        if chunk is None:
            return
        counts.files_read += 1
        parsed = parse_chunks(src.spec, src.fmt, self.pricer, [chunk])
        if parsed.pending:
            counts.pending += 1
            log.info("source %s: %s is not complete yet; retrying on its next change", name, path)
            return
        self._take(src, parsed, batch, counts)

    def _bad(
        self,
        source: str,
        path: str,
        offset: int,
        message: str,
        batch: Batch,
        counts: SourceCounts,
    ) -> None:
        batch.errors.append(BadRecord(source, path, offset, message))
        self._log_bad(source, path, offset, message, counts)

    def _log_bad(
        self, source: str, path: str, offset: int, message: str, counts: SourceCounts
    ) -> None:
        """Count a bad record; log the first few of each file with file and offset."""
        counts.errors += 1
        n = self._errors_logged.get((source, path), 0)
        if n < LOGGED_ERRORS_PER_FILE:
            log.warning("source %s: bad record at %s:%d skipped: %s", source, path, offset, message)
        elif n == LOGGED_ERRORS_PER_FILE:
            log.warning("source %s: more bad records in %s (counted, not logged)", source, path)
        self._errors_logged[(source, path)] = n + 1
