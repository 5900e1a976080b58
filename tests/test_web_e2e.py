"""`llm-monitor web`: the dashboard in a real headless browser, and the guard in front of it.

One real daemon serves the module (a studio source with $3.25 spent today); each test
starts `llm-monitor web` on a free port as a subprocess and talks to it over HTTP, as a
browser or a stranger would. The browser is Debian's chromium driven by Playwright (no
browser download); the page's terminal is xterm.js drawing on a canvas, so the test reads
its text through xterm's buffer API, catching the page's Terminal as it is created.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import NamedTuple

import aiohttp
import pytest

from tests.daemon_harness import Source, Workspace, append, clean_env, studio_line, workspace
from tests.factories import wait_for

pytestmark = pytest.mark.e2e

START = 20.0
"""Deadline for `web` to listen and for the page to show the dashboard (a loaded CI
machine may take seconds to import Textual in each session's process)."""
SHUTDOWN_LIMIT = 8.0
"""`web` with a session open stops within this: about 2.5 s here, most of it Chromium
taking its time to answer the websocket's close."""
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# textual.js keeps its xterm.js Terminal to itself (`this.terminal = new Terminal(…)`):
# a setter on Object.prototype catches that assignment, keeps the Terminal, and stores it
# as the object's own property so the page works as before.
CATCH_TERMINAL = """
Object.defineProperty(Object.prototype, "terminal", {
  configurable: true,
  set(value) {
    Object.defineProperty(this, "terminal", {value, writable: true, configurable: true});
    if (value && value.buffer) (window.__terminals = window.__terminals || []).push(value);
  },
});
"""
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
SCREEN_TEXT = """() => {
  const term = (window.__terminals || [])[0];
  if (!term) return "";
  const buffer = term.buffer.active, rows = [];
  for (let i = 0; i < buffer.length; i++) rows.push(buffer.getLine(i).translateToString(true));
  return rows.join("\\n");
}"""


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    with workspace(tmp_path_factory.mktemp("web")) as ws:
        glob = str(ws.root / "**/run_*/tokens.jsonl")
        ws.write_config([Source("studio", "studio-tokens", (glob,))])
        tokens = ws.root / "run_1" / "tokens.jsonl"
        append(tokens, studio_line("advocate", 1000, 500, cost_usd=1.25))
        append(tokens, studio_line("judge", 1000, 500, cost_usd=2.0))
        ws.start()
        yield ws


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Reply(NamedTuple):
    status: int
    headers: Message
    body: str


class Web:
    """One `llm-monitor web` subprocess; its output goes to a file the test reads."""

    def __init__(self, ws: Workspace, host: str, config: Path | None = None) -> None:
        self.port = free_port()
        self.log_path = ws.base / f"web-{self.port}.log"
        argv = [sys.executable, "-m", "monitor.cli", "web", "--config"]
        argv += [str(config or ws.config_path), "--host", host, "--port", str(self.port)]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, env=clean_env(), cwd=ws.base
            )

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_url(self) -> str:
        """The URL `web` prints once it listens."""

        def printed() -> str | None:
            for line in self.output().splitlines():
                if "the dashboard on " in line:
                    return line.split("the dashboard on ", 1)[1].strip()
            assert self.proc.poll() is None, f"web exited early:\n{self.output()}"
            return None

        return wait_for(printed, START, "web to print its URL")

    def get(self, path: str, headers: dict[str, str] | None = None) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", path, headers=headers or {})
            response = conn.getresponse()
            body = response.read().decode(errors="replace")
        finally:
            conn.close()
        return Reply(response.status, response.headers, body)

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise AssertionError(f"web ignored SIGTERM for 10 s:\n{self.output()}") from None


@pytest.fixture
def serve(daemon: Workspace) -> Iterator[list[Web]]:
    started: list[Web] = []
    yield started
    for web in started:
        web.stop()


def start_web(started: list[Web], ws: Workspace, host: str) -> tuple[Web, str]:
    web = Web(ws, host)
    started.append(web)
    return web, web.wait_url()


def chromium() -> str:
    path = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        pytest.skip(
            "no chromium: install Debian's package (`apt-get install -y chromium`; .ci/run "
            "does when apt is available) to run the browser test"
        )
    return path


# -- in the browser --------------------------------------------------------------------------


def test_browser_shows_todays_spend_and_follows_new_calls(
    daemon: Workspace, serve: list[Web], tmp_path: Path
) -> None:
    from playwright.sync_api import Route, sync_playwright

    executable = chromium()
    web, url = start_web(serve, daemon, "127.0.0.1")
    assert url == f"http://127.0.0.1:{web.port}/"

    def local_only(route: Route) -> None:
        # The page asks Google for a font; this machine's network is closed.
        if route.request.url.startswith(f"http://127.0.0.1:{web.port}/"):
            route.continue_()
        else:
            route.abort()

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=executable,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 900},
        )
        try:
            page = context.new_page()
            page.add_init_script(CATCH_TERMINAL)
            page.route("**/*", local_only)
            page.goto(url)

            def shows(*texts: str) -> bool:
                screen = str(page.evaluate(SCREEN_TEXT))
                return all(t in screen for t in texts)

            try:
                wait_for(lambda: shows("Today $3.25", "2 calls today"), START, "today's spend")
            except AssertionError:
                page.screenshot(path=str(tmp_path / "dashboard.png"))
                raise AssertionError(
                    f"the page never showed today's spend; its terminal read:\n"
                    f"{page.evaluate(SCREEN_TEXT)}\nscreenshot: {tmp_path / 'dashboard.png'}\n"
                    f"web's output:\n{web.output()}"
                ) from None
            assert shows("llm-monitor", "live")

            # A call made now reaches the page: file → daemon → socket → dash → websocket.
            append(
                daemon.root / "run_1" / "tokens.jsonl",
                studio_line("synthesizer", 1000, 500, cost_usd=0.5),
            )
            wait_for(lambda: shows("Today $3.75", "3 calls today"), 10.0, "the new call")

            # Stopping the server ends the session (its dashboard quits); the page says so.
            t0 = time.monotonic()
            assert web.stop() == 0
            assert time.monotonic() - t0 < SHUTDOWN_LIMIT
            wait_for(
                lambda: page.evaluate("document.body.classList.contains('-closed')"),
                5.0,
                "the page to show the session ended",
            )
        finally:
            context.close()


# -- the guard, over plain HTTP ---------------------------------------------------------------


async def session_text(port: int, headers: dict[str, str], until: re.Pattern[str]) -> str:
    """What a session's dashboard writes to its websocket, escapes removed, until `until`
    matches or START runs out (a client like the page's xterm.js, without the drawing)."""
    text = ""
    url = f"http://127.0.0.1:{port}/ws?width=120&height=40"
    async with aiohttp.ClientSession() as http, http.ws_connect(url, headers=headers) as ws:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(START):
                async for msg in ws:
                    if msg.type == aiohttp.WSMsgType.BINARY:
                        text += ANSI_ESCAPE.sub("", msg.data.decode(errors="replace"))
                    if until.search(text):
                        break
    return text


def test_other_address_needs_the_printed_token(daemon: Workspace, serve: list[Web]) -> None:
    web, url = start_web(serve, daemon, "0.0.0.0")
    assert "?token=" in url
    token = url.split("?token=", 1)[1]
    assert len(token) >= 32

    cookie = f"llm-monitor-token-{web.port}"
    for path in ("/", "/static/js/textual.js", "/ws", "/?token=wrong"):
        assert web.get(path).status == 403, path
    assert web.get("/", {"Cookie": f"{cookie}=wrong"}).status == 403

    page = web.get(f"/?token={token}")
    assert page.status == 200
    set_cookie = page.headers["Set-Cookie"]
    assert set_cookie.startswith(f"{cookie}={token};") and "HttpOnly" in set_cookie
    # The page's own requests carry the cookie instead of the query.
    assert web.get("/static/js/textual.js", {"Cookie": f"{cookie}={token}"}).status == 200
    # A page on another site cannot open the session's websocket, token or not.
    hijack = {"Cookie": f"{cookie}={token}", "Origin": "http://evil.example"}
    assert web.get("/ws", hijack).status == 403
    # With the cookie, from its own page, the websocket is a dashboard session.
    own = {"Cookie": f"{cookie}={token}", "Origin": f"http://127.0.0.1:{web.port}"}
    spend = re.compile(r"Today \$3\.\d\d")  # $3.75 once the browser test added a call
    text = asyncio.run(session_text(web.port, own, spend))
    assert spend.search(text), text[-2000:]
    # The token is printed once, in the URL, and nowhere else (no access log).
    assert web.output().count(token) == 1


def test_loopback_answers_only_to_a_loopback_name(daemon: Workspace, serve: list[Web]) -> None:
    web, _ = start_web(serve, daemon, "127.0.0.1")
    assert web.get("/").status == 200
    # The page sends its websocket back to the name the browser used.
    page = web.get("/", {"Host": f"localhost:{web.port}"})
    assert page.status == 200
    assert f'data-session-websocket-url="ws://localhost:{web.port}/ws"' in page.body
    # DNS rebinding: a site whose name now points at 127.0.0.1.
    assert web.get("/", {"Host": f"evil.example:{web.port}"}).status == 403
    origin = {"Origin": "http://evil.example"}
    assert web.get("/ws", origin).status == 403


def test_refuses_to_start_without_a_daemon(daemon: Workspace) -> None:
    config = daemon.base / "no-daemon.toml"
    text = daemon.config_path.read_text().replace(str(daemon.socket), str(daemon.base / "x.sock"))
    config.write_text(text)
    web = Web(daemon, "127.0.0.1", config)
    assert web.proc.wait(START) == 1
    assert "no daemon answers" in web.output()
