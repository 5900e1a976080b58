"""`llm-monitor web`: the dashboard in a browser, served by textual-serve.

textual-serve runs one command per browser session (a websocket) and relays its screen
to xterm.js in the page; ours is `llm-monitor dash`, so every session is an ordinary
dashboard attached to the daemon's socket. This module only serves and guards: it never
opens the ledger and never imports textual itself.

The guard, one aiohttp middleware:
- On a loopback address (the default) the server answers only to a loopback `Host`, so
  a web page cannot reach it by pointing its own name at 127.0.0.1 (DNS rebinding).
- Anywhere else it needs a token, made at start and printed once in the URL; the page
  given `?token=` sets it as an HttpOnly cookie, which the page's own requests (the
  scripts, the websocket) then carry. Without it: 403.
- The websocket must come from a page of this server (`Origin`): browsers let any site
  open a websocket to any address, and the dashboard would show it the user's spend.

Nothing secret is printed or logged: no access log (URLs carry the token), and the
dashboards' own output is the same as in a terminal.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import secrets
import shlex
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from pathlib import Path
from typing import Final

from aiohttp import web
from textual_serve.server import Server

from monitor.api import daemon_answers

DEFAULT_HOST: Final = "127.0.0.1"
DEFAULT_PORT: Final = 8765
TOKEN_PARAM: Final = "token"
TOKEN_COOKIE: Final = "llm-monitor-token-{port}"
"""Named for the port: browsers share a host's cookies among all its ports."""
SHUTDOWN_GRACE: Final = 2.0
"""Seconds open sessions get at shutdown before their dashboards are told to quit."""
_LOOPBACK_NAMES: Final = frozenset({"localhost", "localhost.", "ip6-localhost"})

_origin: ContextVar[str | None] = ContextVar("llm_monitor_web_origin", default=None)
"""The address the browser used for the request being answered (see `DashServer`)."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def dash_command(config_path: str | os.PathLike[str] | None) -> str:
    """The shell command textual-serve runs for each session (it uses a shell)."""
    argv = [sys.executable, "-m", "monitor.cli", "dash"]
    if config_path is not None:
        argv += ["--config", os.fspath(Path(config_path).resolve())]
    return shlex.join(argv)


def public_url(host: str, port: int, token: str | None) -> str:
    """The URL to print: a wildcard bind is reached by the machine's name."""
    if host in ("", "0.0.0.0", "::"):
        host = socket.gethostname()
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    query = f"?{TOKEN_PARAM}={token}" if token else ""
    return f"http://{host}:{port}/{query}"


class DashServer(Server):
    """textual-serve's server with the guard, and URLs built from the request.

    textual-serve writes one fixed `public_url` into the page (the websocket's and the
    scripts' addresses), built from the bind address: wrong for a browser that came in
    as `localhost`, or by the machine's name to 0.0.0.0, and then cross-origin for the
    guard. Here it is the address the browser itself used.
    """

    def __init__(self, command: str, host: str, port: int, token: str | None) -> None:
        self._bound_url = ""
        super().__init__(command, host=host, port=port, title="llm-monitor")
        self.token = token
        self.cookie = TOKEN_COOKIE.format(port=port)
        self._sessions: set[asyncio.Task[object]] = set()

    @property
    def public_url(self) -> str:
        return _origin.get() or self._bound_url

    @public_url.setter
    def public_url(self, value: str) -> None:
        self._bound_url = value

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(self._guard)
        return app

    async def on_startup(self, app: web.Application) -> None:
        """textual-serve prints a banner with the command here; `serve` prints the URL."""

    async def on_shutdown(self, app: web.Application) -> None:
        """End the sessions now: a cancelled session tells its dashboard to quit and waits
        for it (textual-serve's own clean-up); aiohttp would first wait SHUTDOWN_GRACE."""
        for task in list(self._sessions):
            task.cancel()

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if self.token is None:
            if not is_loopback(request.url.host or ""):
                raise web.HTTPForbidden(text="llm-monitor web answers to localhost only\n")
        elif not self._has_token(request):
            raise web.HTTPForbidden(
                text="llm-monitor web: open the URL printed at start (it carries ?token=…)\n"
            )
        if request.path == "/ws" and not _same_origin(request):
            raise web.HTTPForbidden(text="llm-monitor web: websocket from another site\n")
        _origin.set(f"{request.scheme}://{request.host}")
        if request.path == "/ws" and (task := asyncio.current_task()) is not None:
            self._sessions.add(task)
            task.add_done_callback(self._sessions.discard)
        response = await handler(request)
        if self.token is not None and request.query.get(TOKEN_PARAM):
            response.set_cookie(self.cookie, self.token, httponly=True, samesite="Strict")
        return response

    def _has_token(self, request: web.Request) -> bool:
        assert self.token is not None
        given = request.query.get(TOKEN_PARAM) or request.cookies.get(self.cookie) or ""
        return secrets.compare_digest(given.encode(), self.token.encode())


def _same_origin(request: web.Request) -> bool:
    """A browser always sends `Origin` with a websocket; other local clients may not."""
    origin = request.headers.get("Origin")
    return origin is None or origin.partition("://")[2] == request.host


async def _serve(server: DashServer, announce: Callable[[], None]) -> None:
    runner = web.AppRunner(
        await server._make_app(), access_log=None, shutdown_timeout=SHUTDOWN_GRACE
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await runner.setup()
    try:
        await web.TCPSite(runner, server.host, server.port).start()
        announce()
        await stop.wait()
    finally:
        await runner.cleanup()


def serve(
    socket_path: Path,
    config_path: str | None,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
) -> int:
    """`llm-monitor web`: serve until SIGINT/SIGTERM; 1 if no daemon answers or the
    address cannot be bound."""
    if not daemon_answers(socket_path):
        print(
            f"llm-monitor: no daemon answers on {socket_path}. "
            "Start one with `llm-monitor daemon` (or `llm-monitor run`), then `web` again.",
            file=sys.stderr,
        )
        return 1
    token = None if is_loopback(host) else secrets.token_urlsafe(24)
    server = DashServer(dash_command(config_path), host, port, token)

    def announce() -> None:
        print(f"llm-monitor web: the dashboard on {public_url(host, port, token)}", flush=True)
        if token is not None:
            print(
                "  Anyone with this URL sees your usage, over plain HTTP: share it only on a "
                "network you trust. Ctrl+C stops it.",
                flush=True,
            )

    try:
        asyncio.run(_serve(server, announce))
    except OSError as exc:
        print(f"llm-monitor: web: cannot listen on {host}:{port}: {exc}", file=sys.stderr)
        return 1
    return 0
