"""`llm-monitor …`: the command line.

argparse, not click: `report` and `status` must answer in a few tens of milliseconds
including interpreter start-up, and every import counts (docs/architecture.md). Each command
imports what it needs inside its function; `report`/`status` never import
genai-prices, textual or apprise.

Exit codes: 0 when the command did its job (a `scan` that skipped bad records
included: their counts go to stderr); 1 for a failure at run time (unwritable ledger,
daemon not reachable where required); 2 for bad usage or a bad config.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final, cast

from monitor.cli_common import (
    EXIT_FAIL,
    EXIT_OK,
    EXIT_USAGE,
    CommandError,
    config_of,
    open_ledger,
)
from monitor.cli_reports import cmd_compare, cmd_estimate, cmd_report, cmd_status

if TYPE_CHECKING:
    import argparse

    from monitor.config import Config
    from monitor.progress import Progress
    from monitor.wire import BudgetEntry

STATUSLINE_FORMATS: Final = ("text", "tmux", "waybar", "json")

__all__ = ["EXIT_FAIL", "EXIT_OK", "EXIT_USAGE", "CommandError", "build_parser", "main"]

# -- commands ----------------------------------------------------------------------------


def cmd_scan(args: argparse.Namespace) -> int:
    import logging

    from monitor.ingest import Ingestor
    from monitor.pricing import Pricer

    config = config_of(args)
    if args.for_daemon:
        from monitor.writer_lock import die_with_parent

        die_with_parent()
    else:
        _refuse_if_daemon(config)
    _setup_logging(args.verbose)
    with _writer(config, "scan", inherit=args.for_daemon), open_ledger(
        config, readonly=False
    ) as ledger:
        show = _progress_shower(for_daemon=args.for_daemon)
        ingestor = Ingestor(config.sources, ledger, Pricer(config.prices), on_progress=show)
        report = ingestor.scan()
    for name, c in report.sources.items():
        line = (
            f"{name}: {c.files} files, {c.events} new events, {c.updated} updated"
            + (f", {c.errors} bad records skipped" if c.errors else "")
            + (f", {c.pending} incomplete documents" if c.pending else "")
            + (f", {c.unreadable} unreadable files" if c.unreadable else "")
        )
        print(line, file=sys.stderr if c.errors or c.unreadable else sys.stdout)
    logging.shutdown()
    return EXIT_OK


def _progress_shower(*, for_daemon: bool) -> Callable[[Progress], None] | None:
    """How `scan` shows its progress: JSON lines to the daemon that started it, one line
    redrawn on a terminal, nothing when its output goes elsewhere (a log, a pipe)."""
    import time

    if not for_daemon and not sys.stderr.isatty():
        return None
    every = 0.5 if for_daemon else 0.2
    last = [0.0, False]

    def show(p: Progress) -> None:
        now = time.monotonic()
        if now - last[0] < every and not p.done and p.recent_final == last[1]:
            return
        last[0], last[1] = now, p.recent_final
        if for_daemon:
            sys.stdout.write(p.to_json() + "\n")
            sys.stdout.flush()
        else:
            sys.stderr.write("\r\x1b[K" + p.line() + ("\n" if p.done else ""))
            sys.stderr.flush()

    return show


@contextmanager
def _writer(config: Config, role: str, *, inherit: bool = False) -> Iterator[None]:
    """Hold the ledger's writer lock (see writer_lock.py); refuse when another holds it.

    With `inherit` (the daemon's backfill child) the daemon's own lock is adopted.
    """
    from monitor.writer_lock import LedgerBusy, WriterLock

    lock = WriterLock(config.ledger_path)
    if not (inherit and lock.adopt_inherited()):
        try:
            lock.acquire(role)
        except LedgerBusy as exc:
            raise CommandError(str(exc)) from None
    try:
        yield
    finally:
        lock.release()


def _refuse_if_daemon(config: Config, command: str = "scan") -> None:
    """Two writers would let the daemon's running totals drift from the ledger."""
    from monitor.api import daemon_answers

    if daemon_answers(config.socket_path):
        raise CommandError(
            f"a daemon is running on {config.socket_path} and owns the ledger; "
            f"`{command}` would be a second writer (the daemon ingests live and reprices "
            "itself when prices change). Use `llm-monitor status` or `report`."
        )


def cmd_price(args: argparse.Namespace) -> int:
    from datetime import datetime

    from monitor.price_info import format_price_info
    from monitor.pricing import Pricer

    config = config_of(args)
    when = datetime.fromisoformat(args.at) if args.at else None
    info = Pricer(config.prices).price_info(args.model, args.provider, when)
    if info is None:
        print(
            f"{args.model}: no price known (calls to it are counted as unpriced). "
            f'Add [prices."{args.model}"] to the config to price it.',
            file=sys.stderr,
        )
        return EXIT_FAIL
    print(format_price_info(info))
    return EXIT_OK


def cmd_reprice(args: argparse.Namespace) -> int:
    from monitor.pricing import Pricer
    from monitor.reprice import reprice_ledger

    config = config_of(args)
    _refuse_if_daemon(config, "reprice")
    with _writer(config, "reprice"), open_ledger(config, readonly=False) as ledger:
        changed, seen = reprice_ledger(ledger, Pricer(config.prices), config.sources)
    print(f"repriced {changed} of {seen} events")
    return EXIT_OK


def cmd_log(args: argparse.Namespace) -> int:
    from monitor.spool_writer import append_record

    config = config_of(args)
    tags: dict[str, str] = {}
    for item in args.tag or []:
        k, sep, v = item.partition("=")
        if not sep or not k:
            raise CommandError(f"--tag expects KEY=VALUE, got {item!r}", EXIT_USAGE)
        tags[k] = v
    record: dict[str, Any] = {
        "model": args.model,
        "input_tokens": args.input_tokens,
        "output_tokens": args.output_tokens,
        "cache_read_tokens": args.cache_read_tokens,
        "cache_write_tokens": args.cache_write_tokens,
        "calls": args.calls,
    }
    for name in ("provider", "operation", "source", "ts", "cost", "id"):
        value = getattr(args, name)
        if value is not None:
            record[name] = value
    if tags:
        record["tags"] = tags
    path = append_record(config.spool_dir, record)
    if args.verbose:
        print(f"appended to {path}", file=sys.stderr)
    return EXIT_OK


def cmd_daemon(args: argparse.Namespace) -> int:
    from monitor.api import AlreadyRunning
    from monitor.daemon import run_daemon
    from monitor.writer_lock import LedgerBusy

    _setup_logging(getattr(args, "verbose", False), log_file=args.log_file)
    try:
        return run_daemon(args.config)
    except (AlreadyRunning, LedgerBusy) as exc:
        raise CommandError(str(exc)) from None


def cmd_stop(args: argparse.Namespace) -> int:
    """Exit 0 when the daemon stopped or none was running ("ensure stopped")."""
    from monitor.stop import StopError, stop_daemon

    socket_path = config_of(args).socket_path
    if args.timeout <= 0:
        raise CommandError("--timeout expects a number of seconds above 0", EXIT_USAGE)
    try:
        stopped = stop_daemon(socket_path, args.timeout)
    except StopError as exc:
        raise CommandError(str(exc)) from None
    if stopped.pid is None:
        print(f"no daemon running on {socket_path}")
        return EXIT_OK
    print(f"stopped the llm-monitor daemon (pid {stopped.pid}) on {socket_path}")
    if stopped.unit:
        unit = stopped.unit
        print(f"systemd ran it as {unit}; `systemctl --user start {unit}` starts it again")
    return EXIT_OK


def cmd_service(args: argparse.Namespace) -> int:
    import os

    from monitor import service
    from monitor.config import find_config

    try:
        if args.action == "uninstall":
            path = service.unit_path()
            ran = service.uninstall(path)
            if ran is None:
                print(f"{service.UNIT} is not installed (no {path})")
            else:
                print("\n".join([f"removed {path}", *(f"ran: {r}" for r in ran)]))
            return EXIT_OK
        config = config_of(args)
        # A config chosen for this command (--config, $LLM_MONITOR_CONFIG) is the
        # daemon's too; systemd's environment knows neither.
        chosen = getattr(args, "config", None) or os.environ.get("LLM_MONITOR_CONFIG")
        text = service.unit_for(service.target_for(config, find_config(chosen) if chosen else None))
        if args.print_only:
            sys.stdout.write(text)
            return EXIT_OK
        done = service.install(
            text, service.unit_path(), occupied=service.occupant(config.socket_path)
        )
    except service.ServiceError as exc:
        raise CommandError(str(exc)) from None
    print(service.describe(done))
    return EXIT_OK


def cmd_run(args: argparse.Namespace) -> int:
    from monitor.launch import run_all

    return run_all(getattr(args, "config", None))


def cmd_dash(args: argparse.Namespace) -> int:
    from monitor.launch import run_dash

    return run_dash(config_of(args).socket_path, getattr(args, "config", None))


def cmd_web(args: argparse.Namespace) -> int:
    from monitor.web import serve

    config_path = getattr(args, "config", None)
    return serve(config_of(args).socket_path, config_path, host=args.host, port=args.port)


def cmd_demo(args: argparse.Namespace) -> int:
    from monitor.launch import run_demo

    return run_demo(args.rate)


def cmd_budget(args: argparse.Namespace) -> int:
    import json

    from monitor import budget_cmd

    config = config_of(args)
    if args.action == "list":
        from monitor.api import ApiError, snapshot_sync

        daemon_entries: list[BudgetEntry] | None = None
        try:
            daemon_entries = list(snapshot_sync(config.socket_path, timeout=2.0).get("budgets", []))
        except ApiError:
            daemon_entries = None
        # The daemon may not have reloaded budgets.toml yet: the files decide which budgets.
        entries = budget_cmd.list_entries(config, daemon_entries)
        if args.json:
            print(json.dumps(entries, indent=2))
        else:
            print(budget_cmd.render_budgets(entries))
        return EXIT_OK
    if args.action == "set":
        forecast = None if args.forecast is None else args.forecast
        path = budget_cmd.budget_set(
            config,
            args.name,
            limit=args.limit,
            period=args.period,
            warn_at=args.warn_at,
            scope=args.scope,
            forecast=forecast,
        )
        print(f"budget {args.name!r} saved to {path} (a running daemon picks it up)")
        return EXIT_OK
    path = budget_cmd.budget_rm(config, args.name)
    print(f"budget {args.name!r} removed ({path})")
    return EXIT_OK


def cmd_notify_test(args: argparse.Namespace) -> int:
    from monitor.notify import notify_test, render_test_results

    config = config_of(args)
    rows = notify_test(config)
    print(render_test_results(rows))
    return EXIT_OK if rows and all(ok for _, ok, _ in rows) else EXIT_FAIL


def cmd_init(args: argparse.Namespace) -> int:
    import os
    from pathlib import Path

    from monitor.init_cmd import InitError, found_sources, init, own_root_around

    if args.print_default:
        from monitor.config import default_config_text

        sys.stdout.write(default_config_text())
        return EXIT_OK
    target = args.path or getattr(args, "config", None)
    try:
        path, text = init(Path(target) if target else None, args.force, Path.cwd(), os.environ)
    except InitError as exc:
        raise CommandError(str(exc)) from None
    names = list(found_sources(text))
    print(f"wrote {path}")
    print("sources: " + (", ".join(names) if names else "none found (edit the file to add some)"))
    own = own_root_around(Path.cwd())
    if own is not None:
        print(
            f"note: not searched below {own}, llm-monitor's own files (its examples/ are "
            "sample data); run `llm-monitor init` where your tools write their files",
            file=sys.stderr,
        )
    return EXIT_OK


def cmd_statusline(args: argparse.Namespace) -> int:
    """Claude Code's statusLine command: one line, exit 0, whatever happens."""
    import os

    from monitor.statusline import statusline

    try:
        raw = b"" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.buffer.read()
    except Exception:  # a closed, captured or odd stdin is empty input
        raw = b""
    try:
        config: Config | None = config_of(args)
    except Exception:
        config = None
    color = not os.environ.get("NO_COLOR") and args.format == "text"
    try:
        line = statusline(raw, config, args.format, color=color)
    except Exception:
        line = "llm-monitor"
    print(line)
    return EXIT_OK


def cmd_completion(args: argparse.Namespace) -> int:
    from monitor.completion import completion_script

    sys.stdout.write(completion_script(args.shell))
    return EXIT_OK


# -- parser --------------------------------------------------------------------------------


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


class _Unused:
    """Stands in for the parser of a command not being run: takes any call, builds nothing."""

    def __getattr__(self, _name: str) -> Callable[..., _Unused]:
        return lambda *_a, **_k: self


def _command_in(argv: Sequence[str]) -> str | None:
    """The command named on the line (`--config PATH` may come first), if any."""
    args = iter(argv)
    for arg in args:
        if arg == "--config":
            next(args, None)
        elif not arg.startswith("-"):
            return arg
    return None


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
    )
    _add_common(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add(name: str, fn: Callable[[argparse.Namespace], int], help: str) -> Any:
        if only is not None and name != only:
            return _Unused()
        p = sub.add_parser(name, help=help, description=help)
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
    q = actions.add_parser("install", help="write llm-monitor.service, enable and start it")
    _add_common(q, sub=True)
    q.add_argument(
        "--print",
        dest="print_only",
        action="store_true",
        help="only print the unit: write nothing, run no systemctl",
    )
    q = actions.add_parser("uninstall", help="stop and disable the unit, remove its file")
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
    q = actions.add_parser("list", help="limits, spend, forecast, alerts sent")
    _add_common(q, sub=True)
    q.add_argument("--json", action="store_true")
    q = actions.add_parser("set", help="add or change a budget")
    _add_common(q, sub=True)
    q.add_argument("name")
    q.add_argument("--limit", help="USD")
    from monitor.periods import PERIODS

    q.add_argument("--period", choices=PERIODS)
    q.add_argument("--warn-at", metavar="FRACTIONS", help="e.g. 0.5,0.8,1.0")
    q.add_argument("--scope", action="append", metavar="KEY=VALUE", help="e.g. provider=openai")
    q.add_argument("--forecast", action=argparse.BooleanOptionalAction, default=None)
    q = actions.add_parser("rm", help="remove a budget")
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


def _setup_logging(verbose: bool, log_file: str | None = None) -> None:
    """Log to stderr, or to a size-capped rotating file (a detached daemon's log)."""
    import logging

    handler: logging.Handler
    if log_file:
        from logging.handlers import RotatingFileHandler

        handler = RotatingFileHandler(log_file, maxBytes=5_000_000, backupCount=3)
    else:
        handler = logging.StreamHandler(sys.stderr)
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=[handler],
    )
    # Apprise logs notification URLs (tokens included) at DEBUG.
    logging.getLogger("apprise").setLevel(logging.INFO)
    # watchfiles logs every batch of changes at INFO: noise for a daemon's log.
    logging.getLogger("watchfiles").setLevel(logging.WARNING)


def _statusline_args(argv: Sequence[str]) -> argparse.Namespace | None:
    """`statusline`'s few arguments read without argparse (17 ms to import, and Claude
    Code runs the command every few hundred milliseconds); None for anything else, which
    then goes through argparse and its messages."""
    from types import SimpleNamespace

    opts: dict[str, Any] = {"config": None, "verbose": False, "format": "text"}
    args = iter(argv)
    for arg in args:
        name, eq, value = arg.partition("=")
        if arg == "statusline":
            continue
        if arg in ("-v", "--verbose"):
            opts["verbose"] = True
        elif name in ("--config", "--format"):
            value = value if eq else next(args, "")
            if not value or (name == "--format" and value not in STATUSLINE_FORMATS):
                return None
            opts[name[2:]] = value
        else:
            return None
    args = SimpleNamespace(command="statusline", func=cmd_statusline, **opts)
    return cast("argparse.Namespace", args)


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = _command_in(argv)
    args = _statusline_args(argv) if command == "statusline" else None
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
