"""One file's new bytes → priced events: the per-file pipeline both ingestion paths run.

The tail (tail.py) decides which bytes are new and hands them over as chunks, each with
the cursor to store once they are; this module runs the adapter on each chunk, prices
what it returns, and says what came of the file (`Parsed`). In-process ingestion
(ingest.py) and the parsing workers of a big backfill (parallel.py) both call
`parse_chunks`, so the two can never read the same bytes differently.

An adapter should report bad records itself; the safety net here makes sure that a bug
or an input nobody foresaw costs one record (a line of a log) or one document, never
the file, the batch or the daemon.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any

from monitor.events import UsageEvent
from monitor.limits import LimitSnapshot
from monitor.sources.base import (
    Format,
    IncompleteDocument,
    ParseContext,
    ParseError,
    ParseResult,
    State,
)
from monitor.tail import Chunk, Cursor

if TYPE_CHECKING:
    from monitor.config import CallTimes, SourceConfig
    from monitor.pricing import Pricer

log = logging.getLogger("llm_monitor.ingest")


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """What parsing needs to know of a source: picklable, so workers get it too."""

    name: str
    format: str
    tz: tzinfo
    cost: str
    options: Mapping[str, Any]
    times: CallTimes

    @classmethod
    def of(cls, c: SourceConfig) -> SourceSpec:
        return cls(c.name, c.format, c.timezone, c.cost, dict(c.options), c.call_times)

    def context(self, cur: Cursor, base_offset: int) -> ParseContext:
        """What an adapter is told about the bytes it gets.

        The latest acceptable call time is now + the tolerance, taken here: adapters never
        look at the clock."""
        mtime = datetime.fromtimestamp(cur.mtime_ns / 1e9, UTC) if cur.mtime_ns else None
        return ParseContext(
            source=self.name,
            path=cur.path,
            file_id=cur.file_id,
            tz=self.tz,
            base_offset=base_offset,
            mtime=mtime,
            options=self.options,
            earliest=self.times.since,
            latest=datetime.now(UTC) + self.times.future,
        )


@dataclass(slots=True)
class Parsed:
    """What one file's chunks gave: store `events`, `errors` and `cursors` together."""

    events: list[UsageEvent] = field(default_factory=list)
    cursors: list[Cursor] = field(default_factory=list)
    """The cursor after each chunk, in order (a rotated file's old name first)."""
    errors: list[tuple[str, int, str]] = field(default_factory=list)
    """(path, offset, message) of each bad record."""
    limits: list[LimitSnapshot] = field(default_factory=list)
    """Plan-window readings, stored with the events and the cursor."""
    pending: bool = False
    """A document caught half-written: nothing to store; it is read again on its next change."""


def parse_chunks(
    spec: SourceSpec,
    fmt: Format,
    pricer: Pricer | None,
    chunks: Sequence[Chunk],
) -> Parsed:
    """Run the adapter over each chunk (with the safety net) and price what it returns
    (`pricer` None: left unpriced, for a caller that prices the rows it makes of them).

    Each chunk's cursor gets the adapter's new state; the caller stores the events, the
    errors and the cursors in one commit.
    """
    out = Parsed()
    for chunk in chunks:
        cur = chunk.cursor
        for offset, reason in chunk.skipped:
            out.errors.append((cur.path, offset, reason))
        if chunk.data:
            # Adapters must not see their input state change under them if they mutate it
            # (most have none: a new dict then, not a deep copy per file).
            state = copy.deepcopy(cur.state) if cur.state else {}
            try:
                if fmt.kind == "document":
                    result = _parse_document(spec, fmt, cur, state, chunk.data)
                else:
                    result = _parse_lines(spec, fmt, cur, chunk.base_offset, state, chunk.data)
            except IncompleteDocument:
                return Parsed(pending=True)
            cur.state = result.state
            if pricer is not None:
                for e in result.events:
                    pricer.apply(e, spec.cost)
            out.events.extend(result.events)
            out.limits.extend(result.limits)
            out.errors.extend((cur.path, err.offset, err.message) for err in result.errors)
        out.cursors.append(cur)
    return out


def _parse_document(
    spec: SourceSpec, fmt: Format, cur: Cursor, state: State, data: bytes
) -> ParseResult:
    try:
        return fmt.parse(spec.context(cur, 0), state, data)
    except IncompleteDocument:
        raise
    except Exception as exc:
        log.exception("source %s: adapter failed on %s", spec.name, cur.path)
        return ParseResult(state=cur.state, errors=[ParseError(0, repr(exc))])


def _parse_lines(
    spec: SourceSpec, fmt: Format, cur: Cursor, base: int, state: State, data: bytes
) -> ParseResult:
    """The chunk at once; if the adapter fails on it, line by line to isolate the bad one."""
    try:
        return fmt.parse(spec.context(cur, base), state, data)
    except Exception:
        log.exception(
            "source %s: adapter failed on %s; isolating the bad line", spec.name, cur.path
        )
    merged = ParseResult(state=state)
    offset = base
    for line in data.splitlines(keepends=True):
        try:
            part = fmt.parse(spec.context(cur, offset), merged.state, line)
        except Exception as exc:
            merged.errors.append(ParseError(offset, f"adapter error: {exc!r}"))
        else:
            merged.state = part.state
            merged.events.extend(part.events)
            merged.errors.extend(part.errors)
        offset += len(line)
    return merged
