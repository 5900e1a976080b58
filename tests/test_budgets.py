"""`budget set/rm/list`: the command logic on real files, and the list's rendering."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from monitor.budget_cmd import budget_rm, budget_set, parse_warn_at, render_budgets
from monitor.config import ConfigError, load_config

CONFIG = """\
# my comments stay
[monitor]
state_dir = "state"

[[budgets]]
name = "monthly"
period = "month"
limit = 50.0
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    return path


def test_budget_set_writes_budgets_toml_and_never_the_config(config_file: Path) -> None:
    env = {"HOME": str(config_file.parent)}
    config = load_config(config_file, env=env)
    written = budget_set(
        config, "claude", limit="20", period="week", warn_at="50%,90%", scope=["provider=anthropic"]
    )
    assert written == config_file.parent / "budgets.toml"
    assert config_file.read_text() == CONFIG
    reloaded = load_config(config_file, env=env)
    claude = reloaded.budget("claude")
    assert (claude.limit, claude.period, claude.scope) == (
        Decimal(20),
        "week",
        {"provider": "anthropic"},
    )
    assert claude.warn_at == (Decimal("0.5"), Decimal("0.9"))
    budget_set(reloaded, "claude", limit="25", forecast=False)
    changed = load_config(config_file, env=env).budget("claude")
    assert (changed.limit, changed.period, changed.forecast) == (Decimal(25), "week", False)
    assert changed.scope == {"provider": "anthropic"}
    budget_rm(load_config(config_file, env=env), "monthly")
    assert [b.name for b in load_config(config_file, env=env).budgets] == ["claude"]
    assert config_file.read_text() == CONFIG


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"limit": "-5", "period": "month"}, "limit"),
        ({"limit": "5", "period": "month", "scope": ["vendor=x"]}, "scope.vendor"),
        ({"limit": "5", "period": "year"}, "period"),
        ({"limit": "5", "period": "month", "warn_at": "0.5,-1"}, "warn_at[1]"),
        ({"limit": "5", "period": "month", "scope": ["provider"]}, "scope"),
        ({"limit": "5"}, "period"),
    ],
)
def test_bad_budget_input_is_a_config_error_naming_the_key(
    config_file: Path, options: dict[str, object], key: str
) -> None:
    config = load_config(config_file, env={"HOME": str(config_file.parent)})
    with pytest.raises(ConfigError) as err:
        budget_set(config, "new", **options)  # type: ignore[arg-type]
    assert err.value.key == key


def test_budget_rm_of_an_unknown_budget_names_the_known_ones(config_file: Path) -> None:
    config = load_config(config_file, env={"HOME": str(config_file.parent)})
    with pytest.raises(ConfigError, match='no budget named "nope" \\(budgets: monthly\\)'):
        budget_rm(config, "nope")


def test_warn_at_accepts_fractions_or_percentages() -> None:
    assert parse_warn_at("0.5, 0.8,1.0") == ["0.5", "0.8", "1.0"]
    assert parse_warn_at("50%,100 %") == ["0.5", "1"]


def test_budget_list_shows_limits_spend_forecast_and_alerts_sent() -> None:
    entries = [
        {
            "name": "monthly", "period": "month", "limit_usd": "50.000000",
            "spent_usd": "40.120000", "fraction": 0.8024, "forecast_usd": "61.200000",
            "runs_out_on": "2026-11-27", "scope": {}, "alerts": [
                {"threshold": 0.5, "delivered": True}, {"threshold": 0.8, "delivered": False},
            ],
        },
        {
            "name": "claude", "period": "day", "limit_usd": "5.000000", "spent_usd": "0.000000",
            "fraction": 0.0, "forecast_usd": "0.000000", "runs_out_on": None,
            "scope": {"provider": "anthropic"}, "alerts": [],
        },
    ]  # fmt: skip
    assert render_budgets(entries).splitlines() == [
        "NAME     PERIOD   LIMIT   SPENT  USED  FORECAST  RUNS OUT    ALERTS                SCOPE",
        "monthly  month   $50.00  $40.12  80 %    $61.20  2026-11-27  50 %, 80 % (pending)  all",
        "claude   day      $5.00   $0.00   0 %     $0.00  —           —                     "
        "provider=anthropic",
    ]
