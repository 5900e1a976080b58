"""The `minutely` rollup: the last two days' priced cost per UTC minute and call
dimensions, for the burn rates `status` shows (the last 60 minutes, and the 24 rolling
hours before them). Reading it costs the same however many calls those days held.

A row sums the priced calls of one minute and one source × provider × model × operation.
Each commit moves the rollup's start (`KEEP_MS` before its clock, never back: meta
`minutes_from`, `start`), drops the rows before it and adds the calls it stores from it
on. So every minute from the start on holds all its calls; a reader asking for earlier
ones (`covers` says no) sums the events instead.

Kept in step by the commit (`monitor.ledger.store`), like `monitor.ledger.hourly`: a
backfill's rows arrive summed by their parsing worker (`Minutes`); other new events are
summed by SQL once inserted (`add_inserted`); a larger copy or a repricing takes the old
row's cost out and puts the new one's in (sums only: nothing here needs taking back but
what was added).
"""

from __future__ import annotations

import sqlite3
from operator import itemgetter
from typing import Final

from monitor.ledger import rows
from monitor.ledger.measures import COST
from monitor.ledger.rows import EventRow

MINUTE_MS: Final = 60_000
KEEP_MS: Final = 48 * 3_600_000
"""How far back the rollup reaches from each commit."""
_DIMENSIONS: Final = "source, provider, model, operation"

_ADD_INSERTED: Final = f"""
INSERT INTO minutely (minute, {_DIMENSIONS}, cost_nano)
SELECT ts / {MINUTE_MS}, {_DIMENSIONS}, SUM({COST}) FROM events
WHERE id > ? AND ts >= ? AND {COST} IS NOT NULL GROUP BY 1, 2, 3, 4, 5
ON CONFLICT (minute, {_DIMENSIONS}) DO UPDATE SET cost_nano = cost_nano + excluded.cost_nano
"""
_UPSERT: Final = f"""
INSERT INTO minutely (minute, {_DIMENSIONS}, cost_nano) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (minute, {_DIMENSIONS}) DO UPDATE SET cost_nano = cost_nano + excluded.cost_nano
"""
_PRUNE: Final = "DELETE FROM minutely WHERE minute < ?"
_READ: Final = f"""
SELECT minute, {_DIMENSIONS}, cost_nano FROM minutely WHERE minute >= ? AND cost_nano != 0
"""

_TS, _COST = rows.TS, rows.COST_AT
_key_of = itemgetter(rows.SOURCE, rows.PROVIDER, rows.MODEL, rows.OPERATION)


_FROM: Final = "minutes_from"


def start(db: sqlite3.Connection, now_ms: int) -> int:
    """Where the rollup starts for a commit at `now_ms`: `KEEP_MS` before it, or where it
    started already if that is later (a clock set back must not claim minutes an earlier
    commit left out). Stores it and drops the rows before it; the commit adds only calls
    from it on. Inside the commit's transaction."""
    since_ms = max(now_ms - KEEP_MS, _stored_start(db) or 0)
    db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (_FROM, str(since_ms)))
    db.execute(_PRUNE, (since_ms // MINUTE_MS,))
    return since_ms


def covers(db: sqlite3.Connection, since_ms: int) -> bool:
    """Whether the rollup holds every priced call from `since_ms` on (False for a ledger
    that has none yet)."""
    stored = _stored_start(db)
    return stored is not None and since_ms >= stored


def _stored_start(db: sqlite3.Connection) -> int | None:
    row = db.execute("SELECT value FROM meta WHERE key = ?", (_FROM,)).fetchone()
    return None if row is None else int(row[0])


class Minutes:
    """The priced cost per minute and dimensions of rows from `since_ms` on: what storing
    them (`add`) or taking them back (`remove`) changes in `minutely`."""

    __slots__ = ("_acc", "since_ms")

    def __init__(self, since_ms: int) -> None:
        self.since_ms = since_ms
        self._acc: dict[tuple[int, str, str, str, str], int] = {}

    def add(self, row: EventRow, sign: int = 1) -> None:
        ts, cost = row[_TS], row[_COST]
        if ts >= self.since_ms and cost is not None:
            key = (ts // MINUTE_MS, *_key_of(row))
            self._acc[key] = self._acc.get(key, 0) + sign * cost

    def remove(self, row: EventRow) -> None:
        self.add(row, -1)

    def merge(self, other: Minutes) -> None:
        for key, cost in other._acc.items():
            self._acc[key] = self._acc.get(key, 0) + cost

    def apply(self, db: sqlite3.Connection) -> None:
        """Add the sums to `minutely` (inside the caller's transaction)."""
        if self._acc:
            db.executemany(_UPSERT, [(*key, cost) for key, cost in self._acc.items()])


def add_inserted(db: sqlite3.Connection, after: int, since_ms: int) -> None:
    """Add the priced events inserted past rowid `after` from `since_ms` on."""
    db.execute(_ADD_INSERTED, (after, since_ms))


def read_since(db: sqlite3.Connection, since_ms: int) -> list[tuple[int, str, str, str, str, int]]:
    """(minute, source, provider, model, operation, cost nano-dollars) of the whole
    minutes from `since_ms` on (the caller checks `covers`: the minute `start` fell in
    holds only its calls from there on)."""
    return db.execute(_READ, (-(-since_ms // MINUTE_MS),)).fetchall()
