"""Exactly once under faults that need real processes: kills, second writers, absurd values.

Each test reproduces a failure a fault campaign found (a killed daemon's orphaned backfill
child and the restarted daemon both inserting; two daemons sharing a state dir through
different sockets; two `scan`s at once; a token count SQLite cannot hold stopping
ingestion for good) and asserts what a user would check: the ledger holds every record
written, once, and nothing else.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.daemon_harness import (
    Workspace,
    append,
    clean_env,
    ledger_totals,
    studio_line,
    studio_source,
    wait_for,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

BIG = 120_000
"""Lines in the backfill file: enough that the backfill child is still at work when killed."""


studio = studio_source


def write_studio(ws: Workspace, lines: int) -> Path:
    f = ws.root / "output" / "tech" / "run_1" / "tokens.jsonl"
    f.parent.mkdir(parents=True, exist_ok=True)
    one = studio_line("advocate", 100, 10)
    f.write_bytes(one * lines)
    return f


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_kill_9_during_the_first_backfill_then_restart_counts_every_line_once(
    ws: Workspace,
) -> None:
    write_studio(ws, BIG)
    ws.write_config([studio(ws)])
    first = ws.daemon()
    first.start()
    child = wait_for(lambda: (children(first.pid) or [None])[0], 20, "the backfill child")
    # Mid-backfill: some of the file committed, not all of it.
    wait_for(lambda: ledger_totals(ws.ledger).events > 0, 30, "the first backfill commit")
    first.kill()
    restarted = ws.daemon()
    restarted.start()
    wait_for(lambda: not alive(child), 10, "the orphaned backfill child to die with its parent")
    restarted.wait_ready(60)
    totals = ledger_totals(ws.ledger)
    assert (totals.events, totals.input_tokens) == (BIG, 100 * BIG)
    assert restarted.stop() == 0


def test_a_second_daemon_on_the_same_state_dir_with_another_socket_is_refused(
    ws: Workspace,
) -> None:
    f = write_studio(ws, 2000)
    ws.write_config([studio(ws)])
    first = ws.start()
    other = ws.base / "other.toml"
    text = ws.config_text([studio(ws)]).replace(str(ws.socket), str(ws.base / "o.sock"))
    other.write_text(text)
    second = ws.daemon(config=other)
    second.start()
    assert second.wait_exit(30) == 1
    assert "is being written by pid" in second.log()
    assert "Traceback" not in second.log()
    append(f, studio_line("advocate", 100, 10) * 5)
    wait_for(lambda: ledger_totals(ws.ledger).events == 2005, 10, "the appended lines")
    time.sleep(0.3)
    assert ledger_totals(ws.ledger).events == 2005
    assert first.stop() == 0


def _scan(ws: Workspace, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "scan", *extra, "--config", str(ws.config_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=clean_env(),
    )


@pytest.mark.parametrize("extra", [(), ("--for-daemon",)], ids=["scan", "scan-for-daemon"])
def test_two_scans_at_once_count_every_line_once(ws: Workspace, extra: tuple[str, ...]) -> None:
    write_studio(ws, 60_000)
    ws.write_config([studio(ws)])
    procs = [_scan(ws, *extra) for _ in range(2)]
    outcomes = [(p.wait(60), p.communicate()[1]) for p in procs]
    codes = sorted(code for code, _ in outcomes)
    assert codes in ([0, 0], [0, 1]), outcomes
    for code, err in outcomes:
        assert "Traceback" not in err
        if code == 1:
            assert "is being written" in err
    totals = ledger_totals(ws.ledger)
    assert (totals.events, totals.input_tokens) == (60_000, 6_000_000)


ABSURD = ["1e30", str(2**64), "1e308"]


def _absurd_line(count: str) -> bytes:
    good = studio_line("advocate", 7, 1)
    return good.replace(b'"input_tokens": 7', b'"input_tokens": ' + count.encode())


def test_absurd_token_counts_cost_one_record_each_in_scan_and_live(ws: Workspace) -> None:
    f = write_studio(ws, 0)
    f.write_bytes(b"".join(_absurd_line(c) for c in ABSURD) + studio_line("advocate", 1, 1))
    ws.write_config([studio(ws)])
    scan = ws.cli("scan")
    assert scan.returncode == 0, scan.stderr
    assert "Traceback" not in scan.stderr
    assert "3 bad records skipped" in scan.stderr
    assert ledger_totals(ws.ledger).events == 1
    daemon = ws.start()
    good = studio_line("advocate", 100, 10)
    append(f, b"".join(_absurd_line(c) for c in ABSURD) + good * 4040)
    wait_for(lambda: ledger_totals(ws.ledger).events == 4041, 20, "the good records")
    assert ledger_totals(ws.ledger).input_tokens == 1 + 100 * 4040
    assert daemon.stop() == 0
    # A daemon starting on a file full of them still reaches ready.
    f2 = f.with_name("tokens.jsonl").parent.parent / "run_2" / "tokens.jsonl"
    f2.parent.mkdir()
    f2.write_bytes(b"".join(_absurd_line(c) for c in ABSURD) * 10 + good)
    ws.start()
    assert ledger_totals(ws.ledger).events == 4042


def test_an_immutable_shm_file_is_a_logged_error_not_a_crash(ws: Workspace) -> None:
    if os.geteuid() != 0:
        pytest.skip("chattr +i needs root")
    write_studio(ws, 10)
    ws.write_config([studio(ws)])
    assert ws.cli("scan").returncode == 0
    shm = ws.ledger.with_name(ws.ledger.name + "-shm")
    shm.write_bytes(b"")
    if subprocess.run(["chattr", "+i", str(shm)], capture_output=True).returncode != 0:
        pytest.skip("this file system does not support chattr +i")
    try:
        daemon = ws.daemon()
        daemon.start()
        code = daemon.wait_exit(30)
        assert code == 1
        log = daemon.log()
        assert str(ws.ledger) in log and "Traceback" not in log
    finally:
        subprocess.run(["chattr", "-i", str(shm)], check=False)
