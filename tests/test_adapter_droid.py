"""The droid adapter: a session's running totals, rewritten whole, counted as their growth."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from monitor.events import FLAG_TS_FROM_MTIME, UsageEvent
from monitor.sources import get_format
from monitor.sources.base import IncompleteDocument, ParseContext, ParseResult, State
from monitor.sources.droid import FORMAT, parse
from monitor.sources.locations import droid_paths
from tests.factories import parse_ctx
from tests.test_adapter_common import GARBAGE_COUNTS
from tests.test_adapter_pi import assert_priced

SESSIONS = Path(__file__).resolve().parent.parent / "examples" / "droid" / "sessions"
SONNET = SESSIONS / "-home-user-webapp" / "2f6d9a41-8c3e-4b57-a1d0-7e9f3b2c5d84.settings.json"
CUSTOM = SESSIONS / "7b1c4e92-5d0a-4f63-b8e7-2c9d0a1f6e35.settings.json"
SESSION = "2f6d9a41-8c3e-4b57-a1d0-7e9f3b2c5d84"
MTIME = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
LATER = datetime(2026, 11, 20, 12, 5, tzinfo=UTC)


def make_ctx(path: Path | str = SONNET, mtime: datetime | None = MTIME) -> ParseContext:
    return parse_ctx("droid", str(path), file_id="2049:9:cafe", mtime=mtime)


def document(path: Path = SONNET, **usage: Any) -> dict[str, Any]:
    """The example document with some of its `tokenUsage` counts changed."""
    doc: dict[str, Any] = json.loads(path.read_bytes())
    doc["tokenUsage"].update(usage)
    return doc


def read(doc: dict[str, Any], state: State, mtime: datetime = MTIME) -> ParseResult:
    return parse(make_ctx(mtime=mtime), state, json.dumps(doc, indent=2).encode())


def tokens(event: UsageEvent) -> tuple[int, int, int, int, int]:
    return (
        event.input_tokens,
        event.output_tokens,
        event.cache_read_tokens,
        event.cache_write_tokens,
        event.reasoning_tokens,
    )


def test_registry_names_this_format() -> None:
    assert get_format("droid") is FORMAT
    assert FORMAT.kind == "document"


def test_a_session_first_seen_is_one_event_of_its_totals() -> None:
    result = parse(make_ctx(), {}, SONNET.read_bytes())
    assert result.errors == []
    (event,) = result.events
    # input + cache creation + cache read; output + thinking (see the example file)
    assert tokens(event) == (
        18422 + 64118 + 1208455,
        9310 + 2104,
        1208455,
        64118,
        2104,
    )
    assert (event.key, event.provider, event.model) == (
        f"droid:{SESSION}",
        "anthropic",
        "claude-sonnet-4-5-20250929",
    )
    assert (event.ts, event.flags) == (MTIME, FLAG_TS_FROM_MTIME)
    assert event.tags == {"session": SESSION}
    assert result.state == {"totals": [18422, 9310, 64118, 1208455, 2104]}


def test_a_custom_model_loses_droids_decoration() -> None:
    (event,) = parse(make_ctx(CUSTOM), {}, CUSTOM.read_bytes()).events
    assert_priced([event, *parse(make_ctx(), {}, SONNET.read_bytes()).events])
    assert (event.provider, event.model) == ("anthropic", "claude-opus-4.5-thinking")
    assert tokens(event) == (5120 + 12800 + 96000, 2210 + 1540, 96000, 12800, 1540)
    assert event.tags == {
        "session": "7b1c4e92-5d0a-4f63-b8e7-2c9d0a1f6e35",
        "api_provider": "anthropic",
    }


def test_each_rewrite_counts_the_growth_once() -> None:
    first = read(document(), {})
    grown = document(
        inputTokens=18422 + 300, outputTokens=9310 + 120, cacheReadTokens=1208455 + 9000
    )
    second = read(grown, first.state, LATER)
    (event,) = second.events
    assert tokens(event) == (300 + 9000, 120, 9000, 0, 0)
    assert event.key == f"droid:{SESSION}:18722/9430/64118/1217455/2104"
    assert event.ts == LATER
    # The same document again, as after a restart: nothing more.
    assert read(grown, second.state, LATER).events == []
    # Read afresh (no state), the same document is its first key again: idempotent.
    assert [e.key for e in read(document(), {}).events] == [e.key for e in first.events]


def test_totals_that_shrink_count_from_zero() -> None:
    first = read(document(), {})
    (event,) = read(
        document(
            inputTokens=10,
            outputTokens=5,
            cacheCreationTokens=0,
            cacheReadTokens=0,
            thinkingTokens=0,
        ),
        first.state,
    ).events
    assert tokens(event) == (10, 5, 0, 0, 0)


def test_a_copy_of_the_session_in_another_folder_gives_the_same_first_key() -> None:
    copy = SESSIONS / "archive" / SONNET.name
    here, there = (parse(make_ctx(path), {}, SONNET.read_bytes()).events for path in (SONNET, copy))
    assert [e.key for e in here] == [e.key for e in there]


def test_only_a_total_counts_as_input() -> None:
    doc = document()
    doc["tokenUsage"] = {"totalTokens": 456}
    (event,) = read(doc, {}).events
    assert tokens(event) == (456, 0, 0, 0, 0)


def test_without_model_the_fallback_is_flagged_and_the_provider_kept() -> None:
    doc = document()
    del doc["model"]
    (event,) = read(doc, {}).events
    assert (event.model, event.provider, event.tags["model_fallback"]) == (
        "unknown",
        "anthropic",
        "true",
    )


def test_without_mtime_the_session_start_dates_it() -> None:
    (event,) = parse(make_ctx(mtime=None), {}, SONNET.read_bytes()).events
    assert (event.ts, event.flags) == (datetime(2026, 11, 20, 8, 41, 17, 902000, UTC), 0)


def test_no_usage_yet_is_nothing() -> None:
    doc = document()
    del doc["tokenUsage"]
    assert (read(doc, {}).events, read(doc, {}).errors) == ([], [])
    doc["tokenUsage"] = {"inputTokens": 0, "outputTokens": 0, "thinkingTokens": 0}
    zero = read(doc, {})
    assert (zero.events, zero.errors) == ([], [])


def test_half_written_document_is_incomplete_not_an_error() -> None:
    data = SONNET.read_bytes()
    for cut in (0, 1, len(data) // 2, len(data) - 3):
        with pytest.raises(IncompleteDocument):
            parse(make_ctx(), {}, data[:cut])


def test_a_document_that_is_no_object_is_a_bad_record() -> None:
    result = parse(make_ctx(), {"totals": [1, 2, 3, 4, 5]}, b"[1, 2]")
    assert result.events == [] and [e.offset for e in result.errors] == [0]
    assert result.state == {"totals": [1, 2, 3, 4, 5]}


# -- bad values (issue 9): the document is bad, the totals stay, nothing is lost -----------


def assert_bad_then_recovered(bad: dict[str, Any], says: str, mtime: datetime = MTIME) -> None:
    """A bad rewrite is one bad record and moves nothing; the next good one counts the
    growth since the last good reading."""
    first = read(document(), {})
    result = read(bad, first.state, mtime)
    assert result.events == [] and result.state == first.state
    ((offset, message),) = [(e.offset, e.message) for e in result.errors]
    assert offset == 0 and says in message
    (event,) = read(document(outputTokens=9310 + 50), result.state, LATER).events
    assert tokens(event) == (0, 50, 0, 0, 0)


@pytest.mark.parametrize("garbage", GARBAGE_COUNTS.values(), ids=list(GARBAGE_COUNTS))
@pytest.mark.parametrize(
    "field", ["inputTokens", "outputTokens", "cacheReadTokens", "thinkingTokens"]
)
def test_garbage_count_is_a_bad_record(field: str, garbage: Any) -> None:
    assert_bad_then_recovered(document(**{field: garbage}), f"tokenUsage.{field}: {garbage!r}")


def test_token_usage_that_is_no_object_is_a_bad_record() -> None:
    doc = document()
    doc["tokenUsage"] = "lots"
    assert_bad_then_recovered(doc, "tokenUsage: 'lots' is not an object")


def test_a_model_that_is_no_string_is_a_bad_record() -> None:
    doc = document()
    doc["model"] = {"id": "claude"}
    assert_bad_then_recovered(doc, "is not a model name")


def test_a_time_out_of_range_is_a_bad_record() -> None:
    assert_bad_then_recovered(
        document(), "timestamp out of range", datetime(1970, 1, 2, tzinfo=UTC)
    )


def test_default_paths_follow_ccusage() -> None:
    assert droid_paths({"DROID_SESSIONS_DIR": "/a, /b/"}) == [
        "/a/**/*.settings.json",
        "/b/**/*.settings.json",
    ]
    assert droid_paths({}) == ["~/.factory/sessions/**/*.settings.json"]
