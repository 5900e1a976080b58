"""The daemon's end of the socket: answer requests, fan published messages out.

It must never let a client stall the daemon: every subscriber has a bounded queue, and
one that falls behind loses its backlog and gets a `resync` marker plus a fresh
snapshot. Single instance: a lock file beside the socket, and a stale socket file is
replaced only when nobody answers on it.

The daemon hands over callbacks for the documents (`snapshot`, `hello_info`); this module
carries them and never decides what they contain.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import socket
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Self

from monitor.api.async_client import close_stream, peer_pid
from monitor.api.client import listener_at
from monitor.api.framing import (
    MAX_REQUEST_BYTES,
    PROTOCOL_VERSION,
    AlreadyRunning,
    ApiError,
    ProtocolError,
)
from monitor.api.protocol import (
    ErrorMsg,
    Hello,
    Message,
    Resync,
    Snapshot,
    StatusMsg,
    Subscribe,
    Subscribed,
    from_json,
)
from monitor.wire import DaemonInfo, SnapshotDoc, StatusDoc, status_part

DEFAULT_QUEUE_SIZE: Final = 1000
# Linux's sun_path holds 108 bytes including the terminating NUL.
_MAX_SOCKET_PATH_BYTES: Final = 107

_log = logging.getLogger("llm_monitor.api")


@dataclass(eq=False)
class _Client:
    writer: asyncio.StreamWriter
    queue: asyncio.Queue[bytes]
    subscribed: bool = False
    pump: asyncio.Task[None] | None = None


class _RequestTooLong(Exception):
    """A request line over the limit was skipped."""


class ApiServer:
    """The daemon's end of the socket: answers requests and fans published messages out.

    Single-instance: a lock file beside the socket (`<socket>.lock`, holding the pid) is
    held while serving, so two daemons starting at once cannot both decide the socket is
    stale and steal it from each other. The lock file is left in place on stop: deleting
    a lock file races with the next daemon opening it.
    """

    def __init__(
        self,
        path: Path,
        snapshot: Callable[[], SnapshotDoc],
        hello_info: Callable[[], DaemonInfo],
        *,
        status: Callable[[], StatusDoc] | None = None,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        max_request_bytes: int = MAX_REQUEST_BYTES,
    ) -> None:
        if queue_size < 2:
            raise ValueError("queue_size must leave room for a resync marker and a snapshot")
        self._path = path
        self._snapshot = snapshot
        self._status = status or (lambda: status_part(snapshot()))
        self._hello_info = hello_info
        self._queue_size = queue_size
        self._max_request = max_request_bytes
        self._server: asyncio.Server | None = None
        self._clients: set[_Client] = set()
        self._connections: dict[asyncio.Task[Any], asyncio.StreamWriter] = {}
        self._close_grace = 1.0
        self._accepting = False
        self._lock_fd: int | None = None
        self._socket_id: tuple[int, int] | None = None

    @property
    def path(self) -> Path:
        return self._path

    @property
    def client_count(self) -> int:
        return len(self._clients)

    async def start(self) -> None:
        """Bind the socket (mode 0600) and serve; AlreadyRunning if another daemon has it."""
        if self._server is not None:
            raise ApiError("the server is already running")
        if len(os.fsencode(self._path)) > _MAX_SOCKET_PATH_BYTES:
            raise ApiError(
                f"socket path is longer than {_MAX_SOCKET_PATH_BYTES} bytes, which Unix sockets "
                f"cannot bind: {self._path} (set XDG_RUNTIME_DIR or use a shorter state dir)"
            )
        self._path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._take_lock()
        sock: socket.socket | None = None
        try:
            await self._remove_stale_socket()
            sock = self._bind()
            self._accepting = True
            self._server = await asyncio.start_unix_server(
                self._handle, sock=sock, limit=self._max_request
            )
        except BaseException:
            self._accepting = False
            if sock is not None:
                sock.close()
                self._remove_socket()
            self._release_lock()
            raise

    async def stop(self, grace: float = 1.0) -> None:
        """Stop listening, close every client, remove the socket file, release the lock.

        A client that does not read what is still buffered for it within `grace` seconds is
        cut off, so a stuck client cannot hold up the daemon's shutdown.
        """
        server, self._server = self._server, None
        if server is None:
            return
        self._accepting = False
        server.close()
        self._close_grace = grace
        for writer in self._connections.values():
            writer.close()
        if self._connections:
            _, pending = await asyncio.wait(self._connections, timeout=grace)
            for handler in pending:
                self._connections[handler].transport.abort()
            if pending:
                await asyncio.wait(pending)
        await server.wait_closed()
        self._remove_socket()
        self._release_lock()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def publish(self, msg: Message) -> None:
        """Queue `msg` for every subscriber; never blocks, never waits for a client.

        Call it after the daemon's state has changed: a subscriber whose queue is full
        loses its backlog (this message included) and is queued a resync marker and a
        snapshot taken now, which must therefore already reflect `msg`. An unencodable
        `msg` (a daemon bug) raises ProtocolError before anyone gets it.
        """
        line = msg.to_json()
        resync: list[bytes] | None = None
        for client in list(self._clients):
            if not client.subscribed or client.writer.is_closing():
                continue
            try:
                client.queue.put_nowait(line)
                continue
            except asyncio.QueueFull:
                pass
            if resync is None:
                try:
                    resync = [Resync().to_json(), self._snapshot_line()]
                except Exception:
                    _log.exception("snapshot failed; dropping a slow subscriber instead")
                    client.writer.transport.abort()
                    continue
            _log.info(
                "a socket subscriber fell %d messages behind; resyncing it", client.queue.qsize()
            )
            _clear(client.queue)
            for resync_line in resync:
                client.queue.put_nowait(resync_line)

    # -- single instance and the socket file

    def _lock_path(self) -> Path:
        return self._path.with_name(self._path.name + ".lock")

    def _take_lock(self) -> None:
        fd = os.open(self._lock_path(), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.read(fd, 32).decode("ascii", "replace").strip()
            os.close(fd)
            raise AlreadyRunning(_running_message(self._path, pid or None)) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd

    def _release_lock(self) -> None:
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            os.close(fd)  # closing the only descriptor releases the flock

    async def _remove_stale_socket(self) -> None:
        try:
            st = os.lstat(self._path)
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(st.st_mode):
            raise ApiError(f"{self._path} exists and is not a socket; refusing to replace it")
        if listener_at(self._path):
            # Someone serves it without our lock (a foreign program or an older daemon).
            pid = await peer_pid(self._path)
            raise AlreadyRunning(_running_message(self._path, pid))
        self._path.unlink(missing_ok=True)

    def _bind(self) -> socket.socket:
        """Bind at the path with mode 0600, not yet listening.

        Race-free without touching the process-wide umask: connect() checks the socket
        file's permissions and is refused until listen(), which asyncio calls only after
        this chmod, so nobody can connect while the mode is still the umask's.
        """
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.bind(str(self._path))
            os.chmod(self._path, 0o600)
            st = os.stat(self._path)
        except BaseException:
            sock.close()
            raise
        self._socket_id = (st.st_dev, st.st_ino)
        return sock

    def _remove_socket(self) -> None:
        """Unlink the socket file, unless it is no longer the one we bound."""
        socket_id, self._socket_id = self._socket_id, None
        try:
            st = os.lstat(self._path)
        except FileNotFoundError:
            return
        if (st.st_dev, st.st_ino) == socket_id:
            self._path.unlink(missing_ok=True)

    # -- connections

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self._accepting:  # accepted just as the server stopped
            await close_stream(writer, self._close_grace)
            return
        handler = asyncio.current_task()
        assert handler is not None
        self._connections[handler] = writer
        client = _Client(writer, asyncio.Queue(self._queue_size))
        self._clients.add(client)
        try:
            await self._converse(client, reader)
        except ConnectionError:
            pass  # the client vanished mid-reply
        except Exception:
            _log.exception("socket client failed")
        finally:
            self._clients.discard(client)
            if client.pump is not None:
                client.pump.cancel()
                await asyncio.wait([client.pump])
            await close_stream(writer, self._close_grace)
            del self._connections[handler]

    async def _converse(self, client: _Client, reader: asyncio.StreamReader) -> None:
        while True:
            try:
                line = await _read_request(reader)
            except _RequestTooLong:
                replies = [ErrorMsg(f"request longer than {self._max_request} bytes").to_json()]
            else:
                if line is None:
                    return
                if not line.strip():
                    continue
                replies = self._answer(client, line)
            client.writer.writelines(replies)
            await client.writer.drain()

    def _answer(self, client: _Client, line: bytes) -> list[bytes]:
        try:
            request = from_json(line)
        except ProtocolError as exc:
            return [ErrorMsg(str(exc)).to_json()]
        try:
            match request:
                case Hello():
                    return [Hello(PROTOCOL_VERSION, self._daemon_info()).to_json()]
                case Snapshot():
                    return [self._consistent_snapshot(client)]
                case StatusMsg():
                    return [StatusMsg(self._status()).to_json()]
                case Subscribe():
                    replies = [Subscribed().to_json(), self._consistent_snapshot(client)]
                    if not client.subscribed:
                        client.subscribed = True
                        client.pump = asyncio.create_task(self._pump(client))
                    return replies
                case _:
                    return [
                        ErrorMsg(
                            f"{request.type!r} is not a request "
                            "(expected hello, snapshot, status or subscribe)"
                        ).to_json()
                    ]
        except Exception as exc:
            _log.exception("answering %r failed", request.type)
            return [ErrorMsg(f"the daemon failed to answer {request.type!r}: {exc}").to_json()]

    def _consistent_snapshot(self, client: _Client) -> bytes:
        """A snapshot line to write right now, ahead of the client's queue.

        The snapshot covers everything published so far, so the messages still queued for
        this client are dropped; otherwise they would arrive after it and count twice.
        """
        line = self._snapshot_line()
        _clear(client.queue)
        return line

    def _snapshot_line(self) -> bytes:
        return Snapshot(self._snapshot()).to_json()

    def _daemon_info(self) -> DaemonInfo:
        info: DaemonInfo = {**self._hello_info()}
        info.setdefault("pid", os.getpid())
        return info

    async def _pump(self, client: _Client) -> None:
        """Write a subscriber's queue to its socket; waiting on a slow reader stalls only this."""
        queue, writer = client.queue, client.writer
        try:
            while True:
                lines = [await queue.get()]
                while not queue.empty():
                    lines.append(queue.get_nowait())
                writer.writelines(lines)
                await writer.drain()
        except ConnectionError:
            pass  # the handler sees the EOF and cleans up


def _clear(queue: asyncio.Queue[bytes]) -> None:
    while not queue.empty():
        queue.get_nowait()


async def _read_request(reader: asyncio.StreamReader) -> bytes | None:
    """The next request line, or None at EOF; `_RequestTooLong` after skipping a long line.

    The over-long line is consumed in pieces as it arrives, so it never sits in memory
    whole; asyncio's own readline would instead drop the buffer and read the line's tail
    as a fresh request.
    """
    try:
        return await reader.readuntil(b"\n")
    except asyncio.IncompleteReadError as exc:
        return exc.partial or None  # a last request without its newline still counts
    except asyncio.LimitOverrunError as exc:
        consumed = exc.consumed
    while True:
        try:
            await reader.readexactly(consumed)
            await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError:
            return None
        except asyncio.LimitOverrunError as exc:
            consumed = exc.consumed
        else:
            raise _RequestTooLong


def _running_message(path: Path, pid: object) -> str:
    who = f" (pid {pid})" if pid is not None else ""
    return f"another llm-monitor daemon is running on {path}{who}"
