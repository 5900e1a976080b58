"""The benchmarks' process measurement: a scan's CPU time must include its parsing
workers, which are a fork server's children and nobody's waited-for descendants."""

from __future__ import annotations

import sys

import pytest

from bench.measure import run_measured

# The command exits at once; the process it forks burns a second of CPU after that, as
# an orphan (a fork server's worker outlives nobody's wait the same way).
ORPHAN_BURNS = """
import os, time
if os.fork() == 0:
    end = time.process_time() + 1.0
    while time.process_time() < end:
        pass
    os._exit(0)
print("parent done")
"""


@pytest.mark.e2e
def test_a_whole_tree_measurement_counts_orphans_cpu_but_not_their_time() -> None:
    argv = [sys.executable, "-c", ORPHAN_BURNS]

    plain = run_measured(argv)
    whole = run_measured(argv, whole_tree=True)

    assert plain.ok and whole.ok
    assert whole.stdout == plain.stdout == b"parent done\n"
    assert plain.cpu_s < 0.9, "an unwaited orphan is not in a plain wait4 measurement"
    assert whole.cpu_s >= 1.0, "the subreaper collects the orphan and its CPU time"
    assert whole.wall_s < 1.0, "the wall time is the command's own, not the orphan's"


@pytest.mark.e2e
def test_a_whole_tree_measurement_keeps_the_commands_exit_status() -> None:
    failed = run_measured([sys.executable, "-c", "raise SystemExit(3)"], whole_tree=True)

    assert failed.returncode == 3
