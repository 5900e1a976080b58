"""The dashboard's line to the daemon: connect, subscribe, batch, reconnect with back-off.

Owns the socket side of the dashboard and nothing of the screen. It reads the stream as
fast as the daemon writes it and hands over `FeedBatch`es at most every `interval`
seconds (the first message after a quiet spell at once), so a burst of hundreds of events
per second costs the screen a few redraws per second. Its callbacks must not block — the
App's `post_message` only queues — so the reader never waits for the UI, and the daemon
never has to drop it for falling behind.

When the daemon goes away it says so, waits (0.25 s doubling up to 5 s), reconnects, and
the new subscription starts with a snapshot that replaces the dashboard's state.

A daemon publishes no `event` messages while it backfills, so a dashboard that attached
during a backfill resubscribes once the daemon reports "ready" (its first snapshot then
lacks the backfilled calls; the new one has them).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, Protocol

from monitor.api import (
    PROTOCOL_VERSION,
    ApiError,
    AsyncClient,
    Hello,
    Message,
    Snapshot,
    TotalsMsg,
)
from monitor.tui.state import FeedBatch
from monitor.wire import DaemonInfo

BATCH_INTERVAL: Final = 0.15
BACKOFF: Final = (0.25, 0.5, 1.0, 2.0, 4.0, 5.0)


class Stream(Protocol):
    """What the feed needs of a connection (AsyncClient, or a scripted one in tests)."""

    async def hello(self) -> Hello: ...

    def subscribe(self) -> AsyncIterator[Message]: ...

    async def close(self) -> None: ...


Connect = Callable[[], Awaitable[Stream]]


def socket_connector(path: Path, timeout: float = 5.0) -> Connect:
    async def connect() -> Stream:
        return await AsyncClient(timeout=timeout).connect(path)

    return connect


class ReplayStream:
    """A daemon that says `messages` once and then stays silent: fixed data for tests,
    the bench and screenshots, through the same path as live data."""

    def __init__(self, messages: Sequence[Message], daemon: DaemonInfo | None = None) -> None:
        self._messages = list(messages)
        self._daemon: DaemonInfo = daemon if daemon is not None else {"pid": 0, "state": "ready"}
        self._closed = asyncio.Event()

    async def hello(self) -> Hello:
        return Hello(PROTOCOL_VERSION, self._daemon)

    async def subscribe(self) -> AsyncIterator[Message]:
        for msg in self._messages:
            yield msg
        await self._closed.wait()

    async def close(self) -> None:
        self._closed.set()


def replay_connector(messages: Sequence[Message], daemon: DaemonInfo | None = None) -> Connect:
    async def connect() -> Stream:
        return ReplayStream(messages, daemon)

    return connect


@dataclass(frozen=True, slots=True)
class Link:
    """The connection as the status bar tells it."""

    state: Literal["connecting", "live", "down"]
    detail: str = ""
    retry_in: float | None = None
    daemon: DaemonInfo | None = None


class LiveFeed:
    def __init__(
        self,
        connect: Connect,
        on_batch: Callable[[FeedBatch], None],
        on_link: Callable[[Link], None],
        *,
        interval: float = BATCH_INTERVAL,
        backoff: Sequence[float] = BACKOFF,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._connect = connect
        self._on_batch = on_batch
        self._on_link = on_link
        self._interval = interval
        self._backoff = tuple(backoff)
        self._monotonic = monotonic
        self._pending = FeedBatch()
        self._last_flush = float("-inf")
        self._timer: asyncio.TimerHandle | None = None
        self._snapshot_state: str | None = None
        self.resubscribes = 0

    async def run(self) -> None:
        """Until cancelled: stay subscribed, reconnecting whenever the daemon goes away."""
        failures = 0
        while True:
            self._on_link(Link("connecting"))
            got_data = resubscribe = False
            try:
                stream = await self._connect()
                try:
                    hello = await stream.hello()
                    self._on_link(Link("live", daemon=hello.daemon))
                    messages = stream.subscribe()
                    try:
                        async for msg in messages:
                            got_data = True
                            self._take(msg)
                            if self._backfill_ended(msg):
                                resubscribe = True
                                break
                    finally:
                        aclose = getattr(messages, "aclose", None)
                        if aclose is not None:
                            await aclose()
                finally:
                    await stream.close()
                if resubscribe:
                    self.resubscribes += 1
                    continue
                reason = "the daemon ended the stream"
            except (ApiError, OSError) as exc:
                reason = str(exc) or type(exc).__name__
            finally:
                self._flush()
            failures = 0 if got_data else failures + 1
            delay = self._backoff[min(failures, len(self._backoff) - 1)]
            self._on_link(Link("down", reason, retry_in=delay))
            await asyncio.sleep(delay)

    def _backfill_ended(self, msg: Message) -> bool:
        """Whether the daemon just finished the backfill the last snapshot was taken during."""
        if not isinstance(msg, Snapshot | TotalsMsg):
            return False
        state: str | None = msg.payload.get("state")
        if isinstance(msg, Snapshot):
            self._snapshot_state = state
        elif state == "ready" and self._snapshot_state not in (None, "ready"):
            self._snapshot_state = "ready"
            return True
        return False

    def _take(self, msg: Message) -> None:
        self._pending.add(msg)
        if self._timer is not None:
            return
        wait = self._last_flush + self._interval - self._monotonic()
        if wait <= 0:
            self._flush()
        else:
            self._timer = asyncio.get_running_loop().call_later(wait, self._flush)

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending, FeedBatch()
        if batch:
            self._last_flush = self._monotonic()
            self._on_batch(batch)
