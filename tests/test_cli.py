"""The command line as a user runs it: subprocesses, real files, real ledger."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from monitor.cli import main
from tests.factories import one_source_config

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
        "cache_write_tokens", "cost_usd", "unpriced_calls", "reported_cost_usd",
        "priced_cost_usd",
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
    cfg = one_source_config(tmp_path, "studio", "studio-tokens", "studio/**/run_*/tokens.jsonl")
    run("scan", config=cfg)
    result = run(
        "compare", "tag.run=run_tech_baseline", "tag.run=run_tech_20260228_123456",
        "--format", "json", config=cfg,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    text = json.dumps(doc)
    assert "26.0" in text  # 25,000 → 18,500 tokens
    # A side that matches nothing (a typo) is a usage error, not "savings 100 %".
    typo = run("compare", "tag.run=run_tech_baseline", "tag.run=run_tech_typo", config=cfg)
    assert (typo.returncode, typo.stdout) == (2, "")
    assert "no recorded calls match B ('tag.run=run_tech_typo')" in typo.stderr


def _codex_rollout(session: str, model: str) -> str:
    """A Codex rollout: one turn of `model`, 12,000 input (10,000 cached) + 800 output."""
    lines = [
        {"timestamp": "2026-11-20T08:14:03.118Z", "type": "session_meta",
         "payload": {"id": session, "cwd": "/w/proj"}},
        {"timestamp": "2026-11-20T08:14:11.507Z", "type": "turn_context",
         "payload": {"cwd": "/w/proj", "model": model}},
        {"timestamp": "2026-11-20T08:14:20.000Z", "type": "event_msg",
         "payload": {"type": "token_count", "info": {"total_token_usage": {
             "input_tokens": 12000, "cached_input_tokens": 10000, "output_tokens": 800,
             "reasoning_output_tokens": 300}}}},
    ]  # fmt: skip
    return "".join(json.dumps(line) + "\n" for line in lines)


@pytest.mark.e2e
def test_a_vendor_prefixed_codex_model_is_priced_and_named_once(tmp_path: Path) -> None:
    sessions = tmp_path / "codex" / "sessions" / "2026" / "11" / "20"
    sessions.mkdir(parents=True)
    (sessions / "rollout-a.jsonl").write_text(_codex_rollout("a", "openai/gpt-5.5"))
    (sessions / "rollout-b.jsonl").write_text(_codex_rollout("b", "gpt-5.5"))
    cfg = one_source_config(tmp_path, "codex", "codex", "codex/sessions/**/rollout-*.jsonl")
    assert run("scan", config=cfg).returncode == 0
    result = run("report", "--by", "provider", "--by", "model", "--format", "json", config=cfg)
    assert result.returncode == 0, result.stderr
    [row] = json.loads(result.stdout)["rows"]
    assert row["key"] == {"provider": "openai", "model": "gpt-5.5"}
    assert (row["calls"], row["unpriced_calls"]) == (2, 0)
    assert row["cost_usd"] != "0.000000"


@pytest.mark.e2e
def test_status_and_report_do_not_import_heavy_modules(world: Path) -> None:
    run("scan", config=world)
    probe = (
        "import sys, runpy\n"
        f"sys.argv = ['llm-monitor', '{{cmd}}', '--config', '{world}']\n"
        "from monitor.cli import main\n"
        "try:\n    main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
        # and, no daemon running, neither the socket client nor the writing half; nor
        # shutil (argparse's own width lookup): each costs start-up milliseconds.
        "heavy = [m for m in ('genai_prices', 'textual', 'apprise', 'msgspec', 'asyncio',"
        " 'socket', 'monitor.api.client', 'monitor.ledger.batch', 'shutil'{extra})"
        " if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    for cmd in ("status", "report"):
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                # `status` reads its arguments without argparse (`quick_args`)
                probe.replace("{cmd}", cmd).replace(
                    "{extra}", ", 'argparse'" if cmd == "status" else ""
                ),
            ],
            capture_output=True, text=True, timeout=60, cwd=REPO,
        )  # fmt: skip
        assert "HEAVY []" in out.stdout, (cmd, out.stdout, out.stderr)


# ---------------------------------------------------------------- budget list after set


@pytest.fixture
def budget_config(tmp_path: Path) -> Path:
    """A config with no budgets of its own; state and socket inside tmp_path."""
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f"""
[monitor]
timezone = "Europe/Berlin"
state_dir = "{tmp_path / "state"}"
socket = "{tmp_path / "sock"}"
"""
    )
    return cfg


def cli(capsys: pytest.CaptureFixture[str], config: Path, *args: str) -> str:
    """`llm-monitor ARGS --config CONFIG` in this process; its stdout."""
    capsys.readouterr()
    assert main([*args, "--config", str(config)]) == 0
    return capsys.readouterr().out


@contextmanager
def daemon_answering(path: Path, budgets: Sequence[dict[str, Any]]) -> Iterator[None]:
    """A daemon on `path` whose snapshot lists `budgets` (as one that has not reloaded)."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(str(path))
    except OSError:
        server.close()
        raise
    server.listen()
    server.settimeout(0.05)
    stop = threading.Event()
    reply = json.dumps({"type": "snapshot", "budgets": list(budgets)}).encode() + b"\n"

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(65536)
                conn.sendall(reply)

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)
        server.close()
        path.unlink()


def test_budget_list_right_after_budget_set_shows_the_new_budget(
    budget_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "No budgets" in cli(capsys, budget_config, "budget", "list")
    cli(capsys, budget_config, "budget", "set", "monthly", "--limit", "50", "--period", "month")
    listed = cli(capsys, budget_config, "budget", "list")
    assert "No budgets" not in listed
    assert "monthly" in listed and "$50.00" in listed
    [entry] = json.loads(cli(capsys, budget_config, "budget", "list", "--json"))
    assert entry["name"] == "monthly" and entry["limit_usd"] == "50.000000"
    assert entry["spent_usd"] == "0.000000"


def test_budget_list_shows_what_was_set_before_the_daemon_reloaded(
    budget_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sock = budget_config.parent / "sock"
    cli(capsys, budget_config, "budget", "set", "monthly", "--limit", "50", "--period", "month")
    with daemon_answering(sock, []):  # started before `budget set`, not reloaded yet
        listed = cli(capsys, budget_config, "budget", "list")
    assert "No budgets" not in listed and "monthly" in listed

    [before] = json.loads(cli(capsys, budget_config, "budget", "list", "--json"))
    cli(capsys, budget_config, "budget", "set", "monthly", "--limit", "80")
    cli(capsys, budget_config, "budget", "set", "daily", "--limit", "5", "--period", "day")
    with daemon_answering(sock, [before]):
        entries = json.loads(cli(capsys, budget_config, "budget", "list", "--json"))
    assert [(e["name"], e["limit_usd"]) for e in entries] == [
        ("monthly", "80.000000"),
        ("daily", "5.000000"),
    ]

    current = json.loads(cli(capsys, budget_config, "budget", "list", "--json"))
    cli(capsys, budget_config, "budget", "rm", "daily")
    with daemon_answering(sock, current):
        entries = json.loads(cli(capsys, budget_config, "budget", "list", "--json"))
    assert [e["name"] for e in entries] == ["monthly"]


def test_budget_list_takes_the_numbers_of_a_daemon_that_is_up_to_date(
    budget_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli(capsys, budget_config, "budget", "set", "monthly", "--limit", "50", "--period", "month")
    [entry] = json.loads(cli(capsys, budget_config, "budget", "list", "--json"))
    live = {**entry, "spent_usd": "12.340000", "fraction": 0.2468}
    with daemon_answering(budget_config.parent / "sock", [live]):
        listed = cli(capsys, budget_config, "budget", "list")
    assert "$12.34" in listed and "25 %" in listed


@pytest.mark.e2e
def test_budget_list_with_a_running_daemon_shows_a_budget_set_a_moment_ago(
    tmp_path: Path,
) -> None:
    from monitor.budget_cmd import list_entries
    from monitor.config import load_config
    from tests.daemon_harness import wait_for, workspace

    with workspace(tmp_path) as ws:
        ws.write_config([])
        daemon = ws.start()
        result = ws.cli("budget", "set", "monthly", "--limit", "50", "--period", "month")
        assert result.returncode == 0, result.stderr
        listed = ws.cli("budget", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        assert [b["name"] for b in json.loads(listed.stdout)] == ["monthly"]

        # Once the daemon has reloaded, its entries (its numbers) are the ones listed.
        def reloaded() -> list[dict[str, Any]] | None:
            budgets: list[dict[str, Any]] = daemon.snapshot()["budgets"]
            return budgets or None

        [entry] = wait_for(reloaded, 10, "the daemon to pick up budgets.toml")
        marked = [{**entry, "spent_usd": "12.340000"}]
        assert list_entries(load_config(ws.config_path), marked) == marked


# ---------------------------------------------------------------- status without argparse


@pytest.mark.parametrize(
    "argv",
    [
        ["status"],
        ["status", "--json"],
        ["--config", "/x/c.toml", "status", "-v", "--json"],
        ["status", "--config=/x/c.toml"],
        ["status", "--verbose", "--config", "/x/c.toml"],
    ],
)
def test_status_reads_its_arguments_without_argparse_as_argparse_would(argv: list[str]) -> None:
    from monitor.cli import _status_args, build_parser

    keys = ("command", "config", "verbose", "json", "func")
    fast = vars(_status_args(argv))
    slow = vars(build_parser().parse_args(argv))
    assert {k: fast[k] for k in keys} == {
        k: slow.get(k, None if k == "config" else False) for k in keys
    }


@pytest.mark.parametrize(
    "argv",
    [
        ["status", "--help"],
        ["status", "--jsn"],
        ["status", "--config"],
        ["status", "--config", "--json"],
        ["status", "--format", "x"],
        ["status", "status"],
    ],
)
def test_anything_else_on_a_status_line_goes_to_argparse(argv: list[str]) -> None:
    from monitor.cli import _status_args

    assert _status_args(argv) is None


@pytest.mark.e2e
def test_read_only_commands_that_skip_the_teardown_print_all_they_print_otherwise(
    world: Path,
) -> None:
    """`run` ends status, report and statusline with os._exit: their output is flushed
    first, the same bytes as after Python's own exit, even to a pipe."""
    run("scan", config=world)
    normal = "import sys; from monitor.cli import main; sys.exit(main(sys.argv[1:]))"
    for args in (
        ["status", "--json"],
        ["report", "--by", "day", "--by", "model", "--format", "json"],
        ["report", "--by", "source"],
        ["statusline"],
    ):
        at_once = run(*args, config=world)
        slow = subprocess.run(
            [sys.executable, "-c", normal, *args, "--config", str(world)],
            capture_output=True, text=True, timeout=60, cwd=REPO,
        )  # fmt: skip
        assert at_once.returncode == slow.returncode == 0, (args, at_once.stderr)
        assert at_once.stdout.strip()
        if args[0] == "status":  # its document carries the moment it was made
            assert json.loads(at_once.stdout).keys() == json.loads(slow.stdout).keys()
        else:
            assert at_once.stdout == slow.stdout, args
