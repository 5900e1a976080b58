"""Dashboard under a burst: how many events per second it absorbs while staying responsive.

A publisher thread runs the real socket server (`api.ApiServer`, its own event loop) and
publishes like a busy daemon: every 20 ms an ingest round of `rate / 50` `event` messages
and one `totals` document. The dashboard (headless, `App.run_test`) subscribes over the
Unix socket as it would in a terminal. During the burst the benchmark presses `b` every
half second and times how long the key takes to take effect (the breakdown switched, the
screen settled); it also measures the event loop's lag and how far the live list trails
the last published call.

Run from the repository root: `.venv/bin/python -m bench.bench_tui [--rate 500] [--seconds 5]`.
Writes `bench/out/tui.json`. Goal: key presses take effect in well under 100 ms at 500
events/s, and the app absorbs every message.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from textual import events

from monitor.api import ApiServer, EventMsg, TotalsMsg
from monitor.tui.app import Dashboard
from monitor.tui.feed import socket_connector
from monitor.tui.messages import FeedUpdate

ROUND: Final = 0.02
OUT: Final = Path(__file__).parent / "out" / "tui.json"
_MODELS: Final = ("claude-sonnet-4-5", "gpt-4o", "gemini-2.5-flash", "gpt-5-codex")


def document(calls: int) -> dict[str, Any]:
    """A status document of realistic size: budgets, series, breakdowns."""
    rows = [
        {
            "key": m,
            "cost_usd": "1.250000",
            "calls": 10,
            "input_tokens": 1000,
            "output_tokens": 100,
            "unpriced_calls": 0,
        }
        for m in _MODELS
    ]
    period = {
        "cost_usd": "12.340000",
        "calls": calls,
        "unpriced_calls": 0,
        "forecast_usd": "20.000000",
        "forecast_low_usd": "15.0",
        "forecast_high_usd": "25.0",
    }
    return {
        "now": datetime.now(UTC).isoformat(),
        "timezone": "UTC",
        "daemon": True,
        "state": "ready",
        "today": period,
        "week": period,
        "month": period,
        "burn_rate": {"per_hour_usd": "1.000000", "per_day_usd": "10.000000"},
        "budgets": [
            {
                "name": f"budget-{i}",
                "period": "day",
                "limit_usd": "50.000000",
                "spent_usd": "12.340000",
                "fraction": 0.2468,
                "forecast_usd": "20.000000",
                "forecast_low_usd": "15.0",
                "forecast_high_usd": "25.0",
                "runs_out_on": None,
                "scope": {},
                "warn_at": [0.5, 0.8, 1.0],
                "alerts": [],
            }
            for i in range(3)
        ],
        "unpriced": [],
        "sources": [],
        "series": {"hourly_usd": ["0.500000"] * 24, "daily_usd": ["5.000000"] * 23},
        "breakdown": {
            p: {d: rows for d in ("model", "provider", "source", "operation")}
            for p in ("today", "week", "month")
        },
    }


def event(n: int) -> dict[str, Any]:
    return {
        "key": f"bench:{n}",
        "ts": datetime.now(UTC).isoformat(),
        "source": "bench",
        "provider": "anthropic",
        "model": _MODELS[n % len(_MODELS)],
        "operation": "advocate",
        "input_tokens": 12000,
        "output_tokens": 800,
        "cache_read_tokens": 9000,
        "cache_write_tokens": 0,
        "cache_write_1h_tokens": 0,
        "reasoning_tokens": 0,
        "calls": 1,
        "cost_usd": "0.012300",
        "cost_basis": "priced",
        "reported_cost_usd": None,
        "priced_cost_usd": None,
        "tags": {"run": "bench"},
        "origin": "bench:0",
        "flags": 0,
    }


class Publisher(threading.Thread):
    """The daemon's side: a socket server on its own loop, publishing rounds on demand."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.published = 0
        self.done_at = 0.0
        self.ready = threading.Event()
        self.burst_done = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._quit: asyncio.Event | None = None
        self._server: ApiServer | None = None

    def run(self) -> None:
        self._loop.run_until_complete(self._main())

    async def _main(self) -> None:
        self._quit = asyncio.Event()
        snap = dict(document(0), recent=[])
        self._server = ApiServer(self.path, lambda: snap, lambda: {"state": "ready"})
        await self._server.start()
        self.ready.set()
        await self._quit.wait()
        await self._server.stop()

    def burst(self, rate: float, seconds: float) -> None:
        asyncio.run_coroutine_threadsafe(self._burst(rate, seconds), self._loop)

    async def _burst(self, rate: float, seconds: float) -> None:
        assert self._server is not None
        per_round = max(1, round(rate * ROUND))
        start = time.perf_counter()
        rounds = int(seconds / ROUND)
        for r in range(rounds):
            for _ in range(per_round):
                self._server.publish(EventMsg(event(self.published)))
                self.published += 1
            self._server.publish(TotalsMsg(document(self.published)))
            await asyncio.sleep(max(0.0, start + (r + 1) * ROUND - time.perf_counter()))
        self.done_at = time.perf_counter()
        self.burst_done.set()

    def stop(self) -> None:
        if self._quit is not None:
            self._loop.call_soon_threadsafe(self._quit.set)
        self.join(5)


async def key_latency(app: Dashboard) -> float:
    """Seconds from a `b` arriving from the terminal to the breakdown having switched.

    The key goes in as the terminal driver delivers it (a Key event posted to the App);
    the screen shows the change on its next refresh, at most one frame (1/60 s) later.
    """
    before = app.dimension
    t = time.perf_counter()
    app.post_message(events.Key("b", "b"))
    while app.dimension == before:
        await asyncio.sleep(0.0005)
    return time.perf_counter() - t


class CountingDashboard(Dashboard):
    """Counts what arrives and times how long each batch takes to apply and draw."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received = 0
        self.batch_ms: list[float] = []

    def on_feed_update(self, message: FeedUpdate) -> None:
        t = time.perf_counter()
        self.received += message.batch.received
        super().on_feed_update(message)
        self.batch_ms.append((time.perf_counter() - t) * 1000)


async def measure(rate: float, seconds: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="lm-bench-") as tmp:
        path = Path(tmp) / "d.sock"
        pub = Publisher(path)
        pub.start()
        pub.ready.wait(5)
        app = CountingDashboard(socket_connector(path))
        try:
            async with app.run_test(size=(120, 40)) as pilot:
                while not app.state.loaded:
                    await pilot.pause(0.01)
                lags: list[float] = []
                keys: list[float] = []

                async def watch_loop() -> None:
                    while True:
                        t = time.perf_counter()
                        await asyncio.sleep(0.01)
                        lags.append(time.perf_counter() - t - 0.01)

                ticker = asyncio.create_task(watch_loop())
                started = time.perf_counter()
                pub.burst(rate, seconds)
                while not pub.burst_done.is_set():
                    await asyncio.sleep(0.5)
                    keys.append(await key_latency(app))
                pub.burst_done.wait()
                last = f"bench:{pub.published - 1}"
                while not (app.state.live and app.state.live[0].key == last):
                    await asyncio.sleep(0.005)
                caught_up = time.perf_counter() - pub.done_at
                ticker.cancel()
                elapsed = time.perf_counter() - started
        finally:
            pub.stop()
    keys_ms = sorted(k * 1000 for k in keys)
    lags_ms = sorted(lag * 1000 for lag in lags)
    return {
        "rate_target": rate,
        "seconds": seconds,
        "events_published": pub.published,
        "messages_received": app.received,
        "events_per_s_absorbed": round(pub.published / elapsed, 1),
        "batches": app.batches,
        "batch_ms_median": round(statistics.median(app.batch_ms), 1),
        "batch_ms_max": round(max(app.batch_ms), 1),
        "key_ms_median": round(statistics.median(keys_ms), 1),
        "key_ms_max": round(keys_ms[-1], 1),
        "key_presses": len(keys_ms),
        "loop_lag_ms_p50": round(lags_ms[len(lags_ms) // 2], 1),
        "loop_lag_ms_p99": round(lags_ms[int(len(lags_ms) * 0.99)], 1),
        "live_list_caught_up_after_s": round(max(caught_up, 0.0), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, action="append", help="events/s (repeatable)")
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    results = [asyncio.run(measure(rate, args.seconds)) for rate in args.rate or [500.0]]
    for r in results:
        print(
            f"{r['rate_target']:>6.0f} ev/s target: {r['events_per_s_absorbed']:>7.1f} ev/s "
            f"absorbed ({r['events_published']} events, {r['messages_received']} messages in "
            f"{r['batches']} batches, {r['batch_ms_median']} ms median / "
            f"{r['batch_ms_max']} ms max each); key 'b' took effect in "
            f"{r['key_ms_median']} ms median, "
            f"{r['key_ms_max']} ms max ({r['key_presses']} presses); loop lag p50 "
            f"{r['loop_lag_ms_p50']} ms, p99 {r['loop_lag_ms_p99']} ms; live list caught up "
            f"{r['live_list_caught_up_after_s']} s after the burst"
        )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
