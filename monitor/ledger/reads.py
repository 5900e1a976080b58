"""Named reads over a ledger connection: what the daemon, `status`, the metrics and the
launcher ask of the ledger, answered as small typed rows.

Each takes a `sqlite3.Connection` — the ledger's own, a read-only one beside a running
daemon, or the alert store's — and never writes. The reports' grouped reads are in
`monitor.ledger.query`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from monitor.events import UsageEvent, from_ts_ms, ts_ms
from monitor.ledger import hourly, minutes
from monitor.ledger.measures import COST, ROLLUP_COLUMNS, Sums, sums_of_rollup
from monitor.ledger.rollups import COMBINATION, DIMENSIONS
from monitor.ledger.rows import COLUMN_LIST, event_from_row

if TYPE_CHECKING:
    from monitor.blocks import Span


class UnpricedModel(NamedTuple):
    provider: str
    model: str
    calls: int


class DayRow(NamedTuple):
    """One `daily` rollup row."""

    day: date
    source: str
    provider: str
    model: str
    operation: str | None
    sums: Sums


class PricedMinute(NamedTuple):
    minute: int
    """Epoch minute (epoch ms // 60,000)."""
    source: str
    provider: str
    model: str
    operation: str | None
    cost_nano: int


class ModelUsage(NamedTuple):
    source: str
    provider: str
    model: str
    sums: Sums


class SourceStats(NamedTuple):
    source: str
    events: int
    errors: int
    last_event: datetime | None
    """The newest event's timestamp."""


# -- rollups -----------------------------------------------------------------------------


def first_day(db: sqlite3.Connection) -> date | None:
    """The local day of the oldest event."""
    row = db.execute("SELECT MIN(day) FROM daily").fetchone()
    return date.fromisoformat(row[0]) if row and row[0] else None


def days_since(db: sqlite3.Connection, first: date) -> Iterator[DayRow]:
    """Every `daily` row from local day `first` on.

    A measure a newer schema added reads as 0 on a ledger opened read-only before its
    daemon migrated it (`status` beside an old daemon): the totals it shows need none."""
    have = {r[1] for r in db.execute("PRAGMA table_info(daily)")}
    columns = ", ".join(c if c in have else "0" for c in ROLLUP_COLUMNS)
    sql = f"SELECT {', '.join(DIMENSIONS)}, {columns} FROM daily WHERE day >= ?"
    for r in db.execute(sql, (first.isoformat(),)):
        yield DayRow(date.fromisoformat(r[0]), r[1], r[2], r[3], r[4] or None, Sums(*r[5:]))


def usage_by_model(db: sqlite3.Connection) -> list[ModelUsage]:
    """Sums ever per (source, provider, model), costliest first."""
    sql = (
        f"SELECT source, provider, model, {sums_of_rollup()} FROM daily "
        "GROUP BY source, provider, model "
        f"ORDER BY SUM({COST}) DESC, SUM(calls) DESC, source, provider, model"
    )
    return [ModelUsage(r[0], r[1], r[2], Sums(*r[3:])) for r in db.execute(sql)]


def unpriced_models(db: sqlite3.Connection) -> list[UnpricedModel]:
    """Every model that has unpriced calls, most calls first."""
    return [
        UnpricedModel(*r)
        for r in db.execute(
            """SELECT provider, model, SUM(unpriced_calls) FROM daily
               GROUP BY provider, model HAVING SUM(unpriced_calls) > 0
               ORDER BY 3 DESC"""
        )
    ]


def daily_cost(
    db: sqlite3.Connection, scope: Mapping[str, str], first: date, end: date
) -> dict[date, int]:
    """Spend (nano-dollars) per local day in [first, end) within a budget scope (keys
    `source`, `provider`, `model`, `operation`, `tag.KEY`): a rollup when one can answer,
    else the events. One tag reads the per-tag rollup; more than one needs the events.
    """
    clauses = ["day >= ?", "day < ?"]
    args: list[Any] = [first.isoformat(), end.isoformat()]
    tags = [(k[4:], v) for k, v in scope.items() if k.startswith("tag.")]
    table = "daily"
    if len(tags) == 1:
        table = "daily_tags"
        clauses += ["tag = ?", "value = ?"]
        args += list(tags[0])
    elif tags:
        table = "events"
        for key, value in tags:
            clauses.append("json_extract(tags, ?) = ?")
            args.extend([f'$."{key}"', value])
    for key, value in scope.items():
        if key in COMBINATION:
            clauses.append(f"{key} = ?")
            args.append(value)
    sql = (
        f"SELECT day, COALESCE(SUM({COST}), 0) FROM {table} WHERE "
        + " AND ".join(clauses)
        + " GROUP BY day"
    )
    return {date.fromisoformat(d): int(c) for d, c in db.execute(sql, args)}


# -- events ------------------------------------------------------------------------------


def has_events(path: Path) -> bool:
    """Whether the ledger file at `path` holds any event (False when it cannot be read)."""
    if not path.exists():
        return False
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error:
        return False
    try:
        return db.execute("SELECT 1 FROM events LIMIT 1").fetchone() is not None
    except sqlite3.Error:
        return False
    finally:
        db.close()


def priced_minutes_since(db: sqlite3.Connection, since: datetime) -> Iterator[PricedMinute]:
    """The priced cost of the whole minutes from `since` on per minute and
    source/provider/model/operation, for minute-resolution burn rates: the `minutely`
    rollup's rows when it reaches back that far, else the events summed."""
    since_ms = ts_ms(since)
    found: Iterable[tuple[int, str, str, str, str, int]] | None = None
    try:
        if minutes.covers(db, since_ms):
            found = minutes.read_since(db, since_ms)
    except sqlite3.OperationalError:
        pass  # a ledger not migrated yet, read beside an older daemon
    if found is None:
        found = db.execute(
            f"""SELECT ts / 60000, source, provider, model, operation, SUM({COST}) FROM events
                WHERE ts >= ? AND {COST} IS NOT NULL
                GROUP BY ts / 60000, source, provider, model, operation""",
            (-(-since_ms // 60_000) * 60_000,),
        )
    for minute, source, provider, model, operation, cost in found:
        yield PricedMinute(minute, source, provider, model, operation or None, cost)


def sources_since(db: sqlite3.Connection, since: datetime) -> set[str]:
    """The sources with a call from `since` on (a range of the `ts` index: cheap)."""
    rows = db.execute("SELECT DISTINCT source FROM events WHERE ts >= ?", (ts_ms(since),))
    return {source for (source,) in rows}


def block_spans_since(
    db: sqlite3.Connection, since: datetime, sources: Sequence[str]
) -> dict[str, list[Span]]:
    """Each named source's calls from `since` on as `blocks.Span`s, in time order: summed
    per hour, the calls on the hour's first millisecond apart (first, last, calls, input +
    output tokens, priced cost in nano-dollars, unpriced calls). The `hourly` rollup holds
    them: eight days of calls are a few hundred rows however dense those days were."""
    since_ms = ts_ms(since)
    return {source: hourly.spans_since(db, since_ms, source) for source in sources}


def events_between(
    db: sqlite3.Connection, since: datetime | None = None, until: datetime | None = None
) -> Iterator[UsageEvent]:
    """Events with `since` <= ts < `until` (either open), oldest first."""
    sql = f"SELECT {COLUMN_LIST} FROM events"
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
    for row in db.execute(sql, args):
        yield event_from_row(row)


def event_pages(db: sqlite3.Connection, page: int = 20_000) -> Iterator[list[UsageEvent]]:
    """Every event, a page at a time (keyset on id): bounded memory for any ledger."""
    last = 0
    while True:
        rows = db.execute(
            f"SELECT id, {COLUMN_LIST} FROM events WHERE id > ? ORDER BY id LIMIT ?",
            (last, page),
        ).fetchall()
        if not rows:
            return
        last = rows[-1][0]
        yield [event_from_row(r[1:]) for r in rows]


def recent_events(db: sqlite3.Connection, limit: int) -> list[UsageEvent]:
    """The newest `limit` events, newest first."""
    rows = db.execute(
        f"SELECT {COLUMN_LIST} FROM events ORDER BY ts DESC, id DESC LIMIT ?", (limit,)
    ).fetchall()
    return [event_from_row(r) for r in rows]


# -- bookkeeping ---------------------------------------------------------------------------


def source_stats(db: sqlite3.Connection) -> list[SourceStats]:
    """Events and bad records counted per source, and its newest event."""
    return [
        SourceStats(source, events, errors, None if last is None else from_ts_ms(last))
        for source, events, errors, last in db.execute(
            "SELECT source, events, errors, last_event FROM source_stats"
        )
    ]


def files_per_source(db: sqlite3.Connection) -> dict[str, int]:
    """How many files each source has a cursor for: counted as cursors come and go
    (schema 8), or by counting them in a ledger not migrated yet."""
    try:
        return dict(db.execute("SELECT source, files FROM source_files WHERE files > 0"))
    except sqlite3.OperationalError:
        return dict(db.execute("SELECT source, COUNT(*) FROM cursors GROUP BY source"))
