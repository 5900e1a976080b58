"""Run the real daemon as a subprocess on temporary directories, for end-to-end tests.

The harness writes a config (explicit state dir, a short socket path, UTC), starts
`python -m monitor.cli daemon`, waits — with a deadline, never a fixed sleep — until the
daemon says it is "ready" (backfill done), and stops it at the end of the test whatever
happened. It also holds the small helpers every end-to-end test needs: record writers
for a few formats, a read-only view of the ledger, a socket subscriber that collects
the stream, and polling with deadlines.

Everything here talks to the daemon from outside, as a user or a client would: signals,
files, the socket, the CLI, and the ledger opened read-only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple, Self, TypeVar

import tomli_w

from monitor.api import (
    ApiError,
    AsyncClient,
    DaemonUnavailable,
    EventMsg,
    Message,
    request_sync,
)
from tests.factories import until, wait_for

T = TypeVar("T")

START_TIMEOUT = 20.0
"""Generous: a loaded CI machine may take seconds to import the daemon's dependencies."""
STOP_TIMEOUT = 10.0
POLL = 0.02
_MAX_SOCKET_PATH = 100
"""Below Linux's 107-byte sun_path, with room to spare."""
_SCRUBBED_ENV = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LLM_MONITOR_CONFIG")


# -- waiting -------------------------------------------------------------------------


# -- records in a few formats ------------------------------------------------------------


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


def studio_line(operation: str, input_tokens: int, output_tokens: int, **extra: Any) -> bytes:
    """One studio-tokens record (seed 003's TokenTracker.log_usage), newline included."""
    record: dict[str, Any] = {
        "timestamp": now_iso(),
        "operation": operation,
        "iteration": 1,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "model": "gpt-4o",
        "cost_usd": 0.0125,
    }
    record.update(extra)
    return json.dumps(record).encode() + b"\n"


def claude_line(
    msg_id: str, input_tokens: int, output_tokens: int, timestamp: str | None = None
) -> bytes:
    """One Claude Code assistant message with usage (as in examples/claude-code), written
    now unless `timestamp` says when."""
    record = {
        "parentUuid": None,
        "isSidechain": False,
        "userType": "external",
        "cwd": "/home/user/webapp",
        "sessionId": "0b9e8d7c-6a5f-4e3d-8c2b-1a0f9e8d7c6b",
        "version": "1.0.0",
        "type": "assistant",
        "message": {
            "id": msg_id,
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-20250514",
            "content": [{"type": "text", "text": "ok"}],
            "usage": {
                "input_tokens": input_tokens,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "output_tokens": output_tokens,
            },
        },
        "requestId": f"req_{msg_id}",
        "uuid": f"uuid-{msg_id}",
        "timestamp": timestamp or now_iso(),
    }
    return json.dumps(record).encode() + b"\n"


def claude_key(msg_id: str) -> str:
    return f"cc:{msg_id}:req_{msg_id}"


@dataclass(frozen=True, slots=True)
class HaikuSession:
    name: str
    input_tokens: int
    output_tokens: int
    api_calls: int = 1
    timestamp: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"))

    @property
    def key(self) -> str:
        return f"haiku:{self.timestamp}:{self.name}"


def write_haiku(path: Path, sessions: Sequence[HaikuSession]) -> None:
    """Rewrite .costs/haiku_usage.json whole, atomically, as the haiku generator does."""
    doc = {
        "total_input_tokens": sum(s.input_tokens for s in sessions),
        "total_output_tokens": sum(s.output_tokens for s in sessions),
        "total_cost_usd": 0.0,
        "sessions": [
            {
                "timestamp": s.timestamp,
                "session_name": s.name,
                "input_tokens": s.input_tokens,
                "output_tokens": s.output_tokens,
                "api_calls": s.api_calls,
                "cost_usd": 0.001,
            }
            for s in sessions
        ],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2))
    os.replace(tmp, path)


def append(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as f:
        f.write(data)


# -- the ledger, read-only ---------------------------------------------------------------


class LedgerTotals(NamedTuple):
    events: int
    calls: int
    input_tokens: int
    output_tokens: int
    cost_nano: int


def ledger_totals(path: Path, source: str | None = None) -> LedgerTotals:
    """Sums over the events table, read the way `report` reads: read-only, beside the daemon."""
    if not path.exists():
        return LedgerTotals(0, 0, 0, 0, 0)
    where, args = ("WHERE source = ?", (source,)) if source else ("", ())
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        db.execute("PRAGMA busy_timeout = 5000")
        if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'events'").fetchone():
            return LedgerTotals(0, 0, 0, 0, 0)  # created a moment ago, not yet laid out
        row = db.execute(
            "SELECT COUNT(*), COALESCE(SUM(calls), 0), COALESCE(SUM(input_tokens), 0), "
            f"COALESCE(SUM(output_tokens), 0), COALESCE(SUM(cost_nano), 0) FROM events {where}",
            args,
        ).fetchone()
    return LedgerTotals(*row)


def ledger_keys(path: Path) -> list[str]:
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        db.execute("PRAGMA busy_timeout = 5000")
        return [r[0] for r in db.execute("SELECT key FROM events ORDER BY id")]


# -- config and the daemon process -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Source:
    name: str
    format: str
    paths: tuple[str, ...]

    def table(self) -> dict[str, Any]:
        return {"name": self.name, "format": self.format, "paths": list(self.paths)}


class Workspace:
    """A temporary home for one test: data root, state dir, socket, config, daemons.

    `close()` stops every daemon still running (SIGKILL after a grace period), so a
    failing test never leaves a process behind.
    """

    def __init__(self, base: Path) -> None:
        self.base = base
        self.root = base / "root"
        self.root.mkdir(parents=True, exist_ok=True)
        self.state_dir = base / "state"
        self.config_path = base / "config.toml"
        socket = base / "d.sock"
        if len(os.fsencode(socket)) > _MAX_SOCKET_PATH:
            socket = Path(tempfile.mkdtemp(prefix="lm-")) / "d.sock"
        self.socket = socket
        self.daemons: list[DaemonProcess] = []

    @property
    def ledger(self) -> Path:
        return self.state_dir / "ledger.sqlite3"

    def config_text(self, sources: Sequence[Source], *, padding: int = 0) -> str:
        """The config as TOML; `padding` adds a comment of that many characters (a test can
        keep the file's size constant across edits, so only SIGHUP can reveal the change)."""
        doc = {
            "monitor": {
                "timezone": "UTC",
                "state_dir": str(self.state_dir),
                "socket": str(self.socket),
            },
            "sources": [s.table() for s in sources],
        }
        text = tomli_w.dumps(doc)
        if padding:
            text = "#" + "x" * (padding - 2) + "\n" + text
        return text

    def write_config(self, sources: Sequence[Source], *, padding: int = 0) -> Path:
        self.config_path.write_text(self.config_text(sources, padding=padding))
        return self.config_path

    def daemon(
        self, config: Path | None = None, env: dict[str, str] | None = None
    ) -> DaemonProcess:
        d = DaemonProcess(config or self.config_path, self.socket, self.base, env=env)
        self.daemons.append(d)
        return d

    def start(self, **kwargs: Any) -> DaemonProcess:
        d = self.daemon(**kwargs)
        d.start()
        d.wait_ready()
        return d

    def cli(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        """`llm-monitor ARGS --config <ours>` as a subprocess."""
        return subprocess.run(
            [sys.executable, "-m", "monitor.cli", *args, "--config", str(self.config_path)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=clean_env(),
            cwd=self.base,
            check=False,
        )

    def close(self) -> None:
        for d in self.daemons:
            d.terminate_quietly()


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The test's environment without anything that would point the daemon elsewhere."""
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra or {})
    return env


class DaemonProcess:
    """One `llm-monitor daemon` subprocess; its stderr goes to a log file the test can read."""

    _count = 0

    def __init__(
        self, config: Path, socket: Path, logdir: Path, env: dict[str, str] | None = None
    ) -> None:
        DaemonProcess._count += 1
        self.config = config
        self.socket = socket
        self.log_path = logdir / f"daemon-{DaemonProcess._count}.log"
        self.env = clean_env(env)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "monitor.cli", "daemon", "--config", str(self.config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=self.config.parent,
            )

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def hello(self, timeout: float = 2.0) -> dict[str, Any]:
        reply = request_sync(self.socket, {"type": "hello", "version": 1}, timeout=timeout)
        daemon = reply.get("daemon")
        assert isinstance(daemon, dict)
        return daemon

    def snapshot(self, timeout: float = 5.0) -> dict[str, Any]:
        return request_sync(self.socket, {"type": "snapshot"}, timeout=timeout)

    def wait_ready(self, timeout: float = START_TIMEOUT) -> dict[str, Any]:
        """Until the daemon answers hello with state "ready"; fails fast if it exits."""

        def ready() -> dict[str, Any] | None:
            if not self.alive():
                raise AssertionError(
                    f"the daemon exited with {self.proc and self.proc.returncode} before it was "
                    f"ready; its log:\n{self.log()}"
                )
            try:
                info = self.hello(timeout=1.0)
            except ApiError:
                return None
            return info if info.get("state") == "ready" else None

        return wait_for(ready, timeout, f"the daemon on {self.socket} to be ready")

    def send(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self, timeout: float = STOP_TIMEOUT) -> int:
        """SIGTERM and wait: the exit code (the test decides whether it is right)."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(STOP_TIMEOUT)

    def wait_exit(self, timeout: float = STOP_TIMEOUT) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout)

    def terminate_quietly(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(STOP_TIMEOUT)


@contextlib.contextmanager
def workspace(base: Path) -> Iterator[Workspace]:
    ws = Workspace(base)
    try:
        yield ws
    finally:
        ws.close()


# -- a subscriber on the socket ------------------------------------------------------------


class Subscriber:
    """An AsyncClient subscribed in a background task, collecting every message it reads."""

    def __init__(self, socket: Path) -> None:
        self.socket = socket
        self.messages: list[Message] = []
        self.error: BaseException | None = None
        self._client = AsyncClient(timeout=5.0)
        self._task: asyncio.Task[None] | None = None
        self._subscribed = asyncio.Event()

    @property
    def events(self) -> list[dict[str, Any]]:
        return [m.payload for m in self.messages if isinstance(m, EventMsg)]

    def event_keys(self) -> list[str]:
        return [str(e["key"]) for e in self.events]

    def operations(self) -> list[str]:
        return [str(e["operation"]) for e in self.events]

    async def __aenter__(self) -> Self:
        await self._client.connect(self.socket)
        self._task = asyncio.create_task(self._read())
        # The first message (the snapshot) proves the subscription is registered: anything
        # published from now on reaches us.
        await until(lambda: self.messages or self.error, 5.0, "the subscription's snapshot")
        if self.error is not None:
            raise self.error
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._client.close()

    async def _read(self) -> None:
        try:
            async for msg in self._client.subscribe():
                self.messages.append(msg)
        except DaemonUnavailable as exc:
            self.error = exc

    async def wait(
        self, predicate: Callable[[Subscriber], bool], timeout: float, what: str
    ) -> None:
        def check() -> bool:
            if self.error is not None:
                raise AssertionError(f"the subscription ended: {self.error}")
            return predicate(self)

        await until(check, timeout, what)


async def run_blocking(fn: Callable[[], T]) -> T:
    """Blocking harness calls (CLI, request_sync) from an async test, off the loop."""
    return await asyncio.to_thread(fn)


def studio_source(ws: Workspace) -> Source:
    """The studio-tokens source over the workspace's `output/**/run_*/tokens.jsonl`."""
    return Source("studio", "studio-tokens", (f"{ws.root}/output/**/run_*/tokens.jsonl",))
