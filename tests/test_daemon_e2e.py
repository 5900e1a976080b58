"""The real daemon, end to end: a subprocess on temp dirs, real files, signals and sockets.

Every test starts `llm-monitor daemon` (tests/daemon_harness.py), acts on it only from
outside — appending and rotating files, sending signals, connecting clients, running the
CLI — and checks what a user would see: events on the socket, totals in the snapshot and
`status`, rows in the ledger (opened read-only). Each test waits for conditions with a
deadline and never sleeps to "let it settle".

Records carry today's timestamp, so the month's totals in the snapshot cover all of them.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import threading
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from monitor.api import ApiError, EventMsg
from tests.daemon_harness import (
    DaemonProcess,
    HaikuSession,
    LedgerTotals,
    Source,
    Subscriber,
    Workspace,
    append,
    claude_key,
    claude_line,
    ledger_keys,
    ledger_totals,
    run_blocking,
    studio_line,
    studio_source,
    until,
    wait_for,
    write_haiku,
)

pytestmark = pytest.mark.timeout(45)

STUDIO_COST_NANO = 12_500_000
"""studio_line reports cost_usd 0.0125, which the default cost mode ("auto") keeps."""
INGEST = 10.0
"""Deadline for a write to show up; the goal is ~0.1 s, so this only bounds a failure."""


studio = studio_source


def claude(ws: Workspace) -> Source:
    return Source("claude", "claude-code", (f"{ws.root}/claude/projects/**/*.jsonl",))


def haiku(ws: Workspace) -> Source:
    return Source("haiku", "haiku-costs", (f"{ws.root}/**/.costs/haiku_usage.json",))


def run_file(ws: Workspace, run: str = "run_1") -> Path:
    return ws.root / "output" / "tech" / run / "tokens.jsonl"


class Written:
    """The studio lines a test wrote: the exact totals the ledger must end up with."""

    def __init__(self) -> None:
        self.lines = 0
        self.input_tokens = 0
        self.output_tokens = 0

    def line(self, tag: str = "op") -> bytes:
        n = self.lines
        self.lines += 1
        self.input_tokens += 100 + n
        self.output_tokens += 10 + n
        return studio_line(f"{tag}-{n}", 100 + n, 10 + n)

    def batch(self, count: int, tag: str = "op") -> bytes:
        return b"".join(self.line(tag) for _ in range(count))

    @property
    def totals(self) -> LedgerTotals:
        return LedgerTotals(
            self.lines,
            self.lines,
            self.input_tokens,
            self.output_tokens,
            self.lines * STUDIO_COST_NANO,
        )


def wait_ledger_events(ws: Workspace, n: int, source: str | None = None) -> LedgerTotals:
    """Until the ledger holds at least `n` events (of `source`); their totals."""
    try:
        return wait_for(
            lambda: (t := ledger_totals(ws.ledger, source)).events >= n and t,
            INGEST,
            f"{n} events in the ledger",
        )
    except AssertionError as exc:
        raise AssertionError(f"{exc}; it holds {ledger_totals(ws.ledger, source)}") from None


def snapshot_source_totals(snapshot: dict[str, Any], source: str) -> LedgerTotals:
    """The month's totals of one source as the daemon's snapshot reports them."""
    rows = {r["key"]: r for r in snapshot["breakdown"]["month"]["source"]}
    r = rows.get(source)
    if r is None:
        return LedgerTotals(0, 0, 0, 0, 0)
    cost_nano = int(Decimal(r["cost_usd"]) * 1_000_000_000)
    return LedgerTotals(r["calls"], r["calls"], r["input_tokens"], r["output_tokens"], cost_nano)


def wait_snapshot(daemon: DaemonProcess, written: Written) -> None:
    """The snapshot follows the ledger a moment later (totals move after the commit)."""
    wait_for(
        lambda: snapshot_source_totals(daemon.snapshot(), "studio") == written.totals,
        INGEST,
        f"the snapshot's totals to reach {written.totals}",
    )


def settle_with_sentinel(ws: Workspace, path: Path, written: Written, expected_events: int) -> None:
    """Append one more line and wait for it: whatever was going to be read twice has been.

    The daemon reads a file front to back, so once a line written after everything else
    is in the ledger, a duplicate of an earlier line would be there too.
    """
    append(path, written.line("sentinel"))
    wait_ledger_events(ws, expected_events + 1)


# -- the stream ------------------------------------------------------------------------------


def _label(event: dict[str, Any]) -> str:
    if event["source"] == "studio":
        return f"studio:{event['operation']}"
    return str(event["key"])


@pytest.mark.e2e
async def test_appended_records_in_three_formats_each_reach_a_subscriber_once(
    ws: Workspace,
) -> None:
    studio_file = run_file(ws)
    claude_file = ws.root / "claude" / "projects" / "-home-user-webapp" / "s1.jsonl"
    haiku_file = ws.root / "novel" / ".costs" / "haiku_usage.json"
    append(studio_file, studio_line("backfilled", 1, 1))
    append(claude_file, claude_line("msg_backfilled", 1, 1))
    sessions = [HaikuSession("backfilled", 1, 1, timestamp="2020-01-01T00:00:00")]
    write_haiku(haiku_file, sessions)
    ws.write_config([studio(ws), claude(ws), haiku(ws)])
    daemon = ws.start()

    async with Subscriber(ws.socket) as sub:
        append(studio_file, studio_line("s1", 100, 10) + studio_line("s2", 200, 20))
        append(claude_file, claude_line("msg_a", 300, 30))
        sessions.append(HaikuSession("h1", 400, 40))
        write_haiku(haiku_file, sessions)
        append(studio_file, studio_line("s3", 500, 50))
        append(claude_file, claude_line("msg_b", 600, 60))
        sessions.append(HaikuSession("h2", 700, 70, api_calls=3))
        write_haiku(haiku_file, sessions)
        expected = {
            "studio:s1",
            "studio:s2",
            "studio:s3",
            claude_key("msg_a"),
            claude_key("msg_b"),
            sessions[1].key,
            sessions[2].key,
        }
        await sub.wait(
            lambda s: expected <= {_label(e) for e in s.events}, INGEST, f"events {expected}"
        )
        # A last record in every file: any record read twice would have come before these.
        append(studio_file, studio_line("sentinel", 1, 1))
        append(claude_file, claude_line("msg_sentinel", 1, 1))
        sessions.append(HaikuSession("sentinel", 1, 1))
        write_haiku(haiku_file, sessions)
        sentinels = {"studio:sentinel", claude_key("msg_sentinel"), sessions[3].key}
        await sub.wait(
            lambda s: sentinels <= {_label(e) for e in s.events}, INGEST, "the sentinels"
        )

    counts = Counter(_label(e) for e in sub.events)
    assert {k: n for k, n in counts.items() if n != 1} == {}
    assert set(counts) == expected | sentinels  # backfilled records are not streamed
    by_key = {_label(e): e for e in sub.events}
    assert by_key[claude_key("msg_b")]["output_tokens"] == 60
    assert by_key[sessions[2].key]["calls"] == 3
    assert by_key["studio:s2"]["input_tokens"] == 200
    assert by_key["studio:s2"]["tags"]["run"] == "run_1"

    ledger = ledger_totals(ws.ledger)
    assert ledger.events == 3 + len(expected | sentinels)
    assert (
        daemon.snapshot()["month"]["calls"] == ledger.calls - 1
    )  # the 2020 session is not this month


@pytest.mark.e2e
async def test_two_subscribers_both_receive_every_event(ws: Workspace) -> None:
    ws.write_config([studio(ws)])
    ws.start()
    written = Written()
    async with Subscriber(ws.socket) as a, Subscriber(ws.socket) as b:
        append(run_file(ws), written.batch(5))
        for sub in (a, b):
            await sub.wait(lambda s: len(s.events) >= 5, INGEST, "5 events")
    want = [f"op-{i}" for i in range(5)]
    assert sorted(a.operations()) == want
    assert sorted(b.operations()) == want


@pytest.mark.e2e
async def test_a_subscriber_that_never_reads_does_not_hold_up_the_others(ws: Workspace) -> None:
    ws.write_config([studio(ws)])
    daemon = ws.start()
    stuck = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.connect(str(ws.socket))
    stuck.sendall(b'{"type":"subscribe"}\n')
    written = Written()
    rounds, per_round = 20, 100  # the daemon streams at most 500 events per ingest round
    try:
        async with Subscriber(ws.socket) as reader:
            for _ in range(rounds):
                append(run_file(ws), written.batch(per_round))
                await reader.wait(
                    lambda s: len(s.events) >= written.lines, INGEST, f"{written.lines} events"
                )
    finally:
        stuck.close()
    assert len(reader.operations()) == len(set(reader.operations())) == rounds * per_round
    # The stuck client's backlog overflowed its queue: it was resynced, nobody else waited.
    assert "resyncing" in daemon.log()
    assert daemon.hello()["state"] == "ready"


@pytest.mark.e2e
async def test_line_appended_right_after_ready_is_streamed(ws: Workspace) -> None:
    """Nothing written after the daemon says "ready" may fall between backfill and watching."""
    path = run_file(ws)
    append(path, studio_line("old", 1, 1))
    ws.write_config([studio(ws)])
    daemon = ws.daemon()
    daemon.start()
    await run_blocking(daemon.wait_ready)
    append(path, studio_line("new", 2, 2))
    await until(
        lambda: ledger_totals(ws.ledger).events == 2, INGEST, "the line written after ready"
    )


# -- rotation, truncation, crashes ---------------------------------------------------------------


@pytest.mark.e2e
def test_rename_rotation_while_running_reads_the_old_file_to_its_end(ws: Workspace) -> None:
    path = run_file(ws)
    written = Written()
    append(path, written.batch(3))
    ws.write_config([studio(ws)])
    daemon = ws.start()
    append(path, written.batch(2))
    wait_ledger_events(ws, 5)

    # Lines land in the old file just before it is renamed away (to a name no glob
    # matches): the daemon must still read them, then the new file from its start.
    append(path, written.batch(2))
    path.rename(path.with_name("tokens.jsonl.1"))
    append(path, written.batch(3))
    wait_ledger_events(ws, 10)
    settle_with_sentinel(ws, path, written, 10)

    assert ledger_totals(ws.ledger) == written.totals
    wait_snapshot(daemon, written)


@pytest.mark.e2e
@pytest.mark.parametrize("new_content", ["shorter", "longer"])
def test_copy_truncate_while_running_reads_the_new_content_once(
    ws: Workspace, new_content: str
) -> None:
    """Shorter: the size drops below the offset. Longer: only the first bytes tell."""
    path = run_file(ws)
    written = Written()
    ws.write_config([studio(ws)])
    daemon = ws.start()
    append(path, written.batch(4))
    wait_ledger_events(ws, 4)

    shutil.copyfile(path, path.with_name("tokens.jsonl.1"))
    with open(path, "r+b") as f:
        f.truncate(0)
    append(path, written.batch(2 if new_content == "shorter" else 8, tag="after"))
    expected = written.lines
    wait_ledger_events(ws, expected)
    settle_with_sentinel(ws, path, written, expected)

    assert ledger_totals(ws.ledger) == written.totals
    wait_snapshot(daemon, written)


@pytest.mark.e2e
def test_kill_9_during_a_burst_then_restart_counts_every_line_once(ws: Workspace) -> None:
    files = [run_file(ws, "run_1"), run_file(ws, "run_2")]
    for f in files:
        f.parent.mkdir(parents=True)
    ws.write_config([studio(ws)])
    daemon = ws.start()
    written = Written()
    killed = threading.Event()
    done = threading.Event()

    def burst() -> None:
        """A steady stream (~5 k lines/s) that goes on past both kills."""
        handles = [open(f, "ab") for f in files]  # closed in the finally below
        try:
            after_kill = 0
            while written.lines < 20_000 and after_kill < 1000:
                h = handles[written.lines % 2]
                h.write(written.line())
                h.flush()
                after_kill += killed.is_set()
                if written.lines % 10 == 0:
                    time.sleep(0.002)
        finally:
            for h in handles:
                h.close()
            done.set()

    writer = threading.Thread(target=burst)
    writer.start()
    try:
        # Kill while the daemon is busy ingesting the burst live.
        wait_for(lambda: ledger_totals(ws.ledger).events > 0, INGEST, "the burst to be ingested")
        daemon.kill()
        killed.set()
        # Again right after the restart, as soon as it answers (perhaps mid-backfill).
        second = ws.daemon()
        second.start()
        wait_for(lambda: _answers(second), INGEST, "the restarted daemon to answer")
        second.kill()
    finally:
        killed.set()
        writer.join(30)
    assert done.is_set()

    third = ws.start()
    wait_ledger_events(ws, written.lines)
    settle_with_sentinel(ws, files[0], written, written.lines)

    assert ledger_totals(ws.ledger) == written.totals
    wait_snapshot(third, written)
    assert third.stop() == 0


def _answers(daemon: DaemonProcess) -> bool:
    try:
        daemon.hello(timeout=0.5)
    except ApiError:
        return False
    return True


# -- life cycle --------------------------------------------------------------------------------


@pytest.mark.e2e
def test_sigterm_exits_0_and_removes_the_socket(ws: Workspace) -> None:
    ws.write_config([studio(ws)])
    daemon = ws.start()
    assert ws.socket.exists()
    assert daemon.stop() == 0
    assert not ws.socket.exists()
    assert "stopped" in daemon.log()


@pytest.mark.e2e
def test_sighup_after_adding_a_source_ingests_its_files_without_a_restart(
    ws: Workspace,
) -> None:
    haiku_file = ws.root / "novel" / ".costs" / "haiku_usage.json"
    write_haiku(haiku_file, [HaikuSession("h1", 10, 5, api_calls=2)])
    old_text = ws.config_text([studio(ws)])
    new_text = ws.config_text([studio(ws), haiku(ws)])
    # Same size, inode and mtime after the edit: only the signal can tell the daemon.
    ws.config_path.write_text(ws.config_text([studio(ws)], padding=len(new_text) - len(old_text)))
    daemon = ws.start()
    pid = daemon.hello()["pid"]
    st = ws.config_path.stat()
    with open(ws.config_path, "r+") as f:
        f.write(new_text)
    os.utime(ws.config_path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert ws.config_path.stat().st_size == st.st_size

    daemon.send(signal.SIGHUP)
    assert wait_ledger_events(ws, 1, "haiku").calls == 2
    write_haiku(haiku_file, [HaikuSession("h1", 10, 5, api_calls=2), HaikuSession("h2", 1, 1)])
    wait_ledger_events(ws, 2, "haiku")  # and followed live from then on
    assert daemon.hello()["pid"] == pid
    assert "config reloaded: 3 sources" in daemon.log()  # studio, haiku and the spool


@pytest.mark.e2e
def test_config_file_change_alone_reloads(ws: Workspace) -> None:
    haiku_file = ws.root / "novel" / ".costs" / "haiku_usage.json"
    write_haiku(haiku_file, [HaikuSession("h1", 10, 5)])
    ws.write_config([studio(ws)])
    daemon = ws.start()
    ws.write_config([studio(ws), haiku(ws)])
    wait_ledger_events(ws, 1, "haiku")
    assert "config file changed" in daemon.log()


@pytest.mark.e2e
def test_invalid_config_on_reload_keeps_the_old_one_running(ws: Workspace) -> None:
    ws.write_config([studio(ws)])
    daemon = ws.start()
    ws.config_path.write_text('[monitor\ntimezone = "UTC"\n')
    daemon.send(signal.SIGHUP)
    wait_for(lambda: "config reload failed" in daemon.log(), INGEST, "the reload error")
    assert "invalid TOML" in daemon.log()

    written = Written()
    append(run_file(ws), written.batch(3))
    assert wait_ledger_events(ws, 3) == written.totals
    assert daemon.alive()
    assert daemon.hello()["state"] == "ready"


@pytest.mark.e2e
def test_second_daemon_on_the_same_socket_refuses_to_start(ws: Workspace) -> None:
    ws.write_config([studio(ws)])
    first = ws.start()
    second = ws.daemon()
    second.start()
    assert second.wait_exit() != 0
    assert "another llm-monitor daemon is running" in second.log()
    assert f"pid {first.pid}" in second.log()
    assert first.hello()["pid"] == first.pid  # the first one still owns its socket
    assert ws.socket.exists()


# -- the CLI beside the daemon -------------------------------------------------------------------


@pytest.mark.e2e
def test_status_answers_from_the_daemon_then_from_the_ledger_with_the_same_totals(
    ws: Workspace,
) -> None:
    import json

    ws.write_config([studio(ws)])
    daemon = ws.start()
    written = Written()
    append(run_file(ws), written.batch(7))
    wait_ledger_events(ws, 7)
    wait_for(
        lambda: daemon.snapshot()["month"]["calls"] == 7, INGEST, "the daemon's totals to move"
    )

    live = ws.cli("status", "--json")
    assert live.returncode == 0, live.stderr
    from_daemon = json.loads(live.stdout)
    assert daemon.stop() == 0
    offline = ws.cli("status", "--json")
    assert offline.returncode == 0, offline.stderr
    from_ledger = json.loads(offline.stdout)

    assert from_daemon["daemon"] is True
    assert from_ledger["daemon"] is False
    for period in ("today", "week", "month"):
        assert from_daemon[period]["calls"] == from_ledger[period]["calls"] == 7
        assert from_daemon[period]["cost_usd"] == from_ledger[period]["cost_usd"] == "0.087500"


@pytest.mark.e2e
def test_scan_refuses_while_the_daemon_runs(ws: Workspace) -> None:
    ws.write_config([studio(ws)])
    ws.start()
    result = ws.cli("scan")
    assert result.returncode != 0
    assert "a daemon is running" in result.stderr
    assert "scan" in result.stderr


# -- bad input and a changing tree -----------------------------------------------------------------


def test_unreadable_file_is_skipped_and_the_others_followed(ws: Workspace) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads files whatever their mode")
    secret = run_file(ws, "run_secret")
    append(secret, studio_line("secret", 1, 1))
    secret.chmod(0)
    written = Written()
    ws.write_config([studio(ws)])
    daemon = ws.start()
    append(run_file(ws), written.batch(3))
    append(secret, studio_line("secret-2", 1, 1))
    assert wait_ledger_events(ws, 3) == written.totals
    settle_with_sentinel(ws, run_file(ws), written, 3)
    assert ledger_totals(ws.ledger) == written.totals
    assert daemon.alive()


@pytest.mark.e2e
def test_a_50_mb_line_is_skipped_and_the_lines_after_it_are_read(ws: Workspace) -> None:
    path = run_file(ws)
    other = run_file(ws, "run_2")
    ws.write_config([studio(ws)])
    daemon = ws.start()
    written = Written()
    huge = b'{"input_tokens": 1, "output_tokens": 2, "pad": "' + b"x" * (50 << 20) + b"\n"
    append(path, huge + written.batch(2))
    append(other, written.batch(2))
    assert wait_ledger_events(ws, 4) == written.totals
    settle_with_sentinel(ws, path, written, 4)
    assert ledger_totals(ws.ledger) == written.totals
    sources = {s["name"]: s for s in daemon.snapshot()["sources"]}
    assert sources["studio"]["errors"] >= 1
    assert daemon.alive()


@pytest.mark.e2e
def test_binary_garbage_is_skipped_and_the_lines_after_it_are_read(ws: Workspace) -> None:
    path = run_file(ws)
    ws.write_config([studio(ws)])
    daemon = ws.start()
    written = Written()
    append(path, written.batch(2))
    wait_ledger_events(ws, 2)
    garbage = random.Random(7).randbytes(256 << 10)
    append(path, garbage + b"\n" + written.batch(3))
    assert wait_ledger_events(ws, 5) == written.totals
    settle_with_sentinel(ws, path, written, 5)
    assert ledger_totals(ws.ledger) == written.totals
    assert daemon.alive()
    assert daemon.hello()["state"] == "ready"


@pytest.mark.e2e
def test_directories_created_after_start_are_followed(ws: Workspace) -> None:
    ws.write_config([studio(ws), claude(ws)])  # neither output/ nor claude/ exists yet
    daemon = ws.start()
    written = Written()
    append(run_file(ws, "run_late"), written.batch(3))
    deep = ws.root / "claude" / "projects" / "-home-user-late" / "s.jsonl"
    append(deep, claude_line("msg_late", 5, 6))
    assert wait_ledger_events(ws, 3, "studio") == written.totals
    assert wait_ledger_events(ws, 1, "claude").output_tokens == 6
    append(run_file(ws, "run_late"), written.batch(1))  # and followed from then on
    assert wait_ledger_events(ws, 4, "studio") == written.totals
    assert daemon.alive()


@pytest.mark.e2e
def test_a_run_directory_deleted_and_recreated_is_followed_again(ws: Workspace) -> None:
    path = run_file(ws)
    written = Written()
    append(path, written.batch(2))
    ws.write_config([studio(ws)])
    daemon = ws.start()
    shutil.rmtree(path.parent.parent)  # output/tech/ with run_1/ in it
    append(path, written.batch(3))
    assert wait_ledger_events(ws, 5) == written.totals
    settle_with_sentinel(ws, path, written, 5)
    assert ledger_totals(ws.ledger) == written.totals
    assert sorted(ledger_keys(ws.ledger)) == sorted(set(ledger_keys(ws.ledger)))
    assert daemon.alive()


@pytest.mark.e2e
async def test_an_event_without_a_reported_cost_is_streamed_priced(ws: Workspace) -> None:
    ws.write_config([studio(ws)])
    ws.start()
    async with Subscriber(ws.socket) as sub:
        append(run_file(ws), studio_line("priced", 1_000_000, 0, cost_usd=None))
        await sub.wait(lambda s: bool(s.events), INGEST, "one event")
    (event,) = [m.payload for m in sub.messages if isinstance(m, EventMsg)]
    assert event["cost_basis"] == "priced"
    assert event["cost_usd"] == "2.500000"  # gpt-4o: $2.50 per million input tokens
