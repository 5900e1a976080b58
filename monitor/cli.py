"""`llm-monitor …`: the command line's entry point — which command, then run it.

argparse, not click: `report` and `status` must answer in a few tens of milliseconds
including interpreter start-up, and every import counts (docs/architecture.md). Each command
imports what it needs inside its function; `report`/`status` never import
genai-prices, textual or apprise, and `statusline` and `status` never import argparse.
The read-only commands end their process at once when done (`run`): Python's orderly
teardown frees every module and object, ~10 ms of a 100 ms command.

The commands live by kind: cli_writers.py (`scan`, `reprice`, `log`), cli_reports.py
(`status`, `report`, `compare`, `estimate`), cli_service.py (`daemon`, `stop`, `service`,
`run`, `dash`, `web`, `demo`), cli_setup.py (`init`, `budget`, `price`, `notify-test`,
`completion`), cli_statusline.py; the parser is cli_parser.py.

Exit codes: 0 when the command did its job (a `scan` that skipped bad records
included: their counts go to stderr); 1 for a failure at run time (unwritable ledger,
daemon not reachable where required); 2 for bad usage or a bad config.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Final, NoReturn

from monitor.cli_common import EXIT_FAIL, EXIT_OK, EXIT_USAGE, CommandError
from monitor.cli_parser import build_parser
from monitor.cli_reports import status_args as _status_args
from monitor.cli_statusline import statusline_args as _statusline_args

__all__ = ["EXIT_FAIL", "EXIT_OK", "EXIT_USAGE", "CommandError", "build_parser", "main", "run"]


def _command_in(argv: Sequence[str]) -> str | None:
    """The command named on the line (`--config PATH` may come first), if any."""
    args = iter(argv)
    for arg in args:
        if arg == "--config":
            next(args, None)
        elif not arg.startswith("-"):
            return arg
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = _command_in(argv)
    quick = {"statusline": _statusline_args, "status": _status_args}.get(command or "")
    args = None if quick is None else quick(argv)
    if args is None:
        parser = build_parser(only=command)
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help(sys.stderr)
            return EXIT_USAGE
    from monitor.config import ConfigError
    from monitor.ledger import LedgerError

    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"llm-monitor: config error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except LedgerError as exc:
        print(f"llm-monitor: {exc}", file=sys.stderr)
        return EXIT_FAIL
    except CommandError as exc:
        print(f"llm-monitor: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return EXIT_OK


_EXIT_AT_ONCE: Final = frozenset({"status", "statusline", "report"})
"""Commands that only read and print: nothing of theirs is left to finish (no file to
close, no child, no thread, no atexit handler), so `run` skips Python's teardown."""


def run() -> NoReturn:
    """The `llm-monitor` program: `main`, then the exit (see `_EXIT_AT_ONCE`)."""
    argv = sys.argv[1:]
    code = main(argv)
    if _command_in(argv) in _EXIT_AT_ONCE:
        for stream in (sys.stdout, sys.stderr):
            try:
                if stream is not None:
                    stream.flush()
            except (OSError, ValueError):  # a reader gone (broken pipe) or a closed stream
                pass
        os._exit(code)
    sys.exit(code)


if __name__ == "__main__":
    run()
