"""qc-usage-log: the visual-QC back-end's usage log (seed 004)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from monitor.events import FLAG_ESTIMATED_TOKENS, FLAG_TS_FROM_MTIME
from monitor.sources import get_format
from monitor.sources.base import ParseContext, ParseError
from monitor.sources.qc import FORMAT, parse
from tests.factories import parse_ctx
from tests.test_adapter_common import BAD_TIMES, GARBAGE_COUNTS

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "qc" / "logs" / "usage.jsonl"
MTIME = datetime(2026, 2, 4, tzinfo=UTC)

SEED = {
    "event": "analysis_complete",
    "timestamp": "2026-02-02T15:30:00",
    "session_id": "20260202_153000",
    "client": "diageo",
    "profile": "diageo_key_visual",
    "user_email": "user@company.com",
    "checks_completed": 11,
    "overall_score": 87.5,
    "total_cost_usd": 0.0234,
    "token_usage": {
        "total_tokens": 15678,
        "total_prompt_tokens": 13245,
        "total_completion_tokens": 2433,
        "by_provider": {
            "OpenAI": {
                "total_tokens": 7234,
                "prompt_tokens": 6123,
                "completion_tokens": 1111,
                "cost": 0.0128,
            },
            "Gemini": {
                "total_tokens": 8444,
                "prompt_tokens": 7122,
                "completion_tokens": 1322,
                "cost": 0.0106,
            },
        },
    },
}


def ctx(base_offset: int = 0, **options: Any) -> ParseContext:
    return parse_ctx(
        "qc",
        str(EXAMPLE),
        file_id="1:2:abc",
        tz=ZoneInfo("Europe/Berlin"),
        base_offset=base_offset,
        mtime=MTIME,
        option_map=options,
    )


def lines(*records: Any) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def without(record: dict[str, Any], *names: str) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in names}


def test_registry_names_this_format() -> None:
    assert get_format("qc-usage-log") is FORMAT
    assert FORMAT.kind == "lines"
    assert FORMAT.default_paths is not None
    assert FORMAT.default_paths() == ["**/logs/usage*.jsonl"]


def test_example_log_counts_only_analysis_complete() -> None:
    result = parse(ctx(), {}, EXAMPLE.read_bytes())

    assert result.errors == []
    events = result.events
    # 9 lines: 3 analysis_complete (one old, without tokens; two with OpenAI + Gemini),
    # the rest analysis_start / profile_updated / analysis_error.
    assert len(events) == 5
    assert sum(e.input_tokens for e in events) == 9_000 + 13_245 + 8_190
    assert sum(e.output_tokens for e in events) == 1_800 + 2_433 + 1_357
    assert sum((e.reported_cost or Decimal(0) for e in events), Decimal(0)) == Decimal("0.08946")
    assert {e.operation for e in events} == {"visual_qc"}


def test_seed_record_is_one_event_per_provider() -> None:
    openai, gemini = parse(ctx(), {}, lines(SEED)).events

    assert openai.key == "qc:20260202_153000:2026-02-02T15:30:00:openai"
    assert gemini.key == "qc:20260202_153000:2026-02-02T15:30:00:google"
    assert (openai.provider, openai.model) == ("openai", "gpt-4o")
    assert (gemini.provider, gemini.model) == ("google", "gemini-1.5-pro")
    assert (openai.input_tokens, openai.output_tokens) == (6_123, 1_111)
    assert (gemini.input_tokens, gemini.output_tokens) == (7_122, 1_322)
    assert (openai.reported_cost, gemini.reported_cost) == (Decimal("0.0128"), Decimal("0.0106"))
    assert openai.ts == datetime(2026, 2, 2, 14, 30, tzinfo=UTC)
    assert openai.tags == {
        "client": "diageo",
        "profile": "diageo_key_visual",
        "user": "user@company.com",
        "session": "20260202_153000",
    }
    assert (openai.cost_basis, openai.flags, openai.calls) == ("unpriced", 0, 1)
    assert openai.origin == f"{EXAMPLE}:0"


def test_old_record_without_tokens_is_estimated_per_check() -> None:
    old = without(SEED, "token_usage")

    (event,) = parse(ctx(), {}, lines(old)).events

    assert (event.input_tokens, event.output_tokens) == (11_000, 2_200)
    assert event.calls == 11
    assert event.cost_basis == "estimated"
    assert event.flags & FLAG_ESTIMATED_TOKENS
    assert event.reported_cost == Decimal("0.0234")
    assert (event.provider, event.model) == ("openai", "gpt-4o")
    assert event.key == "qc:20260202_153000:2026-02-02T15:30:00:openai"


def test_estimate_without_checks_counts_one_and_honours_options() -> None:
    old = without(SEED, "token_usage", "checks_completed", "total_cost_usd")

    (event,) = parse(
        ctx(default_provider="Gemini", models={"Gemini": "gemini-2.0-flash"}), {}, lines(old)
    ).events

    assert (event.input_tokens, event.output_tokens, event.calls) == (1_000, 200, 1)
    assert (event.provider, event.model) == ("google", "gemini-2.0-flash")
    assert event.reported_cost is None


def test_models_option_and_entry_model_choose_the_model() -> None:
    record = json.loads(json.dumps(SEED))
    record["token_usage"]["by_provider"]["Gemini"]["model"] = "gemini-2.5-flash"

    models = {"openai": "gpt-4o-mini", "Gemini": "x"}

    openai, gemini = parse(ctx(models=models), {}, lines(record)).events

    assert openai.model == "gpt-4o-mini"
    assert gemini.model == "gemini-2.5-flash"


def test_totals_without_a_provider_breakdown_are_actual_tokens() -> None:
    record = json.loads(json.dumps(SEED))
    del record["token_usage"]["by_provider"]

    (event,) = parse(ctx(), {}, lines(record)).events

    assert (event.input_tokens, event.output_tokens) == (13_245, 2_433)
    assert (event.cost_basis, event.flags) == ("unpriced", 0)
    assert event.reported_cost == Decimal("0.0234")


def test_record_without_session_id_is_keyed_by_line_offset_and_provider() -> None:
    data = lines({"event": "analysis_start"}, without(SEED, "session_id"))
    offset = data.index(b"\n") + 1

    keys = [e.key for e in parse(ctx(base_offset=100), {}, data).events]

    assert keys == [f"1:2:abc@{100 + offset}:openai", f"1:2:abc@{100 + offset}:google"]


def test_other_event_types_and_unknown_fields_are_ignored_silently() -> None:
    data = lines(
        {"event": "analysis_start", "session_id": "x"},
        {"event": "profile_updated"},
        {"no_event": True},
        dict(SEED, extra={"nested": [1, 2]}, reviewer="qa"),
    )

    result = parse(ctx(), {}, data)

    assert (len(result.events), result.errors) == (2, [])


def test_malformed_lines_are_errors_at_their_offset_and_the_rest_parse() -> None:
    good = lines(SEED)
    bad = b'{"event": "analysis_complete", "timestamp": \n'
    data = good + bad + b"42\n" + good

    result = parse(ctx(base_offset=7), {}, data)

    assert [e.offset for e in result.errors] == [7 + len(good), 7 + len(good) + len(bad)]
    assert all(isinstance(e, ParseError) for e in result.errors)
    assert len(result.events) == 4


def test_crlf_line_without_timestamp_takes_mtime_and_a_line_key() -> None:
    data = lines(without(SEED, "timestamp")).replace(b"\n", b"\r\n")

    events = parse(ctx(), {}, data).events

    assert len(events) == 2
    assert events[0].ts == MTIME
    assert events[0].flags & FLAG_TS_FROM_MTIME
    assert events[0].key == "1:2:abc@0:openai"


# -- bad values (issue 9): the line is bad, its neighbours still count ---------------------


def changed(**changes: Any) -> dict[str, Any]:
    """SEED with `changes`: `OpenAI.x` sets a field of the OpenAI entry."""
    record: dict[str, Any] = json.loads(json.dumps(SEED))
    for name, value in changes.items():
        if name.startswith("OpenAI."):
            record["token_usage"]["by_provider"]["OpenAI"][name[7:]] = value
        else:
            record[name] = value
    return record


def between_seeds(bad: dict[str, Any], base: int = 7) -> tuple[Any, int]:
    good = lines(SEED)
    return parse(ctx(base_offset=base), {}, good + lines(bad) + good), base + len(good)


def assert_seeds_count(result: Any) -> None:
    assert len(result.events) == 4
    assert sum(e.input_tokens for e in result.events) == 2 * (6_123 + 7_122)
    assert sum(e.output_tokens for e in result.events) == 2 * (1_111 + 1_322)


@pytest.mark.parametrize("garbage", GARBAGE_COUNTS.values(), ids=list(GARBAGE_COUNTS))
@pytest.mark.parametrize("field", ["prompt_tokens", "completion_tokens", "total_tokens", "calls"])
def test_garbage_provider_count_makes_the_whole_line_bad_and_neighbours_count(
    field: str, garbage: Any
) -> None:
    result, offset = between_seeds(changed(**{f"OpenAI.{field}": garbage}))

    assert_seeds_count(result)  # neither provider of the bad analysis is counted
    assert [e.offset for e in result.errors] == [offset]
    assert result.errors[0].message.startswith(f"OpenAI.{field}: {garbage!r} is not a token count")


@pytest.mark.parametrize("garbage", GARBAGE_COUNTS.values(), ids=list(GARBAGE_COUNTS))
def test_garbage_checks_completed_of_an_old_line_is_a_bad_record(garbage: Any) -> None:
    old = without(SEED, "token_usage")

    result, offset = between_seeds(dict(old, checks_completed=garbage))

    assert_seeds_count(result)
    assert [e.offset for e in result.errors] == [offset]
    assert result.errors[0].message.startswith(f"checks_completed: {garbage!r}")


def test_estimate_over_the_count_bound_is_a_bad_record() -> None:
    old = without(SEED, "token_usage")

    result, offset = between_seeds(dict(old, checks_completed=10**13))

    assert_seeds_count(result)
    assert [e.offset for e in result.errors] == [offset]
    assert "estimated input tokens" in result.errors[0].message


@pytest.mark.parametrize(("value", "says"), BAD_TIMES.values(), ids=list(BAD_TIMES))
def test_bad_timestamp_is_a_bad_record_not_the_mtime(value: str, says: str) -> None:
    result, offset = between_seeds(changed(timestamp=value))

    assert_seeds_count(result)
    assert not any(e.flags & FLAG_TS_FROM_MTIME for e in result.events)
    assert [e.offset for e in result.errors] == [offset]
    assert result.errors[0].message.startswith(says)


@pytest.mark.parametrize("model", [4, ["gpt-4o"], {"name": "gpt-4o"}])
def test_model_that_is_no_string_is_a_bad_record_not_the_default(model: Any) -> None:
    result, offset = between_seeds(changed(**{"OpenAI.model": model}))

    assert_seeds_count(result)
    assert [(e.offset, e.message) for e in result.errors] == [
        (offset, f"OpenAI.model: {model!r} is not a model name")
    ]


@pytest.mark.parametrize(
    ("bad", "field"),
    [({"OpenAI.cost": -0.0128}, "OpenAI.cost"), ({"total_cost_usd": "lots"}, "total_cost_usd")],
)
def test_garbage_cost_is_a_bad_record(bad: dict[str, Any], field: str) -> None:
    record = changed(**bad)
    if field == "total_cost_usd":
        del record["token_usage"]  # the total is reported on lines without a breakdown

    result, offset = between_seeds(record)

    assert_seeds_count(result)
    assert [e.offset for e in result.errors] == [offset]
    assert result.errors[0].message.startswith(f"{field}: ")
