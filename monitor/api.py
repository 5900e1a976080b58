"""The local socket API: protocol messages, the daemon's server, and its clients.

Owns the wire format (newline-delimited JSON over a Unix stream socket, DESIGN §8) and
both ends of it: the dashboard and the CLI reach the daemon only through this module. It
never decides what a snapshot, an event or an alert contains; the daemon hands over plain
dicts and this module carries them.

It must never let a client stall the daemon: every subscriber has a bounded queue, and one
that falls behind loses its backlog and gets a `resync` marker plus a fresh snapshot.

Conversation (one JSON object per line, each with "type"):
- hello → hello {"version", "daemon": {"pid", …}}
- snapshot → snapshot {…the daemon's payload…}
- subscribe → subscribed, snapshot, then event / totals / alert / snapshot … as they
  happen. Every snapshot a subscriber receives is a consistent point: the messages after
  it are exactly those published after it, so a client replaces its state with each
  snapshot and applies what follows. `resync` before a snapshot says messages were
  dropped because the client fell behind.
- anything else → error {"error"}; the connection stays usable.

Import cost matters (`llm-monitor status` should start in ~50 ms): at module level this
imports only cheap stdlib modules. asyncio (~40 ms) is imported inside the async parts,
so `request_sync` and `daemon_answers` never load it.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Final, Self, TypeVar

from monitor.events import usd_json, utc

if TYPE_CHECKING:
    import asyncio
    import logging
    from types import TracebackType

PROTOCOL_VERSION: Final = 1
SOCKET_NAME: Final = "llm-monitor.sock"
MAX_REQUEST_BYTES: Final = 64 * 1024
"""Longest request line the server reads; a longer one is skipped and answered with an error."""
MAX_REPLY_BYTES: Final = 64 * 1024 * 1024
"""Longest line a client accepts (snapshots carry recent events, so this is generous)."""
DEFAULT_QUEUE_SIZE: Final = 1000
# Linux's sun_path holds 108 bytes including the terminating NUL.
_MAX_SOCKET_PATH_BYTES: Final = 107

Payload = dict[str, Any]


class ApiError(Exception):
    """Base of everything this module raises on purpose."""


class ProtocolError(ApiError):
    """A line that is not a valid message, or a reply the caller did not ask for."""


class DaemonUnavailable(ApiError):
    """Nothing answers on the socket (no daemon, a stale socket file, or it went away)."""


class AlreadyRunning(ApiError):
    """Another daemon already serves this socket path."""


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return usd_json(value)
    if isinstance(value, datetime):
        return utc(value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def encode(obj: Mapping[str, Any]) -> bytes:
    """One JSON object → one newline-terminated line.

    Decimal becomes a 6-place dollar string and datetime ISO 8601 in UTC, so callers may
    hand over either.

    `ensure_ascii` keeps file paths decoded with surrogateescape (non-UTF-8 names)
    encodable instead of failing the whole message.
    """
    try:
        text = json.dumps(
            obj, default=_json_default, separators=(",", ":"), ensure_ascii=True, allow_nan=False
        )
    except (TypeError, ValueError) as exc:
        raise ProtocolError(f"cannot encode {obj.get('type')!r} message: {exc}") from exc
    return text.encode("ascii") + b"\n"


def decode(line: bytes | str) -> Payload:
    """One line → a JSON object that has a string "type" (anything else is a ProtocolError)."""
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(f"malformed JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise ProtocolError(f"expected a JSON object, got {type(obj).__name__}")
    if not isinstance(obj.get("type"), str):
        raise ProtocolError('the object has no string "type"')
    return obj


# --- protocol messages -------------------------------------------------------------------


class _Message:
    __slots__ = ()
    type: ClassVar[str]

    def _body(self) -> Payload:
        return {}

    @classmethod
    def _parse(cls, obj: Payload) -> Self:
        return cls()

    def to_json(self) -> bytes:
        return encode({"type": self.type, **self._body()})


@dataclass(frozen=True, slots=True)
class Hello(_Message):
    """Both directions: the client says its version; the daemon adds who it is."""

    type: ClassVar[str] = "hello"
    version: int = PROTOCOL_VERSION
    daemon: Payload | None = None

    def _body(self) -> Payload:
        body: Payload = {"version": self.version}
        if self.daemon is not None:
            body["daemon"] = self.daemon
        return body

    @classmethod
    def _parse(cls, obj: Payload) -> Self:
        version, daemon = obj.get("version"), obj.get("daemon")
        if not isinstance(version, int) or isinstance(version, bool):
            raise ProtocolError("hello needs an integer version")
        if daemon is not None and not isinstance(daemon, dict):
            raise ProtocolError("hello's daemon must be an object")
        return cls(version, daemon)


@dataclass(frozen=True, slots=True)
class _PayloadMessage(_Message):
    """A message whose content the daemon decides: its fields sit beside "type"."""

    payload: Payload = field(default_factory=dict)

    def _body(self) -> Payload:
        return {k: v for k, v in self.payload.items() if k != "type"}

    @classmethod
    def _parse(cls, obj: Payload) -> Self:
        return cls({k: v for k, v in obj.items() if k != "type"})


@dataclass(frozen=True, slots=True)
class Snapshot(_PayloadMessage):
    """Request: empty. Reply: totals, budgets, forecast, recent, unpriced, sources, status."""

    type: ClassVar[str] = "snapshot"


@dataclass(frozen=True, slots=True)
class EventMsg(_PayloadMessage):
    type: ClassVar[str] = "event"


@dataclass(frozen=True, slots=True)
class TotalsMsg(_PayloadMessage):
    type: ClassVar[str] = "totals"


@dataclass(frozen=True, slots=True)
class AlertMsg(_PayloadMessage):
    type: ClassVar[str] = "alert"


@dataclass(frozen=True, slots=True)
class Subscribe(_Message):
    type: ClassVar[str] = "subscribe"


@dataclass(frozen=True, slots=True)
class Subscribed(_Message):
    """The ack of subscribe; a snapshot and then the stream follow."""

    type: ClassVar[str] = "subscribed"


@dataclass(frozen=True, slots=True)
class Resync(_Message):
    """The client fell behind and lost messages; the snapshot that follows replaces its state."""

    type: ClassVar[str] = "resync"


@dataclass(frozen=True, slots=True)
class ErrorMsg(_Message):
    type: ClassVar[str] = "error"
    error: str

    def _body(self) -> Payload:
        return {"error": self.error}

    @classmethod
    def _parse(cls, obj: Payload) -> Self:
        error = obj.get("error")
        if not isinstance(error, str):
            raise ProtocolError("error needs a string error")
        return cls(error)


Message = (
    Hello | Snapshot | Subscribe | Subscribed | Resync | EventMsg | TotalsMsg | AlertMsg | ErrorMsg
)
_MESSAGE_TYPES: Final[dict[str, type[Message]]] = {
    cls.type: cls
    for cls in (
        Hello,
        Snapshot,
        Subscribe,
        Subscribed,
        Resync,
        EventMsg,
        TotalsMsg,
        AlertMsg,
        ErrorMsg,
    )
}
_M = TypeVar("_M", bound=Message)


def from_json(line: bytes | str) -> Message:
    """One line → its message; malformed JSON, an unknown type or bad fields → ProtocolError."""
    obj = decode(line)
    cls = _MESSAGE_TYPES.get(obj["type"])
    if cls is None:
        raise ProtocolError(f"unknown message type {obj['type']!r}")
    return cls._parse(obj)


# --- paths and probes (no asyncio) ---------------------------------------------------------


def default_socket_path(state_dir: Path) -> Path:
    """$XDG_RUNTIME_DIR/llm-monitor.sock (per-user, private, cleared at logout), else state_dir."""
    runtime = os.environ.get("XDG_RUNTIME_DIR", "")
    # The XDG base-directory spec says a relative value must be ignored.
    if os.path.isabs(runtime):
        return Path(runtime) / SOCKET_NAME
    return state_dir / SOCKET_NAME


def _listener_at(path: Path) -> bool | None:
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
        return _listener_at(path) is True
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
    """Send one request, return the daemon's reply: a blocking client for CLI commands.

    Needs only `socket` and `json`, so a short-lived command pays no asyncio import.
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


# --- async client ----------------------------------------------------------------------------


class AsyncClient:
    """One connection to the daemon, for the dashboard: requests, then optionally the stream.

    Once `subscribe()` has started, the connection carries only the stream; open a second
    client for requests.
    """

    def __init__(self, *, timeout: float = 5.0, limit: int = MAX_REPLY_BYTES) -> None:
        self._timeout = timeout
        self._limit = limit
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._lock: asyncio.Lock | None = None
        self._subscribed = False

    async def connect(self, path: Path) -> Self:
        import asyncio

        try:
            async with asyncio.timeout(self._timeout):
                self._reader, self._writer = await asyncio.open_unix_connection(
                    str(path), limit=self._limit
                )
        except TimeoutError as exc:
            raise DaemonUnavailable(
                f"the daemon on {path} did not accept within {self._timeout} s"
            ) from exc
        except OSError as exc:
            raise DaemonUnavailable(f"no llm-monitor daemon answers on {path}: {exc}") from exc
        self._lock = asyncio.Lock()
        return self

    async def hello(self) -> Hello:
        """Greet the daemon; raises ProtocolError if it speaks another protocol version."""
        reply = await self._request(Hello(PROTOCOL_VERSION), Hello)
        if reply.version != PROTOCOL_VERSION:
            raise ProtocolError(
                f"the daemon speaks protocol {reply.version}, this client {PROTOCOL_VERSION}"
            )
        return reply

    async def snapshot(self) -> Payload:
        return (await self._request(Snapshot(), Snapshot)).payload

    async def subscribe(self) -> AsyncIterator[Message]:
        """Yield the stream: a snapshot first, then event, totals, alert, resync, snapshot….

        Raises DaemonUnavailable when the daemon goes away.
        """
        await self._request(Subscribe(), Subscribed)
        self._subscribed = True
        while True:
            yield await self._read(timeout=None)

    async def close(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            await _close_stream(writer, self._timeout)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _request(self, request: Message, expected: type[_M]) -> _M:
        if self._writer is None or self._lock is None:
            raise ApiError("not connected")
        if self._subscribed:
            raise ApiError("this connection is subscribed; open another client for requests")
        async with self._lock:
            self._writer.write(request.to_json())
            try:
                await self._writer.drain()
            except ConnectionError as exc:
                raise DaemonUnavailable(f"the daemon went away: {exc}") from exc
            reply = await self._read(timeout=self._timeout)
        if isinstance(reply, ErrorMsg):
            raise ProtocolError(f"the daemon refused {request.type!r}: {reply.error}")
        if not isinstance(reply, expected):
            raise ProtocolError(f"expected a {expected.type!r} reply, got {reply.type!r}")
        return reply

    async def _read(self, timeout: float | None) -> Message:
        import asyncio

        if self._reader is None:
            raise ApiError("not connected")
        try:
            async with asyncio.timeout(timeout):
                line = await self._reader.readuntil(b"\n")
        except TimeoutError as exc:
            # A late reply would be read as the answer to the next request: drop the line.
            if self._writer is not None:
                self._writer.transport.abort()
            raise DaemonUnavailable(f"the daemon did not answer within {timeout} s") from exc
        except asyncio.IncompleteReadError as exc:
            raise DaemonUnavailable("the daemon closed the connection") from exc
        except asyncio.LimitOverrunError as exc:
            raise ProtocolError(f"a message longer than {self._limit} bytes") from exc
        except ConnectionError as exc:
            raise DaemonUnavailable(f"the daemon went away: {exc}") from exc
        return from_json(line)


# --- server ---------------------------------------------------------------------------------


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
        snapshot: Callable[[], Payload],
        hello_info: Callable[[], Payload],
        *,
        queue_size: int = DEFAULT_QUEUE_SIZE,
        max_request_bytes: int = MAX_REQUEST_BYTES,
    ) -> None:
        import logging

        if queue_size < 2:
            raise ValueError("queue_size must leave room for a resync marker and a snapshot")
        self._path = path
        self._snapshot = snapshot
        self._hello_info = hello_info
        self._queue_size = queue_size
        self._max_request = max_request_bytes
        self._log: logging.Logger = logging.getLogger(__name__)
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
        import asyncio

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
        import asyncio

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

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def publish(self, msg: Message) -> None:
        """Queue `msg` for every subscriber; never blocks, never waits for a client.

        Call it after the daemon's state has changed: a subscriber whose queue is full
        loses its backlog (this message included) and is queued a resync marker and a
        snapshot taken now, which must therefore already reflect `msg`. An unencodable
        `msg` (a daemon bug) raises ProtocolError before anyone gets it.
        """
        import asyncio

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
                    self._log.exception("snapshot failed; dropping a slow subscriber instead")
                    client.writer.transport.abort()
                    continue
            self._log.info(
                "a socket subscriber fell %d messages behind; resyncing it", client.queue.qsize()
            )
            _clear(client.queue)
            for resync_line in resync:
                client.queue.put_nowait(resync_line)

    # -- single instance and the socket file

    def _lock_path(self) -> Path:
        return self._path.with_name(self._path.name + ".lock")

    def _take_lock(self) -> None:
        import fcntl

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
        if _listener_at(self._path):
            # Someone serves it without our lock (a foreign program or an older daemon).
            pid = await _peer_pid(self._path)
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
        import asyncio

        if not self._accepting:  # accepted just as the server stopped
            await _close_stream(writer, self._close_grace)
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
            self._log.exception("socket client failed")
        finally:
            self._clients.discard(client)
            if client.pump is not None:
                client.pump.cancel()
                await asyncio.wait([client.pump])
            await _close_stream(writer, self._close_grace)
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
        import asyncio

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
                            "(expected hello, snapshot or subscribe)"
                        ).to_json()
                    ]
        except Exception as exc:
            self._log.exception("answering %r failed", request.type)
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

    def _daemon_info(self) -> Payload:
        info = dict(self._hello_info())
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


async def _close_stream(writer: asyncio.StreamWriter, grace: float) -> None:
    """Close and wait until the socket is really closed, aborting a peer that will not read.

    Waiting matters: a transport closed but not yet released when its loop ends leaks
    its socket.
    """
    import asyncio

    writer.close()
    try:
        async with asyncio.timeout(grace):
            await writer.wait_closed()
    except TimeoutError:
        writer.transport.abort()
    except OSError:
        return  # closed by an error, which is closed all the same
    else:
        return
    try:
        await writer.wait_closed()
    except OSError:
        pass


def _clear(queue: asyncio.Queue[bytes]) -> None:
    while not queue.empty():
        queue.get_nowait()


async def _read_request(reader: asyncio.StreamReader) -> bytes | None:
    """The next request line, or None at EOF; `_RequestTooLong` after skipping a long line.

    The over-long line is consumed in pieces as it arrives, so it never sits in memory
    whole; asyncio's own readline would instead drop the buffer and read the line's tail
    as a fresh request.
    """
    import asyncio

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


async def _peer_pid(path: Path) -> int | None:
    """The pid a daemon at `path` reports in its hello, if it answers one quickly."""
    try:
        async with AsyncClient(timeout=1.0) as client:
            await client.connect(path)
            daemon = (await client.hello()).daemon or {}
    except ApiError:
        return None
    pid = daemon.get("pid")
    return pid if isinstance(pid, int) else None


def _running_message(path: Path, pid: object) -> str:
    who = f" (pid {pid})" if pid is not None else ""
    return f"another llm-monitor daemon is running on {path}{who}"
