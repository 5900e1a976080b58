"""The daemon's first backfill: a child `llm-monitor scan --for-daemon`, its progress
read back, the in-process fallback, and the writer lock the child shares.

A cold backfill of a big tree needs hundreds of MB of heap that a long-lived process
would keep; a child gives it back when it exits. The child commits through the same
exactly-once path, holds the daemon's writer lock (the inherited descriptor) and dies
with the daemon (writer_lock.py); it writes its progress as JSON lines on stdout
(progress.py). This module never touches the daemon's picture or clients: each
`Progress` goes to the caller's `on_progress`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from monitor import sdnotify
from monitor.api import AlreadyRunning, daemon_answers
from monitor.progress import Progress
from monitor.writer_lock import LedgerBusy, WriterLock

if TYPE_CHECKING:
    from monitor.config import Config
    from monitor.ingest import IngestReport

log = logging.getLogger("llm_monitor.daemon")

BACKFILL_RETRY: Final = 10.0
LOCK_WAIT: Final = 10.0
"""Seconds a starting daemon waits for the ledger lock held by a process that is exiting."""


def take_writer_lock(config: Config) -> WriterLock:
    """The ledger's writer lock, or AlreadyRunning / LedgerBusy naming who holds it.

    A daemon that answers on our socket is refused at once. Otherwise the holder may be
    the backfill child of a daemon that was just killed, which the kernel is killing
    too: wait a little for it instead of refusing a restart.
    """
    lock = WriterLock(config.ledger_path)
    try:
        lock.acquire("daemon")
    except LedgerBusy as busy:
        if daemon_answers(config.socket_path):
            who = f" ({busy.holder})" if busy.holder else ""
            raise AlreadyRunning(
                f"another llm-monitor daemon is running on {config.socket_path}{who} "
                f"and writes {config.ledger_path}"
            ) from None
        lock.acquire("daemon", wait=LOCK_WAIT)
    return lock


def start_child(config_path: str | Path | None, lock: WriterLock) -> subprocess.Popen[bytes] | None:
    """Start `llm-monitor scan --for-daemon` with the daemon's config, at once.

    Called before the daemon's own start-up (its imports, the ledger, the socket): on two
    cores the child lists the tree and reads today's files meanwhile, so today's total is
    final that much sooner. The child holds this daemon's writer lock (the inherited
    descriptor) and dies with it (writer_lock.py). None when it cannot be started.
    """
    assert lock.fd is not None
    argv = [sys.executable, "-m", "monitor.cli", "scan", "--for-daemon"]
    if config_path is not None:
        argv += ["--config", str(config_path)]
    try:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            pass_fds=(lock.fd,),
            env={**os.environ, **lock.child_env()},
        )
    except OSError:
        log.exception("cannot start the backfill process")
        return None


async def backfill_in_child(
    child: subprocess.Popen[bytes] | None,
    on_progress: Callable[[Progress], Awaitable[None]],
) -> bool:
    """Follow a child `start_child` started: its progress to `on_progress`; True if it
    succeeded. Cancelled (the daemon is stopping), it stops the child too."""
    if child is None:
        return False
    try:
        assert child.stdout is not None
        reader = asyncio.StreamReader()
        loop = asyncio.get_running_loop()
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), child.stdout
        )
        try:
            async for line in reader:
                progress = Progress.from_json(line)
                if progress is not None:
                    await on_progress(progress)
        finally:
            transport.close()
        code = await asyncio.to_thread(child.wait)
    finally:
        if child.returncode is None:  # the daemon is stopping: so does the backfill
            child.terminate()
            with contextlib.suppress(Exception):
                await asyncio.shield(asyncio.to_thread(child.wait))
    return code == 0


@dataclass(slots=True)
class EarlyStart:
    """What `llm-monitor daemon` does before it loads the daemon (~0.4 s of imports): the
    writer lock taken and the backfill child started, so the two start side by side."""

    lock: WriterLock
    child: subprocess.Popen[bytes] | None
    started: float
    """Epoch seconds when the backfill started: files written since are read again."""


def start_early(config_path: str | Path | None, config: Config) -> EarlyStart:
    """Take the writer lock (AlreadyRunning / LedgerBusy when another holds it) and start
    the backfill child."""
    config.state_dir.mkdir(parents=True, exist_ok=True)
    lock = take_writer_lock(config)
    started = time.time()
    return EarlyStart(lock, start_child(config_path, lock), started)


async def backfill_in_process(scan: Callable[[], Awaitable[IngestReport]]) -> IngestReport:
    """`scan()` until it succeeds: the fallback when the child could not do the backfill."""
    while True:
        try:
            return await scan()
        except Exception:
            # E.g. a full disk: what was committed stays, the rest is read again.
            log.exception("backfill failed; retrying in %.0f s", BACKFILL_RETRY)
            sdnotify.notify("STATUS=backfill failed; retrying")
            await asyncio.sleep(BACKFILL_RETRY)
