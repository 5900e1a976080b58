"""Daemon memory under sustained live load: RSS must stay flat, not grow per event.

The real daemon (`python -m monitor.cli daemon`) as a subprocess watches a studio-tokens
run directory; this script appends records in bursts — each burst to a new run file, as
the studio tool does per run, so cursors and files grow too — and reads the daemon's
VmRSS from /proc after the backfill, after every step of events, and again after an idle
pause. Goal: nothing kept per event beyond bounded caches — RSS after the last step within
10 MB of RSS after the warm-up (the first fifth of the events). Both growths are printed:
the warm-up one is the allocator settling at the peak of the largest ingest round (Python
keeps freed arenas), not per-event state.

Run from the repository root: `.venv/bin/python -m bench.bench_memory` (default one
million events, ≈ 2–4 minutes; `--events 200000` for a quick look). Work files go to
`bench/out/memory/` (removed unless `--keep`), results to `bench/out/memory.json`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from monitor.api import ApiError, request_sync

OUT: Final = Path("bench/out").absolute()
WORK: Final = (OUT / "memory").absolute()
GOAL_MB: Final = 10.0
BURST: Final = 2_000


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def stored(ledger: Path) -> int:
    db = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)
    try:
        db.execute("PRAGMA busy_timeout = 5000")
        return int(db.execute("SELECT COUNT(*) FROM events").fetchone()[0])
    finally:
        db.close()


def wait(predicate: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


def line(n: int) -> bytes:
    ts = datetime.now(UTC).isoformat()
    return (
        f'{{"timestamp": "{ts}", "operation": "op{n % 7}", "iteration": 1, '
        f'"input_tokens": {100 + n % 50}, "output_tokens": 10, "model": "gpt-4o", '
        f'"cost_usd": 0.0125}}\n'
    ).encode()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--files-per-step", type=int, default=20)
    ap.add_argument("--idle", type=float, default=10.0)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args(argv)

    shutil.rmtree(WORK, ignore_errors=True)
    root, state = WORK / "root", WORK / "state"
    root.mkdir(parents=True)
    socket = WORK / "d.sock"
    config = WORK / "config.toml"
    config.write_text(
        f'[monitor]\ntimezone = "UTC"\nstate_dir = "{state}"\nsocket = "{socket}"\n\n'
        f'[[sources]]\nname = "studio"\nformat = "studio-tokens"\n'
        f'paths = ["{root}/**/run_*/tokens.jsonl"]\n'
    )
    log = open(WORK / "daemon.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "daemon", "--config", str(config)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def ready() -> bool:
        try:
            reply = request_sync(socket, {"type": "hello", "version": 1}, timeout=1.0)
        except ApiError:
            return False
        return bool(reply.get("daemon", {}).get("state") == "ready")

    points: list[tuple[int, float]] = []
    try:
        wait(ready, 60, "the daemon to be ready")
        points.append((0, rss_mb(proc.pid)))
        per_step = args.events // args.steps
        written = 0
        started = time.monotonic()
        for step in range(args.steps):
            files = [
                root / f"s{step}" / f"run_{i}" / "tokens.jsonl" for i in range(args.files_per_step)
            ]
            for f in files:
                f.parent.mkdir(parents=True)
            done = 0
            while done < per_step:
                n = min(BURST, per_step - done)
                f = files[(done // BURST) % len(files)]
                with f.open("ab") as fh:
                    fh.write(b"".join(line(written + i) for i in range(n)))
                done += n
                written += n
                # Keep the daemon live (events, not one huge backfill-like round).
                wait(
                    lambda w=written: stored(state / "ledger.sqlite3") >= w - 20 * BURST,
                    120,
                    "the daemon to keep up",
                )
            wait(lambda w=written: stored(state / "ledger.sqlite3") == w, 120, "the step")
            points.append((written, rss_mb(proc.pid)))
            print(f"{written:>9,} events  RSS {points[-1][1]:6.1f} MB", flush=True)
        elapsed = time.monotonic() - started
        time.sleep(args.idle)
        idle = rss_mb(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
        log.close()
    first = points[1][1]
    warm_step = max(1, args.steps // 5)
    warm = points[warm_step][1]
    growth = points[-1][1] - warm
    warm_events = points[warm_step][0]
    print(
        f"\nlive events: {written:,} in {elapsed:.0f} s ({written / elapsed:,.0f}/s)\n"
        f"RSS ready {points[0][1]:.1f} MB, after the first step {first:.1f} MB, "
        f"after the last {points[-1][1]:.1f} MB, after {args.idle:.0f} s idle {idle:.1f} MB\n"
        f"growth over the whole run: {points[-1][1] - first:+.1f} MB; after the warm-up "
        f"({warm_events:,} events): {growth:+.1f} MB (goal within {GOAL_MB:.0f} MB) "
        f"= {growth * 1024 * 1024 / max(1, written - warm_events):.1f} bytes/event"
    )
    OUT.mkdir(exist_ok=True)
    (OUT / "memory.json").write_text(
        json.dumps({"points": points, "idle_mb": idle, "growth_mb": growth}, indent=1)
    )
    if not args.keep:
        shutil.rmtree(WORK, ignore_errors=True)
    return 0 if growth <= GOAL_MB else 1


if __name__ == "__main__":
    sys.exit(main())
