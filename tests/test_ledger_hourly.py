"""What the ledger keeps in step for `status` so it reads the same at any size: the calls
per source and hour (`hourly`), the last two days' priced cost per minute (`minutely`) and
the files read per source (`source_files`)."""

from __future__ import annotations

import random
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor.blocks import blocks_of_rows, blocks_of_spans
from monitor.events import UsageEvent, ts_ms
from monitor.ledger import Batch, Ledger, PreparedRows, minutes, reads
from monitor.ledger import schema as ledger_schema
from monitor.ledger.hourly import HOUR_MS, SUMS, Hours
from monitor.ledger.minutes import KEEP_MS, Minutes
from monitor.ledger.rollups import Delta
from monitor.ledger.rows import DayOf, event_row
from monitor.tail import Cursor
from tests.factories import insert_as_before_v10

UTC_ZONE = ZoneInfo("UTC")
T0 = datetime(2026, 11, 20, 9, tzinfo=UTC)


def call(
    key: str, ts: datetime, out: int = 10, *, cost: str | None = "0.01", source: str = "cc"
) -> UsageEvent:
    return UsageEvent(
        key=key,
        ts=ts,
        source=source,
        provider="anthropic",
        model="claude",
        input_tokens=100,
        output_tokens=out,
        cost=None if cost is None else Decimal(cost),
        cost_basis="unpriced" if cost is None else "priced",
    )


def open_ledger(tmp_path: Path) -> Ledger:
    return Ledger(tmp_path / "ledger.sqlite3", UTC_ZONE, "UTC")


def kept(db: sqlite3.Connection) -> list[tuple[object, ...]]:
    return db.execute("SELECT * FROM hourly ORDER BY source, hour, edge").fetchall()


def summed_again(db: sqlite3.Connection) -> list[tuple[object, ...]]:
    return db.execute(f"SELECT {SUMS} FROM events GROUP BY 1, 2, 3 ORDER BY 1, 2, 3").fetchall()


def prepared(*events: UsageEvent) -> PreparedRows:
    """Rows as a parsing worker hands them over: checked, summed into their delta."""
    made = [event_row(e, DayOf(UTC_ZONE)) for e in events]
    delta, hours, recent = Delta(), Hours(), Minutes(time.time_ns() // 1_000_000 - KEEP_MS)
    for row in made:
        delta.add(row)
        hours.add(row)
        recent.add(row)
    return PreparedRows(made, delta, hours, recent)


def test_hours_kept_by_commits_equal_the_events_summed_again(tmp_path: Path) -> None:
    """New calls, copies in one batch, a larger copy written in another hour (its old hour
    loses its first call), on-the-hour calls, prepared rows and a repricing: each hour
    is what summing its events again gives."""
    on_hour = T0 + timedelta(hours=2)
    with open_ledger(tmp_path) as ledger:
        ledger.commit(
            Batch(
                events=[
                    call("a", T0 + timedelta(minutes=1), out=5),
                    call("b", T0 + timedelta(minutes=30)),
                    call("b", T0 + timedelta(minutes=31), out=20),
                    call("edge", on_hour, cost=None),
                ]
            )
        )
        assert kept(ledger.db) == summed_again(ledger.db)
        ledger.commit(
            Batch(
                events=[call("a", T0 + timedelta(hours=1, minutes=5), out=50)],
                prepared=[
                    prepared(call("c", on_hour), call("d", on_hour + timedelta(seconds=1))),
                    prepared(call("b", T0 + timedelta(minutes=40), out=1)),  # smaller: lost
                ],
            )
        )
        assert kept(ledger.db) == summed_again(ledger.db)
        first, last = ledger.db.execute(
            "SELECT first, last FROM hourly WHERE hour = ? AND edge = 0", (ts_ms(T0) // HOUR_MS,)
        ).fetchone()
        assert (first, last) == (ts_ms(T0 + timedelta(minutes=31)),) * 2
        old = next(e for e in ledger.iter_events() if e.key == "c")
        ledger.rewrite_costs([(old, old.replace(cost=None, cost_basis="unpriced"))])
        assert kept(ledger.db) == summed_again(ledger.db)


def test_a_backfill_adds_the_workers_hour_sums_unless_a_copy_lost(tmp_path: Path) -> None:
    """A first backfill's batches (prepared rows only) add the sums their workers made;
    a batch where a copy loses to a larger one sums what it stores by SQL instead. Both
    leave each hour what summing its events again gives."""
    edge = T0 + timedelta(hours=1)
    with open_ledger(tmp_path) as ledger:
        statements: list[str] = []
        ledger.db.set_trace_callback(statements.append)
        whole = Batch(
            prepared=[
                prepared(call("a", T0 + timedelta(minutes=5)), call("b", edge, cost=None)),
                prepared(call("c", T0 + timedelta(minutes=2)), call("d", edge)),
            ]
        )
        ledger.commit(whole, want_applied=False)
        assert not [s for s in statements if "WHERE id >" in s]
        lost = Batch(
            prepared=[
                prepared(call("e", T0 + timedelta(minutes=1)), call("f", edge, out=1)),
                prepared(call("f", edge + timedelta(minutes=50), out=90)),
            ]
        )
        ledger.commit(lost, want_applied=False)
        ledger.db.set_trace_callback(None)
        assert [s for s in statements if "WHERE id >" in s]
        assert kept(ledger.db) == summed_again(ledger.db)
        assert ledger.db.execute("SELECT COUNT(*) FROM events").fetchone() == (6,)


def test_the_hourly_spans_draw_the_blocks_the_calls_draw_one_by_one(tmp_path: Path) -> None:
    """Random calls (a tenth on an hour's first millisecond, some repeated as larger
    copies), read from a `since` inside an hour: the spans from the rollup and the part
    hour draw exactly the blocks of the calls taken one at a time."""
    rng = random.Random(8)
    times = [
        T0 + timedelta(hours=rng.randrange(0, 60))
        if rng.random() < 0.1
        else T0 + timedelta(milliseconds=rng.randrange(0, 60 * HOUR_MS))
        for _ in range(400)
    ]
    events = [
        call(f"k{i}", t, out=rng.randrange(1, 50), cost=None if i % 7 == 0 else "0.02")
        for i, t in enumerate(times)
    ]
    since = T0 + timedelta(hours=3, minutes=17)
    with open_ledger(tmp_path) as ledger:
        for i in range(0, len(events), 50):
            ledger.commit(Batch(events=events[i : i + 50]))
        bigger = [e.replace(output_tokens=e.output_tokens + 100) for e in events[::9]]
        ledger.commit(Batch(events=bigger))
        spans = reads.block_spans_since(ledger.db, since, ["cc"])["cc"]
        stored = sorted(
            (ts_ms(e.ts), e.input_tokens + e.output_tokens, None if e.cost is None else e.cost)
            for e in ledger.iter_events(since=since)
        )
    one_by_one = [(ts, tokens, None if c is None else int(c * 10**9)) for ts, tokens, c in stored]
    assert len(spans) < len(one_by_one)
    assert blocks_of_spans(spans) == blocks_of_rows(one_by_one)


def test_status_reads_the_estimated_window_from_the_hourly_rollup(tmp_path: Path) -> None:
    """Eight days of calls are read as hour rows: no statement sums the events, unless
    `since` falls inside an hour (that hour's part is summed from the events)."""
    with open_ledger(tmp_path) as ledger:
        ledger.commit(Batch(events=[call("a", T0), call("b", T0 + timedelta(hours=4))]))
        statements: list[str] = []
        ledger.db.set_trace_callback(statements.append)
        whole = reads.block_spans_since(ledger.db, T0 - timedelta(days=8), ["cc"])
        assert not [s for s in statements if "FROM events" in s]
        part = reads.block_spans_since(ledger.db, T0 + timedelta(minutes=1), ["cc"])
        ledger.db.set_trace_callback(None)
    assert [calls for _, _, calls, *_ in whole["cc"]] == [1, 1]
    assert [calls for _, _, calls, *_ in part["cc"]] == [1]
    assert len([s for s in statements if "FROM events" in s]) == 1


def cursor(path: str, offset: int = 10, source: str = "cc") -> Cursor:
    return Cursor(
        source, path, 1, 2, 3, "abc", f"1:2:{path}", offset=offset, size=offset, mtime_ns=1
    )


def test_files_per_source_follow_the_cursors_put_again_moved_and_dropped(tmp_path: Path) -> None:
    with open_ledger(tmp_path) as ledger:
        first = Batch()
        for i in range(5):
            first.put_cursor(cursor(f"/s/{i}.jsonl"))
        first.put_cursor(cursor("/other.log", source="app"))
        ledger.commit(first)
        again = Batch()
        again.put_cursor(cursor("/s/0.jsonl", offset=99))  # the same file, read further
        again.drop_cursor("cc", "/s/1.jsonl")
        again.put_cursor(cursor("/s/1.jsonl.1"))  # rotated: a new path for the same file
        again.drop_cursor("app", "/other.log")
        ledger.commit(again)
        counted = reads.files_per_source(ledger.db)
        assert counted == {"cc": 5}
        assert counted == dict(
            ledger.db.execute("SELECT source, COUNT(*) FROM cursors GROUP BY source")
        )
        assert ledger.source_stats()["cc"]["files"] == 5


def test_files_per_source_equal_the_cursors_over_random_batches(tmp_path: Path) -> None:
    """The commit counts files as it adds and drops cursors (no trigger): over random
    batches of reads, re-reads, rotations and drops, with and without the cursor each
    file was read from, the count is always the cursors'."""
    rng = random.Random(20261204)
    held: dict[tuple[str, str], Cursor] = {}
    paths = [(src, f"/{src}/{i}.log") for src in ("cc", "codex") for i in range(12)]
    with open_ledger(tmp_path) as ledger:
        for _ in range(60):
            batch = Batch()
            for key in rng.sample(paths, rng.randrange(1, 8)):
                src, path = key
                action = rng.random()
                if action < 0.2 and key in held:
                    if rng.random() < 0.5:
                        batch.expect(src, path, held[key])
                    batch.drop_cursor(src, path)
                    held.pop(key)
                    continue
                if rng.random() < 0.7:  # read from the cursor it had (the usual case)
                    batch.expect(src, path, held.get(key))
                cur = cursor(path, offset=rng.randrange(1, 1000), source=src)
                batch.put_cursor(cur)
                held[key] = cur
            ledger.commit(batch)
            counted = reads.files_per_source(ledger.db)
            assert counted == dict(
                ledger.db.execute("SELECT source, COUNT(*) FROM cursors GROUP BY source")
            )


def test_a_v8_ledger_keeps_its_file_counts_without_the_triggers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ledger_schema, "SCHEMA_VERSION", 8)
    with open_ledger(tmp_path) as v8:
        first = Batch()
        for i in range(3):
            first.put_cursor(cursor(f"/s/{i}.jsonl"))
        v8.commit(first)  # counted by v8's trigger (and by the commit: 6)
        v8.db.execute("UPDATE source_files SET files = 3")
    monkeypatch.undo()
    with open_ledger(tmp_path) as upgraded:
        triggers = upgraded.db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        assert triggers.fetchall() == []
        assert reads.files_per_source(upgraded.db) == {"cc": 3}
        again = Batch()
        again.put_cursor(cursor("/s/3.jsonl"))
        again.drop_cursor("cc", "/s/0.jsonl")
        again.put_cursor(cursor("/s/1.jsonl", offset=50))
        upgraded.commit(again)
        assert reads.files_per_source(upgraded.db) == {"cc": 3}


def test_a_v7_ledger_gets_its_hours_and_file_counts_and_is_read_without_them_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`status` beside an older daemon reads a v7 ledger as it is; the first writer that
    opens it migrates it, and what the new tables say equals what the old reads said."""
    monkeypatch.setattr(ledger_schema, "SCHEMA_VERSION", 7)
    events = [call(f"k{i}", T0 + timedelta(minutes=37 * i)) for i in range(20)]
    with open_ledger(tmp_path) as v7:  # written as v7 wrote: no hourly table to keep
        assert v7.schema_version() == 7
        recent = datetime.now(UTC) - timedelta(hours=2)
        stored = [*events, call("edge", T0 + timedelta(hours=5)), call("now", recent)]
        insert_as_before_v10(v7.db, stored)
        v7.db.executemany(
            "INSERT INTO cursors (source, path, dev, inode, fp_len, fp_hash, file_id, offset, "
            "size, mtime_ns) VALUES ('cc', ?, 1, 2, 3, 'abc', ?, 10, 10, 1)",
            [(f"/s/{i}.jsonl", f"id{i}") for i in range(3)],
        )
    monkeypatch.undo()
    path = tmp_path / "ledger.sqlite3"
    since = T0 + timedelta(minutes=50)
    day_ago = datetime.now(UTC) - timedelta(days=1)

    def read(db: sqlite3.Connection) -> tuple[object, ...]:
        spans = reads.block_spans_since(db, since, ["cc"])
        return spans, reads.files_per_source(db), minutes_read(db, day_ago)

    with Ledger(path, UTC_ZONE, "UTC", readonly=True) as old:
        before = read(old.db)
    with open_ledger(tmp_path) as upgraded:
        assert upgraded.schema_version() == ledger_schema.SCHEMA_VERSION
        assert kept(upgraded.db) == summed_again(upgraded.db)
        assert minutes.covers(upgraded.db, ts_ms(day_ago))
        after = read(upgraded.db)
    assert after == before
    assert before[1] == {"cc": 3}
    assert len(before[2]) == 1


# -- the last two days' priced cost per minute -------------------------------------------


def priced(
    model: str, key: str, ts: datetime, cost: str | None = "0.25", out: int = 10
) -> UsageEvent:
    return call(key, ts, out=out, cost=cost).replace(model=model)


def minutes_of_events(db: sqlite3.Connection, since: datetime) -> list[tuple[object, ...]]:
    """The events summed per whole minute from `since` on, as the rollup answers."""
    first = -(-ts_ms(since) // 60_000) * 60_000
    return sorted(
        db.execute(
            "SELECT ts / 60000, source, provider, model, operation, SUM(cost_nano) FROM events "
            "WHERE ts >= ? AND cost_nano IS NOT NULL GROUP BY 1, 2, 3, 4, 5",
            (first,),
        )
    )


def minutes_read(db: sqlite3.Connection, since: datetime) -> list[tuple[object, ...]]:
    return sorted(
        (m.minute, m.source, m.provider, m.model, m.operation or "", m.cost_nano)
        for m in reads.priced_minutes_since(db, since)
    )


def test_minutes_kept_by_commits_equal_the_events_summed_again(tmp_path: Path) -> None:
    """Calls of the last two days — several in a minute, two models, an unpriced one, a
    larger copy written a minute later, a repricing, a backfill's prepared rows with and
    without a lost copy — read from the rollup as summing the events again gives them;
    calls older than two days are not kept."""
    now = datetime.now(UTC).replace(second=30, microsecond=0)
    since = now - timedelta(hours=25)
    with open_ledger(tmp_path) as ledger:
        ledger.commit(
            Batch(
                events=[
                    priced("sonnet", "a", now - timedelta(hours=1)),
                    priced("sonnet", "b", now - timedelta(hours=1, seconds=-5)),
                    priced("opus", "c", now - timedelta(hours=1), cost="1.5"),
                    priced("opus", "free", now - timedelta(hours=2), cost=None),
                    priced("opus", "old", now - timedelta(hours=50)),
                ]
            )
        )
        assert minutes_read(ledger.db, since) == minutes_of_events(ledger.db, since) != []
        ledger.commit(Batch(events=[priced("sonnet", "a", now - timedelta(minutes=59), out=90)]))
        assert minutes_read(ledger.db, since) == minutes_of_events(ledger.db, since)
        old = next(e for e in ledger.iter_events() if e.key == "c")
        ledger.rewrite_costs([(old, old.replace(cost=Decimal("2.0")))])
        assert minutes_read(ledger.db, since) == minutes_of_events(ledger.db, since)
        ledger.commit(
            Batch(prepared=[prepared(priced("haiku", "p1", now - timedelta(hours=3)))]),
            want_applied=False,
        )
        lost = Batch(
            prepared=[
                prepared(priced("haiku", "p2", now - timedelta(hours=4), out=1)),
                prepared(priced("haiku", "p2", now - timedelta(hours=4, minutes=-2), out=50)),
            ]
        )
        ledger.commit(lost, want_applied=False)
        assert minutes_read(ledger.db, since) == minutes_of_events(ledger.db, since)
        kept = ledger.db.execute("SELECT MIN(minute) FROM minutely").fetchone()[0]
        assert kept * 60_000 > ts_ms(now - timedelta(hours=49))


def test_status_reads_the_minutes_from_the_rollup_and_earlier_ones_from_the_events(
    tmp_path: Path,
) -> None:
    now = datetime.now(UTC)
    with open_ledger(tmp_path) as ledger:
        ledger.commit(Batch(events=[priced("m", "a", now - timedelta(hours=3))]))
        statements: list[str] = []
        ledger.db.set_trace_callback(statements.append)
        recent = minutes_read(ledger.db, now - timedelta(hours=25))
        assert not [s for s in statements if "FROM events" in s]
        back = now - timedelta(hours=60)  # before the rollup starts: summed from the events
        assert minutes_read(ledger.db, back) == minutes_of_events(ledger.db, back) == recent
        ledger.db.set_trace_callback(None)
    assert [s for s in statements if "FROM events" in s]
