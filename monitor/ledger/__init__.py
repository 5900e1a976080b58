"""The SQLite ledger: the one owner of the on-disk format and of every SQL statement
that reads or writes usage (the alert store keeps its own table's).

- `measures`: what is counted and summed, defined once; all measure SQL comes from it.
- `schema`: the versions of the format and the migrations between them.
- `rows`: events as `events` rows and back (the only code that knows a row's layout).
- `rollups`: the `daily` / `daily_tags` rollups, moved in step with each commit.
- `store`: `Ledger`, the exactly-once commit (events + cursors in one transaction).
- `reads`: named reads for the daemon, `status`, the metrics and the launcher.
- `query`: the grouped reads behind `report`, `compare` and `estimate`.
- `selection`: which events a command means (ranges, sources, fields), parsed once.
- `limits`: the plan-window snapshots, committed with the events that carried them.
- `connection`: opening the file, and `transaction()`.

Nothing outside this package writes SQL against these tables or indexes their rows by
position; it asks these modules and gets typed rows back.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from monitor.ledger.batch import (
        Applied,
        BadRecord,
        Batch,
        CursorConflict,
        CursorMark,
        PreparedRows,
        cursor_mark,
    )
    from monitor.ledger.connection import LedgerError, transaction
    from monitor.ledger.measures import MEASURES, Measure, Sums
    from monitor.ledger.rows import DayOf, EventRow, event_from_row, event_row, unstorable
    from monitor.ledger.schema import MIGRATIONS, SCHEMA_VERSION
    from monitor.ledger.store import MAX_ERRORS_KEPT, Ledger

# Loaded on first use: `report` and the status bar read through `query`, `reads` and
# `limits` alone, and the write path's modules (batch, store, tail) cost them ~30 ms.
_LAZY: dict[str, str] = {
    **dict.fromkeys(
        (
            "Applied",
            "BadRecord",
            "Batch",
            "CursorConflict",
            "CursorMark",
            "PreparedRows",
            "cursor_mark",
        ),
        "batch",
    ),
    **dict.fromkeys(("LedgerError", "transaction"), "connection"),
    **dict.fromkeys(("MEASURES", "Measure", "Sums"), "measures"),
    **dict.fromkeys(("DayOf", "EventRow", "event_from_row", "event_row", "unstorable"), "rows"),
    **dict.fromkeys(("MIGRATIONS", "SCHEMA_VERSION"), "schema"),
    **dict.fromkeys(("MAX_ERRORS_KEPT", "Ledger"), "store"),
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "MAX_ERRORS_KEPT",
    "MEASURES",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Applied",
    "BadRecord",
    "Batch",
    "CursorConflict",
    "CursorMark",
    "DayOf",
    "EventRow",
    "Ledger",
    "LedgerError",
    "Measure",
    "PreparedRows",
    "Sums",
    "cursor_mark",
    "event_from_row",
    "event_row",
    "transaction",
    "unstorable",
]
