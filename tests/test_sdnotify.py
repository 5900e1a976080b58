"""systemd's notify protocol: the helpers on their own, then the real daemon on a real socket.

The end-to-end test plays systemd: it binds an AF_UNIX datagram socket, hands its path
to a daemon subprocess as $NOTIFY_SOCKET (with $WATCHDOG_USEC), and reads what the
daemon says over its life: READY=1, STATUS=…, WATCHDOG=1 pings, STOPPING=1.
"""

from __future__ import annotations

import os
import signal
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.sdnotify import notify, watchdog_interval
from tests.daemon_harness import DaemonProcess, Source, Workspace, workspace

pytestmark = pytest.mark.timeout(30)


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """systemd's end: a bound datagram socket and the path to put in $NOTIFY_SOCKET."""
    path = str(tmp_path / "notify")
    if len(os.fsencode(path)) > 100:
        pytest.skip("tmp_path too long for a Unix socket")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(path)
        sock.settimeout(5.0)
        yield sock, path


def test_notify_sends_one_datagram_to_the_notify_socket(
    listener: tuple[socket.socket, str],
) -> None:
    sock, path = listener
    assert notify("READY=1\nSTATUS=backfilling", env={"NOTIFY_SOCKET": path}) is True
    assert sock.recv(4096) == b"READY=1\nSTATUS=backfilling"


def test_notify_reaches_an_abstract_socket_named_with_an_at_sign() -> None:
    name = f"llm-monitor-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(5.0)
        assert notify("WATCHDOG=1", env={"NOTIFY_SOCKET": "@" + name}) is True
        assert sock.recv(4096) == b"WATCHDOG=1"


def test_notify_is_a_no_op_outside_systemd() -> None:
    assert notify("READY=1", env={}) is False
    assert notify("READY=1", env={"NOTIFY_SOCKET": ""}) is False


def test_notify_to_a_socket_that_is_gone_reports_false_instead_of_raising(
    tmp_path: Path,
) -> None:
    assert notify("READY=1", env={"NOTIFY_SOCKET": str(tmp_path / "missing")}) is False


def test_watchdog_interval_is_half_the_watchdog_period() -> None:
    assert watchdog_interval({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert (
        watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}) == 15.0
    )


def test_watchdog_interval_ignores_a_watchdog_meant_for_another_process() -> None:
    assert watchdog_interval({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None


@pytest.mark.parametrize("env", [{}, {"WATCHDOG_USEC": ""}, {"WATCHDOG_USEC": "soon"}])
def test_watchdog_interval_is_none_without_a_usable_period(env: dict[str, str]) -> None:
    assert watchdog_interval(env) is None


def _receive_until(sock: socket.socket, wanted: str, timeout: float) -> list[str]:
    """Every datagram up to and including the first with a line that starts with `wanted`."""
    got: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no {wanted!r} within {timeout} s; received {got}")
        sock.settimeout(remaining)
        try:
            msg = sock.recv(4096).decode()
        except TimeoutError:
            continue
        got.append(msg)
        if any(line.startswith(wanted) for line in msg.splitlines()):
            return got


@pytest.mark.e2e
def test_daemon_speaks_ready_status_watchdog_and_stopping(
    tmp_path: Path, listener: tuple[socket.socket, str]
) -> None:
    sock, path = listener
    with workspace(tmp_path / "ws") as ws:
        run = ws.root / "output" / "tech" / "run_1"
        run.mkdir(parents=True)
        ws.write_config(
            [Source("studio", "studio-tokens", (f"{ws.root}/output/**/run_*/tokens.jsonl",))]
        )
        daemon = _start(ws, {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "200000"})

        first = _receive_until(sock, "READY=1", 20.0)
        assert len(first) == 1, f"READY=1 must be the daemon's first message: {first}"
        _receive_until(sock, "STATUS=ready", 10.0)  # the backfill's end, as a status line
        _receive_until(sock, "WATCHDOG=1", 5.0)  # pings every 0.1 s …
        _receive_until(sock, "WATCHDOG=1", 1.0)  # … and they keep coming

        daemon.send(signal.SIGTERM)
        _receive_until(sock, "STOPPING=1", 5.0)
        assert daemon.wait_exit() == 0


@pytest.mark.e2e
def test_daemon_without_a_watchdog_period_sends_no_pings(
    tmp_path: Path, listener: tuple[socket.socket, str]
) -> None:
    sock, path = listener
    with workspace(tmp_path / "ws") as ws:
        ws.write_config([])
        daemon = _start(ws, {"NOTIFY_SOCKET": path})
        _receive_until(sock, "READY=1", 20.0)
        daemon.wait_ready()
        daemon.send(signal.SIGTERM)
        rest = _receive_until(sock, "STOPPING=1", 5.0)
        assert not [m for m in rest if "WATCHDOG=1" in m.splitlines()]
        assert daemon.wait_exit() == 0


def _start(ws: Workspace, env: dict[str, str]) -> DaemonProcess:
    daemon = ws.daemon(env=env)
    daemon.start()
    return daemon
