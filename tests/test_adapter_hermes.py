"""hermes: Hermes Agent's `state.db`, one row per session accumulating every call, on the
example shaped after Hermes's schema."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from monitor.sources import get_format
from monitor.sources.hermes import FORMAT, SESSIONS, parse
from monitor.sources.locations import hermes_paths
from monitor.sources.sqlite_db import Table, encode
from tests.factories import parse_ctx
from tests.test_adapter_common import GARBAGE_COUNTS
from tests.test_sqlite_sources import EXAMPLES, build, rows_of

DB = "/home/u/.hermes/state.db"


STORABLE = {k: v for k, v in GARBAGE_COUNTS.items() if not (type(v) is int and v >= 2**63)}
"""The garbage counts a SQLite column can hold (an INTEGER stops at 2**63 - 1)."""


def run(rows: list[dict[str, Any]], **options: Any) -> Any:
    names = ("rowid", *SESSIONS.columns)
    values = [[i + 1, *(r.get(c) for c in SESSIONS.columns)] for i, r in enumerate(rows)]
    table = Table(names, values)
    return parse(
        parse_ctx("hermes", DB, option_map=options), {}, encode({SESSIONS.name: table}, full=True)
    )


def session(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": "20261120_101500_4f7a2c",
        "source": "cli",
        "model": "claude-sonnet-4-5",
        "billing_provider": "anthropic",
        "started_at": 1795169700.25,
        "api_call_count": 3,
        "input_tokens": 100,
        "output_tokens": 50,
        "cache_read_tokens": 1000,
        "cache_write_tokens": 200,
        "reasoning_tokens": 0,
    }
    row.update(changes)
    return row


def test_registry_names_this_format() -> None:
    assert get_format("hermes") is FORMAT
    assert FORMAT.kind == "document" and not FORMAT.documents


def test_default_paths_are_every_hermes_home_and_profile() -> None:
    assert hermes_paths({}) == ["~/.hermes/state.db", "~/.hermes/profiles/*/state.db"]
    assert hermes_paths({"HERMES_HOME": "/h1, /h2/"}) == ["/h1/state.db", "/h2/state.db"]


def test_example_database_is_one_event_per_session_with_usage(tmp_path: Path) -> None:
    db = build(EXAMPLES / "hermes" / "state.sql", tmp_path / "state.db")

    result = parse(parse_ctx("hermes", str(db)), {}, rows_of(db, FORMAT))

    assert result.errors == []
    first, child, telegram = result.events  # the session never used counts nothing
    assert first.key == "hermes:20261120_101500_4f7a2c"
    assert (first.input_tokens, first.output_tokens, first.calls) == (2400 + 41000 + 3200, 1850, 9)
    assert (first.cache_read_tokens, first.cache_write_tokens) == (41000, 3200)
    assert (first.provider, first.model) == ("anthropic", "claude-sonnet-4.5")  # via OpenRouter
    assert first.reported_cost == Decimal("0.0873")  # actual, not the estimate
    assert first.ts == datetime(2026, 11, 20, 10, 15, 0, 250000, tzinfo=UTC)
    assert first.tags == {"session": "20261120_101500_4f7a2c", "platform": "cli"}
    # The compressed session's continuation counts from zero; only an estimate.
    assert (child.input_tokens, child.output_tokens, child.reported_cost) == (
        10100,
        420,
        Decimal("0.0128"),
    )
    # A ChatGPT subscription: cost 0 ("included"), priced; output holds the reasoning.
    assert (telegram.provider, telegram.model, telegram.reported_cost) == ("openai", "gpt-5", None)
    assert (telegram.output_tokens, telegram.reasoning_tokens) == (1400, 600)
    assert telegram.tags["platform"] == "telegram"


def test_reasoning_above_output_is_added_to_it() -> None:
    (event,) = run([session(output_tokens=50, reasoning_tokens=80)]).events
    assert (event.output_tokens, event.reasoning_tokens) == (130, 80)


def test_a_session_without_a_model_counts_as_unknown_or_the_default_model() -> None:
    assert run([session(model=None, billing_provider="custom")]).events[0].model == "unknown"
    assert run([session(model=None)], default_model="hermes-4-70b").events[0].model == (
        "hermes-4-70b"
    )


@pytest.mark.parametrize("value", STORABLE.values(), ids=list(STORABLE))
def test_garbage_count_makes_its_session_bad_and_no_other(value: Any) -> None:
    result = run([session(cache_read_tokens=value), session(id="other")])
    assert [e.key for e in result.events] == ["hermes:other"]
    assert result.errors[0].offset == 1 and "cache_read_tokens" in result.errors[0].message


@pytest.mark.parametrize("started", [0.0, 253402300800.0, "yesterday"])
def test_bad_start_makes_its_session_bad(started: Any) -> None:
    result = run([session(started_at=started)])
    assert result.events == [] and "started_at" in result.errors[0].message
