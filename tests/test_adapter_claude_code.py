"""The claude-code adapter on the example tree and on the format's quirks."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from monitor.events import FLAG_TS_FROM_MTIME, UsageEvent
from monitor.sources import get_format
from monitor.sources.base import ParseContext, ParseResult
from monitor.sources.claude_code import FORMAT, default_paths, parse
from tests.factories import parse_ctx
from tests.test_adapter_common import BAD_TIMES, GARBAGE_COUNTS

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "claude-code" / "projects"
SESSION_A = "3f2a1c9e-5b7d-4e21-9a0c-1d2e3f4a5b6c"
BERLIN = ZoneInfo("Europe/Berlin")


def make_ctx(
    path: str = "/p/s.jsonl", base_offset: int = 0, mtime: datetime | None = None
) -> ParseContext:
    return parse_ctx(
        "claude-code",
        path,
        file_id="64769:1234:abcd",
        tz=BERLIN,
        base_offset=base_offset,
        mtime=mtime,
    )


def parse_file(path: Path) -> ParseResult:
    return parse(make_ctx(str(path)), {}, path.read_bytes())


def line(
    *,
    msg_id: str | None = "msg_1",
    req_id: str | None = "req_1",
    model: Any = "claude-sonnet-4-5-20250929",
    usage: dict[str, Any] | None = None,
    **extra: Any,
) -> bytes:
    message: dict[str, Any] = {"type": "message", "role": "assistant", "model": model}
    if msg_id is not None:
        message["id"] = msg_id
    message["usage"] = usage if usage is not None else {"input_tokens": 1, "output_tokens": 2}
    record: dict[str, Any] = {
        "cwd": "/home/u/proj",
        "sessionId": "s-1",
        "message": message,
        "type": "assistant",
        "timestamp": "2026-11-20T12:00:00.000Z",
    }
    if req_id is not None:
        record["requestId"] = req_id
    record.update(extra)
    return json.dumps(record).encode() + b"\n"


def totals(events: list[UsageEvent]) -> tuple[int, int, int, int, int]:
    return (
        sum(e.input_tokens for e in events),
        sum(e.output_tokens for e in events),
        sum(e.cache_read_tokens for e in events),
        sum(e.cache_write_tokens for e in events),
        sum(e.cache_write_1h_tokens for e in events),
    )


def test_registry_names_this_format() -> None:
    assert get_format("claude-code") is FORMAT
    assert FORMAT.kind == "lines"


def test_example_tree_totals_match_hand_count() -> None:
    events = [e for p in sorted(EXAMPLES.rglob("*.jsonl")) for e in parse_file(p).events]
    assert len(events) == 9
    # input = input + cache writes + cache reads, per message (see the example files)
    assert totals(events) == (65434, 1910, 50500, 12900, 6500)
    assert len({e.key for e in events}) == 9
    assert {e.provider for e in events} == {"anthropic"}


def test_session_with_streamed_copies_synthetic_line_and_task_result() -> None:
    result = parse_file(EXAMPLES / "-home-user-myproj" / f"{SESSION_A}.jsonl")
    assert result.errors == []
    # 3 streamed copies of one message, 2 more messages, a <synthetic> error line and a
    # Task result whose toolUseResult.usage belongs to the subagent's own file.
    assert [(e.input_tokens, e.output_tokens) for e in result.events] == [
        (3 + 2000 + 12000, 245),
        (5 + 1500 + 14000, 180),
        (2 + 0 + 15500, 95),
    ]
    first = result.events[0]
    assert first.key == "cc:msg_01Hq7WcZr3bVt5kFq2nE8xYa:req_011CUJ4mQ8vGx2sZkP7yTnRb"
    assert first.tags == {"project": "/home/user/myproj", "session": SESSION_A}
    assert first.model == "claude-sonnet-4-5-20250929"
    assert first.ts == datetime(2026, 11, 20, 9, 0, 4, 871000, tzinfo=UTC)
    assert result.events[1].cache_write_1h_tokens == 1500


def test_subagent_file_is_tagged_sidechain_and_agent() -> None:
    path = EXAMPLES / "-home-user-myproj" / SESSION_A / "subagents" / "agent-a1b2c3d.jsonl"
    events = parse_file(path).events
    assert len(events) == 2
    assert totals(events) == (3010 + 3204, 150 + 320, 0 + 3000, 3000 + 200, 0)
    assert {e.model for e in events} == {"claude-haiku-4-5-20251001"}
    assert events[0].tags == {
        "project": "/home/user/myproj",
        "session": SESSION_A,
        "sidechain": "true",
        "agent": "a1b2c3d",
    }


def test_old_version_cost_is_reported_and_missing_request_id_keys_by_message() -> None:
    path = EXAMPLES / "-home-user-webapp" / "0b9e8d7c-6a5f-4e3d-8c2b-1a0f9e8d7c6b.jsonl"
    events = parse_file(path).events
    assert [e.reported_cost for e in events] == [Decimal("0.0081"), Decimal("0.00525")]
    assert events[1].key == "cc:msg_01Sw9CiUd1jEz3SkY0tM6gAi"
    assert (events[1].input_tokens, events[1].cache_read_tokens, events[1].cache_write_tokens) == (
        800 + 400 + 1000,
        1000,
        400,
    )


def test_streamed_duplicate_keeps_largest_usage_wherever_it_appears() -> None:
    small = {"input_tokens": 3, "cache_read_input_tokens": 100, "output_tokens": 1}
    large = {"input_tokens": 3, "cache_read_input_tokens": 100, "output_tokens": 400}
    data = line(usage=small) + line(usage=large) + line(usage=small) + line(msg_id="msg_2")
    events = parse(make_ctx(), {}, data).events
    assert [(e.key, e.output_tokens) for e in events] == [
        ("cc:msg_1:req_1", 400),
        ("cc:msg_2:req_1", 2),
    ]
    assert events[0].origin == f"/p/s.jsonl:{len(line(usage=small))}"


def test_same_message_under_another_request_is_another_call() -> None:
    events = parse(make_ctx(), {}, line(req_id="req_1") + line(req_id="req_2")).events
    assert [e.key for e in events] == ["cc:msg_1:req_1", "cc:msg_1:req_2"]


def test_line_without_ids_is_keyed_by_file_and_offset() -> None:
    first = line(msg_id=None, req_id=None)
    events = parse(make_ctx(base_offset=500), {}, first + first).events
    assert [e.key for e in events] == ["64769:1234:abcd@500", f"64769:1234:abcd@{500 + len(first)}"]


def test_synthetic_model_is_skipped() -> None:
    assert parse(make_ctx(), {}, line(model="<synthetic>")).events == []


def test_lines_without_message_usage_are_not_events() -> None:
    user = {
        "type": "user",
        "message": {"role": "user", "content": "hi"},
        "timestamp": "2026-11-20T12:00:00Z",
    }
    task_result = dict(user, toolUseResult={"usage": {"input_tokens": 9, "output_tokens": 9}})
    data = b"".join(json.dumps(r).encode() + b"\n" for r in (user, task_result, {"usage": "x"}))
    result = parse(make_ctx(), {}, data)
    assert result.events == [] and result.errors == []


def test_crlf_lines_and_unknown_fields_parse() -> None:
    data = line(brandNew={"nested": [1, 2]}).replace(b"\n", b"\r\n") + line(msg_id="msg_2")
    events = parse(make_ctx(), {}, data).events
    assert [e.key for e in events] == ["cc:msg_1:req_1", "cc:msg_2:req_1"]


def test_missing_cache_fields_count_as_zero() -> None:
    (event,) = parse(make_ctx(), {}, line(usage={"input_tokens": 7, "output_tokens": 5})).events
    assert (event.input_tokens, event.output_tokens) == (7, 5)
    assert (event.cache_read_tokens, event.cache_write_tokens, event.cache_write_1h_tokens) == (
        0,
        0,
        0,
    )


def test_null_and_string_counts_are_read_leniently() -> None:
    usage = {
        "input_tokens": "12",
        "output_tokens": 30,
        "cache_creation_input_tokens": None,
        "cache_read_input_tokens": 100,
        "cache_creation": None,
    }
    result = parse(make_ctx(), {}, line(usage=usage, isSidechain=None))
    assert result.errors == []
    (event,) = result.events
    assert (event.input_tokens, event.output_tokens, event.cache_write_tokens) == (112, 30, 0)
    assert "sidechain" not in event.tags


def test_malformed_line_is_an_error_at_its_absolute_offset_and_others_still_parse() -> None:
    good = line()
    bad = b'{"message": {"usage": {"input_tokens": 1, \n'
    result = parse(make_ctx(base_offset=10_000), {}, good + bad + line(msg_id="msg_2"))
    assert [e.key for e in result.events] == ["cc:msg_1:req_1", "cc:msg_2:req_1"]
    assert [err.offset for err in result.errors] == [10_000 + len(good)]
    assert "invalid JSON" in result.errors[0].message


def test_line_without_model_is_an_error() -> None:
    record = json.loads(line())
    del record["message"]["model"]
    result = parse(make_ctx(), {}, json.dumps(record).encode() + b"\n")
    assert result.events == []
    assert [err.offset for err in result.errors] == [0]


def test_naive_timestamp_is_read_in_the_source_zone() -> None:
    (event,) = parse(make_ctx(), {}, line(timestamp="2026-07-01T14:00:00")).events
    assert event.ts == datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


def test_missing_timestamp_falls_back_to_mtime_flagged_else_error() -> None:
    record = json.loads(line())
    del record["timestamp"]
    data = json.dumps(record).encode() + b"\n"
    mtime = datetime(2026, 11, 20, 13, 0, tzinfo=UTC)
    (event,) = parse(make_ctx(mtime=mtime), {}, data).events
    assert event.ts == mtime and event.flags & FLAG_TS_FROM_MTIME
    result = parse(make_ctx(), {}, data)
    assert result.events == [] and len(result.errors) == 1


def test_agent_comes_from_the_file_name_when_lines_lack_agent_id() -> None:
    (event,) = parse(make_ctx(path="/p/agent-9f8e7d.jsonl"), {}, line(isSidechain=True)).events
    assert event.tags["agent"] == "9f8e7d" and event.tags["sidechain"] == "true"


def test_parsing_in_chunks_gives_the_same_calls_as_one_pass() -> None:
    path = EXAMPLES / "-home-user-myproj" / f"{SESSION_A}.jsonl"
    data = path.read_bytes()
    whole = {e.key: e for e in parse(make_ctx(), {}, data).events}
    cuts = [i + 1 for i, byte in enumerate(data) if byte == ord("\n")][:-1]
    for cut in cuts:
        by_key: dict[str, UsageEvent] = {}
        for base, chunk in ((0, data[:cut]), (cut, data[cut:])):
            for e in parse(make_ctx(base_offset=base), {}, chunk).events:
                if e.key not in by_key or e.total_tokens > by_key[e.key].total_tokens:
                    by_key[e.key] = e  # what the ledger does across calls
        assert by_key == whole


def test_default_paths_follow_claude_config_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", "/a/claude, /b/work/")
    assert default_paths() == ["/a/claude/projects/**/*.jsonl", "/b/work/projects/**/*.jsonl"]
    monkeypatch.delenv("CLAUDE_CONFIG_DIR")
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    assert default_paths() == [
        "~/.claude/projects/**/*.jsonl",
        "~/.config/claude/projects/**/*.jsonl",
    ]


def test_absurd_values_are_errors_not_crashes() -> None:
    absurd = line(usage={"input_tokens": "1e400", "output_tokens": 1})
    far = line(msg_id="msg_2", timestamp="9999-12-31T23:59:59-23:00")
    result = parse(make_ctx(), {}, absurd + far + line(msg_id="msg_3"))
    assert [e.key for e in result.events] == ["cc:msg_3:req_1"]
    assert [err.offset for err in result.errors] == [0, len(absurd)]


# -- bad values (issue 9): the record is bad, its neighbours still count -------------------


def around(bad: bytes, base: int = 100) -> tuple[ParseResult, int]:
    """Parse a good line, `bad`, a good line; also return where `bad` starts."""
    first = line(msg_id="msg_a", usage={"input_tokens": 10, "output_tokens": 20})
    last = line(msg_id="msg_z", usage={"input_tokens": 30, "output_tokens": 40})
    return parse(make_ctx(base_offset=base), {}, first + bad + last), base + len(first)


def assert_only_neighbours_count(result: ParseResult) -> None:
    assert [e.key for e in result.events] == ["cc:msg_a:req_1", "cc:msg_z:req_1"]
    assert totals(result.events) == (40, 60, 0, 0, 0)


@pytest.mark.parametrize("garbage", GARBAGE_COUNTS.values(), ids=list(GARBAGE_COUNTS))
@pytest.mark.parametrize(
    "field",
    ["input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"],
)
def test_garbage_token_count_is_a_bad_record_and_neighbours_count(field: str, garbage: Any) -> None:
    usage = {"input_tokens": 1, "output_tokens": 2, field: garbage}
    result, offset = around(line(msg_id="msg_bad", usage=usage))
    assert_only_neighbours_count(result)
    ((error_offset, message),) = [(e.offset, e.message) for e in result.errors]
    assert error_offset == offset
    assert message.startswith(f"{field}: {garbage!r} is not a token count")


def test_garbage_one_hour_cache_write_is_a_bad_record() -> None:
    usage = {"input_tokens": 1, "cache_creation": {"ephemeral_1h_input_tokens": -5}}
    result, offset = around(line(msg_id="msg_bad", usage=usage))
    assert_only_neighbours_count(result)
    assert [(e.offset, e.message) for e in result.errors] == [
        (offset, "ephemeral_1h_input_tokens: -5 is not a token count (negative)")
    ]


def test_whole_float_and_numeric_string_counts_are_read() -> None:
    usage = {"input_tokens": 3865.0, "output_tokens": "12", "cache_read_input_tokens": None}
    (event,) = parse(make_ctx(), {}, line(usage=usage)).events
    assert (event.input_tokens, event.output_tokens) == (3865, 12)


def test_input_with_cache_over_the_count_bound_is_a_bad_record() -> None:
    half = 6 * 10**14  # each fine, their sum over MAX_TOKENS
    usage = {"input_tokens": half, "cache_read_input_tokens": half, "output_tokens": 1}
    result, offset = around(line(msg_id="msg_bad", usage=usage))
    assert_only_neighbours_count(result)
    assert [e.offset for e in result.errors] == [offset]
    assert "input_tokens with cache reads and writes" in result.errors[0].message


@pytest.mark.parametrize(("value", "says"), BAD_TIMES.values(), ids=list(BAD_TIMES))
def test_bad_timestamp_is_a_bad_record_not_the_mtime(value: str, says: str) -> None:
    mtime = datetime(2026, 11, 20, 13, 0, tzinfo=UTC)
    first = line(msg_id="msg_a")
    data = first + line(msg_id="msg_bad", timestamp=value) + line(msg_id="msg_z")
    result = parse(make_ctx(mtime=mtime), {}, data)
    assert [e.key for e in result.events] == ["cc:msg_a:req_1", "cc:msg_z:req_1"]
    assert not any(e.flags & FLAG_TS_FROM_MTIME for e in result.events)
    assert [e.offset for e in result.errors] == [len(first)]
    assert result.errors[0].message.startswith(says)


def test_epoch_number_timestamp_is_read_not_replaced_by_the_mtime() -> None:
    mtime = datetime(2026, 11, 21, tzinfo=UTC)
    (event,) = parse(make_ctx(mtime=mtime), {}, line(timestamp=1763640000)).events
    assert (event.ts, event.flags) == (datetime(2025, 11, 20, 12, 0, tzinfo=UTC), 0)


@pytest.mark.parametrize("model", [5, ["claude-sonnet-4-5"], {"id": "claude"}])
def test_model_that_is_no_string_is_a_bad_record(model: Any) -> None:
    result, offset = around(line(msg_id="msg_bad", model=model))
    assert_only_neighbours_count(result)
    assert [(e.offset, e.message) for e in result.errors] == [
        (offset, f"message.model: {model!r} is not a model name")
    ]


@pytest.mark.parametrize("cost", [-0.01, "abc", "Infinity", "NaN", 1e9, True])
def test_garbage_cost_usd_is_a_bad_record(cost: Any) -> None:
    result, offset = around(line(msg_id="msg_bad", costUSD=cost))
    assert_only_neighbours_count(result)
    assert [e.offset for e in result.errors] == [offset]
    assert result.errors[0].message.startswith("costUSD: ")
