"""`llm-monitor …`: the command line's entry point — which command, then run it.

argparse, not click: `report` and `status` must answer in a few tens of milliseconds
including interpreter start-up, and every import counts (docs/architecture.md). Each command
imports what it needs inside its function; `report`/`status` never import
genai-prices, textual or apprise, and `statusline` never imports argparse.

The commands live by kind: cli_writers.py (`scan`, `reprice`, `log`), cli_reports.py
(`status`, `report`, `compare`, `estimate`), cli_service.py (`daemon`, `stop`, `service`,
`run`, `dash`, `web`, `demo`), cli_setup.py (`init`, `budget`, `price`, `notify-test`,
`completion`), cli_statusline.py; the parser is cli_parser.py.

Exit codes: 0 when the command did its job (a `scan` that skipped bad records
included: their counts go to stderr); 1 for a failure at run time (unwritable ledger,
daemon not reachable where required); 2 for bad usage or a bad config.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from monitor.cli_common import EXIT_FAIL, EXIT_OK, EXIT_USAGE, CommandError
from monitor.cli_parser import build_parser
from monitor.cli_reports import status_args as _status_args
from monitor.cli_statusline import statusline_args as _statusline_args

__all__ = ["EXIT_FAIL", "EXIT_OK", "EXIT_USAGE", "CommandError", "build_parser", "main"]


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


if __name__ == "__main__":
    sys.exit(main())
