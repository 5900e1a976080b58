"""examples/prometheus: the shipped scrape config and alerting rules are valid and agree
with what the metrics endpoint exposes.

The structure test always runs (PyYAML comes with apprise); `promtool` (Debian package
`prometheus`, or `$PROMTOOL`) also checks the files and runs the rules' unit tests in
rules_test_*.yml when it is installed.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.events import UsageEvent
from monitor.ledger import Applied
from monitor.metrics import Metrics

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "prometheus"
METRIC_NAME = re.compile(r"(?<![:\w])(llm_[a-z0-9_]+|up)\b")
"""A metric name in PromQL; `team:llm_cost_usd:increase30d` is a recorded name, not one."""
UNIT_TESTS = ("rules_test_budget.yml", "rules_test_health.yml")


def load(name: str) -> Any:
    return yaml.safe_load((EXAMPLES / name).read_text())


def exposed_names() -> set[str]:
    metrics = Metrics(process_metrics=False)
    metrics.mark_seeded()
    ts = datetime(2026, 11, 20, tzinfo=UTC)
    metrics.observe([Applied(UsageEvent("k", ts, "s", "openai", "gpt-4o"))])
    metrics.observe_errors({"s": 1})
    metrics.set_budgets(
        [{"name": "b", "period": "month", "limit_usd": "1", "spent_usd": "0",
          "forecast_usd": "0", "fraction": 0.0}]
    )  # fmt: skip
    return {s.name for family in metrics.registry.collect() for s in family.samples}


def rules() -> list[dict[str, Any]]:
    doc = load("rules.yml")
    return [rule for group in doc["groups"] for rule in group["rules"]]


def test_every_rule_is_a_complete_record_or_alert() -> None:
    doc = load("rules.yml")
    assert {g["name"] for g in doc["groups"]} >= {"llm-monitor-team-budget", "llm-monitor-health"}
    for rule in rules():
        assert isinstance(rule.get("expr"), str) and rule["expr"].strip()
        assert ("alert" in rule) != ("record" in rule), rule
        if "alert" in rule:
            assert rule["labels"]["severity"] in ("warning", "critical")
            assert rule["annotations"]["summary"]
            assert rule["annotations"]["description"]


def test_rules_cover_team_budget_and_machine_health() -> None:
    alerts = {r["alert"]: r["expr"] for r in rules() if "alert" in r}
    assert "llm_cost_usd_total[30d]" in next(
        r["expr"] for r in rules() if r.get("record") == "team:llm_cost_usd:increase30d"
    )
    assert alerts["LLMTeamMonthlyBudgetExceeded"].startswith("team:llm_cost_usd:increase30d >")
    assert 'up{job="llm-monitor"} == 0' in alerts["LLMMonitorDown"]
    assert "llm_monitor_parse_errors_total" in alerts["LLMMonitorParseErrors"]


def test_rules_only_name_metrics_the_endpoint_exposes() -> None:
    exposed = exposed_names() | {"up"}
    named = {m for r in rules() for m in METRIC_NAME.findall(r["expr"])}
    assert named, "no metric names found in the rules"
    assert named <= exposed, named - exposed


def test_scrape_config_loads_the_rules_and_scrapes_the_job_the_rules_name() -> None:
    doc = load("prometheus.yml")
    assert doc["rule_files"] == ["rules.yml"]
    (job,) = [j for j in doc["scrape_configs"] if j["job_name"] == "llm-monitor"]
    targets = [t for sc in job["static_configs"] for t in sc["targets"]]
    assert len(targets) >= 2
    assert all(t.endswith(":9464") for t in targets)


def test_rules_unit_tests_exercise_every_alert() -> None:
    tested: set[str] = set()
    for name in UNIT_TESTS:
        doc = load(name)
        assert doc["rule_files"] == ["rules.yml"]
        tested |= {t["alertname"] for group in doc["tests"] for t in group["alert_rule_test"]}
    assert tested == {r["alert"] for r in rules() if "alert" in r}


def promtool() -> str:
    path = os.environ.get("PROMTOOL") or shutil.which("promtool")
    if not path:
        pytest.skip("promtool not installed (Debian: apt-get install prometheus)")
    return path


@pytest.mark.parametrize(
    "args",
    [
        ["check", "rules", "rules.yml"],
        ["check", "config", "prometheus.yml"],
        ["test", "rules", *UNIT_TESTS],
    ],
    ids=["check-rules", "check-config", "test-rules"],
)
def test_promtool_accepts_the_examples(args: list[str]) -> None:
    result = subprocess.run(
        [promtool(), *args], cwd=EXAMPLES, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
