"""The pi adapter on the example sessions and on the format's quirks.

Also the furniture the other agent adapters' tests share (`in_two_chunks`,
`assert_bad_alone`, `assert_priced`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from monitor.events import FLAG_TS_FROM_MTIME, UsageEvent
from monitor.pricing import Pricer
from monitor.sources import get_format
from monitor.sources.base import ParseContext, ParseError, ParseFn, ParseResult
from monitor.sources.locations import pi_paths
from monitor.sources.pi import FORMAT, parse
from tests.factories import parse_ctx
from tests.test_adapter_common import BAD_TIMES, GARBAGE_COUNTS

SESSIONS = Path(__file__).resolve().parent.parent / "examples" / "pi" / "sessions"
PROJECT = SESSIONS / "--home-user-webapp--"
FIRST = PROJECT / "2026-11-20T09-12-03-118Z_5b2e7a14-3c9d-4f6a-8e21-7d0c9b4a6f13.jsonl"
FORK = PROJECT / "2026-11-20T10-02-44-501Z_9c04d6e3-71ab-4b85-a2f6-e3d1c0b58a27.jsonl"
MTIME = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


# -- shared furniture --------------------------------------------------------------------


def in_two_chunks(
    parse_fn: ParseFn, ctx_at: Any, data: bytes
) -> Iterator[tuple[list[UsageEvent], list[ParseError]]]:
    """For each cut at a line boundary, what reading `data` as two chunks gives (the first
    chunk's state carried into the second, as the tail does); `ctx_at(offset)` is the
    context of a chunk starting at that offset."""
    cuts = [i + 1 for i, byte in enumerate(data) if byte == ord("\n")][:-1]
    assert cuts, "a file of one line cannot be cut"
    for cut in cuts:
        first = parse_fn(ctx_at(0), {}, data[:cut])
        second = parse_fn(ctx_at(cut), first.state, data[cut:])
        yield first.events + second.events, first.errors + second.errors


def assert_bad_alone(
    parse_fn: ParseFn, ctx: ParseContext, first: bytes, bad: bytes, last: bytes, says: str
) -> None:
    """`bad` between two good lines is one bad record at its own offset that says `says`,
    and the good lines count exactly as they do without it."""
    alone = parse_fn(ctx, {}, first + last)
    assert alone.errors == [] and len(alone.events) == 2
    result = parse_fn(ctx, {}, first + bad + last)
    assert [(e.key, e.input_tokens, e.output_tokens) for e in result.events] == [
        (e.key, e.input_tokens, e.output_tokens) for e in alone.events
    ]
    ((offset, message),) = [(e.offset, e.message) for e in result.errors]
    assert offset == ctx.base_offset + len(first)
    assert says in message


@cache
def _pricer() -> Pricer:
    return Pricer()


def assert_priced(events: list[UsageEvent]) -> None:
    """Each call's provider and model are ones genai-prices prices."""
    assert [(e.provider, e.model) for e in events if _pricer().price(e) is None] == []


# -- pi ------------------------------------------------------------------------------------


def make_ctx(path: Path | str = FIRST, base_offset: int = 0, **kw: Any) -> ParseContext:
    kw.setdefault("mtime", MTIME)
    return parse_ctx(
        "pi",
        str(path),
        file_id="64769:77:abcd",
        tz=ZoneInfo("Europe/Berlin"),
        base_offset=base_offset,
        **kw,
    )


def line(record: dict[str, Any]) -> bytes:
    return json.dumps(record, separators=(",", ":")).encode() + b"\n"


def reply(
    n: int = 1,
    *,
    usage: dict[str, Any] | None = None,
    model: Any = "claude-sonnet-4-5",
    timestamp: Any = "2026-11-20T09:30:00.000Z",
    **message: Any,
) -> bytes:
    """An assistant reply entry as pi appends it; `n` makes its timestamps (and key) its own."""
    body: dict[str, Any] = {
        "role": "assistant",
        "content": [{"type": "text", "text": "Done."}],
        "api": "anthropic-messages",
        "provider": "anthropic",
        "model": model,
        "usage": usage if usage is not None else {"input": 10 * n, "output": n, "cacheRead": 0},
        "stopReason": "stop",
        "timestamp": 1795167000000 + n,
    }
    body.update(message)
    if model is None:
        del body["model"]
    record = {"type": "message", "id": f"{n:08x}", "parentId": None, "message": body}
    if timestamp is not None:
        record["timestamp"] = timestamp.replace("00.000Z", f"{n:02d}.000Z")
    return line(record)


def totals(events: list[UsageEvent]) -> tuple[int, int, int, int]:
    return (
        sum(e.input_tokens for e in events),
        sum(e.output_tokens for e in events),
        sum(e.cache_read_tokens for e in events),
        sum(e.cache_write_tokens for e in events),
    )


def test_registry_names_this_format() -> None:
    assert get_format("pi") is FORMAT
    assert FORMAT.kind == "lines"


def test_example_sessions_count_each_reply_once_with_the_hand_totals() -> None:
    by_key: dict[str, UsageEvent] = {}
    for path in (FIRST, FORK):
        result = parse(make_ctx(path), {}, path.read_bytes())
        assert result.errors == []
        for event in result.events:
            by_key.setdefault(event.key, event)  # what the ledger does with a second copy
    events = list(by_key.values())
    assert_priced(events)
    # The fork copies the first two replies verbatim and adds one: 3 + 1 calls, not 6.
    assert len(events) == 4
    # input = input + cacheRead + cacheWrite of each reply (see the example files)
    assert totals(events) == (
        (3 + 0 + 9876) + (2 + 9876 + 1204) + (1840 + 11008 + 0) + 1520,
        412 + 188 + 655 + 240,
        9876 + 11008,
        9876 + 1204,
    )
    assert sum((e.reported_cost or Decimal(0) for e in events), Decimal(0)) == Decimal("0.0562478")


def test_a_reply_maps_to_the_event_with_cache_inside_input() -> None:
    first, second, codex = parse(make_ctx(), {}, FIRST.read_bytes()).events
    assert (second.input_tokens, second.output_tokens) == (2 + 9876 + 1204, 188)
    assert (second.cache_read_tokens, second.cache_write_tokens, second.reasoning_tokens) == (
        9876,
        1204,
        0,
    )
    assert (second.provider, second.model) == ("anthropic", "claude-sonnet-4-5")
    assert second.ts == datetime(2026, 11, 20, 9, 12, 36, 277000, tzinfo=UTC)
    assert second.reported_cost == Decimal("0.0103038")
    assert second.tags == {
        "session": "5b2e7a14-3c9d-4f6a-8e21-7d0c9b4a6f13",
        "project": "/home/user/webapp",
    }
    assert second.key.startswith("pi:2026-11-20T09:12:36.277Z:")
    assert second.flags == 0 and first.origin.startswith(f"{FIRST}:")
    # A subscription provider pi prices at $0: no reported cost, so it gets priced.
    assert (codex.provider, codex.model, codex.reported_cost) == (
        "openai-codex",
        "gpt-5.1-codex",
        None,
    )


def test_a_copied_or_migrated_reply_keeps_its_key() -> None:
    """pi copies entries into forks verbatim and gives migrated v1 entries new ids."""
    original = parse(make_ctx(), {}, reply(1)).events
    record = json.loads(reply(1))
    record["id"], record["parentId"] = "ffff0000", "eeee1111"
    copied = parse(make_ctx(FORK, base_offset=999), {}, line(record)).events
    assert [e.key for e in copied] == [e.key for e in original]
    other = parse(make_ctx(), {}, reply(2)).events
    assert other[0].key != original[0].key


def test_aborted_reply_without_usage_counts_nothing() -> None:
    zero = {"input": 0, "output": 0, "cacheRead": 0, "cacheWrite": 0, "totalTokens": 0}
    result = parse(make_ctx(), {}, reply(1, usage=zero, stopReason="aborted"))
    assert (result.events, result.errors) == ([], [])


def test_only_a_total_counts_as_input() -> None:
    (event,) = parse(make_ctx(), {}, reply(1, usage={"totalTokens": 333})).events
    assert (event.input_tokens, event.output_tokens) == (333, 0)


def test_zero_or_shapeless_cost_is_no_reported_cost() -> None:
    usages: list[dict[str, Any]] = [
        {"input": 5, "output": 1, "cost": {"total": 0}},
        {"input": 5, "output": 1, "cost": 0},
        {"input": 5, "output": 1, "cost": {"total": "0.25"}},
    ]
    data = b"".join(reply(n, usage=usage) for n, usage in enumerate(usages, 1))
    assert [e.reported_cost for e in parse(make_ctx(), {}, data).events] == [
        None,
        None,
        Decimal("0.25"),
    ]


def test_a_reply_without_model_takes_the_latest_model_change_else_the_flagged_fallback() -> None:
    change = line({"type": "model_change", "provider": "openai", "modelId": "gpt-5.2"})
    without = reply(1, model=None, provider=None)
    fallback, changed = (
        parse(make_ctx(), {}, data).events[0] for data in (without, change + without)
    )
    assert (fallback.model, fallback.provider, fallback.tags["model_fallback"]) == (
        "unknown",
        "unknown",
        "true",
    )
    assert (changed.model, changed.provider) == ("gpt-5.2", "openai")
    assert "model_fallback" not in changed.tags


def test_a_reply_without_timestamps_is_dated_by_the_mtime_and_keyed_by_place() -> None:
    data = reply(1, timestamp=None)
    record = json.loads(data)
    del record["message"]["timestamp"]
    (event,) = parse(make_ctx(base_offset=40), {}, line(record)).events
    assert (event.ts, event.flags & FLAG_TS_FROM_MTIME) == (MTIME, FLAG_TS_FROM_MTIME)
    assert event.key == "64769:77:abcd@40"


def test_reading_in_chunks_gives_what_reading_whole_gives() -> None:
    data = FIRST.read_bytes()
    whole = parse(make_ctx(), {}, data)
    for events, errors in in_two_chunks(parse, lambda at: make_ctx(base_offset=at), data):
        assert (events, errors) == (whole.events, whole.errors)


def test_reparsing_is_idempotent() -> None:
    data = FORK.read_bytes()
    once = parse(make_ctx(FORK), {}, data)
    again = parse(make_ctx(FORK), {}, data)
    assert once.events == again.events and once.state == again.state
    assert len({e.key for e in once.events}) == len(once.events) == 3


def test_default_paths_follow_ccusage_then_pi_and_oh_my_pi() -> None:
    assert pi_paths({"PI_AGENT_DIR": "/a/sessions, /b/s/"}) == [
        "/a/sessions/**/*.jsonl",
        "/b/s/**/*.jsonl",
    ]
    assert pi_paths({"PI_CODING_AGENT_DIR": "/x/agent", "OMP_CODING_AGENT_DIR": "/y"}) == [
        "/x/agent/sessions/**/*.jsonl",
        "/y/sessions/**/*.jsonl",
    ]
    assert pi_paths({}) == ["~/.pi/agent/sessions/**/*.jsonl", "~/.omp/agent/sessions/**/*.jsonl"]


# -- bad values (issue 9): the record is bad, its neighbours still count -------------------


def test_a_line_that_is_no_json_is_a_bad_record() -> None:
    assert_bad_alone(
        parse, make_ctx(), reply(1), b'{"type":"message","mess\n', reply(3), "invalid JSON"
    )


@pytest.mark.parametrize("garbage", GARBAGE_COUNTS.values(), ids=list(GARBAGE_COUNTS))
@pytest.mark.parametrize("field", ["input", "output", "cacheRead", "cacheWrite", "totalTokens"])
def test_garbage_count_is_a_bad_record(field: str, garbage: Any) -> None:
    bad = reply(2, usage={"input": 1, "output": 2, field: garbage})
    assert_bad_alone(parse, make_ctx(), reply(1), bad, reply(3), f"usage.{field}: {garbage!r}")


@pytest.mark.parametrize("usage", ["12 tokens", [1, 2], 7])
def test_usage_that_is_no_object_is_a_bad_record(usage: Any) -> None:
    bad = reply(2, usage=usage)
    assert_bad_alone(parse, make_ctx(), reply(1), bad, reply(3), "is not an object")


@pytest.mark.parametrize(("value", "says"), BAD_TIMES.values(), ids=list(BAD_TIMES))
def test_bad_timestamp_is_a_bad_record_not_the_mtime(value: str, says: str) -> None:
    record = json.loads(reply(2))
    record["timestamp"] = value
    assert_bad_alone(parse, make_ctx(), reply(1), line(record), reply(3), says)


@pytest.mark.parametrize("total", [-0.01, "abc", "NaN", 1e9, True])
def test_garbage_cost_is_a_bad_record(total: Any) -> None:
    bad = reply(2, usage={"input": 1, "output": 1, "cost": {"total": total}})
    assert_bad_alone(parse, make_ctx(), reply(1), bad, reply(3), "usage.cost.total: ")


def test_a_model_that_is_no_string_is_a_bad_record_and_forgets_the_model() -> None:
    assert_bad_alone(parse, make_ctx(), reply(1), reply(2, model=5), reply(3), "message.model: 5")
    good = line({"type": "model_change", "provider": "openai", "modelId": "gpt-5.2"})
    bad = line({"type": "model_change", "provider": "openai", "modelId": ["gpt-5.2"]})
    result = parse(make_ctx(), {}, good + bad + reply(1, model=None, provider=None))
    assert [e.offset for e in result.errors] == [len(good)]
    assert [(e.model, e.tags.get("model_fallback")) for e in result.events] == [("unknown", "true")]


def test_parse_result_state_is_a_copy() -> None:
    state: dict[str, Any] = {}
    result: ParseResult = parse(make_ctx(), state, FIRST.read_bytes())
    assert state == {} and result.state["session"] == "5b2e7a14-3c9d-4f6a-8e21-7d0c9b4a6f13"
