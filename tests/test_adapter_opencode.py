"""opencode: OpenCode's `opencode.db` (messages and their step-finish parts) and the JSON
message files of its older storage, on the examples shaped after OpenCode's own schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from monitor.events import UsageEvent
from monitor.sources import get_format
from monitor.sources.base import IncompleteDocument, ParseContext, ParseResult
from monitor.sources.locations import opencode_paths
from monitor.sources.opencode import FORMAT, MESSAGES, STEPS, parse
from monitor.sources.sqlite_db import Table, encode
from tests.factories import parse_ctx
from tests.test_adapter_common import BAD_TIMES, GARBAGE_COUNTS
from tests.test_sqlite_sources import EXAMPLES, build, rows_of

OPENCODE = EXAMPLES / "opencode"
SESSION = "ses_52f1c0a3dffeYq8Lm2Nc4Vb7Xz"
SUBAGENT = "ses_52f1c02e6ffeK3jH9sT5wQ1pRa"
TWO_STEPS = "msg_52f1c0a48001Ff5Gg6Hh7Ii8Jj"
GPT5 = "msg_52f1c1f0d001Pp3Qq4Rr5Ss6Tt"
HAIKU = "msg_52f1c0b2c001Zz1Aa2Bb3Cc4Dd"
OLD_SESSION = "ses_51e0aa01bffeOldSessionAbCd"
OLD_FILE = OPENCODE / f"storage/message/{OLD_SESSION}/msg_51e0aa020001Old1Ab2Cd3Ef4G.json"
MIGRATED_FILE = OPENCODE / f"storage/message/{SESSION}/{TWO_STEPS}.json"


DB = "/home/u/.local/share/opencode/opencode.db"


def ctx(path: Path | str = DB, **options: Any) -> ParseContext:
    return parse_ctx("opencode", str(path), option_map=options)


@pytest.fixture
def example_db(tmp_path: Path) -> Path:
    return build(OPENCODE / "opencode.sql", tmp_path / "opencode.db")


def by_key(result: ParseResult) -> dict[str, UsageEvent]:
    return {e.key: e for e in result.events}


def counts(e: UsageEvent) -> tuple[int, int, int, int, int, int]:
    return (
        e.input_tokens,
        e.output_tokens,
        e.cache_read_tokens,
        e.cache_write_tokens,
        e.reasoning_tokens,
        e.calls,
    )


def message_row(rowid: int, msg_id: str, data: Any, session: str = SESSION) -> list[Any]:
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return [rowid, msg_id, session, 1795252445000, 1795252445000, text]


def step_row(rowid: int, msg_id: str, tokens: Any, cost: Any = 0.01, **more: Any) -> list[Any]:
    data = {"reason": "stop", "type": "step-finish", "tokens": tokens, "cost": cost, **more}
    return [rowid, f"prt_{rowid}", msg_id, 1795252484000, json.dumps(data)]


def payload(messages: list[list[Any]], steps: list[list[Any]] = ()) -> bytes:  # type: ignore[assignment]
    return encode(
        {
            MESSAGES.name: Table(("rowid", *MESSAGES.columns), messages),
            STEPS.name: Table(("rowid", *STEPS.columns), list(steps)),
        },
        full=True,
    )


def assistant(**changes: Any) -> dict[str, Any]:
    msg: dict[str, Any] = {
        "role": "assistant",
        "time": {"created": 1795252445000, "completed": 1795252484000},
        "modelID": "claude-sonnet-4-5",
        "providerID": "anthropic",
        "mode": "build",
        "agent": "build",
        "path": {"cwd": "/home/user/webapp", "root": "/home/user/webapp"},
        "cost": 0.01,
        "tokens": {"input": 10, "output": 20, "reasoning": 0, "cache": {"read": 30, "write": 40}},
    }
    msg.update(changes)
    return msg


def test_registry_names_this_format() -> None:
    assert get_format("opencode") is FORMAT
    assert FORMAT.kind == "document"
    assert FORMAT.documents and FORMAT.queries == (MESSAGES, STEPS)


def test_default_paths_honour_opencodes_variables() -> None:
    assert opencode_paths({}) == [
        "~/.local/share/opencode/opencode.db",
        "~/.local/share/opencode/opencode-*.db",
        "~/.local/share/opencode/storage/message/*/*.json",
    ]
    assert opencode_paths({"XDG_DATA_HOME": "/x/data/"})[0] == "/x/data/opencode/opencode.db"
    assert opencode_paths({"OPENCODE_DATA_DIR": "/a, /b/"}) == [
        "/a/opencode.db",
        "/a/opencode-*.db",
        "/a/storage/message/*/*.json",
        "/b/opencode.db",
        "/b/opencode-*.db",
        "/b/storage/message/*/*.json",
    ]
    assert opencode_paths({"OPENCODE_DB": "work.db"})[:1] == ["~/.local/share/opencode/work.db"]
    assert opencode_paths({"OPENCODE_DB": "/srv/oc.db"})[:1] == ["/srv/oc.db"]


def test_example_database_is_one_event_per_answered_message_with_its_steps_summed(
    example_db: Path,
) -> None:
    result = parse(ctx(example_db), {}, rows_of(example_db, FORMAT))

    assert result.errors == []
    events = by_key(result)
    # The user messages and the answer still streaming (tokens 0) count nothing.
    assert sorted(events) == sorted(f"opencode:{m}" for m in (HAIKU, TWO_STEPS, GPT5))
    # Two steps: (3 + 0 read + 14200 write) + (12 + 14200 read + 380 write) in, 85 + 310 out;
    # the message's own tokens are the last step's only (OpenCode overwrites them).
    assert counts(events[f"opencode:{TWO_STEPS}"]) == (28795, 395, 14200, 14580, 0, 2)
    assert events[f"opencode:{TWO_STEPS}"].reported_cost == Decimal("0.064905")
    # GPT-5 (current version): output excludes the reasoning; total = 1800+6400+240+512.
    assert counts(events[f"opencode:{GPT5}"]) == (8200, 752, 6400, 0, 512, 1)
    assert counts(events[f"opencode:{HAIKU}"]) == (2140, 120, 2100, 0, 0, 1)
    assert sum(e.input_tokens for e in result.events) == 39135
    assert sum(e.output_tokens for e in result.events) == 1267


def test_message_fields_map_to_the_event(example_db: Path) -> None:
    events = by_key(parse(ctx(example_db), {}, rows_of(example_db, FORMAT)))

    first = events[f"opencode:{TWO_STEPS}"]
    assert first.ts == datetime(2026, 11, 21, 9, 14, 5, tzinfo=UTC)
    assert (first.provider, first.model) == ("anthropic", "claude-sonnet-4-5")
    assert first.tags == {"session": SESSION, "project": "/home/user/webapp", "agent": "build"}
    assert first.origin.startswith(f"{example_db}:")
    assert events[f"opencode:{HAIKU}"].tags["session"] == SUBAGENT
    # Cost 0 is what OpenCode writes when it has no price (a subscription): priced by us.
    assert events[f"opencode:{GPT5}"].reported_cost is None


def test_message_file_of_the_older_storage_is_the_same_key(example_db: Path) -> None:
    result = parse(ctx(MIGRATED_FILE), {}, MIGRATED_FILE.read_bytes())

    assert result.errors == []
    (event,) = result.events
    assert event.key == f"opencode:{TWO_STEPS}"
    # A file holds the message only: its last step's tokens, its summed cost.
    assert counts(event) == (14592, 310, 14200, 380, 0, 1)
    assert event.reported_cost == Decimal("0.064905")
    from_db = by_key(parse(ctx(example_db), {}, rows_of(example_db, FORMAT)))[event.key]
    assert from_db.input_tokens + from_db.output_tokens > event.input_tokens + event.output_tokens


def test_older_message_file_counts_and_user_files_do_not() -> None:
    (event,) = parse(ctx(OLD_FILE), {}, OLD_FILE.read_bytes()).events
    assert event.key == "opencode:msg_51e0aa020001Old1Ab2Cd3Ef4G"
    assert counts(event) == (11004, 512, 9800, 1200, 0, 1)
    assert event.tags["session"] == "ses_51e0aa01bffeOldSessionAbCd"
    assert event.ts == datetime(2026, 11, 9, 11, 30, tzinfo=UTC)
    user = OLD_FILE.with_name("msg_51e0aa01f001User1Ab2Cd3Ef.json")
    assert parse(ctx(user), {}, user.read_bytes()).events == []


def test_half_written_message_file_is_incomplete_not_an_error() -> None:
    data = OLD_FILE.read_bytes()
    for cut in (0, 1, len(data) // 2, len(data) - 3):
        with pytest.raises(IncompleteDocument):
            parse(ctx(OLD_FILE), {}, data[:cut])


def test_file_without_id_takes_its_name_and_folder() -> None:
    doc = json.loads(OLD_FILE.read_bytes())
    del doc["id"], doc["sessionID"]
    (event,) = parse(ctx(OLD_FILE), {}, json.dumps(doc).encode()).events
    assert event.key == "opencode:msg_51e0aa020001Old1Ab2Cd3Ef4G"
    assert event.tags["session"] == "ses_51e0aa01bffeOldSessionAbCd"


def test_message_without_steps_counts_its_own_tokens() -> None:
    (event,) = parse(ctx(), {}, payload([message_row(7, "msg_x", assistant())])).events
    assert counts(event) == (80, 20, 30, 40, 0, 1)
    assert event.origin.endswith(":7")


def test_only_a_total_is_counted_as_input_and_a_non_object_cache_as_none() -> None:
    msg = assistant(tokens={"input": 0, "output": 0, "reasoning": 0, "cache": 0, "total": 123})
    (event,) = parse(ctx(), {}, payload([message_row(1, "msg_x", msg)])).events
    assert counts(event) == (123, 0, 0, 0, 0, 1)


def test_other_parts_that_mention_step_finish_are_not_steps() -> None:
    steps = [
        step_row(1, "msg_x", {"input": 1, "output": 2, "reasoning": 0, "cache": {}}),
        [2, "prt_2", "msg_x", 1795252484000, json.dumps({"type": "tool", "title": "step-finish"})],
    ]
    (event,) = parse(ctx(), {}, payload([message_row(1, "msg_x", assistant())], steps)).events
    assert counts(event) == (1, 2, 0, 0, 0, 1)


@pytest.mark.parametrize("value", GARBAGE_COUNTS.values(), ids=list(GARBAGE_COUNTS))
def test_garbage_count_in_a_step_makes_its_message_bad_and_no_other(value: Any) -> None:
    if isinstance(value, int) and value >= 2**64:
        value = float(value)  # what JSON text may hold; msgspec encodes ints below 2**64
    steps = [
        step_row(1, "msg_bad", {"input": value, "output": 2, "cache": {}}),
        step_row(2, "msg_good", {"input": 1, "output": 2, "cache": {}}),
    ]
    rows = [message_row(5, "msg_bad", assistant()), message_row(6, "msg_good", assistant())]
    result = parse(ctx(), {}, payload(rows, steps))
    assert [e.key for e in result.events] == ["opencode:msg_good"]
    (error,) = result.errors
    assert error.offset == 5 and "step 1 tokens.input" in error.message


@pytest.mark.parametrize("value", [-0.5, "lots", float("nan")])
def test_bad_cost_makes_its_message_bad(value: Any) -> None:
    result = parse(ctx(), {}, payload([message_row(3, "msg_x", assistant(cost=value))]))
    assert result.events == [] and "cost" in result.errors[0].message


@pytest.mark.parametrize("case", list(BAD_TIMES))
def test_time_out_of_range_makes_its_message_bad(case: str) -> None:
    value, message = BAD_TIMES[case]
    msg = assistant(time={"created": value})
    result = parse(ctx(), {}, payload([message_row(3, "msg_x", msg)]))
    assert result.events == [] and message in result.errors[0].message


def test_row_whose_data_is_no_json_object_is_bad_and_the_rest_count() -> None:
    rows = [
        message_row(1, "msg_a", '{"role":"assistant",'),
        message_row(2, "msg_b", "[1, 2]"),
        message_row(3, "msg_c", assistant()),
    ]
    result = parse(ctx(), {}, payload(rows))
    assert [e.key for e in result.events] == ["opencode:msg_c"]
    errors = [(e.offset, e.message.split(":")[0]) for e in result.errors]
    assert errors == [(1, "data"), (2, "data")]


def test_missing_model_falls_back_to_the_default_model_option() -> None:
    msg = assistant()
    del msg["modelID"]
    rows = payload([message_row(1, "msg_x", msg)])
    assert parse(ctx(), {}, rows).events[0].model == "unknown"
    assert parse(ctx(default_model="glm-4.6"), {}, rows).events[0].model == "glm-4.6"


def test_steps_without_costs_take_the_messages_summed_cost() -> None:
    steps = [step_row(1, "msg_x", {"input": 1, "output": 2, "cache": {}}, cost=None)]
    rows = [message_row(1, "msg_x", assistant(cost=0.25))]
    (event,) = parse(ctx(), {}, payload(rows, steps)).events
    assert event.reported_cost == Decimal("0.25")
