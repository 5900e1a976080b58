"""What a config reload redoes, decided from the old and the new config alone (no I/O)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from monitor.config import AlertsConfig, BudgetConfig, Config, PriceOverride, SourceConfig
from monitor.config_reload import ReloadPlan, plan_reload

UTC_ZONE = ZoneInfo("UTC")
NOTHING = ReloadPlan(
    reopen_ledger=False,
    reprice=False,
    rebuild_picture=False,
    new_ingestor=False,
    rescan=False,
    new_notifier=False,
)


def source(name: str = "studio", **changes: object) -> SourceConfig:
    base = SourceConfig(name, "studio-tokens", (f"/data/{name}/*.jsonl",), UTC_ZONE, "UTC")
    return replace(base, **changes)


def budget(name: str = "daily", **changes: object) -> BudgetConfig:
    return replace(BudgetConfig(name, "day", Decimal(10)), **changes)


OLD = Config(
    path=Path("/etc/llm-monitor/config.toml"),
    timezone_name="UTC",
    tz=UTC_ZONE,
    state_dir=Path("/state"),
    socket_path=Path("/state/sock"),
    sources=(source(),),
    budgets=(budget(),),
)


def test_an_unchanged_config_redoes_nothing() -> None:
    assert plan_reload(OLD, replace(OLD)) == NOTHING


def test_a_budget_limit_change_alone_redoes_nothing() -> None:
    # The alert service takes the new config whatever the plan says.
    new = replace(OLD, budgets=(budget(limit=Decimal(20)),))
    assert plan_reload(OLD, new) == NOTHING


def test_a_new_time_zone_reopens_the_ledger_and_rebuilds_the_totals() -> None:
    paris = ZoneInfo("Europe/Paris")
    new = replace(OLD, timezone_name="Europe/Paris", tz=paris)
    assert plan_reload(OLD, new) == replace(NOTHING, reopen_ledger=True, rebuild_picture=True)


def test_a_price_override_reprices_and_renews_the_ingestor_without_a_rescan() -> None:
    new = replace(OLD, prices={"acme-1": PriceOverride(input_per_mtok=Decimal("2.5"))})
    assert plan_reload(OLD, new) == replace(
        NOTHING, reprice=True, rebuild_picture=True, new_ingestor=True
    )


def test_a_source_cost_policy_change_reprices_and_rescans() -> None:
    new = replace(OLD, sources=(source(cost="priced"),))
    assert plan_reload(OLD, new) == replace(
        NOTHING, reprice=True, rebuild_picture=True, new_ingestor=True, rescan=True
    )


def test_a_new_source_reprices_renews_the_ingestor_and_rescans() -> None:
    # One more name among the cost policies: the stored events are priced again.
    new = replace(OLD, sources=(source(), source("haiku")))
    assert plan_reload(OLD, new) == replace(
        NOTHING, reprice=True, rebuild_picture=True, new_ingestor=True, rescan=True
    )


def test_a_source_with_new_paths_rescans_without_repricing() -> None:
    new = replace(OLD, sources=(source(paths=("/data/studio/**/*.jsonl",)),))
    assert plan_reload(OLD, new) == replace(NOTHING, new_ingestor=True, rescan=True)


def test_a_disabled_source_rescans_too() -> None:
    new = replace(OLD, sources=(source(enabled=False),))
    assert plan_reload(OLD, new) == replace(NOTHING, new_ingestor=True, rescan=True)


def test_a_budget_scoped_by_a_new_tag_rebuilds_the_totals() -> None:
    new = replace(OLD, budgets=(budget(), budget("client", scope={"tag.client": "acme"})))
    assert plan_reload(OLD, new) == replace(NOTHING, rebuild_picture=True)


def test_a_budget_scoped_by_a_tag_already_tracked_rebuilds_nothing() -> None:
    old = replace(OLD, budgets=(budget(scope={"tag.client": "acme"}),))
    new = replace(old, budgets=(*old.budgets, budget("other", scope={"tag.client": "zeta"})))
    assert plan_reload(old, new) == NOTHING


def test_new_alert_targets_need_a_new_notifier() -> None:
    new = replace(OLD, alerts=AlertsConfig(urls=("json://localhost:9/",)))
    assert plan_reload(OLD, new) == replace(NOTHING, new_notifier=True)
