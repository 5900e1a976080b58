"""The amp adapter on the example threads (today's and an older one with a usage ledger)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from monitor.sources import get_format
from monitor.sources.amp import FORMAT, parse
from monitor.sources.base import IncompleteDocument, ParseContext, ParseResult
from monitor.sources.locations import amp_paths
from tests.factories import parse_ctx
from tests.test_adapter_common import BAD_TIMES, GARBAGE_COUNTS

THREADS = Path(__file__).resolve().parent.parent / "examples" / "amp" / "threads"
THREAD = "T-7f2c9a1e-4b3d-4e8f-9a6b-2d1c0e9f8a7b"
LEDGER_THREAD = "T-1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"


def make_ctx(thread: str = THREAD) -> ParseContext:
    return parse_ctx("amp", str(THREADS / f"{thread}.json"), file_id="64769:5:cafe")


def load(thread: str = THREAD) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((THREADS / f"{thread}.json").read_bytes())
    return doc


def run(doc: dict[str, Any], thread: str = THREAD) -> ParseResult:
    return parse(make_ctx(thread), {}, json.dumps(doc).encode())


def counts(result: ParseResult) -> list[tuple[int, int, int, int]]:
    """(input, output, cache read, cache write) of each event."""
    return [
        (e.input_tokens, e.output_tokens, e.cache_read_tokens, e.cache_write_tokens)
        for e in result.events
    ]


def test_registry_names_this_format() -> None:
    assert get_format("amp") is FORMAT
    assert FORMAT.kind == "document"


def test_thread_is_one_event_per_assistant_message_with_the_hand_count() -> None:
    result = run(load())
    assert result.errors == []
    # input = totalInputTokens = input + cache writes + cache reads
    assert counts(result) == [
        (10 + 986 + 11372, 178, 11372, 986),
        (5 + 1204 + 12358, 421, 12358, 1204),
    ]
    assert [sum(c) for c in zip(*counts(result), strict=True)] == [25935, 599, 23730, 2190]
    first = result.events[0]
    assert first.key == f"amp:{THREAD}:1"
    assert (first.provider, first.model) == ("anthropic", "claude-sonnet-4-5-20250929")
    assert first.ts == datetime(2026, 11, 22, 8, 35, 21, 652000, tzinfo=UTC)
    assert first.tags == {"session": THREAD}


def test_usage_ledger_wins_and_takes_its_cache_counts_from_the_messages() -> None:
    result = run(load(LEDGER_THREAD), LEDGER_THREAD)
    assert result.errors == []
    # ledger input + the cache writes and reads of the message `toMessageId` names
    assert counts(result) == [(1200 + 3000, 350, 0, 3000), (800 + 150 + 4200, 120, 4200, 150)]
    assert [e.key for e in result.events] == [
        f"amp:{LEDGER_THREAD}:b1c2d3e4-f5a6-4b7c-8d9e-0f1a2b3c4d5e",
        f"amp:{LEDGER_THREAD}:c2d3e4f5-a6b7-4c8d-9e0f-1a2b3c4d5e6f",
    ]
    doc = load(LEDGER_THREAD)
    doc["usageLedger"] = {"events": []}  # an empty ledger: the messages count
    assert [e.key for e in run(doc, LEDGER_THREAD).events] == [
        f"amp:{LEDGER_THREAD}:1",
        f"amp:{LEDGER_THREAD}:3",
    ]


def test_rewrite_with_one_more_answer_adds_exactly_one_key() -> None:
    doc = load()
    before = run(doc)
    assert before.events == run(doc).events  # re-reading the same thread: the same calls
    doc["messages"].append(
        {"role": "assistant", "messageId": 5, "usage": dict(doc["messages"][3]["usage"])}
    )
    after = {e.key for e in run(doc).events}
    assert after - {e.key for e in before.events} == {f"amp:{THREAD}:5"}


def test_half_written_thread_is_incomplete_not_an_error() -> None:
    with pytest.raises(IncompleteDocument):
        parse(make_ctx(), {}, (THREADS / f"{THREAD}.json").read_bytes()[:-100])


def test_counts_without_totals_and_totals_without_counts() -> None:
    doc = load()
    del doc["messages"][1]["usage"]["totalInputTokens"]
    doc["messages"][3]["usage"] = {
        "model": "gpt-5",
        "totalTokens": 345,
        "timestamp": "2026-11-22T08:36:00Z",
    }
    result = run(doc)
    # no totalInputTokens: the sum; only a total: counted as input
    assert counts(result) == [(12368, 178, 11372, 986), (345, 0, 0, 0)]
    assert result.events[1].provider == "openai"


def test_message_without_an_id_is_keyed_by_its_usage_time() -> None:
    doc = load()
    del doc["messages"][1]["messageId"]
    assert run(doc).events[0].key == f"amp:{THREAD}@2026-11-22T08:35:21.652Z"
    del doc["messages"][1]["usage"]["timestamp"]
    result = run(doc)
    assert [e.key for e in result.events] == [f"amp:{THREAD}:3"]
    assert [e.offset for e in result.errors] == [1]
    assert result.errors[0].message.startswith("message without a messageId or a timestamp")


def test_thread_without_id_is_named_by_its_file_and_odd_shapes_are_errors() -> None:
    doc = load()
    del doc["id"]
    doc["messages"][0] = "garbage"
    result = run(doc)
    assert [e.key for e in result.events] == [f"amp:{THREAD}:1", f"amp:{THREAD}:3"]
    assert [(e.offset, e.message) for e in result.errors] == [(0, "message is not a JSON object")]
    assert run({"id": THREAD}).events == []
    broken = parse(make_ctx(), {}, b'["not", "a thread"]')
    assert [(e.offset, e.message) for e in broken.errors] == [
        (0, "expected a JSON object (an Amp thread)")
    ]


def test_default_paths_follow_amp_data_home_xdg_and_ccusage_dirs() -> None:
    assert amp_paths({}) == ["~/.local/share/amp/threads/*.json"]
    assert amp_paths({"XDG_DATA_HOME": "/x/share"}) == ["/x/share/amp/threads/*.json"]
    env = {"XDG_DATA_HOME": "/x/share", "AMP_DATA_HOME": "/amp/data/"}
    assert amp_paths(env) == ["/amp/data/amp/threads/*.json"]
    assert amp_paths(dict(env, AMP_DATA_DIR="/a, /b")) == ["/a/threads/*.json", "/b/threads/*.json"]


# -- bad values: that message (or ledger entry) is bad, the others count --------------------


def assert_only_message_bad(doc: dict[str, Any], index: int, says: str) -> None:
    result = run(doc)
    good = [f"amp:{THREAD}:{i}" for i in (1, 3) if i != index]
    assert [e.key for e in result.events] == good
    assert [e.offset for e in result.errors] == [index]
    assert result.errors[0].message.startswith(says), result.errors[0].message


@pytest.mark.parametrize("garbage", GARBAGE_COUNTS.values(), ids=list(GARBAGE_COUNTS))
@pytest.mark.parametrize(
    "field",
    [
        "inputTokens",
        "outputTokens",
        "cacheCreationInputTokens",
        "cacheReadInputTokens",
        "totalInputTokens",
    ],
)
def test_garbage_count_is_a_bad_message(field: str, garbage: Any) -> None:
    doc = load()
    doc["messages"][3]["usage"][field] = garbage
    assert_only_message_bad(doc, 3, f"{field}: {garbage!r} is not a token count")


@pytest.mark.parametrize(("value", "says"), BAD_TIMES.values(), ids=list(BAD_TIMES))
def test_bad_timestamp_is_a_bad_message(value: str, says: str) -> None:
    doc = load()
    doc["messages"][1]["usage"]["timestamp"] = value
    assert_only_message_bad(doc, 1, says)


@pytest.mark.parametrize(("model", "says"), [(42, "model: 42 is not"), (None, "usage without")])
def test_model_that_is_no_string_or_missing_is_a_bad_message(model: Any, says: str) -> None:
    doc = load()
    doc["messages"][1]["usage"]["model"] = model
    assert_only_message_bad(doc, 1, says)


def test_bad_ledger_entries_are_bad_and_the_others_count() -> None:
    doc = load(LEDGER_THREAD)
    entries = doc["usageLedger"]["events"]
    entries.append(copy.deepcopy(entries[0]) | {"id": None})
    entries.append(copy.deepcopy(entries[0]) | {"id": "e-3", "tokens": "lots"})
    entries.append(copy.deepcopy(entries[0]) | {"id": "e-4", "tokens": {"input": -1}})
    result = run(doc, LEDGER_THREAD)
    assert len(result.events) == 2
    assert [(e.offset, e.message) for e in result.errors] == [
        (2, "ledger entry without an id (its key is built from it)"),
        (3, "tokens: 'lots' is not an object"),
        (4, "tokens.input: -1 is not a token count (negative)"),
    ]
