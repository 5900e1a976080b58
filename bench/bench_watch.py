"""The watcher alone: append→yield latency and idle CPU.

    .venv/bin/python -m bench.bench_watch                  # step 25 ms, 100 appends, 60 s idle
    .venv/bin/python -m bench.bench_watch --steps 10,25,50 --idle 30
    .venv/bin/python -m bench.bench_watch --tree bench/out/tree   # idle over 22 k files too

Every run uses the daemon's shape of globs: a recursive `projects/**/*.jsonl` root, the
spool inside an excluded state dir, and a missing `codex/sessions` root (so the slower
notifier on its nearest ancestor runs too, as on a machine without Codex).

- latency: one line appended every `--every` s; the time from the write's return to the
  batch holding the path reaching the consumer. Median, p99 and max.
- idle: process CPU time (every thread: the Rust notifier's and anyio's workers
  included) over `--idle` s of wall time with nothing written, after `ready`.
- tree idle (`--tree DIR`, the output of `bench.gen_claude_tree`): the same with
  `DIR/projects/**/*.jsonl` watched, so the stat sweep's budget is included; the tree's
  files are fresh, which is the sweep's worst case (all of them "hot").

Writes `bench/out/watch.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

from monitor.globs import Glob
from monitor.watch import DEFAULT_STEP_MS, Watcher

OUT = Path(__file__).parent / "out" / "watch.json"


def _globs(base: Path, projects: Path) -> tuple[list[Glob], Path]:
    state = base / "state"
    (state / "spool").mkdir(parents=True, exist_ok=True)
    globs = [
        Glob(f"{projects}/**/*.jsonl"),
        Glob(f"{base}/codex/sessions/**/rollout-*.jsonl"),
        Glob(f"{state}/spool/*.jsonl"),
    ]
    return globs, state


class _Running:
    def __init__(self, watcher: Watcher) -> None:
        self.watcher = watcher
        self.arrivals: dict[str, list[float]] = {}
        self.arrived = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.stop_ms = 0.0

    async def __aenter__(self) -> _Running:
        self._task = asyncio.create_task(self._consume())
        await self.watcher.ready.wait()
        return self

    async def __aexit__(self, *exc: object) -> None:
        began = time.perf_counter()
        self.watcher.stop()
        assert self._task is not None
        await self._task
        self.stop_ms = (time.perf_counter() - began) * 1000

    async def _consume(self) -> None:
        async for batch in self.watcher.changes():
            now = time.perf_counter()
            for path in batch:
                self.arrivals.setdefault(path, []).append(now)
            self.arrived.set()


async def _latency(step_ms: int, appends: int, every: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        projects = base / "projects"
        log = projects / "-home-u-x" / "session.jsonl"
        log.parent.mkdir(parents=True)
        log.touch()
        globs, state = _globs(base, projects)
        async with _Running(Watcher(globs, exclude=[state], step_ms=step_ms)) as run:
            lat: list[float] = []
            for _ in range(appends):
                seen = len(run.arrivals.get(str(log), []))
                with log.open("a") as f:
                    f.write('{"type":"assistant","message":{"usage":{"output_tokens":1}}}\n')
                wrote = time.perf_counter()
                try:
                    async with asyncio.timeout(2.0):
                        while len(run.arrivals.get(str(log), [])) <= seen:
                            run.arrived.clear()
                            await run.arrived.wait()
                except TimeoutError:
                    pass
                got = run.arrivals.get(str(log), [])
                if len(got) > seen:
                    lat.append((got[seen] - wrote) * 1000)
                await asyncio.sleep(max(0.0, every - (time.perf_counter() - wrote)))
    lat.sort()
    return {
        "appends": appends,
        "yielded": len(lat),
        "median_ms": round(statistics.median(lat), 1),
        "p99_ms": round(lat[max(0, int(len(lat) * 0.99) - 1)], 1),
        "max_ms": round(lat[-1], 1),
    }


async def _idle(step_ms: int, seconds: float, tree: Path | None) -> dict[str, Any]:
    async with AsyncExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        projects = tree / "projects" if tree is not None else tmp / "projects"
        projects.mkdir(exist_ok=True)
        globs, state = _globs(tmp, projects)
        watcher = Watcher(globs, exclude=[state], step_ms=step_ms)
        armed = time.perf_counter()
        running = await stack.enter_async_context(_Running(watcher))
        arm_s = time.perf_counter() - armed
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await asyncio.sleep(seconds)
        cpu = time.process_time() - cpu0
        wall = time.perf_counter() - wall0
        notifiers = [(len(g.paths), g.recursive, g.step_ms) for g in watcher._streams]
    return {
        "files": len(watcher._sigs),
        "arm_and_first_walk_s": round(arm_s, 3),
        "seconds": round(wall, 1),
        "cpu_s": round(cpu, 4),
        "cpu_pct_of_core": round(100 * cpu / wall, 3),
        "stop_ms": round(running.stop_ms, 1),
        "sweeps": watcher.stats.sweeps,
        "sweep_hits": watcher.stats.sweep_hits,
        "raw_changes": watcher.stats.raw_changes,
        "rearms": watcher.stats.rearms,
        "notifiers (paths, recursive, step_ms)": notifiers,
    }


async def _main(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {"runs": []}
    for step in [int(s) for s in args.steps.split(",")]:
        run: dict[str, Any] = {"step_ms": step}
        if args.appends:
            run["latency"] = await _latency(step, args.appends, args.every)
            print(f"step {step:>3} ms  latency {run['latency']}", flush=True)
        run["idle"] = await _idle(step, args.idle, None)
        print(f"step {step:>3} ms  idle    {run['idle']}", flush=True)
        if args.tree is not None:
            run["tree_idle"] = await _idle(step, args.idle, args.tree)
            print(f"step {step:>3} ms  tree    {run['tree_idle']}", flush=True)
        results["runs"].append(run)
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", default=str(DEFAULT_STEP_MS), help="comma-separated step_ms values")
    p.add_argument("--appends", type=int, default=100)
    p.add_argument("--every", type=float, default=0.2, help="seconds between appends")
    p.add_argument("--idle", type=float, default=60.0, help="seconds of idle measurement")
    p.add_argument("--tree", type=Path, default=None, help="a gen_claude_tree output dir")
    args = p.parse_args()
    results = asyncio.run(_main(args))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
