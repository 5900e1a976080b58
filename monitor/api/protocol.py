"""The socket protocol: its messages, their one-line JSON encoding, and its errors.

Newline-delimited JSON over a Unix stream socket, one object per line, each with a
string "type":
- hello → hello {"version", "daemon": {"pid", …}}
- snapshot → snapshot {…the snapshot document…}
- subscribe → subscribed, snapshot, then event / totals / alert / snapshot … as they
  happen. Every snapshot a subscriber receives is a consistent point: the messages after
  it are exactly those published after it, so a client replaces its state with each
  snapshot and applies what follows. `resync` before a snapshot says messages were
  dropped because the client fell behind.
- anything else → error {"error"}; the connection stays usable.

The documents the messages carry are typed in `monitor.wire`; this module carries them
and never decides what they contain. Stdlib only (no asyncio): the CLI imports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Final, Generic, Self, TypeVar, cast

from monitor.api.framing import PROTOCOL_VERSION, Payload, ProtocolError, decode, encode
from monitor.wire import AlertPayload, DaemonInfo, EventPayload, SnapshotDoc, StatusDoc

# --- messages --------------------------------------------------------------------------------


class _Message:
    """A protocol message: `type` names it on the wire, given as a class keyword."""

    __slots__ = ()
    type: ClassVar[str]

    def __init_subclass__(cls, *, type: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if type:  # dataclass(slots=True) re-creates the class without the keyword
            cls.type = type

    def _body(self) -> Mapping[str, Any]:
        return {}

    @classmethod
    def _parse(cls, obj: Payload) -> Self:
        return cls()

    def to_json(self) -> bytes:
        return encode({"type": self.type, **self._body()})


@dataclass(frozen=True, slots=True)
class Hello(_Message, type="hello"):
    """Both directions: the client says its version; the daemon adds who it is."""

    version: int = PROTOCOL_VERSION
    daemon: DaemonInfo | None = None

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
        return cls(version, cast("DaemonInfo | None", daemon))


_D = TypeVar("_D", bound=Mapping[str, object])


def _no_document() -> Any:
    # A request carries no document: `Snapshot()` asks for one.
    return {}


@dataclass(frozen=True, slots=True)
class _DocumentMessage(_Message, Generic[_D]):
    """A message carrying a document (typed in `monitor.wire`): its keys sit beside "type".

    Decoding does not validate the document; readers take it as `wire` describes it.
    """

    payload: _D = field(default_factory=_no_document)

    def _body(self) -> Mapping[str, Any]:
        return {k: v for k, v in self.payload.items() if k != "type"}

    @classmethod
    def _parse(cls, obj: Payload) -> Self:
        document: Any = {k: v for k, v in obj.items() if k != "type"}
        return cls(document)


@dataclass(frozen=True, slots=True)
class Snapshot(_DocumentMessage[SnapshotDoc], type="snapshot"):
    """Request: empty. Reply: the status document with series, breakdown, recent, alerts."""


@dataclass(frozen=True, slots=True)
class StatusMsg(_DocumentMessage[StatusDoc], type="status"):
    """Request: empty. Reply: the status document alone — what `status` and a status bar
    show, a fraction of a snapshot's size (no series, breakdown or recent calls)."""


@dataclass(frozen=True, slots=True)
class EventMsg(_DocumentMessage[EventPayload], type="event"):
    """A call the daemon just counted (or counted again, larger, while it streamed)."""


@dataclass(frozen=True, slots=True)
class TotalsMsg(_DocumentMessage[SnapshotDoc], type="totals"):
    """The new totals after a round of calls: a snapshot document without `recent`."""


@dataclass(frozen=True, slots=True)
class AlertMsg(_DocumentMessage[AlertPayload], type="alert"):
    """An alert the daemon just decided."""


@dataclass(frozen=True, slots=True)
class Subscribe(_Message, type="subscribe"):
    """Ask for the stream: the daemon acks, sends a snapshot, then what happens."""


@dataclass(frozen=True, slots=True)
class Subscribed(_Message, type="subscribed"):
    """The ack of subscribe; a snapshot and then the stream follow."""


@dataclass(frozen=True, slots=True)
class Resync(_Message, type="resync"):
    """The client fell behind and lost messages; the snapshot that follows replaces its state."""


@dataclass(frozen=True, slots=True)
class ErrorMsg(_Message, type="error"):
    """The daemon could not answer a request; the connection stays usable."""

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
    Hello
    | Snapshot
    | StatusMsg
    | Subscribe
    | Subscribed
    | Resync
    | EventMsg
    | TotalsMsg
    | AlertMsg
    | ErrorMsg
)
_MESSAGE_TYPES: Final[dict[str, type[Message]]] = {
    cls.type: cls
    for cls in (
        Hello,
        Snapshot,
        StatusMsg,
        Subscribe,
        Subscribed,
        Resync,
        EventMsg,
        TotalsMsg,
        AlertMsg,
        ErrorMsg,
    )
}


def from_json(line: bytes | str) -> Message:
    """One line → its message; malformed JSON, an unknown type or bad fields → ProtocolError."""
    obj = decode(line)
    cls = _MESSAGE_TYPES.get(obj["type"])
    if cls is None:
        raise ProtocolError(f"unknown message type {obj['type']!r}")
    return cls._parse(obj)
