"""Run one command and measure it as a whole process: wall time and peak resident memory.

`os.wait4` returns the rusage of exactly that child (and the descendants it waited
for), so earlier children of the benchmark (generator workers, npm) never leak into
the peak RSS the way `getrusage(RUSAGE_CHILDREN)` would let them.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

PACKAGE: Final = Path(__file__).resolve().parent.parent / "monitor"


@dataclass(frozen=True, slots=True)
class Measured:
    argv: tuple[str, ...]
    returncode: int
    wall_s: float
    cpu_s: float  # user + system, all threads: steadier than wall time on a busy machine
    max_rss_mb: float
    stdout: bytes
    stderr: bytes

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def describe_failure(self) -> str:
        tail = self.stderr.decode(errors="replace").strip().splitlines()[-5:]
        return f"`{' '.join(self.argv)}` exited {self.returncode}: " + " | ".join(tail)


_REAPER: Final = """
import ctypes, os, resource, subprocess, sys, time
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
start = time.perf_counter()
pid = subprocess.Popen(sys.argv[2:]).pid
_, status, _ = os.wait4(pid, 0)
wall = time.perf_counter() - start
while True:  # the orphans (a fork server, its workers) are ours now: reap every one
    try:
        os.wait()
    except ChildProcessError:
        break
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
with open(sys.argv[1], "w") as out:
    out.write(f"{wall} {usage.ru_utime + usage.ru_stime}")
sys.exit(os.waitstatus_to_exitcode(status) & 0xFF)
"""
"""Runs a command as a child subreaper: the CPU time of every process it starts, however
deep (a `forkserver`'s parsing workers are nobody's waited-for children), and the
command's own wall time, without this wrapper's start-up."""


def run_measured(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout_s: float = 600.0,
    stdin: bytes = b"",
    whole_tree: bool = False,
) -> Measured:
    """Run `argv` to completion with `stdin` as its input; stdout/stderr go through temp
    files (no pipe deadlock).

    `whole_tree`: count the CPU time of all its descendants, those it never waits for
    too (`_REAPER`); without it a process's uncollected grandchildren are left out."""
    with (
        tempfile.TemporaryFile() as inp,
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile("r") as tree,
    ):
        inp.write(stdin)
        inp.seek(0)
        command = list(argv)
        if whole_tree:
            command = [sys.executable, "-c", _REAPER, tree.name, *command]
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdin=inp, stdout=out, stderr=err, env=env, cwd=cwd)
        timer = threading.Timer(timeout_s, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
        cpu = usage.ru_utime + usage.ru_stime
        proc.returncode = os.waitstatus_to_exitcode(status)
        if whole_tree:
            measured = tree.read().split()
            if len(measured) == 2:
                wall, cpu = float(measured[0]), float(measured[1])
            elif proc.returncode == 0:
                proc.returncode = -1  # the wrapper died without its measurement
        out.seek(0)
        err.seek(0)
        return Measured(
            argv=tuple(argv),
            returncode=proc.returncode,
            wall_s=wall,
            cpu_s=cpu,
            max_rss_mb=usage.ru_maxrss / 1024,  # KiB on Linux: the largest single process
            stdout=out.read(),
            stderr=err.read(),
        )


def best_of(runs: Sequence[Measured]) -> Measured:
    """The fastest successful run (the usual way to time a command on a noisy machine)."""
    ok = [r for r in runs if r.ok]
    return min(ok or runs, key=lambda r: r.wall_s)


def compile_package(package: Path = PACKAGE) -> bool:
    """Write the package's byte-code (`__pycache__`), as an installation has it.

    pip compiles every module when it installs a package, so a user's `llm-monitor` run
    loads byte-code. Here PYTHONDONTWRITEBYTECODE=1 is set, so when `monitor/__pycache__`
    is missing or stale (another change to monitor/) every run of the command would
    compile all its modules again (~70 ms per run, about what a `report` takes):
    compiling on every run is no user's cost, so no benchmark should time it. Call this
    before any timed run of `llm-monitor`. True when every module compiled.
    """
    import compileall

    return bool(compileall.compile_dir(package, quiet=1))


class PeakMemory:
    """The peak summed PSS of this process's descendants, sampled from /proc in a thread.

    `os.wait4`'s peak RSS is one process's (the largest of those it waited for): a
    `forkserver` and its parsing workers are nobody's waited-for children, so their
    memory is not in it. This counts every live descendant, with pages shared after a
    fork counted once (PSS). Sampled every `interval_s`, so a peak shorter than that can
    be missed. Use as `with PeakMemory() as mem: ...`, then read `mem.peak_mb`.
    """

    def __init__(self, interval_s: float = 0.1) -> None:
        self.interval_s = interval_s
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peak-memory", daemon=True)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            self.peak_mb = max(self.peak_mb, self.sample_mb())
            if self._stop.wait(self.interval_s):
                return

    @staticmethod
    def sample_mb() -> float:
        """The summed PSS of this process's live descendants now, in MiB."""
        children: dict[int, list[int]] = {}
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as f:
                    stat = f.read()
            except OSError:
                continue
            # The fields after the command (which may hold spaces): state, ppid, …
            ppid = int(stat[stat.rindex(b")") + 2 :].split(None, 2)[1])
            children.setdefault(ppid, []).append(int(entry.name))
        total_kib = 0
        todo = list(children.get(os.getpid(), ()))
        while todo:
            pid = todo.pop()
            todo.extend(children.get(pid, ()))
            try:
                with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
                    for line in f:
                        if line.startswith(b"Pss:"):
                            total_kib += int(line.split()[1])
                            break
            except OSError:
                continue  # gone meanwhile, or a zombie
        return total_kib / 1024


def at_least_one(text: str) -> int:
    """argparse type of a number of runs: the best of none is no answer."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {n}")
    return n
