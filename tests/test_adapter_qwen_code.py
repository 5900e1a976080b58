"""The qwen-code adapter on the example recordings and on the format's quirks."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from monitor.sources import get_format
from monitor.sources.base import ParseContext
from monitor.sources.locations import qwen_code_paths
from monitor.sources.qwen_code import FORMAT, parse
from tests.factories import parse_ctx
from tests.test_adapter_common import BAD_TIMES, GARBAGE_COUNTS
from tests.test_adapter_gemini_cli import (
    assert_chunks_change_nothing,
    assert_one_bad_line,
    ledger_view,
    usage,
)

CHATS = (
    Path(__file__).resolve().parent.parent / "examples/qwen-code/projects/-home-user-webapp/chats"
)
SESSION = "6f1e2d3c-4b5a-4968-8776-5a4b3c2d1e0f"
MAIN = CHATS / f"{SESSION}.jsonl"
FORK = CHATS / "7a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d.jsonl"


def make_ctx(path: Path = MAIN, base_offset: int = 0) -> ParseContext:
    return parse_ctx("qwen", str(path), file_id="64769:7:beef", base_offset=base_offset)


def assistant(uuid: str | None = "u-1", **changes: Any) -> bytes:
    record: dict[str, Any] = {
        "uuid": uuid,
        "parentUuid": None,
        "sessionId": "s-1",
        "timestamp": "2026-11-21T08:00:00.000Z",
        "type": "assistant",
        "cwd": "/home/u/app",
        "model": "qwen3-coder-plus",
        "usageMetadata": {"promptTokenCount": 100, "candidatesTokenCount": 20},
    }
    record.update(changes)
    return json.dumps(record).encode() + b"\n"


def test_registry_names_this_format() -> None:
    assert get_format("qwen-code") is FORMAT
    assert FORMAT.kind == "lines"


def test_example_session_totals_the_hand_count() -> None:
    result = parse(make_ctx(), {}, MAIN.read_bytes())
    assert result.errors == []
    # four answers of eight records (a user turn, a tool result, two system records)
    assert usage(result.events) == [
        (12450, 380, 10112, 0),
        (13102, 95, 12288, 0),
        (14020, 1250, 12800, 830),  # the total (15270) says the thoughts are inside
        (5210, 140, 0, 0),
    ]
    totals = [sum(column) for column in zip(*usage(result.events), strict=True)]
    assert totals == [44782, 1865, 35200, 830]
    assert [e.model for e in result.events] == [
        "qwen3-coder-plus",
        "qwen3-coder-plus",
        "qwen3-max",
        "qwen3-coder-flash",
    ]
    assert {e.provider for e in result.events} == {"alibaba"}


def test_fields_map_to_key_time_and_tags() -> None:
    first, *_, subagent = parse(make_ctx(), {}, MAIN.read_bytes()).events
    assert first.key == "qwen:11a2b3c4-d5e6-4f70-8192-a3b4c5d6e7f8"
    assert first.ts == datetime(2026, 11, 21, 8, 30, 9, 872000, tzinfo=UTC)
    assert first.tags == {"session": SESSION, "project": "/home/user/webapp"}
    assert subagent.tags["agent"] == "explore-7f3c"


def test_a_branched_session_repeats_its_parents_calls_under_the_same_keys() -> None:
    forked = parse(make_ctx(FORK), {}, FORK.read_bytes()).events
    main = parse(make_ctx(), {}, MAIN.read_bytes()).events
    assert [e.key for e in forked] == [main[0].key]
    assert len(ledger_view(main + forked)) == len(main)


def test_provider_follows_the_model_and_gemini_thoughts_come_apart() -> None:
    gemini = {
        "promptTokenCount": 900,
        "candidatesTokenCount": 50,
        "thoughtsTokenCount": 300,
        "totalTokenCount": 1250,  # Google's total: the thoughts are apart
    }
    data = assistant("u-1", model="gemini-2.5-pro", usageMetadata=gemini) + assistant(
        "u-2", model="gpt-4.1"
    )
    google, openai = parse(make_ctx(), {}, data).events
    assert (google.provider, google.output_tokens, google.reasoning_tokens) == ("google", 350, 300)
    assert openai.provider == "openai"


def test_records_without_usage_are_not_calls() -> None:
    data = (
        assistant(usageMetadata=None)
        + assistant("u-2", type="user")
        + assistant("u-3", usageMetadata={})
        + b'["usageMetadata"]\n'
    )
    result = parse(make_ctx(), {}, data)
    assert result.events == [] and result.errors == []


def test_record_without_uuid_is_keyed_by_file_and_offset() -> None:
    (event,) = parse(make_ctx(base_offset=700), {}, assistant(None)).events
    assert event.key == "64769:7:beef@700"


def test_reading_in_pieces_gives_the_calls_of_one_read() -> None:
    data = MAIN.read_bytes() + b'{"usageMetadata": \n' + assistant("u-9")
    assert_chunks_change_nothing(parse, lambda base: make_ctx(base_offset=base), data)


def test_reparsing_is_idempotent() -> None:
    data = MAIN.read_bytes()
    assert parse(make_ctx(), {}, data).events == parse(make_ctx(), {}, data).events


def test_default_paths_follow_qwen_runtime_dir_home_and_ccusage_dirs() -> None:
    glob = "projects/*/chats/*.jsonl"
    assert qwen_code_paths({}) == [f"~/.qwen/{glob}"]
    assert qwen_code_paths({"QWEN_HOME": "/q/home/"}) == [f"/q/home/{glob}"]
    env = {"QWEN_HOME": "/q/home", "QWEN_RUNTIME_DIR": "/q/run"}
    assert qwen_code_paths(env) == [f"/q/run/{glob}"]
    assert qwen_code_paths(dict(env, QWEN_DATA_DIR="/x,/y")) == [f"/x/{glob}", f"/y/{glob}"]


# -- bad values: the line is bad, its neighbours count -------------------------------------


def between(bad: bytes, says: str) -> None:
    ctx = make_ctx(base_offset=40)
    assert_one_bad_line(parse, ctx, assistant("u-a"), bad, assistant("u-z"), says)


def test_a_line_that_is_no_json_is_a_bad_record() -> None:
    between(b'{"type": "assistant", "usageMetadata": {"promptTokenCount": 3\n', "invalid JSON")


@pytest.mark.parametrize("garbage", GARBAGE_COUNTS.values(), ids=list(GARBAGE_COUNTS))
@pytest.mark.parametrize(
    "field", ["promptTokenCount", "candidatesTokenCount", "cachedContentTokenCount"]
)
def test_garbage_count_is_a_bad_record(field: str, garbage: Any) -> None:
    metadata = {"promptTokenCount": 1, "candidatesTokenCount": 2, field: garbage}
    says = f"usageMetadata.{field}: {garbage!r} is not a token count"
    between(assistant("u-b", usageMetadata=metadata), says)


def test_usage_that_is_no_object_and_models_that_are_no_names_are_bad() -> None:
    between(assistant("u-b", usageMetadata=12), "usageMetadata: 12 is not an object")
    between(assistant("u-b", model=["qwen3"]), "model: ['qwen3'] is not a model name")
    between(assistant("u-b", model=None), "assistant record with usage but no model")


@pytest.mark.parametrize(("value", "says"), BAD_TIMES.values(), ids=list(BAD_TIMES))
def test_bad_timestamp_is_a_bad_record(value: str, says: str) -> None:
    between(assistant("u-b", timestamp=value), says)
