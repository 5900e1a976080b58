"""One writer per ledger: the lock file beside it, and how the backfill child shares it.

Exactly-once rests on the ledger having one writer: two writers that read the same
file from the same cursor both store its events (issue: a restarted daemon and the
orphaned backfill child of the killed one counted a file twice). So every writer — the
daemon, `scan`, `reprice` — holds an exclusive `flock` on `<ledger>.lock` for as long as
it writes. The lock file holds "pid role" of the holder, for the refusal message; it is
never deleted (deleting a lock file races with the next process opening it).

The daemon's backfill child (`scan --for-daemon`) does not take a lock of its own: it
inherits the daemon's locked descriptor (`LOCK_FD_ENV`) and so holds the same lock, and
it asks the kernel to kill it when the daemon dies (`die_with_parent`). A daemon killed
with SIGKILL therefore leaves no writer behind; the kernel frees the lock when the
child's descriptors close, and a daemon restarted at once waits a few seconds for that
(`acquire(wait=…)`) instead of refusing.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import signal
import time
from pathlib import Path
from typing import Final

LOCK_FD_ENV: Final = "LLM_MONITOR_LOCK_FD"
"""The descriptor number of the daemon's locked lock file, in its backfill child."""
PARENT_PID_ENV: Final = "LLM_MONITOR_PARENT_PID"
"""The daemon's pid, in its backfill child: the child exits if it is not its parent."""
_PR_SET_PDEATHSIG: Final = 1


class LedgerBusy(Exception):
    """Another process writes this ledger; the message names it."""

    def __init__(self, message: str, holder: str) -> None:
        super().__init__(message)
        self.holder = holder
        """ "pid 1234 (daemon)", or "" when the lock file does not say yet."""


def lock_path(ledger_path: Path) -> Path:
    return ledger_path.with_name(ledger_path.name + ".lock")


class WriterLock:
    """The exclusive writer lock of one ledger."""

    def __init__(self, ledger_path: Path) -> None:
        self.path = lock_path(ledger_path)
        self.fd: int | None = None

    def acquire(self, role: str, *, wait: float = 0.0) -> None:
        """Take the lock, waiting up to `wait` seconds; LedgerBusy if it stays taken."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        deadline = time.monotonic() + wait
        try:
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        holder = _holder(fd)
                        raise LedgerBusy(self.busy_message(holder), holder) from None
                    time.sleep(0.05)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()} {role}\n".encode(), 0)
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd

    def adopt_inherited(self) -> bool:
        """In the daemon's backfill child: hold the daemon's lock through the inherited fd.

        True only when the descriptor named in the environment is this ledger's lock file
        and the lock on it is held (flock on a descriptor that shares the holder's open
        file description succeeds; on any other it would block).
        """
        raw = os.environ.get(LOCK_FD_ENV, "")
        if not raw.isdigit():
            return False
        fd = int(raw)
        try:
            st, here = os.fstat(fd), os.stat(self.path)
        except OSError:
            return False
        if (st.st_dev, st.st_ino) != (here.st_dev, here.st_ino):
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        self.fd = fd
        return True

    def child_env(self) -> dict[str, str]:
        """What the backfill child needs in its environment to adopt this lock."""
        if self.fd is None:
            raise RuntimeError("the writer lock is not held")
        return {LOCK_FD_ENV: str(self.fd), PARENT_PID_ENV: str(os.getpid())}

    def release(self) -> None:
        fd, self.fd = self.fd, None
        if fd is not None:
            os.close(fd)  # the last descriptor of the open file description frees the flock

    def busy_message(self, holder: str) -> str:
        who = f" by {holder}" if holder else ""
        return (
            f"the ledger {self.path.with_suffix('')} is being written{who}: one writer at a "
            "time keeps every call counted once. Stop that process first (or use "
            "`llm-monitor status` / `report`, which only read)."
        )


def _holder(fd: int) -> str:
    """ "pid 1234 (daemon)" from the lock file, or "" when it says nothing usable."""
    with contextlib.suppress(OSError):
        pid, _, role = os.pread(fd, 64, 0).decode("ascii", "replace").strip().partition(" ")
        if pid.isdigit():
            return f"pid {pid}" + (f" ({role})" if role else "")
    return ""


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when its parent dies; exit if it already has.

    Linux only (prctl); elsewhere the parent-pid check still catches a parent that died
    before this process got here.
    """
    expected = os.environ.get(PARENT_PID_ENV, "")
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
    if expected.isdigit() and os.getppid() != int(expected):
        os._exit(errno.ECHILD)
