"""The ledger's on-disk format: its versions and the path from each to the next.

`meta.schema` holds the version. Opening a ledger read-write brings it to
`SCHEMA_VERSION` in one transaction; a ledger from a newer llm-monitor is refused, read
or write. A migration's SQL is history: it creates what that version had and never
changes afterwards. Rollup contents are not part of it: a migration that adds a rolled-up
measure asks for `rebuild_rollups`, and the rollups are refilled from the events, by
today's definition, once every migration has run.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Final, NamedTuple

from monitor.ledger import limits, rollups
from monitor.ledger.connection import (
    BUSY_TIMEOUT_MS,
    MIGRATION_WAIT_MS,
    LedgerError,
    transaction,
)
from monitor.ledger.rows import key_hash

SCHEMA_VERSION: Final = 11


class Migration(NamedTuple):
    sql: str
    """Statements separated by ';' (a trigger's body holds its own; comments none)."""
    rebuild_rollups: bool = False


# A rollup row's columns as versions 1 to 4 have them (both rollups; history, like every
# migration: a new measure adds its column in its own migration).
_ROLLUP_V1: Final = """    day TEXT NOT NULL,
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
    unpriced_calls INTEGER NOT NULL DEFAULT 0,"""

# An event row's columns after its key, as version 1 made them (history: shared by the
# versions that create the events table, 1 and 10).
_EVENT_FIELDS_V1: Final = """    ts INTEGER NOT NULL,                -- epoch milliseconds, UTC
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
    flags INTEGER NOT NULL DEFAULT 0"""

_V1: Final = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
{_EVENT_FIELDS_V1}
);
CREATE INDEX events_ts ON events (ts);
CREATE INDEX events_day ON events (day);
CREATE TABLE daily (
{_ROLLUP_V1}
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
    state TEXT NOT NULL DEFAULT '{{}}',
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
)
"""

_V2: Final = """
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
CREATE INDEX alerts_pending ON alerts (delivered) WHERE delivered = 0
"""

# Tag reports read this instead of parsing every event's JSON (`monitor.ledger.rollups`).
_V3: Final = f"""
CREATE TABLE daily_tags (
    tag TEXT NOT NULL,
    value TEXT NOT NULL,
{_ROLLUP_V1}
    PRIMARY KEY (tag, value, day, source, provider, model, operation)
) WITHOUT ROWID
"""

# Which targets confirmed an alert, so a restart owes it only to the others: a JSON list
# of the redacted target labels `monitor.notify.Notifier` uses, '' for none yet.
_V4: Final = """
ALTER TABLE alerts ADD COLUMN sent_to TEXT NOT NULL DEFAULT ''
"""

# Price drift (`monitor.ledger.measures`): over the calls whose tool reported a cost, how
# many, what they reported, what prices say, and how many of them have no price.
_V6: Final = ";\n".join(
    f"ALTER TABLE {table} ADD COLUMN {column} INTEGER NOT NULL DEFAULT 0"
    for table in ("daily", "daily_tags")
    for column in (
        "reported_events",
        "reported_nano",
        "reported_priced_nano",
        "reported_unpriced_events",
    )
)

# The time index carries what the estimated 5-hour window sums per hour
# (`reads.block_spans_since`): eight days of calls are read from the index alone, not
# from a table row each — a third of `status`'s reading.
_V7: Final = """
DROP INDEX events_ts;
CREATE INDEX events_ts ON events (ts, source, input_tokens, output_tokens, cost_nano)
"""

# What `status` reads that grew with the history is kept in step by the writes instead:
# the calls per source and hour (`monitor.ledger.hourly`) and the last two days' priced
# cost per minute (`monitor.ledger.minutes`), both kept by the commit, and the files read
# per source (counted by these triggers on `cursors`, whose writes are upserts from now
# on: a replace would count a file again).
_V8: Final = """
CREATE TABLE hourly (
    source TEXT NOT NULL,
    hour INTEGER NOT NULL,              -- epoch hour, UTC (ts / 3,600,000)
    edge INTEGER NOT NULL,              -- 1: the calls on the hour's first millisecond
    first INTEGER NOT NULL,             -- epoch ms of the first and the last call
    last INTEGER NOT NULL,
    events INTEGER NOT NULL,
    tokens INTEGER NOT NULL,            -- input + output
    cost_nano INTEGER NOT NULL,         -- of the priced calls
    unpriced INTEGER NOT NULL,          -- calls without a price
    PRIMARY KEY (source, hour, edge)
) WITHOUT ROWID;
INSERT INTO hourly (source, hour, edge, first, last, events, tokens, cost_nano, unpriced)
SELECT source, ts / 3600000, ts % 3600000 = 0, MIN(ts), MAX(ts), COUNT(*),
    SUM(input_tokens + output_tokens), COALESCE(SUM(cost_nano), 0), SUM(cost_nano IS NULL)
FROM events GROUP BY 1, 2, 3;
CREATE TABLE minutely (
    minute INTEGER NOT NULL,            -- epoch minute, UTC (ts / 60,000)
    source TEXT NOT NULL,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    operation TEXT NOT NULL,
    cost_nano INTEGER NOT NULL,         -- of the priced calls
    PRIMARY KEY (minute, source, provider, model, operation)
) WITHOUT ROWID;
INSERT INTO minutely (minute, source, provider, model, operation, cost_nano)
SELECT ts / 60000, source, provider, model, operation, SUM(cost_nano) FROM events
WHERE cost_nano IS NOT NULL AND ts >= (CAST(strftime('%s', 'now') AS INTEGER) - 172800) * 1000
GROUP BY 1, 2, 3, 4, 5;
INSERT OR REPLACE INTO meta (key, value)
VALUES ('minutes_from', CAST((CAST(strftime('%s', 'now') AS INTEGER) - 172800) * 1000 AS TEXT));
CREATE TABLE source_files (source TEXT PRIMARY KEY, files INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO source_files (source, files) SELECT source, COUNT(*) FROM cursors GROUP BY source;
CREATE TRIGGER source_files_insert AFTER INSERT ON cursors
BEGIN
    INSERT INTO source_files (source, files) VALUES (new.source, 1)
    ON CONFLICT (source) DO UPDATE SET files = files + 1;
END;
CREATE TRIGGER source_files_delete AFTER DELETE ON cursors
BEGIN
    UPDATE source_files SET files = files - 1 WHERE source = old.source;
END
"""

# The files per source are counted by the commit that adds or drops cursors
# (`Ledger._files_added`): a trigger ran once per cursor, half the CPU of storing a cold
# backfill's cursors. Counted again here, as version 8 counted them.
_V9: Final = """
DROP TRIGGER source_files_insert;
DROP TRIGGER source_files_delete;
DELETE FROM source_files;
INSERT INTO source_files (source, files) SELECT source, COUNT(*) FROM cursors GROUP BY source
"""
# Keys are found by their hash (`rows.key_hash`), no longer by a unique index on the key
# itself: the events are copied into a table without it (ids kept), and the commit that
# stores a key looks it up first, in the same write transaction, under the writer lock.
_V10: Final = f"""
CREATE TABLE events_v10 (
    id INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    key_hash INTEGER NOT NULL,          -- rows.key_hash(key): signed CRC-32 of its UTF-8
{_EVENT_FIELDS_V1}
);
INSERT INTO events_v10 SELECT id, key, key_hash(key), ts, day, source, provider, model,
    operation, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
    cache_write_1h_tokens, reasoning_tokens, calls, cost_nano, cost_basis, reported_nano,
    priced_nano, tags, origin, flags FROM events;
DROP TABLE events;
ALTER TABLE events_v10 RENAME TO events;
CREATE INDEX events_ts ON events (ts, source, input_tokens, output_tokens, cost_nano);
CREATE INDEX events_day ON events (day);
CREATE INDEX events_key ON events (key_hash)
"""
# The time index carries the time alone, and the day has none: a backfill inserted each
# row into both, and the time index's summed columns (version 7) serve nothing since the
# `hourly` rollup (version 8) answers the window's hours. A query of whole days on the
# events bounds the time too, a day's width wider (`monitor.ledger.query`), so it reads a
# range of this index and keeps the rows of its days.
_V11: Final = """
DROP INDEX events_day;
DROP INDEX events_ts;
CREATE INDEX events_ts ON events (ts)
"""
_STALE: Final = "rollups_stale"
"""Meta key: the rollups await a rebuild the version they were migrated to could not run."""

MIGRATIONS: Final[dict[int, Migration]] = {
    1: Migration(_V1),
    2: Migration(_V2),
    3: Migration(_V3, rebuild_rollups=True),
    4: Migration(_V4),
    5: Migration(limits.SCHEMA),
    6: Migration(_V6, rebuild_rollups=True),
    7: Migration(_V7),
    8: Migration(_V8),
    9: Migration(_V9),
    10: Migration(_V10),
    11: Migration(_V11),
}
"""version → what brings a ledger from version-1 to version."""


def schema_version(db: sqlite3.Connection) -> int:
    try:
        row = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
    except sqlite3.OperationalError:
        return 0
    return int(row[0]) if row else 0


def check_version(version: int, path: Path) -> None:
    """LedgerError for a ledger written by a newer llm-monitor."""
    if version > SCHEMA_VERSION:
        raise LedgerError(
            f"{path}: ledger schema {version} is newer than this llm-monitor "
            f"({SCHEMA_VERSION}); upgrade llm-monitor"
        )


def migrate(db: sqlite3.Connection, path: Path) -> None:
    """Bring the ledger to `SCHEMA_VERSION` (nothing to do when it is there)."""
    version = schema_version(db)
    check_version(version, path)
    if version == SCHEMA_VERSION:
        return
    # The daemon and its backfill child open a ledger together: the one that takes the
    # write lock second waits for the other's migration however long it takes (a 1 M-call
    # ledger takes ~11 s to version 10), not the few seconds any other write waits.
    db.execute(f"PRAGMA busy_timeout = {MIGRATION_WAIT_MS}")
    try:
        _migrate(db)
    finally:
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")


def _migrate(db: sqlite3.Connection) -> None:
    with transaction(db):
        # Read again under the write lock: another process opening the same new ledger
        # (the daemon and its backfill child start together) may have migrated it.
        version = schema_version(db)
        if version == SCHEMA_VERSION:
            return
        rebuild = False
        db.create_function("key_hash", 1, key_hash, deterministic=True)  # for version 10
        for target in range(version + 1, SCHEMA_VERSION + 1):
            migration = MIGRATIONS[target]
            for statement in _statements(migration.sql):
                db.execute(statement)
            rebuild |= migration.rebuild_rollups
        if rebuild or get_meta(db, _STALE) is not None:
            if SCHEMA_VERSION == max(MIGRATIONS):
                rollups.rebuild(db)
                db.execute("DELETE FROM meta WHERE key = ?", (_STALE,))
            else:
                # Today's definition fits the newest version only; a ledger made at an
                # older one (tests make them) is refilled once it reaches the newest.
                set_meta(db, _STALE, "1")
        set_meta(db, "schema", str(SCHEMA_VERSION))


def _statements(sql: str) -> list[str]:
    """`sql`'s statements, a trigger whole with the statements of its body."""
    found: list[str] = []
    pending = ""
    for part in sql.split(";"):
        pending += part + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                found.append(pending)
            pending = ""
    if pending.strip(" \n;"):
        found.append(pending)
    return found


def get_meta(db: sqlite3.Connection, key: str) -> str | None:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def set_meta(db: sqlite3.Connection, key: str, value: str) -> None:
    db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
