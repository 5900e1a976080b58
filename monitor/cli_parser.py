"""The argparse parser of `llm-monitor`: every command, its arguments and help.

argparse is imported inside the functions: `statusline` never builds this parser
(cli_statusline.py), and the other commands build only their own part of it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from monitor.cli_reports import cmd_compare, cmd_estimate, cmd_report, cmd_status
from monitor.cli_service import (
    cmd_daemon,
    cmd_dash,
    cmd_demo,
    cmd_run,
    cmd_service,
    cmd_stop,
    cmd_web,
)
from monitor.cli_setup import cmd_budget, cmd_completion, cmd_init, cmd_notify_test, cmd_price
from monitor.cli_statusline import STATUSLINE_FORMATS, cmd_statusline
from monitor.cli_writers import cmd_log, cmd_reprice, cmd_scan

if TYPE_CHECKING:
    import argparse


def _add_common(p: argparse.ArgumentParser, *, sub: bool = False) -> None:
    """--config and -v, accepted before or after the command.

    On subcommands their default is SUPPRESS: argparse would otherwise let a
    subcommand's default overwrite a value given before the command.
    """
    import argparse

    default: Any = argparse.SUPPRESS if sub else None
    p.add_argument("--config", metavar="PATH", default=default, help="config file (see README)")
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        default=argparse.SUPPRESS if sub else False,
        help="more log output",
    )


def _formatter(prog: str) -> argparse.HelpFormatter:
    """argparse's help formatter, given the terminal's width: finding it itself imports
    shutil (and with it bz2 and lzma), ~3 ms of every command's start-up, since every
    `add_argument` builds a formatter."""
    import argparse
    import os
    import sys

    width = int(os.environ["COLUMNS"]) if os.environ.get("COLUMNS", "").isdigit() else 0
    if width <= 0 and sys.__stdout__ is not None:
        try:
            width = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            width = 0
    return argparse.HelpFormatter(prog, width=(width or 80) - 2)


class _Unused:
    """Stands in for the parser of a command not being run: takes any call, builds nothing."""

    def __getattr__(self, _name: str) -> Callable[..., _Unused]:
        return lambda *_a, **_k: self


def build_parser(
    commands: dict[str, Callable[[argparse.Namespace], int]] | None = None,
    only: str | None = None,
) -> argparse.ArgumentParser:
    """The whole command line; with `only`, the arguments of that command alone (the
    others are named but get no arguments): building all of them costs a status bar
    ~30 ms it runs every few hundred milliseconds."""
    import argparse

    parser = argparse.ArgumentParser(
        prog="llm-monitor",
        description="Watch LLM token usage files, price every call once, alert on budgets.",
        formatter_class=_formatter,
    )
    _add_common(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, fn: Callable[[argparse.Namespace], int], help: str) -> Any:
        if only is not None and name != only:
            return _Unused()
        p = sub.add_parser(name, help=help, description=help, formatter_class=_formatter)
        _add_common(p, sub=True)
        p.set_defaults(func=fn)
        return p

    p = add("scan", cmd_scan, "ingest all configured sources once, without a daemon")
    # The daemon runs its first backfill as a child `scan` (its heap then goes away with it).
    p.add_argument("--for-daemon", action="store_true", help=argparse.SUPPRESS)
    p = add("daemon", cmd_daemon, "run the service in the foreground (systemd Type=notify)")
    p.add_argument("--log-file", metavar="PATH", help="log to a rotating file instead of stderr")
    p = add("stop", cmd_stop, "stop the running daemon gracefully and wait until it has exited")
    p.add_argument(
        "--timeout", type=float, default=30.0, metavar="SECONDS", help="wait at most (default: 30)"
    )
    p = add("service", cmd_service, "install or remove the systemd user unit running the daemon")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    q = actions.add_parser(
        "install", help="write llm-monitor.service, enable and start it", formatter_class=_formatter
    )
    _add_common(q, sub=True)
    q.add_argument(
        "--print",
        dest="print_only",
        action="store_true",
        help="only print the unit: write nothing, run no systemctl",
    )
    q = actions.add_parser(
        "uninstall", help="stop and disable the unit, remove its file", formatter_class=_formatter
    )
    _add_common(q, sub=True)
    add("run", cmd_run, "start the daemon if none runs, then open the dashboard")
    add("dash", cmd_dash, "attach the dashboard to the running daemon")
    p = add("web", cmd_web, "the dashboard in a browser (each page attaches to the daemon)")
    p.add_argument("--port", type=int, default=8765, help="default: 8765")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1; any other needs the printed token)",
    )
    p = add("demo", cmd_demo, "a daemon on simulated tools' files, and the dashboard")
    p.add_argument("--rate", type=float, help="simulated calls per second")
    p = add("status", cmd_status, "today / week / month spend, forecasts, budgets, sources")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p = add(
        "statusline",
        cmd_statusline,
        "one line for Claude Code's status bar (reads its JSON on stdin), tmux or waybar",
    )
    p.add_argument("--format", choices=STATUSLINE_FORMATS, default="text")

    p = add("report", cmd_report, "usage and cost tables from the ledger")
    p.add_argument(
        "--by",
        action="append",
        metavar="GROUP",
        help="hour|day|week|month|provider|model|source|operation|tag:KEY|block (repeatable)",
    )
    p.add_argument(
        "--since",
        help="first day (YYYY-MM-DD or today, yesterday, 7d, this-week, last-week, "
        "this-month, last-month) or instant (2026-11-01T12:00[+01:00])",
    )
    p.add_argument(
        "--until", help="last day (YYYY-MM-DD or a word as --since) or instant (ISO, exclusive)"
    )
    p.add_argument("--source", action="append", help="only this source (repeatable)")
    p.add_argument("--where", action="append", metavar="KEY=VALUE", help="e.g. tag.run=X")
    p.add_argument("--format", choices=("text", "json", "csv"), default="text")
    p.add_argument(
        "--drift",
        action="store_true",
        help="only rows where the tools' reported costs differ from prices, with the difference",
    )

    p = add("compare", cmd_compare, "two selections side by side, with savings")
    p.add_argument("a", help="e.g. tag.run=run_baseline, source=studio, 2026-11-01..2026-11-15")
    p.add_argument("b")
    p.add_argument("--format", choices=("text", "json"), default="text")

    p = add("estimate", cmd_estimate, "cost of planned work")
    p.add_argument("--model")
    p.add_argument("--provider")
    p.add_argument("--calls", type=int, required=True)
    p.add_argument("--avg-input", type=int)
    p.add_argument("--avg-output", type=int)
    p.add_argument("--like", metavar="SELECTION", help="average the past calls of a selection")
    p.add_argument("--format", choices=("text", "json"), default="text")

    p = add("budget", cmd_budget, "list, set or remove budgets (written to budgets.toml)")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    q = actions.add_parser(
        "list", help="limits, spend, forecast, alerts sent", formatter_class=_formatter
    )
    _add_common(q, sub=True)
    q.add_argument("--json", action="store_true")
    q = actions.add_parser("set", help="add or change a budget", formatter_class=_formatter)
    _add_common(q, sub=True)
    q.add_argument("name")
    q.add_argument("--limit", help="USD")
    from monitor.periods import PERIODS

    q.add_argument("--period", choices=PERIODS)
    q.add_argument("--warn-at", metavar="FRACTIONS", help="e.g. 0.5,0.8,1.0")
    q.add_argument("--scope", action="append", metavar="KEY=VALUE", help="e.g. provider=openai")
    q.add_argument("--forecast", action=argparse.BooleanOptionalAction, default=None)
    q = actions.add_parser("rm", help="remove a budget", formatter_class=_formatter)
    _add_common(q, sub=True)
    q.add_argument("name")

    add("notify-test", cmd_notify_test, "send a test notification to every configured target")

    p = add("init", cmd_init, "write a starter config listing the tools found here")
    p.add_argument("path", nargs="?", help="where (default: ~/.config/llm-monitor/config.toml)")
    p.add_argument("--force", action="store_true", help="replace an existing file")
    p.add_argument("--print-default", action="store_true", help="print the embedded default")

    p = add("completion", cmd_completion, "print a shell completion script")
    p.add_argument("shell", choices=("bash", "zsh", "fish"))

    p = add("price", cmd_price, "show the prices that apply to a model")
    p.add_argument("model")
    p.add_argument("--provider")
    p.add_argument("--at", metavar="DATE", help="prices in force at this date (ISO)")

    add("reprice", cmd_reprice, "re-price events whose cost came from prices")

    p = add("log", cmd_log, "append one usage record to the spool (for shell scripts)")
    p.add_argument("--model", required=True)
    p.add_argument("--input", dest="input_tokens", type=int, default=0, metavar="N")
    p.add_argument("--output", dest="output_tokens", type=int, default=0, metavar="N")
    p.add_argument("--cache-read", dest="cache_read_tokens", type=int, default=0, metavar="N")
    p.add_argument("--cache-write", dest="cache_write_tokens", type=int, default=0, metavar="N")
    p.add_argument("--calls", type=int, default=1)
    p.add_argument("--provider")
    p.add_argument("--operation")
    p.add_argument("--source", help="source name to record (default: spool)")
    p.add_argument("--ts", help="when the call happened (ISO; default now)")
    p.add_argument("--cost", help="the cost the tool reported, in USD")
    p.add_argument("--id", help="a unique id for the call (makes re-logging idempotent)")
    p.add_argument("--tag", action="append", metavar="KEY=VALUE")

    for name, fn in (commands or {}).items():
        add(name, fn, fn.__doc__ or name)
    if only is not None and only not in sub.choices:
        return build_parser(commands)  # a mistyped command: the whole list in the error
    return parser
