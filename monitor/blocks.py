"""5-hour blocks: the plan window estimated from calls, where no tool reports the real one.

Claude's and ChatGPT's plans meter use in windows that open with the first call and last
five hours. A tool that reports its window (Codex's `rate_limits`, Claude Code's
statusLine `rate_limits`) is read as reported (limits.py); for everything else the
window is estimated the way ccusage's `blocks` does it, so the two agree on the same
files:
- calls are taken in time order; a block starts at its first call floored to the hour
  (UTC) and ends five hours later;
- a call more than five hours after the block's start opens a new block at its own hour
  (a call exactly five hours after stays; ccusage also tests the gap since the previous
  call, which the first test already implies);
- the time between blocks is no block (ccusage lists such gaps; we do not).
A block is active while `now` is before its end and within five hours of its last call.

Pure: no clock, no I/O. The caller feeds calls already in time order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Final, TypeVar

from monitor.events import from_nano, from_ts_ms, to_nano, ts_ms

BLOCK: Final = timedelta(hours=5)
_N = TypeVar("_N", int, Decimal)


@dataclass(frozen=True, slots=True)
class BlockCall:
    """What a block needs of one call."""

    ts: datetime
    tokens: int
    """Input + output tokens (our semantics: input includes cache reads and writes)."""
    cost: Decimal | None


@dataclass(slots=True)
class Block:
    start: datetime
    end: datetime
    first: datetime
    last: datetime
    calls: int = 0
    tokens: int = 0
    cost: Decimal = Decimal(0)
    unpriced_calls: int = 0

    def is_active(self, now: datetime) -> bool:
        return now < self.end and now - self.last < BLOCK


_HOUR_MS: Final = 3_600_000
_BLOCK_MS: Final = 5 * _HOUR_MS


def block_starts(times: Iterable[int]) -> Iterator[int]:
    """The start of the block each call is in, for call times in order (all epoch ms,
    UTC): the one rule `report --by block`, `status` and the daemon draw blocks by."""
    start: int | None = None
    for ts in times:
        if start is None or ts - start > _BLOCK_MS:
            start = ts - ts % _HOUR_MS
        yield start


Span = tuple[int, int, int, int, int, int]
"""Calls the block rule cannot tell apart, summed: (first and last call time in epoch ms,
calls, tokens, cost of the priced ones in nano-dollars, unpriced calls). A call alone is
a span. So are the calls of one hour but its very first millisecond: a block starts on
the hour, so whether a call opens a new one depends only on its hour, and on whether it
falls exactly five hours after the block's start (it stays then). The ledger sums a
source's calls that way (`reads.block_spans_since`): `status` gets a few hundred spans
for eight days, not every call."""


def blocks(calls: Iterable[BlockCall]) -> list[Block]:
    """The blocks of calls given in time order (see the module docstring)."""
    return blocks_of_rows(
        (ts_ms(c.ts), c.tokens, None if c.cost is None else to_nano(c.cost)) for c in calls
    )


def blocks_of_rows(rows: Iterable[tuple[int, int, int | None]]) -> list[Block]:
    """`blocks` of plain calls in time order: (epoch ms, tokens, cost in nano-dollars or
    None)."""
    return blocks_of_spans(
        (ts, ts, 1, tokens, cost or 0, cost is None) for ts, tokens, cost in rows
    )


def blocks_of_spans(spans: Iterable[Span]) -> list[Block]:
    """`blocks` of spans in time order, with datetimes and Decimals made once per block."""
    acc: list[list[int]] = []  # start, first, last, calls, tokens, cost nano, unpriced
    cur: list[int] = []
    ordered = list(spans)
    starts = block_starts(s[0] for s in ordered)
    for start, (first, last, calls, tokens, nano, unpriced) in zip(starts, ordered, strict=True):
        if not cur or cur[0] != start:
            cur = [start, first, last, 0, 0, 0, 0]
            acc.append(cur)
        cur[2] = last
        cur[3] += calls
        cur[4] += tokens
        cur[5] += nano
        cur[6] += unpriced
    return [
        Block(
            start=from_ts_ms(start),
            end=from_ts_ms(start + _BLOCK_MS),
            first=from_ts_ms(first),
            last=from_ts_ms(last),
            calls=calls,
            tokens=tokens,
            cost=from_nano(nano),
            unpriced_calls=unpriced,
        )
        for start, first, last, calls, tokens, nano, unpriced in acc
    ]


@dataclass(frozen=True, slots=True)
class Projection:
    """The active block at its end if calls go on at the rate since its first call."""

    burn_tokens_per_minute: float
    burn_cost_per_hour: Decimal
    tokens_at_end: int
    cost_at_end: Decimal
    remaining: timedelta


def project(block: Block, now: datetime) -> Projection:
    """Burn rate since the block's first call, projected to its end (as ccusage does)."""
    elapsed = max((now - block.first).total_seconds(), 60.0)
    remaining = max(block.end - now, timedelta(0))
    tokens_rate = block.tokens / (elapsed / 60)
    cost_rate = block.cost / Decimal(elapsed / 3600)
    left_minutes = remaining.total_seconds() / 60
    return Projection(
        burn_tokens_per_minute=tokens_rate,
        burn_cost_per_hour=cost_rate.quantize(Decimal("0.000001")),
        tokens_at_end=block.tokens + round(tokens_rate * left_minutes),
        cost_at_end=(block.cost + cost_rate * Decimal(left_minutes / 60)).quantize(
            Decimal("0.000001")
        ),
        remaining=remaining,
    )


@dataclass(frozen=True, slots=True)
class LearnedLimit:
    tokens: int
    cost: Decimal
    blocks: int
    """How many completed blocks it was learned from."""


def learned_limit(completed: Sequence[Block], *, min_blocks: int = 3) -> LearnedLimit | None:
    """P90 of the user's completed blocks (as claude-monitor learns a plan's limit), or None
    with too little history to say."""
    if len(completed) < min_blocks:
        return None
    return LearnedLimit(
        tokens=_p90([b.tokens for b in completed]),
        cost=_p90([b.cost for b in completed]),
        blocks=len(completed),
    )


def _p90(values: list[_N]) -> _N:
    """The 90th percentile by nearest rank (a value the user really reached)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, (9 * len(ordered)) // 10)]


# -- the estimated window ----------------------------------------------------------------

LOOKBACK: Final = timedelta(days=8)
"""History an estimate reads: claude-monitor learns from the last 192 hours too. A chain
of blocks running unbroken across this edge would start a block an hour off; eight days
without a five-hour pause do not happen to people."""
LEARNING_FORMATS: Final = frozenset({"claude-code", "codex"})
"""Formats metered by plan windows: they get a learned limit when none is configured. A
batch job's 5-hour blocks mean nothing, so other sources need a configured size."""


@dataclass(frozen=True, slots=True)
class BlockLimit:
    """What an estimated window is measured against."""

    tokens: int | None
    cost: Decimal | None
    learned_from: int = 0
    """0: configured in `[[limits]]`; else how many completed blocks its P90 came from."""

    def percent(self, tokens: int, cost: Decimal) -> float:
        """Use in percent; with both sizes the nearer one (the larger share) counts."""
        shares = []
        if self.tokens:
            shares.append(Decimal(tokens) / self.tokens)
        if self.cost:
            shares.append(cost / self.cost)
        return round(float(max(shares, default=Decimal(0)) * 100), 2)


@dataclass(frozen=True, slots=True)
class Estimate:
    """The active block of one source and the limit it is measured against."""

    source: str
    block: Block
    limit: BlockLimit

    @property
    def used_percent(self) -> float:
        return self.limit.percent(self.block.tokens, self.block.cost)


@dataclass(frozen=True, slots=True)
class EstimateSource:
    """A source as the estimate sees it: its name, format and configured size, if any."""

    name: str
    format: str
    size: BlockLimit | None


def needs_estimate(src: EstimateSource, reported: Iterable[str]) -> bool:
    """Whether `estimates` can give the source a window: it reports none itself, and it
    has a configured size or is a coding agent whose limit can be learned."""
    skip = set(reported)
    if src.name in skip or src.format in skip:
        return False
    return src.size is not None or src.format in LEARNING_FORMATS


def estimates(
    blocks_by_source: Mapping[str, Sequence[Block]],
    sources: Iterable[EstimateSource],
    reported: Iterable[str],
    now: datetime,
) -> list[Estimate]:
    """The active block of every source that reports no current 5-hour window itself.

    `blocks_by_source`: each source's blocks of the last `LOOKBACK` (`blocks`);
    `reported`: the tools (source names or formats) with a 5-hour window reported and not
    yet reset. A source's limit is its configured size, else (coding agents only) the P90
    of its completed blocks — the first block is left out, it may be cut by the lookback.
    """
    skip = set(reported)
    out = []
    for src in sources:
        drawn = blocks_by_source.get(src.name)
        if not drawn or not needs_estimate(src, skip):
            continue
        active = drawn[-1]
        if not active.is_active(now):
            continue
        limit = src.size
        if limit is None and src.format in LEARNING_FORMATS:
            learned = learned_limit(drawn[1:-1])
            if learned is not None and learned.tokens > 0:
                limit = BlockLimit(learned.tokens, None, learned.blocks)
        if limit is not None:
            out.append(Estimate(src.name, active, limit))
    return out
