"""The socket's framing: one JSON object per line, the size limits, and the errors.

Split from `protocol` (the message classes) so the one-request client — `status` and the
status bar — imports no dataclasses: ~15 ms of every run of a command that runs every few
hundred milliseconds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final

from monitor.events import usd_json, utc

PROTOCOL_VERSION: Final = 1
MAX_REQUEST_BYTES: Final = 64 * 1024
"""Longest request line the server reads; a longer one is skipped and answered with an error."""
MAX_REPLY_BYTES: Final = 64 * 1024 * 1024
"""Longest line a client accepts (snapshots carry recent events, so this is generous)."""

Payload = dict[str, Any]
"""A decoded JSON object, before anyone says which document it is."""


class ApiError(Exception):
    """Base of everything the API raises on purpose."""


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
