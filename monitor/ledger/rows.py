"""Events as `events` table rows and back: the one place that knows a row's layout.

A row is a plain tuple in `EVENT_COLUMNS` order — cheap to build, to pickle from a
parsing worker and to hand to `executemany` — and only this package indexes it, through
the positions defined here. Everything else gets `UsageEvent`s back.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from datetime import tzinfo
from operator import attrgetter, itemgetter
from typing import Any, Final
from zlib import crc32

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
from monitor.ledger.measures import COST, EVENT_COUNTS

EventRow = tuple[Any, ...]
"""One `events` row in `EVENT_COLUMNS` order (see `event_row`)."""

_HEAD: Final = ("key", "key_hash", "ts", "day", "source", "provider", "model", "operation")
_TAIL: Final = ("cost_basis", "reported_nano", "priced_nano", "tags", "origin", "flags")
EVENT_COLUMNS: Final = (*_HEAD, *EVENT_COUNTS, COST, *_TAIL)
COLUMN_LIST: Final = ", ".join(EVENT_COLUMNS)
AT: Final = {name: i for i, name in enumerate(EVENT_COLUMNS)}
"""Column name → its position in an `EventRow`."""
KEY, KEY_HASH, TS, DAY = AT["key"], AT["key_hash"], AT["ts"], AT["day"]
SOURCE, PROVIDER = AT["source"], AT["provider"]
MODEL, OPERATION, CALLS_AT, COST_AT = AT["model"], AT["operation"], AT["calls"], AT[COST]
BASIS, REPORTED, PRICED = AT["cost_basis"], AT["reported_nano"], AT["priced_nano"]
TAGS, ORIGIN, FLAGS = AT["tags"], AT["origin"], AT["flags"]
_COUNTS: Final = slice(AT[EVENT_COUNTS[0]], AT[EVENT_COUNTS[-1]] + 1)
_MONEY: Final = (COST_AT, REPORTED, PRICED)
_INPUT, _OUTPUT = AT["input_tokens"], AT["output_tokens"]

INSERT_EVENT: Final = (
    f"INSERT INTO events ({COLUMN_LIST}) VALUES ({', '.join('?' * len(EVENT_COLUMNS))})"
)
_BY_KEY: Final = " WHERE key_hash=? AND key=?"
_UPDATED: Final = tuple(c for c in EVENT_COLUMNS if c not in ("key", "key_hash"))
UPDATE_EVENT: Final = "UPDATE events SET " + ", ".join(f"{c}=?" for c in _UPDATED) + _BY_KEY
"""Parameters: `update_params(row)`."""
_PRICE_COLUMNS: Final = (COST, "cost_basis", "reported_nano", "priced_nano")
REPRICE_EVENT: Final = "UPDATE events SET " + ", ".join(f"{c}=?" for c in _PRICE_COLUMNS) + _BY_KEY
"""Parameters: `reprice_params(row)`."""

_counts_of = attrgetter(*EVENT_COUNTS)

# `event_from_row` builds a UsageEvent positionally (keywords cost a quarter of the time
# of reading an event back), so its fields must be in this order: a field added to it
# anywhere else stops the import here instead of shifting every value after it.
_EVENT_FIELDS: Final = tuple(f.name for f in dataclasses.fields(UsageEvent))
_STORED_COUNTS: Final = tuple(n for n in _EVENT_FIELDS if n in EVENT_COUNTS)
if _EVENT_FIELDS != (
    *("key", "ts", "source", "provider", "model", "operation"),
    *_STORED_COUNTS,
    *("cost", "cost_basis", "reported_cost", "priced_cost", "tags", "origin", "flags"),
) or set(_STORED_COUNTS) != set(EVENT_COUNTS):  # pragma: no cover - caught by any import
    raise RuntimeError(f"UsageEvent fields {_EVENT_FIELDS} do not match the events columns")
_counts_in_event_order = itemgetter(*(AT[n] for n in _STORED_COUNTS))
_new_event: Callable[..., UsageEvent] = UsageEvent
_update_params = itemgetter(*(AT[c] for c in _UPDATED), KEY_HASH, KEY)
_reprice_params = itemgetter(*(AT[c] for c in _PRICE_COLUMNS), KEY_HASH, KEY)


def key_hash(key: str) -> int:
    """The `events.key_hash` of a key: the CRC-32 of its UTF-8, as a signed 32-bit integer.

    Keys are found by this, not by an index on the key itself: an event's key is some 65
    random characters (`cc:<message id>:<request id>`), and every commit of a backfill
    inserted its keys all over an index of them, so wrote most of that index to the WAL
    again (the main CPU cost of storing after the table itself). The hashes' index is a
    fifth of the size, its entries compared as integers. Two keys may share a hash: a
    lookup compares the keys of the rows it finds (`Ledger._existing`), and the updates
    name both. Stable across processes and versions, unlike Python's `hash`; 4 bytes in a
    record, where an unsigned 32-bit value takes 6.
    """
    return crc32(key.encode("utf-8", "surrogatepass")) - 0x8000_0000


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


def tags_json(tags: dict[str, str]) -> str:
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


def forget_memos() -> None:
    _TAGS_MEMO.clear()


def event_row(e: UsageEvent, day_of: DayOf) -> EventRow:
    """The `events` row of an event (its local day from `day_of`)."""
    cost, reported, priced = e.cost, e.reported_cost, e.priced_cost
    reported_nano = opt_to_nano(reported)
    priced_nano = opt_to_nano(priced)
    # The cost is one of the other two amounts (`Pricer.apply`): converted once.
    if cost is priced:
        cost_nano = priced_nano
    elif cost is reported:
        cost_nano = reported_nano
    else:
        cost_nano = opt_to_nano(cost)
    return priced_row(e, day_of, (cost_nano, e.cost_basis, reported_nano, priced_nano))


def priced_row(
    e: UsageEvent, day_of: DayOf, costs: tuple[int | None, str, int | None, int | None]
) -> EventRow:
    """The `events` row of an event with its cost columns given — (cost, basis, reported,
    priced), amounts in nano-dollars — instead of read from its Decimals: a parsing
    worker prices straight to nano-dollars (`Pricer.costs_of`) and leaves the event be."""
    ms = ts_ms(e.ts)
    cost_nano, basis, reported_nano, priced_nano = costs
    key = e.key
    return (
        key,
        key_hash(key),
        ms,
        day_of(ms),
        e.source,
        e.provider,
        e.model,
        e.operation or "",
        *_counts_of(e),
        cost_nano,
        basis,
        reported_nano,
        priced_nano,
        tags_json(e.tags),
        e.origin,
        e.flags,
    )


def event_from_row(row: Sequence[Any]) -> UsageEvent:
    """A row selected as `COLUMN_LIST` (in that order) → UsageEvent."""
    tags = row[TAGS]
    return _new_event(
        row[KEY],
        from_ts_ms(row[TS]),
        row[SOURCE],
        row[PROVIDER],
        row[MODEL],
        row[OPERATION] or None,
        *_counts_in_event_order(row),
        opt_from_nano(row[COST_AT]),
        row[BASIS],
        opt_from_nano(row[REPORTED]),
        opt_from_nano(row[PRICED]),
        json.loads(tags) if tags and tags != "{}" else {},
        row[ORIGIN],
        row[FLAGS],
    )


def update_params(row: EventRow) -> EventRow:
    """`UPDATE_EVENT`'s parameters for a row: every column but the key's two, then those."""
    return tuple(_update_params(row))


def reprice_params(row: EventRow) -> EventRow:
    """`REPRICE_EVENT`'s parameters: a row's cost columns, then its key's hash and key."""
    return tuple(_reprice_params(row))


def tokens(row: EventRow) -> int:
    """What makes one copy of an event larger than another: Claude Code writes a message
    several times while it streams, each copy with more tokens; the largest is kept."""
    return int(row[_INPUT] + row[_OUTPUT])


_MAX_NANO: Final = to_nano(MAX_COST_USD)


def unstorable(row: Sequence[Any]) -> str | None:
    """Why an event row must not be stored (a count or an amount out of range), or None.

    The adapters check values first; this is the ledger's own guard, so that no value
    can ever fail a commit (SQLite refuses integers past 64 bits) and stop ingestion.
    """
    for v in row[_COUNTS]:
        if type(v) is not int or not 0 <= v <= MAX_TOKENS:
            return _why_not(row)
    for i in _MONEY:
        v = row[i]
        if v is not None and not -_MAX_NANO <= v <= _MAX_NANO:
            return f"{EVENT_COLUMNS[i]} {v!r} nano-dollars is out of range"
    return None


def _why_not(row: Sequence[Any]) -> str:
    for name in EVENT_COUNTS:
        v = row[AT[name]]
        if type(v) is not int or not 0 <= v <= MAX_TOKENS:
            return f"{name} {v!r} is not a count (0 to {MAX_TOKENS})"
    raise AssertionError("no count out of range")


def origin_of(row: Sequence[Any]) -> tuple[str, str, int]:
    """(source, path, offset) a row was read from, for reporting it as a bad record."""
    path, _, offset = str(row[ORIGIN]).rpartition(":")
    return row[SOURCE], path, int(offset) if offset.isdigit() else 0
