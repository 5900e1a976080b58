"""Shell completion generated from the real parser: bash runs it, zsh and fish check it."""

from __future__ import annotations

import argparse
import shutil
import subprocess
from pathlib import Path

import pytest

from monitor.cli import build_parser
from monitor.completion import command_tree, completion_script

RUN_COMPLETION = r"""
source "$1"; shift
COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 ))
_llm_monitor
printf '%s\n' "${COMPREPLY[@]}"
"""


def complete_bash(script: str, *words: str, cwd: Path) -> list[str]:
    """What bash offers for the command line `words` (the last one is being typed)."""
    path = cwd / ".completion.bash"
    path.write_text(script)
    result = subprocess.run(
        ["bash", "-c", RUN_COMPLETION, "_", str(path), *words],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=10,
    )
    path.unlink()
    assert result.returncode == 0, result.stderr
    return [w for w in result.stdout.split("\n") if w]


@pytest.fixture(scope="module")
def bash_script() -> str:
    return completion_script("bash")


@pytest.mark.e2e
def test_bash_script_is_valid_bash(bash_script: str, tmp_path: Path) -> None:
    (tmp_path / "c.bash").write_text(bash_script)
    subprocess.run(["bash", "-n", str(tmp_path / "c.bash")], check=True, timeout=10)


@pytest.mark.e2e
def test_bash_completes_a_subcommand_prefix(bash_script: str, tmp_path: Path) -> None:
    assert complete_bash(bash_script, "llm-monitor", "re", cwd=tmp_path) == ["report", "reprice"]


@pytest.mark.e2e
def test_bash_completes_options_of_the_command_typed(bash_script: str, tmp_path: Path) -> None:
    assert complete_bash(bash_script, "llm-monitor", "status", "--j", cwd=tmp_path) == ["--json"]
    assert "--json" not in complete_bash(bash_script, "llm-monitor", "scan", "--", cwd=tmp_path)


@pytest.mark.e2e
def test_bash_completes_option_choices(bash_script: str, tmp_path: Path) -> None:
    offered = complete_bash(bash_script, "llm-monitor", "report", "--format", "", cwd=tmp_path)
    assert offered == ["text", "json", "csv"]


@pytest.mark.e2e
def test_bash_completes_files_after_a_path_option(bash_script: str, tmp_path: Path) -> None:
    (tmp_path / "status.toml").write_text("")
    offered = complete_bash(bash_script, "llm-monitor", "--config", "st", cwd=tmp_path)
    assert offered == ["status.toml"]
    # The option's value is skipped: the next word is a subcommand again.
    offered = complete_bash(bash_script, "llm-monitor", "--config", "x.toml", "sta", cwd=tmp_path)
    assert offered == ["status", "statusline"]


@pytest.mark.e2e
def test_bash_follows_nested_subcommands(bash_script: str, tmp_path: Path) -> None:
    assert complete_bash(bash_script, "llm-monitor", "budget", "s", cwd=tmp_path) == ["set"]
    offered = complete_bash(bash_script, "llm-monitor", "budget", "set", "--p", cwd=tmp_path)
    assert offered == ["--period"]


@pytest.mark.e2e
def test_positional_choices_complete(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser(prog="llm-monitor")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("completion", help="print a shell completion script").add_argument(
        "shell", choices=["bash", "zsh", "fish"]
    )
    script = completion_script("bash", parser)
    assert complete_bash(script, "llm-monitor", "completion", "", cwd=tmp_path) == [
        "bash", "fish", "zsh",
    ]  # fmt: skip


def test_zsh_script_has_every_command() -> None:
    script = completion_script("zsh")
    assert script.startswith("#compdef llm-monitor\n")
    tree = command_tree(build_parser())
    for name in tree.commands:
        assert f"'{name}:" in script, name
    assert "compdef _llm_monitor llm-monitor" in script


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_script_is_valid_zsh(tmp_path: Path) -> None:
    (tmp_path / "_llm-monitor").write_text(completion_script("zsh"))
    subprocess.run(["zsh", "-n", str(tmp_path / "_llm-monitor")], check=True, timeout=10)


# zsh's completion system needs a terminal; these stand-ins print what would be offered.
RUN_ZSH_COMPLETION = r"""
compdef() { :; }
_describe() { local arr=${@[-1]}; print -l -- "${(@P)arr}" | cut -d: -f1 | tr -d "'"; }
compadd() { shift; print -l -- "$@"; }
_files() { print FILES; }
source "$1"; shift
words=("$@"); CURRENT=$#
_llm_monitor
"""


def complete_zsh(script: str, *words: str, cwd: Path) -> list[str]:
    """What zsh offers for the command line `words` (the last one is being typed)."""
    path = cwd / "_llm-monitor"
    path.write_text(script)
    result = subprocess.run(
        ["zsh", "-f", "-c", RUN_ZSH_COMPLETION, "_", str(path), *words],
        capture_output=True,
        text=True,
        timeout=10,
    )
    assert result.returncode == 0, result.stderr
    return [w for w in result.stdout.split() if w.startswith(words[-1])]


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_follows_nested_subcommands_and_option_values(tmp_path: Path) -> None:
    script = completion_script("zsh")
    assert complete_zsh(script, "llm-monitor", "re", cwd=tmp_path) == ["report", "reprice"]
    assert complete_zsh(script, "llm-monitor", "budget", "", cwd=tmp_path) == ["list", "rm", "set"]
    offered = complete_zsh(script, "llm-monitor", "budget", "set", "--p", cwd=tmp_path)
    assert offered == ["--period"]
    offered = complete_zsh(script, "llm-monitor", "report", "--format", "", cwd=tmp_path)
    assert offered == ["text", "json", "csv"]


def test_fish_script_has_every_command() -> None:
    script = completion_script("fish")
    tree = command_tree(build_parser())
    for name in tree.commands:
        assert f"-n '__fish_use_subcommand' -a '{name}'" in script, name
    assert "-l config -r -F" in script
    assert "-l format -x -a 'text json csv'" in script


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_fish_script_is_valid_fish(tmp_path: Path) -> None:
    (tmp_path / "llm-monitor.fish").write_text(completion_script("fish"))
    subprocess.run(["fish", "--no-execute", str(tmp_path / "llm-monitor.fish")], check=True)


def test_unknown_shell_is_refused() -> None:
    with pytest.raises(ValueError, match="expected one of bash, zsh, fish"):
        completion_script("powershell")
