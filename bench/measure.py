"""Run one command and measure it as a whole process: wall time and peak resident memory.

`os.wait4` returns the rusage of exactly that child (and the descendants it waited
for), so earlier children of the benchmark (generator workers, npm) never leak into
the peak RSS the way `getrusage(RUSAGE_CHILDREN)` would let them.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path


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


def run_measured(
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout_s: float = 600.0,
    stdin: bytes = b"",
) -> Measured:
    """Run `argv` to completion with `stdin` as its input; stdout/stderr go through temp
    files (no pipe deadlock)."""
    with (
        tempfile.TemporaryFile() as inp,
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
    ):
        inp.write(stdin)
        inp.seek(0)
        start = time.perf_counter()
        proc = subprocess.Popen(
            list(argv), stdin=inp, stdout=out, stderr=err, env=env, cwd=cwd
        )
        timer = threading.Timer(timeout_s, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Measured(
            argv=tuple(argv),
            returncode=proc.returncode,
            wall_s=wall,
            cpu_s=usage.ru_utime + usage.ru_stime,
            max_rss_mb=usage.ru_maxrss / 1024,  # KiB on Linux
            stdout=out.read(),
            stderr=err.read(),
        )


def best_of(runs: Sequence[Measured]) -> Measured:
    """The fastest successful run (the usual way to time a command on a noisy machine)."""
    ok = [r for r in runs if r.ok]
    return min(ok or runs, key=lambda r: r.wall_s)
