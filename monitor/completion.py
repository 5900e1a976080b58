"""Shell completion scripts for bash, zsh and fish, generated from the argparse parser.

`completion_script(shell)` walks `monitor.cli.build_parser()` — subcommands (nested
ones too), their options, the choices of options and positionals — into a small tree,
and renders that tree as a self-contained script for the shell. Nothing is evaluated
when the user presses TAB but the shell's own code: no Python start-up per keystroke.

Completed: subcommand names; options (those of the command typed so far); an option's
value from its `choices`, or file names for path-like options (`--config PATH`); a
positional's `choices` (`completion bash|zsh|fish`). Free values (`--since DATE`)
complete nothing rather than something wrong.

Install (also in docs/integrations.md):
    bash: llm-monitor completion bash > ~/.local/share/bash-completion/completions/llm-monitor
    zsh:  llm-monitor completion zsh > "${fpath[1]}/_llm-monitor"   (or `source <(…)`)
    fish: llm-monitor completion fish > ~/.config/fish/completions/llm-monitor.fish

argparse keeps subparsers and actions in underscore attributes; they are the only way
to introspect a parser (shtab and argcomplete read them too).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Final, Literal

Shell = Literal["bash", "zsh", "fish"]
SHELLS: Final[tuple[str, ...]] = ("bash", "zsh", "fish")
PROG: Final = "llm-monitor"
_FUNC: Final = "_llm_monitor"
_PATH_WORDS: Final = ("PATH", "FILE", "DIR")


@dataclass(frozen=True, slots=True)
class Option:
    flags: tuple[str, ...]
    help: str
    takes_value: bool
    choices: tuple[str, ...] = ()
    files: bool = False


@dataclass(slots=True)
class Command:
    """One level of the command line: `llm-monitor`, `llm-monitor budget`, …"""

    path: tuple[str, ...]
    help: str = ""
    options: list[Option] = field(default_factory=list)
    commands: dict[str, Command] = field(default_factory=dict)
    positional_choices: tuple[str, ...] = ()

    def walk(self) -> Iterator[Command]:
        yield self
        for c in self.commands.values():
            yield from c.walk()

    @property
    def key(self) -> str:
        return "/".join(self.path)


def _help(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    if not action.help or action.help == argparse.SUPPRESS:
        return ""
    try:
        text = parser._get_formatter()._expand_help(action)
    except (KeyError, TypeError, ValueError):
        text = action.help
    return " ".join(text.split())


def command_tree(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Command:
    """The completion-relevant structure of `parser` and its subparsers."""
    cmd = Command(path, " ".join((parser.description or "").split()))
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: _help(parser, a) for a in action._choices_actions}
            for name, sub in action.choices.items():
                child = command_tree(sub, (*path, name))
                child.help = helps.get(name) or child.help
                cmd.commands[name] = child
        elif action.option_strings:
            if action.help == argparse.SUPPRESS:
                continue
            metavar = str(action.metavar or action.dest or "").upper()
            cmd.options.append(
                Option(
                    flags=tuple(action.option_strings),
                    help=_help(parser, action),
                    takes_value=action.nargs != 0,
                    choices=tuple(str(c) for c in action.choices or ()),
                    files=any(w in metavar for w in _PATH_WORDS),
                )
            )
        elif action.choices:
            cmd.positional_choices += tuple(str(c) for c in action.choices)
    return cmd


def completion_script(shell: str, parser: argparse.ArgumentParser | None = None) -> str:
    """The completion script for `shell` (bash, zsh or fish); ValueError for another."""
    if parser is None:
        from monitor.cli import build_parser

        parser = build_parser()
    tree = command_tree(parser)
    if shell == "bash":
        return _bash(tree)
    if shell == "zsh":
        return _zsh(tree)
    if shell == "fish":
        return _fish(tree)
    raise ValueError(f"unknown shell {shell!r}: expected one of {', '.join(SHELLS)}")


# ---------------------------------------------------------------- bash and zsh


def _sh_quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def _value_options(tree: Command) -> list[tuple[str, Option]]:
    """(case pattern, option) of every option that takes a value: `"budget|--period"`."""
    return [
        ("|".join(f'"{c.key}|{flag}"' for flag in o.flags), o)
        for c in tree.walk()
        for o in c.options
        if o.takes_value
    ]


def _sh_dispatch(
    tree: Command,
    loop: str,
    word: str,
    prev: str,
    value: Callable[[Option], str],
    word_arms: list[str],
) -> list[str]:
    """The body of the bash and zsh functions, which differ only in how the shell names
    the typed words (`loop`, `word`, `prev`), completes a value and offers words.

    It walks the words before the cursor with `cmdpath` ("", "budget", "budget/set":
    the subcommand typed so far; not `path`, which zsh ties to $PATH), entering
    subcommands and skipping option values; after an option that takes a value it
    completes that value (`value(option)`, ending in a return); else `word_arms` set
    the command's options and words.
    """
    return [
        f"    for (( {loop}; i++ )); do",
        f'        w="{word}"',
        "        if (( skip )); then skip=0; continue; fi",
        '        case "$cmdpath|$w" in',
        *(f"            {pats}) skip=1 ;;" for pats, _ in _value_options(tree)),
        *(
            f'            "{c.key}|{name}") cmdpath={_sh_quote(child.key)} ;;'
            for c in tree.walk()
            for name, child in c.commands.items()
        ),
        "        esac",
        "    done",
        f"    {prev}",
        "    if (( skip )); then",
        '        case "$cmdpath|$prev" in',
        *(f"            {pats}) {value(opt)} ;;" for pats, opt in _value_options(tree)),
        "        esac",
        "    fi",
        '    case "$cmdpath" in',
        *word_arms,
        "    esac",
    ]


def _bash_value(opt: Option) -> str:
    if opt.choices:
        action = f'COMPREPLY=($(compgen -W {_sh_quote(" ".join(opt.choices))} -- "$cur"))'
    elif opt.files:
        action = 'compopt -o filenames 2>/dev/null; COMPREPLY=($(compgen -f -- "$cur"))'
    else:
        action = "COMPREPLY=()"
    return f"{action}; return 0"


def _bash(tree: Command) -> str:
    word_arms: list[str] = []
    for c in tree.walk():
        options = sorted(f for o in c.options for f in o.flags)
        words = sorted(c.commands) + sorted(c.positional_choices)
        word_arms.append(
            f'        "{c.key}") opts={_sh_quote(" ".join(options))}; '
            f"words={_sh_quote(' '.join(words))} ;;"
        )
    return "\n".join(
        [
            f"# bash completion for {PROG} (generated by `{PROG} completion bash`)",
            f"{_FUNC}() {{",
            '    local cur="${COMP_WORDS[COMP_CWORD]}" prev="" cmdpath="" skip=0 i w opts words',
            *_sh_dispatch(
                tree,
                loop="i = 1; i < COMP_CWORD",
                word="${COMP_WORDS[i]}",
                prev='(( COMP_CWORD > 0 )) && prev="${COMP_WORDS[COMP_CWORD-1]}"',
                value=_bash_value,
                word_arms=word_arms,
            ),
            '    if [[ "$cur" == -* || -z "$words" ]]; then',
            '        COMPREPLY=($(compgen -W "$opts" -- "$cur"))',
            "    else",
            '        COMPREPLY=($(compgen -W "$words" -- "$cur"))',
            "    fi",
            "}",
            f"complete -F {_FUNC} {PROG}",
            "",
        ]
    )


def _zsh_item(name: str, help: str) -> str:
    """One `_describe` entry, "name:description", colons in the name escaped."""
    entry = name.replace(":", "\\:") + (":" + help if help else "")
    return _sh_quote(entry)


def _zsh_value(opt: Option) -> str:
    if opt.choices:
        return f"compadd -- {' '.join(_sh_quote(c) for c in opt.choices)}; return"
    return f"{'_files' if opt.files else ':'}; return"


def _zsh(tree: Command) -> str:
    word_arms: list[str] = []
    for c in tree.walk():
        opts = [_zsh_item(f, o.help) for o in c.options for f in o.flags]
        cmds = [_zsh_item(n, sub.help) for n, sub in sorted(c.commands.items())]
        cmds += [_zsh_item(v, "") for v in c.positional_choices]
        word_arms.append(f'        "{c.key}")')
        word_arms.append(f"            opts=({' '.join(opts)})")
        word_arms.append(f"            cmds=({' '.join(cmds)}) ;;")
    return "\n".join(
        [
            f"#compdef {PROG}",
            f"# zsh completion for {PROG} (generated by `{PROG} completion zsh`)",
            f"{_FUNC}() {{",
            "    local cmdpath='' prev='' w",
            "    local -i i skip=0",
            "    local -a opts cmds",
            *_sh_dispatch(
                tree,
                loop="i = 2; i < CURRENT",
                word="${words[i]}",
                prev='(( CURRENT > 1 )) && prev="${words[CURRENT-1]}"',
                value=_zsh_value,
                word_arms=word_arms,
            ),
            '    if [[ "${words[CURRENT]}" == -* || ${#cmds} -eq 0 ]]; then',
            "        _describe -t options option opts",
            "    else",
            "        _describe -t commands command cmds",
            "    fi",
            "}",
            "if [[ $zsh_eval_context[-1] == loadautofunc ]]; then",
            f'    {_FUNC} "$@"',
            "else",
            f"    compdef {_FUNC} {PROG}",
            "fi",
            "",
        ]
    )


# ---------------------------------------------------------------- fish


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish_condition(cmd: Command) -> str:
    if not cmd.path:
        return "__fish_use_subcommand"
    parts = [f"__fish_seen_subcommand_from {name}" for name in cmd.path]
    if cmd.commands:
        parts.append("not __fish_seen_subcommand_from " + " ".join(sorted(cmd.commands)))
    return "; and ".join(parts)


def _fish(tree: Command) -> str:
    lines = [
        f"# fish completion for {PROG} (generated by `{PROG} completion fish`)",
        f"complete -c {PROG} -f",
    ]
    for c in tree.walk():
        cond = _fish_quote(_fish_condition(c))
        for name, sub in sorted(c.commands.items()):
            desc = f" -d {_fish_quote(sub.help)}" if sub.help else ""
            lines.append(f"complete -c {PROG} -n {cond} -a {_fish_quote(name)}{desc}")
        if c.positional_choices:
            choices = _fish_quote(" ".join(c.positional_choices))
            lines.append(f"complete -c {PROG} -n {cond} -a {choices}")
        for o in c.options:
            spec = []
            for flag in o.flags:
                if flag.startswith("--"):
                    spec.append(f"-l {flag[2:]}")
                elif len(flag) == 2:
                    spec.append(f"-s {flag[1]}")
                else:
                    spec.append(f"-o {flag[1:]}")
            if o.takes_value:
                if o.choices:
                    spec.append(f"-x -a {_fish_quote(' '.join(o.choices))}")
                elif o.files:
                    spec.append("-r -F")
                else:
                    spec.append("-x")
            if o.help:
                spec.append(f"-d {_fish_quote(o.help)}")
            lines.append(f"complete -c {PROG} -n {cond} {' '.join(spec)}")
    lines.append("")
    return "\n".join(lines)


__all__ = ["SHELLS", "Command", "Option", "command_tree", "completion_script"]
