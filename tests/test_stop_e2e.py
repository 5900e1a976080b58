"""`llm-monitor stop`: the real daemon stops gracefully; nothing else is ever signalled.

The e2e tests run the daemon as a subprocess (tests/daemon_harness.py) and `stop` as the
CLI, and check what a script would rely on: `stop` returns only once the process has
exited and the ledger's writer lock is free, it says so when nothing runs, and stopping
mid-backfill leaves whole batches only (each file's events match its stored cursor).

The refusals run in this process against a listener played by a thread — the kernel then
names this process as the socket's owner — with the signal functions replaced by
recorders, so a mistake could not signal anything even in theory.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from monitor import stop
from monitor.stop import StopError, identify, stop_daemon
from monitor.writer_lock import WriterLock
from tests.daemon_harness import (
    Workspace,
    clean_env,
    ledger_totals,
    studio_line,
    studio_source,
)
from tests.factories import wait_for

BACKFILL_FILES = 34
BACKFILL_LINES = 3000
"""34 × 3000 lines: the backfill commits after ~51,000 events (ingest.BATCH_EVENTS) and
again at the end, so there is a long stretch with one batch committed and one in the
works — where `stop` must cut cleanly."""


studio = studio_source


def lock_is_free(ws: Workspace) -> bool:
    lock = WriterLock(ws.ledger)
    lock.acquire("test")  # no wait: LedgerBusy if anyone still holds it
    lock.release()
    return True


# -- the real daemon -------------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.timeout(60)
def test_stop_returns_after_the_exit_with_the_lock_free_and_a_second_stop_finds_nothing(
    ws: Workspace,
) -> None:
    f = ws.root / "output" / "tech" / "run_1" / "tokens.jsonl"
    f.parent.mkdir(parents=True)
    f.write_bytes(studio_line("advocate", 100, 10) * 20)
    ws.write_config([studio(ws)])
    d = ws.start()

    done = ws.cli("stop")

    assert done.returncode == 0, done.stderr
    assert done.stdout == f"stopped the llm-monitor daemon (pid {d.pid}) on {ws.socket}\n"
    # Already exited when `stop` returned: poll() reaps, it does not wait.
    assert d.proc is not None and d.proc.poll() == 0
    assert lock_is_free(ws)
    assert not ws.socket.exists()
    assert ledger_totals(ws.ledger).events == 20
    assert "SIGTERM received" in d.log()

    again = ws.cli("stop")
    assert (again.returncode, again.stdout) == (0, f"no daemon running on {ws.socket}\n")
    assert again.stderr == ""


def committed_events(ledger: Path) -> int:
    try:
        return ledger_totals(ledger).events
    except sqlite3.OperationalError:  # the daemon is still creating the ledger
        return 0


def events_match_cursors(ledger: Path, files: list[Path]) -> tuple[int, int]:
    """(files read whole, files not started); fails on a file whose stored events are not
    exactly the lines before its stored cursor — a half batch."""
    with contextlib.closing(sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)) as db:
        cursors = dict(db.execute("SELECT path, offset FROM cursors WHERE source = 'studio'"))
        origins = [o for (o,) in db.execute("SELECT origin FROM events")]
    per_file = Counter(o.rpartition(":")[0] for o in origins)  # origin: "path:offset"
    whole = untouched = 0
    for f in files:
        data = f.read_bytes()
        offset = cursors.get(str(f), 0)
        assert offset == 0 or data[offset - 1 : offset] == b"\n", f"cursor mid-line in {f}"
        assert per_file[str(f)] == data[:offset].count(b"\n"), f
        whole += offset == len(data)
        untouched += offset == 0
    return whole, untouched


@pytest.mark.e2e
@pytest.mark.timeout(120)
def test_stop_during_the_backfill_keeps_what_was_committed_and_no_half_batch(
    ws: Workspace,
) -> None:
    files = []
    for i in range(BACKFILL_FILES):
        f = ws.root / "output" / "tech" / f"run_{i:02}" / "tokens.jsonl"
        f.parent.mkdir(parents=True)
        f.write_bytes(studio_line("advocate", 100, 10) * BACKFILL_LINES)
        files.append(f)
    total = BACKFILL_FILES * BACKFILL_LINES
    ws.write_config([studio(ws)])
    d = ws.daemon()
    d.start()
    committed = wait_for(lambda: committed_events(ws.ledger), 90, "the first backfill batch")
    assert d.hello()["state"] == "backfilling"

    done = ws.cli("stop", timeout=60)

    assert done.returncode == 0, done.stderr
    assert d.proc is not None and d.proc.poll() == 0
    assert lock_is_free(ws)
    kept = ledger_totals(ws.ledger).events
    assert committed <= kept < total, "the backfill ended before `stop`: make it bigger"
    whole, untouched = events_match_cursors(ws.ledger, files)
    assert whole * BACKFILL_LINES == kept and whole + untouched == BACKFILL_FILES
    assert "Traceback" not in d.log()


STUBBORN = textwrap.dedent(
    """
    import json, os, signal, socket, sys
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    s = socket.socket(socket.AF_UNIX)
    s.bind(sys.argv[1])
    s.listen()
    print("listening", flush=True)
    hello = json.dumps({"type": "hello", "daemon": {"pid": os.getpid()}}).encode() + b"\\n"
    while True:
        c, _ = s.accept()
        try:
            if c.recv(4096):
                c.sendall(hello)
        except OSError:
            pass
        c.close()
    """
)


@pytest.mark.e2e
@pytest.mark.timeout(30)
def test_a_daemon_that_does_not_exit_in_time_fails_with_the_way_out(ws: Workspace) -> None:
    ws.write_config([studio(ws)])
    proc = subprocess.Popen(
        [sys.executable, "-c", STUBBORN, str(ws.socket)],
        stdout=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "listening\n"
        done = ws.cli("stop", "--timeout", "0.5")
        assert done.returncode == 1
        assert f"the daemon (pid {proc.pid}) did not exit within 0.5 s" in done.stderr
        assert f"kill -KILL {proc.pid}" in done.stderr
        assert "Traceback" not in done.stderr
        assert proc.poll() is None  # SIGTERM was sent (and ignored), nothing harder
    finally:
        proc.kill()
        proc.communicate(timeout=10)


# -- listeners that are not our daemon ---------------------------------------------------------


class Listener:
    """A Unix socket served by a thread of this process, answering every connection with
    `reply` and closing it (None: never answers, keeps the connection open)."""

    def __init__(self, reply: bytes | None) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="lm-")) / "d.sock"
        self.reply = reply
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(str(self.path))
        self._sock.listen()
        self._open: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self._open.append(conn)
            with contextlib.suppress(OSError):
                conn.recv(4096)
                if self.reply is not None:
                    conn.sendall(self.reply)
                    conn.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        for c in self._open:
            c.close()
        self._thread.join(5)
        self.path.unlink(missing_ok=True)
        self.path.parent.rmdir()


@contextlib.contextmanager
def listener(reply: bytes | None) -> Iterator[Listener]:
    served = Listener(reply)
    try:
        yield served
    finally:
        served.close()


def hello_from(pid: int) -> bytes:
    return b'{"type":"hello","version":1,"daemon":{"pid":%d,"state":"ready"}}\n' % pid


@pytest.fixture
def signals(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    sent: list[Any] = []
    monkeypatch.setattr(os, "kill", lambda *a: sent.append(("kill", *a)))
    monkeypatch.setattr(signal, "pidfd_send_signal", lambda *a: sent.append(("pidfd", *a)))
    return sent


def test_nothing_on_the_socket_is_no_daemon(tmp_path: Path, signals: list[Any]) -> None:
    assert identify(tmp_path / "none.sock") is None
    assert stop_daemon(tmp_path / "none.sock").pid is None
    assert signals == []


def test_the_daemon_is_identified_when_hello_and_the_kernel_agree() -> None:
    with listener(hello_from(os.getpid())) as served:
        found = identify(served.path)
    assert found is not None and found.pid == os.getpid()
    assert found.info["state"] == "ready"


def test_a_hello_naming_another_pid_is_never_signalled(signals: list[Any]) -> None:
    # A daemon in another pid namespace, or anything pretending: its pid means nothing here.
    with listener(hello_from(os.getpid() + 1)) as served, pytest.raises(StopError) as err:
        stop_daemon(served.path)
    assert f"says it is pid {os.getpid() + 1}" in str(err.value)
    assert f"the socket belongs to pid {os.getpid()}" in str(err.value)
    assert signals == []


def test_a_listener_that_never_answers_is_never_signalled(signals: list[Any]) -> None:
    with listener(None) as served, pytest.raises(StopError) as err:
        stop_daemon(served.path, hello_timeout=0.3)
    assert f"(pid {os.getpid()}) but did not answer hello within 0.3 s" in str(err.value)
    assert signals == []


@pytest.mark.parametrize(
    "reply",
    [b"HTTP/1.1 400 Bad Request\r\n\r\n", b'{"type":"error","error":"x"}\n', b""],
    ids=["not-json", "no-hello", "closes"],
)
def test_a_listener_that_is_not_llm_monitor_is_never_signalled(
    reply: bytes, signals: list[Any]
) -> None:
    with listener(reply) as served, pytest.raises(StopError) as err:
        stop_daemon(served.path, hello_timeout=2.0)
    assert "does not answer like an llm-monitor daemon" in str(err.value)
    assert signals == []


def test_without_a_pidfd_a_process_is_gone_only_when_it_has_no_live_entry() -> None:
    assert not stop._gone(os.getpid())
    assert stop._gone(2**22 + 1)  # above pid_max's ceiling: no such process
