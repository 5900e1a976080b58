"""5-hour blocks, pure: the boundaries ccusage 20.0.24's `blocks` draws on the same calls."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from monitor.blocks import (
    Block,
    BlockCall,
    BlockLimit,
    EstimateSource,
    blocks,
    blocks_of_rows,
    blocks_of_spans,
    estimates,
    learned_limit,
    project,
)
from monitor.limits import estimated


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def calls(*times: str, tokens: int = 110, cost: str | None = "0.00045") -> list[BlockCall]:
    return [BlockCall(at(t), tokens, None if cost is None else Decimal(cost)) for t in times]


def test_blocks_match_what_ccusage_draws_on_the_same_calls() -> None:
    # Checked against `ccusage claude blocks --json` on these very timestamps: a call
    # exactly 5 h after the block's start stays in it, one a second later opens a block
    # at its hour, a gap over 5 h opens one too, and the gap itself is no row.
    got = blocks(
        calls(
            "2026-11-20 10:17:00",
            "2026-11-20 15:00:00",
            "2026-11-20 15:16:59",
            "2026-11-20 15:17:00",
            "2026-11-21 01:00:00",
            "2026-11-21 06:00:00",
        )
    )
    assert [(b.start, b.end, b.last, b.calls, b.tokens) for b in got] == [
        (at("2026-11-20 10:00"), at("2026-11-20 15:00"), at("2026-11-20 15:00"), 2, 220),
        (at("2026-11-20 15:00"), at("2026-11-20 20:00"), at("2026-11-20 15:17"), 2, 220),
        (at("2026-11-21 01:00"), at("2026-11-21 06:00"), at("2026-11-21 06:00"), 2, 220),
    ]
    assert got[0].cost == Decimal("0.00090")


def test_a_burst_across_the_block_boundary_is_split_at_five_hours_from_the_start() -> None:
    times = [f"2026-11-20 {h:02d}:{m:02d}:00" for h in range(9, 16) for m in (0, 20, 40)]
    got = blocks(calls(*times))
    assert [(b.start.hour, b.calls) for b in got] == [(9, 16), (14, 5)]


def test_the_block_runs_five_hours_from_the_hour_of_its_first_call_not_from_the_call() -> None:
    got = blocks(calls("2026-11-20 00:59:00", "2026-11-20 05:00:00"))
    assert [b.start.hour for b in got] == [0]
    got = blocks(calls("2026-11-20 00:59:00", "2026-11-20 05:00:01"))
    assert [b.start.hour for b in got] == [0, 5]


def test_unpriced_calls_are_counted_apart_not_as_zero_dollars() -> None:
    [b] = blocks(calls("2026-11-20 10:00", "2026-11-20 10:05", cost=None))
    assert (b.calls, b.cost, b.unpriced_calls) == (2, Decimal(0), 2)


def test_the_active_block_projects_its_burn_rate_to_its_end() -> None:
    [b] = blocks(calls("2026-11-20 10:00", "2026-11-20 11:00", tokens=6000, cost="1.5"))
    now = at("2026-11-20 11:00")
    assert b.is_active(now) and not b.is_active(at("2026-11-20 15:00"))
    p = project(b, now)
    assert p.remaining == timedelta(hours=4)
    assert p.burn_tokens_per_minute == 200.0
    assert p.tokens_at_end == 12000 + 200 * 240
    assert p.burn_cost_per_hour == Decimal("3.000000")
    assert p.cost_at_end == Decimal("15.000000")


def test_a_limit_is_learned_as_the_p90_of_completed_blocks_once_there_are_enough() -> None:
    def done(tokens: int) -> Block:
        b = Block(
            at("2026-11-01 00:00"), at("2026-11-01 05:00"), at("2026-11-01"), at("2026-11-01")
        )
        b.tokens, b.cost = tokens, Decimal(tokens) / 1000
        return b

    assert learned_limit([done(1), done(2)]) is None
    learned = learned_limit([done(t) for t in range(100, 1100, 100)])
    assert learned is not None
    assert (learned.tokens, learned.cost, learned.blocks) == (1000, Decimal(1), 10)


# -- the estimated window ----------------------------------------------------------------

NOW = at("2026-11-24 12:30:00")


def _history() -> list[BlockCall]:
    """Four completed blocks (one call each, 1,000 … 4,000 tokens) and an active one."""
    done = [BlockCall(at(f"2026-11-2{d} 09:10:00"), 1000 * d, Decimal("0.01")) for d in (1, 2, 3)]
    done.append(BlockCall(at("2026-11-20 09:10:00"), 4000, Decimal("0.01")))
    done.sort(key=lambda c: c.ts)
    active = [
        BlockCall(at("2026-11-24 10:05:00"), 1500, Decimal("0.50")),
        BlockCall(at("2026-11-24 12:00:00"), 500, Decimal("0.25")),
    ]
    return [*done, *active]


def coding(size: BlockLimit | None = None, name: str = "cc") -> EstimateSource:
    return EstimateSource(name, "claude-code", size)


def test_the_active_block_is_measured_against_the_p90_of_the_completed_ones() -> None:
    [e] = estimates({"cc": blocks(_history())}, [coding()], reported=(), now=NOW)
    # The first block (Nov 20) may be cut by the lookback: learned from Nov 21, 22, 23.
    assert e.limit == BlockLimit(tokens=3000, cost=None, learned_from=3)
    assert (e.block.start, e.block.tokens, e.block.cost) == (
        at("2026-11-24 10:00"),
        2000,
        Decimal("0.75"),
    )
    assert e.used_percent == 66.67
    snap = estimated(e)
    assert (snap.tool, snap.window, snap.basis, snap.resets_at, snap.observed_at) == (
        "cc",
        "5h",
        "estimated",
        at("2026-11-24 15:00"),
        at("2026-11-24 12:00"),
    )


def test_a_configured_size_wins_and_the_nearer_of_tokens_and_cost_counts() -> None:
    size = BlockLimit(tokens=10_000, cost=Decimal("1.00"))
    [e] = estimates({"cc": blocks(_history())}, [coding(size)], reported=(), now=NOW)
    assert e.limit is size and e.used_percent == 75.0  # $0.75 of $1 beats 2,000 of 10,000


def test_no_estimate_where_the_tool_reports_its_window_or_nothing_is_active() -> None:
    history = {"cc": blocks(_history())}
    assert estimates(history, [coding()], reported={"claude-code"}, now=NOW) == []
    assert estimates(history, [coding()], reported={"cc"}, now=NOW) == []
    # Five hours after the last call the block is over, though its end is not reached.
    assert estimates(history, [coding()], reported=(), now=at("2026-11-24 15:00:01")) == []


def test_other_sources_need_a_configured_size_and_too_little_history_learns_nothing() -> None:
    studio = EstimateSource("studio", "studio-tokens", None)
    assert estimates({"studio": blocks(_history())}, [studio], reported=(), now=NOW) == []
    assert estimates({"cc": blocks(_history()[-3:])}, [coding()], reported=(), now=NOW) == []
    sized = EstimateSource("studio", "studio-tokens", BlockLimit(tokens=4000, cost=None))
    [e] = estimates({"studio": blocks(_history())}, [sized], reported=(), now=NOW)
    assert e.used_percent == 50.0


def test_blocks_of_ledger_rows_are_the_blocks_of_the_calls() -> None:
    """The plain-row path `status` uses draws exactly what `blocks` draws."""
    calls = _history() + calls_at_the_boundary()
    calls.sort(key=lambda c: c.ts)
    rows = [
        (int(c.ts.timestamp() * 1000), c.tokens, None if c.cost is None else int(c.cost * 10**9))
        for c in calls
    ]
    assert blocks_of_rows(rows) == blocks(calls)


def calls_at_the_boundary() -> list[BlockCall]:
    return calls("2026-11-25 10:17:00", "2026-11-25 15:00:00", "2026-11-25 15:00:01", cost=None)


def test_blocks_of_the_ledgers_hourly_spans_are_the_blocks_of_every_call(tmp_path: Path) -> None:
    """`status` reads a source's calls summed per hour (the calls on the hour's first
    millisecond apart): it draws the very blocks the calls draw one by one — a call
    exactly five hours after a block's start stays in it, one a millisecond later opens
    the next, however many calls share their hour."""
    from zoneinfo import ZoneInfo

    from monitor.events import UsageEvent
    from monitor.ledger import Batch, Ledger, reads
    from monitor.ledger.rows import AT, COST_AT, DayOf, event_row

    times = [
        "2026-11-25 10:17:00", "2026-11-25 10:59:59.999", "2026-11-25 12:00:00",
        "2026-11-25 12:00:00", "2026-11-25 12:30:00", "2026-11-25 15:00:00",
        "2026-11-25 15:00:00.001", "2026-11-25 15:45:00", "2026-11-25 20:00:00",
        "2026-11-25 20:00:00.001", "2026-11-26 09:00:00", "2026-11-26 09:00:00",
        "2026-11-26 14:00:00", "2026-11-26 14:00:00.500",
    ]  # fmt: skip
    events = [
        UsageEvent(
            key=f"k{i}",
            ts=at(t),
            source="cc",
            provider="anthropic",
            model="claude",
            input_tokens=100 + i,
            output_tokens=10,
            cost=None if i % 4 == 0 else Decimal("0.5"),
            cost_basis="unpriced" if i % 4 == 0 else "priced",
        )  # fmt: skip
        for i, t in enumerate(times)
    ]
    with Ledger(tmp_path / "l.sqlite3", ZoneInfo("UTC"), "UTC") as ledger:
        ledger.commit(Batch(events=events))
        spans = reads.block_spans_since(ledger.db, at("2026-11-25 00:00:00"), ["cc"])["cc"]
    assert len(spans) < len(times)
    day_of = DayOf(ZoneInfo("UTC"))
    one_by_one = [event_row(e, day_of) for e in events]
    rows = [
        (r[AT["ts"]], r[AT["input_tokens"]] + r[AT["output_tokens"]], r[COST_AT])
        for r in one_by_one
    ]
    assert [(b.start, b.first, b.last, b.calls) for b in blocks_of_spans(spans)] == [
        (b.start, b.first, b.last, b.calls) for b in blocks_of_rows(rows)
    ]
    assert blocks_of_spans(spans) == blocks_of_rows(rows)
    assert len(blocks_of_rows(rows)) == 5
