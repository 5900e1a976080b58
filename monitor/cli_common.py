"""What every `llm-monitor` command shares: exit codes, the error that carries one,
`KEY=VALUE` options, the quick reading of a frequent command's few arguments, and opening
the config and the ledger the way commands do (cheaply: imports happen inside).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, cast

if TYPE_CHECKING:
    import argparse

    from monitor.config import Config

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2


class CommandError(Exception):
    """A failure to report on stderr with an exit code; no traceback."""

    def __init__(self, message: str, code: int = EXIT_FAIL) -> None:
        super().__init__(message)
        self.code = code


def key_values(items: Iterable[str] | None, option: str) -> dict[str, str]:
    """The `KEY=VALUE` items of a repeatable option (`--tag`, `--where`) as a dict;
    anything else is a usage error naming the option."""
    pairs: dict[str, str] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise CommandError(f"{option} expects KEY=VALUE, got {item!r}", EXIT_USAGE)
        pairs[key] = value
    return pairs


def quick_args(
    argv: Sequence[str],
    command: str,
    func: Callable[[argparse.Namespace], int],
    *,
    flags: Sequence[str] = (),
    choices: Mapping[str, Sequence[str]] = {},
) -> argparse.Namespace | None:
    """The arguments of a command run every few seconds (`statusline`, `status`) read
    without argparse: importing it, gettext and locale compiles regexes, ~10 ms of a
    100 ms command. `--config`, `-v`, the command's `flags` (`--json` → json=True) and its
    `choices` (`--format X`, the first choice its default) are read as argparse reads them;
    anything else (`--help`, a typo, a value not among the choices) gives None, and argparse
    then reads the line and gives its messages."""
    from types import SimpleNamespace

    opts: dict[str, Any] = {"config": None, "verbose": False}
    opts.update(dict.fromkeys(flags, False))
    opts.update({name: allowed[0] for name, allowed in choices.items()})
    named = False
    args = iter(argv)
    for arg in args:
        name, eq, value = arg.partition("=")
        if arg == command and not named:
            named = True
        elif arg in ("-v", "--verbose"):
            opts["verbose"] = True
        elif arg[:2] == "--" and arg[2:] in flags:
            opts[arg[2:]] = True
        elif name == "--config" or name[2:] in choices:
            value = value if eq else next(args, "-")  # argparse takes no "-…" as a value
            allowed = choices.get(name[2:])
            if not value or value.startswith("-") and not eq:
                return None
            if allowed is not None and value not in allowed:
                return None
            opts[name[2:]] = value
        else:
            return None
    return cast("argparse.Namespace", SimpleNamespace(command=command, func=func, **opts))


def config_of(args: argparse.Namespace) -> Config:
    from monitor.config import load_config

    return load_config(args.config)


def open_ledger(config: Config, *, readonly: bool) -> Any:
    from monitor.ledger import Ledger

    path = config.ledger_path
    if readonly and not path.exists():
        raise CommandError(
            f"no ledger yet at {path}: run `llm-monitor scan` (or start the daemon) first"
        )
    return Ledger(path, config.tz, config.timezone_name, readonly=readonly)


_T = TypeVar("_T")


def read_ledger(config: Config, read: Callable[[Any], _T]) -> _T:
    """`read(ledger)` on the ledger opened read-only. A file SQLite cannot read (not a
    database, or not llm-monitor's) is a failure naming the file, not a traceback."""
    import sqlite3

    try:
        with open_ledger(config, readonly=True) as ledger:
            return read(ledger)
    except sqlite3.DatabaseError as exc:
        raise CommandError(f"{config.ledger_path}: cannot read the ledger: {exc}") from None
