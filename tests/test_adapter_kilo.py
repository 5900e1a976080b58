"""kilo: Kilo's `kilo.db`, OpenCode's schema under Kilo's names (see test_adapter_opencode)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from monitor.sources import get_format
from monitor.sources.kilo import FORMAT, parse
from monitor.sources.locations import kilo_paths
from monitor.sources.opencode import FORMAT as OPENCODE
from tests.factories import parse_ctx
from tests.test_sqlite_sources import EXAMPLES, build, rows_of


def test_registry_names_this_format() -> None:
    assert get_format("kilo") is FORMAT
    assert FORMAT.kind == "document" and FORMAT.queries == OPENCODE.queries


def test_default_paths_honour_kilos_variables() -> None:
    assert kilo_paths({}) == ["~/.local/share/kilo/kilo.db", "~/.local/share/kilo/kilo-*.db"]
    assert kilo_paths({"XDG_DATA_HOME": "/d"}) == ["/d/kilo/kilo.db", "/d/kilo/kilo-*.db"]
    assert kilo_paths({"KILO_DATA_DIR": "/a,/b"}) == [
        "/a/kilo.db",
        "/a/kilo-*.db",
        "/b/kilo.db",
        "/b/kilo-*.db",
    ]
    assert kilo_paths({"KILO_DB": "/tmp/k.db"}) == ["/tmp/k.db"]


def test_example_database_counts_each_answer_with_kilo_keys(tmp_path: Path) -> None:
    db = build(EXAMPLES / "kilo" / "kilo.sql", tmp_path / "kilo.db")

    result = parse(parse_ctx("kilo", str(db)), {}, rows_of(db, FORMAT))

    assert result.errors == []
    gateway, older = result.events
    assert gateway.key == "kilo:msg_531a0f238001KiloGw7Ab8Cd9E"
    assert (gateway.input_tokens, gateway.output_tokens) == (8 + 18000 + 1500, 420)
    assert (gateway.cache_read_tokens, gateway.cache_write_tokens) == (18000, 1500)
    assert gateway.reported_cost == Decimal("0.017349")
    assert gateway.tags["project"] == "/home/user/api"
    # An older version: `total` = input + output, so the reasoning is inside `output`.
    assert older.key == "kilo:msg_5305b7d10001OldRouter1Ab2C"
    assert (older.input_tokens, older.output_tokens, older.reasoning_tokens) == (1500, 1100, 700)
    assert (older.provider, older.model) == ("openai", "o4-mini")
