"""Sources kept in SQLite databases, end to end: real databases written as the tools write
them (WAL mode, a writer holding the database open, rows updated in place), read by
db_reader into a real ledger, exactly once whatever happens; and the watcher noticing
commits that only reach the `-wal`.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor import db_reader, parallel
from monitor.globs import Glob
from monitor.sources import get_format
from monitor.sources.sqlite_db import DatabaseFormat
from monitor.watch import Watcher
from monitor.watch_plan import stat_sig
from tests.test_ingest import World, source

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
OPENCODE = EXAMPLES / "opencode"
SESSION = "ses_52f1c0a3dffeYq8Lm2Nc4Vb7Xz"
WAIT = 5.0
NOW_MS = 1795363400000
"""A time after the example's last row (2026-11-22)."""


def build(sql: Path, db: Path) -> Path:
    """A database as its tool leaves it: the example's SQL run into `db`, then closed."""
    db.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(db)
    con.executescript(sql.read_text())
    con.close()
    return db


def rows_of(db: Path, fmt: Any) -> bytes:
    """The document db_reader hands an adapter for all of `db`."""
    chunk = db_reader.read_database_file("test", str(db), None, fmt, {})
    assert chunk is not None
    return chunk.data


def writer(db: Path) -> sqlite3.Connection:
    """The agent's connection: WAL mode and no automatic checkpoint, so its commits stay in
    the `-wal` (as they do between OpenCode's checkpoints) while it holds the database."""
    con = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    con.execute("PRAGMA journal_mode = WAL")
    con.execute("PRAGMA wal_autocheckpoint = 0")
    return con


def opencode_fmt() -> DatabaseFormat:
    fmt = get_format("opencode")
    assert isinstance(fmt, DatabaseFormat)
    return fmt


def new_message(con: sqlite3.Connection, msg_id: str, t: int, session: str = SESSION) -> None:
    """OpenCode starting an answer: the message row, tokens 0."""
    data = {
        "role": "assistant",
        "time": {"created": t},
        "modelID": "claude-sonnet-4-5",
        "providerID": "anthropic",
        "mode": "build",
        "agent": "build",
        "path": {"cwd": "/home/user/webapp", "root": "/home/user/webapp"},
        "cost": 0,
        "tokens": {"input": 0, "output": 0, "reasoning": 0, "cache": {"read": 0, "write": 0}},
    }
    con.execute(
        "INSERT INTO message VALUES (?, ?, ?, ?, ?)", (msg_id, session, t, t, json.dumps(data))
    )


def finish_step(
    con: sqlite3.Connection, msg_id: str, step: int, tokens: int, t: int, cost: float = 0.01
) -> None:
    """OpenCode at a step's end: a step-finish part, then the message updated in place
    (the step's tokens overwrite the message's, its cost adds up), each its own commit."""
    cache = {"read": 0, "write": 0}
    usage = {"input": tokens, "output": tokens // 10, "reasoning": 0, "cache": cache}
    part = {"reason": "stop", "type": "step-finish", "tokens": usage, "cost": cost}
    sess = con.execute("SELECT session_id FROM message WHERE id = ?", (msg_id,)).fetchone()[0]
    con.execute(
        "INSERT INTO part VALUES (?, ?, ?, ?, ?, ?)",
        (f"prt_{msg_id}_{step}", msg_id, sess, t, t, json.dumps(part)),
    )
    data = json.loads(con.execute("SELECT data FROM message WHERE id = ?", (msg_id,)).fetchone()[0])
    data["tokens"] = usage
    data["cost"] = data["cost"] + cost
    con.execute(
        "UPDATE message SET data = ?, time_updated = ? WHERE id = ?", (json.dumps(data), t, msg_id)
    )


def opencode_world(root: Path, data: Path) -> World:
    globs = (data / "opencode.db", data / "storage/message/*/*.json")
    return World(root, [source("opencode", "opencode", *globs)])


def stored(world: World) -> dict[str, tuple[int, int, int]]:
    """key → (input, output, calls) of every event in the ledger."""
    rows = world.ledger.db.execute("SELECT key, input_tokens, output_tokens, calls FROM events")
    return {key: (i, o, c) for key, i, o, c in rows}


@pytest.fixture
def example(tmp_path: Path) -> Iterator[tuple[World, Path]]:
    data = tmp_path / "opencode"
    db = build(OPENCODE / "opencode.sql", data / "opencode.db")
    world = opencode_world(tmp_path, data)
    yield world, db
    world.close()


EXAMPLE_EVENTS = {
    "opencode:msg_52f1c0a48001Ff5Gg6Hh7Ii8Jj": (28795, 395, 2),
    "opencode:msg_52f1c0b2c001Zz1Aa2Bb3Cc4Dd": (2140, 120, 1),
    "opencode:msg_52f1c1f0d001Pp3Qq4Rr5Ss6Tt": (8200, 752, 1),
}


# -- reading a database the tool holds open ------------------------------------------------


def test_wal_commits_not_checkpointed_are_read_while_the_writer_holds_the_database(
    example: tuple[World, Path],
) -> None:
    world, db = example
    con = writer(db)
    try:
        main = db.stat()
        new_message(con, "msg_new", NOW_MS)
        finish_step(con, "msg_new", 1, 5000, NOW_MS)
        assert (db.stat().st_size, db.stat().st_mtime_ns) == (main.st_size, main.st_mtime_ns)
        assert Path(f"{db}-wal").stat().st_size > 0  # the commits live in the WAL only

        report = world.ingestor.scan()

        assert report.counts("opencode").unreadable == 0
        assert stored(world) == {**EXAMPLE_EVENTS, "opencode:msg_new": (5000, 500, 1)}
        files = sorted(os.listdir(db.parent))
        assert files == ["opencode.db", "opencode.db-shm", "opencode.db-wal"]
    finally:
        con.close()


def test_message_updated_in_place_with_more_steps_replaces_its_smaller_copy(
    example: tuple[World, Path],
) -> None:
    world, db = example
    world.scan()
    con = writer(db)
    try:
        new_message(con, "msg_live", NOW_MS)
        assert world.ingestor.ingest_paths([str(db)]).events == 0  # streaming: nothing yet
        finish_step(con, "msg_live", 1, 1000, NOW_MS + 1000)
        assert world.ingestor.ingest_paths([str(db)]).events == 1
        finish_step(con, "msg_live", 2, 3000, NOW_MS + 2000)
        report = world.ingestor.ingest_paths([str(db)])
    finally:
        con.close()

    assert (report.events, report.counts("opencode").updated) == (0, 1)
    assert stored(world)["opencode:msg_live"] == (4000, 400, 2)
    assert len(stored(world)) == 4


def test_rows_written_while_scans_run_are_counted_exactly_once(tmp_path: Path) -> None:
    data = tmp_path / "opencode"
    db = build(OPENCODE / "opencode.sql", data / "opencode.db")
    world = opencode_world(tmp_path, data)
    con = writer(db)
    done = threading.Event()
    expected: dict[str, tuple[int, int, int]] = {}

    def agent() -> None:
        try:
            for n in range(40):
                msg = f"msg_t{n:03d}"
                t = NOW_MS + n * 1000
                new_message(con, msg, t)
                steps = 1 + n % 3
                for step in range(1, steps + 1):
                    finish_step(con, msg, step, 100 * step + n, t + step)
                tokens = [100 * step + n for step in range(1, steps + 1)]
                expected[f"opencode:{msg}"] = (sum(tokens), sum(t // 10 for t in tokens), steps)
        finally:
            done.set()

    thread = threading.Thread(target=agent)
    thread.start()
    try:
        while not done.is_set():
            report = world.ingestor.ingest_paths([str(db)])
            assert report.counts("opencode").unreadable == 0
            assert report.errors == 0
        thread.join()
        world.ingestor.ingest_paths([str(db)])
        world.restart()
        world.scan()
        assert stored(world) == {**EXAMPLE_EVENTS, **expected}
    finally:
        con.close()
        world.close()


def test_rescans_and_restarts_count_each_message_once(example: tuple[World, Path]) -> None:
    world, db = example
    assert world.ingestor.scan().events == 3
    assert world.ingestor.scan().events == 0
    world.restart()
    assert world.ingestor.scan().events == 0
    assert stored(world) == EXAMPLE_EVENTS
    (cursor,) = world.ledger.cursors()
    assert cursor.path == str(db) and cursor.offset == 1795363320000  # the watermark


def test_incremental_reads_take_recent_rows_and_a_full_read_heals_a_missed_one(
    example: tuple[World, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    world, db = example
    world.scan()
    watermark = 1795363320000
    con = writer(db)
    try:
        # Within the overlap before the watermark: read; long before it (a clock that
        # jumped back, rows imported with their old times): not read incrementally.
        for msg, t in (("msg_recent", watermark - 60_000), ("msg_back", watermark - 3_600_000)):
            new_message(con, msg, t)
            finish_step(con, msg, 1, 700, t)
        world.ingestor.ingest_paths([str(db)])
        assert "opencode:msg_recent" in stored(world)
        assert "opencode:msg_back" not in stored(world)
        # The next full read (one per FULL_READ_EVERY, and the first of every ingestor)
        # reads every row again: the missed one is counted, nothing twice.
        monkeypatch.setattr(db_reader, "FULL_READ_EVERY", 0.0)
        world.ingestor.ingest_paths([str(db)])
    finally:
        con.close()
    assert stored(world)["opencode:msg_back"] == (700, 70, 1)
    assert len(stored(world)) == 5


def test_checkpointed_database_is_read_without_creating_a_wal_or_shm(
    example: tuple[World, Path],
) -> None:
    world, db = example
    assert os.listdir(db.parent) == ["opencode.db"]
    world.scan()
    assert os.listdir(db.parent) == ["opencode.db"]
    assert stored(world) == EXAMPLE_EVENTS


def test_a_wal_without_shm_beside_a_database_we_cannot_write_is_refused_not_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "opencode"
    db = build(OPENCODE / "opencode.sql", tmp_path / "live" / "opencode.db")
    con = writer(db)
    new_message(con, "msg_new", NOW_MS)
    finish_step(con, "msg_new", 1, 5000, NOW_MS)
    data.mkdir()
    shutil.copy(db, data / "opencode.db")  # what an agent that crashed leaves: db + wal
    shutil.copy(f"{db}-wal", data / "opencode.db-wal")
    con.close()
    world = opencode_world(tmp_path, data)
    monkeypatch.setattr(db_reader, "_writable", lambda path: False)
    with caplog.at_level("WARNING"):
        report = world.ingestor.scan()
    assert report.counts("opencode").unreadable == 1
    assert any(str(data / "opencode.db") in r.getMessage() for r in caplog.records)
    assert sorted(os.listdir(data)) == ["opencode.db", "opencode.db-wal"]
    assert stored(world) == {}
    world.close()


DB_OPS = st.lists(
    st.sampled_from(["message", "step", "step", "step", "scan", "restart", "checkpoint", "reopen"]),
    min_size=1,
    max_size=30,
)


@settings(
    max_examples=int(os.environ.get("MODEL_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(program=DB_OPS)
def test_ledger_equals_the_steps_written_exactly_once(tmp_path_factory, program: list[str]) -> None:  # type: ignore[no-untyped-def]
    """The model test of a database: an agent writes answers step by step (each step a
    part, then the message updated in place) while scans, restarts, checkpoints and the
    agent closing its database (which deletes the `-wal`) come in any order."""
    root: Path = tmp_path_factory.mktemp("dbmodel")
    db = build(OPENCODE / "opencode.sql", root / "opencode" / "opencode.db")
    world = opencode_world(root, db.parent)
    con = writer(db)
    expected = dict(EXAMPLE_EVENTS)
    messages: list[str] = []
    steps: dict[str, int] = {}
    t = NOW_MS
    try:
        for op in program:
            t += 1000
            if op == "message":
                messages.append(f"msg_m{len(messages):02d}")
                new_message(con, messages[-1], t)
            elif op == "step" and messages:
                msg = messages[sum(steps.values()) % len(messages)]
                n = steps[msg] = steps.get(msg, 0) + 1
                finish_step(con, msg, n, 100 * n, t)
                total = 100 * n * (n + 1) // 2
                expected[f"opencode:{msg}"] = (total, total // 10, n)
            elif op == "scan":
                world.ingestor.ingest_paths([str(db)])
            elif op == "restart":
                world.restart()
            elif op == "checkpoint":
                con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            elif op == "reopen":
                con.close()  # the last connection checkpoints and deletes the -wal
                con = writer(db)
        world.scan()
        assert stored(world) == expected
    finally:
        con.close()
        world.close()


# -- failures: logged, nothing stored, nothing lost ----------------------------------------


def test_locked_database_is_logged_with_its_path_and_read_once_released(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    db = build(EXAMPLES / "hermes" / "state.sql", tmp_path / "hermes" / "state.db")
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("PRAGMA journal_mode = DELETE")  # Hermes's fallback where WAL cannot work
    world = World(tmp_path, [source("hermes", "hermes", db)])
    monkeypatch.setattr(db_reader, "BUSY_TIMEOUT", 0.05)
    con.execute("BEGIN EXCLUSIVE")
    con.execute(
        "UPDATE sessions SET output_tokens = output_tokens + 100"
        " WHERE id = '20261120_101500_4f7a2c'"
    )
    try:
        with caplog.at_level("WARNING"):
            report = world.ingestor.scan()
        assert report.counts("hermes").unreadable == 1
        assert report.retry == {str(db)}
        assert any(str(db) in r.getMessage() and "locked" in r.getMessage() for r in caplog.records)
        assert stored(world) == {} and world.ledger.cursors() == []
    finally:
        con.execute("COMMIT")
        con.close()
    # Retried with the next round even though nothing reports the database again.
    report = world.ingestor.ingest_paths([])
    assert report.events == 3 and report.retry == set()
    assert stored(world)["hermes:20261120_101500_4f7a2c"] == (46600, 1950, 9)
    world.close()


def test_garbage_database_is_logged_and_counted_once_it_is_a_database(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "hermes" / "state.db"
    db.parent.mkdir()
    db.write_bytes(os.urandom(8192))
    world = World(tmp_path, [source("hermes", "hermes", db)])
    with caplog.at_level("WARNING"):
        report = world.ingestor.scan()
    assert report.counts("hermes").unreadable == 1
    assert any(f"{db}: not a SQLite database" in r.getMessage() for r in caplog.records)
    db.unlink()
    build(EXAMPLES / "hermes" / "state.sql", db)
    assert world.ingestor.scan().events == 3
    world.close()


def test_corrupt_database_is_logged_and_nothing_of_it_is_stored(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = build(OPENCODE / "opencode.sql", tmp_path / "opencode" / "opencode.db")
    image = bytearray(db.read_bytes())
    image[4096:] = b"\xde\xad" * ((len(image) - 4096) // 2)  # every page but the first
    db.write_bytes(bytes(image))
    world = opencode_world(tmp_path, db.parent)
    with caplog.at_level("WARNING"):
        report = world.ingestor.scan()
    assert report.counts("opencode").unreadable == 1 and stored(world) == {}
    assert any(str(db) in r.getMessage() for r in caplog.records)
    assert world.ledger.cursors() == []
    world.close()


def test_database_being_created_and_one_without_the_tables_are_no_errors(
    tmp_path: Path,
) -> None:
    data = tmp_path / "opencode"
    data.mkdir()
    db = data / "opencode.db"
    db.write_bytes(b"")  # SQLite creates the file before it writes the header
    world = opencode_world(tmp_path, data)
    report = world.ingestor.scan()
    assert (report.counts("opencode").unreadable, report.errors) == (0, 0)
    assert world.ledger.cursors() == []
    db.unlink()
    sqlite3.connect(db).execute("CREATE TABLE project (id text)").connection.close()
    report = world.ingestor.scan()
    assert (report.counts("opencode").unreadable, report.errors) == (0, 0)
    assert [c.path for c in world.ledger.cursors()] == [str(db)]
    world.close()


# -- OpenCode's two stores ----------------------------------------------------------------


def test_opencode_files_and_database_count_each_message_once_in_either_order(
    tmp_path: Path,
) -> None:
    data = tmp_path / "opencode"
    shutil.copytree(OPENCODE / "storage", data / "storage")
    world = opencode_world(tmp_path, data)
    world.scan()
    migrated = "opencode:msg_52f1c0a48001Ff5Gg6Hh7Ii8Jj"
    old = "opencode:msg_51e0aa020001Old1Ab2Cd3Ef4G"
    assert stored(world) == {migrated: (14592, 310, 1), old: (11004, 512, 1)}
    # The upgrade moves the files into the database (and leaves them where they were).
    build(OPENCODE / "opencode.sql", data / "opencode.db")
    report = world.ingestor.scan()
    assert (report.events, report.counts("opencode").updated) == (2, 1)
    assert stored(world) == {**EXAMPLE_EVENTS, old: (11004, 512, 1)}
    world.restart()
    world.scan()
    assert stored(world) == {**EXAMPLE_EVENTS, old: (11004, 512, 1)}
    world.close()

    other = tmp_path / "second"
    (other / "opencode").mkdir(parents=True)
    build(OPENCODE / "opencode.sql", other / "opencode" / "opencode.db")
    world = opencode_world(other, other / "opencode")
    world.scan()
    shutil.copytree(OPENCODE / "storage", other / "opencode" / "storage")
    world.scan()  # the database's copy is the larger: the file's changes nothing
    assert stored(world) == {**EXAMPLE_EVENTS, old: (11004, 512, 1)}
    world.close()


def test_new_databases_read_by_parsing_workers_are_whole_documents(tmp_path: Path) -> None:
    db = build(OPENCODE / "opencode.sql", tmp_path / "opencode.db")
    (chunk,) = parallel._fresh_chunks("opencode", opencode_fmt(), str(db))
    assert chunk.data == rows_of(db, opencode_fmt())
    message = OPENCODE / f"storage/message/{SESSION}/msg_52f1c0a48001Ff5Gg6Hh7Ii8Jj.json"
    (chunk,) = parallel._fresh_chunks("opencode", opencode_fmt(), str(message))
    assert chunk.data == message.read_bytes()


def test_goose_session_growing_in_place_is_replaced_and_an_old_schema_reads(
    tmp_path: Path,
) -> None:
    db = build(EXAMPLES / "goose" / "sessions.sql", tmp_path / "goose" / "sessions.db")
    world = World(tmp_path, [source("goose", "goose", db)])
    world.scan()
    con = writer(db)
    try:
        con.execute(
            "UPDATE sessions SET accumulated_input_tokens = 60000,"
            " accumulated_output_tokens = 4000, accumulated_total_tokens = 64000,"
            " updated_at = datetime('now') WHERE id = '20261121_1'"
        )
        report = world.ingestor.ingest_paths([str(db)])
    finally:
        con.close()
    assert (report.events, report.counts("goose").updated) == (0, 1)
    assert stored(world)["goose:20261121_1@2026-11-21 09:14:03"] == (60000, 4000, 1)
    world.close()


# -- the watcher -------------------------------------------------------------------------


async def until_yielded(batches: list[set[str]], path: Path) -> None:
    async with asyncio.timeout(WAIT):
        while not any(str(path) in b for b in batches):
            await asyncio.sleep(0.02)


async def start(
    db: Path, batches: list[set[str]], **options: Any
) -> tuple[Watcher, asyncio.Task[None]]:
    watcher = Watcher([Glob(str(db))], **options)

    async def run() -> None:
        async for batch in watcher.changes():
            batches.append(batch)

    task = asyncio.create_task(run())
    async with asyncio.timeout(WAIT):
        await watcher.ready.wait()
    return watcher, task


async def stop(watcher: Watcher, task: asyncio.Task[None]) -> None:
    watcher.stop()
    async with asyncio.timeout(WAIT):
        await task


async def test_a_commit_that_only_reaches_the_wal_yields_the_database(tmp_path: Path) -> None:
    db = build(OPENCODE / "opencode.sql", tmp_path / "opencode" / "opencode.db")
    con = writer(db)
    batches: list[set[str]] = []
    watcher, task = await start(db, batches)
    try:
        new_message(con, "msg_new", NOW_MS)
        await until_yielded(batches, db)
        assert all(b <= {str(db)} for b in batches)  # the -wal and -shm never themselves
    finally:
        await stop(watcher, task)
        con.close()


async def test_the_sweep_sees_a_database_grow_in_its_wal(tmp_path: Path) -> None:
    db = build(OPENCODE / "opencode.sql", tmp_path / "opencode" / "opencode.db")
    con = writer(db)
    before = stat_sig(str(db))
    batches: list[set[str]] = []
    watcher, task = await start(db, batches, notify=False, sweep_interval=0.05)
    try:
        new_message(con, "msg_new", NOW_MS)
        after = stat_sig(str(db))
        assert before is not None and after is not None and after != before
        assert after.size == before.size and after.wal_size > 0
        await until_yielded(batches, db)
        assert watcher.stats.sweep_hits >= 1
    finally:
        await stop(watcher, task)
        con.close()
