"""image-describer-log and image-describer-workspace: the Image Description Toolkit (seed 000)."""

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
from monitor.sources.base import IncompleteDocument, ParseContext, ParseError, State
from monitor.sources.image_describer import (
    LOG_FORMAT,
    WORKSPACE_FORMAT,
    parse_log,
    parse_workspace,
)
from tests.factories import parse_ctx
from tests.test_adapter_common import BAD_TIMES, GARBAGE_COUNTS

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DESCRIPTIONS = EXAMPLES / "image-describer" / "Descriptions"
WORKFLOW = "wf_openai_gpt-4o_narrative_20251007"
LOG = DESCRIPTIONS / WORKFLOW / "logs" / "image_describer_20251007.log"
WORKSPACE = DESCRIPTIONS / "MyPhotos" / "workspace.json"
MTIME = datetime(2025, 10, 9, 18, 0, tzinfo=UTC)

SEED_LINES = b"""Processing: IMG_1234.jpg
Generated description for IMG_1234.jpg (Provider: OpenAI, Model: gpt-4o)
Token usage: 3,865 total (3,156 prompt + 709 completion)
Estimated cost: $0.0150
Processing: IMG_1235.jpg
Generated description for IMG_1235.jpg (Provider: Claude, Model: claude-3-7-sonnet)
Token usage: 7,532 total (6,376 prompt + 1,156 completion)
Processing: IMG_1236.jpg
"""


def ctx(path: Path | str = LOG, base_offset: int = 0, **options: Any) -> ParseContext:
    return parse_ctx(
        "image-describer",
        str(path),
        file_id="1:2:abc",
        tz=ZoneInfo("Europe/Berlin"),
        base_offset=base_offset,
        mtime=MTIME,
        option_map=options,
    )


def in_pieces(data: bytes, cuts: list[int], path: Path | str = LOG) -> list[UsageEvent]:
    """Parse `data` cut at `cuts`, the state JSON-round-tripped between calls (a restart)."""
    events: list[UsageEvent] = []
    state: State = {}
    start = 0
    for end in [*cuts, len(data)]:
        result = parse_log(ctx(path, base_offset=start), state, data[start:end])
        assert result.errors == []
        events.extend(result.events)
        state = json.loads(json.dumps(result.state))
        start = end
    return events


def line_ends(data: bytes) -> list[int]:
    return [i + 1 for i, byte in enumerate(data) if byte == ord("\n")][:-1]


# -- the workflow log --------------------------------------------------------------------


def test_registry_names_both_formats() -> None:
    assert get_format("image-describer-log") is LOG_FORMAT
    assert get_format("image-describer-workspace") is WORKSPACE_FORMAT
    assert (LOG_FORMAT.kind, WORKSPACE_FORMAT.kind) == ("lines", "document")
    assert LOG_FORMAT.default_paths is not None and WORKSPACE_FORMAT.default_paths is not None
    assert LOG_FORMAT.default_paths() == ["**/Descriptions/wf_*/logs/image_describer_*.log"]
    assert WORKSPACE_FORMAT.default_paths() == ["**/Descriptions/*/workspace.json"]


def test_example_log_has_one_event_per_token_line_and_never_the_summary() -> None:
    result = parse_log(ctx(), {}, LOG.read_bytes())

    assert result.errors == []
    events = result.events
    # Six images, one failed (no Token usage line); the WORKFLOW / TOKEN USAGE SUMMARY
    # block repeats the five (17,905 tokens, $0.07) and must not add to them.
    assert [e.tags["image"] for e in events] == [
        "IMG_1234.jpg",
        "IMG_1235.jpg",
        "IMG_1236.jpg",
        "IMG_1238.jpg",
        "IMG_1239.jpg",
    ]
    assert sum(e.input_tokens for e in events) == 14_507
    assert sum(e.output_tokens for e in events) == 3_398
    assert [e.reported_cost for e in events] == [
        Decimal("0.0150"),
        Decimal("0.0132"),
        Decimal("0.0170"),
        Decimal("0.0103"),
        Decimal("0.0148"),
    ]
    assert {(e.provider, e.model, e.operation) for e in events} == {
        ("openai", "gpt-4o", "describe_image")
    }
    assert {e.tags["workflow"] for e in events} == {WORKFLOW}


def test_example_log_keys_timestamps_and_origins_come_from_the_token_line() -> None:
    data = LOG.read_bytes()
    token_line = data.index(b"INFO - Token usage: 3,865")

    first = parse_log(ctx(), {}, data).events[0]

    assert first.key == f"1:2:abc@{token_line}"
    assert first.origin == f"{LOG}:{token_line}"
    # "(2025-10-07 14:20:04,905)" in Berlin summer time.
    assert first.ts == datetime(2025, 10, 7, 12, 20, 4, 905000, tzinfo=UTC)
    assert first.flags == 0


def test_log_split_at_every_line_boundary_yields_the_events_of_one_pass() -> None:
    data = LOG.read_bytes()
    one_pass = parse_log(ctx(), {}, data).events
    ends = line_ends(data)

    assert in_pieces(data, ends) == one_pass
    for cut in ends:
        assert in_pieces(data, [cut]) == one_pass, f"restart at offset {cut}"


def test_seed_console_lines_split_at_every_boundary_yield_one_pass() -> None:
    one_pass = parse_log(ctx(), {}, SEED_LINES).events

    assert len(one_pass) == 2
    assert in_pieces(SEED_LINES, line_ends(SEED_LINES)) == one_pass
    for cut in line_ends(SEED_LINES):
        assert in_pieces(SEED_LINES, [cut]) == one_pass


def test_restart_between_description_and_token_lines_still_joins() -> None:
    cut = SEED_LINES.index(b"Token usage")

    first, second = in_pieces(SEED_LINES, [cut])

    assert (first.tags["image"], first.provider, first.model) == (
        "IMG_1234.jpg",
        "openai",
        "gpt-4o",
    )
    assert (first.input_tokens, first.output_tokens) == (3_156, 709)


def test_event_is_held_until_the_next_line_shows_whether_a_cost_follows() -> None:
    through_token_line = SEED_LINES[: SEED_LINES.index(b"Estimated cost")]

    held = parse_log(ctx(), {}, through_token_line)
    resumed = parse_log(
        ctx(base_offset=len(through_token_line)),
        held.state,
        SEED_LINES[len(through_token_line) :],
    )

    assert held.events == []
    assert resumed.events[0].reported_cost == Decimal("0.0150")


def test_without_a_cost_line_the_event_has_no_reported_cost() -> None:
    second = parse_log(ctx(), {}, SEED_LINES).events[1]

    assert second.reported_cost is None
    assert (second.provider, second.model) == ("anthropic", "claude-3-7-sonnet")
    assert (second.input_tokens, second.output_tokens) == (6_376, 1_156)


def test_blank_lines_between_token_and_cost_lines_are_skipped() -> None:
    data = SEED_LINES.replace(b"completion)\nEstimated", b"completion)\n\r\n\nEstimated")

    assert parse_log(ctx(), {}, data).events[0].reported_cost == Decimal("0.0150")


@pytest.mark.parametrize(
    "wrap",
    [
        lambda msg: b"2025-10-07 14:20:18,123 - INFO - " + msg,
        lambda msg: b"2025-10-07 14:20:18,123 - image_describer - INFO - " + msg,
        lambda msg: b"[2025-10-07 14:20:18] INFO: " + msg,
        lambda msg: b"INFO - " + msg + b" - (2025-10-07 14:20:18,123)",
    ],
    ids=["prefix", "prefix-with-logger", "bracketed", "toolkit-suffix"],
)
def test_logging_wrappers_give_the_line_timestamp(wrap: Any) -> None:
    data = b"".join(wrap(line) + b"\r\n" for line in SEED_LINES.splitlines())

    events = parse_log(ctx(), {}, data).events

    assert [e.tags["image"] for e in events] == ["IMG_1234.jpg", "IMG_1235.jpg"]
    assert events[0].reported_cost == Decimal("0.0150")
    assert (events[0].input_tokens, events[0].output_tokens) == (3_156, 709)
    assert events[0].ts.replace(microsecond=0) == datetime(2025, 10, 7, 12, 20, 18, tzinfo=UTC)


def test_without_line_timestamps_the_workflow_date_stands_in() -> None:
    first = parse_log(ctx(), {}, SEED_LINES).events[0]

    assert first.ts == datetime(2025, 10, 7, 10, 0, tzinfo=UTC)  # noon in Berlin
    assert first.flags == 0


def test_workflow_stamp_with_a_time_of_day() -> None:
    path = f"/x/Descriptions/wf_photos_openai_gpt-4o_narrative_20251007_142000/logs/{LOG.name}"

    first = parse_log(ctx(path), {}, SEED_LINES).events[0]

    assert first.ts == datetime(2025, 10, 7, 12, 20, tzinfo=UTC)
    assert first.tags["workflow"] == "wf_photos_openai_gpt-4o_narrative_20251007_142000"


def test_without_any_timestamp_the_mtime_stands_in_flagged() -> None:
    path = "/x/Descriptions/wf_adhoc/logs/image_describer.log"

    first = parse_log(ctx(path), {}, SEED_LINES).events[0]

    assert first.ts == MTIME
    assert first.flags & FLAG_TS_FROM_MTIME


def test_token_line_without_a_description_line_uses_the_last_known_image_and_model() -> None:
    data = (
        b"INFO - Initialized ImageDescriber with provider: claude, model: claude-3-5-haiku"
        b" - (2025-10-07 14:19:58,552)\n"
        b"INFO - Describing image 1 of 2: beach (1).jpg - (2025-10-07 14:20:00,000)\n"
        b"INFO - Token usage: 986 total (789 prompt + 197 completion) - (2025-10-07 14:20:05,000)\n"
        b"INFO - End time: 2025-10-07 14:20:05 - (2025-10-07 14:20:05,001)\n"
    )

    (event,) = parse_log(ctx(), {}, data).events

    assert event.tags["image"] == "beach (1).jpg"
    assert (event.provider, event.model) == ("anthropic", "claude-3-5-haiku")
    assert event.reported_cost is None


def test_unknown_model_falls_back_to_the_default_model_option() -> None:
    data = b"Token usage: 100 total (80 prompt + 20 completion)\nnext\n"

    configured = parse_log(ctx(default_model="gpt-4o-mini"), {}, data).events[0]
    unconfigured = parse_log(ctx(), {}, data).events[0]

    assert (configured.provider, configured.model) == ("openai", "gpt-4o-mini")
    assert (unconfigured.provider, unconfigured.model) == ("unknown", "unknown")
    assert "image" not in unconfigured.tags


def test_a_new_image_drops_the_pending_description_of_a_failed_one() -> None:
    data = (
        b"Generated description for A.jpg (Provider: OpenAI, Model: gpt-4o-mini)\n"
        b"Processing: B.jpg\n"
        b"Token usage: 100 total (80 prompt + 20 completion)\n"
        b"Successfully processed: B.jpg\n"
    )

    (event,) = parse_log(ctx(), {}, data).events

    assert event.tags["image"] == "B.jpg"
    assert event.model == "gpt-4o-mini"  # the workflow's model is still the last one seen


def test_unreadable_token_line_is_an_error_at_its_offset() -> None:
    bad = b"Token usage: unavailable (provider returned none)\n"
    data = SEED_LINES[: SEED_LINES.index(b"Token usage")] + bad + b"Processing: next.jpg\n"
    base = 4096

    result = parse_log(ctx(base_offset=base), {}, data)

    assert result.events == []
    assert result.errors == [ParseError(base + data.index(bad), result.errors[0].message)]


def test_summary_block_alone_is_never_an_event() -> None:
    data = LOG.read_bytes()
    summary = data[data.index(b"INFO - Processing complete") :]

    result = parse_log(ctx(base_offset=len(data) - len(summary)), {}, summary)

    assert (result.events, result.errors) == ([], [])


# -- the GUI workspace -------------------------------------------------------------------


def test_workspace_has_one_event_per_description_with_tokens() -> None:
    result = parse_workspace(ctx(WORKSPACE), {}, WORKSPACE.read_bytes())

    assert result.errors == []
    events = result.events
    # Four stored descriptions; the old moondream one has no token fields.
    assert [e.key for e in events] == [
        "idw:1728324018000",
        "idw:1728371564000",
        "idw:IMG_2002.png:2025-10-08T09:20:05:gpt-4o-mini",
    ]
    assert sum(e.input_tokens for e in events) == 8_267
    assert sum(e.output_tokens for e in events) == 1_496
    assert [(e.provider, e.model) for e in events] == [
        ("openai", "gpt-4o"),
        ("anthropic", "claude-3-7-sonnet"),
        ("openai", "gpt-4o-mini"),
    ]
    first = events[0]
    assert first.ts == datetime(2025, 10, 7, 12, 20, 18, tzinfo=UTC)
    assert first.tags == {
        "workspace": "MyPhotos",
        "image": "IMG_1234.jpg",
        "prompt_style": "narrative",
    }
    assert first.operation == "describe_image"
    assert first.reported_cost is None
    assert first.origin == f"{WORKSPACE}:1"


def test_workspace_rewritten_with_a_new_description_adds_one_key() -> None:
    before = parse_workspace(ctx(WORKSPACE), {}, WORKSPACE.read_bytes()).events
    doc = json.loads(WORKSPACE.read_bytes())
    doc["image_descriptions"]["IMG_2001.jpg"].append(
        {
            "id": "1728450000000",
            "text": "Market stalls at dusk.",
            "model": "gpt-4o",
            "provider": "openai",
            "created": "2025-10-09T07:00:00",
            "total_tokens": 1000,
            "prompt_tokens": 900,
            "completion_tokens": 100,
        }
    )
    doc["current_index"] = 1

    after = parse_workspace(ctx(WORKSPACE), {}, json.dumps(doc, indent=2).encode()).events

    assert {e.key for e in after} - {e.key for e in before} == {"idw:1728450000000"}
    # Same events for the old descriptions (only `origin`, the record's index, may move).
    old = [e.replace(origin="") for e in after if e.key != "idw:1728450000000"]
    assert old == [e.replace(origin="") for e in before]


def test_workspace_bad_entry_is_an_error_at_its_index_and_the_rest_parse() -> None:
    doc = json.loads(WORKSPACE.read_bytes())
    doc["image_descriptions"]["IMG_1234.jpg"].insert(0, "not an object")
    doc["image_descriptions"]["IMG_2002.png"][0]["tool_version"] = "3.1"

    result = parse_workspace(ctx(WORKSPACE), {}, json.dumps(doc).encode())

    assert [e.offset for e in result.errors] == [0]
    assert len(result.events) == 3


def test_workspace_description_without_created_takes_the_mtime_flagged() -> None:
    doc = {"image_descriptions": {"IMG_9.jpg": {"model": "gpt-4o", "prompt_tokens": 5}}}

    (event,) = parse_workspace(ctx(WORKSPACE), {}, json.dumps(doc).encode()).events

    assert (event.ts, event.flags) == (MTIME, FLAG_TS_FROM_MTIME)
    assert (event.input_tokens, event.output_tokens) == (5, 0)
    assert event.key == "idw:IMG_9.jpg::gpt-4o"


def test_workspace_half_written_is_incomplete() -> None:
    data = WORKSPACE.read_bytes()
    for cut in (0, 7, len(data) // 2, len(data) - 3):
        with pytest.raises(IncompleteDocument):
            parse_workspace(ctx(WORKSPACE), {}, data[:cut])


def test_workspace_without_descriptions_has_no_events() -> None:
    result = parse_workspace(ctx(WORKSPACE), {}, b'{"image_files": [], "current_index": 0}')

    assert (result.events, result.errors) == ([], [])


# -- bad values (issue 9): the record is bad, its neighbours still count -------------------


def seed_with(bad: bytes, path: Path | str = LOG) -> tuple[Any, int]:
    """The two seed images with `bad` lines for a third between them; `bad`'s offset."""
    cut = SEED_LINES.index(b"Processing: IMG_1235.jpg")
    data = SEED_LINES[:cut] + bad + SEED_LINES[cut:]
    return parse_log(ctx(path), {}, data), cut


def assert_seed_images_count(result: Any) -> None:
    assert [e.tags["image"] for e in result.events] == ["IMG_1234.jpg", "IMG_1235.jpg"]
    assert sum(e.input_tokens for e in result.events) == 3_156 + 6_376
    assert sum(e.output_tokens for e in result.events) == 709 + 1_156


@pytest.mark.parametrize(
    "counts",
    [
        "18,446,744,073,709,551,616 total (18,446,744,073,709,551,615 prompt + 1 completion)",
        "100 total (9,223,372,036,854,775,808 prompt + 1 completion)",
        "100 total (-5 prompt + 105 completion)",
        "100 total (abc prompt + 100 completion)",
        "100 total (12.7 prompt + 87 completion)",
        "100 total (1e30 prompt + 87 completion)",
    ],
    ids=["2**64", "2**63", "negative", "abc", "fraction", "1e30"],
)
def test_garbage_token_line_is_a_bad_record_and_neighbours_count(counts: str) -> None:
    result, offset = seed_with(b"Processing: X.jpg\nToken usage: " + counts.encode() + b"\n")

    assert_seed_images_count(result)
    assert [e.offset for e in result.errors] == [offset + len(b"Processing: X.jpg\n")]


def test_absurd_estimated_cost_makes_its_token_line_bad() -> None:
    bad = b"Token usage: 100 total (80 prompt + 20 completion)\nEstimated cost: $2,000,000,000\n"

    result, offset = seed_with(bad)

    assert_seed_images_count(result)
    assert [(e.offset, e.message) for e in result.errors] == [
        (offset, "Estimated cost: '2,000,000,000' is not a cost (over $1,000,000)")
    ]


@pytest.mark.parametrize(
    ("stamp", "says"),
    [
        (b"9999-06-01 10:00:00,000", "timestamp out of range"),
        (b"1970-01-01 00:00:00,000", "timestamp out of range"),
        (b"2025-13-45 10:00:00,000", "unreadable timestamp"),
    ],
    ids=["year-9999", "year-1970", "unreadable"],
)
def test_bad_log_stamp_is_a_bad_record_not_the_workflow_time(stamp: bytes, says: str) -> None:
    bad = stamp + b" - INFO - Token usage: 100 total (80 prompt + 20 completion)\n"

    result, offset = seed_with(bad)

    assert_seed_images_count(result)
    assert [e.offset for e in result.errors] == [offset]
    assert result.errors[0].message.startswith(f"{says}: log stamp = ")


def test_workflow_stamp_out_of_range_is_a_bad_record() -> None:
    path = f"/x/Descriptions/wf_photos_19991231/logs/{LOG.name}"

    result = parse_log(ctx(path), {}, SEED_LINES)

    assert result.events == []
    assert len(result.errors) == 2
    assert result.errors[0].message.startswith("timestamp out of range: workflow stamp = 1999")


def test_a_bad_token_line_drops_its_description_not_the_next_ones() -> None:
    bad = (
        b"Generated description for X.jpg (Provider: Claude, Model: claude-3-opus)\n"
        b"[1970-01-01 00:00:00] INFO: Token usage: 10 total (8 prompt + 2 completion)\n"
        b"Token usage: 100 total (80 prompt + 20 completion)\nnext\n"
    )

    events = parse_log(ctx(), {}, bad).events

    assert [(e.input_tokens, e.model) for e in events] == [(80, "claude-3-opus")]
    assert "image" not in events[0].tags  # not X.jpg: that description was the bad line's


def workspace_with(**changes: Any) -> tuple[Any, int]:
    """The example workspace with one more description, changed, listed first; its index."""
    doc = json.loads(WORKSPACE.read_bytes())
    entry = {
        "id": "1728450000000",
        "model": "gpt-4o",
        "provider": "openai",
        "created": "2025-10-09T07:00:00",
        "total_tokens": 1000,
        "prompt_tokens": 900,
        "completion_tokens": 100,
    }
    entry.update(changes)
    doc["image_descriptions"] = {"NEW.jpg": [entry], **doc["image_descriptions"]}
    return parse_workspace(ctx(WORKSPACE), {}, json.dumps(doc).encode()), 0


def assert_workspace_descriptions_count(result: Any) -> None:
    assert len(result.events) == 3
    assert sum(e.input_tokens for e in result.events) == 8_267
    assert sum(e.output_tokens for e in result.events) == 1_496


@pytest.mark.parametrize("garbage", GARBAGE_COUNTS.values(), ids=list(GARBAGE_COUNTS))
@pytest.mark.parametrize("field", ["prompt_tokens", "completion_tokens", "total_tokens"])
def test_garbage_workspace_count_is_a_bad_record_and_neighbours_count(
    field: str, garbage: Any
) -> None:
    result, index = workspace_with(**{field: garbage})

    assert_workspace_descriptions_count(result)
    assert [e.offset for e in result.errors] == [index]
    assert result.errors[0].message.startswith(f"{field}: {garbage!r} is not a token count")


@pytest.mark.parametrize(("value", "says"), BAD_TIMES.values(), ids=list(BAD_TIMES))
def test_bad_created_time_is_a_bad_record_not_the_mtime(value: str, says: str) -> None:
    result, index = workspace_with(created=value)

    assert_workspace_descriptions_count(result)
    assert [e.offset for e in result.errors] == [index]
    assert result.errors[0].message.startswith(f"{says}: created = ")


@pytest.mark.parametrize("model", [4, ["gpt-4o"], {"name": "gpt-4o"}])
def test_workspace_model_that_is_no_string_is_a_bad_record(model: Any) -> None:
    result, index = workspace_with(model=model)

    assert_workspace_descriptions_count(result)
    assert [(e.offset, e.message) for e in result.errors] == [
        (index, f"model: {model!r} is not a model name")
    ]


def test_workspace_garbage_cost_is_a_bad_record() -> None:
    result, index = workspace_with(estimated_cost=-0.01)

    assert_workspace_descriptions_count(result)
    assert [(e.offset, e.message) for e in result.errors] == [
        (index, "estimated_cost: -0.01 is not a cost (negative)")
    ]


def test_a_stamp_that_is_no_date_or_a_workflow_date_that_is_none_is_a_bad_record() -> None:
    line = b"yesterday-ish - INFO - Token usage: 120 total (100 prompt + 20 completion)\n"
    res = parse_log(ctx(), {}, line)
    assert res.events == [] and [e.offset for e in res.errors] == [0]
    assert "yesterday-ish" in res.errors[0].message
    # A workflow folder stamped with a month 13: stated, unreadable, not the file's time.
    bad_day = DESCRIPTIONS / "wf_openai_gpt-4o_narrative_20251345" / "logs" / "x.log"
    res = parse_log(ctx(bad_day), {}, b"Token usage: 120 total (100 prompt + 20 completion)\n")
    assert res.events == [] and "20251345" in res.errors[0].message
