"""Daemon benchmark: append → socket latency, idle CPU, and memory on a 1 M-event ledger.

Three measurements of the real daemon (`python -m monitor.cli daemon`) as a subprocess
(goals in brackets):

1. **Latency** [median ≤ 100 ms, p99 ≤ 300 ms]: appends to a watched studio-tokens file,
   spaced 50–100 ms apart, each timed from just before its `write()` to the arrival of
   its `event` message on a subscribed `AsyncClient`. The daemon also watches a Claude
   Code tree (`--tree-files`, mostly old files, a few recent), so its stat sweep has
   realistic work.
2. **Idle CPU** [≤ 0.5 % of one core]: the same daemon, nobody writing, nobody
   subscribed; utime+stime from /proc/<pid>/stat before and after `--idle-seconds`.
3. **Memory and start-up on 1 M events** [RSS ≤ 100 MB]: a ledger generated through
   `monitor.ledger.Ledger` (rows shaped by `event_row`, bulk-inserted, the `daily`
   rollup rebuilt), timestamps over 90 days. Times the daemon's start until the socket
   answers and until it reports "ready", reads VmRSS/VmHWM from /proc/<pid>/status,
   then times `llm-monitor status --json` beside the daemon and without it, and
   `report --by day` (best of 3 each).

Run from the repository root: `.venv/bin/python -m bench.bench_daemon` (≈ 2–3 minutes;
`--quick` for a short look). Work files go to `bench/out/daemon/` (removed unless
`--keep`; the 1 M ledger is reused when `--keep` left one with the same size), results
to `bench/out/daemon.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from bench.measure import Measured, best_of, run_measured
from monitor.api import ApiError, AsyncClient, EventMsg, request_sync

OUT: Final = Path("bench/out")
WORK: Final = OUT / "daemon"
LATENCY_GOAL_MEDIAN_MS: Final = 100.0
LATENCY_GOAL_P99_MS: Final = 300.0
IDLE_GOAL_PCT: Final = 0.5
RSS_GOAL_MB: Final = 100.0
CLK_TCK: Final = os.sysconf("SC_CLK_TCK")
GENERATOR: Final = "v3"
"""Bumped when generated ledgers change shape, so a kept one is not reused."""


# -- the daemon as a subprocess -----------------------------------------------------------------


def write_config(base: Path, sources: Sequence[dict[str, Any]]) -> Path:
    import tomli_w

    doc = {
        "monitor": {
            "timezone": "UTC",
            "state_dir": str((base / "state").resolve()),
            "socket": str((base / "d.sock").resolve()),
        },
        "sources": list(sources),
    }
    path = base / "config.toml"
    path.write_text(tomli_w.dumps(doc))
    return path


class Daemon:
    def __init__(self, config: Path) -> None:
        self.config = config
        self.socket = config.parent / "d.sock"
        self.log = config.parent / "daemon.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTIFY_", "WATCHDOG_"))}
        self.started = time.perf_counter()
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "monitor.cli", "daemon", "--config", str(config)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )

    def state(self) -> str | None:
        """The daemon's state from its hello, None while nothing answers."""
        if self.proc.poll() is not None:
            raise RuntimeError(f"the daemon exited ({self.proc.returncode}); see {self.log}")
        try:
            reply = request_sync(self.socket, {"type": "hello", "version": 1}, timeout=2.0)
        except ApiError:
            return None
        return str(reply.get("daemon", {}).get("state"))

    def wait(self, predicate: Callable[[str | None], bool], timeout: float) -> float:
        """Seconds since start when `predicate(state)` first held."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if predicate(self.state()):
                return time.perf_counter() - self.started
            time.sleep(0.005)
        raise TimeoutError(f"the daemon did not get there within {timeout} s; see {self.log}")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        utime, stime = int(fields[11]), int(fields[12])  # fields 14 and 15 of stat(5)
        return (utime + stime) / CLK_TCK

    def memory_mb(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(value.split()[0]) / 1024
        return out

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(60)


# -- 1 and 2: latency and idle CPU ---------------------------------------------------------


def studio_record(i: int) -> bytes:
    record = {
        "timestamp": datetime.now(UTC).isoformat(),
        "operation": f"lat-{i}",
        "iteration": 1,
        "input_tokens": 1000 + i,
        "output_tokens": 100,
        "model": "gpt-4o",
        "cost_usd": None,
    }
    return json.dumps(record).encode() + b"\n"


def make_claude_tree(root: Path, files: int, recent: int) -> None:
    """`files` small session files, all but `recent` of them last modified days ago."""
    old = time.time() - 5 * 86400
    for i in range(files):
        path = root / "projects" / f"-home-user-p{i % 40}" / f"s{i}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        line = {
            "type": "assistant",
            "sessionId": f"s{i}",
            "cwd": f"/home/user/p{i % 40}",
            "timestamp": datetime.fromtimestamp(old, UTC).isoformat(),
            "requestId": f"req_{i}",
            "message": {
                "id": f"msg_{i}",
                "model": "claude-sonnet-4-20250514",
                "usage": {"input_tokens": 10, "output_tokens": 5},
            },
        }
        path.write_text(json.dumps(line) + "\n")
        if i >= recent:
            os.utime(path, (old, old))


async def measure_latency(daemon: Daemon, path: Path, appends: int) -> list[float]:
    """Milliseconds from write() to the event's arrival, one per append."""
    sent: dict[str, float] = {}
    latencies: dict[str, float] = {}
    async with AsyncClient(timeout=10.0) as client:
        await client.connect(daemon.socket)

        async def read() -> None:
            async for msg in client.subscribe():
                if isinstance(msg, EventMsg):
                    op = str(msg.payload.get("operation"))
                    if op in sent and op not in latencies:
                        latencies[op] = (time.perf_counter() - sent[op]) * 1000

        reader = asyncio.create_task(read())
        await asyncio.sleep(0.5)  # the subscription's snapshot arrives first
        rng = random.Random(1)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            for i in range(appends):
                data = studio_record(i)
                sent[f"lat-{i}"] = time.perf_counter()
                os.write(fd, data)
                await asyncio.sleep(rng.uniform(0.05, 0.1))
        finally:
            os.close(fd)
        deadline = time.perf_counter() + 5.0
        while len(latencies) < appends and time.perf_counter() < deadline:
            await asyncio.sleep(0.01)
        reader.cancel()
        try:
            await reader
        except asyncio.CancelledError:
            pass
    missing = appends - len(latencies)
    if missing:
        print(f"  warning: {missing} of {appends} events never arrived", file=sys.stderr)
    return sorted(latencies.values())


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (p99 of 200 samples is the 198th)."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), round(q * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def bench_live(args: argparse.Namespace, results: dict[str, Any]) -> None:
    base = WORK / "live"
    shutil.rmtree(base, ignore_errors=True)
    (base / "runs" / "output" / "tech" / "run_1").mkdir(parents=True)
    make_claude_tree(base / "claude", args.tree_files, recent=min(50, args.tree_files))
    target = base / "runs" / "output" / "tech" / "run_1" / "tokens.jsonl"
    config = write_config(
        base,
        [
            {
                "name": "studio",
                "format": "studio-tokens",
                "paths": [str((base / "runs").resolve()) + "/output/**/run_*/tokens.jsonl"],
            },
            {
                "name": "claude",
                "format": "claude-code",
                "paths": [str((base / "claude").resolve()) + "/projects/**/*.jsonl"],
            },
        ],
    )
    daemon = Daemon(config)
    try:
        ready_s = daemon.wait(lambda s: s == "ready", 120)
        print(f"live daemon ready in {ready_s:.2f} s ({args.tree_files} files backfilled)")

        lat = asyncio.run(measure_latency(daemon, target, args.appends))
        median, p99 = statistics.median(lat), percentile(lat, 0.99)
        results["latency"] = {
            "appends": args.appends,
            "received": len(lat),
            "median_ms": round(median, 1),
            "p90_ms": round(percentile(lat, 0.90), 1),
            "p99_ms": round(p99, 1),
            "max_ms": round(lat[-1], 1),
            "min_ms": round(lat[0], 1),
            "goal_median_ms": LATENCY_GOAL_MEDIAN_MS,
            "goal_p99_ms": LATENCY_GOAL_P99_MS,
            "ok": median <= LATENCY_GOAL_MEDIAN_MS and p99 <= LATENCY_GOAL_P99_MS,
        }
        print(
            f"latency over {len(lat)} appends: median {median:.1f} ms, "
            f"p99 {p99:.1f} ms, max {lat[-1]:.1f} ms"
        )

        time.sleep(2.0)  # let the last round's commit and totals finish: idle means idle
        cpu0, t0 = daemon.cpu_seconds(), time.perf_counter()
        time.sleep(args.idle_seconds)
        cpu1, t1 = daemon.cpu_seconds(), time.perf_counter()
        pct = (cpu1 - cpu0) / (t1 - t0) * 100
        results["idle"] = {
            "seconds": round(t1 - t0, 1),
            "cpu_seconds": round(cpu1 - cpu0, 3),
            "cpu_pct_of_one_core": round(pct, 3),
            "watched_files": args.tree_files + 1,
            "goal_pct": IDLE_GOAL_PCT,
            "ok": pct <= IDLE_GOAL_PCT,
        }
        results["live_memory_mb"] = daemon.memory_mb()
        print(f"idle CPU over {t1 - t0:.0f} s: {pct:.3f} % of one core ({cpu1 - cpu0:.2f} s CPU)")
    finally:
        results["live_exit_code"] = daemon.stop()


# -- 3: a ledger with a million events -----------------------------------------------------


_TEMPLATES: Final = (
    # source, provider, model, operation, reported cost (None: priced from prices)
    ("claude-code", "anthropic", "claude-sonnet-4-20250514", None, None),
    ("claude-code", "anthropic", "claude-opus-4-20250514", None, None),
    ("codex", "openai", "gpt-5", None, None),
    ("studio", "openai", "gpt-4o", "advocate", "0.0125"),
    ("studio", "openai", "gpt-4o", "contrarian", "0.0125"),
    ("qc", "google", "gemini-2.5-flash", "check", None),
    ("spool", "openai", "my-finetune", None, None),  # no price known: unpriced
)


def generate_ledger(path: Path, events: int, days: int = 90) -> float:
    """A ledger with `events` rows over the last `days` days; returns seconds taken.

    Each row is a template event priced by `Pricer.apply` (as ingestion would), so the
    daemon's start-up re-pricing finds nothing to change, as on a real ledger.
    """
    from decimal import Decimal
    from zoneinfo import ZoneInfo

    from monitor.events import UsageEvent
    from monitor.ledger import Ledger, event_row, hourly, minutes
    from monitor.ledger.rollups import rebuild
    from monitor.ledger.rows import INSERT_EVENT, SOURCE, key_hash
    from monitor.pricing import Pricer

    start = time.perf_counter()
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    ledger = Ledger(path, ZoneInfo("UTC"), "UTC")
    now = datetime.now(UTC)
    pricer = Pricer()
    templates = []
    for source, provider, model, operation, reported in _TEMPLATES:
        e = UsageEvent(
            key="template",
            ts=now,
            source=source,
            provider=provider,
            model=model,
            operation=operation,
            input_tokens=1200,
            output_tokens=300,
            reported_cost=Decimal(reported) if reported else None,
            tags={"project": "bench"},
            origin="bench",
        )
        templates.append(event_row(pricer.apply(e, "auto"), ledger.day_of))
    span_ms = days * 86_400_000
    now_ms = int(now.timestamp() * 1000)
    rng = random.Random(11)
    # Rows in time order, as a daemon that ran for `days` days wrote them: recent events
    # sit together at the end of the table, which is what start-up reads.
    stamps = sorted(now_ms - rng.randrange(span_ms) for _ in range(events))
    insert = INSERT_EVENT
    db = ledger.db
    db.execute("BEGIN")
    chunk: list[tuple[Any, ...]] = []
    for i, ms in enumerate(stamps):
        t = templates[i % len(templates)]
        key = f"bench:{i}"
        chunk.append((key, key_hash(key), ms, ledger.day_of(ms), *t[SOURCE:]))
        if len(chunk) == 50_000:
            db.executemany(insert, chunk)
            chunk.clear()
    if chunk:
        db.executemany(insert, chunk)
    rebuild(db)
    # The hour and minute rollups `status` reads, as the commits would have kept them.
    hourly.add_inserted(db, 0)
    minutes.add_inserted(db, 0, minutes.start(db, now_ms))
    db.execute(
        """INSERT OR REPLACE INTO source_stats (source, events, errors, last_event)
           SELECT source, COUNT(*), 0, MAX(ts) FROM events GROUP BY source"""
    )
    db.execute("COMMIT")
    from monitor.reprice import STAMP_KEY, prices_stamp

    ledger.set_meta(STAMP_KEY, prices_stamp(pricer, ()))  # as ingestion leaves it
    ledger.close()
    return time.perf_counter() - start


def bench_million(args: argparse.Namespace, results: dict[str, Any]) -> None:
    base = WORK / "million"
    ledger = base / "state" / "ledger.sqlite3"
    marker = base / "events.txt"
    if marker.exists() and marker.read_text() == f"{args.events} {GENERATOR}" and ledger.exists():
        print(f"reusing the {args.events:,}-event ledger in {ledger}")
    else:
        shutil.rmtree(base, ignore_errors=True)
        # In a child process: children forked from a big benchmark process would report
        # its pages in their own peak RSS.
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "bench.bench_daemon", "--generate", str(ledger)]
            + ["--events", str(args.events)],
            check=True,
        )
        took = time.perf_counter() - start
        marker.write_text(f"{args.events} {GENERATOR}")
        print(f"generated a {args.events:,}-event ledger in {took:.1f} s")
        results["generate_s"] = round(took, 1)
    (base / "data").mkdir(exist_ok=True)
    config = write_config(
        base,
        [
            {
                "name": "studio",
                "format": "studio-tokens",
                "paths": [str((base / "data").resolve()) + "/**/run_*/tokens.jsonl"],
            }
        ],
    )
    out: dict[str, Any] = {"events": args.events, "ledger_mb": round(ledger.stat().st_size / 2**20)}
    daemon = Daemon(config)
    peak_during_start = 0.0
    try:
        answer_s = daemon.wait(lambda s: s is not None, args.start_timeout)
        out["socket_answers_s"] = round(answer_s, 2)

        def ready(state: str | None) -> bool:
            nonlocal peak_during_start
            peak_during_start = max(peak_during_start, daemon.memory_mb().get("VmHWM", 0.0))
            return state == "ready"

        ready_s = daemon.wait(ready, args.start_timeout)
        out["ready_s"] = round(ready_s, 2)
        mem = daemon.memory_mb()
        out["rss_mb_when_ready"] = round(mem["VmRSS"], 1)
        out["hwm_mb_when_ready"] = round(mem["VmHWM"], 1)
        print(
            f"{args.events:,}-event ledger: socket answers after {answer_s:.2f} s, "
            f"ready after {ready_s:.2f} s; "
            f"VmRSS {mem['VmRSS']:.1f} MB, VmHWM {mem['VmHWM']:.1f} MB"
        )
        time.sleep(5.0)
        mem = daemon.memory_mb()
        out["rss_mb_after_5s"] = round(mem["VmRSS"], 1)
        out["goal_rss_mb"] = RSS_GOAL_MB
        out["ok"] = out["hwm_mb_when_ready"] <= RSS_GOAL_MB

        cli = [sys.executable, "-m", "monitor.cli"]
        status_live = best_of(
            [run_measured([*cli, "status", "--json", "--config", str(config)]) for _ in range(3)]
        )
        out["status_from_daemon"] = _timing(status_live, '"daemon": true')
    finally:
        out["exit_code"] = daemon.stop()
    status_ledger = best_of(
        [run_measured([*cli, "status", "--json", "--config", str(config)]) for _ in range(3)]
    )
    out["status_from_ledger"] = _timing(status_ledger, '"daemon": false')
    if subprocess.run([*cli, "report", "--help"], capture_output=True, check=False).returncode == 0:
        report = best_of(
            [
                run_measured(
                    [*cli, "report", "--by", "day", "--format", "json", "--config", str(config)]
                )
                for _ in range(3)
            ]
        )
        out["report_by_day"] = _timing(report)
    for name in ("status_from_daemon", "status_from_ledger", "report_by_day"):
        if name in out:
            t = out[name]
            print(
                f"  {name}: {t['wall_s']:.3f} s wall, {t['max_rss_mb']:.0f} MB peak, ok={t['ok']}"
            )
    results["million"] = out


def _timing(m: Measured, expect: str | None = None) -> dict[str, Any]:
    ok = m.ok and (expect is None or expect in m.stdout.decode(errors="replace"))
    return {
        "wall_s": round(m.wall_s, 3),
        "cpu_s": round(m.cpu_s, 3),
        "max_rss_mb": round(m.max_rss_mb, 1),
        "ok": ok,
        **({} if m.ok else {"error": m.describe_failure()}),
    }


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--appends", type=int, default=200)
    p.add_argument("--idle-seconds", type=float, default=60.0)
    p.add_argument("--tree-files", type=int, default=2000, help="Claude Code files watched")
    p.add_argument("--events", type=int, default=1_000_000, help="events in the big ledger")
    p.add_argument("--start-timeout", type=float, default=600.0)
    p.add_argument("--skip-live", action="store_true", help="skip latency and idle CPU")
    p.add_argument("--skip-million", action="store_true", help="skip the 1 M-event ledger")
    p.add_argument("--quick", action="store_true", help="50 appends, 10 s idle, 100 k events")
    p.add_argument("--keep", action="store_true", help="keep bench/out/daemon/")
    p.add_argument("--generate", metavar="LEDGER", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.generate:
        generate_ledger(Path(args.generate), args.events)
        return 0
    if args.quick:
        args.appends, args.idle_seconds, args.events = 50, 10.0, 100_000
    WORK.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"when": datetime.now(UTC).isoformat(), "cpus": os.cpu_count()}
    try:
        if not args.skip_live:
            bench_live(args, results)
        if not args.skip_million:
            bench_million(args, results)
    finally:
        (OUT / "daemon.json").write_text(json.dumps(results, indent=2) + "\n")
        if not args.keep:
            shutil.rmtree(WORK, ignore_errors=True)
    print(json.dumps(results, indent=2))
    checks = [results.get(k, {}).get("ok", True) for k in ("latency", "idle", "million")]
    return 0 if all(checks) else 1


if __name__ == "__main__":
    sys.exit(main())
