"""The spool format: what our own writers append, read back field for field."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from monitor.events import FLAG_TS_FROM_MTIME
from monitor.sources import get_format
from monitor.sources.base import ParseContext
from monitor.sources.spool import FORMAT, encode_record, parse
from tests.factories import parse_ctx
from tests.test_adapter_common import BAD_TIMES, GARBAGE_COUNTS

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "spool" / "track-20261120.jsonl"


def make_ctx(base_offset: int = 0, mtime: datetime | None = None) -> ParseContext:
    return parse_ctx(
        "spool",
        "/state/spool/track.jsonl",
        file_id="9:9:00",
        tz=ZoneInfo("Europe/Berlin"),
        base_offset=base_offset,
        mtime=mtime,
    )


def rec(**fields: Any) -> bytes:
    record: dict[str, Any] = {"ts": "2026-11-20T10:00:00Z", "model": "gpt-4o-mini"}
    record.update(fields)
    return json.dumps(record).encode() + b"\n"


def test_registry_names_this_format() -> None:
    assert get_format("spool") is FORMAT
    assert FORMAT.kind == "lines"


def test_example_spool_file() -> None:
    result = parse(make_ctx(), {}, EXAMPLE.read_bytes())
    assert result.errors == []
    first, second, third = result.events
    assert (first.key, first.source, first.provider, first.operation) == (
        "spool:0f3c9a1e-7b2d-4c5e-9a8f-1b2c3d4e5f60",
        "nightly-eval",
        "openai",
        "summarize",
    )
    assert first.ts == datetime(2026, 11, 20, 9, 15, 0, 250000, tzinfo=UTC)
    assert first.tags == {"run": "42", "dataset": "support-tickets"}
    # no id: keyed by position; no source: the spool's name; naive ts: Europe/Berlin
    assert second.key == f"9:9:00@{len(EXAMPLE.read_bytes().splitlines(keepends=True)[0])}"
    assert second.source == "spool"
    assert second.ts == datetime(2026, 11, 20, 9, 16, 30, tzinfo=UTC)
    assert second.reported_cost == Decimal("0.001340")
    assert (second.input_tokens, second.cache_read_tokens, second.cache_write_tokens) == (
        5400,
        4000,
        0,
    )
    assert (third.provider, third.calls, third.reasoning_tokens) == ("google", 3, 600)
    assert sum(e.input_tokens for e in result.events) == 7400
    assert sum(e.output_tokens for e in result.events) == 1370
    assert sum(e.calls for e in result.events) == 5


def test_encoded_record_parses_back_to_the_same_fields() -> None:
    fields: dict[str, Any] = {
        "id": "abc",
        "ts": datetime(2026, 11, 20, 10, 0, tzinfo=timezone(timedelta(hours=1))),
        "source": "etl",
        "provider": "Anthropic",
        "model": "claude-sonnet-4-5",
        "operation": "advocate",
        "input_tokens": 1000,
        "output_tokens": 200,
        "cache_read_tokens": 600,
        "cache_write_tokens": 300,
        "cache_write_1h_tokens": 100,
        "reasoning_tokens": 50,
        "calls": 2,
        "cost": Decimal("0.0000075"),
        "tags": {"run": 7, "phase": "draft", "skip": None},
    }
    line = encode_record(fields)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert b'"cost":"0.0000075"' in line
    assert b'"ts":"2026-11-20T10:00:00+01:00"' in line
    (event,) = parse(make_ctx(), {}, line).events
    assert event.key == "spool:abc"
    assert event.ts == datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    assert (event.source, event.provider, event.model, event.operation) == (
        "etl",
        "anthropic",
        "claude-sonnet-4-5",
        "advocate",
    )
    assert (
        event.input_tokens,
        event.output_tokens,
        event.cache_read_tokens,
        event.cache_write_tokens,
        event.cache_write_1h_tokens,
        event.reasoning_tokens,
        event.calls,
    ) == (1000, 200, 600, 300, 100, 50, 2)
    assert event.reported_cost == Decimal("0.0000075")
    assert event.tags == {"run": "7", "phase": "draft"}


def test_encode_leaves_out_none_and_accepts_iso_text() -> None:
    line = encode_record({"ts": "2026-11-20T10:00:00Z", "model": "gpt-5", "operation": None})
    assert json.loads(line) == {"ts": "2026-11-20T10:00:00Z", "model": "gpt-5"}


@pytest.mark.parametrize(
    "fields",
    [
        {"ts": "2026-11-20T10:00:00Z", "model": "m", "prompt_tokens": 3},
        {"ts": "2026-11-20T10:00:00Z"},
        {"model": "m"},
        {"ts": "2026-11-20T10:00:00Z", "model": "m", "input_tokens": True},
        {"ts": "2026-11-20T10:00:00Z", "model": "m", "input_tokens": 1.5},
        {"ts": "2026-11-20T10:00:00Z", "model": "m", "cost": "NaN"},
        {"ts": "2026-11-20T10:00:00Z", "model": "m", "cost": "cheap"},
        {"ts": "2026-11-20T10:00:00Z", "model": "m", "tags": ["a"]},
        {"ts": 12, "model": "m"},
        {"ts": "2026-11-20T10:00:00Z", "model": "m", "input_tokens": -5},
        {"ts": "2026-11-20T10:00:00Z", "model": "m", "reasoning_tokens": 2**63},
        {"ts": "2026-11-20T10:00:00Z", "model": "m", "calls": -1},
        {"ts": "2026-11-20T10:00:00Z", "model": "m", "cost": Decimal("-0.01")},
        {"ts": "2026-11-20T10:00:00Z", "model": "m", "cost": 1e9},
    ],
)
def test_encode_refuses_what_the_reader_could_not_use(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        encode_record(fields)


def test_bad_records_are_errors_at_their_offsets_and_the_rest_parse() -> None:
    lines = [
        rec(input_tokens=1),
        b"{not json\n",
        b"[1, 2]\n",
        rec(model=""),
        rec(cost="lots"),
        rec(ts="yesterday"),
        rec(tags="x"),
        rec(input_tokens=2),
    ]
    result = parse(make_ctx(base_offset=4096), {}, b"".join(lines))
    assert [e.input_tokens for e in result.events] == [1, 2]
    starts = [4096 + sum(len(x) for x in lines[:i]) for i in range(len(lines))]
    assert [err.offset for err in result.errors] == starts[1:7]


def test_crlf_blank_lines_and_unknown_fields() -> None:
    data = (
        rec(input_tokens=5, extra={"x": 1}).replace(b"\n", b"\r\n")
        + b"\r\n\n"
        + rec(input_tokens=6)
    )
    result = parse(make_ctx(), {}, data)
    assert result.errors == []
    assert [e.input_tokens for e in result.events] == [5, 6]


def test_missing_optional_fields_take_their_defaults() -> None:
    (event,) = parse(make_ctx(), {}, rec()).events
    assert (event.provider, event.operation, event.calls, event.input_tokens) == (
        "openai",
        None,
        1,
        0,
    )
    assert event.reported_cost is None and event.tags == {}


def test_missing_ts_uses_mtime_flagged() -> None:
    line = json.dumps({"model": "gpt-5"}).encode() + b"\n"
    mtime = datetime(2026, 1, 1, tzinfo=UTC)
    (event,) = parse(make_ctx(mtime=mtime), {}, line).events
    assert event.ts == mtime and event.flags & FLAG_TS_FROM_MTIME
    assert len(parse(make_ctx(), {}, line).errors) == 1


def test_absurd_values_are_errors_not_crashes() -> None:
    lines = [
        rec(input_tokens="1e400"),
        rec(ts=1e20),
        rec(provider=5, input_tokens=float("nan")),
        rec(input_tokens=3),
    ]
    result = parse(make_ctx(), {}, b"".join(lines))
    assert [e.input_tokens for e in result.events] == [3]
    assert [err.offset for err in result.errors] == [0, len(lines[0]), len(lines[0] + lines[1])]


def test_a_line_that_is_not_utf8_is_an_error_not_a_crash() -> None:
    bad = b'{"ts":"2026-11-20T10:00:00Z","model":"gpt-\xff"}\n'
    result = parse(make_ctx(), {}, bad + rec(input_tokens=4))
    assert [e.input_tokens for e in result.events] == [4]
    ((offset, message),) = [(err.offset, err.message) for err in result.errors]
    assert offset == 0 and message.startswith("invalid JSON: ")


# -- bad values (issue 9): the record is bad, its neighbours still count -------------------


def around(bad: bytes, base: int = 64) -> tuple[Any, int]:
    good = rec(input_tokens=100, output_tokens=10)
    return parse(make_ctx(base_offset=base), {}, good + bad + good), base + len(good)


def assert_neighbours_count(result: Any) -> None:
    assert [(e.input_tokens, e.output_tokens) for e in result.events] == [(100, 10)] * 2


@pytest.mark.parametrize("garbage", [*GARBAGE_COUNTS.values(), "12"], ids=[*GARBAGE_COUNTS, "str"])
@pytest.mark.parametrize(
    "field", ["input_tokens", "output_tokens", "cache_write_1h_tokens", "reasoning_tokens", "calls"]
)
def test_garbage_count_is_a_bad_record_and_neighbours_count(field: str, garbage: Any) -> None:
    result, offset = around(rec(**{field: garbage}))

    assert_neighbours_count(result)
    assert [e.offset for e in result.errors] == [offset]
    assert result.errors[0].message.startswith(f"{field}: {garbage!r} is not a token count")


def test_whole_float_counts_are_read() -> None:
    (event,) = parse(make_ctx(), {}, rec(input_tokens=3865.0, calls=2.0)).events

    assert (event.input_tokens, event.calls) == (3865, 2)


@pytest.mark.parametrize(("value", "says"), BAD_TIMES.values(), ids=list(BAD_TIMES))
def test_bad_ts_is_a_bad_record_not_the_mtime(value: str, says: str) -> None:
    result, offset = around(rec(ts=value))

    assert_neighbours_count(result)
    assert [e.offset for e in result.errors] == [offset]
    assert result.errors[0].message.startswith(f"{says}: ts = ")


@pytest.mark.parametrize("model", [5, ["gpt-5"], {"id": "gpt-5"}])
def test_model_that_is_no_string_is_a_bad_record(model: Any) -> None:
    result, offset = around(rec(model=model))

    assert_neighbours_count(result)
    assert [(e.offset, e.message) for e in result.errors] == [
        (offset, f"model: {model!r} is not a model name")
    ]


@pytest.mark.parametrize("cost", ["-0.01", "Infinity", "1000000000", -1])
def test_garbage_cost_is_a_bad_record(cost: Any) -> None:
    result, offset = around(rec(cost=cost))

    assert_neighbours_count(result)
    assert [e.offset for e in result.errors] == [offset]
    assert result.errors[0].message.startswith(f"cost: {cost!r} is not a cost")
