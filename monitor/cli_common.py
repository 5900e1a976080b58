"""What every `llm-monitor` command shares: exit codes, the error that carries one,
`KEY=VALUE` options, and opening the config and the ledger the way commands do (cheaply:
imports happen inside).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

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
