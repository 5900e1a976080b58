"""`llm-monitor init` on a fake home: the written config loads and a real scan reads it all."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from monitor import init_cmd
from monitor.config import load_config
from monitor.ingest import Ingestor
from monitor.init_cmd import InitError, found_sources, init
from monitor.ledger import Ledger
from monitor.pricing import Pricer

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


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
    home.mkdir()
    claude = tmp_path / "claude-a"
    (claude / "projects").mkdir(parents=True)
    codex = tmp_path / "codex-home"
    (codex / "sessions").mkdir(parents=True)
    env = {
        **fake_env(home),
        "CLAUDE_CONFIG_DIR": f"{claude},{tmp_path}/none",
        "CODEX_HOME": str(codex),
    }
    path, _ = init(tmp_path / "c.toml", False, home, env)
    sources = {s.name: s.paths for s in load_config(path, env=env).sources}
    assert sources["claude-code"] == (f"{claude}/projects/**/*.jsonl",)
    assert sources["codex"] == (f"{codex}/sessions/**/rollout-*.jsonl",)


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
