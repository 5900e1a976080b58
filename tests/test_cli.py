"""The command line as a user runs it: subprocesses, real files, real ledger."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"


def run(
    *args: str, config: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "monitor.cli", *args]
    if config is not None:
        cmd += ["--config", str(config)]
    full_env = {**os.environ, **(env or {})}
    full_env.pop("LLM_MONITOR_CONFIG", None)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=full_env, cwd=REPO)


@pytest.fixture
def world(tmp_path: Path) -> Path:
    """A copy of the studio and claude-code examples and a config watching them."""
    shutil.copytree(EXAMPLES / "studio", tmp_path / "studio")
    shutil.copytree(EXAMPLES / "claude-code", tmp_path / "claude")
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f"""
[monitor]
timezone = "Europe/Berlin"
state_dir = "{tmp_path / "state"}"
socket = "{tmp_path / "sock"}"

[[sources]]
name = "studio"
format = "studio-tokens"
paths = ["{tmp_path}/studio/**/run_*/tokens.jsonl"]

[[sources]]
name = "claude-code"
format = "claude-code"
paths = ["{tmp_path}/claude/projects/**/*.jsonl"]

[[budgets]]
name = "monthly"
period = "month"
limit = 50
"""
    )
    return cfg


@pytest.mark.e2e
def test_scan_then_report_json_has_the_documented_shape(world: Path) -> None:
    scan = run("scan", config=world)
    assert scan.returncode == 0, scan.stderr
    report = run("report", "--by", "source", "--format", "json", config=world)
    assert report.returncode == 0, report.stderr
    doc = json.loads(report.stdout)
    assert list(doc) == ["since", "until", "group_by", "rows", "total"]
    assert doc["since"] is None and doc["until"] is None and doc["group_by"] == ["source"]
    studio = next(r for r in doc["rows"] if r["key"] == {"source": "studio"})
    assert list(studio) == [
        "key", "calls", "input_tokens", "output_tokens", "cache_read_tokens",
        "cache_write_tokens", "cost_usd", "unpriced_calls",
    ]  # fmt: skip
    assert isinstance(studio["cost_usd"], str) and len(studio["cost_usd"].split(".")[1]) == 6
    assert sum(r["calls"] for r in doc["rows"]) == doc["total"]["calls"]


@pytest.mark.e2e
def test_rescan_counts_nothing_twice(world: Path) -> None:
    run("scan", config=world)
    first = json.loads(run("report", "--format", "json", config=world).stdout)["total"]
    again = run("scan", config=world)
    assert "0 new events" in again.stdout
    assert json.loads(run("report", "--format", "json", config=world).stdout)["total"] == first


@pytest.mark.e2e
def test_scan_with_bad_records_exits_zero_and_reports_counts_on_stderr(world: Path) -> None:
    bad = world.parent / "studio" / "output" / "tech" / "run_bad" / "tokens.jsonl"
    bad.parent.mkdir(parents=True)
    bad.write_text('{"operation": "x", "input_tokens": \n')
    result = run("scan", config=world)
    assert result.returncode == 0
    assert "1 bad records skipped" in result.stderr
    assert f"{bad}:0" in result.stderr


@pytest.mark.e2e
def test_config_error_names_file_and_key_and_exits_2(tmp_path: Path) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text('[[budgets]]\nname = "m"\nperiod = "month"\nlimit = -5\n')
    result = run("status", config=cfg)
    assert result.returncode == 2
    assert str(cfg) in result.stderr and "limit" in result.stderr


@pytest.mark.e2e
def test_unknown_command_is_a_usage_error(tmp_path: Path) -> None:
    assert run("frobnicate").returncode == 2


@pytest.mark.e2e
def test_status_without_daemon_reads_the_ledger(world: Path) -> None:
    run("scan", config=world)
    result = run("status", "--json", config=world)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["daemon"] is False
    assert doc["timezone"] == "Europe/Berlin"
    assert {s["name"] for s in doc["sources"]} >= {"studio", "claude-code", "spool"}
    assert doc["budgets"][0]["name"] == "monthly" and doc["budgets"][0]["limit_usd"] == "50.000000"
    text = run("status", config=world)
    assert "Budgets" in text.stdout and "monthly" in text.stdout


@pytest.mark.e2e
def test_log_appends_to_the_spool_and_scan_ingests_it(world: Path) -> None:
    result = run(
        "log", "--model", "gpt-4o", "--input", "1200", "--output", "300",
        "--operation", "digest", "--tag", "job=nightly", "--id", "call-1", config=world,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    run("log", "--model", "gpt-4o", "--input", "1200", "--output", "300", "--id", "call-1",
        config=world)  # fmt: skip
    run("scan", config=world)
    doc = json.loads(
        run(
            "report", "--by", "tag:job", "--source", "spool", "--format", "json", config=world
        ).stdout
    )
    assert doc["total"]["calls"] == 1  # logged twice with the same id: one call
    assert doc["rows"][0]["key"] == {"tag:job": "nightly"}
    assert doc["total"]["input_tokens"] == 1200 and doc["total"]["unpriced_calls"] == 0


@pytest.mark.e2e
def test_report_on_missing_ledger_says_what_to_do(world: Path) -> None:
    result = run("report", config=world)
    assert result.returncode == 1
    assert "llm-monitor scan" in result.stderr


@pytest.mark.e2e
def test_compare_shows_seed_003_savings(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES / "studio", tmp_path / "studio")
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f"""
[monitor]
timezone = "UTC"
state_dir = "{tmp_path / "state"}"
socket = "{tmp_path / "sock"}"
[[sources]]
name = "studio"
format = "studio-tokens"
paths = ["{tmp_path}/studio/**/run_*/tokens.jsonl"]
"""
    )
    run("scan", config=cfg)
    result = run(
        "compare", "tag.run=run_tech_baseline", "tag.run=run_tech_20260228_123456",
        "--format", "json", config=cfg,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    text = json.dumps(doc)
    assert "26.0" in text  # 25,000 → 18,500 tokens


@pytest.mark.e2e
def test_status_and_report_do_not_import_heavy_modules(world: Path) -> None:
    run("scan", config=world)
    probe = (
        "import sys, runpy\n"
        f"sys.argv = ['llm-monitor', '{{cmd}}', '--config', '{world}']\n"
        "from monitor.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('genai_prices', 'textual', 'apprise', 'msgspec', 'asyncio')"
        " if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    for cmd in ("status", "report"):
        out = subprocess.run(
            [sys.executable, "-c", probe.replace("{cmd}", cmd)],
            capture_output=True, text=True, timeout=60, cwd=REPO,
        )  # fmt: skip
        assert "HEAVY []" in out.stdout, (cmd, out.stdout, out.stderr)
