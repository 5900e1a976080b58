"""Formats whose tool keeps its usage in a SQLite database: what they read, and how.

A "database" format is a document format (see base.py) whose document is not a file's
bytes but the rows its `Query`s select, read read-only from the tool's database by
`monitor.db_reader` and handed over as one JSON document (`encode` / `decode` here). Keys
come from the rows' own ids, so reading rows again is idempotent, and a row updated in
place with more tokens (an agent updating a message while it streams) replaces its
smaller copy in the ledger.

The adapters stay pure: they never see a connection, only `Rows` decoded from bytes.
This module is pure too; the reading (snapshots, WAL, locks, watermarks) is the reader's.

Incremental reads: a query may name a `since` column, an integer the tool sets to the
time of every insert and update (OpenCode's `time_updated`, milliseconds). The reader
then hands over only the rows at or after the last read's largest value minus an
overlap, and re-reads everything now and then (see db_reader.py); rows read twice are
harmless, by their keys.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any, Final

import msgspec

from monitor.sources.base import (
    BadValue,
    Format,
    Outcome,
    ParseContext,
    ParseResult,
    State,
    collect,
)
from monitor.sources.common import shown

SQLITE_MAGIC: Final = b"SQLite format 3\x00"
"""The first 16 bytes of every SQLite database file."""

_PAYLOAD_KEY: Final = "llm_monitor_sqlite_rows"
_PAYLOAD_PREFIX: Final = b'{"' + _PAYLOAD_KEY.encode() + b'"'


@dataclass(frozen=True, slots=True)
class Query:
    """Rows of one table that a database format reads, selected by the reader.

    `columns` are read by name; one the table lacks (an older schema) reads as NULL, so
    a format copes with every version of its tool's schema, and a table that does not
    exist (yet) gives no rows. Every row also carries its `rowid` (first), which locates
    a bad record in the database.
    """

    name: str
    """The rows' name in the document (`Rows.tables[name]`)."""
    table: str
    columns: tuple[str, ...]
    where: str = ""
    """An SQL condition over the table's own columns (optional): a cheap filter only; the
    adapter still checks every row it gets."""
    since: str | None = None
    """An integer column the tool sets on every insert and update: the watermark of
    incremental reads (only rows with `since` ≥ the last read's largest value minus the
    reader's overlap are read again)."""
    parent: tuple[str, str, str] | None = None
    """(column, query, column): only the rows whose first column holds a value of the
    second column among the rows of an earlier query (OpenCode's step parts of the
    messages read), looked up through the tool's index."""


@dataclass(frozen=True, slots=True)
class DatabaseFormat(Format):
    """A format read from a SQLite database: a document format whose document is rows."""

    queries: tuple[Query, ...] = ()
    documents: bool = False
    """Whether `.json` files of the same source are whole-file documents this format also
    reads (OpenCode kept its messages as JSON files before its database)."""


@dataclass(frozen=True, slots=True)
class Table:
    columns: tuple[str, ...]
    """"rowid" first, then the query's columns."""
    rows: list[list[Any]]

    def records(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """(rowid, {column: value}) of each row."""
        names = self.columns
        for row in self.rows:
            record = dict(zip(names, row, strict=False))
            rowid = record.get("rowid")
            yield (rowid if type(rowid) is int else 0), record


@dataclass(frozen=True, slots=True)
class Rows:
    """What the reader read from a database, as the adapter gets it."""

    tables: Mapping[str, Table]
    full: bool
    """True when every row was read (not only those since the watermark)."""

    def table(self, name: str) -> Table:
        """The rows of a query by its name; none when the database had no such table."""
        return self.tables.get(name) or Table(("rowid",), [])


def encode(tables: Mapping[str, Table], *, full: bool) -> bytes:
    """The document the reader hands to the adapter (BLOB values become base64 text)."""
    body = {
        _PAYLOAD_KEY: 1,
        "full": full,
        "tables": {
            name: {"columns": list(t.columns), "rows": t.rows} for name, t in tables.items()
        },
    }
    return msgspec.json.encode(body)


def decode(data: bytes) -> Rows | None:
    """The rows in a document `encode` made; None when `data` is no such document (a
    plain file's bytes, e.g. OpenCode's older JSON messages)."""
    if not data.startswith(_PAYLOAD_PREFIX):
        return None
    doc = msgspec.json.decode(data)
    tables = {
        name: Table(tuple(t.get("columns") or ("rowid",)), list(t.get("rows") or []))
        for name, t in (doc.get("tables") or {}).items()
    }
    return Rows(tables, bool(doc.get("full")))


def row_format(
    name: str,
    query: Query,
    event: Callable[[ParseContext, int, dict[str, Any]], Outcome],
    default_paths: Callable[[], list[str]],
) -> DatabaseFormat:
    """A format whose tool keeps one record per row of one table (Goose's and Hermes's
    sessions): `event(ctx, rowid, row)` is a row's outcome."""

    def parse(ctx: ParseContext, state: State, data: bytes) -> ParseResult:
        """One event per row of a database read."""
        rows = decode(data)
        if rows is None:
            return ParseResult(state=state)  # not a database read: nothing of this tool's
        return collect(state, rows.table(query.name).records(), partial(event, ctx))

    return DatabaseFormat(
        name=name, kind="document", parse=parse, default_paths=default_paths, queries=(query,)
    )


def json_column(value: Any, name: str) -> Any:
    """A column holding JSON text (OpenCode's `data`, Goose's `model_config_json`), decoded.

    None stays None (a NULL column); text that is not JSON, or a value of another type,
    raises BadValue naming the column, so the row becomes a bad record.
    """
    if value is None:
        return None
    if not isinstance(value, str):
        raise BadValue(f"{name}: {shown(value)} is not JSON text")
    try:
        return json.loads(value)
    except ValueError as exc:
        raise BadValue(f"{name}: not valid JSON ({exc})") from None
