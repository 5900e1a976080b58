"""The local socket API: the only way the CLI and the dashboard reach the daemon.

- `protocol`: the messages, their one-line JSON encoding, the errors.
- `client`: the blocking one-request client and the liveness probe (CLI commands).
- `async_client`: the streaming asyncio client (the dashboard).
- `server`: the daemon's end: answers requests, fans messages out, one daemon per socket.

The documents the messages carry are typed in `monitor.wire`.

`import monitor.api` must stay cheap: `llm-monitor status` answers in tens of
milliseconds, and importing asyncio alone takes about as long. So `AsyncClient` and
`ApiServer` are loaded on first use, and only their two modules import asyncio.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from monitor.api.client import daemon_answers, request_sync, snapshot_sync
from monitor.api.protocol import (
    MAX_REPLY_BYTES,
    MAX_REQUEST_BYTES,
    PROTOCOL_VERSION,
    AlertMsg,
    AlreadyRunning,
    ApiError,
    DaemonUnavailable,
    ErrorMsg,
    EventMsg,
    Hello,
    Message,
    Payload,
    ProtocolError,
    Resync,
    Snapshot,
    Subscribe,
    Subscribed,
    TotalsMsg,
    decode,
    encode,
    from_json,
)

if TYPE_CHECKING:
    from monitor.api.async_client import AsyncClient
    from monitor.api.server import DEFAULT_QUEUE_SIZE, ApiServer

_LAZY = {
    "AsyncClient": "monitor.api.async_client",
    "ApiServer": "monitor.api.server",
    "DEFAULT_QUEUE_SIZE": "monitor.api.server",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


__all__ = [
    "DEFAULT_QUEUE_SIZE",
    "MAX_REPLY_BYTES",
    "MAX_REQUEST_BYTES",
    "PROTOCOL_VERSION",
    "AlertMsg",
    "AlreadyRunning",
    "ApiError",
    "ApiServer",
    "AsyncClient",
    "DaemonUnavailable",
    "ErrorMsg",
    "EventMsg",
    "Hello",
    "Message",
    "Payload",
    "ProtocolError",
    "Resync",
    "Snapshot",
    "Subscribe",
    "Subscribed",
    "TotalsMsg",
    "daemon_answers",
    "decode",
    "encode",
    "from_json",
    "request_sync",
    "snapshot_sync",
]
