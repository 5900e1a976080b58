"""goose: Goose's `sessions.db`, one row per session updated in place, on the example shaped
after Goose's schema (v17) and on an older one."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from monitor.sources import get_format
from monitor.sources.goose import FORMAT, SESSIONS, parse
from monitor.sources.locations import goose_paths
from monitor.sources.sqlite_db import Table, encode
from tests.factories import parse_ctx
from tests.test_adapter_common import BAD_TIMES, GARBAGE_COUNTS
from tests.test_sqlite_sources import EXAMPLES, build, rows_of

DB = "/home/u/.local/share/goose/sessions/sessions.db"


STORABLE = {k: v for k, v in GARBAGE_COUNTS.items() if not (type(v) is int and v >= 2**63)}
"""The garbage counts a SQLite column can hold (an INTEGER stops at 2**63 - 1)."""


def run(rows: list[dict[str, Any]], **options: Any) -> Any:
    names = ("rowid", *SESSIONS.columns)
    values = [[i + 1, *(r.get(c) for c in SESSIONS.columns)] for i, r in enumerate(rows)]
    table = Table(names, values)
    data = encode({SESSIONS.name: table}, full=True)
    return parse(parse_ctx("goose", DB, option_map=options), {}, data)


def session(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": "20261121_1",
        "working_dir": "/w",
        "session_type": "user",
        "created_at": "2026-11-21 09:14:03",
        "accumulated_input_tokens": 1000,
        "accumulated_output_tokens": 100,
        "accumulated_total_tokens": 1100,
        "provider_name": "anthropic",
        "model_config_json": '{"model_name":"claude-sonnet-4-5"}',
    }
    row.update(changes)
    return row


def test_registry_names_this_format() -> None:
    assert get_format("goose") is FORMAT
    assert FORMAT.kind == "document" and not FORMAT.documents


def test_default_paths_honour_goose_path_root_and_xdg() -> None:
    assert goose_paths({}) == ["~/.local/share/goose/sessions/sessions.db"]
    assert goose_paths({"XDG_DATA_HOME": "/d"}) == ["/d/goose/sessions/sessions.db"]
    assert goose_paths({"GOOSE_PATH_ROOT": "/g/"}) == ["/g/data/sessions/sessions.db"]


def test_example_database_is_one_event_per_session_with_usage(tmp_path: Path) -> None:
    db = build(EXAMPLES / "goose" / "sessions.sql", tmp_path / "sessions.db")

    result = parse(parse_ctx("goose", str(db)), {}, rows_of(db, FORMAT))

    assert result.errors == []
    main, sub = result.events  # the session just opened has no usage: nothing
    assert main.key == "goose:20261121_1@2026-11-21 09:14:03"
    assert (main.input_tokens, main.output_tokens) == (48210, 3120)
    assert (main.cache_read_tokens, main.cache_write_tokens) == (38000, 6200)
    assert (main.provider, main.model) == ("anthropic", "claude-sonnet-4-5")
    assert main.reported_cost == Decimal("0.09348")
    assert main.ts == datetime(2026, 11, 21, 9, 14, 3, tzinfo=UTC)  # SQLite's UTC
    assert main.tags == {"session": "20261121_1", "project": "/home/user/webapp"}
    # total 15100 = 12000 in + 2600 out + 500 more: reasoning, counted as output
    assert (sub.input_tokens, sub.output_tokens, sub.reasoning_tokens) == (12000, 3100, 500)
    assert (sub.provider, sub.model, sub.reported_cost) == ("openai", "gpt-5-mini", None)
    assert sub.tags["session_type"] == "sub_agent"


def test_an_older_schema_reads_the_last_reply_counts_and_no_model(tmp_path: Path) -> None:
    db = tmp_path / "sessions.db"
    con = sqlite3.connect(db)
    con.executescript(
        """CREATE TABLE sessions (id TEXT PRIMARY KEY, description TEXT NOT NULL DEFAULT '',
        working_dir TEXT NOT NULL, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
        updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, extension_data TEXT DEFAULT '{}',
        total_tokens INTEGER, input_tokens INTEGER, output_tokens INTEGER,
        accumulated_total_tokens INTEGER, accumulated_input_tokens INTEGER,
        accumulated_output_tokens INTEGER, schedule_id TEXT, recipe_json TEXT);
        INSERT INTO sessions (id, working_dir, created_at, total_tokens, input_tokens,
        output_tokens) VALUES ('20260502_3', '/w', '2026-05-02 08:00:00', 900, 800, 100);"""
    )
    con.close()

    (event,) = parse(parse_ctx("goose", str(db)), {}, rows_of(db, FORMAT)).events
    assert (event.input_tokens, event.output_tokens, event.model) == (800, 100, "unknown")
    data = rows_of(db, FORMAT)
    named = parse(parse_ctx("goose", str(db), default_model="gpt-4.1"), {}, data)
    assert named.events[0].model == "gpt-4.1"


def test_a_session_growing_keeps_its_key() -> None:
    before = run([session()]).events[0]
    after = run([session(accumulated_input_tokens=5000, accumulated_total_tokens=5100)]).events[0]
    assert before.key == after.key and after.input_tokens == 5000


def test_rfc3339_times_are_read_too() -> None:
    (event,) = run([session(created_at="2026-11-21T09:14:03.120+00:00")]).events
    assert event.ts == datetime(2026, 11, 21, 9, 14, 3, 120000, tzinfo=UTC)


@pytest.mark.parametrize("value", STORABLE.values(), ids=list(STORABLE))
def test_garbage_count_makes_its_session_bad_and_no_other(value: Any) -> None:
    result = run([session(accumulated_input_tokens=value), session(id="20261121_2")])
    assert [e.key for e in result.events] == ["goose:20261121_2@2026-11-21 09:14:03"]
    assert result.errors[0].offset == 1 and "accumulated_input_tokens" in result.errors[0].message


@pytest.mark.parametrize("case", list(BAD_TIMES))
def test_bad_time_makes_its_session_bad(case: str) -> None:
    value, message = BAD_TIMES[case]
    result = run([session(created_at=value)])
    assert result.events == [] and message in result.errors[0].message


def test_model_config_that_is_no_json_makes_its_session_bad() -> None:
    result = run([session(model_config_json="{model")])
    assert result.events == [] and "model_config_json" in result.errors[0].message


def test_bytes_that_are_no_database_read_give_nothing() -> None:
    assert parse(parse_ctx("goose", DB), {}, b"SQLite format 3\x00...").events == []
