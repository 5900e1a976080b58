"""The SQLite ledger: schema, migrations, the exactly-once commit, and its bookkeeping.

Exactly-once rests on one rule: the events read from a file and that file's cursor
(offset + adapter state) are committed in ONE transaction. A crash before the commit
loses both (the bytes are read again); a crash after keeps both (they are not).

Events are unique by `key`. A second copy of a key replaces the stored one only when it
carries more tokens — Claude Code writes one message several times while it streams —
and the caller is told the previous version so running totals move by the difference.

A `daily` rollup (local day in the ledger's time zone × source × provider × model ×
operation) and a `daily_tags` rollup (the same, per tag name and value) are maintained in
the same transaction, so reports over millions of events read a few thousand rows.
Changing the time zone rebuilds both.

Readers (`report`, `status`) open the file read-only beside a running daemon: WAL lets
them read a consistent snapshot while the daemon writes.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from operator import add
from pathlib import Path
from typing import Any, Final

from monitor.events import (
    MAX_COST_USD,
    MAX_TOKENS,
    UsageEvent,
    from_ts_ms,
    opt_from_nano,
    opt_to_nano,
    to_nano,
    ts_ms,
)
from monitor.tail import Cursor

SCHEMA_VERSION: Final = 4

_SCHEMA_V1: Final = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    ts INTEGER NOT NULL,                -- epoch milliseconds, UTC
    day TEXT NOT NULL,                  -- local date (ledger time zone), YYYY-MM-DD
    source TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    operation TEXT NOT NULL DEFAULT '', -- '' when the record names none
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens INTEGER NOT NULL DEFAULT 0,
    cache_write_1h_tokens INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens INTEGER NOT NULL DEFAULT 0,
    calls INTEGER NOT NULL DEFAULT 1,
    cost_nano INTEGER,                  -- NULL: unpriced
    cost_basis TEXT NOT NULL,
    reported_nano INTEGER,
    priced_nano INTEGER,
    tags TEXT NOT NULL DEFAULT '{}',    -- JSON object of strings
    origin TEXT NOT NULL DEFAULT '',
    flags INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX events_ts ON events (ts);
CREATE INDEX events_day ON events (day);
CREATE TABLE daily (
    day TEXT NOT NULL,
    source TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    operation TEXT NOT NULL,
    events INTEGER NOT NULL DEFAULT 0,
    calls INTEGER NOT NULL DEFAULT 0,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens INTEGER NOT NULL DEFAULT 0,
    cost_nano INTEGER NOT NULL DEFAULT 0,
    unpriced_calls INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (day, source, provider, model, operation)
) WITHOUT ROWID;
CREATE TABLE cursors (
    source TEXT NOT NULL,
    path TEXT NOT NULL,
    dev INTEGER NOT NULL,
    inode INTEGER NOT NULL,
    fp_len INTEGER NOT NULL,
    fp_hash TEXT NOT NULL,
    file_id TEXT NOT NULL,
    offset INTEGER NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    state TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (source, path)
);
CREATE TABLE source_stats (
    source TEXT PRIMARY KEY,
    events INTEGER NOT NULL DEFAULT 0,
    errors INTEGER NOT NULL DEFAULT 0,
    last_event INTEGER                  -- epoch ms of the newest event's ts
);
CREATE TABLE parse_errors (
    id INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    path TEXT NOT NULL,
    offset INTEGER NOT NULL,
    message TEXT NOT NULL,
    at INTEGER NOT NULL                 -- epoch ms when it was seen
);
"""

_SCHEMA_V2: Final = """
CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,                 -- budget | forecast | spike | health | test
    rule TEXT NOT NULL DEFAULT '',      -- budget name, spike rule or source name
    period TEXT NOT NULL DEFAULT '',    -- period instance: 2026-11-23, 2026-W48, 2026-11, …
    threshold TEXT NOT NULL DEFAULT '', -- "0.8", "forecast", …
    created INTEGER NOT NULL,           -- epoch ms when decided
    severity TEXT NOT NULL,             -- info | warning | failure
    title TEXT NOT NULL,
    body TEXT NOT NULL,
    hold_until INTEGER,                 -- epoch ms: held by quiet hours until then
    delivered INTEGER NOT NULL DEFAULT 0, -- epoch ms of delivery, 0 = not yet
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    UNIQUE (kind, rule, period, threshold)
);
CREATE INDEX alerts_pending ON alerts (delivered) WHERE delivered = 0;
"""

_FILL_DAILY_TAGS: Final = """
INSERT INTO daily_tags
SELECT t.key, t.value, g.day, g.source, g.provider, g.model, g.operation, SUM(g.events),
    SUM(g.calls), SUM(g.input_tokens), SUM(g.output_tokens), SUM(g.cache_read_tokens),
    SUM(g.cache_write_tokens), SUM(g.reasoning_tokens), SUM(g.cost_nano),
    SUM(g.unpriced_calls)
FROM (
    SELECT day, source, provider, model, operation, tags, COUNT(*) AS events,
        SUM(calls) AS calls, SUM(input_tokens) AS input_tokens,
        SUM(output_tokens) AS output_tokens, SUM(cache_read_tokens) AS cache_read_tokens,
        SUM(cache_write_tokens) AS cache_write_tokens, SUM(reasoning_tokens) AS reasoning_tokens,
        COALESCE(SUM(cost_nano), 0) AS cost_nano,
        SUM(CASE WHEN cost_nano IS NULL THEN calls ELSE 0 END) AS unpriced_calls
    FROM events WHERE tags <> '{}'
    GROUP BY day, source, provider, model, operation, tags
) AS g, json_each(g.tags) AS t
GROUP BY t.key, t.value, g.day, g.source, g.provider, g.model, g.operation
"""
"""`daily_tags` from the events. Events that share their tags are summed first, so the
JSON is read once per session and day, not once per event: 3× faster over 1 M events."""

# Tag reports (per project, session, run, …) read this instead of parsing every event's
# JSON. An event lacking a tag has no row here: its share is `daily` minus the tag's rows.
_SCHEMA_V3: Final = f"""
CREATE TABLE daily_tags (
    tag TEXT NOT NULL,
    value TEXT NOT NULL,
    day TEXT NOT NULL,
    source TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    operation TEXT NOT NULL,
    events INTEGER NOT NULL DEFAULT 0,
    calls INTEGER NOT NULL DEFAULT 0,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cache_read_tokens INTEGER NOT NULL DEFAULT 0,
    cache_write_tokens INTEGER NOT NULL DEFAULT 0,
    reasoning_tokens INTEGER NOT NULL DEFAULT 0,
    cost_nano INTEGER NOT NULL DEFAULT 0,
    unpriced_calls INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tag, value, day, source, provider, model, operation)
) WITHOUT ROWID;
{_FILL_DAILY_TAGS}
"""

# Which targets confirmed an alert, so a restart owes it only to the others: a JSON list
# of the redacted target labels `monitor.notify.Notifier` uses, '' for none yet.
_SCHEMA_V4: Final = """
ALTER TABLE alerts ADD COLUMN sent_to TEXT NOT NULL DEFAULT ''
"""

MIGRATIONS: Final[dict[int, str]] = {
    1: _SCHEMA_V1,
    2: _SCHEMA_V2,
    3: _SCHEMA_V3,
    4: _SCHEMA_V4,
}
"""version → SQL that brings a ledger from version-1 to version."""

_EVENT_COLS: Final = (
    "key, ts, day, source, provider, model, operation, input_tokens, output_tokens, "
    "cache_read_tokens, cache_write_tokens, cache_write_1h_tokens, reasoning_tokens, calls, "
    "cost_nano, cost_basis, reported_nano, priced_nano, tags, origin, flags"
)
_COL_NAMES: Final = tuple(c.strip() for c in _EVENT_COLS.split(","))
_INSERT_EVENT: Final = (
    f"INSERT INTO events ({_EVENT_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
_UPDATE_EVENT: Final = (
    "UPDATE events SET ts=?, day=?, source=?, provider=?, model=?, operation=?, input_tokens=?, "
    "output_tokens=?, cache_read_tokens=?, cache_write_tokens=?, cache_write_1h_tokens=?, "
    "reasoning_tokens=?, calls=?, cost_nano=?, cost_basis=?, reported_nano=?, priced_nano=?, "
    "tags=?, origin=?, flags=? WHERE key=?"
)
_UPSERT_DAILY: Final = """
INSERT INTO daily (day, source, provider, model, operation, events, calls, input_tokens,
    output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens, cost_nano,
    unpriced_calls)
VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)
ON CONFLICT (day, source, provider, model, operation) DO UPDATE SET
    events = events + excluded.events,
    calls = calls + excluded.calls,
    input_tokens = input_tokens + excluded.input_tokens,
    output_tokens = output_tokens + excluded.output_tokens,
    cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
    cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
    reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens,
    cost_nano = cost_nano + excluded.cost_nano,
    unpriced_calls = unpriced_calls + excluded.unpriced_calls
"""
_UPSERT_DAILY_TAGS: Final = """
INSERT INTO daily_tags (tag, value, day, source, provider, model, operation, events, calls,
    input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, reasoning_tokens,
    cost_nano, unpriced_calls)
SELECT t.key, t.value, ?1, ?2, ?3, ?4, ?5, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15
FROM json_each(?6) AS t WHERE true
ON CONFLICT (tag, value, day, source, provider, model, operation) DO UPDATE SET
    events = events + excluded.events,
    calls = calls + excluded.calls,
    input_tokens = input_tokens + excluded.input_tokens,
    output_tokens = output_tokens + excluded.output_tokens,
    cache_read_tokens = cache_read_tokens + excluded.cache_read_tokens,
    cache_write_tokens = cache_write_tokens + excluded.cache_write_tokens,
    reasoning_tokens = reasoning_tokens + excluded.reasoning_tokens,
    cost_nano = cost_nano + excluded.cost_nano,
    unpriced_calls = unpriced_calls + excluded.unpriced_calls
"""
"""One `_rollup_delta` group (day, …, tags JSON, sums) → a row per tag. SQLite splits the
JSON (`WHERE true` keeps the upsert's ON from reading as a join's): the parser the
migration and `json_extract` use, and cheaper than splitting it in Python."""
_KEY_CHUNK: Final = 500
_SESSION_KEYS_MAX: Final = 400_000
MAX_ERRORS_KEPT: Final = 1000
"""Parse errors kept per source (the count in source_stats is never trimmed)."""


class LedgerError(Exception):
    """The ledger cannot be opened or is from a newer version of llm-monitor."""


class CursorConflict(Exception):
    """A batch was read from cursors the ledger no longer holds: another writer moved them.

    Nothing of the batch was stored; the caller re-reads `paths` from the stored cursors.
    """

    def __init__(self, paths: list[tuple[str, str]]) -> None:
        super().__init__(f"cursors moved under this batch: {paths[:3]}")
        self.paths = paths


CursorMark = tuple[str, int] | None
"""What a batch expects the ledger to hold for a file: (file_id, offset), or no cursor."""


def cursor_mark(cursor: Cursor | None) -> CursorMark:
    return None if cursor is None else (cursor.file_id, cursor.offset)


@dataclass(frozen=True, slots=True)
class Applied:
    """An event the commit stored: new (`previous` None) or a larger copy of a stored one."""

    event: UsageEvent
    previous: UsageEvent | None = None


@dataclass(frozen=True, slots=True)
class BadRecord:
    source: str
    path: str
    offset: int
    message: str


@dataclass(slots=True)
class Batch:
    """What one commit stores atomically."""

    events: list[UsageEvent] = field(default_factory=list)
    cursors: dict[tuple[str, str], Cursor] = field(default_factory=dict)
    """The latest cursor per (source, path); see `put_cursor` / `drop_cursor`."""
    errors: list[BadRecord] = field(default_factory=list)
    rows: list[tuple[Any, ...]] = field(default_factory=list)
    """Events already turned into ledger rows (`event_row`), e.g. by parsing workers."""
    dropped_cursors: set[tuple[str, str]] = field(default_factory=set)
    """(source, path) of cursors whose file moved to a path that has its own cursor now."""
    expected: dict[tuple[str, str], CursorMark] = field(default_factory=dict)
    """Per file read for this batch, the cursor it was read from: the commit stores the
    batch only if the ledger still holds exactly these (compare-and-swap)."""

    def expect(self, source: str, path: str, stored: Cursor | None) -> None:
        """Record the cursor a file's reading starts from (the first time only)."""
        self.expected.setdefault((source, path), cursor_mark(stored))

    def put_cursor(self, cursor: Cursor) -> None:
        key = (cursor.source, cursor.path)
        self.cursors[key] = cursor
        self.dropped_cursors.discard(key)

    def drop_cursor(self, source: str, path: str) -> None:
        """Forget a path's cursor, whatever this batch recorded for it before."""
        self.cursors.pop((source, path), None)
        self.dropped_cursors.add((source, path))

    def __bool__(self) -> bool:
        return bool(self.events or self.rows or self.cursors or self.errors or self.dropped_cursors)


class DayOf:
    """Epoch ms → local day string, memoized per quarter hour (every real UTC offset is
    a multiple of 15 minutes), so a backfill converts each time zone boundary once."""

    def __init__(self, tz: tzinfo) -> None:
        self.tz = tz
        self._memo: dict[int, str] = {}

    def __call__(self, ms: int) -> str:
        q = ms // 900_000
        day = self._memo.get(q)
        if day is None:
            day = from_ts_ms(q * 900_000).astimezone(self.tz).date().isoformat()
            if len(self._memo) > 100_000:
                self._memo.clear()
            self._memo[q] = day
        return day


_TAGS_MEMO: dict[tuple[tuple[str, str], ...], str] = {}


def _tags_json(tags: dict[str, str]) -> str:
    """Tags as stored JSON, memoized: a session's events all carry the same few tags."""
    if not tags:
        return "{}"
    key = tuple(tags.items())
    text = _TAGS_MEMO.get(key)
    if text is None:
        text = json.dumps(dict(sorted(tags.items())), separators=(",", ":"))
        if len(_TAGS_MEMO) > 50_000:
            _TAGS_MEMO.clear()
        _TAGS_MEMO[key] = text
    return text


def event_row(e: UsageEvent, day_of: DayOf) -> tuple[Any, ...]:
    ms = ts_ms(e.ts)
    return (
        e.key,
        ms,
        day_of(ms),
        e.source,
        e.provider,
        e.model,
        e.operation or "",
        e.input_tokens,
        e.output_tokens,
        e.cache_read_tokens,
        e.cache_write_tokens,
        e.cache_write_1h_tokens,
        e.reasoning_tokens,
        e.calls,
        opt_to_nano(e.cost),
        e.cost_basis,
        opt_to_nano(e.reported_cost),
        opt_to_nano(e.priced_cost),
        _tags_json(e.tags),
        e.origin,
        e.flags,
    )


_COUNT_COLS: Final = tuple(range(7, 14))
_MONEY_COLS: Final = (14, 16, 17)
_MAX_NANO: Final = to_nano(MAX_COST_USD)


def unstorable(row: Sequence[Any]) -> str | None:
    """Why an event row must not be stored (a count or an amount out of range), or None.

    The adapters check values first; this is the ledger's own guard, so that no value
    can ever fail a commit (SQLite refuses integers past 64 bits) and stop ingestion.
    """
    for i in _COUNT_COLS:
        v = row[i]
        if type(v) is not int or not 0 <= v <= MAX_TOKENS:
            return f"{_COL_NAMES[i]} {v!r} is not a count (0 to {MAX_TOKENS})"
    for i in _MONEY_COLS:
        v = row[i]
        if v is not None and not -_MAX_NANO <= v <= _MAX_NANO:
            return f"{_COL_NAMES[i]} {v!r} nano-dollars is out of range"
    return None


def _bad_row(row: Sequence[Any], message: str) -> BadRecord:
    path, _, offset = str(row[_COL_NAMES.index("origin")]).rpartition(":")
    return BadRecord(row[3], path, int(offset) if offset.isdigit() else 0, message)


def event_from_row(row: Sequence[Any]) -> UsageEvent:
    """A row selected with `_EVENT_COLS` (in that order) → UsageEvent."""
    tags = row[18]
    return UsageEvent(
        key=row[0],
        ts=from_ts_ms(row[1]),
        source=row[3],
        provider=row[4],
        model=row[5],
        operation=row[6] or None,
        input_tokens=row[7],
        output_tokens=row[8],
        cache_read_tokens=row[9],
        cache_write_tokens=row[10],
        cache_write_1h_tokens=row[11],
        reasoning_tokens=row[12],
        calls=row[13],
        cost=opt_from_nano(row[14]),
        cost_basis=row[15],
        reported_cost=opt_from_nano(row[16]),
        priced_cost=opt_from_nano(row[17]),
        tags=json.loads(tags) if tags and tags != "{}" else {},
        origin=row[19],
        flags=row[20],
    )


RollupKey = tuple[str, str, str, str, str, str]
"""(day, source, provider, model, operation, tags JSON): one `daily` row, split by tags."""


def _rollup_delta(acc: dict[RollupKey, list[int]], row: tuple[Any, ...], sign: int) -> None:
    key = (row[2], row[3], row[4], row[5], row[6], row[18])
    cur = acc.get(key)
    if cur is None:
        cur = acc[key] = [0] * 9
    calls = row[13]
    cost = row[14]
    cur[0] += sign
    cur[1] += sign * calls
    cur[2] += sign * row[7]
    cur[3] += sign * row[8]
    cur[4] += sign * row[9]
    cur[5] += sign * row[10]
    cur[6] += sign * row[12]
    if cost is None:
        cur[8] += sign * calls
    else:
        cur[7] += sign * cost


def _rollup_rows(
    acc: dict[RollupKey, list[int]],
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The accumulated deltas as parameter rows of `_UPSERT_DAILY` and `_UPSERT_DAILY_TAGS`."""
    daily: dict[tuple[str, str, str, str, str], list[int]] = {}
    tagged: list[tuple[Any, ...]] = []
    for key, delta in acc.items():
        dims = key[:5]
        have = daily.get(dims)
        daily[dims] = delta if have is None else list(map(add, have, delta))
        if key[5] != "{}":
            tagged.append((*key, *delta))
    return [(*k, *v) for k, v in daily.items()], tagged


def _check_writable(path: Path) -> None:
    """LedgerError unless the ledger and its WAL files, where they exist, can be written.

    SQLite maps the `-shm` file into memory: one it cannot write (made immutable, owned by
    another user) fails deep inside SQLite, as a bus error in the worst case. Say so first.
    """
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            fd = os.open(p, os.O_RDWR)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise LedgerError(
                f"{p}: cannot write it ({exc.strerror}); the ledger needs it writable"
            ) from exc
        os.close(fd)


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
        try:
            if readonly:
                uri = f"file:{self.path}?mode=ro"
                self.db = sqlite3.connect(
                    uri, uri=True, isolation_level=None, check_same_thread=not threaded
                )
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                _check_writable(self.path)
                self.db = sqlite3.connect(
                    self.path, isolation_level=None, check_same_thread=not threaded
                )
        except sqlite3.Error as exc:
            raise LedgerError(f"{self.path}: cannot open the ledger: {exc}") from exc
        self.db.execute("PRAGMA busy_timeout = 10000")
        if not readonly:
            try:
                self.db.execute("PRAGMA journal_mode = WAL")
                self.db.execute("PRAGMA synchronous = NORMAL")
                # Inserting keys in random order touches the whole unique index: give the
                # page cache room (64 MiB) so a backfill does not thrash.
                self.db.execute("PRAGMA cache_size = -65536")
                # Checkpoint less often than every 4 MiB of WAL: a backfill writes hundreds.
                self.db.execute("PRAGMA wal_autocheckpoint = 16384")
                self._migrate()
                self._ensure_timezone()
            except sqlite3.Error as exc:
                raise LedgerError(f"{self.path}: cannot write the ledger: {exc}") from exc
        self.last_counts: dict[str, tuple[int, int]] = {}
        """(new, updated) events per source of the last commit."""
        self.last_refused: list[BadRecord] = []
        """Events the last commit stored as bad records instead (`unstorable`)."""
        self._session_keys: set[str] | None = None
        self._cold = False
        if not readonly and self.db.execute("SELECT 1 FROM events LIMIT 1").fetchone() is None:
            self._session_keys = set()
            self._cold = True
        if readonly:
            try:
                version = self.schema_version()
            except sqlite3.Error as exc:
                self.db.close()
                raise LedgerError(f"{self.path}: cannot read the ledger: {exc}") from exc
            if version > SCHEMA_VERSION:
                raise LedgerError(
                    f"{self.path}: ledger schema {version} is newer than this llm-monitor "
                    f"({SCHEMA_VERSION}); upgrade llm-monitor"
                )

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema -----------------------------------------------------------------

    def schema_version(self) -> int:
        try:
            row = self.db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        except sqlite3.OperationalError:
            return 0
        return int(row[0]) if row else 0

    def _migrate(self) -> None:
        version = self.schema_version()
        if version > SCHEMA_VERSION:
            raise LedgerError(
                f"{self.path}: ledger schema {version} is newer than this llm-monitor "
                f"({SCHEMA_VERSION}); upgrade llm-monitor"
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            self.db.execute("BEGIN IMMEDIATE")
            try:
                for statement in _split_sql(MIGRATIONS[target]):
                    self.db.execute(statement)
                self.db.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema', ?)",
                    (str(target),),
                )
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    def _ensure_timezone(self) -> None:
        """Local days depend on the zone: a changed zone re-derives them (and the rollup)."""
        row = self.db.execute("SELECT value FROM meta WHERE key='timezone'").fetchone()
        if row and row[0] == self.tz_name:
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            if row is not None:
                ids = self.db.execute("SELECT id, ts FROM events").fetchall()
                self.db.executemany(
                    "UPDATE events SET day=? WHERE id=?",
                    ((self.day_of(ts), i) for i, ts in ids),
                )
                self._rebuild_daily()
            self.db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('timezone', ?)",
                (self.tz_name,),
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def _rebuild_daily(self) -> None:
        """Both rollups from the events (their days just changed)."""
        self.db.execute("DELETE FROM daily")
        self.db.execute("DELETE FROM daily_tags")
        self.db.execute(_FILL_DAILY_TAGS)
        self.db.execute(
            """INSERT INTO daily SELECT day, source, provider, model, operation, COUNT(*),
                   SUM(calls), SUM(input_tokens), SUM(output_tokens), SUM(cache_read_tokens),
                   SUM(cache_write_tokens), SUM(reasoning_tokens), COALESCE(SUM(cost_nano), 0),
                   SUM(CASE WHEN cost_nano IS NULL THEN calls ELSE 0 END)
               FROM events GROUP BY day, source, provider, model, operation"""
        )

    # -- cursors ----------------------------------------------------------------

    def cursors(self, source: str | None = None) -> list[Cursor]:
        sql = (
            "SELECT source, path, dev, inode, fp_len, fp_hash, file_id, offset, size, "
            "mtime_ns, state FROM cursors"
        )
        args: tuple[Any, ...] = ()
        if source is not None:
            sql += " WHERE source = ?"
            args = (source,)
        return [
            Cursor(
                source=r[0],
                path=r[1],
                dev=r[2],
                inode=r[3],
                fp_len=r[4],
                fp_hash=r[5],
                file_id=r[6],
                offset=r[7],
                size=r[8],
                mtime_ns=r[9],
                state=json.loads(r[10]) if r[10] and r[10] != "{}" else {},
            )
            for r in self.db.execute(sql, args)
        ]

    # -- the exactly-once commit --------------------------------------------------

    def commit(self, batch: Batch, *, want_applied: bool = True) -> list[Applied]:
        """Store events, cursors and bad-record reports in one transaction (`_commit`).

        A ledger opened empty looks up only the keys this process inserted; should another
        writer have slipped in, the unique key says so and the commit is redone looking up
        every key.
        """
        try:
            return self._commit(batch, want_applied)
        except sqlite3.IntegrityError:
            if self._session_keys is None:
                raise
            self._session_keys = None
            return self._commit(batch, want_applied)

    def _commit(self, batch: Batch, want_applied: bool) -> list[Applied]:
        """Store events, cursors and bad-record reports in one transaction.

        Returns what changed: new events, and stored events superseded by a larger copy
        (with the stored version as `previous`). Re-delivered copies that are not larger
        change nothing and are not returned. A bulk backfill that needs no answer passes
        `want_applied=False` and is spared building it.
        """
        self.last_counts = {}
        self.last_refused = []
        if not batch:
            return []
        db = self.db
        day_of = self.day_of
        # Within the batch, the largest copy of each key wins (first among equals).
        chosen: dict[str, tuple[tuple[Any, ...], UsageEvent | None]] = {}
        refused: list[BadRecord] = []
        candidates: list[tuple[tuple[Any, ...], UsageEvent | None]]
        candidates = [(event_row(e, day_of), e) for e in batch.events]
        candidates += [(row, None) for row in batch.rows]
        for row, ev in candidates:
            why = unstorable(row)
            if why is not None:
                refused.append(_bad_row(row, why))
                continue
            have = chosen.get(row[0])
            if have is None or row[7] + row[8] > have[0][7] + have[0][8]:
                chosen[row[0]] = (row, ev)
        applied: list[Applied] = []
        db.execute("BEGIN IMMEDIATE")
        try:
            self._check_cursors(batch.expected)
            existing = self._existing(list(chosen))
            inserts: list[tuple[Any, ...]] = []
            updates: list[tuple[Any, ...]] = []
            rollup: dict[RollupKey, list[int]] = {}
            stats: dict[str, list[int]] = {}
            for key, (row, ev) in chosen.items():
                old = existing.get(key)
                if old is not None and row[7] + row[8] <= old[7] + old[8]:
                    continue
                _rollup_delta(rollup, row, 1)
                st = stats.get(row[3])
                if st is None:
                    st = stats[row[3]] = [0, row[1], 0]
                elif row[1] > st[1]:
                    st[1] = row[1]
                if old is None:
                    inserts.append(row)
                    st[0] += 1
                else:
                    st[2] += 1
                if old is None:
                    if want_applied:
                        applied.append(Applied(ev or event_from_row(row)))
                else:
                    _rollup_delta(rollup, old, -1)
                    updates.append((*row[1:], key))
                    if want_applied:
                        applied.append(Applied(ev or event_from_row(row), event_from_row(old)))
            if inserts:
                db.executemany(_INSERT_EVENT, inserts)
                if self._session_keys is not None:
                    self._session_keys.update(r[0] for r in inserts)
                    if len(self._session_keys) > _SESSION_KEYS_MAX:
                        self._session_keys = None  # memory bound: look every key up again
            if updates:
                db.executemany(_UPDATE_EVENT, updates)
            if rollup:
                self._apply_rollup(rollup)
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
                db.executemany(
                    """INSERT OR REPLACE INTO cursors (source, path, dev, inode, fp_len, fp_hash,
                           file_id, offset, size, mtime_ns, state)
                       VALUES (?,?,?,?,?,?,?,?,?,?,?)""",
                    [
                        (
                            c.source,
                            c.path,
                            c.dev,
                            c.inode,
                            c.fp_len,
                            c.fp_hash,
                            c.file_id,
                            c.offset,
                            c.size,
                            c.mtime_ns,
                            json.dumps(c.state, separators=(",", ":")) if c.state else "{}",
                        )
                        for c in batch.cursors.values()
                    ],
                )
            if batch.errors or refused:
                self._record_errors([*batch.errors, *refused])
            db.execute("COMMIT")
            self.last_refused = refused
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return applied

    def _check_cursors(self, expected: dict[tuple[str, str], CursorMark]) -> None:
        """CursorConflict unless every file's stored cursor is the one its bytes were
        read from. Inside the commit's write transaction, so nobody moves one meanwhile."""
        moved = []
        for (source, path), mark in expected.items():
            row = self.db.execute(
                "SELECT file_id, offset FROM cursors WHERE source = ? AND path = ?",
                (source, path),
            ).fetchone()
            if (None if row is None else (row[0], row[1])) != mark:
                moved.append((source, path))
        if moved:
            # Another writer exists (or existed): keys this process did not insert may
            # be stored, so stop trusting the empty-ledger shortcut.
            self._session_keys = None
            raise CursorConflict(moved)

    def _apply_rollup(self, acc: dict[RollupKey, list[int]]) -> None:
        daily, tagged = _rollup_rows(acc)
        self.db.executemany(_UPSERT_DAILY, daily)
        if tagged:
            self.db.executemany(_UPSERT_DAILY_TAGS, tagged)

    def _existing(self, keys: list[str]) -> dict[str, tuple[Any, ...]]:
        """Stored rows for `keys`, shaped like `event_row` output.

        A ledger that was empty when opened can only hold keys this process inserted:
        only those are looked up, which spares a cold backfill most of its queries.
        """
        if self._session_keys is not None:
            keys = [k for k in keys if k in self._session_keys]
        found: dict[str, tuple[Any, ...]] = {}
        for i in range(0, len(keys), _KEY_CHUNK):
            part = keys[i : i + _KEY_CHUNK]
            marks = ",".join("?" * len(part))
            for row in self.db.execute(
                f"SELECT {_EVENT_COLS} FROM events WHERE key IN ({marks})", part
            ):
                found[row[0]] = tuple(row)
        return found

    def _record_errors(self, errors: Iterable[BadRecord]) -> None:
        now = ts_ms(datetime.now().astimezone())
        counts: dict[str, int] = {}
        rows = []
        for err in errors:
            counts[err.source] = counts.get(err.source, 0) + 1
            rows.append((err.source, err.path, err.offset, err.message[:500], now))
        self.db.executemany(
            "INSERT INTO parse_errors (source, path, offset, message, at) VALUES (?,?,?,?,?)",
            rows,
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

    # -- reading -------------------------------------------------------------------

    def iter_events(
        self, since: datetime | None = None, until: datetime | None = None
    ) -> Iterator[UsageEvent]:
        sql = f"SELECT {_EVENT_COLS} FROM events"
        clauses = []
        args: list[Any] = []
        if since is not None:
            clauses.append("ts >= ?")
            args.append(ts_ms(since))
        if until is not None:
            clauses.append("ts < ?")
            args.append(ts_ms(until))
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY ts, id"
        for row in self.db.execute(sql, args):
            yield event_from_row(row)

    def event_pages(self, page: int = 20_000) -> Iterator[list[UsageEvent]]:
        """Every event, a page at a time (keyset on id): bounded memory for any ledger."""
        last = 0
        while True:
            rows = self.db.execute(
                f"SELECT id, {_EVENT_COLS} FROM events WHERE id > ? ORDER BY id LIMIT ?",
                (last, page),
            ).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            yield [event_from_row(r[1:]) for r in rows]

    @property
    def was_empty(self) -> bool:
        """The ledger held no event when opened (a first backfill is under way)."""
        return self._cold

    def meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def shrink_cache(self) -> None:
        """After a backfill: a long-lived daemon needs neither a 64 MiB page cache nor the
        backfill's key set and memos."""
        self.db.execute("PRAGMA cache_size = -4096")
        self.db.execute("PRAGMA shrink_memory")
        self._session_keys = None
        _TAGS_MEMO.clear()
        self.day_of = DayOf(self.tz)

    def recent_events(self, limit: int) -> list[UsageEvent]:
        rows = self.db.execute(
            f"SELECT {_EVENT_COLS} FROM events ORDER BY ts DESC, id DESC LIMIT ?", (limit,)
        ).fetchall()
        return [event_from_row(r) for r in rows]

    def source_stats(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for source, events, errors, last in self.db.execute(
            "SELECT source, events, errors, last_event FROM source_stats"
        ):
            out[source] = {
                "events": events,
                "errors": errors,
                "last_event": from_ts_ms(last) if last is not None else None,
            }
        for source, files in self.db.execute(
            "SELECT source, COUNT(*) FROM cursors GROUP BY source"
        ):
            out.setdefault(source, {"events": 0, "errors": 0, "last_event": None})["files"] = files
        return out

    def unpriced(self) -> list[tuple[str, str, int]]:
        """(provider, model, calls) of every model that has unpriced calls."""
        return [
            (p, m, n)
            for p, m, n in self.db.execute(
                """SELECT provider, model, SUM(unpriced_calls) FROM daily
                   GROUP BY provider, model HAVING SUM(unpriced_calls) > 0
                   ORDER BY 3 DESC"""
            )
        ]

    def recent_errors(self, limit: int = 20) -> list[BadRecord]:
        return [
            BadRecord(*r)
            for r in self.db.execute(
                "SELECT source, path, offset, message FROM parse_errors ORDER BY id DESC LIMIT ?",
                (limit,),
            )
        ]

    # -- repricing -------------------------------------------------------------------

    def rewrite_costs(self, changes: Iterable[tuple[UsageEvent, UsageEvent]]) -> int:
        """Store new costs for (old, new) pairs of the same key, keeping the rollup in step."""
        n = 0
        rollup: dict[RollupKey, list[int]] = {}
        self.db.execute("BEGIN IMMEDIATE")
        try:
            for old, new in changes:
                old_row = event_row(old, self.day_of)
                new_row = event_row(new, self.day_of)
                _rollup_delta(rollup, old_row, -1)
                _rollup_delta(rollup, new_row, 1)
                self.db.execute(
                    "UPDATE events SET cost_nano=?, cost_basis=?, reported_nano=?, priced_nano=? "
                    "WHERE key=?",
                    (new_row[14], new_row[15], new_row[16], new_row[17], new.key),
                )
                n += 1
            if rollup:
                self._apply_rollup(rollup)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return n


def _split_sql(script: str) -> list[str]:
    """Statements of a migration script (its comments must not contain ';')."""
    return [s.strip() for s in script.split(";") if s.strip()]
