"""What one commit stores, and what it answers: the types of the exactly-once commit."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from monitor.events import UsageEvent
from monitor.ledger.hourly import Hours
from monitor.ledger.minutes import Minutes
from monitor.ledger.rollups import Delta
from monitor.ledger.rows import EventRow
from monitor.limits import LimitSnapshot

if TYPE_CHECKING:  # `status` opens a ledger without loading the tail (hashing, secrets)
    from monitor.tail import Cursor


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
class PreparedRows:
    """Event rows made where the CPU is to spare (a parsing worker): each already checked
    storable (`rows.unstorable`), and summed into `delta`, the difference they make to the
    rollups should every one be stored, and into `hours` and `minutes`. The commit then
    spends nothing per row on any of them; it only takes back the few a larger copy
    displaces or that are stored already."""

    rows: list[EventRow]
    delta: Delta
    hours: Hours | None = None
    minutes: Minutes | None = None
    """Their `hourly` and `minutely` sums; None: the commit sums what it stores by SQL
    (as it does whenever a copy loses)."""


@dataclass(slots=True)
class Batch:
    """What one commit stores atomically."""

    events: list[UsageEvent] = field(default_factory=list)
    cursors: dict[tuple[str, str], Cursor] = field(default_factory=dict)
    """The latest cursor per (source, path); see `put_cursor` / `drop_cursor`."""
    errors: list[BadRecord] = field(default_factory=list)
    prepared: list[PreparedRows] = field(default_factory=list)
    """Events already turned into checked ledger rows, with their rollup delta (parsing
    workers make them)."""
    dropped_cursors: set[tuple[str, str]] = field(default_factory=set)
    """(source, path) of cursors whose file moved to a path that has its own cursor now."""
    limits: list[LimitSnapshot] = field(default_factory=list)
    """Plan-window snapshots read with these bytes (stored once, by key)."""
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

    @property
    def size(self) -> int:
        """Events and rows in the batch."""
        return len(self.events) + sum(len(p.rows) for p in self.prepared)

    def __bool__(self) -> bool:
        return bool(
            self.events
            or self.prepared
            or self.cursors
            or self.errors
            or self.dropped_cursors
            or self.limits
        )
