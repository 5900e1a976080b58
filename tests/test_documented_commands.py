"""Every `llm-monitor …` command the README and docs/ show runs, on a populated ledger.

The commands are read from the Markdown, not copied here: from shell code blocks, and
from inline code spans that start with `llm-monitor ` (the command tables of
docs/tools.md). A code block is one script, run in order the way a reader types it
(`budget set` before `budget rm`); each inline span is a script of its own. Every
script starts from the same world: copies of examples/ under a config naming them the
way the docs do, ingested once with `scan`.

Each command runs in this process through `monitor.cli.main(argv)`, argv exactly as
documented: the world's config comes from `$LLM_MONITOR_CONFIG`, and `$HOME`, the XDG
directories and the current directory point into the world, so `init` writes the
world's "user config" and never the real one. The bar is the one a reader has: exit 0
and no traceback. Issue 9 started with the README's own `report --since … --until …`
crashing on a fresh machine.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import shutil
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from monitor.cli import build_parser, main

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
DOCUMENTS = (REPO / "README.md", *sorted((REPO / "docs").glob("*.md")))

SKIPPED: dict[str, str] = {
    # Subcommands that are never run here, each with the reason. Everything else runs.
    "run": "starts a daemon in the background and opens the dashboard (a TUI)",
    "dash": "opens the dashboard (a TUI) on a running daemon",
    "demo": "starts a daemon and a simulator, then opens the dashboard (a TUI)",
    "daemon": "runs the service in the foreground until it is signalled",
    "notify-test": "sends a message to every configured notification target",
    "service": "writes a systemd user unit and runs systemctl --user",
    "web": "serves the dashboard in a browser until it is signalled",
}
"""Output redirections (`completion bash > ~/.local/share/…`, `> token_summary.json`)
and pipes are never followed: the command runs, its output goes to the test, so no
completion script or report is installed anywhere."""

ELLIPSIS = "…"
"""`llm-monitor log …` and `report --by tag:…` elide their arguments: prose, not commands."""

SHELL_FENCES = frozenset({"", "sh", "bash", "shell", "console", "zsh"})

REPLY = {
    "id": "chatcmpl-docs-1",
    "model": "gpt-4o-mini-2024-07-18",
    "usage": {
        "prompt_tokens": 1200,
        "completion_tokens": 300,
        "prompt_tokens_details": {"cached_tokens": 0},
    },
}
"""The `reply.json` that docs/integrations.md's `log` example reads with jq."""


# -- reading the commands out of the Markdown ---------------------------------------------


class Command(NamedTuple):
    where: str
    """`docs/tools.md:58`"""
    text: str
    """As written, after command substitution, up to a pipe, redirection or comment."""
    argv: tuple[str, ...]
    """The arguments after `llm-monitor`."""
    inline: bool = False
    """From an inline code span (prose or a table), not a code block."""


@dataclass(frozen=True)
class Script:
    where: str
    commands: tuple[Command, ...]


def _jq(words: list[str]) -> str:
    """`jq [-r] '.a.b // default' reply.json` over REPLY: the few filters the docs use."""
    raw = "-r" in words
    rest = [w for w in words[1:] if w != "-r"]
    assert len(rest) == 2 and rest[1] == "reply.json", words
    path, _, fallback = (p.strip() for p in rest[0].partition("//"))
    value: Any = REPLY
    for key in path.strip(".").split("."):
        value = value.get(key) if isinstance(value, dict) else None
    if value is None and fallback:
        value = json.loads(fallback)
    return str(value) if raw or not isinstance(value, str) else json.dumps(value)


def _date(words: list[str]) -> str:
    """GNU `date -d 'N days ago' +%F`."""
    m = re.fullmatch(r"date -d (\d+) days ago \+%F", " ".join(words))
    assert m, words
    return (date.today() - timedelta(days=int(m[1]))).isoformat()


SUBSTITUTIONS: dict[str, Callable[[list[str]], str]] = {
    # `$(…)` in documented commands, by the program they run.
    "jq": _jq,
    "date": _date,
    "hostname": lambda _: "docs-host",
}


def _closing(text: str, start: int) -> int:
    """Index of the `)` closing the parenthesis just before `start`."""
    depth, quote, i = 1, "", start
    while i < len(text):
        c = text[i]
        if quote:
            if c == quote:
                quote = ""
        elif c in "'\"":
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if not depth:
                return i
        i += 1
    raise AssertionError(f"unbalanced parenthesis in {text!r}")


def _substitute(text: str, where: str) -> str:
    while (start := text.find("$(")) >= 0:
        end = _closing(text, start + 2)
        words = shlex.split(text[start + 2 : end])
        run = SUBSTITUTIONS.get(words[0])
        if run is None:
            pytest.fail(f"{where}: add `$({words[0]} …)` to SUBSTITUTIONS")
        text = text[:start] + run(words) + text[end + 1 :]
    return text


def _command(text: str, where: str, *, inline: bool = False) -> Command:
    """`llm-monitor ARGS…` up to the end of the shell command (pipe, redirection, `;`,
    `&&`, closing parenthesis, comment)."""
    lexer = shlex.shlex(_substitute(text, where), posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    words: list[str] = []
    for word in lexer:
        if word and all(c in lexer.punctuation_chars for c in word):
            break
        words.append(word)
    assert words[0] == "llm-monitor", (where, text)
    return Command(where, shlex.join(words), tuple(words[1:]), inline)


# In a shell line a command starts the line or follows `$(`, `<(`, `|`, `;` or `&`;
# `systemctl --user enable --now llm-monitor` names the unit, not a command.
_SHELL_START = re.compile(r"(?:^\s*|\$\(\s*|<\(\s*|[|;&]\s*)(llm-monitor)(?=\s|$)")
_SPAN = re.compile(r"(?<!`)`(llm-monitor\s[^`]*)`(?!`)")


def _shell_commands(line: str, where: str) -> list[Command]:
    found = []
    for m in _SHELL_START.finditer(line):
        start = m.start(1)
        before = line[:start].rstrip()
        end = _closing(line, start) if before.endswith("(") else len(line)
        found.append(_command(line[start:end], where))
    return found


def _scripts(document: Path) -> Iterator[Script]:
    name = document.relative_to(REPO).as_posix()
    lines = document.read_text(encoding="utf-8").splitlines()
    fence: str | None = None
    block: list[Command] = []
    block_at = 0
    pending = ""
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if stripped.startswith("```"):
            if fence is None:
                fence, block, block_at = stripped[3:].strip().lower(), [], number
            else:
                if block:
                    yield Script(f"{name}:{block_at}", tuple(block))
                fence = None
            continue
        if fence is not None:
            if fence not in SHELL_FENCES:
                continue
            # A trailing backslash continues the command on the next line.
            pending += line[:-1] + " " if line.endswith("\\") else line
            if not line.endswith("\\"):
                block += _shell_commands(pending, f"{name}:{number}")
                pending = ""
            continue
        for m in _SPAN.finditer(line.replace("\\|", "|")):  # `\|` is `|` in a table cell
            command = _command(m[1], f"{name}:{number}", inline=True)
            yield Script(f"{name}:{number}", (command,))


_SUBCOMMANDS: dict[str, argparse.ArgumentParser] = next(
    a.choices
    for a in build_parser()._actions
    if isinstance(a, argparse._SubParsersAction) and a.dest == "command"
)


def _runnable(command: Command) -> str | None:
    """Why `command` is not run, or None."""
    if any(ELLIPSIS in word for word in command.argv):
        return "elided arguments"
    sub = next((w for w in command.argv if not w.startswith("-")), None)
    if sub in SKIPPED:
        return SKIPPED[sub]
    if command.inline and command.argv == (sub,) and sub in _SUBCOMMANDS:
        # Prose names a command that needs arguments ("what `llm-monitor log` writes").
        if any(a.required for a in _SUBCOMMANDS[sub]._actions):
            return "a command named in prose, without its required arguments"
    return None


SCRIPTS = [s for doc in DOCUMENTS for s in _scripts(doc)]
RUNNABLE = [s for s in SCRIPTS if any(_runnable(c) is None for c in s.commands)]


# -- the world the commands run in --------------------------------------------------------


ALIASES = (
    # The docs name runs and workflows of their own that examples/ lacks; copies under
    # those names give `compare` and `estimate --like` calls to work on (without them
    # `estimate --like tag.workflow=wf_test_run` is a clean "no recorded calls" error).
    ("studio/output/tech/run_tech_20260228_123456", "studio/output/tech/run_tech_with_scopes"),
    (
        "image-describer/Descriptions/wf_openai_gpt-4o_narrative_20251007",
        "image-describer/Descriptions/wf_claude_sonnet-45_narrative_20251007",
    ),
    (
        "image-describer/Descriptions/wf_openai_gpt-4o_narrative_20251007",
        "image-describer/Descriptions/wf_test_run",
    ),
)
MUTABLE = ("etc", "state", "home", "run")
"""What commands write (config dir with budgets.toml, ledger and spool, the user config
`init` writes, the socket dir); restored before each script. The tools' files are only
read, so their identities (which the ledger's cursors record) stay as scanned."""


def _config_text(root: Path) -> str:
    tools = root / "tools"
    sources = [
        ("claude-code", "claude-code", f"{tools}/claude-code/projects/**/*.jsonl"),
        ("codex", "codex", f"{tools}/codex/sessions/**/rollout-*.jsonl"),
        ("studio", "studio-tokens", f"{tools}/studio/output/**/run_*/tokens.jsonl"),
        ("haiku", "haiku-costs", f"{tools}/novel/.costs/haiku_usage.json"),
        ("openai-tracker", "openai-tracker", f"{tools}/openai-app/token_usage.json"),
        (
            "image-describer",
            "image-describer-log",
            f"{tools}/image-describer/Descriptions/wf_*/logs/image_describer_*.log",
        ),
        ("qc", "qc-usage-log", f"{tools}/qc/logs/usage*.jsonl"),
    ]
    text = (
        f'[monitor]\ntimezone = "Europe/Berlin"\nstate_dir = "{root / "state"}"\n'
        f'socket = "{root / "run" / "llm-monitor.sock"}"\n'
    )
    for name, fmt, path in sources:
        text += f'\n[[sources]]\nname = "{name}"\nformat = "{fmt}"\npaths = ["{path}"]\n'
    return text


def _enter(root: Path, mp: pytest.MonkeyPatch) -> None:
    home = root / "home"
    mp.setenv("HOME", str(home))
    mp.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    mp.setenv("XDG_STATE_HOME", str(home / ".local" / "state"))
    mp.setenv("XDG_RUNTIME_DIR", str(root / "run"))
    mp.setenv("LLM_MONITOR_CONFIG", str(root / "etc" / "config.toml"))
    for name in ("CLAUDE_CONFIG_DIR", "CODEX_HOME", "NOTIFY_SOCKET"):
        mp.delenv(name, raising=False)
    mp.chdir(root)


class Outcome(NamedTuple):
    code: int | None
    out: str
    err: str


def run(argv: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> Outcome:
    """`llm-monitor ARGV` in this process; code None: an exception escaped `main`."""
    try:
        code: int | None = main(list(argv))
    except SystemExit as exc:  # argparse
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except Exception:
        code = None
        traceback.print_exc()
    out, err = capsys.readouterr()
    return Outcome(code, out, err)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """(world root, pristine copy of its writable part), scanned once."""
    root = tmp_path_factory.mktemp("docs-world")
    for name in ("claude-code", "codex", "studio", "novel", "openai-app", "image-describer", "qc"):
        shutil.copytree(EXAMPLES / name, root / "tools" / name)
    for src, dst in ALIASES:
        shutil.copytree(EXAMPLES / src, root / "tools" / dst)
    for name in MUTABLE:
        (root / name).mkdir()
    (root / "etc" / "config.toml").write_text(_config_text(root))
    shutil.copytree(EXAMPLES / "spool", root / "state" / "spool")
    with pytest.MonkeyPatch.context() as mp:
        _enter(root, mp)
        assert main(["scan"]) == 0
    pristine = tmp_path_factory.mktemp("docs-world-pristine")
    for name in MUTABLE:
        shutil.copytree(root / name, pristine / name)
    yield root, pristine


@pytest.fixture
def world(template: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Path:
    root, pristine = template
    for name in MUTABLE:
        shutil.rmtree(root / name)
        shutil.copytree(pristine / name, root / name)
    _enter(root, monkeypatch)
    return root


# -- the tests ----------------------------------------------------------------------------


@pytest.mark.parametrize("script", RUNNABLE, ids=lambda s: s.where)
def test_documented_command_runs(
    script: Script, world: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    failures = []
    for command in script.commands:
        if _runnable(command) is not None:
            continue
        got = run(command.argv, capsys)
        if got.code != 0 or "Traceback" in got.err:
            failures.append(f"{command.where}: llm-monitor {shlex.join(command.argv)}\n"
                            f"  exit {got.code}\n  {got.err.strip()}")  # fmt: skip
    assert not failures, "\n".join(failures)


def test_the_docs_show_the_commands_this_test_relies_on() -> None:
    # The extraction must keep finding commands, including issue 9's first crash.
    texts = {c.text for s in SCRIPTS for c in s.commands}
    assert len(texts) >= 60, sorted(texts)
    readme = "llm-monitor report --by model --since 2026-11-01 --until 2026-11-30"
    assert readme in texts, sorted(texts)
    # A redirection ends the command; a `$(…)` is substituted; a table's `\|` is a pipe.
    assert "llm-monitor completion bash" in texts
    assert any(c.startswith("llm-monitor report --source qc --since 20") for c in texts)
    assert "llm-monitor report --source qc --by provider --format json" in texts
    assert "llm-monitor completion zsh" in texts  # from `source <(llm-monitor completion zsh)`
    assert not any("systemctl" in c or "journalctl" in c for c in texts)


def test_skipped_commands_are_real_and_documented() -> None:
    commands = _SUBCOMMANDS
    documented = {_runnable(c) for s in SCRIPTS for c in s.commands}
    for name, reason in SKIPPED.items():
        assert name in commands, f"SKIPPED names {name!r}, which is no llm-monitor command"
        assert reason in documented, f"{name!r} is skipped but no document shows it any more"
