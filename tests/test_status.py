"""The status document from the ledger (no daemon): shape, budgets, scopes, text."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor.config import BudgetConfig, Config, load_config
from monitor.events import UsageEvent
from monitor.ledger import Batch, Ledger
from monitor.status import period_label, render_status, status_from_ledger

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def ev(key: str, cost: str | None, *, day: int = 23, provider: str = "openai",
       run: str | None = None) -> UsageEvent:  # fmt: skip
    return UsageEvent(
        key=key,
        ts=datetime(2026, 11, day, 9, tzinfo=UTC),
        source="studio",
        provider=provider,
        model="gpt-4o" if cost is not None else "mystery-1",
        input_tokens=100,
        output_tokens=10,
        cost=Decimal(cost) if cost is not None else None,
        cost_basis="priced" if cost is not None else "unpriced",
        tags={"run": run} if run else {},
    )


def config(tmp_path: Path, budgets: tuple[BudgetConfig, ...]) -> Config:
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'[monitor]\ntimezone = "Europe/Berlin"\nstate_dir = "{tmp_path}"\n'
        f'socket = "{tmp_path}/s.sock"\n'
    )
    return replace(load_config(cfg), budgets=budgets)


def budget(name: str, limit: str, scope: dict[str, str] | None = None) -> BudgetConfig:
    return BudgetConfig(
        name=name,
        period="month",
        limit=Decimal(limit),
        warn_at=(Decimal("0.5"), Decimal("0.8"), Decimal("1.0")),
        forecast=True,
        scope=scope or {},
    )


def test_status_document_has_the_documented_shape_and_exact_money(tmp_path: Path) -> None:
    cfg = config(tmp_path, (budget("monthly", "10"),))
    with Ledger(cfg.ledger_path, BERLIN, "Europe/Berlin") as ledger:
        ledger.commit(Batch(events=[ev("a", "1.25"), ev("b", "0.75", day=20), ev("c", None)]))
        doc = status_from_ledger(cfg, ledger, NOW)
    assert doc["daemon"] is False and doc["timezone"] == "Europe/Berlin"
    assert doc["today"]["cost_usd"] == "1.250000" and doc["today"]["calls"] == 2
    assert doc["today"]["unpriced_calls"] == 1
    assert doc["month"]["cost_usd"] == "2.000000"
    assert {"forecast_low_usd", "forecast_high_usd"} <= set(doc["month"])
    [b] = doc["budgets"]
    assert b["spent_usd"] == "2.000000" and b["limit_usd"] == "10.000000"
    assert b["fraction"] == 0.2
    assert doc["unpriced"] == [{"provider": "openai", "model": "mystery-1", "calls": 1}]


def test_budget_scopes_count_only_their_events_including_one_tag(tmp_path: Path) -> None:
    cfg = config(
        tmp_path,
        (
            budget("anthropic", "10", {"provider": "anthropic"}),
            budget("run-a", "10", {"tag.run": "a"}),
            budget("run-a-openai", "10", {"tag.run": "a", "provider": "openai"}),
        ),
    )
    with Ledger(cfg.ledger_path, BERLIN, "Europe/Berlin") as ledger:
        ledger.commit(
            Batch(
                events=[
                    ev("1", "1.00", run="a"),
                    ev("2", "2.00", run="b"),
                    ev("3", "4.00", provider="anthropic", run="a"),
                ]
            )
        )
        doc = status_from_ledger(cfg, ledger, NOW)
    spent = {b["name"]: b["spent_usd"] for b in doc["budgets"]}
    assert spent == {"anthropic": "4.000000", "run-a": "5.000000", "run-a-openai": "1.000000"}


def test_text_status_names_budgets_unpriced_models_and_sources(tmp_path: Path) -> None:
    cfg = config(tmp_path, (budget("monthly", "10"),))
    with Ledger(cfg.ledger_path, BERLIN, "Europe/Berlin") as ledger:
        ledger.commit(Batch(events=[ev("a", "1.25"), ev("c", None)]))
        text = render_status(status_from_ledger(cfg, ledger, NOW))
    assert "$1.25" in text and "monthly" in text
    assert "openai/mystery-1: 1 calls" in text
    assert "from ledger" in text


def test_period_labels_name_the_period_instance() -> None:
    day = datetime(2026, 11, 23).date()
    assert period_label("day", day) == "2026-11-23"
    assert period_label("week", day) == "2026-W48"
    assert period_label("month", day) == "2026-11"


# -- a ledger file that is not one ------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"not a database\n" * 100, "file is not a database"),
        (b"", "no such table"),  # SQLite reads an empty file as an empty database
    ],
    ids=["garbage", "empty"],
)
@pytest.mark.parametrize(
    "argv",
    [
        ["status"],
        ["status", "--json"],
        ["report", "--by", "day"],
        ["report", "--since", "2026-11-01", "--format", "json"],
        ["compare", "source=a", "source=b"],
        ["estimate", "--like", "source=a", "--calls", "5"],
    ],
    ids=" ".join,
)
def test_a_ledger_that_is_no_database_is_a_clear_error_naming_the_file(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    content: bytes,
    reason: str,
) -> None:
    from monitor.cli import main

    cfg = config(tmp_path, ())
    cfg.ledger_path.write_bytes(content)
    code = main(["--config", str(tmp_path / "config.toml"), *argv])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert err.startswith(f"llm-monitor: {cfg.ledger_path}: cannot read the ledger: ")
    assert reason in err and "Traceback" not in err
    assert cfg.ledger_path.read_bytes() == content  # read-only: nothing was written


def test_an_estimated_window_shows_its_block_burn_and_projection_in_json_and_text(
    tmp_path: Path,
) -> None:
    cfg_file = tmp_path / "config.toml"
    cfg_file.write_text(
        f'[monitor]\ntimezone = "Europe/Berlin"\nstate_dir = "{tmp_path}"\n'
        f'socket = "{tmp_path}/s.sock"\n'
        '[[sources]]\nname = "studio"\nformat = "studio-tokens"\npaths = ["/x/*.jsonl"]\n'
        '[[limits]]\ntool = "studio"\nwindow = "5h"\ntokens = 1000\n'
    )
    cfg = load_config(cfg_file)
    calls = [
        replace(ev("a", "0.30"), ts=datetime(2026, 11, 23, 10, 30, tzinfo=UTC)),
        replace(ev("b", "0.30"), ts=datetime(2026, 11, 23, 11, 30, tzinfo=UTC)),
    ]
    with Ledger(cfg.ledger_path, BERLIN, "Europe/Berlin") as ledger:
        ledger.commit(Batch(events=calls))
        doc = status_from_ledger(cfg, ledger, NOW)
    [w] = doc["limits"]
    assert (w["tool"], w["window"], w["basis"], w["used_percent"]) == (
        "studio", "5h", "estimated", 22.0
    )  # fmt: skip
    assert w["resets_at"] == "2026-11-23T15:00:00+00:00"
    e = w["estimate"]
    # 220 tokens in the 90 minutes since the first call: 2.44 a minute, 440 more by 15:00.
    assert (e["tokens"], e["cost_usd"], e["limit_tokens"], e["limit_from"]) == (
        220, "0.600000", 1000, "configured"
    )  # fmt: skip
    assert (e["burn_tokens_per_minute"], e["projected_tokens"], e["projected_percent"]) == (
        2.4, 660, 66.0
    )  # fmt: skip
    text = render_status(doc)
    assert "Plan windows" in text and "studio 5h" in text and "(estimated)" in text
    assert "66 % at the end" in text


def test_status_reads_a_ledger_whose_rollup_predates_a_measure(tmp_path: Path) -> None:
    """`status` beside a daemon that has not migrated the ledger yet: no missing column."""
    cfg = config(tmp_path, ())
    with Ledger(cfg.ledger_path, BERLIN, "Europe/Berlin") as ledger:
        ledger.commit(Batch(events=[ev("a", "1.25")]))
        ledger.db.execute("ALTER TABLE daily DROP COLUMN reported_events")
        doc = status_from_ledger(cfg, ledger, NOW)
    assert doc["today"]["cost_usd"] == "1.250000" and doc["today"]["calls"] == 1
