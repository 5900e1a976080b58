"""The streaming client: one asyncio connection to the daemon, for the dashboard.

Imports asyncio, so the CLI's blocking path (`client.request_sync`) never imports this
module. `close_stream` is shared with the server: both ends close a connection alike.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Self, TypeVar

from monitor.api.framing import (
    MAX_REPLY_BYTES,
    PROTOCOL_VERSION,
    ApiError,
    DaemonUnavailable,
    ProtocolError,
)
from monitor.api.protocol import (
    ErrorMsg,
    Hello,
    Message,
    Snapshot,
    Subscribe,
    Subscribed,
    from_json,
)
from monitor.wire import SnapshotDoc

_M = TypeVar("_M", bound=Message)


class AsyncClient:
    """One connection to the daemon: requests, then optionally the stream.

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

    async def snapshot(self) -> SnapshotDoc:
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
            await close_stream(writer, self._timeout)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
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


async def close_stream(writer: asyncio.StreamWriter, grace: float) -> None:
    """Close and wait until the socket is really closed, aborting a peer that will not read.

    Waiting matters: a transport closed but not yet released when its loop ends leaks
    its socket.
    """
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


async def peer_pid(path: Path) -> int | None:
    """The pid a daemon at `path` reports in its hello, if it answers one quickly."""
    try:
        async with AsyncClient(timeout=1.0) as client:
            await client.connect(path)
            hello = await client.hello()
    except ApiError:
        return None
    pid = hello.daemon.get("pid") if hello.daemon is not None else None
    return pid if isinstance(pid, int) else None
