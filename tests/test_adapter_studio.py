"""studio-tokens: Studio's per-run tokens.jsonl (seed 003)."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from monitor.events import FLAG_TS_FROM_MTIME
from monitor.sources import get_format
from monitor.sources.base import ParseContext, ParseError
from monitor.sources.studio import FORMAT, parse
from tests.factories import parse_ctx
from tests.test_adapter_common import BAD_TIMES, GARBAGE_COUNTS

TECH = Path(__file__).resolve().parent.parent / "examples" / "studio" / "output" / "tech"
RUN = TECH / "run_tech_20260228_123456" / "tokens.jsonl"
BASELINE = TECH / "run_tech_baseline" / "tokens.jsonl"
MTIME = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)

RECORD = (
    b'{"timestamp": "2026-02-28T12:00:00", "operation": "advocate", "iteration": 1, '
    b'"input_tokens": 2500, "output_tokens": 1200, "total_tokens": 3700, "model": "gpt-4", '
    b'"cost_usd": 0.15}'
)


def ctx(path: Path | str = RUN, base_offset: int = 0, **options: Any) -> ParseContext:
    return parse_ctx(
        "studio",
        str(path),
        file_id="1:2:abc",
        tz=ZoneInfo("Europe/Berlin"),
        base_offset=base_offset,
        mtime=MTIME,
        option_map=options,
    )


def test_registry_names_this_format() -> None:
    assert get_format("studio-tokens") is FORMAT
    assert FORMAT.kind == "lines"
    assert FORMAT.default_paths is not None
    assert FORMAT.default_paths() == ["**/run_*/tokens.jsonl"]


def test_example_run_matches_the_seed_summary() -> None:
    result = parse(ctx(), {}, RUN.read_bytes())

    assert result.errors == []
    events = result.events
    assert len(events) == 7
    assert sum(e.input_tokens for e in events) == 11_000
    assert sum(e.output_tokens for e in events) == 7_500
    assert Counter(e.operation for e in events) == {"advocate": 3, "contrarian": 3, "integrator": 1}
    by_op: Counter[str] = Counter()
    for e in events:
        by_op[e.operation or ""] += e.total_tokens
    assert by_op == {"advocate": 9_200, "contrarian": 7_800, "integrator": 1_500}
    # Six records carry the cost the user logged; the seed's second line has null
    # (GPT-4 list price of 3000 in + 800 out is $0.138, making the run's $0.675).
    reported = [e.reported_cost for e in events if e.reported_cost is not None]
    assert sum(reported, Decimal(0)) == Decimal("0.537")
    assert [e.reported_cost is None for e in events].count(True) == 1
    assert events[1].operation == "contrarian" and events[1].reported_cost is None
    assert {e.model for e in events} == {"gpt-4"}
    assert {e.provider for e in events} == {"openai"}
    assert {e.calls for e in events} == {1}


def test_tags_come_from_the_path_and_the_iteration() -> None:
    events = parse(ctx(), {}, RUN.read_bytes()).events

    assert events[0].tags == {"run": "run_tech_20260228_123456", "phase": "tech", "iteration": "1"}
    assert [e.tags["iteration"] for e in events] == ["1", "1", "2", "2", "3", "3", "3"]


def test_baseline_run_has_no_reported_costs() -> None:
    events = parse(ctx(BASELINE), {}, BASELINE.read_bytes()).events

    assert len(events) == 10
    assert sum(e.input_tokens for e in events) == 20_000
    assert sum(e.output_tokens for e in events) == 5_000
    assert all(e.reported_cost is None for e in events)
    assert {e.tags["run"] for e in events} == {"run_tech_baseline"}
    assert max(int(e.tags["iteration"]) for e in events) == 5


def test_naive_timestamps_are_read_in_the_source_zone() -> None:
    events = parse(ctx(), {}, RECORD + b"\n").events

    assert events[0].ts == datetime(2026, 2, 28, 11, 0, tzinfo=UTC)
    assert events[0].flags == 0


def test_keys_and_origins_are_absolute_file_offsets() -> None:
    data = RUN.read_bytes()
    second = data.index(b"\n") + 1

    third = data.index(b"\n", second) + 1

    events = parse(ctx(base_offset=second), {}, data[second:]).events

    assert [e.key for e in events[:2]] == [f"1:2:abc@{second}", f"1:2:abc@{third}"]
    assert events[0].origin == f"{RUN}:{second}"
    assert len({e.key for e in events}) == 6


def test_identical_lines_are_two_calls() -> None:
    events = parse(ctx(), {}, RECORD + b"\n" + RECORD + b"\n").events

    assert len(events) == 2
    assert events[0].key != events[1].key


def test_crlf_lines_parse_like_lf() -> None:
    lf = parse(ctx(), {}, RUN.read_bytes()).events
    crlf = parse(ctx(), {}, RUN.read_bytes().replace(b"\n", b"\r\n")).events

    assert [(e.operation, e.input_tokens, e.reported_cost) for e in crlf] == [
        (e.operation, e.input_tokens, e.reported_cost) for e in lf
    ]


def test_missing_model_uses_the_default_model_option() -> None:
    line = b'{"timestamp": "2026-02-28T12:00:00", "operation": "advocate", "iteration": 1, '
    line += b'"input_tokens": 2500, "output_tokens": 1200}\n'

    configured = parse(ctx(default_model="gpt-4"), {}, line).events[0]
    unconfigured = parse(ctx(), {}, line).events[0]

    assert (configured.model, configured.provider) == ("gpt-4", "openai")
    assert (unconfigured.model, unconfigured.provider) == ("unknown", "unknown")
    assert unconfigured.reported_cost is None
    assert "iteration" in unconfigured.tags


def test_null_model_and_missing_iteration_are_optional() -> None:
    line = b'{"timestamp": "2026-02-28T12:00:00", "operation": "integrator", '
    line += b'"input_tokens": 10, "output_tokens": 5, "model": null, "cost_usd": null}\n'

    event = parse(ctx(default_model="gpt-4"), {}, line).events[0]

    assert event.model == "gpt-4"
    assert "iteration" not in event.tags
    assert event.reported_cost is None


def test_unknown_extra_fields_are_ignored() -> None:
    line = RECORD[:-1] + b', "scope": "auth", "latency_ms": 5120, "meta": {"x": [1, 2]}}\n'

    events = parse(ctx(), {}, line).events

    assert len(events) == 1
    assert (events[0].input_tokens, events[0].output_tokens) == (2500, 1200)


def test_missing_timestamp_falls_back_to_mtime_flagged() -> None:
    line = b'{"operation": "advocate", "input_tokens": 1, "output_tokens": 2, "model": "gpt-4"}\n'

    event = parse(ctx(), {}, line).events[0]

    assert event.ts == MTIME
    assert event.flags & FLAG_TS_FROM_MTIME


def test_malformed_lines_are_errors_at_their_offset_and_the_rest_parses() -> None:
    bad_json = b'{"timestamp": "2026-02-28T12:03:00", "operation": "adv\n'
    not_object = b"[1, 2, 3]\n"
    no_tokens = b'{"timestamp": "2026-02-28T12:04:00", "operation": "note"}\n'
    data = RECORD + b"\n" + bad_json + not_object + b"\n" + no_tokens + RECORD + b"\n"
    base = 500

    result = parse(ctx(base_offset=base), {}, data)

    first_bad = base + len(RECORD) + 1
    assert result.errors == [
        ParseError(first_bad, result.errors[0].message),
        ParseError(first_bad + len(bad_json), result.errors[1].message),
        ParseError(first_bad + len(bad_json) + len(not_object) + 1, "record without token counts"),
    ]
    assert "invalid JSON" in result.errors[0].message
    assert len(result.events) == 2
    assert result.events[1].key == f"1:2:abc@{base + len(data) - len(RECORD) - 1}"


# -- bad values (issue 9): the record is bad, its neighbours still count -------------------


def record(**changes: Any) -> bytes:
    fields: dict[str, Any] = json.loads(RECORD)
    fields.update(changes)
    return json.dumps(fields).encode() + b"\n"


def between_good_records(bad: bytes, base: int = 300) -> tuple[Any, int]:
    good = RECORD + b"\n"
    return parse(ctx(base_offset=base), {}, good + bad + good), base + len(good)


def assert_only_neighbours_count(result: Any) -> None:
    assert [(e.input_tokens, e.output_tokens) for e in result.events] == [(2500, 1200)] * 2


@pytest.mark.parametrize("garbage", GARBAGE_COUNTS.values(), ids=list(GARBAGE_COUNTS))
@pytest.mark.parametrize("field", ["input_tokens", "output_tokens", "total_tokens"])
def test_garbage_token_count_is_a_bad_record_and_neighbours_count(field: str, garbage: Any) -> None:
    result, offset = between_good_records(record(**{field: garbage}))

    assert_only_neighbours_count(result)
    assert [e.offset for e in result.errors] == [offset]
    assert result.errors[0].message.startswith(f"{field}: {garbage!r} is not a token count")


def test_a_negative_day_is_no_longer_possible() -> None:
    # The studio day summed to -224,000 input tokens: one record said so.
    result, offset = between_good_records(record(input_tokens=-224_000, total_tokens=None))

    assert sum(e.input_tokens for e in result.events) == 5000
    assert result.errors == [
        ParseError(offset, "input_tokens: -224000 is not a token count (negative)")
    ]


def test_whole_float_counts_are_read() -> None:
    (event,) = parse(ctx(), {}, record(input_tokens=3865.0, output_tokens=10.0)).events

    assert (event.input_tokens, event.output_tokens) == (3865, 10)


@pytest.mark.parametrize(("value", "says"), BAD_TIMES.values(), ids=list(BAD_TIMES))
def test_bad_timestamp_is_a_bad_record_not_the_mtime(value: str, says: str) -> None:
    result, offset = between_good_records(record(timestamp=value))

    assert_only_neighbours_count(result)
    assert not any(e.flags & FLAG_TS_FROM_MTIME for e in result.events)
    assert [e.offset for e in result.errors] == [offset]
    assert result.errors[0].message.startswith(says)


def test_null_or_empty_timestamp_falls_back_to_mtime_flagged() -> None:
    events = parse(ctx(), {}, record(timestamp=None) + record(timestamp="")).events

    assert [(e.ts, e.flags) for e in events] == [(MTIME, FLAG_TS_FROM_MTIME)] * 2


@pytest.mark.parametrize("model", [4, ["gpt-4"], {"name": "gpt-4"}, True])
def test_model_that_is_no_string_is_a_bad_record_not_the_default(model: Any) -> None:
    good = RECORD + b"\n"
    data = good + record(model=model) + good

    result = parse(ctx(default_model="gpt-4"), {}, data)

    assert_only_neighbours_count(result)
    assert [(e.offset, e.message) for e in result.errors] == [
        (len(good), f"model: {model!r} is not a model name")
    ]


@pytest.mark.parametrize("cost", [-0.15, "abc", "NaN", 1e12])
def test_garbage_cost_usd_is_a_bad_record(cost: Any) -> None:
    result, offset = between_good_records(record(cost_usd=cost))

    assert_only_neighbours_count(result)
    assert [e.offset for e in result.errors] == [offset]
    assert result.errors[0].message.startswith("cost_usd: ")
