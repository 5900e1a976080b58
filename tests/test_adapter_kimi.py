"""The kimi adapter on Kimi CLI and Kimi Code wire logs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from monitor.events import UsageEvent
from monitor.sources import get_format
from monitor.sources.base import ParseContext, ParseResult
from monitor.sources.kimi import FORMAT, parse
from monitor.sources.locations import kimi_paths
from tests.factories import parse_ctx
from tests.test_adapter_common import BAD_TIMES, GARBAGE_COUNTS
from tests.test_adapter_pi import assert_bad_alone, assert_priced, in_two_chunks

KIMI = Path(__file__).resolve().parent.parent / "examples" / "kimi"
SESSION = "0f5c8a3e-4b21-4d7e-9a6f-1c2b3d4e5f60"
CLI = KIMI / "kimi-cli" / "sessions" / "9e107d9d372bb6826bd81d3542a419d6" / SESSION
MAIN = CLI / "wire.jsonl"
SUBAGENT = CLI / "subagents" / "a7c1e2f4" / "wire.jsonl"
CODE = (
    KIMI
    / "kimi-code"
    / "sessions"
    / "wk-4f2a9c"
    / "ses-1b8d7e6f"
    / "agents"
    / "main"
    / "wire.jsonl"
)
ALIAS = {"model_fallback": "true", "model_alias": "kimi-for-coding"}


def make_ctx(path: Path | str = MAIN, base_offset: int = 0, **options: Any) -> ParseContext:
    return parse_ctx("kimi", str(path), file_id="2049:11:f00d", base_offset=base_offset, **options)


def parse_file(path: Path, **options: Any) -> ParseResult:
    return parse(make_ctx(path, **options), {}, path.read_bytes())


def status_line(n: int, usage: Any, message_id: Any = "", timestamp: Any = None) -> bytes:
    """A StatusUpdate line as Kimi CLI writes it (Python's json, its default separators)."""
    payload = {
        "context_usage": 0.05,
        "context_tokens": 13000,
        "max_context_tokens": 262144,
        "token_usage": usage,
        "message_id": f"chatcmpl-{n:04d}" if message_id == "" else message_id,
        "plan_mode": False,
        "mcp_status": None,
    }
    stamp = 1795165930.5 + n if timestamp is None else timestamp
    record = {"timestamp": stamp, "message": {"type": "StatusUpdate", "payload": payload}}
    return json.dumps(record).encode() + b"\n"


def usage(other: Any = 100, output: Any = 20, read: Any = 0, creation: Any = 0) -> dict[str, Any]:
    return {
        "input_other": other,
        "output": output,
        "input_cache_read": read,
        "input_cache_creation": creation,
    }


def test_registry_names_this_format() -> None:
    assert get_format("kimi") is FORMAT
    assert FORMAT.kind == "lines"


def test_example_wires_count_each_step_once_with_the_hand_totals() -> None:
    by_key: dict[str, UsageEvent] = {}
    for path in (MAIN, SUBAGENT, CODE):
        result = parse_file(path)
        assert result.errors == []
        for event in result.events:
            by_key.setdefault(event.key, event)
    events = list(by_key.values())
    assert_priced(events)
    # main: two steps and the subagent's step (wrapped in a SubagentEvent), which its own
    # wire repeats under the same message_id; Kimi Code: two turns (its session record
    # repeats their sum).
    assert len(events) == 5
    assert (
        sum(e.input_tokens for e in events),
        sum(e.output_tokens for e in events),
        sum(e.cache_read_tokens for e in events),
    ) == (
        8231 + (1204 + 8192) + (3010 + 2048) + (3064 + 14848) + (412 + 17920),
        311 + 588 + 142 + 76 + 230,
        8192 + 2048 + 14848 + 17920,
    )


def test_a_step_maps_to_the_event() -> None:
    first, second, sub = parse_file(MAIN).events
    assert (second.input_tokens, second.output_tokens, second.cache_read_tokens) == (
        1204 + 8192,
        588,
        8192,
    )
    assert (second.key, second.provider, second.model) == (
        "kimi:chatcmpl-5e1a2b3c4d5f6a7b",
        "moonshotai",
        "kimi-k2.6",
    )
    assert second.ts == datetime(2026, 11, 20, 9, 12, 11, 304000, UTC)
    assert second.tags == {"session": SESSION, **ALIAS}
    assert sub.tags == {"session": SESSION, "agent": "a7c1e2f4", "subagent": "coder", **ALIAS}
    assert [e.key for e in parse_file(SUBAGENT).events] == [sub.key]


def test_kimi_code_counts_turn_records_not_the_session_total() -> None:
    turns = parse_file(CODE).events
    assert [(e.input_tokens, e.output_tokens) for e in turns] == [
        (3064 + 14848, 76),
        (412 + 17920, 230),
    ]
    assert {e.model for e in turns} == {"kimi-k2.6"}
    assert turns[0].tags == {"session": "ses-1b8d7e6f", "model_alias": "kimi-for-coding"}
    assert turns[0].ts == datetime(2026, 11, 20, 11, 5, 9, 943000, UTC)


def test_the_configured_model_names_the_steps() -> None:
    (event, *_) = parse_file(MAIN, model="kimi-k2-turbo-preview").events
    assert (event.model, event.tags) == ("kimi-k2-turbo-preview", {"session": SESSION})
    (event, *_) = parse_file(MAIN, model="kimi-code/kimi-for-coding").events
    assert (event.model, event.tags) == (
        "kimi-k2.6",
        {"session": SESSION, "model_alias": "kimi-for-coding"},
    )
    (event, *_) = parse_file(MAIN, model="gpt-5.2").events
    assert (event.provider, event.model) == ("openai", "gpt-5.2")


def test_the_plan_alias_was_k2_5_before_the_switch() -> None:
    before = status_line(
        1, usage(), timestamp=datetime(2026, 4, 20, 15, 28, 10, tzinfo=UTC).timestamp()
    )
    after = status_line(
        2, usage(), timestamp=datetime(2026, 4, 20, 15, 28, 11, tzinfo=UTC).timestamp()
    )
    assert [e.model for e in parse(make_ctx(), {}, before + after).events] == [
        "kimi-k2.5",
        "kimi-k2.6",
    ]


def test_status_updates_without_usage_count_nothing() -> None:
    data = (
        status_line(1, None)
        + status_line(2, usage(0, 0))
        + b'{"type": "metadata", "protocol_version": "1.10"}\n'
    )
    result = parse(make_ctx(), {}, data)
    assert (result.events, result.errors) == ([], [])


def test_a_step_without_message_id_is_keyed_by_its_place_and_only_a_total_is_input() -> None:
    data = status_line(1, usage()) + status_line(2, {"total": 432}, message_id=None)
    first, second = parse(make_ctx(base_offset=500), {}, data).events
    assert second.key == f"2049:11:f00d@{500 + len(status_line(1, usage()))}"
    assert (second.input_tokens, second.output_tokens) == (432, 0)


def test_nan_that_python_writes_is_read() -> None:
    line = status_line(1, usage()).replace(b'"context_usage": 0.05', b'"context_usage": NaN')
    assert len(parse(make_ctx(), {}, line).events) == 1


def test_reading_in_chunks_gives_what_reading_whole_gives() -> None:
    data = MAIN.read_bytes()
    whole = parse(make_ctx(), {}, data)
    for events, errors in in_two_chunks(parse, lambda at: make_ctx(base_offset=at), data):
        assert (events, errors) == (whole.events, whole.errors)


def test_reparsing_is_idempotent() -> None:
    once, again = parse_file(CODE), parse_file(CODE)
    assert once.events == again.events and once.state == again.state == {}


def test_default_paths_follow_ccusage_then_kimi() -> None:
    assert kimi_paths({"KIMI_DATA_DIR": "/a,/b/"}) == [
        "/a/sessions/**/wire.jsonl",
        "/b/sessions/**/wire.jsonl",
    ]
    assert kimi_paths({"KIMI_SHARE_DIR": "/k", "KIMI_CODE_HOME": "/kc/"}) == [
        "/k/sessions/**/wire.jsonl",
        "/kc/sessions/**/wire.jsonl",
    ]
    assert kimi_paths({}) == [
        "~/.kimi/sessions/**/wire.jsonl",
        "~/.kimi-code/sessions/**/wire.jsonl",
    ]


# -- bad values (issue 9): the line is bad, its neighbours still count ---------------------


def around(bad: bytes, says: str) -> None:
    assert_bad_alone(
        parse, make_ctx(base_offset=7), status_line(1, usage()), bad, status_line(3, usage()), says
    )


def test_a_line_that_is_no_json_is_a_bad_record() -> None:
    around(b'{"timestamp": 1795165931.2, "message": {"type": "StatusUp\n', "invalid JSON")


@pytest.mark.parametrize("garbage", GARBAGE_COUNTS.values(), ids=list(GARBAGE_COUNTS))
@pytest.mark.parametrize(
    "field", ["input_other", "output", "input_cache_read", "input_cache_creation"]
)
def test_garbage_count_is_a_bad_record(field: str, garbage: Any) -> None:
    around(status_line(2, {**usage(), field: garbage}), f"token_usage.{field}: {garbage!r}")


def test_token_usage_that_is_no_object_is_a_bad_record() -> None:
    around(status_line(2, [100, 20]), "token_usage: [100, 20] is not an object")


@pytest.mark.parametrize(("value", "says"), BAD_TIMES.values(), ids=list(BAD_TIMES))
def test_bad_timestamp_is_a_bad_record(value: str, says: str) -> None:
    around(status_line(2, usage(), timestamp=value), says)


def test_garbage_in_a_kimi_code_turn_is_a_bad_record() -> None:
    bad = {
        "type": "usage.record",
        "model": 7,
        "usage": {"inputOther": 1},
        "usageScope": "turn",
        "time": 1795172709943,
    }
    around(json.dumps(bad).encode() + b"\n", "model: 7 is not a model name")
