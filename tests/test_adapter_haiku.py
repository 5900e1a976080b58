"""haiku-costs: the novel pipeline's .costs/haiku_usage.json (seed 001)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from monitor.sources import get_format
from monitor.sources.base import IncompleteDocument, ParseContext, ParseError
from monitor.sources.haiku import FORMAT, parse
from tests.factories import parse_ctx
from tests.test_adapter_common import BAD_TIMES, GARBAGE_COUNTS

NOVEL = Path(__file__).resolve().parent.parent / "examples" / "novel"
EXAMPLE = NOVEL / ".costs" / "haiku_usage.json"

NEW_SESSION = {
    "timestamp": "2024-12-27T09:05:00",
    "session_name": "generate_images_chapters_3",
    "input_tokens": 11000,
    "output_tokens": 2000,
    "api_calls": 20,
    "cost_usd": 0.0168,
}


def ctx(path: Path | str = EXAMPLE, **options: Any) -> ParseContext:
    return parse_ctx(
        "novel",
        str(path),
        file_id="1:2:abc",
        tz=ZoneInfo("Europe/Berlin"),
        mtime=datetime(2025, 1, 2, tzinfo=UTC),
        option_map=options,
    )


def document(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(EXAMPLE.read_bytes())
    doc.update(changes)
    return doc


def test_registry_names_this_format() -> None:
    assert get_format("haiku-costs") is FORMAT
    assert FORMAT.kind == "document"
    assert FORMAT.default_paths is not None
    assert FORMAT.default_paths() == ["**/.costs/haiku_usage.json"]


def test_example_is_one_event_per_session_with_the_seed_totals() -> None:
    result = parse(ctx(), {}, EXAMPLE.read_bytes())

    assert result.errors == []
    events = result.events
    assert [e.key for e in events] == [
        "haiku:2024-12-24T10:15:00:test_prompt_comparison",
        "haiku:2024-12-25T16:45:00:generate_images_chapters_2",
        "haiku:2024-12-26T14:30:00:generate_images_chapters_1",
    ]
    # The document's cumulative totals (50,000 in / 10,000 out / $0.08) are the sum of
    # the sessions, and are not counted a second time.
    assert sum(e.input_tokens for e in events) == 50_000
    assert sum(e.output_tokens for e in events) == 10_000
    assert sum(e.calls for e in events) == 80
    assert sum((e.reported_cost or Decimal(0) for e in events), Decimal(0)) == Decimal("0.08")
    seed = events[2]
    assert (seed.input_tokens, seed.output_tokens, seed.calls) == (13_750, 2_500, 25)
    assert seed.reported_cost == Decimal("0.021")


def test_session_fields_map_to_the_event() -> None:
    seed = parse(ctx(), {}, EXAMPLE.read_bytes()).events[2]

    assert seed.ts == datetime(2024, 12, 26, 13, 30, tzinfo=UTC)
    assert seed.provider == "anthropic"
    assert seed.model == "claude-3-5-haiku-20241022"
    assert seed.operation == "generate_images_chapters_1"
    assert seed.tags == {"session": "generate_images_chapters_1", "project": "novel"}
    assert seed.origin == f"{EXAMPLE}:2"
    assert seed.flags == 0


def test_model_comes_from_the_session_then_the_option() -> None:
    doc = document()
    doc["sessions"][0]["model"] = "claude-haiku-4-5"
    data = json.dumps(doc).encode()

    events = parse(ctx(model="claude-3-haiku-20240307"), {}, data).events

    assert [e.model for e in events] == [
        "claude-haiku-4-5",
        "claude-3-haiku-20240307",
        "claude-3-haiku-20240307",
    ]


def test_rewrite_with_one_more_session_adds_exactly_one_key() -> None:
    before = parse(ctx(), {}, EXAMPLE.read_bytes()).events
    doc = document(total_input_tokens=61000, total_output_tokens=12000, total_cost_usd=0.0968)
    doc["sessions"].append(NEW_SESSION)

    after = parse(ctx(), {}, json.dumps(doc, indent=2).encode()).events

    assert after[:3] == before
    assert [e.key for e in after[3:]] == ["haiku:2024-12-27T09:05:00:generate_images_chapters_3"]
    assert after[3].calls == 20


def test_half_written_document_is_incomplete_not_an_error() -> None:
    data = EXAMPLE.read_bytes()
    for cut in (0, 1, len(data) // 3, len(data) // 2, len(data) - 2):
        with pytest.raises(IncompleteDocument):
            parse(ctx(), {}, data[:cut])


def test_document_with_a_bom_parses() -> None:
    events = parse(ctx(), {}, b"\xef\xbb\xbf" + EXAMPLE.read_bytes()).events

    assert len(events) == 3


def test_fresh_document_without_sessions_has_no_events() -> None:
    result = parse(ctx(), {}, b'{"total_input_tokens": 0, "total_output_tokens": 0}')

    assert (result.events, result.errors) == ([], [])


def test_malformed_session_is_an_error_at_its_index_and_the_rest_parse() -> None:
    doc = document()
    doc["sessions"].insert(1, "oops")
    doc["sessions"].insert(3, {"session_name": "no_time", "input_tokens": 5})
    doc["sessions"][0]["unknown_field"] = {"nested": True}

    result = parse(ctx(), {}, json.dumps(doc).encode())

    assert [e.offset for e in result.errors] == [1, 3]
    assert all(isinstance(e, ParseError) for e in result.errors)
    assert len(result.events) == 3


def test_session_without_calls_or_tokens_is_skipped() -> None:
    doc = document()
    doc["sessions"].append(
        {
            "timestamp": "2024-12-27T08:00:00",
            "session_name": "aborted",
            "input_tokens": 0,
            "output_tokens": 0,
            "api_calls": 0,
            "cost_usd": 0.0,
        }
    )

    result = parse(ctx(), {}, json.dumps(doc).encode())

    assert (len(result.events), result.errors) == (3, [])


def test_not_an_object_is_an_error() -> None:
    result = parse(ctx(), {}, b"[1, 2]")

    assert result.events == []
    assert [e.offset for e in result.errors] == [0]


def test_project_tag_is_the_directory_holding_costs() -> None:
    path = "/home/u/my-novel/.costs/haiku_usage.json"

    events = parse(ctx(path), {}, EXAMPLE.read_bytes()).events

    assert {e.tags["project"] for e in events} == {"my-novel"}


# -- bad values (issue 9): the session is bad, the others still count ----------------------


def with_bad_session(**changes: Any) -> Any:
    """The example document with NEW_SESSION, changed, inserted as session 1."""
    doc = document()
    session = {k: v for k, v in dict(NEW_SESSION, **changes).items() if v is not None}
    doc["sessions"].insert(1, session)
    return parse(ctx(), {}, json.dumps(doc).encode())


def assert_example_sessions_count(result: Any) -> None:
    assert len(result.events) == 3
    assert sum(e.input_tokens for e in result.events) == 50_000
    assert sum(e.output_tokens for e in result.events) == 10_000
    assert sum(e.calls for e in result.events) == 80


@pytest.mark.parametrize("garbage", GARBAGE_COUNTS.values(), ids=list(GARBAGE_COUNTS))
@pytest.mark.parametrize("field", ["input_tokens", "output_tokens", "api_calls"])
def test_garbage_count_is_a_bad_session_and_the_others_count(field: str, garbage: Any) -> None:
    result = with_bad_session(**{field: garbage})

    assert_example_sessions_count(result)
    assert [e.offset for e in result.errors] == [1]
    assert result.errors[0].message.startswith(f"{field}: {garbage!r} is not a token count")


@pytest.mark.parametrize(("value", "says"), BAD_TIMES.values(), ids=list(BAD_TIMES))
def test_bad_timestamp_is_a_bad_session(value: str, says: str) -> None:
    result = with_bad_session(timestamp=value)

    assert_example_sessions_count(result)
    assert [e.offset for e in result.errors] == [1]
    assert result.errors[0].message.startswith(says)


def test_missing_timestamp_is_a_bad_session_because_the_key_is_built_from_it() -> None:
    for missing in (None, "", "  "):
        result = with_bad_session(timestamp=missing)

        assert_example_sessions_count(result)
        assert [(e.offset, e.message) for e in result.errors] == [
            (1, "session without a timestamp (its key is built from it)")
        ]


@pytest.mark.parametrize("model", [35, ["claude-3-5-haiku"], {"id": "x"}])
def test_model_that_is_no_string_is_a_bad_session_not_the_default(model: Any) -> None:
    result = with_bad_session(model=model)

    assert_example_sessions_count(result)
    assert [(e.offset, e.message) for e in result.errors] == [
        (1, f"model: {model!r} is not a model name")
    ]


@pytest.mark.parametrize("cost", [-0.0168, "lots", "NaN", 5e9])
def test_garbage_cost_is_a_bad_session(cost: Any) -> None:
    result = with_bad_session(cost_usd=cost)

    assert_example_sessions_count(result)
    assert [e.offset for e in result.errors] == [1]
    assert result.errors[0].message.startswith("cost_usd: ")
