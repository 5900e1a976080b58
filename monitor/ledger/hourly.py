"""The `hourly` rollup: each source's calls summed per UTC hour, as the 5-hour block rule
needs them (`monitor.blocks.Span`), so the estimated window `status` and the daemon draw
reads a row per hour of the last eight days, however many calls those hours hold.

A row is one source's calls of one hour but its very first millisecond (`edge` 0), or
those on that millisecond (`edge` 1): the block rule cannot tell the calls of a row apart
(`monitor.blocks`). It keeps the first and last call time, the calls, their input +
output tokens, the priced cost and the unpriced calls.

Kept in step by the commit (`monitor.ledger.store`), inside its transaction:
- a backfill's rows arrive summed by the parsing worker that made them (`Hours`, beside
  the rollups' `Delta`): when the commit stores every one of them, it adds those sums;
- other new events are summed by SQL once inserted (`add_inserted`: rowids only grow, so
  they are the rows past the largest rowid before);
- a larger copy replacing a stored event has the hours of both summed again from the
  events (`sum_again`): the old one's time may have been its hour's first or last, which
  no subtraction takes back;
- a repriced event moves its cost within its hour (`Hours.reprice`).
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Final

from monitor.ledger import rows
from monitor.ledger.measures import COST
from monitor.ledger.rows import EventRow

if TYPE_CHECKING:
    from monitor.blocks import Span

HOUR_MS: Final = 3_600_000

SUMS: Final = (
    f"source, ts / {HOUR_MS}, ts % {HOUR_MS} = 0, MIN(ts), MAX(ts), COUNT(*), "
    f"SUM(input_tokens + output_tokens), COALESCE(SUM({COST}), 0), SUM({COST} IS NULL)"
)
"""An `hourly` row from the events it sums (GROUP BY 1, 2, 3)."""

_INTO: Final = (
    "INSERT INTO hourly (source, hour, edge, first, last, events, tokens, cost_nano, unpriced)"
)
_ADD_TO_ROW: Final = """
ON CONFLICT (source, hour, edge) DO UPDATE SET
    first = MIN(first, excluded.first),
    last = MAX(last, excluded.last),
    events = events + excluded.events,
    tokens = tokens + excluded.tokens,
    cost_nano = cost_nano + excluded.cost_nano,
    unpriced = unpriced + excluded.unpriced
"""
_ADD_INSERTED: Final = (
    f"{_INTO} SELECT {SUMS} FROM events WHERE id > ? GROUP BY 1, 2, 3 {_ADD_TO_ROW}"
)
_UPSERT: Final = f"{_INTO} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) {_ADD_TO_ROW}"

_DELETE_HOUR: Final = "DELETE FROM hourly WHERE source = ? AND hour = ? AND edge = ?"
_SUM_HOUR_AGAIN: Final = (
    f"{_INTO} SELECT {SUMS} FROM events WHERE ts >= ? AND ts <= ? AND source = ? GROUP BY 1, 2, 3"
)

_SPANS: Final = """
SELECT first, last, events, tokens, cost_nano, unpriced FROM hourly
WHERE source = ? AND hour >= ? ORDER BY hour, edge DESC
"""

_SPANS_OF_EVENTS: Final = f"""
SELECT MIN(ts), MAX(ts), COUNT(*), SUM(input_tokens + output_tokens),
       COALESCE(SUM({COST}), 0), SUM({COST} IS NULL)
FROM events WHERE ts >= ? AND ts < ? AND source = ?
GROUP BY ts / {HOUR_MS}, ts % {HOUR_MS} = 0
ORDER BY ts / {HOUR_MS}, ts % {HOUR_MS} = 0 DESC
"""

_NO_END: Final = 1 << 62


_TS, _SOURCE, _COST = rows.TS, rows.SOURCE, rows.COST_AT
_IN, _OUT = rows.AT["input_tokens"], rows.AT["output_tokens"]


class Hours:
    """The `hourly` rows a set of events adds, should every one be stored. Sums only
    grow here: a row that is not stored after all cannot be taken back out (its hour's
    first or last call may be gone), so a commit that drops one sums by SQL instead."""

    __slots__ = ("_acc",)

    def __init__(self) -> None:
        self._acc: dict[tuple[str, int, bool], list[int]] = {}

    def add(self, row: EventRow) -> None:
        ts = row[_TS]
        key = (row[_SOURCE], ts // HOUR_MS, ts % HOUR_MS == 0)
        cur = self._acc.get(key)
        cost = row[_COST]
        if cur is None:
            self._acc[key] = [
                ts, ts, 1, row[_IN] + row[_OUT], cost or 0, cost is None
            ]  # fmt: skip
            return
        if ts < cur[0]:
            cur[0] = ts
        elif ts > cur[1]:
            cur[1] = ts
        cur[2] += 1
        cur[3] += row[_IN] + row[_OUT]
        if cost is None:
            cur[5] += 1
        else:
            cur[4] += cost

    def reprice(self, old: EventRow, new: EventRow) -> None:
        """Move an event's cost within its hour (a repricing changes nothing else)."""
        if (old[_TS], old[_SOURCE]) != (new[_TS], new[_SOURCE]):
            raise ValueError(f"a repricing moved {old[rows.KEY]!r} to another hour")
        ts = new[_TS]
        key = (new[_SOURCE], ts // HOUR_MS, ts % HOUR_MS == 0)
        cur = self._acc.setdefault(key, [ts, ts, 0, 0, 0, 0])
        cur[4] += (new[_COST] or 0) - (old[_COST] or 0)
        cur[5] += (new[_COST] is None) - (old[_COST] is None)

    def merge(self, other: Hours) -> None:
        acc = self._acc
        for key, (first, last, *sums) in other._acc.items():
            cur = acc.get(key)
            if cur is None:
                acc[key] = [first, last, *sums]
                continue
            cur[0] = min(cur[0], first)
            cur[1] = max(cur[1], last)
            for i, value in enumerate(sums, 2):
                cur[i] += value

    def apply(self, db: sqlite3.Connection) -> None:
        """Add the sums to `hourly` (inside the caller's transaction)."""
        db.executemany(_UPSERT, [(*key, *sums) for key, sums in self._acc.items()])


def last_rowid(db: sqlite3.Connection) -> int:
    """The largest event rowid (0 for none): the events a commit inserts next lie past it."""
    return int(db.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0])


def add_inserted(db: sqlite3.Connection, after: int) -> None:
    """Add the events inserted past rowid `after` to their hours."""
    db.execute(_ADD_INSERTED, (after,))


def sum_again(db: sqlite3.Connection, places: set[tuple[str, int]]) -> None:
    """Sum the hours of these (source, epoch ms) again from the events."""
    hours = {(source, ts // HOUR_MS, ts % HOUR_MS == 0) for source, ts in places}
    for source, hour, edge in hours:
        start = hour * HOUR_MS
        first, last = (start, start) if edge else (start + 1, start + HOUR_MS - 1)
        db.execute(_DELETE_HOUR, (source, hour, edge))
        db.execute(_SUM_HOUR_AGAIN, (first, last, source))


def spans_since(db: sqlite3.Connection, since_ms: int, source: str) -> list[Span]:
    """`source`'s calls from `since_ms` on as spans in time order: the whole hours from
    the rollup, the part of an hour before them from the events. A ledger not migrated to
    it yet (read beside an older daemon) is read from the events alone."""
    whole = -(-since_ms // HOUR_MS)
    try:
        spans = db.execute(_SPANS, (source, whole)).fetchall()
    except sqlite3.OperationalError:
        return db.execute(_SPANS_OF_EVENTS, (since_ms, _NO_END, source)).fetchall()
    if since_ms % HOUR_MS:
        spans[:0] = db.execute(_SPANS_OF_EVENTS, (since_ms, whole * HOUR_MS, source)).fetchall()
    return spans
