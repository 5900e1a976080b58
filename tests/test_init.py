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

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"


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
    for key in ("CLAUDE_CONFIG_DIR", "CODEX_HOME", "LLM_MONITOR_CONFIG"):
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
