"""The codex adapter: running totals turned into per-turn deltas, exactly once, under keys
of their content. Forks, subagents and per-response records: tests/test_codex_forks.py."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from monitor.events import FLAG_TS_FROM_MTIME, UsageEvent
from monitor.sources import get_format
from monitor.sources.base import ParseContext, ParseResult, State
from monitor.sources.codex import FALLBACK_MODEL, FORMAT, default_paths, parse
from tests.factories import parse_ctx
from tests.test_adapter_common import BAD_TIMES, GARBAGE_COUNTS

SESSION = "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
ROLLOUT = (
    Path(__file__).resolve().parent.parent
    / "examples/codex/sessions/2026/11/20"
    / f"rollout-2026-11-20T09-14-03-{SESSION}.jsonl"
)


def make_ctx(base_offset: int = 0, mtime: datetime | None = None) -> ParseContext:
    return parse_ctx(
        "codex",
        "/h/.codex/sessions/rollout-x.jsonl",
        tz=ZoneInfo("Europe/Berlin"),
        base_offset=base_offset,
        mtime=mtime,
    )


def jl(kind: str, payload: Any, ts: str | None = "2026-11-20T08:00:00.000Z") -> bytes:
    record: dict[str, Any] = {"type": kind, "payload": payload}
    if ts is not None:
        record["timestamp"] = ts
    return json.dumps(record).encode() + b"\n"


def token_count(inp: int, cached: int, out: int, reasoning: int = 0, **kw: Any) -> bytes:
    total = {
        "input_tokens": inp,
        "cached_input_tokens": cached,
        "output_tokens": out,
        "reasoning_output_tokens": reasoning,
        "total_tokens": inp + out,
    }
    return jl("event_msg", {"type": "token_count", "info": {"total_token_usage": total}}, **kw)


def turn(model: str) -> bytes:
    return jl("turn_context", {"cwd": "/w/proj", "model": model})


def usage(events: list[UsageEvent]) -> list[tuple[int, int, int, int]]:
    return [
        (e.input_tokens, e.cache_read_tokens, e.output_tokens, e.reasoning_tokens) for e in events
    ]


def test_registry_names_this_format() -> None:
    assert get_format("codex") is FORMAT
    assert FORMAT.kind == "lines"


def test_example_rollout_counts_each_turn_once() -> None:
    result = parse(make_ctx(), {}, ROLLOUT.read_bytes())
    assert result.errors == []
    # info:null and the two repeated totals are skipped; each event is the growth.
    assert usage(result.events) == [
        (8000, 0, 500, 320),
        (17500 - 8000, 7936, 820 - 500, 448 - 320),
        (29000 - 17500, 16512 - 7936, 1400 - 820, 800 - 448),
    ]
    assert [e.model for e in result.events] == ["gpt-5-codex", "gpt-5-codex", "gpt-5"]
    # the sum of the deltas is the session's final running total
    assert [sum(column) for column in zip(*usage(result.events), strict=True)] == [
        29000,
        16512,
        1400,
        800,
    ]
    first = result.events[0]
    assert first.provider == "openai"
    assert first.tags == {"session": SESSION, "project": "/home/user/myproj"}
    assert first.ts == datetime(2026, 11, 20, 8, 14, 18, 241000, tzinfo=UTC)
    assert result.state["totals"] == [29000, 16512, 1400, 800, 0]
    assert result.state["model"] == "gpt-5"


def test_keys_are_the_session_and_its_running_total_not_the_file() -> None:
    meta = jl("session_meta", {"id": "s-1", "cwd": "/w/a"})
    data = meta + turn("gpt-5") + token_count(10, 0, 1) + token_count(25, 4, 3, 1)
    here = parse(make_ctx(base_offset=300), {}, data).events
    elsewhere = parse(
        parse_ctx("codex", "/h/.codex/archived_sessions/rollout-x.jsonl", file_id="9:9:00"),
        {},
        data,
    ).events
    assert [e.key for e in here] == ["codex:s-1:10,0,1,0,0", "codex:s-1:25,4,3,1,0"]
    assert [e.key for e in elsewhere] == [e.key for e in here]
    assert here[0].origin == f"/h/.codex/sessions/rollout-x.jsonl:{300 + len(meta + turn('gpt-5'))}"


def test_a_rollout_without_session_meta_keys_by_file_identity_and_offset() -> None:
    data = turn("gpt-5") + token_count(10, 0, 1)
    (event,) = parse(make_ctx(base_offset=300), {}, data).events
    assert event.key == f"1:2:ff@{300 + len(turn('gpt-5'))}"
    assert event.origin == f"/h/.codex/sessions/rollout-x.jsonl:{300 + len(turn('gpt-5'))}"


def test_a_total_that_starts_over_gets_keys_of_its_own() -> None:
    meta = jl("session_meta", {"id": "s-1"})
    data = meta + token_count(700, 0, 40) + token_count(500, 0, 30) + token_count(700, 0, 40)
    events = parse(make_ctx(), {}, data).events
    assert usage(events) == [(700, 0, 40, 0), (500, 0, 30, 0), (200, 0, 10, 0)]
    assert [e.key for e in events] == [
        "codex:s-1:700,0,40,0,0",
        "codex:s-1:500,0,30,0,0#1",
        "codex:s-1:700,0,40,0,0#1",
    ]


def test_cache_writes_are_read_as_a_part_of_the_input() -> None:
    data = turn("gpt-5") + running_total(
        input_tokens=900, cached_input_tokens=300, cache_write_input_tokens=512, output_tokens=20
    )
    (event,) = parse(make_ctx(), {}, data).events
    assert (event.input_tokens, event.cache_read_tokens, event.cache_write_tokens) == (
        900,
        300,
        512,
    )


def test_state_saved_before_cache_writes_were_read_resumes_exactly() -> None:
    older: State = {"model": "gpt-5", "totals": [100, 0, 10, 0], "session": "s-1"}
    (event,) = parse(make_ctx(), older, token_count(250, 40, 30)).events
    assert usage([event]) == [(150, 40, 20, 0)]


def test_repeated_total_and_null_info_are_skipped() -> None:
    null_info = jl("event_msg", {"type": "token_count", "info": None, "rate_limits": {}})
    data = turn("gpt-5") + null_info + token_count(100, 0, 10) + token_count(100, 0, 10) + null_info
    assert usage(parse(make_ctx(), {}, data).events) == [(100, 0, 10, 0)]


def test_state_round_trip_resumes_exactly_at_every_line() -> None:
    data = ROLLOUT.read_bytes()
    whole = parse(make_ctx(), {}, data).events
    cuts = [i + 1 for i, byte in enumerate(data) if byte == ord("\n")]
    for cut in cuts:
        first = parse(make_ctx(), {}, data[:cut])
        state: State = json.loads(json.dumps(first.state))
        second = parse(make_ctx(base_offset=cut), state, data[cut:])
        assert first.events + second.events == whole


def test_shrinking_total_counts_as_growth_from_zero() -> None:
    data = turn("gpt-5") + token_count(5000, 1000, 300) + token_count(700, 0, 40)
    assert usage(parse(make_ctx(), {}, data).events) == [(5000, 1000, 300, 0), (700, 0, 40, 0)]


def test_a_later_session_meta_is_a_copy_not_a_new_session() -> None:
    # Only forks hold a second session_meta: their ancestor's, copied (issue 12).
    meta = jl("session_meta", {"id": "s-1", "cwd": "/w/a"})
    meta2 = jl("session_meta", {"id": "s-0", "cwd": "/w/b"})
    data = meta + turn("gpt-5") + token_count(100, 0, 10) + meta2 + token_count(150, 0, 20)
    events = parse(make_ctx(), {}, data).events
    assert usage(events) == [(100, 0, 10, 0), (50, 0, 10, 0)]
    assert [(e.tags["session"], e.tags["project"]) for e in events] == [("s-1", "/w/proj")] * 2


def test_model_falls_back_to_gpt5_and_says_so() -> None:
    (event,) = parse(make_ctx(), {}, token_count(10, 0, 1)).events
    assert event.model == FALLBACK_MODEL == "gpt-5"
    assert event.tags["model_fallback"] == "true"


def test_model_from_session_meta_or_the_event_itself() -> None:
    meta = jl("session_meta", {"id": "s", "model": "o4-mini"})
    (event,) = parse(make_ctx(), {}, meta + token_count(10, 0, 1)).events
    assert event.model == "o4-mini" and "model_fallback" not in event.tags
    own = jl(
        "event_msg",
        {
            "type": "token_count",
            "model": "gpt-4.1",
            "info": {"total_token_usage": {"input_tokens": 3}},
        },
    )
    (event,) = parse(make_ctx(), {}, turn("gpt-5") + own).events
    assert event.model == "gpt-4.1"


def test_last_token_usage_alone_counts_as_the_delta() -> None:
    info = {"last_token_usage": {"input_tokens": 40, "cached_input_tokens": 8, "output_tokens": 6}}
    data = turn("gpt-5") + jl("event_msg", {"type": "token_count", "info": info})
    assert usage(parse(make_ctx(), {}, data).events) == [(40, 8, 6, 0)]


def test_malformed_line_is_an_error_at_its_offset_and_others_still_parse() -> None:
    head = turn("gpt-5") + token_count(100, 0, 10)
    bad = b'{"type":"event_msg","payload":{"type":"token_count",\n'
    result = parse(make_ctx(base_offset=50), {}, head + bad + token_count(300, 0, 30))
    assert usage(result.events) == [(100, 0, 10, 0), (200, 0, 20, 0)]
    assert [e.offset for e in result.errors] == [50 + len(head)]


def test_crlf_and_unrelated_lines_are_harmless() -> None:
    data = (
        turn("gpt-5").replace(b"\n", b"\r\n")
        + b"\r\n"
        + jl("response_item", ["not", "an", "object"])
        + jl("compacted", {"message": "x" * 5000})
        + token_count(100, 0, 10).replace(b"\n", b"\r\n")
    )
    result = parse(make_ctx(), {}, data)
    assert result.errors == []
    assert usage(result.events) == [(100, 0, 10, 0)]


def test_naive_timestamp_is_read_in_the_source_zone() -> None:
    data = turn("gpt-5") + token_count(1, 0, 1, ts="2026-11-20T09:00:00")
    (event,) = parse(make_ctx(), {}, data).events
    assert event.ts == datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def test_missing_timestamp_falls_back_to_mtime_flagged() -> None:
    mtime = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    (event,) = parse(make_ctx(mtime=mtime), {}, token_count(1, 0, 1, ts=None)).events
    assert event.ts == mtime and event.flags & FLAG_TS_FROM_MTIME
    result: ParseResult = parse(make_ctx(), {}, token_count(1, 0, 1, ts=None))
    assert result.events == [] and len(result.errors) == 1
    assert result.state["totals"] == [1, 0, 1, 0, 0]


def test_default_paths_follow_codex_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODEX_HOME", "/srv/codex/")
    assert default_paths() == [
        "/srv/codex/sessions/**/rollout-*.jsonl",
        "/srv/codex/archived_sessions/**/rollout-*.jsonl",
    ]
    monkeypatch.delenv("CODEX_HOME")
    assert default_paths() == [
        "~/.codex/sessions/**/rollout-*.jsonl",
        "~/.codex/archived_sessions/**/rollout-*.jsonl",
    ]


def test_absurd_values_are_errors_not_crashes() -> None:
    absurd = jl(
        "event_msg",
        {"type": "token_count", "info": {"total_token_usage": {"input_tokens": "1e400"}}},
    )
    data = turn("gpt-5") + absurd + token_count(5, 0, 1, ts=1e20) + token_count(9, 0, 2)
    result = parse(make_ctx(), {}, data)
    assert usage(result.events) == [(4, 0, 1, 0)]
    assert [e.offset for e in result.errors] == [len(turn("gpt-5")), len(turn("gpt-5") + absurd)]


# -- bad values (issue 9): the record is bad, its neighbours still count -------------------


def running_total(**counts: Any) -> bytes:
    info = {"total_token_usage": counts}
    return jl("event_msg", {"type": "token_count", "info": info})


@pytest.mark.parametrize("garbage", GARBAGE_COUNTS.values(), ids=list(GARBAGE_COUNTS))
@pytest.mark.parametrize("field", ["input_tokens", "cached_input_tokens", "output_tokens"])
def test_garbage_running_total_is_a_bad_record_and_the_next_growth_counts(
    field: str, garbage: Any
) -> None:
    head = turn("gpt-5") + token_count(100, 0, 10)
    bad = running_total(**{"input_tokens": 150, "output_tokens": 15, field: garbage})
    result = parse(make_ctx(base_offset=40), {}, head + bad + token_count(300, 0, 30))
    # the bad line leaves the running total alone: the next line's growth covers its turn
    assert usage(result.events) == [(100, 0, 10, 0), (200, 0, 20, 0)]
    assert [e.offset for e in result.errors] == [40 + len(head)]
    assert result.errors[0].message.startswith(f"{field}: {garbage!r} is not a token count")
    assert result.state["totals"] == [300, 0, 30, 0, 0]


def test_garbage_last_token_usage_is_a_bad_record() -> None:
    info = {"last_token_usage": {"input_tokens": "40", "output_tokens": 6}}
    bad = jl("event_msg", {"type": "token_count", "info": info})
    head = turn("gpt-5") + token_count(100, 0, 10)
    result = parse(make_ctx(), {}, head + bad + token_count(130, 0, 12))
    assert usage(result.events) == [(100, 0, 10, 0), (30, 0, 2, 0)]
    assert [(e.offset, e.message) for e in result.errors] == [
        (len(head), "input_tokens: '40' is not a token count")
    ]


@pytest.mark.parametrize(("value", "says"), BAD_TIMES.values(), ids=list(BAD_TIMES))
def test_bad_timestamp_is_a_bad_record_not_the_mtime(value: str, says: str) -> None:
    mtime = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)
    head = turn("gpt-5") + token_count(100, 0, 10)
    bad = token_count(150, 0, 15, ts=value)
    result = parse(make_ctx(mtime=mtime), {}, head + bad + token_count(300, 0, 30))
    # the bad line's turn is lost, never counted twice: the running total moved past it
    assert usage(result.events) == [(100, 0, 10, 0), (150, 0, 15, 0)]
    assert not any(e.flags & FLAG_TS_FROM_MTIME for e in result.events)
    assert [e.offset for e in result.errors] == [len(head)]
    assert result.errors[0].message.startswith(says)


def test_event_model_that_is_no_string_is_a_bad_record() -> None:
    own = jl(
        "event_msg",
        {"type": "token_count", "model": 5, "info": {"total_token_usage": {"input_tokens": 150}}},
    )
    head = turn("gpt-5") + token_count(100, 0, 10)
    result = parse(make_ctx(), {}, head + own + token_count(300, 0, 30))
    assert [e.model for e in result.events] == ["gpt-5", "gpt-5"]
    assert [(e.offset, e.message) for e in result.errors] == [
        (len(head), "payload.model: 5 is not a model name")
    ]


def test_turn_model_that_is_no_string_is_bad_and_later_turns_take_the_flagged_fallback() -> None:
    head = turn("o4-mini") + token_count(100, 0, 10)
    bad_turn = jl("turn_context", {"cwd": "/w/proj", "model": ["o3"]})
    result = parse(make_ctx(), {}, head + bad_turn + token_count(300, 0, 30))
    assert usage(result.events) == [(100, 0, 10, 0), (200, 0, 20, 0)]
    assert [e.model for e in result.events] == ["o4-mini", FALLBACK_MODEL]
    assert result.events[1].tags["model_fallback"] == "true"
    assert [(e.offset, e.message) for e in result.errors] == [
        (len(head), "model: ['o3'] is not a model name")
    ]
