"""`llm-monitor init` on a fake home: the written config loads and a real scan reads it all."""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from monitor import init_cmd
from monitor.config import load_config
from monitor.ingest import Ingestor
from monitor.init_cmd import InitError, found_sources, init
from monitor.ledger import Ledger
from monitor.pricing import Pricer
from monitor.sources import locations
from monitor.sources.locations import DEFAULT_PATHS

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"


AGENT_VARIABLES = frozenset(
    re.findall(r"""["']([A-Z][A-Z_]*_[A-Z]+)["']""", Path(locations.__file__).read_text())
)
"""The environment variables that move an agent's files (`CODEX_HOME`, `XDG_DATA_HOME`, …):
a test of `init` through the process environment unsets those the fake home does not set."""


def fake_env(home: Path) -> dict[str, str]:
    return {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_STATE_HOME": str(home / ".local" / "state"),
    }


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    shutil.copytree(EXAMPLES / "claude-code" / "projects", home / ".claude" / "projects")
    shutil.copytree(EXAMPLES / "codex" / "sessions", home / ".codex" / "sessions")
    return home


@pytest.fixture
def work(home: Path) -> Path:
    """A directory holding every seed tool's files the way each tool lays them out."""
    work = home / "src"
    shutil.copytree(EXAMPLES / "studio", work / "studio")
    shutil.copytree(EXAMPLES / "novel", work / "novel")
    shutil.copytree(EXAMPLES / "openai-app", work / "openai-app")
    shutil.copytree(EXAMPLES / "image-describer", work / "photos")
    shutil.copytree(EXAMPLES / "qc", work / "qc-backend")
    # Look-alikes that must not become sources.
    (work / "other").mkdir()
    (work / "other" / "token_usage.json").write_text('{"quota": 5}')
    hidden = work / ".git" / "run_1"
    hidden.mkdir(parents=True)
    shutil.copy(EXAMPLES / "studio/output/tech/run_tech_baseline/tokens.jsonl", hidden)
    return work


def test_written_config_loads_and_a_scan_ingests_every_found_tool(home: Path, work: Path) -> None:
    env = fake_env(home)
    path, text = init(None, False, work, env)
    assert path == home / ".config" / "llm-monitor" / "config.toml"
    assert path.read_text() == text

    config = load_config(path, env=env)
    by_name = {s.name: s for s in config.sources}
    assert set(by_name) == {
        "claude-code", "codex", "studio", "haiku", "openai-tracker", "image-describer",
        "image-describer-workspace", "qc", "spool",
    }  # fmt: skip
    assert by_name["studio"].paths == (f"{work}/studio/output/**/run_*/tokens.jsonl",)
    assert by_name["openai-tracker"].paths == (f"{work}/openai-app/**/token_usage.json",)
    assert not by_name["image-describer-workspace"].enabled
    assert by_name["spool"].paths == (f"{home}/.local/state/llm-monitor/spool/*.jsonl",)

    with Ledger(config.ledger_path, config.tz, config.timezone_name) as ledger:
        report = Ingestor(config.sources, ledger, Pricer(config.prices)).scan()
    for name in ("claude-code", "codex", "studio", "haiku", "openai-tracker", "image-describer"):
        assert report.sources[name].events > 0, name
    assert report.sources["qc"].events > 0
    assert report.errors == 0
    assert set(found_sources(text)) == set(by_name) - {"spool", "image-describer-workspace"}


def test_paths_are_written_relative_to_home_for_readability(home: Path, work: Path) -> None:
    _, text = init(None, False, work, fake_env(home))
    assert '"~/.claude/projects/**/*.jsonl"' in text
    assert '"~/.codex/sessions/**/rollout-*.jsonl"' in text
    assert str(home) not in text


def test_agent_cli_homes_from_environment_variables(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".kimi" / "sessions").mkdir(parents=True)  # moved away by $KIMI_SHARE_DIR
    claude = tmp_path / "claude-a"
    (claude / "projects").mkdir(parents=True)
    codex = tmp_path / "codex-home"
    (codex / "sessions").mkdir(parents=True)
    kimi = tmp_path / "kimi-share"
    (kimi / "sessions").mkdir(parents=True)
    gemini = tmp_path / "gemini-home"
    (gemini / ".gemini" / "tmp").mkdir(parents=True)
    env = {
        **fake_env(home),
        "CLAUDE_CONFIG_DIR": f"{claude},{tmp_path}/none",
        "CODEX_HOME": str(codex),
        "KIMI_SHARE_DIR": str(kimi),
        "GEMINI_CLI_HOME": str(gemini),
    }
    path, text = init(tmp_path / "c.toml", False, home, env)
    sources = {s.name: s.paths for s in load_config(path, env=env).sources}
    assert sources["claude-code"] == (f"{claude}/projects/**/*.jsonl",)
    assert sources["codex"] == (
        f"{codex}/sessions/**/rollout-*.jsonl",
        f"{codex}/archived_sessions/**/rollout-*.jsonl",
    )
    assert sources["kimi"] == (f"{kimi}/sessions/**/wire.jsonl",)  # not ~/.kimi, nor ~/.kimi-code
    assert sources["gemini-cli"] == (f"{gemini}/.gemini/tmp/*/chats/**/*.jsonl",)
    assert sources["gemini-cli-json"] == (f"{gemini}/.gemini/tmp/*/chats/session-*.json",)
    assert f"# kimi: found in {kimi}/sessions\n" in text
    assert set(sources) == {
        "claude-code", "codex", "kimi", "gemini-cli", "gemini-cli-json", "spool",
    }  # fmt: skip


# -- every coding agent, found where it writes ---------------------------------------------


def test_each_coding_agent_is_found_when_its_default_location_exists(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".gemini" / "tmp" / "x" / "chats").mkdir(parents=True)
    (home / ".local" / "share" / "opencode").mkdir(parents=True)
    (home / ".factory" / "sessions").mkdir(parents=True)
    (home / ".codex" / "sessions").mkdir(parents=True)
    # An agent's home without the directory its usage goes to is no agent found:
    # settings only (Qwen Code, Copilot CLI), or a file where a directory belongs.
    (home / ".qwen").mkdir()
    (home / ".qwen" / "settings.json").write_text("{}")
    (home / ".copilot").mkdir()
    (home / ".local" / "share" / "kilo").write_text("not a directory")
    discovery = init_cmd.discover(home, fake_env(home))
    found = {f.name: f for f in discovery.found}
    assert list(found) == ["codex", "gemini-cli", "gemini-cli-json", "droid", "opencode"]
    assert all(f.format == f.name for f in found.values())
    assert found["gemini-cli"].paths == ["~/.gemini/tmp/*/chats/**/*.jsonl"]
    assert found["gemini-cli"].note == "gemini-cli: found in ~/.gemini/tmp"
    assert found["droid"].paths == ["~/.factory/sessions/**/*.settings.json"]
    # Not the old versions' storage/message/ JSON files: no storage/ to create them in.
    assert found["opencode"].paths == [
        "~/.local/share/opencode/opencode.db",
        "~/.local/share/opencode/opencode-*.db",
    ]
    assert found["opencode"].note == "opencode: found in ~/.local/share/opencode"
    # A glob whose directory the agent creates later in its home is written too.
    assert found["codex"].paths == [
        "~/.codex/sessions/**/rollout-*.jsonl",
        "~/.codex/archived_sessions/**/rollout-*.jsonl",
    ]
    assert found["codex"].note == "codex: found in ~/.codex/sessions"

    path, text = init(None, False, home, fake_env(home))
    assert "# Found: codex, gemini-cli, gemini-cli-json, droid, opencode.\n" in text
    config = load_config(path, env=fake_env(home))
    assert [s.name for s in config.sources] == [*found, "spool"]
    assert config.source("droid").paths == (f"{home}/.factory/sessions/**/*.settings.json",)


def _database(sql: Path, db: Path) -> None:
    db.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(db) as conn:
        conn.executescript(sql.read_text())
    conn.close()


def test_every_agent_found_in_a_home_of_examples_is_scanned(tmp_path: Path) -> None:
    """Each agent's examples laid out where the agent writes: `init` finds every format
    of DEFAULT_PATHS, and a scan of the config it writes reads usage from each."""
    home = tmp_path / "home"
    data = home / ".local" / "share"
    for example, where in (
        ("claude-code/projects", home / ".claude/projects"),
        ("codex/sessions", home / ".codex/sessions"),
        ("gemini-cli/tmp", home / ".gemini/tmp"),
        ("qwen-code/projects", home / ".qwen/projects"),
        ("amp/threads", data / "amp/threads"),
        ("copilot-cli/session-state", home / ".copilot/session-state"),
        ("pi/sessions", home / ".pi/agent/sessions"),
        ("openclaw/agents", home / ".openclaw/agents"),
        ("droid/sessions", home / ".factory/sessions"),
        ("kimi/kimi-cli/sessions", home / ".kimi/sessions"),
        ("kimi/kimi-code/sessions", home / ".kimi-code/sessions"),
        ("opencode/storage", data / "opencode/storage"),
    ):
        shutil.copytree(EXAMPLES / example, where)
    _database(EXAMPLES / "opencode/opencode.sql", data / "opencode/opencode.db")
    _database(EXAMPLES / "kilo/kilo.sql", data / "kilo/kilo.db")
    _database(EXAMPLES / "goose/sessions.sql", data / "goose/sessions/sessions.db")
    _database(EXAMPLES / "hermes/state.sql", home / ".hermes/state.db")

    env = fake_env(home)
    path, text = init(None, False, home, env)
    assert sorted(found_sources(text)) == sorted(DEFAULT_PATHS)
    config = load_config(path, env=env)
    with Ledger(config.ledger_path, config.tz, config.timezone_name) as ledger:
        report = Ingestor(config.sources, ledger, Pricer(config.prices)).scan(parallel=False)
    for name in DEFAULT_PATHS:
        assert report.sources[name].events > 0, name


def test_nothing_found_still_writes_a_loadable_config_with_the_spool(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = fake_env(home)
    path, text = init(None, False, home, env)
    assert "No known tool's usage files were found." in text
    assert "# [[budgets]]" in text
    assert [s.name for s in load_config(path, env=env).sources] == ["spool"]
    assert load_config(path, env=env).metrics.listen is None


def test_refuses_to_overwrite_without_force_and_names_the_file(home: Path, work: Path) -> None:
    env = fake_env(home)
    target = home / "mine.toml"
    target.write_text("# my own config\n")
    with pytest.raises(InitError, match=f"{target} already exists; use --force"):
        init(target, False, work, env)
    assert target.read_text() == "# my own config\n"
    path, text = init(target, True, work, env)
    assert path == target
    assert target.read_text() == text
    assert target.stat().st_mode & 0o777 == 0o600


def test_search_stays_within_its_depth_and_directory_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    deep = home.joinpath(*[f"d{i}" for i in range(init_cmd.MAX_DEPTH + 1)], ".costs")
    deep.mkdir(parents=True)
    shutil.copy(EXAMPLES / "novel/.costs/haiku_usage.json", deep)
    _, text = init(None, False, home, fake_env(home))
    assert "haiku" not in found_sources(text)

    for i in range(30):
        (home / f"many{i:02d}").mkdir()
    monkeypatch.setattr(init_cmd, "MAX_DIRS", 10)
    _, text = init(None, True, home, fake_env(home))
    assert "stopped after 10 directories" in text


# -- never llm-monitor's own sample files (issue 9) ---------------------------------------


def fake_checkout(at: Path, name: str = "llm-monitor") -> Path:
    """A clone of llm-monitor (pyproject naming the project) with its examples/."""
    at.mkdir(parents=True)
    (at / "pyproject.toml").write_text(f'[project]\nname = "{name}"\nversion = "0.1.0"\n')
    shutil.copytree(EXAMPLES, at / "examples")
    return at


def test_init_in_its_own_checkout_adopts_none_of_its_examples(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # A newcomer runs `llm-monitor init` in the clone: the examples would have become
    # their tools, and the daemon would have counted ~120 sample calls as their spending.
    from monitor.cli import main

    home = tmp_path / "home"
    home.mkdir()
    for key, value in fake_env(home).items():
        monkeypatch.setenv(key, value)
    for key in (*AGENT_VARIABLES - set(fake_env(home)), "LLM_MONITOR_CONFIG"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.chdir(REPO)
    assert main(["init"]) == 0
    out, err = capsys.readouterr()
    assert "sources: none found" in out
    assert f"not searched below {REPO}" in err
    path = home / ".config" / "llm-monitor" / "config.toml"
    text = path.read_text()
    assert list(found_sources(text)) == [] and "examples" not in text.replace(
        "its examples/ are", ""
    )
    config = load_config(path, env=fake_env(home))
    with Ledger(config.ledger_path, config.tz, config.timezone_name) as ledger:
        report = Ingestor(config.sources, ledger, Pricer(config.prices)).scan()
    assert sum(c.events for c in report.sources.values()) == 0


@pytest.mark.parametrize("below", [".", "examples", "examples/studio/output", "monitor"])
def test_nothing_inside_the_running_checkout_is_proposed(tmp_path: Path, below: str) -> None:
    home = tmp_path / "home"
    home.mkdir()
    discovery = init_cmd.discover(REPO / below, fake_env(home))
    assert discovery.found == [] and discovery.skipped == [REPO]


def test_agent_cli_homes_inside_the_checkout_are_not_adopted(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {
        **fake_env(home),
        "CLAUDE_CONFIG_DIR": str(EXAMPLES / "claude-code"),
        "CODEX_HOME": str(EXAMPLES / "codex"),
        "GEMINI_DATA_DIR": str(EXAMPLES / "gemini-cli" / "tmp"),
        "QWEN_HOME": str(EXAMPLES / "qwen-code"),
        "AMP_DATA_DIR": str(EXAMPLES / "amp"),
        "COPILOT_HOME": str(EXAMPLES / "copilot-cli"),
        "PI_AGENT_DIR": str(EXAMPLES / "pi" / "sessions"),
        "OPENCLAW_STATE_DIR": str(EXAMPLES / "openclaw"),
        "DROID_SESSIONS_DIR": str(EXAMPLES / "droid" / "sessions"),
        "KIMI_DATA_DIR": f"{EXAMPLES}/kimi/kimi-cli,{EXAMPLES}/kimi/kimi-code",
        "OPENCODE_DATA_DIR": str(EXAMPLES / "opencode"),
    }
    assert init_cmd.discover(home, env).found == []


def test_a_checkout_below_the_search_is_left_out_and_its_neighbours_found(
    home: Path, work: Path
) -> None:
    # Any clone counts, not only the one running: pip-installed llm-monitor run in ~/src.
    clone = fake_checkout(work / "llm-monitor", name="LLM_Monitor")
    nested = fake_checkout(work / "vendored" / "deps" / "llm-monitor")
    discovery = init_cmd.discover(work, fake_env(home))
    assert sorted(discovery.skipped) == sorted([clone, nested])
    for found in discovery.found:
        for path in found.paths:
            assert "llm-monitor" not in path and "vendored" not in path, path
    assert {f.name for f in discovery.found} >= {"studio", "haiku", "qc", "image-describer"}
    _, text = init(None, False, work, fake_env(home))
    assert "# Not searched: llm-monitor's own files (" in text
    assert str(clone) in text and str(nested) in text


def test_run_from_inside_any_clone_searches_nothing_below_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    clone = fake_checkout(tmp_path / "clone")
    for cwd in (clone, clone / "examples", clone / "examples" / "novel" / ".costs"):
        discovery = init_cmd.discover(cwd, fake_env(home))
        assert (discovery.found, discovery.skipped) == ([], [clone])


def test_other_projects_named_in_pyproject_are_searched(home: Path, work: Path) -> None:
    (work / "studio" / "pyproject.toml").write_text('[project]\nname = "llm-monitor-fork"\n')
    (work / "novel" / "pyproject.toml").write_text("not toml [")
    found = {f.name for f in init_cmd.discover(work, fake_env(home)).found}
    assert {"studio", "haiku"} <= found


def test_the_installation_directory_is_never_searched(
    home: Path, work: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An install without pyproject.toml (pip --target, a vendored copy): found by identity.
    import monitor

    installed = work / "vendor" / "monitor"
    run = installed / "data" / "output" / "tech" / "run_x"
    run.mkdir(parents=True)
    shutil.copy(EXAMPLES / "studio/output/tech/run_tech_baseline/tokens.jsonl", run)
    monkeypatch.setattr(monitor, "__file__", str(installed / "__init__.py"))
    discovery = init_cmd.discover(work, fake_env(home))
    assert discovery.skipped == [installed]
    [studio] = [f for f in discovery.found if f.name == "studio"]
    assert studio.paths == ["~/src/studio/output/**/run_*/tokens.jsonl"]
