"""The ledger on a real SQLite file: exactly-once commits, larger copies, rollups."""

from __future__ import annotations

import sqlite3
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.alerts import AlertStore
from monitor.events import UsageEvent
from monitor.ledger import SCHEMA_VERSION, BadRecord, Batch, Ledger, LedgerError
from monitor.ledger import schema as ledger_schema
from monitor.ledger.connection import PAGE_BYTES
from monitor.tail import Cursor

BERLIN = ZoneInfo("Europe/Berlin")


def ev(
    key: str,
    out: int = 10,
    *,
    ts: datetime | None = None,
    cost: str | None = "0.01",
    model: str = "gpt-4o",
    source: str = "s",
    tags: dict[str, str] | None = None,
) -> UsageEvent:
    return UsageEvent(
        key=key,
        ts=ts or datetime(2026, 11, 20, 12, tzinfo=UTC),
        source=source,
        provider="openai",
        model=model,
        input_tokens=100,
        output_tokens=out,
        cost=Decimal(cost) if cost is not None else None,
        cost_basis="priced" if cost is not None else "unpriced",
        priced_cost=Decimal(cost) if cost is not None else None,
        tags={"run": "r1"} if tags is None else tags,
    )


def open_ledger(tmp_path: Path, tz_name: str = "Europe/Berlin") -> Ledger:
    return Ledger(tmp_path / "ledger.sqlite3", ZoneInfo(tz_name), tz_name)


def daily(ledger: Ledger) -> list[tuple[object, ...]]:
    return ledger.db.execute(
        "SELECT day, model, events, calls, output_tokens, cost_nano, unpriced_calls FROM daily "
        "ORDER BY day, model"
    ).fetchall()


def tag_rollup(ledger: Ledger) -> list[tuple[object, ...]]:
    """Rows of `daily_tags` that hold events (a superseded copy may leave a zero row)."""
    return ledger.db.execute(
        "SELECT tag, value, day, model, events, calls, output_tokens, cost_nano, unpriced_calls "
        "FROM daily_tags WHERE events != 0 ORDER BY tag, value, day, model"
    ).fetchall()


def test_same_key_twice_is_stored_once(tmp_path: Path) -> None:
    with open_ledger(tmp_path) as ledger:
        first = ledger.commit(Batch(events=[ev("k1")]))
        again = ledger.commit(Batch(events=[ev("k1")]))
        assert [a.event.key for a in first] == ["k1"]
        assert again == []
        assert ledger.db.execute("SELECT COUNT(*) FROM events").fetchone() == (1,)


def test_streamed_larger_copy_replaces_and_reports_previous(tmp_path: Path) -> None:
    with open_ledger(tmp_path) as ledger:
        ledger.commit(Batch(events=[ev("m", out=5, cost="0.005")]))
        applied = ledger.commit(Batch(events=[ev("m", out=50, cost="0.05"), ev("m", out=20)]))
        assert len(applied) == 1
        assert applied[0].event.output_tokens == 50
        assert applied[0].previous is not None and applied[0].previous.output_tokens == 5
        assert daily(ledger) == [("2026-11-20", "gpt-4o", 1, 1, 50, 50_000_000, 0)]


def test_smaller_copy_after_larger_changes_nothing(tmp_path: Path) -> None:
    with open_ledger(tmp_path) as ledger:
        ledger.commit(Batch(events=[ev("m", out=50)]))
        assert ledger.commit(Batch(events=[ev("m", out=5)])) == []
        row = ledger.db.execute("SELECT output_tokens FROM events").fetchone()
        assert row == (50,)


# Two keys of one CRC-32 (found by trying keys of this shape): the ledger finds keys by it.
SAME_HASH: tuple[str, str] = ("cc:msg_09685295:req_a", "cc:msg_12060020:req_a")


def test_keys_sharing_a_hash_are_two_events_each_replaced_only_by_its_own_copies(
    tmp_path: Path,
) -> None:
    from monitor.ledger.rows import key_hash

    a, b = SAME_HASH
    assert key_hash(a) == key_hash(b)
    with open_ledger(tmp_path) as ledger:  # opened empty: keys looked up among its own
        ledger.commit(Batch(events=[ev(a, out=10), ev(b, out=20)]))
        [applied] = ledger.commit(Batch(events=[ev(a, out=30)]))
        assert applied.previous is not None and applied.previous.output_tokens == 10
        assert ledger.commit(Batch(events=[ev(b, out=5)])) == []
    with open_ledger(tmp_path) as ledger:  # not empty: every key looked up
        assert ledger.commit(Batch(events=[ev(a, out=25), ev(b, out=15)])) == []
        [applied] = ledger.commit(Batch(events=[ev(b, out=40)]))
        assert applied.previous is not None and applied.previous.output_tokens == 20
        stored = {e.key: e.output_tokens for e in ledger.iter_events()}
        assert stored == {a: 30, b: 40}
        assert daily(ledger) == [("2026-11-20", "gpt-4o", 2, 2, 70, 20_000_000, 0)]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    commits=st.lists(
        st.tuples(
            st.lists(st.tuples(st.integers(0, 5), st.integers(0, 40)), max_size=6),
            st.booleans(),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_when_every_key_shares_one_hash_each_is_still_stored_once_at_its_largest(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, commits: list
) -> None:
    """The worst case for finding keys by hash: all collide. Copies of keys come in
    commits, the ledger is reopened between some (then every key is looked up): each key
    ends as one event with its largest copy, and the rollup sums what is stored."""
    from monitor.ledger import rows

    monkeypatch.setattr(rows, "key_hash", lambda key: 7)
    root = tmp_path_factory.mktemp("collide")
    largest: dict[str, int] = {}
    ledger = open_ledger(root)
    try:
        for copies, reopen in commits:
            if reopen:
                ledger.close()
                ledger = open_ledger(root)
            ledger.commit(Batch(events=[ev(f"k{k}", out=out) for k, out in copies]))
            for k, out in copies:
                largest[f"k{k}"] = max(out, largest.get(f"k{k}", -1))
        stored = [(e.key, e.output_tokens) for e in ledger.iter_events()]
        assert sorted(stored) == sorted(largest.items())
        assert {h for (h,) in ledger.db.execute("SELECT key_hash FROM events")} <= {7}
        sums = ledger.db.execute("SELECT COALESCE(SUM(output_tokens), 0) FROM daily")
        assert sums.fetchone()[0] == sum(largest.values())
    finally:
        ledger.close()


def test_events_stored_by_another_connection_end_the_empty_ledger_shortcut(
    tmp_path: Path,
) -> None:
    """A ledger opened empty looks up only the keys it stored itself — while other
    connections write anything but events (the daemon records alerts while its child
    backfills); once one stores events (a process that ignored the writer lock), every key,
    so a key that process stored is replaced by a larger copy, not stored twice."""
    from monitor.ledger import PreparedRows
    from monitor.ledger.rollups import Delta
    from monitor.ledger.rows import DayOf, event_row

    def backfilled(ledger: Ledger, e: UsageEvent) -> list[str]:
        """Commit `e` as a backfill does; the key lookups it made."""
        row = event_row(e, DayOf(BERLIN))
        delta = Delta()
        delta.add(row)
        statements: list[str] = []
        ledger.db.set_trace_callback(statements.append)
        ledger.commit(Batch(prepared=[PreparedRows([row], delta)]), want_applied=False)
        ledger.db.set_trace_callback(None)
        return [s for s in statements if "key_hash IN" in s]

    with open_ledger(tmp_path) as backfill, open_ledger(tmp_path) as other:
        assert backfilled(backfill, ev("mine", out=10)) == []
        other.set_meta("something", "else")
        assert backfilled(backfill, ev("more", out=10)) == []
        other.commit(Batch(events=[ev("theirs", out=10)]))
        assert len(backfilled(backfill, ev("theirs", out=30))) == 1
        stored = sorted((e.key, e.output_tokens) for e in backfill.iter_events())
        assert stored == [("mine", 10), ("more", 10), ("theirs", 30)]
        assert daily(backfill) == [("2026-11-20", "gpt-4o", 3, 3, 50, 30_000_000, 0)]


def test_a_v9_ledger_finds_its_keys_by_hash_after_the_upgrade_with_its_ids_and_totals(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from monitor.ledger.rows import key_hash
    from tests.factories import insert_as_before_v10

    keys = ["k1", *SAME_HASH, "cc:ü€"]
    monkeypatch.setattr(ledger_schema, "SCHEMA_VERSION", 9)
    with open_ledger(tmp_path) as v9:
        insert_as_before_v10(v9.db, [ev(k, out=10 + i) for i, k in enumerate(keys)], BERLIN)
        v9.db.execute("DELETE FROM events WHERE key = 'k1'")  # ids need not be 1..n
    monkeypatch.undo()
    with open_ledger(tmp_path) as upgraded:
        assert upgraded.schema_version() == SCHEMA_VERSION
        rows = upgraded.db.execute("SELECT id, key, key_hash FROM events ORDER BY id").fetchall()
        assert rows == [(i + 2, k, key_hash(k)) for i, k in enumerate(keys[1:])]
        indexes = upgraded.db.execute("PRAGMA index_list(events)").fetchall()
        assert sorted((name, unique) for _, name, unique, *_ in indexes) == [
            ("events_key", 0),
            ("events_ts", 0),
        ]
        applied = upgraded.commit(Batch(events=[ev(SAME_HASH[1], out=50), ev(keys[3], out=2)]))
        assert [(a.event.key, a.previous and a.previous.output_tokens) for a in applied] == [
            (SAME_HASH[1], 12)
        ]
        stored = {e.key: e.output_tokens for e in upgraded.iter_events()}
        assert stored == {SAME_HASH[0]: 11, SAME_HASH[1]: 50, keys[3]: 13}


def test_unpriced_calls_are_counted_not_zero_dollars(tmp_path: Path) -> None:
    with open_ledger(tmp_path) as ledger:
        ledger.commit(Batch(events=[ev("a", cost=None, model="mystery"), ev("b")]))
        assert ledger.unpriced() == [("openai", "mystery", 1)]
        rows = daily(ledger)
        assert ("2026-11-20", "mystery", 1, 1, 10, 0, 1) in rows
        stored = ledger.db.execute("SELECT cost_nano FROM events WHERE key='a'").fetchone()
        assert stored == (None,)


def test_local_day_follows_the_ledger_time_zone(tmp_path: Path) -> None:
    late = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)  # 00:30 on the 21st in Berlin
    with open_ledger(tmp_path) as ledger:
        ledger.commit(Batch(events=[ev("late", ts=late)]))
        assert daily(ledger)[0][0] == "2026-11-21"
    with open_ledger(tmp_path, "UTC") as ledger:  # zone changed: days re-derived
        assert daily(ledger)[0][0] == "2026-11-20"
        assert ledger.db.execute("SELECT day FROM events").fetchone() == ("2026-11-20",)


def test_events_and_cursor_commit_together_or_not_at_all(tmp_path: Path) -> None:
    cur = Cursor(
        "s",
        "/x.log",
        1,
        2,
        3,
        "abc",
        "1:2:abc:0",
        offset=42,
        size=43,
        mtime_ns=4,
        state={"model": "gpt-5"},
    )
    with open_ledger(tmp_path) as ledger:
        bad = ev("k")
        bad.tags = {"x": object()}  # type: ignore[dict-item]  # not JSON: the commit fails
        with pytest.raises(TypeError):
            ledger.commit(Batch(events=[ev("ok"), bad], cursors={(cur.source, cur.path): cur}))
        assert ledger.db.execute("SELECT COUNT(*) FROM events").fetchone() == (0,)
        assert ledger.cursors() == []
        ledger.commit(Batch(events=[ev("ok")], cursors={(cur.source, cur.path): cur}))
        assert ledger.cursors() == [cur]


def test_bad_records_are_counted_per_source(tmp_path: Path) -> None:
    with open_ledger(tmp_path) as ledger:
        ledger.commit(Batch(errors=[BadRecord("s", "/f", 10, "not JSON")] * 3))
        ledger.commit(Batch(events=[ev("a")]))
        stats = ledger.source_stats()["s"]
        assert stats["errors"] == 3 and stats["events"] == 1
        newest = "SELECT offset FROM parse_errors ORDER BY id DESC LIMIT 1"
        assert ledger.db.execute(newest).fetchone() == (10,)


def test_readonly_open_of_missing_or_newer_ledger_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(LedgerError):
        Ledger(tmp_path / "nope.sqlite3", UTC, "UTC", readonly=True)
    path = tmp_path / "ledger.sqlite3"
    with open_ledger(tmp_path):
        pass
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value=? WHERE key='schema'", (str(SCHEMA_VERSION + 1),))
    db.commit()
    db.close()
    with pytest.raises(LedgerError, match="newer"):
        Ledger(path, UTC, "UTC", readonly=True)
    with pytest.raises(LedgerError, match="newer"):
        Ledger(path, UTC, "UTC")


def test_rewrite_costs_keeps_rollup_in_step(tmp_path: Path) -> None:
    with open_ledger(tmp_path) as ledger:
        ledger.commit(Batch(events=[ev("a", cost=None)]))
        old = next(ledger.iter_events())
        new = old.replace(cost=Decimal("0.25"), cost_basis="priced", priced_cost=Decimal("0.25"))
        assert ledger.rewrite_costs([(old, new)]) == 1
        assert daily(ledger) == [("2026-11-20", "gpt-4o", 1, 1, 10, 250_000_000, 0)]
        assert next(ledger.iter_events()).cost == Decimal("0.25")


def test_tag_rollup_sums_each_tag_value_per_day_and_model(tmp_path: Path) -> None:
    late = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)  # the 21st in Berlin
    with open_ledger(tmp_path) as ledger:
        ledger.commit(
            Batch(
                events=[
                    ev("a", tags={"run": "r1", "step": "1"}),
                    ev("b", out=20, cost=None, tags={"run": "r1", "step": "2"}),
                    ev("c", ts=late, model="o3", tags={"run": "r1"}),
                    ev("d", tags={}),
                ]
            )
        )
        assert tag_rollup(ledger) == [
            ("run", "r1", "2026-11-20", "gpt-4o", 2, 2, 30, 10_000_000, 1),
            ("run", "r1", "2026-11-21", "o3", 1, 1, 10, 10_000_000, 0),
            ("step", "1", "2026-11-20", "gpt-4o", 1, 1, 10, 10_000_000, 0),
            ("step", "2", "2026-11-20", "gpt-4o", 1, 1, 20, 0, 1),
        ]


def test_tag_values_needing_json_escapes_roll_up_as_written(tmp_path: Path) -> None:
    odd = {"client": "café", "quote": 'a","b', "path": "C:\\runs", "sep": 'x":"y'}
    with open_ledger(tmp_path) as ledger:
        ledger.commit(Batch(events=[ev("a", tags=odd)]))
        assert {(t, v) for t, v, *_ in tag_rollup(ledger)} == set(odd.items())


def test_larger_copy_with_other_tags_moves_its_tag_rollup(tmp_path: Path) -> None:
    with open_ledger(tmp_path) as ledger:
        ledger.commit(Batch(events=[ev("m", out=5, cost="0.005", tags={"run": "r1"})]))
        ledger.commit(Batch(events=[ev("m", out=50, cost="0.05", tags={"run": "r2", "x": "y"})]))
        assert tag_rollup(ledger) == [
            ("run", "r2", "2026-11-20", "gpt-4o", 1, 1, 50, 50_000_000, 0),
            ("x", "y", "2026-11-20", "gpt-4o", 1, 1, 50, 50_000_000, 0),
        ]


def test_rewrite_costs_keeps_tag_rollup_in_step(tmp_path: Path) -> None:
    with open_ledger(tmp_path) as ledger:
        ledger.commit(Batch(events=[ev("a", cost=None)]))
        old = next(ledger.iter_events())
        new = old.replace(cost=Decimal("0.25"), cost_basis="priced", priced_cost=Decimal("0.25"))
        ledger.rewrite_costs([(old, new)])
        assert tag_rollup(ledger) == [
            ("run", "r1", "2026-11-20", "gpt-4o", 1, 1, 10, 250_000_000, 0)
        ]


def test_time_zone_change_rebuilds_tag_rollup(tmp_path: Path) -> None:
    late = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)
    with open_ledger(tmp_path) as ledger:
        ledger.commit(Batch(events=[ev("late", ts=late), ev("noon")]))
        assert [r[2] for r in tag_rollup(ledger)] == ["2026-11-20", "2026-11-21"]
    with open_ledger(tmp_path, "UTC") as ledger:
        assert tag_rollup(ledger) == [
            ("run", "r1", "2026-11-20", "gpt-4o", 2, 2, 20, 20_000_000, 0)
        ]


def test_v2_ledger_upgrade_fills_tag_rollup_from_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ledger_schema, "SCHEMA_VERSION", 2)
    with open_ledger(tmp_path) as v2:  # schema 2, made by the migrations as that version did
        assert v2.schema_version() == 2
        v2.db.executemany(
            "INSERT INTO events (key, ts, day, source, provider, model, output_tokens, "
            "cost_nano, cost_basis, tags) VALUES (?, 0, ?, 's', 'openai', 'gpt-4o', ?, ?, ?, ?)",
            [
                ("a", "2026-11-20", 10, 1000, "priced", '{"run":"r1","step":"1"}'),
                ("b", "2026-11-20", 20, None, "unpriced", '{"run":"r1"}'),
                ("c", "2026-11-21", 30, 3000, "priced", '{"run":"r\\"2"}'),
                ("d", "2026-11-21", 40, 4000, "priced", "{}"),
            ],
        )
    monkeypatch.undo()
    with open_ledger(tmp_path) as upgraded:
        assert upgraded.schema_version() == SCHEMA_VERSION
        assert tag_rollup(upgraded) == [
            ("run", 'r"2', "2026-11-21", "gpt-4o", 1, 1, 30, 3000, 0),
            ("run", "r1", "2026-11-20", "gpt-4o", 2, 2, 30, 1000, 1),
            ("step", "1", "2026-11-20", "gpt-4o", 1, 1, 10, 1000, 0),
        ]


def test_v3_ledger_upgrade_keeps_pending_alerts_owed_to_every_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ledger_schema, "SCHEMA_VERSION", 3)
    with open_ledger(tmp_path) as v3:
        assert v3.schema_version() == 3
        v3.db.executemany(
            "INSERT INTO alerts (kind, rule, period, threshold, created, severity, title, body, "
            "delivered, attempts) VALUES ('budget', 'monthly', '2026-11', ?, 0, 'warning', "
            "'t', 'b', ?, ?)",
            [("0.5", 1, 1), ("0.8", 0, 3)],
        )
    monkeypatch.undo()
    with open_ledger(tmp_path) as v4:
        assert v4.schema_version() == SCHEMA_VERSION >= 4
        store = AlertStore(v4.db)
        [pending] = store.pending()
        assert (pending.threshold, pending.attempts, pending.sent_to) == ("0.8", 3, frozenset())
        assert v4.db.execute("SELECT sent_to FROM alerts").fetchall() == [("",), ("",)]


def test_a_cursor_dropped_after_it_was_recorded_is_not_written_back(tmp_path: Path) -> None:
    cur = Cursor("s", "/app.log", 1, 2, 3, "abc", "1:2:abc:0", offset=42, size=42, mtime_ns=1)
    moved = Cursor("s", "/app.log.1", 1, 2, 3, "abc", "1:2:abc:0", offset=50, size=50, mtime_ns=2)
    with open_ledger(tmp_path) as ledger:
        batch = Batch()
        batch.put_cursor(cur)
        batch.drop_cursor("s", "/app.log")
        batch.put_cursor(moved)
        ledger.commit(batch)
        assert ledger.cursors() == [moved]


def test_limit_snapshots_commit_with_the_batch_once_and_the_latest_is_the_window(
    tmp_path: Path,
) -> None:
    from datetime import UTC, datetime, timedelta

    from monitor.ledger import Batch
    from monitor.ledger.limits import latest
    from monitor.limits import LimitSnapshot

    seen = datetime(2026, 11, 22, 20, tzinfo=UTC)
    resets = seen + timedelta(hours=3)
    first = LimitSnapshot("codex", 300, 40.0, resets, seen, "plus")
    later = LimitSnapshot("codex", 300, 55.0, resets, seen + timedelta(minutes=9), "plus")
    week = LimitSnapshot("codex", 10080, 3.0, seen + timedelta(days=4), seen, "plus")
    with Ledger(tmp_path / "l.sqlite3", ZoneInfo("UTC"), "UTC") as ledger:
        ledger.commit(Batch(limits=[first, week]))
        ledger.commit(Batch(limits=[first, later]))  # a re-read line adds nothing twice
        stored = ledger.db.execute("SELECT COUNT(*) FROM limits").fetchone()[0]
        assert stored == 3
        assert latest(ledger.db) == [later, week]


def test_rollups_kept_by_commits_equal_a_rebuild_from_the_events(tmp_path: Path) -> None:
    from monitor.ledger.rollups import rebuild

    late = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)
    with open_ledger(tmp_path) as ledger:
        ledger.commit(Batch(events=[ev("a", out=5, cost=None), ev("b", tags={"x": "y"})]))
        ledger.commit(Batch(events=[ev("a", out=50, tags={"run": "r2"}), ev("c", ts=late)]))
        old = next(e for e in ledger.iter_events() if e.key == "c")
        ledger.rewrite_costs([(old, old.replace(cost=None, cost_basis="unpriced"))])
        kept = daily(ledger), tag_rollup(ledger)
        rebuild(ledger.db)
        assert (daily(ledger), tag_rollup(ledger)) == kept


def test_tag_values_roll_up_by_commit_as_a_rebuild_reads_them(tmp_path: Path) -> None:
    """The commit splits tags in Python, the rebuild with SQLite's `json_each`: escapes and
    non-ASCII text land in the same rows either way."""
    from monitor.ledger.rollups import rebuild

    odd = {"s": "é ☃", "q": 'a"\\b', "nl": "x\ny", "empty": ""}
    with open_ledger(tmp_path) as ledger:
        ledger.commit(Batch(events=[ev("a", tags=odd), ev("b", tags={"s": "é ☃"})]))
        kept = tag_rollup(ledger)
        rebuild(ledger.db)
        assert tag_rollup(ledger) == kept
    assert {(t, v) for t, v, *_ in kept} == set(odd.items())


def test_groups_sharing_a_tag_add_up_in_one_tag_row(tmp_path: Path) -> None:
    with open_ledger(tmp_path) as ledger:
        ledger.commit(
            Batch(
                events=[
                    ev("a", tags={"project": "/p", "session": "s1"}),
                    ev("b", out=20, tags={"project": "/p", "session": "s2"}),
                ]
            )
        )
        assert [r for r in tag_rollup(ledger) if r[0] == "project"] == [
            ("project", "/p", "2026-11-20", "gpt-4o", 2, 2, 30, 20_000_000, 0)
        ]


@pytest.mark.parametrize("folded", [True, False], ids=["folded", "unfolded"])
def test_prepared_rows_and_their_counted_delta_leave_the_rollups_a_rebuild_would_make(
    tmp_path: Path, folded: bool
) -> None:
    """Rows that arrive summed (a worker's `PreparedRows`) and lose to a larger copy — in
    the same block, in another block, among the batch's events or already stored — are
    taken back out of the delta: the rollups end as a rebuild from the events, whether
    the worker folded its delta into rollup rows (as `parallel.parse_files` does) or not."""
    from monitor.ledger import PreparedRows
    from monitor.ledger.rollups import Delta, rebuild
    from monitor.ledger.rows import DayOf, event_row

    day_of = DayOf(BERLIN)

    def block(*events: UsageEvent) -> PreparedRows:
        """Rows as a parsing worker prepares them: each added to the block's delta."""
        made = [event_row(e, day_of) for e in events]
        delta = Delta()
        for row in made:
            delta.add(row)
        if folded:
            delta.fold()
        return PreparedRows(made, delta)

    with open_ledger(tmp_path) as ledger:
        ledger.commit(Batch(events=[ev("stored", out=40), ev("grows", out=5)]))
        ledger.commit(
            Batch(
                events=[ev("a", out=30), ev("b", out=1)],
                prepared=[
                    block(ev("a", out=20), ev("b", out=9), ev("c", out=3), ev("c", out=7)),
                    block(ev("c", out=5), ev("stored", out=10), ev("grows", out=50, cost=None)),
                    block(ev("d", out=2, tags={"x": "y"}), ev("d", out=2, tags={"x": "z"})),
                    block(ev("e", out=4, tags={"x": "y", "run": "r1"}), ev("f", out=6)),
                    block(ev("e", out=8, tags={"x": "w", "run": "r1"})),
                ],
            )
        )
        stored = {e.key: e.output_tokens for e in ledger.iter_events()}
        assert stored == {
            "stored": 40, "grows": 50, "a": 30, "b": 9, "c": 7, "d": 2, "e": 8, "f": 6
        }  # fmt: skip
        kept = daily(ledger), tag_rollup(ledger)
        rebuild(ledger.db)
        assert (daily(ledger), tag_rollup(ledger)) == kept
        assert [(r[0], r[1]) for r in tag_rollup(ledger) if r[0] == "x"] == [("x", "w"), ("x", "y")]


def test_a_ledger_migrated_by_another_process_meanwhile_is_not_migrated_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The daemon and its backfill child open a new ledger together: the one that gets the
    write lock second finds it laid out already (it read "empty" before waiting)."""
    open_ledger(tmp_path).close()  # the other process, done first
    real = ledger_schema.schema_version
    stale = [0]  # what this process read before it waited for the lock

    def version(db: sqlite3.Connection) -> int:
        return stale.pop() if stale else real(db)

    monkeypatch.setattr(ledger_schema, "schema_version", version)
    db = sqlite3.connect(tmp_path / "ledger.sqlite3", isolation_level=None)
    ledger_schema.migrate(db, tmp_path / "ledger.sqlite3")
    assert real(db) == SCHEMA_VERSION
    db.close()


def test_opening_a_ledger_another_process_is_migrating_waits_for_it_past_the_busy_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The daemon and its backfill child open an old ledger together: the second waits for
    the first's migration (a large ledger's takes longer than a write may otherwise wait)
    instead of failing "database is locked"."""
    import threading

    from monitor.ledger import connection

    monkeypatch.setattr(ledger_schema, "SCHEMA_VERSION", 9)
    open_ledger(tmp_path).close()
    monkeypatch.undo()
    monkeypatch.setattr(connection, "BUSY_TIMEOUT_MS", 100)
    monkeypatch.setattr(ledger_schema, "BUSY_TIMEOUT_MS", 100)
    migrating = sqlite3.connect(
        tmp_path / "ledger.sqlite3", isolation_level=None, check_same_thread=False
    )
    migrating.execute("BEGIN IMMEDIATE")  # the other process, migrating for 0.6 s
    threading.Timer(0.6, lambda: migrating.execute("COMMIT")).start()
    started = time.monotonic()
    with open_ledger(tmp_path) as ledger:
        assert time.monotonic() - started >= 0.5
        assert ledger.schema_version() == SCHEMA_VERSION
        assert ledger.db.execute("PRAGMA busy_timeout").fetchone()[0] == 100
    migrating.close()


def test_the_estimated_windows_part_hour_reads_a_range_of_the_time_index(tmp_path: Path) -> None:
    """`status` sums the calls of the hour its eight days begin in (the whole hours after
    it are rows of the `hourly` rollup): that hour's rows, found by the time index, not
    every event."""
    from monitor.ledger import reads

    with open_ledger(tmp_path) as ledger:
        ledger.commit(Batch(events=[ev("a"), ev("b", ts=datetime(2026, 11, 20, 13, tzinfo=UTC))]))
        statements: list[str] = []
        ledger.db.set_trace_callback(statements.append)
        since = datetime(2026, 11, 19, 0, 30, tzinfo=UTC)
        spans = reads.block_spans_since(ledger.db, since, ["s"])
        ledger.db.set_trace_callback(None)
        assert [calls for _, _, calls, *_ in spans["s"]] == [1, 1]
        [sql] = [s for s in statements if "GROUP BY" in s]
        plan = " ".join(row[-1] for row in ledger.db.execute(f"EXPLAIN QUERY PLAN {sql}"))
    assert "SEARCH events USING INDEX events_ts (ts>? AND ts<?)" in plan, plan


def test_a_backfills_commits_fit_cache_and_checkpoints_to_the_ledger_and_shrinking_undoes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A backfill's commits grow the cache to a quarter of the ledger (from a floor, to a
    cap) and checkpoint the WAL as seldom as the cache is large; a live commit leaves both;
    after the backfill they shrink back."""
    from monitor.ledger import store

    monkeypatch.setattr(store, "_BULK_ROWS", 50)
    floor, cap = 128, 256  # KiB: an empty ledger's quarter is ~120 (16 KiB pages)
    monkeypatch.setattr(store, "_CACHE_MIN_KIB", floor)
    monkeypatch.setattr(store, "_CACHE_MAX_KIB", cap)
    monkeypatch.setattr(store, "CHECKPOINT_BYTES", 4 * PAGE_BYTES)

    def cache(ledger: Ledger) -> int:
        return int(-ledger.db.execute("PRAGMA cache_size").fetchone()[0])

    def checkpoint(ledger: Ledger) -> int:
        return int(ledger.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0])

    def bytes_of(ledger: Ledger) -> int:
        pages = ledger.db.execute("PRAGMA page_count").fetchone()[0]
        return int(pages * ledger.db.execute("PRAGMA page_size").fetchone()[0])

    with open_ledger(tmp_path) as ledger:
        ledger.shrink_cache()  # 4 MiB: a live commit, however large, must not grow it
        ledger.commit(Batch(events=[ev(f"live{i}") for i in range(100)]))
        assert cache(ledger) == 4096
        ledger._cache_kib = floor
        ledger.db.execute(f"PRAGMA cache_size = -{floor}")
        grown = []
        for n in range(40):
            fitted = min(max(bytes_of(ledger) // 4 >> 10, floor), cap)  # before the commit
            rows = [ev(f"k{n}-{i}", tags={"i": str(i)}) for i in range(150)]
            ledger.commit(Batch(events=rows), want_applied=False)
            assert cache(ledger) == fitted
            grown.append(fitted)
        assert grown[0] == floor and floor < grown[len(grown) // 2] < cap and grown[-1] == cap
        assert checkpoint(ledger) == cap * 1024 // PAGE_BYTES  # pages: as many as the cache's
        ledger.shrink_cache()
        assert (cache(ledger), checkpoint(ledger)) == (4096, 4)


def test_a_new_ledger_has_large_pages_and_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    """New ledgers get PAGE_BYTES pages (fewer pages for a backfill's commits to write
    again); SQLite fixes a file's page size, so one made with 4 KiB pages keeps them. Either
    way the WAL is checkpointed every CHECKPOINT_BYTES, counted in that file's pages."""
    import sqlite3

    from monitor.ledger.connection import CHECKPOINT_BYTES

    def sizes(ledger: Ledger) -> tuple[int, int]:
        return (
            int(ledger.db.execute("PRAGMA page_size").fetchone()[0]),
            int(ledger.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0]),
        )

    with open_ledger(tmp_path / "new") as ledger:
        ledger.commit(Batch(events=[ev("k")]))
        assert sizes(ledger) == (PAGE_BYTES, CHECKPOINT_BYTES // PAGE_BYTES)
    (tmp_path / "old").mkdir()
    old = sqlite3.connect(tmp_path / "old" / "ledger.sqlite3")
    old.execute("PRAGMA page_size = 4096")
    old.execute("CREATE TABLE made_by_an_older_version (x)")
    old.close()
    with open_ledger(tmp_path / "old") as ledger:
        ledger.commit(Batch(events=[ev("k")]))
        assert sizes(ledger) == (4096, CHECKPOINT_BYTES // 4096)
        assert ledger.db.execute("SELECT COUNT(*) FROM events").fetchone() == (1,)


def test_the_wal_a_backfill_grew_is_cut_back_once_it_starts_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A backfill checkpoints seldom, so its WAL grows large; after it, the file is cut
    back to the kept size when the next commit starts the WAL over."""
    from monitor.ledger import connection

    monkeypatch.setattr(connection, "WAL_KEPT_BYTES", 64 << 10)
    wal = tmp_path / "ledger.sqlite3-wal"
    with open_ledger(tmp_path) as ledger:
        ledger.db.execute("PRAGMA wal_autocheckpoint = 100000")  # as a big backfill's
        for n in range(6):
            ledger.commit(Batch(events=[ev(f"k{n}-{i}") for i in range(300)]))
        grown = wal.stat().st_size
        ledger.shrink_cache()
        ledger.db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        ledger.commit(Batch(events=[ev("after")]))
        assert grown > 4 * (64 << 10) >= wal.stat().st_size
