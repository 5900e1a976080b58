"""A tiny HTTP receiver for real Apprise `json://127.0.0.1:PORT/` deliveries in tests.

Runs the stdlib `http.server` in a thread, records every JSON body it is POSTed, and can
be stopped (connections are then refused) and started again on the same port.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any


class Receiver:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.port = 0
        self._cond = threading.Condition()
        self._server: HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"json://127.0.0.1:{self.port}/"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with receiver._cond:
                    receiver.messages.append(body)
                    receiver._cond.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = HTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.02,), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def titles(self) -> list[str]:
        with self._cond:
            return [str(m.get("title")) for m in self.messages]

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Block until `count` messages arrived (AssertionError after `timeout` s)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"expected {count} notifications within {timeout} s, "
                        f"got {len(self.messages)}: {[m.get('title') for m in self.messages]}"
                    )
                self._cond.wait(left)
            return list(self.messages)

    async def arrived(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """`wait_for` for async tests: polls so the event loop keeps delivering."""
        deadline = time.monotonic() + timeout
        while True:
            with self._cond:
                if len(self.messages) >= count:
                    return list(self.messages)
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"expected {count} notifications within {timeout} s, got {self.titles()}"
                )
            await asyncio.sleep(0.01)
