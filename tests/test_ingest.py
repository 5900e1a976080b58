"""Ingestion end to end on real files and a real ledger: exactly once, whatever happens.

The model test follows Vector's file-source quickcheck: hypothesis writes programs of
WriteLine / WritePartial / Rotate / CopyTruncate / Scan / Restart against a real
directory and the ledger must hold every complete record written, exactly once.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.config import SourceConfig
from monitor.globs import Glob
from monitor.ingest import Ingestor
from monitor.ledger import Ledger
from monitor.pricing import Pricer
from monitor.tail import Chunk, Cursor

UTC_ZONE = ZoneInfo("UTC")
PRICER = Pricer()


def source(name: str, fmt: str, *paths: Path | str) -> SourceConfig:
    return SourceConfig(name, fmt, tuple(str(p) for p in paths), UTC_ZONE, "UTC")


def record(n: int) -> bytes:
    return (
        json.dumps(
            {
                "input_tokens": n,
                "timestamp": "2026-11-20T10:00:00",
                "operation": "advocate",
                "output_tokens": 1,
                "model": "gpt-4o",
            }
        ).encode()
        + b"\n"
    )


class World:
    """A ledger file plus an ingestor over it, restartable like the daemon."""

    def __init__(self, root: Path, sources: list[SourceConfig]) -> None:
        self.root = root
        self.sources = sources
        self.ledger = Ledger(root / "ledger.sqlite3", UTC_ZONE, "UTC")
        self.ingestor = Ingestor(sources, self.ledger, PRICER)

    def scan(self) -> None:
        self.ingestor.scan()

    def restart(self) -> None:
        self.ledger.close()
        self.ledger = Ledger(self.root / "ledger.sqlite3", UTC_ZONE, "UTC")
        self.ingestor = Ingestor(self.sources, self.ledger, PRICER)

    def input_tokens(self) -> list[int]:
        rows = self.ledger.db.execute("SELECT input_tokens FROM events ORDER BY input_tokens")
        return [r[0] for r in rows]

    def close(self) -> None:
        self.ledger.close()


def studio_world(tmp_path: Path) -> tuple[World, Path]:
    run = tmp_path / "output" / "tech" / "run_1"
    run.mkdir(parents=True)
    world = World(tmp_path, [source("studio", "studio-tokens", tmp_path / "**/run_*/tokens.jsonl")])
    return world, run / "tokens.jsonl"


def test_a_scan_loads_the_cursors_again_only_when_a_commit_came_since_it_last_did(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restarted daemon or a new `scan` loads every file's cursor once, not twice; a
    scan after any commit — another connection's, or this one's — loads them again, so it
    follows what the other stored (here: a file it read further)."""
    world, f = studio_world(tmp_path)
    f.write_bytes(record(1))
    world.scan()
    world.restart()
    loads: list[int] = []
    real = Ledger.cursors

    def counted(self: Ledger, source: str | None = None) -> list[Cursor]:
        loads.append(1)
        return real(self, source)

    monkeypatch.setattr(Ledger, "cursors", counted)
    world.scan()
    assert loads == []  # loaded by the ingestor moments before, nothing committed since
    with f.open("ab") as fh:
        fh.write(record(2))
    other = Ledger(tmp_path / "ledger.sqlite3", UTC_ZONE, "UTC")
    Ingestor(world.sources, other, PRICER).scan()
    other.close()
    loads.clear()
    world.scan()
    assert loads == [1]
    assert world.input_tokens() == [1, 2]
    assert world.ingestor.cursors[("studio", str(f))].offset == f.stat().st_size
    with f.open("ab") as fh:
        fh.write(record(3))
    world.scan()  # stores record 3: its own commit
    loads.clear()
    world.scan()
    assert loads == [1]
    assert world.input_tokens() == [1, 2, 3]
    world.close()


def test_a_rescan_opens_only_the_files_whose_stat_moved_and_reads_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A restarted daemon's catch-up lists every file; one whose stat is the one its cursor
    was read at is passed by unopened (`tail.unchanged`). Appended, touched or ending in
    a partial line, a file is read as ever."""
    import monitor.ingest

    world, f = studio_world(tmp_path)
    runs = [f.parent.with_name(f"run_{i}") for i in (2, 3, 4)]
    for i, run in enumerate(runs):
        run.mkdir()
        (run / "tokens.jsonl").write_bytes(record(10 + i))
    f.write_bytes(record(1) + b'{"input_tokens": 5')  # a partial line at its end
    world.scan()
    world.restart()
    opened: list[str] = []
    real = monitor.ingest.read_lines_file

    def counted(source: str, path: str, cursor: Cursor | None) -> list[Chunk]:
        opened.append(Path(path).parent.name)
        return real(source, path, cursor)

    monkeypatch.setattr(monitor.ingest, "read_lines_file", counted)
    world.scan()
    assert opened == ["run_1"]
    with (runs[0] / "tokens.jsonl").open("ab") as fh:
        fh.write(record(20))
    st = (runs[1] / "tokens.jsonl").stat()
    os.utime(runs[1] / "tokens.jsonl", ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    opened.clear()
    world.scan()
    assert set(opened) == {"run_1", "run_2", "run_3"}  # run_4 not at all
    assert world.input_tokens() == [1, 10, 11, 12, 20]
    world.close()


def test_rescan_adds_nothing(tmp_path: Path) -> None:
    world, f = studio_world(tmp_path)
    f.write_bytes(record(1) + record(2))
    world.scan()
    world.scan()
    world.restart()
    world.scan()
    assert world.input_tokens() == [1, 2]
    world.close()


def test_two_identical_lines_are_two_calls(tmp_path: Path) -> None:
    world, f = studio_world(tmp_path)
    f.write_bytes(record(7) + record(7))
    world.scan()
    assert world.input_tokens() == [7, 7]
    world.close()


def test_partial_line_across_restart_is_counted_once(tmp_path: Path) -> None:
    world, f = studio_world(tmp_path)
    line = record(5)
    f.write_bytes(record(4) + line[:10])
    world.scan()
    assert world.input_tokens() == [4]
    world.restart()
    with f.open("ab") as fh:
        fh.write(line[10:])
    world.scan()
    assert world.input_tokens() == [4, 5]
    world.close()


def test_restart_resumes_from_ledger_with_adapter_state(tmp_path: Path) -> None:
    sessions = tmp_path / "sessions"
    sessions.mkdir()
    f = sessions / "rollout-1.jsonl"

    def token_count(total_in: int, total_out: int) -> bytes:
        usage = {
            "input_tokens": total_in,
            "cached_input_tokens": 0,
            "output_tokens": total_out,
            "reasoning_output_tokens": 0,
            "total_tokens": total_in + total_out,
        }
        return (
            json.dumps(
                {
                    "timestamp": "2026-11-20T10:00:00Z",
                    "type": "event_msg",
                    "payload": {
                        "type": "token_count",
                        "info": {"total_token_usage": usage, "last_token_usage": usage},
                    },
                }
            ).encode()
            + b"\n"
        )

    ctx = json.dumps(
        {"timestamp": "2026-11-20T10:00:00Z", "type": "turn_context", "payload": {"model": "o3"}}
    ).encode()
    world = World(tmp_path, [source("codex", "codex", sessions / "rollout-*.jsonl")])
    f.write_bytes(ctx + b"\n" + token_count(100, 10) + token_count(100, 10))
    world.scan()
    world.restart()
    with f.open("ab") as fh:
        fh.write(token_count(250, 30))
    world.scan()
    rows = world.ledger.db.execute(
        "SELECT model, input_tokens, output_tokens FROM events ORDER BY ts, id"
    ).fetchall()
    assert rows == [("o3", 100, 10), ("o3", 150, 20)]
    world.close()


def test_rename_to_a_matching_name_is_not_read_again(tmp_path: Path) -> None:
    spool = tmp_path / "spool"
    spool.mkdir()
    world = World(tmp_path, [source("spool", "spool", spool / "*.jsonl")])
    line = b'{"ts": "2026-11-20T10:00:00Z", "model": "gpt-4o", "input_tokens": 3}\n'
    (spool / "a.jsonl").write_bytes(line)
    world.scan()
    os.rename(spool / "a.jsonl", spool / "b.jsonl")
    with (spool / "b.jsonl").open("ab") as fh:
        fh.write(line.replace(b"3}", b"4}"))
    world.scan()
    world.restart()
    world.scan()
    assert world.input_tokens() == [3, 4]
    assert [c.path for c in world.ledger.cursors()] == [str(spool / "b.jsonl")]
    world.close()


def test_bad_line_is_counted_logged_and_skipped(tmp_path: Path, caplog) -> None:  # type: ignore[no-untyped-def]
    world, f = studio_world(tmp_path)
    f.write_bytes(record(1) + b'{"input_tokens": oops\n' + record(2))
    with caplog.at_level("WARNING"):
        report = world.ingestor.scan()
    assert world.input_tokens() == [1, 2]
    assert report.counts("studio").errors == 1
    assert world.ledger.source_stats()["studio"]["errors"] == 1
    bad_offset = len(record(1))
    assert any(f"{f}:{bad_offset}" in r.getMessage() for r in caplog.records)
    world.close()


def test_unreadable_file_is_reported_and_the_rest_continues(tmp_path: Path) -> None:
    world, f = studio_world(tmp_path)
    other = tmp_path / "output" / "tech" / "run_2" / "tokens.jsonl"
    other.parent.mkdir()
    other.write_bytes(record(9))
    f.write_bytes(record(1))
    f.chmod(0)
    try:
        if os.access(f, os.R_OK):  # running as root: permissions do not bite
            f.chmod(0o644)
            f.write_bytes(b"")
        report = world.ingestor.scan()
    finally:
        f.chmod(0o644)
    assert 9 in world.input_tokens()
    assert report.counts("studio").files == 2
    world.close()


def test_document_rewritten_with_one_more_session_adds_one_event(tmp_path: Path) -> None:
    costs = tmp_path / "novel" / ".costs"
    costs.mkdir(parents=True)
    doc = costs / "haiku_usage.json"

    def write(n: int) -> None:
        sessions = [
            {
                "timestamp": f"2026-11-2{i}T10:00:00",
                "session_name": f"run_{i}",
                "input_tokens": 1000 * (i + 1),
                "output_tokens": 100,
                "api_calls": 2,
                "cost_usd": 0.01,
            }
            for i in range(n)
        ]
        tmp = doc.with_suffix(".tmp")
        tmp.write_text(json.dumps({"sessions": sessions}))
        os.replace(tmp, doc)

    world = World(
        tmp_path, [source("novel", "haiku-costs", tmp_path / "**/.costs/haiku_usage.json")]
    )
    write(2)
    world.scan()
    doc.write_text('{"sessions": [')  # caught half-written: retried later, not an error
    report = world.ingestor.scan()
    assert report.counts("novel").pending == 1 and report.counts("novel").errors == 0
    write(3)
    world.scan()
    assert world.input_tokens() == [1000, 2000, 3000]
    write(2)  # a record that vanished from the file stays in the ledger: money spent stays spent
    world.scan()
    assert world.input_tokens() == [1000, 2000, 3000]
    world.close()


def test_claude_streamed_copies_in_two_files_count_once_largest(tmp_path: Path) -> None:
    proj = tmp_path / "projects" / "-home-u-x"
    proj.mkdir(parents=True)

    def line(out: int) -> bytes:
        return (
            json.dumps(
                {
                    "type": "assistant",
                    "timestamp": "2026-11-20T10:00:00.000Z",
                    "sessionId": "s1",
                    "cwd": "/home/u/x",
                    "requestId": "req_1",
                    "message": {
                        "id": "msg_1",
                        "model": "claude-sonnet-4-5-20250929",
                        "usage": {"input_tokens": 10, "output_tokens": out},
                    },
                }
            ).encode()
            + b"\n"
        )

    world = World(tmp_path, [source("cc", "claude-code", tmp_path / "projects/**/*.jsonl")])
    (proj / "a.jsonl").write_bytes(line(5) + line(50))
    world.scan()
    (proj / "b.jsonl").write_bytes(line(20))  # a resumed session repeats the message
    world.scan()
    rows = world.ledger.db.execute("SELECT output_tokens FROM events").fetchall()
    assert rows == [(50,)]
    world.close()


# -- the model test --------------------------------------------------------------------------

OPS = st.lists(
    st.sampled_from(
        [
            "write",
            "write",
            "write",
            "partial",
            "rotate",
            "copytruncate",
            "scan",
            "restart",
            "second",
            "oversized",
        ]
    ),
    min_size=1,
    max_size=40,
)


@settings(
    max_examples=int(os.environ.get("MODEL_EXAMPLES", "60")),  # more: MODEL_EXAMPLES=500
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(program=OPS)
def test_ledger_equals_records_written_exactly_once(tmp_path_factory, program: list[str]) -> None:  # type: ignore[no-untyped-def]
    root: Path = tmp_path_factory.mktemp("model")
    world, f = studio_world(root)
    rotated = f.with_name("tokens.jsonl.1")
    written: list[int] = []
    pending: bytes | None = None
    n = 0
    # A file rotated away before it was ever seen cannot be found again (no cursor names
    # it); the live daemon sees every file within milliseconds of its creation.
    seen = False
    # "second": a second writer on the same ledger file, opened once and kept, so its
    # cursors go stale as the first one commits (and the first one's as it does).
    second: tuple[Ledger, Ingestor] | None = None

    def append(data: bytes) -> None:
        with f.open("ab") as fh:
            fh.write(data)

    def finish_partial() -> None:
        nonlocal pending
        if pending is not None:
            append(pending)
            pending = None

    for op in program:
        if op == "write":
            finish_partial()
            n += 1
            append(record(n))
            written.append(n)
        elif op == "partial":
            finish_partial()
            n += 1
            line = record(n)
            # A writer's buffer flushes most of a line, then the rest (see tail.py's limit).
            append(line[:-5])
            pending = line[-5:]
            written.append(n)
        elif op in ("rotate", "copytruncate"):
            finish_partial()
            if rotated.exists():
                world.scan()  # the previous rotation was read before logrotate drops it
                seen = f.exists()
                rotated.unlink()
            if not f.exists():
                continue
            if not seen:
                world.scan()
            seen = False
            if op == "rotate":
                os.rename(f, rotated)
            else:
                shutil.copyfile(f, rotated)
                with f.open("r+b") as fh:
                    fh.truncate(0)
        elif op == "scan":
            world.scan()
            seen = f.exists()
        elif op == "second":
            if second is None:
                other = Ledger(root / "ledger.sqlite3", UTC_ZONE, "UTC")
                second = (other, Ingestor(world.sources, other, PRICER))
            second[1].scan()
            seen = f.exists()
        elif op == "oversized":
            finish_partial()
            append(record(n + 1).replace(b'"input_tokens": ', b'"input_tokens": 1' + b"0" * 19))
        else:
            world.restart()
    finish_partial()
    world.scan()
    if second is not None:
        second[1].scan()
        second[0].close()
    world.scan()
    assert world.input_tokens() == sorted(written)
    world.close()


def test_a_line_finished_and_copy_truncated_between_scans_is_read_from_the_copy(
    tmp_path: Path,
) -> None:
    """Found by the model test: a file first seen empty, then holding half a line, was
    known by its inode alone, so the copy logrotate made of the finished line was missed."""
    world, f = studio_world(tmp_path)
    f.write_bytes(b"")
    world.scan()
    line = record(1)
    f.write_bytes(line[:-5])
    world.scan()
    with f.open("ab") as fh:
        fh.write(line[-5:])
    shutil.copyfile(f, f.with_name("tokens.jsonl.1"))
    with f.open("r+b") as fh:
        fh.truncate(0)
    world.scan()
    world.scan()
    assert world.input_tokens() == [1]
    world.close()


def test_a_second_writer_with_stale_cursors_rereads_instead_of_counting_twice(
    tmp_path: Path,
) -> None:
    world, f = studio_world(tmp_path)
    f.write_bytes(record(1) + record(2))
    late = Ledger(tmp_path / "ledger.sqlite3", UTC_ZONE, "UTC")
    stale = Ingestor(world.sources, late, PRICER)  # knows no cursor yet
    world.scan()
    with f.open("ab") as fh:
        fh.write(record(3))
    stale.scan()  # read from offset 0: the commit sees the moved cursor, re-reads from it
    world.scan()  # its own cursor is stale now too
    assert world.input_tokens() == [1, 2, 3]
    late.close()
    world.close()


def test_a_stale_writer_of_a_backfill_sized_batch_rereads_every_moved_file(
    tmp_path: Path,
) -> None:
    """Over 64 files a batch checks its cursors in one read: the same compare-and-swap."""
    world, _ = studio_world(tmp_path)
    files = []
    for i in range(100):
        f = tmp_path / "output" / "tech" / f"run_{i + 2}" / "tokens.jsonl"
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(record(10 * i + 1))
        files.append(f)
    late = Ledger(tmp_path / "ledger.sqlite3", UTC_ZONE, "UTC")
    stale = Ingestor(world.sources, late, PRICER)  # knows no cursor yet
    world.ingestor.scan(parallel=False)
    for i, f in enumerate(files):
        with f.open("ab") as fh:
            fh.write(record(10 * i + 2))
    stale.scan(parallel=False)  # every file read from 0: all 100 moved under it
    world.ingestor.scan(parallel=False)
    expected = [10 * i + 1 for i in range(100)] + [10 * i + 2 for i in range(100)]
    assert world.input_tokens() == sorted(expected)
    late.close()
    world.close()


@pytest.mark.parametrize("count", ["1e30", str(2**64), "1e308", str(2**63)])
def test_an_oversized_count_is_a_bad_record_and_the_records_after_it_count(
    tmp_path: Path, count: str
) -> None:
    world, f = studio_world(tmp_path)
    bad = record(7).replace(b'"input_tokens": 7', b'"input_tokens": ' + count.encode())
    f.write_bytes(record(1) + bad + b"".join(record(n) for n in range(2, 42)))
    world.scan()
    assert world.input_tokens() == list(range(1, 42))
    errors = world.ledger.db.execute("SELECT path, offset FROM parse_errors").fetchall()
    assert errors == [(str(f), len(record(1)))]
    world.close()


def test_event_timestamps_are_utc(tmp_path: Path) -> None:
    world, f = studio_world(tmp_path)
    f.write_bytes(record(1))
    world.scan()
    (ts,) = world.ledger.db.execute("SELECT ts FROM events").fetchone()
    assert datetime.fromtimestamp(ts / 1000, UTC) == datetime(2026, 11, 20, 10, tzinfo=UTC)
    world.close()


def test_absurd_count_costs_one_record_in_a_document(tmp_path: Path) -> None:
    costs = tmp_path / "novel" / ".costs"
    costs.mkdir(parents=True)
    sessions = [
        {"timestamp": "2026-11-20T10:00:00", "session_name": "ok", "input_tokens": 10,
         "output_tokens": 1, "api_calls": 1},
        {"timestamp": "2026-11-21T10:00:00", "session_name": "bad", "input_tokens": "1e400",
         "output_tokens": 1, "api_calls": 1},
    ]  # fmt: skip
    (costs / "haiku_usage.json").write_text(json.dumps({"sessions": sessions}))
    world = World(tmp_path, [source("novel", "haiku-costs", costs / "haiku_usage.json")])
    report = world.ingestor.scan()
    assert world.input_tokens() == [10]
    assert report.counts("novel").errors == 1
    world.close()


def test_absurd_count_costs_one_line_in_an_append_only_log(tmp_path: Path) -> None:
    world, f = studio_world(tmp_path)
    bad = b'{"input_tokens": "1e400", "output_tokens": 1, "timestamp": "2026-11-20T10:00:00"}\n'
    f.write_bytes(record(1) + bad + record(2))
    report = world.ingestor.scan()
    assert world.input_tokens() == [1, 2]
    assert report.counts("studio").errors == 1
    newest = "SELECT offset FROM parse_errors ORDER BY id DESC LIMIT 1"
    assert world.ledger.db.execute(newest).fetchone() == (len(record(1)),)
    world.close()


@pytest.mark.e2e
def test_many_new_files_parsed_by_workers_equal_a_sequential_scan(tmp_path: Path) -> None:
    from monitor import parallel

    def make(root: Path) -> World:
        for i in range(parallel.MIN_FILES + 16):
            run = root / "output" / "tech" / f"run_{i}"
            run.mkdir(parents=True)
            (run / "tokens.jsonl").write_bytes(record(2 * i) + record(2 * i + 1) + b"{bad\n")
            history(run / "tokens.jsonl")
        return World(root, [source("studio", "studio-tokens", root / "**/run_*/tokens.jsonl")])

    workers = make(tmp_path / "a")
    report = workers.ingestor.scan(parallel=True)
    inline = make(tmp_path / "b")
    inline.ingestor.scan(parallel=False)
    expected = list(range(2 * (parallel.MIN_FILES + 16)))
    assert workers.input_tokens() == inline.input_tokens() == expected
    assert report.counts("studio").errors == parallel.MIN_FILES + 16
    workers.ingestor.scan(parallel=True)  # cursors came back from the workers: nothing twice
    assert workers.input_tokens() == expected
    workers.close()
    inline.close()


def history(path: Path) -> None:
    """Date a file 40 days back: a backfill reads today's files itself, older ones in its
    workers (when there are many)."""
    then = time.time() - 40 * 86400
    os.utime(path, (then, then))


def _old_runs(tmp_path: Path, files: int) -> World:
    """`files` run folders of one call each (record(i)), dated 40 days back, and a World."""
    for i in range(files):
        run = tmp_path / "output" / "tech" / f"run_{i}"
        run.mkdir(parents=True)
        (run / "tokens.jsonl").write_bytes(record(i))
        history(run / "tokens.jsonl")
    return World(tmp_path, [source("studio", "studio-tokens", tmp_path / "**/run_*/tokens.jsonl")])


class _InlineExecutor:
    """Runs each job in this process at once (the pool's edge, without processes), and
    breaks after `jobs` jobs; records the most jobs it ever held unfinished."""

    def __init__(self, jobs: int) -> None:
        self.jobs = jobs
        self.submitted = 0

    def submit(self, fn: Any, *args: Any) -> Future[Any]:
        done: Future[Any] = Future()
        if fn is os.getpid:  # the pool's warm-up, not a job
            done.set_result(0)
            return done
        if self.submitted >= self.jobs:
            raise RuntimeError("the pool broke")
        self.submitted += 1
        done.set_result(fn(*args))
        return done

    def shutdown(self, **kwargs: object) -> None:
        pass


def _inline_pool(
    monkeypatch: pytest.MonkeyPatch, executor: _InlineExecutor | _OneWorker, workers: int = 2
) -> None:
    """Parsing workers that run in this process: jobs of two files, through `executor`."""
    from monitor import parallel

    def inline_pool(self: parallel.Pool, overrides: Any, tz: Any, formats: Any = ()) -> None:
        parallel.load_worker(overrides, tz, formats)
        self.executor = executor  # type: ignore[assignment]
        self.workers = workers

    monkeypatch.setattr(parallel.Pool, "__init__", inline_pool)
    monkeypatch.setattr(parallel, "JOB_BYTES", 2 * len(record(1)))


@pytest.mark.parametrize("breaks_after", [1000, 3])
def test_a_backfill_in_many_small_jobs_reads_every_file_once_even_if_the_pool_breaks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, breaks_after: int
) -> None:
    """Jobs go out a few at a time (IN_FLIGHT) and a broken pool's queue is read in-process."""
    from monitor import parallel

    executor = _InlineExecutor(breaks_after)
    _inline_pool(monkeypatch, executor)
    files = parallel.MIN_FILES + 20
    world = _old_runs(tmp_path, files)
    world.ingestor.scan(parallel=True)
    assert world.input_tokens() == list(range(files))
    assert executor.submitted == min(breaks_after, files // 2)
    world.close()


class _OneWorker:
    """Runs jobs one at a time in a thread, as a single worker would, and holds job
    number `wait_before` back until a reader of the ledger sees the calls of the jobs
    before it (at most `patience` seconds): `seen` records whether they were stored."""

    def __init__(self, ledger_path: Path, patience: float, wait_before: int) -> None:
        import queue
        import threading

        self.ledger_path = ledger_path
        self.patience = patience
        self.wait_before = wait_before
        self.started = 0
        self.seen: list[bool] = []
        self.stored_before = 0
        self._jobs: queue.Queue[tuple[Future[Any], Any, tuple[Any, ...]]] = queue.Queue()
        threading.Thread(target=self._run, daemon=True).start()

    def submit(self, fn: Any, *args: Any) -> Future[Any]:
        done: Future[Any] = Future()
        if fn is os.getpid:  # the pool's warm-up, not a job
            done.set_result(0)
        else:
            self._jobs.put((done, fn, args))
        return done

    def _stored(self) -> int:
        import sqlite3

        db = sqlite3.connect(self.ledger_path)
        try:
            return int(db.execute("SELECT COUNT(*) FROM events").fetchone()[0])
        finally:
            db.close()

    def _run(self) -> None:
        while True:
            done, fn, args = self._jobs.get()
            self.started += 1
            if self.started == self.wait_before:
                deadline = time.monotonic() + self.patience
                while self._stored() < self.stored_before and time.monotonic() < deadline:
                    time.sleep(0.01)
                self.seen.append(self._stored() >= self.stored_before)
            result = fn(*args)
            self.stored_before += len(result.rows)
            done.set_result(result)

    def shutdown(self, **kwargs: object) -> None:
        pass


def test_the_last_job_of_a_backfill_is_parsed_with_every_other_job_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the last jobs are with the workers, what came back is committed while they
    are still parsed: left for a last commit, it would be stored on one core after the
    workers are done (a commit of up to BATCH_EVENTS calls while the other core idles)."""
    from monitor import parallel

    executor = _OneWorker(tmp_path / "ledger.sqlite3", patience=5.0, wait_before=5)
    _inline_pool(monkeypatch, executor, workers=1)
    files = parallel.MIN_FILES + 8
    monkeypatch.setattr(parallel, "JOB_BYTES", 16 * len(record(1)))  # 5 jobs, all in flight
    world = _old_runs(tmp_path, files)
    world.ingestor.scan(parallel=True)
    assert world.input_tokens() == list(range(files))
    assert executor.started == 5
    assert executor.seen == [True]
    world.close()


def test_a_worker_refuses_an_unstorable_call_as_a_bad_record_and_its_delta_skips_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """10^12 input tokens is a count, but $2.5 M for one call is past what the ledger
    stores: the worker reports it (file and offset) instead of sending the row, and the
    rollups it summed still equal a rebuild from the stored events."""
    from monitor import parallel
    from monitor.ledger.rollups import rebuild

    _inline_pool(monkeypatch, _InlineExecutor(1000))
    files = parallel.MIN_FILES + 6
    for i in range(files):
        run = tmp_path / "output" / "tech" / f"run_{i}"
        run.mkdir(parents=True)
        (run / "tokens.jsonl").write_bytes(record(i) + (record(10**12) if i == 7 else b""))
        history(run / "tokens.jsonl")
    world = World(tmp_path, [source("studio", "studio-tokens", tmp_path / "**/run_*/tokens.jsonl")])
    report = world.ingestor.scan(parallel=True)
    assert world.input_tokens() == list(range(files))
    assert report.counts("studio").errors == 1
    [(path, offset, message)] = world.ledger.db.execute(
        "SELECT path, offset, message FROM parse_errors"
    ).fetchall()
    assert (path.endswith("run_7/tokens.jsonl"), offset) == (True, len(record(7)))
    assert "out of range" in message
    daily = "SELECT * FROM daily ORDER BY day, model"
    kept = world.ledger.db.execute(daily).fetchall()
    rebuild(world.ledger.db)
    assert world.ledger.db.execute(daily).fetchall() == kept
    world.close()


def test_files_are_parsed_in_process_when_the_worker_pool_is_unavailable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from monitor import parallel

    class BrokenExecutor:
        def submit(self, *args: object) -> None:
            raise RuntimeError("no process pool on this platform")

        def shutdown(self, **kwargs: object) -> None:
            pass

    def broken_pool(self: parallel.Pool, *args: object) -> None:
        self.executor = BrokenExecutor()  # type: ignore[assignment]
        self.workers = 2

    monkeypatch.setattr(parallel.Pool, "__init__", broken_pool)
    world = _old_runs(tmp_path, parallel.MIN_FILES + 4)
    world.ingestor.scan(parallel=True)
    assert world.input_tokens() == list(range(parallel.MIN_FILES + 4))
    world.close()


def test_a_call_dated_outside_the_configured_range_is_a_bad_record(tmp_path: Path) -> None:
    from datetime import timedelta

    from monitor.config import CallTimes

    run = tmp_path / "output" / "tech" / "run_1"
    run.mkdir(parents=True)
    f = run / "tokens.jsonl"
    now = datetime.now(UTC)

    def dated(n: int, when: datetime) -> bytes:
        return record(n).replace(
            b"2026-11-20T10:00:00", when.strftime("%Y-%m-%dT%H:%M:%S").encode()
        )

    f.write_bytes(
        dated(1, now - timedelta(hours=1))
        + dated(2, now + timedelta(hours=2))  # clock skew: fine
        + dated(3, now + timedelta(days=2))  # beyond the default day of tolerance
        + dated(4, datetime(1970, 1, 1, tzinfo=UTC))
        + dated(5, datetime(9999, 12, 31, tzinfo=UTC))
    )
    glob = tmp_path / "**/run_*/tokens.jsonl"
    world = World(tmp_path, [source("studio", "studio-tokens", glob)])
    world.scan()
    assert world.input_tokens() == [1, 2]
    assert world.ledger.db.execute("SELECT COUNT(*) FROM parse_errors").fetchone() == (3,)
    world.close()

    lenient = SourceConfig(
        "studio",
        "studio-tokens",
        (str(glob),),
        UTC_ZONE,
        "UTC",
        call_times=CallTimes(datetime(1960, 1, 1, tzinfo=UTC), timedelta(days=3)),
    )
    (tmp_path / "ledger.sqlite3").unlink()
    world = World(tmp_path, [lenient])
    world.scan()
    assert world.input_tokens() == [1, 2, 3, 4]
    world.close()


def test_written_since_names_the_files_changed_after_an_instant(tmp_path: Path) -> None:
    """What the daemon reads again once its watches are armed: files written since the
    backfill started, not the whole tree."""
    now = time.time()
    for i, age in enumerate((0, 5, 3600)):
        f = tmp_path / "output" / "tech" / f"run_{i}" / "tokens.jsonl"
        f.parent.mkdir(parents=True)
        f.write_bytes(record(i))
        os.utime(f, (now - age, now - age))
    world = World(tmp_path, [source("studio", "studio-tokens", tmp_path / "**/run_*/tokens.jsonl")])
    names = {Path(p).parent.name for p in world.ingestor.written_since(now - 10)}
    assert names == {"run_0", "run_1"}
    world.close()


def test_a_scan_pauses_cycle_collection_and_gives_it_back_as_it_found_it(tmp_path: Path) -> None:
    """A backfill's burst of short-lived objects is not traversed again and again
    (monitor.heap); afterwards the collector is as it was, paused or not."""
    import gc

    world, f = studio_world(tmp_path)
    f.write_bytes(record(1) + record(2))
    seen: list[bool] = []
    world.ingestor.on_progress = lambda _progress: seen.append(gc.isenabled())
    assert gc.isenabled()
    world.scan()
    assert seen and not any(seen)
    assert gc.isenabled()
    gc.disable()
    try:
        world.scan()
        assert not gc.isenabled()
    finally:
        gc.enable()
    assert world.input_tokens() == [1, 2]
    world.close()


def _worker_traits() -> tuple[bool, int]:
    import gc

    return gc.isenabled(), os.nice(0)


@pytest.mark.parametrize(
    ("total", "workers"),
    [(1, 2), (300_000, 2), (5 * 4 * 1024 * 1024, 2), (21 * 4 * 1024 * 1024 + 7, 3), (10**9, 2)],
)
def test_a_stage_is_cut_into_jobs_every_worker_gets_a_share_of(total: int, workers: int) -> None:
    """Today's few files go to both workers, not one; a stage's last round keeps them all
    busy; no job is much over JOB_BYTES."""
    from monitor.parallel import JOB_BYTES, job_bytes

    size = job_bytes(total, workers)
    jobs = -(-total // size)
    assert 1 <= size <= JOB_BYTES
    assert jobs % workers == 0 or total < workers
    assert jobs <= max(workers, -(-total // JOB_BYTES) + workers)


@pytest.mark.e2e
def test_parsing_workers_run_without_cycle_collection_and_yield_to_the_storing_process() -> None:
    from monitor.parallel import WORKER_NICENESS, Pool

    pool = Pool({}, UTC_ZONE, ["studio-tokens"])
    try:
        answers = [pool.executor.submit(_worker_traits).result() for _ in range(pool.workers)]
    finally:
        pool.close()
    niceness = min(os.nice(0) + WORKER_NICENESS, 19)
    assert answers == [(False, niceness)] * pool.workers


def test_the_listing_says_when_it_has_found_many_files_once_before_it_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A first backfill starts its workers while the tree is still being listed (the
    other core is idle then): `_found_files` calls back once, at MANY_FILES."""
    from monitor import ingest

    monkeypatch.setattr(ingest, "MANY_FILES", 3)
    for i in range(5):
        f = tmp_path / "output" / "tech" / f"run_{i}" / "tokens.jsonl"
        f.parent.mkdir(parents=True)
        f.write_bytes(record(i))
    world = World(tmp_path, [source("studio", "studio-tokens", tmp_path / "**/run_*/tokens.jsonl")])
    src = world.ingestor.sources["studio"]
    walked: list[str] = []

    class CountedGlob:
        def walk(self) -> Iterator[str]:
            for path in Glob(str(tmp_path / "**/run_*/tokens.jsonl")).walk():
                walked.append(path)
                yield path

    monkeypatch.setattr(src, "globs", [CountedGlob()])
    called_after: list[int] = []
    found = ingest._found_files(src, lambda: called_after.append(len(walked)))
    assert called_after == [3] and len(found) == len(walked) == 5
    world.close()


def test_a_first_backfill_of_many_files_starts_its_workers_while_the_tree_is_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Once the listing has found MANY_FILES, the pool is made and warmed (a thread waits
    for its fork server): the rest is listed meanwhile, and every file is then parsed by
    that pool's workers, today's too."""
    from monitor import ingest, parallel

    monkeypatch.setattr(ingest, "MANY_FILES", 3)
    executor = _InlineExecutor(1000)
    _inline_pool(monkeypatch, executor)
    world = _old_runs(tmp_path, 6)
    today = tmp_path / "output" / "tech" / "run_0" / "tokens.jsonl"
    os.utime(today)  # written now: the first stage's
    walked: list[str] = []
    real_walk = Glob.walk

    def counted_walk(self: Glob, stats: Any = None) -> Iterator[str]:
        for path in real_walk(self, stats):
            walked.append(path)
            yield path

    monkeypatch.setattr(Glob, "walk", counted_walk)
    warmed: list[int] = []
    real_warm = parallel.Pool.warm

    def warm(self: parallel.Pool) -> None:
        warmed.append(len(walked))
        real_warm(self)

    monkeypatch.setattr(parallel.Pool, "warm", warm)
    world.ingestor.scan(parallel=True)
    assert warmed == [3]
    # Today's file in a job of its own, the five older ones in jobs of two: all six.
    assert len(walked) == 6 and executor.submitted == 1 + 3
    assert world.input_tokens() == list(range(6))
    world.close()
