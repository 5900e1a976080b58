"""The blocking client: one request, one reply, for short-lived CLI commands.

Needs only `socket` and `json`, never asyncio (tens of milliseconds to import), so
`llm-monitor status` starts fast. The dashboard's streaming client is
`async_client.AsyncClient`.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from monitor.api.framing import (
    MAX_REPLY_BYTES,
    DaemonUnavailable,
    Payload,
    ProtocolError,
    decode,
    encode,
)
from monitor.wire import SnapshotDoc, StatusDoc


def listener_at(path: Path) -> bool | None:
    """True if something listens at `path`, False for a socket file nobody serves, None if absent.

    A non-blocking connect never waits: a Unix socket either accepts into its backlog,
    refuses, or (backlog full, so very much alive) says EAGAIN.
    """
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.setblocking(False)
        try:
            sock.connect(str(path))
        except BlockingIOError:
            return True
        except ConnectionRefusedError:
            return False
        except FileNotFoundError:
            return None
        return True


def daemon_answers(path: Path) -> bool:
    """Whether a daemon listens on `path` (`scan` refuses to run beside one)."""
    try:
        return listener_at(path) is True
    except OSError:
        return False


def _recv_line(sock: socket.socket, deadline: float, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError
        sock.settimeout(remaining)
        chunk = sock.recv(65536)
        if not chunk:
            raise DaemonUnavailable("the daemon closed the connection before answering")
        end = chunk.find(b"\n")
        if end >= 0:
            chunks.append(chunk[: end + 1])
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise ProtocolError(f"reply longer than {limit} bytes")


def request_sync(path: Path, request: Mapping[str, Any], timeout: float = 1.0) -> Payload:
    """Send one request, return the daemon's reply (decoded, with its "type").

    Raises DaemonUnavailable if nothing answers within `timeout` seconds (all of connect,
    send and receive), ProtocolError if the daemon answers with an error.
    """
    line = encode(request)
    deadline = time.monotonic() + timeout
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            sock.sendall(line)
            reply = _recv_line(sock, deadline, MAX_REPLY_BYTES)
    except TimeoutError as exc:
        raise DaemonUnavailable(f"the daemon on {path} did not answer within {timeout} s") from exc
    except OSError as exc:
        raise DaemonUnavailable(f"no llm-monitor daemon answers on {path}: {exc}") from exc
    obj = decode(reply)
    if obj["type"] == "error":
        raise ProtocolError(f"the daemon refused {request.get('type')!r}: {obj.get('error')}")
    return obj


def status_sync(path: Path, timeout: float = 1.0) -> StatusDoc:
    """The daemon's status document: a status bar's and `status`'s question, without the
    series, breakdown and recent calls of a snapshot. Raises as `request_sync` does."""
    reply = request_sync(path, {"type": "status"}, timeout=timeout)
    return cast(StatusDoc, {k: v for k, v in reply.items() if k != "type"})


def snapshot_sync(path: Path, timeout: float = 1.0) -> SnapshotDoc:
    """The daemon's snapshot document (its reply still carries "type": "snapshot").

    Raises as `request_sync` does.
    """
    reply = request_sync(path, {"type": "snapshot"}, timeout=timeout)
    return cast(SnapshotDoc, reply)  # as the daemon writes it, not validated (see monitor.wire)
