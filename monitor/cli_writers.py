"""The commands that write usage: `scan` and `reprice` (the ledger, under its writer
lock, refused while a daemon owns it) and `log` (one record into the spool).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from monitor.cli_common import EXIT_OK, CommandError, config_of, key_values, open_ledger
from monitor.cli_service import setup_logging

if TYPE_CHECKING:
    import argparse

    from monitor.config import Config
    from monitor.progress import Progress


def cmd_scan(args: argparse.Namespace) -> int:
    import logging

    from monitor.heap import collection_paused
    from monitor.ingest import Ingestor
    from monitor.pricing import Pricer

    config = config_of(args)
    if args.for_daemon:
        from monitor.writer_lock import die_with_parent

        die_with_parent()
    else:
        _refuse_if_daemon(config)
    setup_logging(args.verbose)
    with (
        _writer(config, "scan", inherit=args.for_daemon),
        open_ledger(config, readonly=False) as ledger,
    ):
        show = _progress_shower(for_daemon=args.for_daemon)
        ingestor = Ingestor(config.sources, ledger, Pricer(config.prices), on_progress=show)
        # The process ends with the scan: the cycle collection a scan makes after its
        # burst (for a daemon that lives on) would walk a heap about to be freed whole
        # (0.05 s after a 200 k-call backfill, on one core).
        with collection_paused(collect_after=False):
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
    shown_at, finals_shown = 0.0, (False, False)

    def show(p: Progress) -> None:
        nonlocal shown_at, finals_shown
        now = time.monotonic()
        finals = (p.today_final, p.recent_final)
        if now - shown_at < every and not p.done and finals == finals_shown:
            return
        shown_at, finals_shown = now, finals
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
    tags = key_values(args.tag, "--tag")
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
