"""`make bench`: every benchmark in turn, each in its own process, numbers printed.

Benchmarks are never unit tests: they take minutes, need the whole machine,
and print what they measure. Run one alone with `python -m bench.<name> --help`.
"""

from __future__ import annotations

import subprocess
import sys
import time

BENCHES = (
    ("backfill: cold scan, report, status vs ccusage", "bench.bench_backfill", ["--keep"]),
    ("scaling: scan, report, status at 200k and 1 M messages", "bench.bench_scaling", []),
    ("daemon: append→event latency, idle CPU, memory with 1 M events", "bench.bench_daemon", []),
    ("daemon memory over a million live events", "bench.bench_memory", []),
    ("watcher alone: latency and idle CPU", "bench.bench_watch", []),
    ("dashboard: events/s absorbed, key latency during a burst", "bench.bench_tui", []),
)


def main() -> int:
    failed = []
    for title, module, args in BENCHES:
        print(f"\n=== {title} ({module})", flush=True)
        start = time.monotonic()
        code = subprocess.call([sys.executable, "-m", module, *args])
        print(f"=== {module}: exit {code} after {time.monotonic() - start:.0f} s", flush=True)
        if code:
            failed.append(module)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
