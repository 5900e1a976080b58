"""The copilot-cli adapter on an example session (shut down, resumed, shut down again)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from monitor.sources import get_format
from monitor.sources.base import ParseContext
from monitor.sources.copilot_cli import FORMAT, parse
from monitor.sources.locations import copilot_cli_paths
from tests.factories import parse_ctx
from tests.test_adapter_common import BAD_TIMES, GARBAGE_COUNTS
from tests.test_adapter_gemini_cli import assert_chunks_change_nothing, assert_one_bad_line

SESSION = "9d8c7b6a-5f4e-4d3c-b2a1-0f9e8d7c6b5a"
STATE = Path(__file__).resolve().parent.parent / "examples" / "copilot-cli" / "session-state"
EVENTS = STATE / SESSION / "events.jsonl"
FIRST_SHUTDOWN = "9e0f1a2b-3c4d-4e5f-8a6b-8c9d0e1f2a3b"


def make_ctx(path: Path | str = EVENTS, base_offset: int = 0) -> ParseContext:
    return parse_ctx("copilot", str(path), file_id="64769:3:d00d", base_offset=base_offset)


def shutdown(ident: str | None = "ev-1", metrics: Any = None, **changes: Any) -> bytes:
    """A `session.shutdown` line; by default one Claude model's bill."""
    if metrics is None:
        metrics = {
            "claude-sonnet-4.5": {
                "requests": {"count": 2, "cost": 2},
                "usage": {"inputTokens": 900, "outputTokens": 30, "cacheReadTokens": 600},
            }
        }
    record = {
        "type": "session.shutdown",
        "data": {"shutdownType": "routine", "modelMetrics": metrics},
        "id": ident,
        "timestamp": "2026-11-23T12:00:00.000Z",
        "parentId": None,
    }
    record.update(changes)
    return json.dumps(record).encode() + b"\n"


START = json.dumps(
    {"type": "session.start", "data": {"sessionId": "s-1", "context": {"cwd": "/w"}}, "id": "e0"}
).encode()
START += b"\n"


def bill(ident: str, model: str = "claude-sonnet-4.5") -> str:
    return f"copilot:{SESSION}:{ident}:{model}"


def test_registry_names_this_format() -> None:
    assert get_format("copilot-cli") is FORMAT
    assert FORMAT.kind == "lines"


def test_each_shutdown_bills_each_model_once_with_the_hand_count() -> None:
    result = parse(make_ctx(), {}, EVENTS.read_bytes())
    # messages and tool commands that mention "session.shutdown" are not shutdowns
    assert result.errors == []
    rows = [
        (e.model, e.provider, e.input_tokens, e.output_tokens, e.cache_read_tokens)
        + (e.cache_write_tokens, e.reasoning_tokens, e.calls)
        for e in result.events
    ]
    assert rows == [
        ("claude-sonnet-4.5", "anthropic", 182340, 4120, 150210, 12800, 0, 7),
        ("gpt-5-mini", "openai", 8120, 610, 4096, 0, 384, 2),  # reasoning inside output
        ("gemini-3-pro-preview", "google", 20480, 512 + 1536, 0, 0, 1536, 1),  # apart
    ]
    fields = ("input", "output", "cache_read", "cache_write", "reasoning")
    totals = [sum(getattr(e, f"{f}_tokens") for e in result.events) for f in fields]
    totals.append(sum(e.calls for e in result.events))
    assert totals == [210940, 6778, 154306, 12800, 1920, 10]


def test_resumed_session_adds_its_own_bill_under_its_own_key() -> None:
    events = parse(make_ctx(), {}, EVENTS.read_bytes()).events
    assert [e.key for e in events] == [
        bill(FIRST_SHUTDOWN),
        bill(FIRST_SHUTDOWN, "gpt-5-mini"),
        bill("e4d5e6f7-8a9b-4c0d-9e1f-3b4c5d6e7f8a", "gemini-3-pro-preview"),
    ]
    assert [e.ts.date() for e in events] == [datetime(2026, 11, d).date() for d in (23, 23, 24)]
    assert events[0].ts == datetime(2026, 11, 23, 10, 7, 44, 918000, tzinfo=UTC)
    assert events[0].tags == {"session": SESSION, "project": "/home/user/billing"}


def test_session_is_the_start_events_else_the_directory_name() -> None:
    (event,) = parse(make_ctx(), {}, START + shutdown()).events
    assert (event.key, event.tags) == (
        "copilot:s-1:ev-1:claude-sonnet-4.5",
        {"session": "s-1", "project": "/w"},
    )
    (event,) = parse(make_ctx("/c/session-state/abc/events.jsonl"), {}, shutdown()).events
    assert event.key == "copilot:abc:ev-1:claude-sonnet-4.5"
    (event,) = parse(make_ctx(base_offset=9), {}, shutdown(None)).events
    assert event.key == "64769:3:d00d@9:claude-sonnet-4.5"


def test_reasoning_beyond_the_output_is_added_to_it_and_idle_models_are_skipped() -> None:
    metrics = {
        "claude-opus-4.7": {
            "usage": {"inputTokens": 50, "outputTokens": 10, "reasoningTokens": 40}
        },
        "gpt-5-mini": {"requests": {"count": 0}, "usage": {}},
    }
    (event,) = parse(make_ctx(), {}, shutdown(metrics=metrics)).events
    assert (event.output_tokens, event.reasoning_tokens, event.calls) == (50, 40, 1)


def test_reading_in_pieces_gives_the_calls_of_one_read() -> None:
    data = EVENTS.read_bytes() + b'{"type": "session.shutdown", \n' + shutdown("ev-9")
    assert_chunks_change_nothing(parse, lambda base: make_ctx(base_offset=base), data)


def test_reparsing_is_idempotent() -> None:
    data = EVENTS.read_bytes()
    assert parse(make_ctx(), {}, data).events == parse(make_ctx(), {}, data).events


def test_default_paths_follow_copilot_home_and_ccusage_dir() -> None:
    glob = "session-state/*/events.jsonl"
    assert copilot_cli_paths({}) == [f"~/.copilot/{glob}"]
    assert copilot_cli_paths({"XDG_CONFIG_HOME": "/cfg"}) == [
        f"~/.copilot/{glob}",
        f"/cfg/.copilot/{glob}",
    ]
    env = {"COPILOT_HOME": "/h/", "XDG_CONFIG_HOME": "/cfg"}
    assert copilot_cli_paths(env) == [f"/h/{glob}"]
    assert copilot_cli_paths(dict(env, COPILOT_CONFIG_DIR="/c")) == [f"/h/{glob}", f"/c/{glob}"]
    assert copilot_cli_paths({"COPILOT_HOME": "/h", "COPILOT_CONFIG_DIR": "/h/"}) == [f"/h/{glob}"]


# -- bad values: the whole shutdown line is bad (its models share one bill) ------------------


def between(bad: bytes, says: str) -> None:
    assert_one_bad_line(parse, make_ctx(), START + shutdown("ev-a"), bad, shutdown("ev-z"), says)


def test_a_line_that_is_no_json_is_a_bad_record() -> None:
    between(b'{"type": "session.shutdown", "data": {"modelMetrics": \n', "invalid JSON")


@pytest.mark.parametrize("garbage", GARBAGE_COUNTS.values(), ids=list(GARBAGE_COUNTS))
@pytest.mark.parametrize(
    "field",
    ["inputTokens", "outputTokens", "cacheReadTokens", "cacheWriteTokens", "reasoningTokens"],
)
def test_garbage_count_makes_the_whole_shutdown_bad(field: str, garbage: Any) -> None:
    metrics = {
        "gpt-5-mini": {"usage": {"inputTokens": 5, "outputTokens": 1}},
        "claude-sonnet-4.5": {"usage": {"inputTokens": 5, field: garbage}},
    }
    says = f"modelMetrics.claude-sonnet-4.5.usage.{field}: {garbage!r} is not a token count"
    between(shutdown("ev-b", metrics), says)


def test_garbage_request_count_and_shapes_are_bad() -> None:
    bad_count = {"gpt-5-mini": {"requests": {"count": -2}}}
    between(shutdown("ev-b", bad_count), "modelMetrics.gpt-5-mini.requests.count: -2")
    between(shutdown("ev-b", ["gpt-5-mini"]), "data.modelMetrics: ['gpt-5-mini'] is not an object")
    between(shutdown("ev-b", {"gpt-5-mini": 3}), "modelMetrics.gpt-5-mini: 3 is not an object")
    between(shutdown("ev-b", {"": {"usage": {"inputTokens": 1}}}), "modelMetrics: a model without")


@pytest.mark.parametrize(("value", "says"), BAD_TIMES.values(), ids=list(BAD_TIMES))
def test_bad_timestamp_is_a_bad_record(value: str, says: str) -> None:
    between(shutdown("ev-b", timestamp=value), says)
