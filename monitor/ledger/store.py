"""`Ledger`: one SQLite file, and the exactly-once commit into it.

Exactly-once rests on one rule: the events read from a file and that file's cursor
(offset + adapter state) are committed in ONE transaction. A crash before the commit
loses both (the bytes are read again); a crash after keeps both (they are not).

Events are unique by `key`: the commit looks each key up by its hash (`rows.key_hash`)
and stores it in the same write transaction. A second copy of a key replaces the stored
one only when it carries more tokens — Claude Code writes one message several times
while it streams — and the caller is told the previous version so running totals move
by the difference.
The rollups move in the same transaction (`monitor.ledger.rollups`), so reports over
millions of events read a few thousand rows; so do the hour and minute rollups `status`
reads (`monitor.ledger.hourly`, `monitor.ledger.minutes`). Changing the time zone rebuilds them.

Readers (`report`, `status`) open the file read-only beside a running daemon: WAL lets
them read a consistent snapshot while the daemon writes.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, tzinfo
from itertools import repeat
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from monitor.events import UsageEvent, ts_ms
from monitor.ledger import hourly, limits, minutes, reads, rows, schema
from monitor.ledger.connection import (
    CHECKPOINT_BYTES,
    LedgerError,
    checkpoint_pages,
    connect,
    transaction,
    tune_for_writing,
)
from monitor.ledger.hourly import Hours
from monitor.ledger.minutes import Minutes
from monitor.ledger.rollups import Delta, rebuild
from monitor.ledger.rows import DayOf, EventRow, event_from_row, event_row, unstorable

if TYPE_CHECKING:
    # Loaded by the writing half only: `status` and `report` read, they never commit
    # (the batch types' classes cost every such command ~3 ms) or read cursors.
    from monitor.ledger.batch import Applied, BadRecord, Batch, CursorMark, PreparedRows
    from monitor.tail import Cursor

_KEY_CHUNK: Final = 500
_BULK_ROWS: Final = 5_000
"""A backfill's commit (no answer wanted) of at least this many rows fits the page cache
to the ledger (`Ledger._fit_cache`); a live one never does."""
_CACHE_SHARE: Final = 0.25
_CACHE_MIN_KIB: Final = 32_768
_CACHE_MAX_KIB: Final = 262_144
_SESSION_KEYS_MAX: Final = 2_000_000
"""Key hashes a first backfill keeps (~55 bytes each in a set: 110 MB at most, freed with
the backfill) before it looks every key up again. At 400 k, a 1 M-call backfill looked up
600 k keys in the key index (then on the keys themselves): 28.4–34.9 s against
29.7–35.9 s in four same-hour runs each (the machine's noise at that size is ±15 %),
3.6 s less CPU on average."""
MAX_ERRORS_KEPT: Final = 1000
"""Parse errors kept per source (the count in source_stats is never trimmed)."""

_CURSOR_COLUMNS: Final = (
    "source", "path", "dev", "inode", "fp_len", "fp_hash", "file_id", "offset", "size",
    "mtime_ns", "state",
)  # fmt: skip
_cursor_fields = attrgetter(*_CURSOR_COLUMNS[:-1])
_PUT_CURSOR: Final = (
    f"INSERT INTO cursors ({', '.join(_CURSOR_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_CURSOR_COLUMNS))}) ON CONFLICT (source, path) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _CURSOR_COLUMNS[2:])
)
"""An upsert: a file read further keeps its row (the commit counts the files per source
in `source_files` by the cursors it adds and drops, `Ledger._files_added`)."""


def _cursor_row(c: Cursor) -> tuple[Any, ...]:
    return (*_cursor_fields(c), json.dumps(c.state, separators=(",", ":")) if c.state else "{}")


_Chosen = tuple[EventRow, UsageEvent | None, bool]
"""A row picked to store, the event it came from (None for prepared rows), and whether
the commit's delta counts it already."""


_key_of = itemgetter(rows.KEY)


def _per_source(inserted: list[EventRow], updated: list[EventRow]) -> dict[str, list[int]]:
    """[new events, newest ts, updated events] per source of what a commit stores."""
    source_of, ts_of = itemgetter(rows.SOURCE), itemgetter(rows.TS)
    if not updated:
        sources = set(map(source_of, inserted))
        if len(sources) == 1:  # a backfill's batch: one source, no per-row loop
            return {sources.pop(): [len(inserted), max(map(ts_of, inserted)), 0]}
    stats: dict[str, list[int]] = {}
    for stored, slot in ((inserted, 0), (updated, 2)):
        for row in stored:
            st = stats.setdefault(row[rows.SOURCE], [0, row[rows.TS], 0])
            st[slot] += 1
            st[1] = max(st[1], row[rows.TS])
    return stats


def _pick(chosen: dict[str, _Chosen], delta: Delta, key: str, candidate: _Chosen) -> None:
    """Keep the larger copy of `key` (the first among equals); a counted copy that loses
    is taken back out of `delta`."""
    have = chosen.get(key)
    if have is None:
        chosen[key] = candidate
    elif rows.tokens(candidate[0]) > rows.tokens(have[0]):
        if have[2]:
            delta.remove(have[0])
        chosen[key] = candidate
    elif candidate[2]:
        delta.remove(candidate[0])


def _workers_sums(
    prepared: list[PreparedRows], inserted: int, since: int
) -> tuple[Hours, Minutes] | None:
    """The hour and minute sums the parsing workers made of a backfill batch's rows, when
    they are exactly the inserted rows' (`inserted` of them): no copy lost to another, and
    every worker summed the minutes from `since` or earlier. None: sum by SQL instead."""
    if inserted != sum(len(block.rows) for block in prepared):
        return None
    hours, recent = Hours(), Minutes(since)
    for block in prepared:
        if block.hours is None or block.minutes is None or block.minutes.since_ms > since:
            return None
        hours.merge(block.hours)
        recent.merge(block.minutes)
    return hours, recent


def _bad_row(row: EventRow, message: str) -> BadRecord:
    from monitor.ledger.batch import BadRecord

    return BadRecord(*rows.origin_of(row), message)


class Ledger:
    """One SQLite file. Open read-write for ingesting, read-only for reports."""

    def __init__(
        self,
        path: Path,
        tz: tzinfo,
        tz_name: str,
        *,
        readonly: bool = False,
        threaded: bool = False,
    ) -> None:
        """`threaded`: the connection may be used from a worker thread (one at a time)."""
        self.path = Path(path)
        self.tz = tz
        self.tz_name = tz_name
        self.readonly = readonly
        self.day_of = DayOf(tz)
        self.db = connect(self.path, readonly=readonly, threaded=threaded)
        if not readonly:
            try:
                tune_for_writing(self.db)
                schema.migrate(self.db, self.path)
                self._ensure_timezone()
            except sqlite3.Error as exc:
                raise LedgerError(f"{self.path}: cannot write the ledger: {exc}") from exc
        self.last_counts: dict[str, tuple[int, int]] = {}
        """(new, updated) events per source of the last commit."""
        self.last_refused: list[BadRecord] = []
        """Events the last commit stored as bad records instead (`unstorable`)."""
        self._cache_kib = _CACHE_MIN_KIB
        """The page cache asked for (`tune_for_writing` sets 32 MiB)."""
        self._session_keys: set[int] | None = None
        """On a ledger opened empty, the hashes of the keys this process stored: only a key
        whose hash is in it can be stored (a collision costs one lookup, never a call)."""
        self._cold = False
        self._data_version = 0
        """SQLite's `data_version` when this process last saw what others stored."""
        self._last_id = 0
        """The largest event id after this process's last insert into a ledger opened empty."""
        if not readonly:
            # Read before the emptiness: another connection's write from here on moves it.
            self._data_version = self._others_commits()
            if self.db.execute("SELECT 1 FROM events LIMIT 1").fetchone() is None:
                self._session_keys = set()
                self._cold = True
        if readonly:
            try:
                version = self.schema_version()
            except sqlite3.Error as exc:
                self.db.close()
                raise LedgerError(f"{self.path}: cannot read the ledger: {exc}") from exc
            try:
                schema.check_version(version, self.path)
            except LedgerError:
                self.db.close()
                raise

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema -----------------------------------------------------------------

    def schema_version(self) -> int:
        return schema.schema_version(self.db)

    def _ensure_timezone(self) -> None:
        """Local days depend on the zone: a changed zone re-derives them (and the rollups)."""
        stored = schema.get_meta(self.db, "timezone")
        if stored == self.tz_name:
            return
        with transaction(self.db):
            if stored is not None:
                ids = self.db.execute("SELECT id, ts FROM events").fetchall()
                self.db.executemany(
                    "UPDATE events SET day=? WHERE id=?",
                    ((self.day_of(ts), i) for i, ts in ids),
                )
                rebuild(self.db)
            schema.set_meta(self.db, "timezone", self.tz_name)

    # -- cursors ----------------------------------------------------------------

    def cursors(self, source: str | None = None) -> list[Cursor]:
        from monitor.tail import Cursor

        new_cursor: Callable[..., Cursor] = Cursor
        sql = f"SELECT {', '.join(_CURSOR_COLUMNS)} FROM cursors"
        args: tuple[Any, ...] = ()
        if source is not None:
            sql += " WHERE source = ?"
            args = (source,)
        # Positionally (the columns are Cursor's fields in order): a restarted daemon
        # loads every file's cursor, 110 k of them for a 1 M-call tree.
        return [
            new_cursor(*r[:-1], json.loads(r[-1]) if r[-1] and r[-1] != "{}" else {})
            for r in self.db.execute(sql, args)
        ]

    def _others_commits(self) -> int:
        """SQLite's `data_version`: it moves with every other connection's commit to the
        ledger, never with this one's."""
        return int(self.db.execute("PRAGMA data_version").fetchone()[0])

    def change_mark(self) -> tuple[int, int]:
        """A mark that moves with every commit to the ledger, another connection's
        (`_others_commits`) or this one's (`total_changes`): what was read from it under one
        mark is still what it holds while the mark stays."""
        return self._others_commits(), self.db.total_changes

    # -- the exactly-once commit --------------------------------------------------

    def commit(self, batch: Batch, *, want_applied: bool = True) -> list[Applied]:
        """Store events, cursors and bad-record reports in one transaction (`_commit`).

        A ledger opened empty looks up only the keys this process inserted, for as long as
        no other connection stores events in it (`_existing`).
        """
        if not want_applied and batch.size >= _BULK_ROWS:
            self._fit_cache()
        return self._commit(batch, want_applied)

    def _fit_cache(self) -> None:
        """Give a backfill's commits a page cache of a quarter of the ledger (32–256 MiB),
        and checkpoint the WAL no more often than that much of it is written.

        Its rows land all over the key hashes', the cursors' and the tags' indexes (a
        quarter of a ledger together); with less cache than they take, every batch reads
        their pages back from the OS, and the scan grows faster than the tree (a 1 M-call
        scan read 8.4 GB back and took 65 s; with this, 3 GB and 46 s, same hour).
        `shrink_cache` gives the memory back."""
        pages, page_size = (
            self.db.execute("PRAGMA page_count").fetchone()[0],
            self.db.execute("PRAGMA page_size").fetchone()[0],
        )
        want = int(pages * page_size * _CACHE_SHARE) >> 10
        want = min(max(want, _CACHE_MIN_KIB), _CACHE_MAX_KIB)
        if want > self._cache_kib:
            self._cache_kib = want
            self.db.execute(f"PRAGMA cache_size = -{want}")
            # Each checkpoint copies every page the WAL holds into the ledger, the key
            # index's all over again (1 M calls: 3.0 → 2.45 GB read back, 57–58 s → 41–50 s
            # in two same-hour A/B pairs).
            every = checkpoint_pages(self.db, max(want << 10, CHECKPOINT_BYTES))
            self.db.execute(f"PRAGMA wal_autocheckpoint = {every}")

    def _commit(self, batch: Batch, want_applied: bool) -> list[Applied]:
        """Store events, cursors and bad-record reports in one transaction.

        Returns what changed: new events, and stored events superseded by a larger copy
        (with the stored version as `previous`). Re-delivered copies that are not larger
        change nothing and are not returned. A bulk backfill that needs no answer passes
        `want_applied=False` and is spared building it.
        """
        from monitor.ledger.batch import Applied

        self.last_counts = {}
        self.last_refused = []
        if not batch:
            return []
        db = self.db
        tokens = rows.tokens
        chosen, refused, delta = self._largest_copies(batch)
        applied: list[Applied] = []
        sums: tuple[Hours, Minutes] | None = None
        with transaction(db):
            self._check_cursors(batch.expected)
            files_added = self._files_added(batch)
            since = minutes.start(db, time.time_ns() // 1_000_000)
            changed = Minutes(since)  # what updates change in `minutely`
            existing = self._existing(list(chosen))
            inserts: list[EventRow] = []
            updates: list[EventRow] = []
            updated: list[EventRow] = []
            moved: set[tuple[str, int]] = set()  # (source, ts): hours to sum again
            if existing or want_applied or batch.events:
                for key, (row, ev, counted) in chosen.items():
                    old = existing.get(key)
                    if old is not None and tokens(row) <= tokens(old):
                        if counted:
                            delta.remove(row)
                        continue
                    if not counted:
                        delta.add(row)
                    if old is None:
                        inserts.append(row)
                        if want_applied:
                            applied.append(Applied(ev or event_from_row(row)))
                    else:
                        updated.append(row)
                        moved.update(
                            ((row[rows.SOURCE], row[rows.TS]), (old[rows.SOURCE], old[rows.TS]))
                        )
                        delta.remove(old)
                        changed.add(row)
                        changed.remove(old)
                        updates.append(rows.update_params(row))
                        if want_applied:
                            applied.append(Applied(ev or event_from_row(row), event_from_row(old)))
            else:
                # A backfill's batch: prepared rows only, none stored before, no answer
                # wanted. Every chosen row is inserted, its delta counted already.
                inserts = [c[0] for c in chosen.values()]
                sums = _workers_sums(batch.prepared, len(inserts), since)
            stats = _per_source(inserts, updated)
            if inserts:
                before = hourly.last_rowid(db) if sums is None else 0
                db.executemany(rows.INSERT_EVENT, inserts)
                if sums is None:
                    hourly.add_inserted(db, before)
                    minutes.add_inserted(db, before, since)
                else:
                    for summed in sums:
                        summed.apply(db)
                if self._session_keys is not None:
                    self._session_keys.update(map(hash, map(_key_of, inserts)))
                    self._last_id = hourly.last_rowid(db)
                    if len(self._session_keys) > _SESSION_KEYS_MAX:
                        self._session_keys = None  # memory bound: look every key up again
            if updates:
                db.executemany(rows.UPDATE_EVENT, updates)
                hourly.sum_again(db, moved)
                changed.apply(db)
            if delta:
                delta.apply(db)
            self.last_counts = {src: (v[0], v[2]) for src, v in stats.items()}
            for source, (n, last, _) in stats.items():
                db.execute(
                    """INSERT INTO source_stats (source, events, errors, last_event)
                       VALUES (?, ?, 0, ?)
                       ON CONFLICT (source) DO UPDATE SET events = events + excluded.events,
                           last_event = MAX(COALESCE(last_event, 0), excluded.last_event)""",
                    (source, n, last),
                )
            if batch.dropped_cursors:
                db.executemany(
                    "DELETE FROM cursors WHERE source = ? AND path = ?",
                    sorted(batch.dropped_cursors),
                )
            if batch.cursors:
                db.executemany(_PUT_CURSOR, [_cursor_row(c) for c in batch.cursors.values()])
            if any(files_added.values()):
                db.executemany(
                    """INSERT INTO source_files (source, files) VALUES (?, ?)
                       ON CONFLICT (source) DO UPDATE SET files = files + excluded.files""",
                    [(source, n) for source, n in files_added.items() if n],
                )
            if batch.limits:
                limits.store(db, batch.limits)
            if batch.errors or refused:
                self._record_errors([*batch.errors, *refused])
        self.last_refused = refused
        return applied

    def _largest_copies(self, batch: Batch) -> tuple[dict[str, _Chosen], list[BadRecord], Delta]:
        """The batch's storable rows, the largest copy of each key (first among equals), by
        key; the unstorable; and the rollup delta of the chosen rows that arrived counted
        (`PreparedRows`), those displaced by a larger copy already taken back out."""
        day_of = self.day_of
        chosen: dict[str, _Chosen] = {}
        refused: list[BadRecord] = []
        delta = Delta()
        for e in batch.events:
            row = event_row(e, day_of)
            why = unstorable(row)
            if why is not None:
                refused.append(_bad_row(row, why))
                continue
            _pick(chosen, delta, e.key, (row, e, False))
        for block in batch.prepared:
            delta.merge(block.delta)
            keys = list(map(_key_of, block.rows))
            if len(set(keys)) == len(keys) and chosen.keys().isdisjoint(keys):
                counted = zip(block.rows, repeat(None), repeat(True), strict=False)
                chosen.update(zip(keys, counted, strict=True))
                continue
            for key, row in zip(keys, block.rows, strict=True):
                _pick(chosen, delta, key, (row, None, True))
        return chosen, refused, delta

    def _check_cursors(self, expected: dict[tuple[str, str], CursorMark]) -> None:
        """CursorConflict unless every file's stored cursor is the one its bytes were
        read from. Inside the commit's write transaction, so nobody moves one meanwhile."""
        stored = self._stored_cursors(expected)
        moved = [key for key, mark in expected.items() if stored.get(key) != mark]
        if moved:
            # Another writer exists (or existed): keys this process did not insert may
            # be stored, so stop trusting the empty-ledger shortcut.
            self._session_keys = None
            from monitor.ledger.batch import CursorConflict

            raise CursorConflict(moved)

    def _stored_cursors(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], CursorMark]:
        """The stored cursor marks of those (source, path) that have one."""
        paths: dict[str, list[str]] = {}
        for source, path in keys:
            paths.setdefault(source, []).append(path)
        stored: dict[tuple[str, str], CursorMark] = {}
        for source, names in paths.items():
            for i in range(0, len(names), _KEY_CHUNK):
                part = names[i : i + _KEY_CHUNK]
                for path, file_id, offset in self.db.execute(
                    "SELECT path, file_id, offset FROM cursors WHERE source = ? AND path IN "
                    f"({','.join('?' * len(part))})",
                    (source, *part),
                ):
                    stored[(source, path)] = (file_id, offset)
        return stored

    def _files_added(self, batch: Batch) -> dict[str, int]:
        """How many files each source gains (a cursor put where there was none) or loses
        (one dropped) by this batch: `source_files` counts them. After `_check_cursors`
        every file the batch was read from has the cursor it expected; the others (a
        rotated file's new name) are looked up. Counted here, not by a trigger on
        `cursors`, which ran once per cursor: a cold backfill's 22 k cursors took
        0.35 s to store instead of 0.17 s."""
        present = {key: mark is not None for key, mark in batch.expected.items()}
        unknown = [k for k in (*batch.cursors, *batch.dropped_cursors) if k not in present]
        if unknown:
            stored = self._stored_cursors(unknown)
            present.update((key, key in stored) for key in unknown)
        added: dict[str, int] = {}
        for key in batch.cursors:
            if not present[key]:
                added[key[0]] = added.get(key[0], 0) + 1
        for key in batch.dropped_cursors:
            if present[key]:
                added[key[0]] = added.get(key[0], 0) - 1
        return added

    def _existing(self, keys: list[str]) -> dict[str, EventRow]:
        """Stored rows for `keys`, shaped like `event_row` output.

        A ledger that was empty when opened can only hold keys this process inserted:
        only those are looked up, which spares a cold backfill most of its queries. Only
        while no other connection has stored events, though: one writer of events at a time
        is the writer lock's rule, and a process that broke it could have stored any key
        (the events table has no unique index on its keys to refuse a second copy:
        `rows.key_hash`). Asked inside the commit's write transaction, so nobody writes
        meanwhile.
        """
        session = self._session_keys
        if session is not None and self._others_stored():
            session = self._session_keys = None
        if session is not None:
            if session.isdisjoint(map(hash, keys)):
                return {}
            keys = [k for k in keys if hash(k) in session]
        wanted = set(keys)
        hashes = sorted({rows.key_hash(k) for k in wanted})
        found: dict[str, EventRow] = {}
        for i in range(0, len(hashes), _KEY_CHUNK):
            part = hashes[i : i + _KEY_CHUNK]
            marks = ",".join("?" * len(part))
            for row in self.db.execute(
                f"SELECT {rows.COLUMN_LIST} FROM events WHERE key_hash IN ({marks})", part
            ):
                if row[rows.KEY] in wanted:  # not another key of the same hash
                    found[row[rows.KEY]] = tuple(row)
        return found

    def _others_stored(self) -> bool:
        """Whether another connection stored events since this one last looked.

        `_others_commits` moves with every other connection's commit; most are not events
        (the daemon records alerts and meta while its child backfills). Those that are
        leave the table's largest id past this process's last.
        """
        version = self._others_commits()
        if version == self._data_version:
            return False
        self._data_version = version
        return hourly.last_rowid(self.db) != self._last_id

    def _record_errors(self, errors: Iterable[BadRecord]) -> None:
        now = ts_ms(datetime.now().astimezone())
        counts: dict[str, int] = {}
        found = []
        for err in errors:
            counts[err.source] = counts.get(err.source, 0) + 1
            found.append((err.source, err.path, err.offset, err.message[:500], now))
        self.db.executemany(
            "INSERT INTO parse_errors (source, path, offset, message, at) VALUES (?,?,?,?,?)",
            found,
        )
        for source, n in counts.items():
            self.db.execute(
                """INSERT INTO source_stats (source, events, errors) VALUES (?, 0, ?)
                   ON CONFLICT (source) DO UPDATE SET errors = errors + excluded.errors""",
                (source, n),
            )
            self.db.execute(
                """DELETE FROM parse_errors WHERE source = ? AND id NOT IN (
                       SELECT id FROM parse_errors WHERE source = ? ORDER BY id DESC LIMIT ?)""",
                (source, source, MAX_ERRORS_KEPT),
            )

    # -- repricing -------------------------------------------------------------------

    def rewrite_costs(self, changes: Iterable[tuple[UsageEvent, UsageEvent]]) -> int:
        """Store new costs for (old, new) pairs of the same key, keeping the rollups in step."""
        n = 0
        delta = Delta()
        hours = Hours()
        with transaction(self.db):
            recent = Minutes(minutes.start(self.db, time.time_ns() // 1_000_000))
            for old, new in changes:
                new_row = event_row(new, self.day_of)
                old_row = event_row(old, self.day_of)
                delta.remove(old_row)
                delta.add(new_row)
                hours.reprice(old_row, new_row)
                recent.remove(old_row)
                recent.add(new_row)
                self.db.execute(rows.REPRICE_EVENT, rows.reprice_params(new_row))
                n += 1
            if delta:
                delta.apply(self.db)
                hours.apply(self.db)
                recent.apply(self.db)
        return n

    # -- reading -------------------------------------------------------------------

    def iter_events(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[UsageEvent]:
        return reads.events_between(self.db, since, until)

    def event_pages(self, page: int = 20_000) -> Iterator[list[UsageEvent]]:
        """Every event, a page at a time (keyset on id): bounded memory for any ledger."""
        return reads.event_pages(self.db, page)

    def recent_events(self, limit: int) -> list[UsageEvent]:
        return reads.recent_events(self.db, limit)

    @property
    def was_empty(self) -> bool:
        """The ledger held no event when opened (a first backfill is under way)."""
        return self._cold

    def meta(self, key: str) -> str | None:
        return schema.get_meta(self.db, key)

    def set_meta(self, key: str, value: str) -> None:
        schema.set_meta(self.db, key, value)

    def shrink_cache(self) -> None:
        """After a backfill: a long-lived daemon needs neither a backfill's page cache nor
        its key set and memos."""
        self.db.execute("PRAGMA cache_size = -4096")
        pages = checkpoint_pages(self.db, CHECKPOINT_BYTES)
        self.db.execute(f"PRAGMA wal_autocheckpoint = {pages}")
        self._cache_kib = 4096
        self.db.execute("PRAGMA shrink_memory")
        self._session_keys = None
        rows.forget_memos()
        self.day_of = DayOf(self.tz)

    def source_stats(self) -> dict[str, dict[str, Any]]:
        """Per source: events, errors (bad records), last_event (datetime) and files."""
        out: dict[str, dict[str, Any]] = {
            s.source: {"events": s.events, "errors": s.errors, "last_event": s.last_event}
            for s in reads.source_stats(self.db)
        }
        for source, files in reads.files_per_source(self.db).items():
            out.setdefault(source, {"events": 0, "errors": 0, "last_event": None})["files"] = files
        return out

    def unpriced(self) -> list[reads.UnpricedModel]:
        """(provider, model, calls) of every model that has unpriced calls."""
        return reads.unpriced_models(self.db)
