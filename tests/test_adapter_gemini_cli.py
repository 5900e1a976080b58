"""The gemini-cli adapter on the example recordings and on the format's quirks.

Also the furniture the other agent-CLI adapter tests share (`ledger_view`,
`assert_chunks_change_nothing`, `assert_one_bad_line`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from monitor.events import UsageEvent
from monitor.sources import get_format
from monitor.sources.base import IncompleteDocument, ParseContext, ParseFn
from monitor.sources.gemini_cli import (
    FORMAT,
    JSON_FORMAT,
    TOKEN_NAMES,
    google_counts,
    json_paths,
    parse,
    parse_json,
)
from monitor.sources.locations import gemini_cli_paths
from tests.factories import parse_ctx
from tests.test_adapter_common import BAD_TIMES, GARBAGE_COUNTS

PROJECT = "9c3b0e4f6a1d2b7c8e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d"
CHATS = Path(__file__).resolve().parent.parent / "examples/gemini-cli/tmp" / PROJECT / "chats"
SESSION = "4e1f8a2b-6c3d-4b5e-9f7a-1d2c3b4a5e6f"
SUBAGENT = "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d"
MAIN = CHATS / "session-2026-11-20T09-12-4e1f8a2b.jsonl"
SUB = CHATS / SESSION / f"{SUBAGENT}.jsonl"
LEGACY = CHATS / "session-2026-10-02T14-05-8b7c6d5e.json"
LEGACY_SESSION = "8b7c6d5e-4f3a-4b2c-9d1e-0f9a8b7c6d5e"


# -- shared by the agent-CLI adapter tests ----------------------------------------------


def ledger_view(events: Iterable[UsageEvent]) -> dict[str, UsageEvent]:
    """What the ledger keeps of `events`: the largest copy of each key (first among equals)."""
    kept: dict[str, UsageEvent] = {}
    for event in events:
        if event.key not in kept or event.total_tokens > kept[event.key].total_tokens:
            kept[event.key] = event
    return kept


def assert_chunks_change_nothing(
    parse: ParseFn, ctx_at: Callable[[int], ParseContext], data: bytes
) -> None:
    """Cut `data` at every line boundary: the two parts, parsed in turn with the state
    carried (through JSON, as the ledger stores it), give the calls and the bad records
    of the whole."""
    whole = parse(ctx_at(0), {}, data)
    cuts = [i + 1 for i, byte in enumerate(data) if byte == ord("\n")][:-1]
    assert cuts, "nothing to cut"
    for cut in cuts:
        first = parse(ctx_at(0), {}, data[:cut])
        second = parse(ctx_at(cut), json.loads(json.dumps(first.state)), data[cut:])
        assert ledger_view(first.events + second.events) == ledger_view(whole.events), cut
        assert first.errors + second.errors == whole.errors, cut


def assert_one_bad_line(
    parse: ParseFn, ctx: ParseContext, before: bytes, bad: bytes, after: bytes, says: str
) -> None:
    """`bad` between good lines is one bad record, at its offset, whose message starts
    with `says`; the good lines count just as they do without it."""
    alone = parse(ctx, {}, before + after)
    result = parse(ctx, {}, before + bad + after)
    assert alone.errors == [] and alone.events
    assert [(e.key, e.input_tokens, e.output_tokens) for e in result.events] == [
        (e.key, e.input_tokens, e.output_tokens) for e in alone.events
    ]
    assert [err.offset for err in result.errors] == [ctx.base_offset + len(before)]
    assert result.errors[0].message.startswith(says), result.errors[0].message


# -- gemini-cli ---------------------------------------------------------------------------


def make_ctx(path: Path | str = MAIN, base_offset: int = 0, **kw: Any) -> ParseContext:
    return parse_ctx("gemini", str(path), file_id="64769:99:feed", base_offset=base_offset, **kw)


def jl(record: dict[str, Any]) -> bytes:
    return json.dumps(record, separators=(",", ":")).encode() + b"\n"


HEADER = jl({"sessionId": "s-1", "projectHash": PROJECT, "startTime": "2026-11-20T10:00:00Z"})


def message(msg_id: str | None = "m-1", **changes: Any) -> bytes:
    record: dict[str, Any] = {
        "id": msg_id,
        "timestamp": "2026-11-20T10:00:05.000Z",
        "type": "gemini",
        "content": "ok",
        "tokens": dict(zip(TOKEN_NAMES, (100, 10, 40, 5, 0, 115), strict=True)),
        "model": "gemini-2.5-flash",
    }
    record.update(changes)
    return jl(record)


def usage(events: list[UsageEvent]) -> list[tuple[int, int, int, int]]:
    """(input, output, cache read, reasoning) of each event."""
    return [
        (e.input_tokens, e.output_tokens, e.cache_read_tokens, e.reasoning_tokens) for e in events
    ]


def test_registry_names_this_format() -> None:
    assert get_format("gemini-cli") is FORMAT
    assert (FORMAT.kind, JSON_FORMAT.kind) == ("lines", "document")


def test_example_recordings_total_the_hand_count() -> None:
    events = [e for p in (MAIN, SUB) for e in parse(make_ctx(p), {}, p.read_bytes()).events]
    # per message: input + tool, output + thoughts, cached, thoughts
    assert usage(events) == [
        (15327 + 7, 23 + 919, 11526, 919),
        (18210, 412 + 256, 15001, 256),
        (4102, 88, 0, 0),
        (2950, 301 + 120, 1024, 120),
    ]
    totals = [sum(column) for column in zip(*usage(events), strict=True)]
    assert totals == [40596, 2119, 27551, 1295]
    assert [e.model for e in events] == ["gemini-2.5-pro"] * 2 + ["gemini-2.5-flash"] * 2
    assert {e.provider for e in events} == {"google"}


def test_message_written_again_as_it_changes_is_one_call() -> None:
    # The first answer is written three times: tokens null, then its tokens, then its tool
    # calls; a `$set` line repeats it once more inside the whole message list.
    result = parse(make_ctx(), {}, MAIN.read_bytes())
    assert result.errors == []
    first = result.events[0]
    assert first.key == f"gemini:{SESSION}:b7f0c1d2-3e4f-4a5b-8c6d-7e8f9a0b1c2d"
    assert first.ts == datetime(2026, 11, 20, 9, 12, 41, 904000, tzinfo=UTC)
    assert first.tags == {"session": SESSION, "project": PROJECT}
    assert len({e.key for e in result.events}) == len(result.events) == 3


def test_subagent_recording_is_its_own_session_in_the_parent_project() -> None:
    (event,) = parse(make_ctx(SUB), {}, SUB.read_bytes()).events
    assert event.key == f"gemini:{SUBAGENT}:0a1b2c3d-4e5f-4a6b-9c7d-8e9f0a1b2c3d"
    assert event.tags == {"session": SUBAGENT, "project": PROJECT}


def test_google_counts_thoughts_apart_or_inside_as_the_total_says() -> None:
    names = TOKEN_NAMES
    apart = {"input": 100, "output": 10, "cached": 40, "thoughts": 5, "tool": 2, "total": 117}
    inside = dict(apart, total=112)
    untold = dict(apart, total=None)
    for tokens, default, output in ((apart, False, 15), (inside, True, 10), (untold, True, 15)):
        counts = google_counts(tokens, names, thoughts_apart=default)
        assert counts is not None
        assert (counts["input_tokens"], counts["output_tokens"]) == (102, output)
        assert (counts["cache_read_tokens"], counts["reasoning_tokens"]) == (40, 5)
    # more thoughts than candidates: they cannot be inside them
    counts = google_counts(dict(untold, thoughts=50), names, thoughts_apart=False)
    assert counts is not None and counts["output_tokens"] == 60
    assert google_counts({"total": 0}, names, thoughts_apart=True) is None


def test_set_and_rewind_lines_are_not_read() -> None:
    sneaky = jl({"$set": {"messages": [json.loads(message("m-9"))]}})
    data = HEADER + message() + sneaky + jl({"$rewindTo": "m-1"}) + b'{"$set": {oops\n'
    result = parse(make_ctx(), {}, data)
    assert [e.key for e in result.events] == ["gemini:s-1:m-1"] and result.errors == []


def test_messages_without_tokens_and_other_types_are_not_calls() -> None:
    data = HEADER + message(tokens=None) + message("m-2", type="user") + message("m-3", tokens={})
    result = parse(make_ctx(), {}, data)
    assert result.events == [] and result.errors == []


def test_model_comes_from_the_message_else_the_last_one_named() -> None:
    data = HEADER + message(tokens=None, model="gemini-2.5-pro") + message("m-2", model=None)
    (event,) = parse(make_ctx(), {}, data).events
    assert event.model == "gemini-2.5-pro"
    assert parse(make_ctx(), {}, HEADER + message(model=None)).errors[0].message == (
        "gemini message with tokens but no model"
    )


def test_session_comes_from_the_first_line_else_the_file_name() -> None:
    (event,) = parse(make_ctx("/t/p/chats/session-x.jsonl"), {}, message()).events
    assert event.key == "gemini:session-x:m-1"
    (event,) = parse(make_ctx(), {"session": "s-0"}, message()).events
    assert event.key == "gemini:s-0:m-1"


def test_reading_in_pieces_gives_the_calls_of_one_read() -> None:
    data = MAIN.read_bytes() + b'not json but has "tokens"\n' + message("m-x")
    assert_chunks_change_nothing(parse, lambda base: make_ctx(base_offset=base), data)


def test_reparsing_is_idempotent() -> None:
    data = MAIN.read_bytes()
    once, twice = parse(make_ctx(), {}, data), parse(make_ctx(), {}, data)
    assert once.events == twice.events and once.state == twice.state


def test_default_paths_follow_gemini_cli_home_and_ccusage_dirs() -> None:
    assert gemini_cli_paths({}) == ["~/.gemini/tmp/*/chats/**/*.jsonl"]
    assert gemini_cli_paths({"GEMINI_CLI_HOME": "/srv/u/"}) == [
        "/srv/u/.gemini/tmp/*/chats/**/*.jsonl"
    ]
    env = {"GEMINI_DATA_DIR": "/a/tmp, /b/tmp/", "GEMINI_CLI_HOME": "/srv/u"}
    assert gemini_cli_paths(env) == ["/a/tmp/*/chats/**/*.jsonl", "/b/tmp/*/chats/**/*.jsonl"]
    assert FORMAT.default_paths is not None and json_paths() == [
        p.replace("**/*.jsonl", "session-*.json") for p in FORMAT.default_paths()
    ]


# -- bad values: the line is bad, its neighbours count -------------------------------------


def between(bad: bytes, says: str) -> None:
    assert_one_bad_line(parse, make_ctx(), HEADER + message("m-a"), bad, message("m-z"), says)


def test_a_line_that_is_no_json_is_a_bad_record() -> None:
    between(b'{"id": "m-b", "tokens": {"input": 1,\n', "invalid JSON")


@pytest.mark.parametrize("garbage", GARBAGE_COUNTS.values(), ids=list(GARBAGE_COUNTS))
@pytest.mark.parametrize("field", ["input", "output", "cached", "thoughts", "tool"])
def test_garbage_count_is_a_bad_record(field: str, garbage: Any) -> None:
    tokens = {"input": 1, "output": 2, field: garbage}
    between(message("m-b", tokens=tokens), f"tokens.{field}: {garbage!r} is not a token count")


def test_tokens_that_are_no_object_and_a_model_that_is_no_string_are_bad() -> None:
    between(message("m-b", tokens=[1, 2]), "tokens: [1, 2] is not an object")
    between(message("m-b", model=7), "model: 7 is not a model name")
    between(message(None), "gemini message with tokens but no id")


@pytest.mark.parametrize(("value", "says"), BAD_TIMES.values(), ids=list(BAD_TIMES))
def test_bad_timestamp_is_a_bad_record(value: str, says: str) -> None:
    between(message("m-b", timestamp=value), says)


# -- the pre-JSONL session documents --------------------------------------------------------


def test_legacy_document_gives_the_keys_of_its_migrated_recording() -> None:
    (event,) = parse_json(make_ctx(LEGACY), {}, LEGACY.read_bytes()).events
    assert event.key == f"gemini:{LEGACY_SESSION}:5c6d7e8f-9a0b-4c1d-8e2f-3a4b5c6d7e8f"
    assert usage([event]) == [(6210, 154 + 410, 0, 410)]
    # the same session as a document: the same calls under the same keys
    lines = MAIN.read_bytes().splitlines()
    records = [json.loads(line) for line in lines[1:] if not line.startswith(b'{"$')]
    doc = {"sessionId": SESSION, "messages": records}

    def calls(events: list[UsageEvent]) -> list[tuple[Any, ...]]:
        return [(e.key, e.ts, e.model, e.input_tokens, e.output_tokens, e.tags) for e in events]

    recorded = parse(make_ctx(), {}, MAIN.read_bytes()).events
    assert calls(parse_json(make_ctx(), {}, json.dumps(doc).encode()).events) == calls(recorded)


def test_legacy_document_rewritten_with_one_more_answer_adds_one_key() -> None:
    doc = json.loads(LEGACY.read_bytes())
    before = {e.key for e in parse_json(make_ctx(LEGACY), {}, LEGACY.read_bytes()).events}
    doc["messages"].append(json.loads(message("m-new")))
    after = {e.key for e in parse_json(make_ctx(LEGACY), {}, json.dumps(doc).encode()).events}
    assert after - before == {f"gemini:{LEGACY_SESSION}:m-new"}
    with pytest.raises(IncompleteDocument):
        parse_json(make_ctx(LEGACY), {}, LEGACY.read_bytes()[:-40])
    not_objects = json.dumps({"messages": [message("x").decode()]}).encode()
    result = parse_json(make_ctx(LEGACY), {}, not_objects)
    assert [(e.offset, e.message) for e in result.errors] == [(0, "message is not a JSON object")]
