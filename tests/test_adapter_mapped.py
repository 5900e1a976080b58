"""The mapped formats (`jsonl`, `csv`): any log, read through the config's field mapping."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from monitor.events import FLAG_TS_FROM_MTIME, UsageEvent
from monitor.sources import get_format
from monitor.sources.base import ParseContext, ParseResult, State
from monitor.sources.mapped import CSV_FORMAT, JSONL_FORMAT, option_errors, parse_csv, parse_jsonl
from tests.factories import parse_ctx
from tests.test_adapter_common import BAD_TIMES, GARBAGE_COUNTS

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "mapped"
SOURCES = {s["name"]: s for s in tomllib.loads((EXAMPLES / "config.toml").read_text())["sources"]}


def make_ctx(
    options: Mapping[str, Any], base_offset: int = 0, mtime: datetime | None = None
) -> ParseContext:
    return parse_ctx(
        "myapp",
        "/logs/app.log",
        file_id="7:7:aa",
        tz=ZoneInfo("Europe/Berlin"),
        base_offset=base_offset,
        mtime=mtime,
        option_map=options,
    )


def jsonl(*records: Any) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def tokens(events: list[UsageEvent]) -> list[tuple[int, int, int]]:
    return [(e.input_tokens, e.output_tokens, e.cache_read_tokens) for e in events]


SIMPLE = {"fields": {"ts": "t", "model": "m", "input_tokens": "in", "output_tokens": "out"}}


def test_registry_names_these_formats() -> None:
    assert get_format("jsonl") is JSONL_FORMAT and get_format("csv") is CSV_FORMAT
    assert JSONL_FORMAT.kind == CSV_FORMAT.kind == "lines"


def test_example_config_is_valid() -> None:
    assert {name: option_errors(src) for name, src in SOURCES.items()} == {
        "myapp": [],
        "billing-export": [],
    }


def test_example_jsonl_with_example_mapping() -> None:
    result = parse_jsonl(make_ctx(SOURCES["myapp"]), {}, (EXAMPLES / "app.jsonl").read_bytes())
    assert result.errors == []
    assert tokens(result.events) == [(1500, 200, 1024), (2300, 1450, 0), (310, 12, 0)]
    assert [e.model for e in result.events] == [
        "gpt-4o-2024-08-06",
        "o4-mini-2025-04-16",
        "gpt-4o-mini",
    ]
    assert [e.reasoning_tokens for e in result.events] == [0, 1088, 0]
    assert {e.provider for e in result.events} == {"openai"}
    first, _, last = result.events
    assert first.key == "map:myapp:chatcmpl-AXk1r9bQ2"
    assert (first.operation, first.tags) == ("search", {"user": "u-17"})
    assert first.ts == datetime(2026, 11, 20, 8, 0, 1, tzinfo=UTC)
    assert last.ts == datetime(2026, 11, 20, 8, 30, tzinfo=UTC)  # naive, read in Berlin


def test_example_csv_with_example_mapping() -> None:
    data = (EXAMPLES / "app.csv").read_bytes()
    result = parse_csv(make_ctx(SOURCES["billing-export"]), {}, data)
    assert result.errors == []
    # input_includes_cache = false: the cached column is added to prompt_tokens
    assert tokens(result.events) == [(1200, 300, 0), (2000 + 1500, 500, 1500), (900, 100, 0)]
    assert [e.provider for e in result.events] == ["openai", "anthropic", "google"]
    assert [e.reported_cost for e in result.events] == [
        Decimal("0.00036"),
        Decimal("0.01395"),
        None,
    ]
    assert [e.operation for e in result.events] == ["ingest", "summarize", "qa"]
    assert result.events[0].ts == datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
    assert result.state["header"][:3] == ["timestamp", "model", "prompt_tokens"]
    # the third record spans two lines (a quoted newline); its offset is its first line's
    assert result.events[2].origin == f"/logs/app.log:{data.index(b'2026-11-20 08:10')}"


def test_csv_state_round_trip_resumes_at_every_line() -> None:
    data = (EXAMPLES / "app.csv").read_bytes()
    ctx_options = SOURCES["billing-export"]
    whole = parse_csv(make_ctx(ctx_options), {}, data).events
    cuts = [i + 1 for i, byte in enumerate(data) if byte == ord("\n")]
    for cut in cuts:
        first = parse_csv(make_ctx(ctx_options), {}, data[:cut])
        state: State = json.loads(json.dumps(first.state))
        second = parse_csv(make_ctx(ctx_options, base_offset=cut), state, data[cut:])
        assert first.errors == second.errors == []
        assert first.events + second.events == whole


def test_record_without_model_or_default_is_an_error() -> None:
    data = jsonl(
        {"t": "2026-11-20T10:00:00Z", "in": 5}, {"t": "2026-11-20T10:00:00Z", "m": "gpt-5", "in": 6}
    )
    result = parse_jsonl(make_ctx(SIMPLE, base_offset=100), {}, data)
    assert [e.input_tokens for e in result.events] == [6]
    assert [err.offset for err in result.errors] == [100]
    assert "model" in result.errors[0].message


def test_defaults_fill_what_records_lack_and_records_win() -> None:
    options = dict(SIMPLE, defaults={"model": "gpt-4o", "provider": "azure", "tags.env": "prod"})
    data = jsonl({"t": "2026-11-20T10:00:00Z"}, {"t": "2026-11-20T10:00:00Z", "m": "claude-x"})
    first, second = parse_jsonl(make_ctx(options), {}, data).events
    assert (first.model, first.provider, first.tags) == ("gpt-4o", "azure", {"env": "prod"})
    assert (second.model, second.provider) == ("claude-x", "azure")


def test_list_indexes_flat_dotted_keys_and_nested_tag_tables() -> None:
    options = {
        "fields": {
            "ts": "created",
            "model": "choices.0.model",
            "input_tokens": "usage.prompt_tokens",
            "tags": {"who": "meta.users.1"},
        }
    }
    record = {
        "created": 1763632800,
        "choices": [{"model": "gpt-4.1"}],
        "usage.prompt_tokens": 42,
        "meta": {"users": ["a", "b"]},
    }
    (event,) = parse_jsonl(make_ctx(options), {}, jsonl(record)).events
    assert (event.model, event.input_tokens, event.tags) == ("gpt-4.1", 42, {"who": "b"})
    assert event.ts == datetime(2025, 11, 20, 10, 0, tzinfo=UTC)


def test_input_excluding_cache_and_output_excluding_reasoning_are_added() -> None:
    fields = dict(
        SIMPLE["fields"], cache_read_tokens="cr", cache_write_tokens="cw", reasoning_tokens="r"
    )
    options = {"fields": fields, "input_includes_cache": False, "output_includes_reasoning": False}
    record = {
        "t": "2026-11-20T10:00:00Z",
        "m": "gemini-2.5-pro",
        "in": 100,
        "cr": 30,
        "cw": 20,
        "out": 10,
        "r": 5,
    }
    (event,) = parse_jsonl(make_ctx(options), {}, jsonl(record)).events
    assert (event.input_tokens, event.output_tokens) == (150, 15)
    (default,) = parse_jsonl(make_ctx({"fields": fields}), {}, jsonl(record)).events
    assert (default.input_tokens, default.output_tokens) == (100, 10)


def test_without_fields_each_event_field_reads_its_own_name() -> None:
    data = jsonl(
        {
            "ts": "2026-11-20T10:00:00Z",
            "model": "gpt-5",
            "input_tokens": 9,
            "calls": 4,
            "cost": "0.5",
        }
    )
    (event,) = parse_jsonl(make_ctx({}), {}, data).events
    assert (event.input_tokens, event.calls, event.reported_cost) == (9, 4, Decimal("0.5"))


def test_malformed_lines_are_errors_at_absolute_offsets() -> None:
    good = jsonl({"t": "2026-11-20T10:00:00Z", "m": "gpt-5", "in": 1})
    lines = [good, b"{oops\n", b'"a string"\n', jsonl({"t": "not a date", "m": "gpt-5"}), good]
    result = parse_jsonl(make_ctx(SIMPLE, base_offset=7), {}, b"".join(lines))
    assert len(result.events) == 2
    assert [e.offset for e in result.errors] == [
        7 + sum(len(x) for x in lines[:i]) for i in (1, 2, 3)
    ]


def test_crlf_jsonl_and_missing_ts_falls_back_to_mtime() -> None:
    mtime = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    data = jsonl({"m": "gpt-5", "in": 3, "extra": [1]}).replace(b"\n", b"\r\n")
    (event,) = parse_jsonl(make_ctx(SIMPLE, mtime=mtime), {}, data).events
    assert event.ts == mtime and event.flags & FLAG_TS_FROM_MTIME
    assert event.key == "7:7:aa@0" and event.calls == 1


def test_csv_header_only_then_appended_rows() -> None:
    options = {"fields": {"ts": "when", "model": "model", "input_tokens": "in", "key": "id"}}
    first = parse_csv(make_ctx(options), {}, b"\xef\xbb\xbfid,when,model,in\n")
    assert first.events == [] and first.state["header"] == ["id", "when", "model", "in"]
    later: ParseResult = parse_csv(
        make_ctx(options, base_offset=40), first.state, b"r1,2026-11-20T10:00:00Z,gpt-5,12\n"
    )
    (event,) = later.events
    assert (event.key, event.input_tokens, event.origin) == ("map:myapp:r1", 12, "/logs/app.log:40")


def test_csv_mapping_to_a_missing_column_is_reported_once() -> None:
    options = {"fields": {"model": "model", "input_tokens": "prompt"}}
    mtime = datetime(2026, 11, 20, tzinfo=UTC)
    data = b"model,tokens\ngpt-5,3\ngpt-5,4\n"
    result = parse_csv(make_ctx(options, mtime=mtime), {}, data)
    assert [err.offset for err in result.errors] == [0]
    assert "prompt" in result.errors[0].message
    assert [e.input_tokens for e in result.events] == [0, 0]


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        ({"fields": {"model": "m", "tokens": "t"}}, "unknown field 'tokens'"),
        ({"fields": {"input_tokens": "in"}}, "no model"),
        ({"fields": {"model": ""}}, "fields.model"),
        ({"fields": {"model": "m"}, "input_includes_cache": "no"}, "input_includes_cache"),
        ({"fields": "model"}, "fields must be a table"),
        ({"fields": {"input_tokens": "in"}, "defaults": {"model": 4}}, "defaults.model"),
    ],
)
def test_option_errors_explain_what_is_wrong(options: dict[str, Any], fragment: str) -> None:
    assert any(fragment in problem for problem in option_errors(options))


def test_option_errors_accepts_tags_and_defaults_for_model() -> None:
    options = {
        "fields": {"input_tokens": "in", "tags.user": "u", "tags": {"x": "y"}},
        "defaults": {"model": "gpt-5"},
    }
    assert option_errors(options) == []


def test_absurd_values_are_errors_not_crashes() -> None:
    lines = [
        jsonl({"t": "2026-11-20T10:00:00Z", "m": "gpt-5", "in": "1e400"}),
        jsonl({"t": 1e20, "m": "gpt-5"}),
        jsonl({"t": "1e400", "m": "gpt-5"}),
        jsonl({"t": "2026-11-20T10:00:00Z", "m": "gpt-5", "in": 4}),
    ]
    result = parse_jsonl(make_ctx(SIMPLE), {}, b"".join(lines))
    assert [e.input_tokens for e in result.events] == [4]
    assert [err.offset for err in result.errors] == [
        sum(len(x) for x in lines[:i]) for i in (0, 1, 2)
    ]


def test_csv_stray_quote_costs_one_record_not_the_rest_of_the_log() -> None:
    options = {"fields": {"ts": "ts", "model": "model", "input_tokens": "in"}}
    header = b"ts,model,in\n"
    stray = b'2026-11-20T10:00:00Z,gpt-5,"5\n'
    good = [b"2026-11-20T10:00:00Z,gpt-5,%d\n" % i for i in range(1, 71)]
    head = header + stray + b"".join(good[:30])
    first = parse_csv(make_ctx(options), {}, head)
    assert first.events == [] and first.errors == []  # still waiting for the closing quote
    state: State = json.loads(json.dumps(first.state))
    rest = b"".join(good[30:])
    second = parse_csv(make_ctx(options, base_offset=len(head)), state, rest)
    assert [err.offset for err in second.errors] == [len(header)]
    assert [e.input_tokens for e in second.events] == list(range(1, 71))
    assert second.events[-1].origin == f"/logs/app.log:{len(head + rest) - len(good[-1])}"


# -- bad values (issue 9): the record is bad, its neighbours still count -------------------

FULL = {
    "fields": {
        "ts": "t",
        "model": "m",
        "input_tokens": "in",
        "output_tokens": "out",
        "cache_read_tokens": "cr",
        "reasoning_tokens": "r",
        "calls": "n",
        "cost": "usd",
    }
}
GOOD = {"t": "2026-11-20T10:00:00Z", "m": "gpt-5", "in": 100, "out": 10}


def around_jsonl(bad: dict[str, Any], base: int = 9) -> tuple[ParseResult, int]:
    good = jsonl(GOOD)
    result = parse_jsonl(make_ctx(FULL, base_offset=base), {}, good + jsonl(bad) + good)
    return result, base + len(good)


def assert_neighbours_count(result: ParseResult) -> None:
    assert tokens(result.events) == [(100, 10, 0), (100, 10, 0)]


@pytest.mark.parametrize("garbage", GARBAGE_COUNTS.values(), ids=list(GARBAGE_COUNTS))
@pytest.mark.parametrize(
    ("column", "field"),
    [("in", "input_tokens"), ("out", "output_tokens"), ("cr", "cache_read_tokens"), ("n", "calls")],
)
def test_garbage_jsonl_count_is_a_bad_record_and_neighbours_count(
    column: str, field: str, garbage: Any
) -> None:
    result, offset = around_jsonl(dict(GOOD, **{column: garbage}))

    assert_neighbours_count(result)
    assert [e.offset for e in result.errors] == [offset]
    assert result.errors[0].message.startswith(f"{field}: {garbage!r} is not a token count")


def test_numeric_strings_are_counts_in_jsonl_as_documented() -> None:
    record = dict(GOOD, **{"in": "3,865", "out": "12.0", "n": "2"})

    (event,) = parse_jsonl(make_ctx(FULL), {}, jsonl(record)).events

    assert (event.input_tokens, event.output_tokens, event.calls) == (3865, 12, 2)


CSV_OPTIONS = {"fields": {"ts": "ts", "model": "model", "input_tokens": "in", "cost": "usd"}}
CSV_HEADER = b"ts,model,in,usd\n"
CSV_GOOD = b'2026-11-20T10:00:00Z,gpt-5,"3,865",0.01\n'


def around_csv(bad: bytes) -> tuple[ParseResult, int]:
    data = CSV_HEADER + CSV_GOOD + bad + CSV_GOOD
    return parse_csv(make_ctx(CSV_OPTIONS), {}, data), len(CSV_HEADER + CSV_GOOD)


@pytest.mark.parametrize(
    "cell", ["-5", "abc", "true", "12.7", "1e30", "18446744073709551616", "1e308", "NaN"]
)
def test_garbage_csv_cell_is_a_bad_record_and_neighbours_count(cell: str) -> None:
    result, offset = around_csv(b"2026-11-20T10:00:00Z,gpt-5," + cell.encode() + b",0.01\n")

    assert [e.input_tokens for e in result.events] == [3865, 3865]
    assert [e.offset for e in result.errors] == [offset]
    assert result.errors[0].message.startswith(f"input_tokens: {cell!r} is not a token count")


@pytest.mark.parametrize("cell", ["-0.01", "lots", "NaN", "1000000000"])
def test_garbage_csv_cost_is_a_bad_record(cell: str) -> None:
    result, offset = around_csv(b"2026-11-20T10:00:00Z,gpt-5,5," + cell.encode() + b"\n")

    assert [e.input_tokens for e in result.events] == [3865, 3865]
    assert [e.offset for e in result.errors] == [offset]
    assert result.errors[0].message.startswith(f"cost: {cell!r} is not a cost")


@pytest.mark.parametrize(("value", "says"), BAD_TIMES.values(), ids=list(BAD_TIMES))
def test_bad_ts_is_a_bad_record_not_the_mtime(value: str, says: str) -> None:
    mtime = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    good = jsonl(GOOD)
    data = good + jsonl(dict(GOOD, t=value)) + good

    result = parse_jsonl(make_ctx(FULL, mtime=mtime), {}, data)

    assert_neighbours_count(result)
    assert not any(e.flags & FLAG_TS_FROM_MTIME for e in result.events)
    assert [e.offset for e in result.errors] == [len(good)]
    assert result.errors[0].message.startswith(f"{says}: ts = ")


@pytest.mark.parametrize(
    ("cell", "says"),
    [("9999-06-01 10:00:00", "out of range"), ("0", "out of range"), ("noon", "unreadable")],
)
def test_bad_csv_time_is_a_bad_record(cell: str, says: str) -> None:
    result, offset = around_csv(cell.encode() + b",gpt-5,5,0.01\n")

    assert [e.input_tokens for e in result.events] == [3865, 3865]
    assert [e.offset for e in result.errors] == [offset]
    assert says in result.errors[0].message


def test_empty_csv_time_falls_back_to_mtime_flagged() -> None:
    mtime = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    data = CSV_HEADER + b",gpt-5,5,\n"

    (event,) = parse_csv(make_ctx(CSV_OPTIONS, mtime=mtime), {}, data).events

    assert (event.ts, event.flags, event.reported_cost) == (mtime, FLAG_TS_FROM_MTIME, None)


@pytest.mark.parametrize("model", [5, ["gpt-5"], {"id": "gpt-5"}])
def test_jsonl_model_that_is_no_string_is_a_bad_record_not_the_default(model: Any) -> None:
    options = dict(FULL, defaults={"model": "gpt-4o"})
    good = jsonl(GOOD)

    result = parse_jsonl(make_ctx(options), {}, good + jsonl(dict(GOOD, m=model)) + good)

    assert_neighbours_count(result)
    assert [(e.offset, e.message) for e in result.errors] == [
        (len(good), f"model: {model!r} is not a model name")
    ]


def test_input_plus_cache_over_the_count_bound_is_a_bad_record() -> None:
    options = {
        "fields": dict(FULL["fields"], cache_write_tokens="cw"),
        "input_includes_cache": False,
    }
    good = jsonl(GOOD)
    bad = jsonl(dict(GOOD, **{"in": 6 * 10**14, "cr": 6 * 10**14}))

    result = parse_jsonl(make_ctx(options), {}, good + bad + good)

    assert_neighbours_count(result)
    assert [e.offset for e in result.errors] == [len(good)]
    assert result.errors[0].message.startswith("input_tokens with cache: ")
