"""Read-only aggregates over the ledger: the numbers behind `report`, `compare`, `estimate`.

Three tables answer the same question. The `daily` rollup (local day × source × provider
× model × operation, kept by the ledger in the commit's transaction) holds a few
thousand rows where `events` holds millions, so whatever it can answer it answers:
groupings by day / week / month / provider / model / source / operation, filters on
source / provider / model / operation, and whole-day ranges. The `daily_tags` rollup
(the same per tag name and value) answers when the tag groupings and tag filters name
one tag: events lacking that tag have no row there, so their `None` group is `daily`
minus the tag's rows over the same other groupings. Two tag names, a range bounded by
an instant, or the `hour` grouping (rollups are daily) read `events` (tags via
`json_extract`), and so does a ledger whose rollups lack a measure (one opened read-only
before its daemon migrated it). Every path filters whole days on the same stored local
`day`, so they give identical numbers. The `block` grouping (5-hour blocks,
`block_query`) reads the selected events in time order.

Which events a question is about is a `Selection` (`monitor.ledger.selection`, where
ranges and their bounds are read); this module turns it into SQL. Days, weeks (ISO,
`2026-W47`), months and hours ("2026-11-20T14:00+01:00", `monitor.periods.hour_key`)
are those of the ledger's time zone.

Index use is decided here, not left to SQLite: without statistics it walks the time
index for any range, one random row lookup per event — 4 s instead of
0.7 s for a full scan of 1 M events. The rollup tells how many events a range holds, so
the index is used only when the range is narrow.

This module never writes, and imports nothing heavier than the ledger package: `report`
must answer in tens of milliseconds including interpreter start-up. Its value types are
NamedTuples because defining a dataclass costs ~1 ms of import time each. Which numbers
it sums is `monitor.ledger.measures`' business: the SUM(...) lists come from there.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, tzinfo
from operator import add, sub
from typing import Any, Final, Literal, NamedTuple

from monitor.events import from_ts_ms, ts_ms
from monitor.ledger.measures import ROLLUP_COLUMNS, Sums, sums_of_events, sums_of_rollup
from monitor.ledger.reads import UnpricedModel
from monitor.ledger.selection import COLUMNS, Bound, Selection, tag_key
from monitor.periods import hour_key

Table = Literal["daily", "daily_tags", "events"]
PathChoice = Literal["auto", "daily", "events"]

TIME_GROUPS: Final = ("day", "week", "month")
GROUPS: Final = (*TIME_GROUPS, *COLUMNS)
"""Groupings the rollup can answer; `tag:KEY` groupings read the events."""
HOUR: Final = "hour"
"""The local hour grouping: read from the events (the rollups are daily)."""
_QUARTER_MS: Final = 900_000
"""Events are grouped by quarter hour, then by local hour: every real UTC offset is a
whole number of quarter hours, so no quarter straddles two local hours."""
BLOCK: Final = "block"
"""The 5-hour block grouping (`block_query`): alone or with `source`, read from the events."""

_ROLLUP_SUMS: Final = sums_of_rollup()
_EVENT_SUMS: Final = sums_of_events()

Totals = Sums
"""Sums over a set of events: a report row's numbers (`monitor.ledger.measures.Sums`)."""


class Row(NamedTuple):
    key: tuple[str | None, ...]
    """One value per grouping, in `group_by` order; None: the event has no such tag or
    names no operation."""
    totals: Totals


class QueryResult(NamedTuple):
    group_by: tuple[str, ...]
    since: Bound
    until: Bound
    rows: tuple[Row, ...]
    total: Totals
    unpriced: tuple[UnpricedModel, ...]
    """Models with unpriced calls in the selection, most calls first."""
    table: Table
    """Which table answered (a rollup or the events)."""


def check_group(name: str) -> str:
    if name in GROUPS or name == HOUR:
        return name
    if name.startswith("tag:"):
        return "tag:" + tag_key(name[4:])
    raise ValueError(
        f"unknown grouping {name!r}: use hour, day, week, month, provider, model, source, "
        "operation, tag:KEY or block"
    )


def _tag_path(key: str) -> str:
    return f'$."{key}"'


_NARROW: Final = 0.2
"""A range holding less than this share of all events is read through an index."""


def _plain(value: str) -> bool:
    """True when JSON writes `value` as is between its quotes (no escapes needed)."""
    return '"' not in value and "\\" not in value and all(c >= " " for c in value)


_DAY_MS: Final = 86_400_000
_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()


def _filters(
    sel: Selection, tz: tzinfo, tag: str | None = None, *, events: bool = False
) -> tuple[list[str], list[Any]]:
    """WHERE clauses for `daily` (or, with `tag`, that tag's `daily_tags` rows), or with
    `events` for the events.

    Whole days are the stored local `day` on every table. The events have no index on
    it (schema 11): their day bounds come with a bound on the time a day wider than the
    UTC day — any zone's local day lies within it — which the time index reads as a
    range; the `day` clause alone decides which of its rows count."""
    clauses: list[str] = []
    args: list[Any] = []
    if tag is not None:
        clauses.append("tag = ?")
        args.append(tag)
    if sel.sources:
        clauses.append(f"source IN ({','.join('?' * len(sel.sources))})")
        args.extend(sel.sources)
    for field, value in sel.where:
        if not field.startswith("tag."):
            clauses.append(f"{field} = ?")
            args.append(value)
            continue
        if tag is not None:
            clauses.append("value = ?")
            args.append(value)
            continue
        path = _tag_path(field[4:])
        if _plain(value):
            # Cheap pre-test before parsing JSON: a text without backslashes escapes
            # nothing, so a plain value it holds appears in it verbatim.
            clauses.append("(instr(tags, '\\') > 0 OR instr(tags, ?) > 0)")
            args.append(value)
        clauses.append("json_extract(tags, ?) = ?")
        args += [path, value]
    for bound, day_op, ts_op in ((sel.since, ">=", ">="), (sel.until, "<=", "<")):
        if isinstance(bound, datetime):
            clauses.append(f"ts {ts_op} ?")
            args.append(ts_ms(_aware(bound, tz)))
        elif isinstance(bound, date):
            clauses.append(f"day {day_op} ?")
            args.append(bound.isoformat())
            if events:
                clauses.append(f"ts {ts_op} ?")
                args.append(_utc_day_ms(bound) + (2 * _DAY_MS if day_op == "<=" else -_DAY_MS))
    return clauses, args


def _utc_day_ms(day: date) -> int:
    """Epoch ms of `day`'s midnight in UTC."""
    return (day.toordinal() - _EPOCH_ORDINAL) * _DAY_MS


def _aware(dt: datetime, tz: tzinfo) -> datetime:
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=tz)


def _local_day(bound: Bound, tz: tzinfo, default: str) -> str:
    if isinstance(bound, datetime):
        return _aware(bound, tz).astimezone(tz).date().isoformat()
    return default if bound is None else bound.isoformat()


def _where_sql(clauses: Iterable[str]) -> str:
    text = " AND ".join(clauses)
    return f" WHERE {text}" if text else ""


def _events_from(db: sqlite3.Connection, sel: Selection, tz: tzinfo) -> str:
    """`events`, with its indexes forbidden unless the range is narrow (module docstring)."""
    if sel.since is None and sel.until is None:
        return "events NOT INDEXED"
    lo = _local_day(sel.since, tz, "0000-00-00")
    hi = _local_day(sel.until, tz, "9999-99-99")
    everything, inside = db.execute(
        "SELECT SUM(events), SUM(CASE WHEN day BETWEEN ? AND ? THEN events ELSE 0 END) FROM daily",
        (lo, hi),
    ).fetchone()
    return "events" if (inside or 0) <= _NARROW * (everything or 0) else "events NOT INDEXED"


def _tag_names(group_by: Sequence[str], sel: Selection) -> set[str]:
    return {g[4:] for g in group_by if g.startswith("tag:")} | sel.tag_names


def choose_table(group_by: Sequence[str], sel: Selection, path: PathChoice = "auto") -> Table:
    """`daily`, or `daily_tags` when one tag is involved, unless only `events` can answer."""
    tags = _tag_names(group_by, sel)
    if path == "events":
        return "events"
    if sel.has_instant or len(tags) > 1 or HOUR in group_by:
        if path == "daily":
            raise ValueError("the rollups cannot answer instants, hours or two different tags")
        return "events"
    return "daily_tags" if tags else "daily"


def _has_table(db: sqlite3.Connection, name: str) -> bool:
    row = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
    return row.fetchone() is not None


def _rollups_current(db: sqlite3.Connection) -> bool:
    """The rollups keep every measure: false for a ledger opened read-only before its
    daemon migrated it to a schema that added one."""
    have = {r[1] for r in db.execute("PRAGMA table_info(daily)")}
    return have.issuperset(ROLLUP_COLUMNS)


Key = tuple[str | None, ...]


def query(
    db: sqlite3.Connection,
    group_by: Sequence[str],
    sel: Selection,
    tz: tzinfo,
    *,
    path: PathChoice = "auto",
) -> QueryResult:
    """Totals per group (rows sorted by key: days ascending, numeric tags numerically)."""
    if BLOCK in group_by:
        if path == "daily":
            raise ValueError("the rollups cannot answer 5-hour blocks")
        return block_query(db, group_by, sel, tz)
    groups = tuple(check_group(g) for g in group_by)
    table = choose_table(groups, sel, path)
    if table != "events" and not _rollups_current(db):
        # A ledger from before a measure was rolled up, opened read-only: its daemon
        # upgrades it.
        if path == "daily":
            raise ValueError("this ledger's rollups are not upgraded yet")
        table = "events"
    if table == "daily_tags" and not _has_table(db, "daily_tags"):
        # A ledger from before the tag rollup, opened read-only: its daemon upgrades it.
        if path == "daily":
            raise ValueError("this ledger has no tag rollup yet")
        table = "events"
    tag = next(iter(_tag_names(groups, sel))) if table == "daily_tags" else None
    clauses, args = _filters(sel, tz, tag, events=table == "events")
    source = _events_from(db, sel, tz) if table == "events" else table
    found = _grouped(db, groups, table, source, clauses, args, tz)
    acc = _merged(found, {})
    unpriced_from = source
    if tag is not None and not any(f.startswith("tag.") for f, _ in sel.where):
        # Events lacking the tag: all of `daily` minus the tag's rows, per other grouping.
        clauses, args = _filters(sel, tz)
        unpriced_from = "daily"
        _merged(_grouped(db, groups, "daily", "daily", clauses, args, tz), acc)
        tagged = [i for i, g in enumerate(groups) if g.startswith("tag:")]
        for key, values in found:
            blank = _blank(key, tagged)
            acc[blank] = list(map(sub, acc.get(blank, _ZEROS), values))
        acc = {k: v for k, v in acc.items() if v[0]}
    rows = tuple(Row(k, Totals(*acc[k])) for k in sorted(acc, key=_sorter(groups)))
    total = Totals(*map(sum, zip(*acc.values(), strict=True))) if acc else Totals()
    unpriced = _unpriced(db, unpriced_from, clauses, args) if total.unpriced_calls else ()
    return QueryResult(groups, sel.since, sel.until, rows, total, unpriced, table)


_ZEROS: Final = [0] * len(Totals._fields)


def block_query(
    db: sqlite3.Connection, group_by: Sequence[str], sel: Selection, tz: tzinfo
) -> QueryResult:
    """Totals per 5-hour block, the way ccusage's `blocks` draws them (`monitor.blocks`).

    Blocks are drawn per source (each tool has its own plan window), from the selected
    events in time order; a block's key is its start, ISO 8601 in UTC. Grouped by `block`
    alone, rows get a `source` key as well as soon as the selection spans two sources,
    since two tools' blocks may start at the same hour. Gaps between blocks are no rows.
    """
    from monitor.blocks import block_starts  # its dataclasses cost import time `report` saves

    groups = tuple(g.strip() for g in group_by)
    if len(set(groups)) != len(groups) or not set(groups) <= {BLOCK, "source"}:
        raise ValueError("`block` groups alone or with `source` only")
    clauses, args = _filters(sel, tz, events=True)
    table = _events_from(db, sel, tz)
    # One aggregate row per event (GROUP BY its id): the measures as measures.py sums them.
    sql = (
        f"SELECT source, ts, {_EVENT_SUMS} FROM {table}"
        f"{_where_sql(clauses)} GROUP BY id ORDER BY source, ts"
    )
    per_source: dict[str, list[tuple[Any, ...]]] = {}
    for r in db.execute(sql, args):
        per_source.setdefault(r[0], []).append(r)
    if groups == (BLOCK,) and len(per_source) > 1:
        groups = (BLOCK, "source")
    acc: dict[Key, list[int]] = {}
    for source, found in per_source.items():
        for start, r in zip(block_starts(r[1] for r in found), found, strict=True):
            parts = {BLOCK: from_ts_ms(start).isoformat(), "source": source}
            key = tuple(parts[g] for g in groups)
            have = acc.get(key)
            acc[key] = list(r[2:]) if have is None else list(map(add, have, r[2:]))
    rows = tuple(Row(k, Totals(*acc[k])) for k in sorted(acc, key=_sort_key))
    total = Totals(*map(sum, zip(*acc.values(), strict=True))) if acc else Totals()
    unpriced = _unpriced(db, table, clauses, args) if total.unpriced_calls else ()
    return QueryResult(groups, sel.since, sel.until, rows, total, unpriced, "events")


def _grouped(
    db: sqlite3.Connection,
    groups: tuple[str, ...],
    table: Table,
    source: str,
    clauses: list[str],
    where_args: list[Any],
    tz: tzinfo,
) -> list[tuple[Key, list[int]]]:
    """(group key, sums) of one table's groups; `daily` reads tag groupings as None."""
    select: list[str] = []
    args: list[Any] = []
    convert: list[tuple[int, Callable[[Any], str | None]]] = []
    for i, g in enumerate(groups):
        if g in ("day", "week"):  # weeks are folded from days below
            select.append(f"day AS g{i}")
        elif g == "month":
            select.append(f"substr(day, 1, 7) AS g{i}")
        elif g == HOUR:  # quarter hours, folded into local hours below
            select.append(f"ts / {_QUARTER_MS} AS g{i}")
            convert.append((i, _hours(tz)))
        elif not g.startswith("tag:"):
            select.append(f"{g} AS g{i}")
        elif table == "daily_tags":
            select.append(f"value AS g{i}")
        elif table == "daily":
            select.append(f"NULL AS g{i}")
        else:
            select.append(f"json_extract(tags, ?) AS g{i}")
            args.append(_tag_path(g[4:]))
            convert.append((i, _as_text))
        if g in _CONVERT:
            convert.append((i, _CONVERT[g]))
    sums = _EVENT_SUMS if table == "events" else _ROLLUP_SUMS
    sql = f"SELECT {', '.join([*select, sums])} FROM {source}{_where_sql(clauses)}"
    n = len(groups)
    if n:
        sql += " GROUP BY " + ", ".join(f"g{i}" for i in range(n))
    # An aggregate without GROUP BY answers one row even when nothing matched: skip it.
    rows = [r for r in db.execute(sql, [*args, *where_args]) if r[n]]
    if not convert:
        return [(r[:n], list(r[n:])) for r in rows]
    found = []
    for r in rows:
        key = list(r[:n])
        for i, f in convert:
            key[i] = f(key[i])
        found.append((tuple(key), list(r[n:])))
    return found


def _merged(
    found: Iterable[tuple[Key, list[int]]], acc: dict[Key, list[int]]
) -> dict[Key, list[int]]:
    """`found` summed into `acc` (several days fold into one week)."""
    for key, values in found:
        have = acc.get(key)
        acc[key] = values if have is None else list(map(add, have, values))
    return acc


def _blank(key: Key, positions: Sequence[int]) -> Key:
    if len(positions) == len(key):
        return (None,) * len(key)
    out = list(key)
    for i in positions:
        out[i] = None
    return tuple(out)


def _as_text(value: Any) -> str | None:
    return None if value is None else str(value)


def _hours(tz: tzinfo) -> Callable[[Any], str | None]:
    """Quarter hour since the epoch → its local hour's key (`monitor.periods.hour_key`)."""
    memo: dict[int, str] = {}

    def hour(quarter: Any) -> str:
        key = memo.get(quarter)
        if key is None:
            key = memo[quarter] = hour_key(from_ts_ms(quarter * _QUARTER_MS), tz)
        return key

    return hour


def _operation(value: str) -> str | None:
    return value or None


_WEEKS: dict[str, str] = {}


def _week(day: str) -> str:
    week = _WEEKS.get(day)
    if week is None:
        year, num, _ = date.fromisoformat(day).isocalendar()
        week = _WEEKS[day] = f"{year}-W{num:02d}"
    return week


_CONVERT: Final[dict[str, Callable[[Any], str | None]]] = {
    "week": _week,
    "operation": _operation,
}


def _sort_key(key: tuple[str | None, ...]) -> tuple[tuple[int, int, str], ...]:
    # Numbers as numbers (iteration 2 before 10), then text, then "no such tag" last.
    return tuple(
        (2, 0, "") if v is None else (0, int(v), v) if v.isascii() and v.isdigit() else (1, 0, v)
        for v in key
    )


def _sorter(groups: Sequence[str]) -> Callable[[Key], tuple[tuple[int, int, str], ...]]:
    """`_sort_key`, with hours in time order: across a DST change "02:00+02:00" comes
    before "02:00+01:00", which text order would put first."""
    hours = [i for i, g in enumerate(groups) if g == HOUR]
    if not hours:
        return _sort_key

    def key(k: Key) -> tuple[tuple[int, int, str], ...]:
        out = list(_sort_key(k))
        for i in hours:
            v = k[i]
            if v is not None:
                out[i] = (1, 0, datetime.fromisoformat(v).astimezone(UTC).isoformat())
        return tuple(out)

    return key


def _unpriced(
    db: sqlite3.Connection, source: str, clauses: list[str], args: list[Any]
) -> tuple[UnpricedModel, ...]:
    if source in ("daily", "daily_tags"):
        sql = (
            f"SELECT provider, model, SUM(unpriced_calls) FROM {source}{_where_sql(clauses)} "
            "GROUP BY provider, model HAVING SUM(unpriced_calls) > 0"
        )
    else:
        sql = (
            f"SELECT provider, model, SUM(calls) FROM {source}"
            f"{_where_sql(['cost_nano IS NULL', *clauses])} GROUP BY provider, model"
        )
    found = [UnpricedModel(p, m, n) for p, m, n in db.execute(sql, args)]
    return tuple(sorted(found, key=lambda u: (-u.calls, u.provider, u.model)))


def count_tag_values(
    db: sqlite3.Connection, sel: Selection, key: str, tz: tzinfo, *, per: str | None = None
) -> int:
    """Distinct values of tag `key` among the selected events (0 when none carries it).

    With `per`, values are told apart within each value of that tag and summed: the
    iterations of two runs are 3 + 5, not the 5 distinct iteration numbers.
    """
    clauses, args = _filters(sel, tz, events=True)
    value = "json_extract(tags, ?)"
    head = [_tag_path(tag_key(key))]
    if per is not None:
        value = f"COALESCE(json_extract(tags, ?), '') || char(31) || {value}"
        head.insert(0, _tag_path(tag_key(per)))
    if _plain(key):
        # Events without the key count nothing; skip them before parsing any JSON.
        clauses.append("(instr(tags, '\\') > 0 OR instr(tags, ?) > 0)")
        args.append(f'"{key}"')
    sql = f"SELECT COUNT(DISTINCT {value}) FROM {_events_from(db, sel, tz)}{_where_sql(clauses)}"
    row = db.execute(sql, [*head, *args]).fetchone()
    return int(row[0]) if row else 0


class CallUsage(NamedTuple):
    calls: int
    input_tokens: int
    output_tokens: int
    cost_nano: int | None


def event_usage(db: sqlite3.Connection, sel: Selection, tz: tzinfo) -> list[CallUsage]:
    """Calls, tokens and cost of every selected event."""
    clauses, args = _filters(sel, tz, events=True)
    sql = (
        f"SELECT calls, input_tokens, output_tokens, cost_nano FROM {_events_from(db, sel, tz)}"
        f"{_where_sql(['calls > 0', *clauses])}"
    )
    return [CallUsage(*r) for r in db.execute(sql, args)]
