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

if TYPE_CHECKING:
    from monitor.api.async_client import AsyncClient
    from monitor.api.client import daemon_answers, request_sync, snapshot_sync, status_sync
    from monitor.api.framing import (
        MAX_REPLY_BYTES,
        MAX_REQUEST_BYTES,
        PROTOCOL_VERSION,
        AlreadyRunning,
        ApiError,
        DaemonUnavailable,
        Payload,
        ProtocolError,
        decode,
        encode,
    )
    from monitor.api.protocol import (
        AlertMsg,
        ErrorMsg,
        EventMsg,
        Hello,
        Message,
        Resync,
        Snapshot,
        StatusMsg,
        Subscribe,
        Subscribed,
        TotalsMsg,
        from_json,
    )
    from monitor.api.server import DEFAULT_QUEUE_SIZE, ApiServer
# Every name is loaded on first use, from the lightest module that has it: the framing
# and the client are all `status` and the status bar need; the message classes, asyncio
# and the server are for the daemon and the dashboard.
_MODULES = ("framing", "client", "protocol", "async_client", "server")


def __getattr__(name: str) -> Any:
    if name in __all__:
        for module in _MODULES:
            found = importlib.import_module(f"{__name__}.{module}")
            if hasattr(found, name):
                value = getattr(found, name)
                globals()[name] = value
                return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    "StatusMsg",
    "Subscribe",
    "Subscribed",
    "TotalsMsg",
    "daemon_answers",
    "decode",
    "encode",
    "from_json",
    "request_sync",
    "snapshot_sync",
    "status_sync",
]
