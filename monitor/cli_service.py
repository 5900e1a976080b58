"""The commands that run the daemon or reach it: `daemon`, `stop`, `service`, `run`,
`dash`, `web`, `demo`; and the log set-up the daemon and `scan` share.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from monitor.cli_common import EXIT_OK, EXIT_USAGE, CommandError, config_of

if TYPE_CHECKING:
    import argparse


def setup_logging(verbose: bool, log_file: str | None = None) -> None:
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


def cmd_daemon(args: argparse.Namespace) -> int:
    from monitor.api import AlreadyRunning
    from monitor.backfill import start_early
    from monitor.writer_lock import LedgerBusy

    setup_logging(getattr(args, "verbose", False), log_file=args.log_file)
    config = config_of(args)
    try:
        # The lock and the backfill child first: the child lists the tree and reads
        # today's files while this process loads the daemon.
        early = start_early(args.config, config)
        from monitor.daemon import run_daemon

        return run_daemon(args.config, config=config, early=early)
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
