"""openai-tracker: an OpenAI app's token_usage.json (seed 002)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from monitor.events import FLAG_TS_FROM_MTIME
from monitor.sources import get_format
from monitor.sources.base import IncompleteDocument, ParseContext
from monitor.sources.openai_tracker import FORMAT, parse
from tests.factories import parse_ctx
from tests.test_adapter_common import BAD_TIMES, GARBAGE_COUNTS

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "openai-app" / "token_usage.json"
MTIME = datetime(2025, 3, 16, 12, 0, tzinfo=UTC)

CALL = {
    "timestamp": "2025-03-14T09:00:05.412873",
    "operation": "Notification Generation",
    "model": "gpt-3.5-turbo",
    "prompt_tokens": 45,
    "completion_tokens": 23,
    "total_tokens": 68,
}


def ctx(**options: Any) -> ParseContext:
    return parse_ctx(
        "openai-app",
        str(EXAMPLE),
        file_id="1:2:abc",
        tz=ZoneInfo("Europe/Berlin"),
        mtime=MTIME,
        option_map=options,
    )


def run(doc: Any, **options: Any) -> Any:
    return parse(ctx(**options), {}, json.dumps(doc).encode())


def example() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(EXAMPLE.read_bytes())
    return doc


def test_registry_names_this_format() -> None:
    assert get_format("openai-tracker") is FORMAT
    assert FORMAT.kind == "document"
    assert FORMAT.default_paths is not None
    assert FORMAT.default_paths() == ["**/token_usage.json"]


def test_example_is_one_event_per_call() -> None:
    result = parse(ctx(), {}, EXAMPLE.read_bytes())

    assert result.errors == []
    events = result.events
    assert len(events) == 8
    assert sum(e.input_tokens for e in events) == 420
    assert sum(e.output_tokens for e in events) == 195
    # call_cost as the tracker's floats wrote it, exactly (their noise included).
    assert sum((e.reported_cost or Decimal(0) for e in events), Decimal(0)) == Decimal(
        "0.00102000000000000003"
    )
    first = events[0]
    assert (first.input_tokens, first.output_tokens) == (45, 23)
    assert first.reported_cost == Decimal("0.0001135")
    assert first.operation == "Notification Generation"
    assert (first.provider, first.model) == ("openai", "gpt-3.5-turbo")
    assert first.ts == datetime(2025, 3, 14, 8, 0, 5, 412873, tzinfo=UTC)
    assert first.tags == {"project": "openai-app"}
    assert first.origin == f"{EXAMPLE}:0"
    assert [e.operation for e in events].count("Title Generation") == 3
    assert events[5].model == "gpt-4o-mini"


def test_keys_are_content_hashes_stable_across_rewrites() -> None:
    once = [e.key for e in parse(ctx(), {}, EXAMPLE.read_bytes()).events]
    doc = example()
    doc["last_updated"] = "2025-03-16T10:00:00"

    again = [e.key for e in run(doc).events]

    assert once == again
    assert len(set(once)) == 8
    assert all(k.startswith("oat:") and k.endswith("#0") for k in once)


def test_capped_history_keeps_the_keys_of_the_surviving_records() -> None:
    keys = [e.key for e in parse(ctx(), {}, EXAMPLE.read_bytes()).events]
    doc = example()
    doc["calls"] = doc["calls"][2:] + [dict(CALL, timestamp="2025-03-15T10:00:00.000001")]

    capped = [e.key for e in run(doc).events]

    assert capped[:-1] == keys[2:]
    assert capped[-1] not in keys


def test_identical_records_get_distinct_keys_by_occurrence() -> None:
    untimed = {k: v for k, v in CALL.items() if k != "timestamp"}

    keys = [e.key for e in run({"calls": [untimed, untimed]}).events]

    assert keys[0].endswith("#0") and keys[1].endswith("#1")
    assert keys[0][:-2] == keys[1][:-2]


def test_record_without_timestamp_takes_the_mtime_flagged() -> None:
    event = run([{k: v for k, v in CALL.items() if k != "timestamp"}]).events[0]

    assert event.ts == MTIME
    assert event.flags & FLAG_TS_FROM_MTIME


@pytest.mark.parametrize(
    "doc",
    [
        [CALL],
        {"calls": [CALL]},
        {"api_calls": [CALL]},
        {"history": [CALL]},
        {"usage_log": [CALL]},
        {"calls_log": [CALL]},
        {"records": [CALL]},
        {"session_usage": {"total_cost": 0.1, "calls": [CALL]}, "daily": {}},
    ],
    ids=["list", "calls", "api_calls", "history", "usage_log", "calls_log", "records", "nested"],
)
def test_plausible_document_shapes_all_read(doc: Any) -> None:
    events = run(doc).events

    assert [(e.input_tokens, e.output_tokens, e.operation) for e in events] == [
        (45, 23, "Notification Generation")
    ]


def test_token_field_variants() -> None:
    docs = [
        {"timestamp": "2025-03-14T09:00:00", "input_tokens": 45, "output_tokens": 23},
        {
            "timestamp": "2025-03-14T09:00:00",
            "usage": {
                "prompt_tokens": 45,
                "completion_tokens": 23,
                "total_tokens": 68,
                "prompt_tokens_details": {"cached_tokens": 10},
                "completion_tokens_details": {"reasoning_tokens": 5},
            },
        },
        {"timestamp": "2025-03-14T09:00:00", "prompt_tokens": 45, "total_tokens": 68},
    ]

    events = run(docs).events

    assert [(e.input_tokens, e.output_tokens) for e in events] == [(45, 23)] * 3
    assert (events[1].cache_read_tokens, events[1].reasoning_tokens) == (10, 5)
    assert {e.model for e in events} == {"gpt-3.5-turbo"}


def test_cost_field_variants() -> None:
    base = dict(CALL)
    docs = [
        dict(base, call_cost=0.0001135, input_cost=1, output_cost=1),
        dict(base, cost=0.5),
        dict(base, total_cost="0.25"),
        dict(base, input_cost=6.75e-05, output_cost=4.6e-05),
        dict(base, input_cost=6.75e-05),
        base,
    ]

    costs = [e.reported_cost for e in run(docs).events]

    assert costs == [
        Decimal("0.0001135"),
        Decimal("0.5"),
        Decimal("0.25"),
        Decimal("0.0001135"),
        Decimal("0.0000675"),
        None,
    ]


def test_model_and_provider_fallbacks() -> None:
    untyped = {k: v for k, v in CALL.items() if k != "model"}
    docs = [
        untyped,
        dict(CALL, model="claude-3-5-haiku"),
        dict(CALL, model="my-ft", provider="Azure"),
    ]

    events = run(docs, default_model="gpt-4o-mini").events

    assert [(e.provider, e.model) for e in events] == [
        ("openai", "gpt-4o-mini"),
        ("anthropic", "claude-3-5-haiku"),
        ("azure", "my-ft"),
    ]


def test_bad_records_are_errors_at_their_index_and_the_rest_parse() -> None:
    doc = {"calls": [CALL, "oops", {"timestamp": "2025-03-14T09:00:00", "operation": "x"}, CALL]}

    result = run(doc)

    assert [e.offset for e in result.errors] == [1, 2]
    assert "token" in result.errors[1].message
    assert len(result.events) == 2


def test_document_without_call_records_is_an_error() -> None:
    result = run({"total_tokens": 0, "total_cost": 0.0})

    assert result.events == []
    assert [e.offset for e in result.errors] == [0]


def test_half_written_document_is_incomplete() -> None:
    data = EXAMPLE.read_bytes()
    for cut in (0, 10, len(data) // 2, len(data) - 1):
        with pytest.raises(IncompleteDocument):
            parse(ctx(), {}, data[:cut])


# -- bad values (issue 9): the call record is bad, the others still count ------------------


def forty_calls_and(*bad: dict[str, Any]) -> tuple[Any, list[int]]:
    """40 good calls (45 + 23 tokens each) with `bad` records spread among them."""
    calls: list[Any] = [
        dict(CALL, timestamp=f"2025-03-14T09:{minute:02d}:00.000001") for minute in range(40)
    ]
    where = [5 + 10 * i for i in range(len(bad))]
    for index, record in zip(where, bad, strict=True):
        calls.insert(index, record)
    return run({"calls": calls}), where


def assert_forty_calls(result: Any) -> None:
    assert len(result.events) == 40
    assert sum(e.input_tokens for e in result.events) == 40 * 45
    assert sum(e.output_tokens for e in result.events) == 40 * 23


def test_abc_and_negative_prompt_tokens_are_bad_records_not_extra_calls() -> None:
    # The issue: 42 events for 40 calls, two of them calls of 0 or -5 tokens.
    result, where = forty_calls_and(dict(CALL, prompt_tokens="abc"), dict(CALL, prompt_tokens=-5))

    assert_forty_calls(result)
    assert [(e.offset, e.message) for e in result.errors] == [
        (where[0], "prompt_tokens: 'abc' is not a token count"),
        (where[1], "prompt_tokens: -5 is not a token count (negative)"),
    ]


@pytest.mark.parametrize("garbage", GARBAGE_COUNTS.values(), ids=list(GARBAGE_COUNTS))
@pytest.mark.parametrize("field", ["prompt_tokens", "completion_tokens", "total_tokens"])
def test_garbage_token_count_is_a_bad_record_and_neighbours_count(field: str, garbage: Any) -> None:
    result, where = forty_calls_and(dict(CALL, **{field: garbage}))

    assert_forty_calls(result)
    assert [e.offset for e in result.errors] == where
    assert result.errors[0].message.startswith(f"{field}: {garbage!r} is not a token count")


@pytest.mark.parametrize("garbage", GARBAGE_COUNTS.values(), ids=list(GARBAGE_COUNTS))
def test_garbage_nested_usage_count_is_a_bad_record(garbage: Any) -> None:
    details = {"cached_tokens": garbage}
    usage = {"prompt_tokens": 45, "completion_tokens": 23, "prompt_tokens_details": details}
    nested = {"timestamp": "2025-03-14T10:00:00", "usage": usage}

    result, where = forty_calls_and(nested)

    assert_forty_calls(result)
    assert [e.offset for e in result.errors] == where
    assert result.errors[0].message.startswith("prompt_tokens_details.cached_tokens: ")


@pytest.mark.parametrize(("value", "says"), BAD_TIMES.values(), ids=list(BAD_TIMES))
def test_bad_timestamp_is_a_bad_record_not_the_mtime(value: str, says: str) -> None:
    result, where = forty_calls_and(dict(CALL, timestamp=value))

    assert_forty_calls(result)
    assert not any(e.flags & FLAG_TS_FROM_MTIME for e in result.events)
    assert [e.offset for e in result.errors] == where
    assert result.errors[0].message.startswith(says)


def test_epoch_zero_under_another_time_field_is_out_of_range() -> None:
    untimed = {k: v for k, v in CALL.items() if k != "timestamp"}

    result, where = forty_calls_and(dict(untimed, created=0))

    assert_forty_calls(result)
    assert [(e.offset, e.message) for e in result.errors] == [
        (where[0], "timestamp out of range: created = 0 is before 2020-01-01T00:00:00+00:00")
    ]


@pytest.mark.parametrize("model", [35, ["gpt-4o"], {"id": "gpt-4o"}])
def test_model_that_is_no_string_is_a_bad_record_not_the_default(model: Any) -> None:
    result, where = forty_calls_and(dict(CALL, model=model))

    assert_forty_calls(result)
    assert [(e.offset, e.message) for e in result.errors] == [
        (where[0], f"model: {model!r} is not a model name")
    ]


@pytest.mark.parametrize(
    "costs",
    [{"call_cost": -0.001}, {"cost": "abc"}, {"total_cost": "NaN"}, {"input_cost": 2e9}],
)
def test_garbage_cost_is_a_bad_record(costs: dict[str, Any]) -> None:
    result, where = forty_calls_and(dict(CALL, **costs))

    assert_forty_calls(result)
    assert [e.offset for e in result.errors] == where
    assert result.errors[0].message.startswith(f"{next(iter(costs))}: ")
