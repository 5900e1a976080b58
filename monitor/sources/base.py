"""The contract every format adapter follows.

An adapter is a pure function from bytes to events: it never opens a file, never looks
at the clock, never touches the ledger. The tail hands it bytes and a `ParseContext`;
it returns the new adapter state (saved with the file's cursor, so a restart resumes
mid-stream exactly), the events, and the records it could not read.

Two kinds of format:
- "lines" (append-only logs): `parse(ctx, state, data)` where `data` holds only
  complete lines (each ends with b"\\n") starting at file offset `ctx.base_offset`.
  A record without its own id gets the key `line_key(ctx, offset)`, so two identical
  lines are two calls and a rotated or truncated file never collides with its
  predecessor (the file identity is part of the key).
- "document" (JSON rewritten whole): `parse(ctx, state, data)` gets the whole file;
  keys come from the records' content, so re-parsing the same document is idempotent.
  A document that is not valid (yet) raises `IncompleteDocument`: it is retried on the
  next change, nothing is counted as an error.
  A *database* format (`sources/sqlite_db.DatabaseFormat`, kind "document") is a document
  whose bytes are the rows its queries select from the tool's SQLite database, read
  read-only by `db_reader.py`; keys come from the rows' ids.

Values are checked before they leave an adapter (issue 9): a count that is no count
(negative, fractional, a bool, over 10**15), a cost that is no cost, a model that is no
string, a time that does not parse or falls outside [`earliest`, `latest`] makes its
RECORD bad — a `ParseError` at its offset — never a call of 0 tokens or a truncated one.
The helpers in `common.py` raise `BadValue` for such a value; `guarded` (or `rejected`,
in an adapter's own loop) turns it into that record's error, so it costs only itself.

Most adapters are then two small functions: one record → its event (built with
`common.record_event`, raising BadValue for a bad record), and `parse`, which hands the
records to `collect`. Only formats whose records depend on each other (Codex's running
totals, the image-describer log's held event) or whose speed matters most (Claude Code,
the backfill's hot path) keep more of their own loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import Any, Final, Literal, TypeVar

from monitor.events import UsageEvent
from monitor.limits import LimitSnapshot

State = dict[str, Any]
"""Adapter state: JSON-serializable (it is stored in the ledger with the cursor)."""

_T = TypeVar("_T")


EARLIEST: Final = datetime(2020, 1, 1, tzinfo=UTC)
"""Default lower bound of a call's time: before it, a time is a bug (epoch 0, a zeroed clock)."""


class IncompleteDocument(Exception):
    """A whole-file document caught half-written: retry on its next change."""


class BadValue(ValueError):
    """A value that makes its record bad; the message names the field and the value
    (`input_tokens: -5 is not a token count`) and becomes the record's ParseError."""


@dataclass(frozen=True, slots=True)
class ParseContext:
    source: str
    """The configured source name; goes into every event's `source`."""
    path: str
    """The file's path, for `origin` and for tags taken from the path (run, workflow…)."""
    file_id: str
    """Identity of the file's content: "dev:inode:fingerprint"; used in keys of id-less records."""
    tz: tzinfo
    """Zone for timestamps written without one."""
    base_offset: int = 0
    """File offset of data[0] ("lines" formats); 0 for documents."""
    mtime: datetime | None = None
    """The file's modification time (UTC), the timestamp of last resort (flagged)."""
    options: Mapping[str, Any] = field(default_factory=dict)
    """The source's options from the config (e.g. `fields` for the mapped formats)."""
    earliest: datetime = EARLIEST
    """A call dated before this (aware) is a bad record: no LLM usage log predates it."""
    latest: datetime | None = None
    """A call dated after this (aware) is a bad record; None: no upper bound. The ingestion
    pipeline sets it (now + a day) — an adapter never looks at the clock itself."""


@dataclass(frozen=True, slots=True)
class ParseError:
    offset: int
    """Byte offset of the bad record in the file (record index for documents)."""
    message: str


Outcome = UsageEvent | list[UsageEvent] | ParseError | None
"""What one record gives: its event (the events of a record that stands for several
calls, e.g. one per provider), why it cannot be read, or nothing (it carries no usage)."""


@dataclass(slots=True)
class ParseResult:
    state: State
    events: list[UsageEvent] = field(default_factory=list)
    errors: list[ParseError] = field(default_factory=list)
    limits: list[LimitSnapshot] = field(default_factory=list)
    """Plan-window readings the records carry (Codex's `rate_limits`), stored like events."""

    def add(self, outcome: Outcome) -> None:
        """File what one record gave: its event(s), why it could not be read, or nothing."""
        if isinstance(outcome, UsageEvent):
            self.events.append(outcome)
        elif isinstance(outcome, ParseError):
            self.errors.append(outcome)
        elif outcome:
            self.events.extend(outcome)


RECORD_ERRORS: Final = (ValueError, ArithmeticError)
"""What reading one record's values may raise (`BadValue` is a ValueError; OverflowError an
ArithmeticError): caught per record, so one bad record never fails those beside it."""


def rejected(offset: int, exc: Exception) -> ParseError:
    """The ParseError of a record whose value raised `exc` (one of `RECORD_ERRORS`)."""
    if isinstance(exc, BadValue):
        return ParseError(offset, str(exc))
    return ParseError(offset, f"unreadable value: {exc}")


def guarded(offset: int, build: Callable[..., Outcome], *args: Any) -> Outcome:
    """One record's outcome, with a bad value (a negative count, 1e400, NaN, a time out of
    range) turned into that record's ParseError instead of failing the whole document."""
    try:
        return build(*args)
    except RECORD_ERRORS as exc:
        return rejected(offset, exc)


def collect(
    state: State,
    records: Iterable[tuple[int, _T | ParseError]],
    build: Callable[[int, _T], Outcome],
) -> ParseResult:
    """The result of reading `records`, (offset, record) pairs, one by one.

    The loop every adapter without cross-record rules shares: a record its reader already
    found unreadable (invalid JSON, not an object) is filed as it is; every other record
    is `build(offset, record)`, `guarded`, so a bad value costs only its own record.
    Offsets are byte offsets for "lines" formats and record indexes for documents.
    """
    result = ParseResult(state=state)
    events, errors = result.events, result.errors
    for offset, record in records:  # `guarded` and `add` inlined: this runs for every line
        if isinstance(record, ParseError):
            errors.append(record)
            continue
        try:
            outcome = build(offset, record)
        except RECORD_ERRORS as exc:
            errors.append(rejected(offset, exc))
            continue
        if outcome is None:
            continue
        if type(outcome) is UsageEvent:
            events.append(outcome)
        else:
            result.add(outcome)
    return result


ParseFn = Callable[[ParseContext, State, bytes], ParseResult]


@dataclass(frozen=True, slots=True)
class Format:
    name: str
    kind: Literal["lines", "document"]
    parse: ParseFn
    default_paths: Callable[[], list[str]] | None = None
    """Globs used when a source of this format names no `paths` (e.g. honoring $CODEX_HOME)."""


def line_key(ctx: ParseContext, offset: int) -> str:
    """Key of an id-less record: the file's identity and the record's byte offset."""
    return f"{ctx.file_id}@{offset}"


def origin(ctx: ParseContext, offset: int) -> str:
    return f"{ctx.path}:{offset}"
