"""Aggregates over a real ledger: groupings, filters, ranges, and rollup == events."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from monitor.events import UsageEvent
from monitor.ledger import Batch, Ledger
from monitor.ledger.query import (
    GROUPS,
    QueryResult,
    Totals,
    UnpricedModel,
    count_tag_values,
    query,
)
from monitor.ledger.selection import Selection, parse_bound, parse_selection, selection

BERLIN = ZoneInfo("Europe/Berlin")
ALL = Selection()


def ev(
    key: str,
    ts: datetime,
    *,
    source: str = "studio",
    provider: str = "openai",
    model: str = "gpt-4o",
    operation: str | None = None,
    inp: int = 0,
    out: int = 0,
    cache_read: int = 0,
    cache_write: int = 0,
    calls: int = 1,
    cost: str | None = None,
    **tags: str,
) -> UsageEvent:
    return UsageEvent(
        key=key,
        ts=ts,
        source=source,
        provider=provider,
        model=model,
        operation=operation,
        input_tokens=inp,
        output_tokens=out,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        calls=calls,
        cost=None if cost is None else Decimal(cost),
        cost_basis="unpriced" if cost is None else "priced",
        tags=tags,
    )


def utc(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# Berlin left summer time on 2026-10-25 at 03:00 (01:00 UTC): UTC+2 before, UTC+1 after.
EVENTS = [
    # 23:30 CEST on the 24th
    ev(
        "k1",
        utc(2026, 10, 24, 21, 30),
        operation="advocate",
        inp=2500,
        out=1200,
        cost="0.15",
        run="run_a",
        iteration="1",
    ),
    # 00:30 CEST on the 25th
    ev(
        "k2",
        utc(2026, 10, 24, 22, 30),
        operation="contrarian",
        inp=3000,
        out=800,
        cost="0.138",
        run="run_a",
        iteration="1",
    ),
    # 23:30 CET on the 25th
    ev(
        "k3",
        utc(2026, 10, 25, 22, 30),
        operation="advocate",
        inp=2000,
        out=1000,
        cost="0.12",
        run="run_a",
        iteration="2",
    ),
    # 00:30 CET on the 26th
    ev(
        "k4",
        utc(2026, 10, 25, 23, 30),
        source="claude-code",
        provider="anthropic",
        model="claude-sonnet-4-5",
        inp=10000,
        out=500,
        cache_read=8000,
        cache_write=1000,
        cost="0.0123",
        project="/p/x",
        session="s1",
    ),
    ev(
        "k5",
        utc(2026, 10, 26, 9, 0),
        operation="advocate",
        model="mystery",
        inp=700,
        out=300,
        run="run_a",
        iteration="10",
    ),
    ev(
        "k6",
        utc(2026, 11, 2, 10, 0),
        source="claude-code",
        provider="anthropic",
        model="my-finetune",
        inp=100,
        out=50,
        project="/p/y",
    ),
    ev(
        "k7",
        utc(2026, 11, 2, 11, 0),
        source="haiku-costs",
        provider="anthropic",
        model="claude-3-5-haiku",
        inp=13750,
        out=2500,
        calls=25,
        cost="0.021",
        session="generate_images_chapters_1",
    ),
]


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger(tmp_path / "l.sqlite3", BERLIN, "Europe/Berlin") as led:
        led.commit(Batch(events=list(EVENTS)))
        yield led


def keyed(group_by: list[str], sel: Selection, led: Ledger) -> dict[object, Totals]:
    result = query(led.db, group_by, sel, BERLIN)
    return {r.key if len(r.key) != 1 else r.key[0]: r.totals for r in result.rows}


def calls_by(group_by: list[str], led: Ledger, sel: Selection = ALL) -> dict[object, int]:
    return {k: t.calls for k, t in keyed(group_by, sel, led).items()}


def test_days_are_local_across_the_dst_change(ledger: Ledger) -> None:
    days = keyed(["day"], ALL, ledger)
    assert list(days) == ["2026-10-24", "2026-10-25", "2026-10-26", "2026-11-02"]
    assert days["2026-10-25"].input_tokens == 3000 + 2000
    assert days["2026-10-26"].input_tokens == 10000 + 700


def test_weeks_are_iso_and_fold_their_days(ledger: Ledger) -> None:
    assert calls_by(["week"], ledger) == {"2026-W43": 3, "2026-W44": 2, "2026-W45": 26}


def test_months_group_local_days(ledger: Ledger) -> None:
    months = keyed(["month"], ALL, ledger)
    assert {k: t.cost for k, t in months.items()} == {
        "2026-10": Decimal("0.4203"),
        "2026-11": Decimal("0.021"),
    }


def test_total_sums_every_field_and_counts_unpriced_calls(ledger: Ledger) -> None:
    result = query(ledger.db, ["source"], ALL, BERLIN)
    assert result.total == Totals(
        events=7,
        calls=31,
        input_tokens=2500 + 3000 + 2000 + 10000 + 700 + 100 + 13750,
        output_tokens=1200 + 800 + 1000 + 500 + 300 + 50 + 2500,
        cache_read_tokens=8000,
        cache_write_tokens=1000,
        reasoning_tokens=0,
        cost_nano=441_300_000,
        unpriced_calls=2,
    )
    assert result.total.cost == Decimal("0.4413")
    assert result.unpriced == (
        UnpricedModel("anthropic", "my-finetune", 1),
        UnpricedModel("openai", "mystery", 1),
    )


def test_operation_none_is_its_own_group_sorted_last(ledger: Ledger) -> None:
    assert calls_by(["operation"], ledger) == {"advocate": 3, "contrarian": 1, None: 27}
    assert list(calls_by(["operation"], ledger))[-1] is None


def test_numeric_tags_sort_as_numbers_and_missing_tag_is_none(ledger: Ledger) -> None:
    by_iteration = calls_by(["tag:iteration"], ledger)
    assert list(by_iteration) == ["1", "2", "10", None]
    assert by_iteration == {"1": 2, "2": 1, "10": 1, None: 27}


def test_groupings_combine_in_the_order_given(ledger: Ledger) -> None:
    rows = keyed(["source", "model"], ALL, ledger)
    assert list(rows) == [
        ("claude-code", "claude-sonnet-4-5"),
        ("claude-code", "my-finetune"),
        ("haiku-costs", "claude-3-5-haiku"),
        ("studio", "gpt-4o"),
        ("studio", "mystery"),
    ]
    flipped = keyed(["model", "source"], ALL, ledger)
    assert list(flipped)[0] == ("claude-3-5-haiku", "haiku-costs")


def test_no_grouping_gives_one_row_equal_to_the_total(ledger: Ledger) -> None:
    result = query(ledger.db, [], ALL, BERLIN)
    assert [r.key for r in result.rows] == [()]
    assert result.rows[0].totals == result.total


def test_empty_selection_has_no_rows_and_zero_total(ledger: Ledger) -> None:
    result = query(ledger.db, [], selection(sources=["nothing"]), BERLIN)
    assert result.rows == ()
    assert result.total == Totals()
    assert result.unpriced == ()


def test_date_range_is_inclusive_of_whole_local_days(ledger: Ledger) -> None:
    sel = selection(since=date(2026, 10, 25), until=date(2026, 10, 25))
    assert calls_by(["day"], ledger, sel) == {"2026-10-25": 2}
    result = query(ledger.db, ["day"], sel, BERLIN)
    assert result.table == "daily"


def test_datetime_bounds_are_instants_naive_read_in_local_time(ledger: Ledger) -> None:
    # 00:00 Berlin on the 25th is 22:00 UTC on the 24th: k2 (22:30Z) in, k1 (21:30Z) out;
    # `until` is exclusive: k4 at exactly 23:30Z is out.
    sel = selection(since=datetime(2026, 10, 25), until=utc(2026, 10, 25, 23, 30))
    result = query(ledger.db, ["day"], sel, BERLIN)
    assert result.table == "events"
    assert result.total.events == 2
    assert result.total.cost == Decimal("0.258")


def test_source_and_where_filters_combine(ledger: Ledger) -> None:
    sel = selection(sources=["claude-code", "haiku-costs"], where={"provider": "anthropic"})
    assert calls_by(["model"], ledger, sel) == {
        "claude-3-5-haiku": 25,
        "claude-sonnet-4-5": 1,
        "my-finetune": 1,
    }
    only_sonnet = selection(where={"model": "claude-sonnet-4-5", "source": "claude-code"})
    assert calls_by([], ledger, only_sonnet) == {(): 1}


def test_two_tag_names_read_events(ledger: Ledger) -> None:
    sel = selection(where={"tag.run": "run_a", "operation": "advocate"})
    result = query(ledger.db, ["tag:iteration"], sel, BERLIN)
    assert result.table == "events"
    assert {r.key[0]: r.totals.input_tokens for r in result.rows} == {
        "1": 2500,
        "2": 2000,
        "10": 700,
    }
    assert result.unpriced == (UnpricedModel("openai", "mystery", 1),)


def test_tag_values_needing_json_escapes_filter_and_group(tmp_path: Path) -> None:
    odd = {"client": "café", "run": 'r"1', "path": "C:\\runs"}
    with Ledger(tmp_path / "odd.sqlite3", BERLIN, "Europe/Berlin") as led:
        led.commit(
            Batch(
                events=[
                    ev("o1", utc(2026, 11, 1, 9)).replace(tags=odd),
                    ev("o2", utc(2026, 11, 1, 9), client="cafe", run="r1", path="runs"),
                ]
            )
        )
        for key, value in odd.items():
            hits = query(led.db, [f"tag:{key}"], selection(where={f"tag.{key}": value}), BERLIN)
            assert [r.key for r in hits.rows] == [(value,)]
        plain = query(led.db, [], selection(where={"tag.client": "cafe"}), BERLIN)
        assert plain.total.events == 1


def test_tag_colon_and_dot_spellings_filter_alike(ledger: Ledger) -> None:
    dot = query(ledger.db, [], selection(where={"tag.session": "s1"}), BERLIN).total
    colon = query(ledger.db, [], selection(where={"tag:session": "s1"}), BERLIN).total
    assert dot == colon
    assert dot.calls == 1


def assert_paths_agree(led: Ledger, group_by: list[str], sel: Selection) -> QueryResult:
    rollup = query(led.db, group_by, sel, BERLIN, path="daily")
    events = query(led.db, group_by, sel, BERLIN, path="events")
    assert events.table == "events"
    assert rollup.rows == events.rows
    assert rollup.total == events.total
    assert rollup.unpriced == events.unpriced
    return rollup


# Tag groupings of one tag name: events lacking the tag form the None group.
TAG_GROUPS = [
    ["tag:run"],
    ["tag:session"],
    ["day", "tag:iteration"],
    ["tag:project", "model"],
    ["week", "tag:session", "operation"],
    ["tag:iteration", "month", "tag:iteration"],
]


@pytest.mark.parametrize(
    "group_by",
    [[g] for g in GROUPS] + [["day", "model"], ["week", "source", "operation"], []] + TAG_GROUPS,
)
@pytest.mark.parametrize(
    "sel",
    [
        ALL,
        selection(since=date(2026, 10, 25)),
        selection(since=date(2026, 10, 24), until=date(2026, 10, 24)),  # narrow: via the index
        selection(until=date(2026, 10, 26), where={"provider": "openai"}),
        selection(sources=["studio", "claude-code"], where={"operation": ""}),
    ],
)
def test_rollups_and_events_give_the_same_numbers(
    ledger: Ledger, group_by: list[str], sel: Selection
) -> None:
    tagged = any(g.startswith("tag:") for g in group_by)
    assert assert_paths_agree(ledger, group_by, sel).table == ("daily_tags" if tagged else "daily")


@pytest.mark.parametrize(
    "group_by", [[], ["day"], ["week", "model"], ["operation", "source"], ["TAG"], ["month", "TAG"]]
)
@pytest.mark.parametrize(
    ("tag", "value", "sel"),
    [
        ("run", "run_a", ALL),
        ("session", "s1", selection(since=date(2026, 10, 25), sources=["claude-code"])),
        ("iteration", "1", selection(until=date(2026, 10, 25), where={"operation": "advocate"})),
        ("session", "generate_images_chapters_1", selection(where={"provider": "anthropic"})),
        ("run", "no_such_run", ALL),
    ],
)
def test_tag_filter_rollup_and_events_give_the_same_numbers(
    ledger: Ledger, group_by: list[str], tag: str, value: str, sel: Selection
) -> None:
    filtered = sel._replace(where=(*sel.where, (f"tag.{tag}", value)))
    group_by = [f"tag:{tag}" if g == "TAG" else g for g in group_by]
    assert assert_paths_agree(ledger, group_by, filtered).table == "daily_tags"


def test_tag_grouping_and_filter_read_the_tag_rollup(ledger: Ledger) -> None:
    by_run = query(ledger.db, ["tag:run"], ALL, BERLIN)
    assert by_run.table == "daily_tags"
    assert {r.key[0]: r.totals.calls for r in by_run.rows} == {"run_a": 4, None: 27}
    one_run = query(ledger.db, ["day"], selection(where={"tag.run": "run_a"}), BERLIN)
    assert one_run.table == "daily_tags"
    assert one_run.unpriced == (UnpricedModel("openai", "mystery", 1),)


def test_rollups_stay_equal_after_a_larger_streamed_copy(ledger: Ledger) -> None:
    larger = EVENTS[3].replace(output_tokens=900, cost=Decimal("0.02"), tags={"session": "s2"})
    ledger.commit(Batch(events=[larger]))
    rollup = assert_paths_agree(ledger, ["day", "model"], ALL)
    assert rollup.total.output_tokens == 6350 + 400
    assert_paths_agree(ledger, ["day", "tag:session"], ALL)
    assert_paths_agree(ledger, ["tag:project"], ALL)
    assert calls_by(["tag:session"], ledger) == {"generate_images_chapters_1": 25, "s2": 1, None: 5}


@pytest.mark.parametrize(
    ("group_by", "sel"),
    [
        (["tag:run", "tag:iteration"], ALL),
        (["tag:iteration"], selection(where={"tag.run": "run_a"})),
        (["day"], selection(since=datetime(2026, 10, 25, 12))),
    ],
)
def test_rollup_refuses_what_only_events_know(
    ledger: Ledger, group_by: list[str], sel: Selection
) -> None:
    with pytest.raises(ValueError, match="rollup"):
        query(ledger.db, group_by, sel, BERLIN, path="daily")
    assert query(ledger.db, group_by, sel, BERLIN).table == "events"


def test_ledger_without_tag_rollup_answers_from_events(ledger: Ledger, tmp_path: Path) -> None:
    expected = query(ledger.db, ["tag:run"], ALL, BERLIN)
    ledger.db.execute("DROP TABLE daily_tags")  # as in a ledger from before the tag rollup
    with Ledger(tmp_path / "l.sqlite3", BERLIN, "Europe/Berlin", readonly=True) as ro:
        result = query(ro.db, ["tag:run"], ALL, BERLIN)
        assert result.table == "events"
        assert result.rows == expected.rows
        with pytest.raises(ValueError, match="no tag rollup"):
            query(ro.db, ["tag:run"], ALL, BERLIN, path="daily")


@pytest.mark.parametrize("bad", ["minute", "tag:", "user"])
def test_unknown_grouping_is_a_clear_error(ledger: Ledger, bad: str) -> None:
    with pytest.raises(ValueError, match="grouping|tag name"):
        query(ledger.db, [bad], ALL, BERLIN)


# -- hours: read from the events, in the local zone --------------------------------------

# Berlin's 2026-10-25 has 25 hours: 02:00-03:00 comes twice, CEST (+02:00) then CET (+01:00).
REPEATED_HOUR = [
    ev("h1", utc(2026, 10, 25, 0, 5), inp=1, out=2, cost="0.001"),  # 02:05 CEST
    ev("h2", utc(2026, 10, 25, 0, 55), inp=10, out=20, cost="0.01"),  # 02:55 CEST
    ev("h3", utc(2026, 10, 25, 1, 0), inp=100, out=200, cost="0.1"),  # 02:00 CET
    ev("h4", utc(2026, 10, 25, 1, 59), inp=1000, out=2000, source="claude-code"),  # 02:59 CET
    ev("h5", utc(2026, 10, 25, 2, 0), inp=10000, out=20000, cost="10"),  # 03:00 CET
]


def test_hours_are_local_and_the_repeated_hour_of_a_dst_change_is_two_rows(
    ledger: Ledger,
) -> None:
    ledger.commit(Batch(events=REPEATED_HOUR))
    sel = selection(since=date(2026, 10, 25), until=date(2026, 10, 25))
    result = query(ledger.db, ["hour"], sel, BERLIN)
    assert result.table == "events"
    assert [(r.key[0], r.totals.calls, r.totals.input_tokens) for r in result.rows] == [
        ("2026-10-25T00:00+02:00", 1, 3000),  # k2, 00:30 CEST
        ("2026-10-25T02:00+02:00", 2, 11),
        ("2026-10-25T02:00+01:00", 2, 1100),
        ("2026-10-25T03:00+01:00", 1, 10000),
        ("2026-10-25T23:00+01:00", 1, 2000),  # k3, 23:30 CET
    ]
    events = query(ledger.db, [], sel, BERLIN, path="events").total
    assert result.total == events
    assert Totals(*map(sum, zip(*(r.totals for r in result.rows), strict=True))) == events


def test_hour_totals_equal_the_events_with_other_groupings(ledger: Ledger) -> None:
    ledger.commit(Batch(events=REPEATED_HOUR))
    by_hour = query(ledger.db, ["source", "hour"], ALL, BERLIN)
    everything = query(ledger.db, ["source"], ALL, BERLIN)
    assert by_hour.total == everything.total
    assert by_hour.unpriced == everything.unpriced
    per_source: dict[object, list[Totals]] = {}
    for row in by_hour.rows:
        per_source.setdefault(row.key[0], []).append(row.totals)
    for row in everything.rows:
        summed = Totals(*map(sum, zip(*per_source[row.key[0]], strict=True)))
        assert summed == row.totals
    assert ("claude-code", "2026-10-25T02:00+01:00") in {r.key for r in by_hour.rows}
    with pytest.raises(ValueError, match="rollups cannot answer .*hours"):
        query(ledger.db, ["hour"], ALL, BERLIN, path="daily")


def test_hours_of_a_half_hour_zone_start_at_half_past_utc(tmp_path: Path) -> None:
    kolkata = ZoneInfo("Asia/Kolkata")  # UTC+05:30
    events = [
        ev("a", utc(2026, 11, 20, 10, 15)),  # 15:45 IST
        ev("b", utc(2026, 11, 20, 10, 40)),  # 16:10 IST
        ev("c", utc(2026, 11, 20, 11, 29)),  # 16:59 IST
    ]
    with Ledger(tmp_path / "k.sqlite3", kolkata, "Asia/Kolkata") as led:
        led.commit(Batch(events=events))
        result = query(led.db, ["hour"], ALL, kolkata)
    assert [(r.key[0], r.totals.calls) for r in result.rows] == [
        ("2026-11-20T15:00+05:30", 1),
        ("2026-11-20T16:00+05:30", 2),
    ]


# -- price drift: the reported and priced sums in the rollups ------------------------------


def reported(key: str, ts: datetime, rep: str, priced: str | None, **fields: Any) -> UsageEvent:
    e = ev(key, ts, cost=rep, **fields)
    return e.replace(
        cost_basis="reported",
        reported_cost=Decimal(rep),
        priced_cost=None if priced is None else Decimal(priced),
    )


DRIFTING = [
    reported("d1", utc(2026, 10, 24, 21, 30), "0.15", "0.147", run="run_a"),
    reported("d2", utc(2026, 10, 25, 9), "0.10", None, model="my-finetune", run="run_a"),
    reported("d3", utc(2026, 10, 26, 9), "1", "0.9", source="claude-code", operation="x"),
]


@pytest.mark.parametrize(
    "group_by", [[], ["day"], ["week", "model"], ["source", "operation"], ["tag:run"]]
)
def test_rollups_and_events_give_the_same_drift_sums(ledger: Ledger, group_by: list[str]) -> None:
    ledger.commit(Batch(events=DRIFTING))
    result = assert_paths_agree(ledger, group_by, ALL)
    total = result.total
    assert (total.reported_events, total.reported_nano) == (3, 1_250_000_000)
    assert (total.reported_priced_nano, total.reported_unpriced_events) == (1_047_000_000, 1)
    assert (total.reported_cost, total.priced_cost) == (Decimal("1.25"), None)
    sel = selection(where={"model": "gpt-4o"})
    gpt = assert_paths_agree(ledger, group_by, sel).total
    assert (gpt.reported_cost, gpt.priced_cost) == (Decimal("1.15"), Decimal("1.047"))


def test_drift_sums_follow_larger_copies_and_repricing_as_a_rebuild_would(
    ledger: Ledger,
) -> None:
    from monitor.ledger.rollups import rebuild

    ledger.commit(Batch(events=DRIFTING))
    grown = DRIFTING[0].replace(output_tokens=5000, reported_cost=Decimal("0.3"))
    ledger.commit(Batch(events=[grown]))
    old = next(e for e in ledger.iter_events() if e.key == "d2")
    ledger.rewrite_costs([(old, old.replace(priced_cost=Decimal("0.08")))])
    total = assert_paths_agree(ledger, ["day", "tag:run"], ALL).total
    assert (total.reported_cost, total.priced_cost) == (Decimal("1.4"), Decimal("1.127"))
    kept = ledger.db.execute("SELECT * FROM daily ORDER BY 1, 2, 3, 4, 5").fetchall()
    tags = ledger.db.execute("SELECT * FROM daily_tags ORDER BY 1, 2, 3, 4, 5, 6, 7").fetchall()
    rebuild(ledger.db)
    assert ledger.db.execute("SELECT * FROM daily ORDER BY 1, 2, 3, 4, 5").fetchall() == kept
    after = ledger.db.execute("SELECT * FROM daily_tags ORDER BY 1, 2, 3, 4, 5, 6, 7").fetchall()
    assert [r for r in after if r[7]] == [r for r in tags if r[7]]


def test_unknown_where_key_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown filter 'cost'.*tag.KEY"):
        selection(where={"cost": "1"})


def test_readonly_connection_answers(ledger: Ledger, tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.sqlite3", BERLIN, "Europe/Berlin", readonly=True) as ro:
        assert (
            query(ro.db, ["day"], ALL, BERLIN).total == query(ledger.db, ["day"], ALL, BERLIN).total
        )


def test_iterations_are_counted_per_run(ledger: Ledger) -> None:
    ledger.commit(
        Batch(
            events=[
                ev("b1", utc(2026, 11, 3, 9), run="run_b", iteration="1"),
                ev("b2", utc(2026, 11, 3, 10), run="run_b", iteration="1"),
            ]
        )
    )
    assert count_tag_values(ledger.db, ALL, "iteration", BERLIN, per="run") == 3 + 1
    assert count_tag_values(ledger.db, ALL, "iteration", BERLIN) == 3
    no_tags = selection(sources=["haiku-costs"])
    assert count_tag_values(ledger.db, no_tags, "iteration", BERLIN, per="run") == 0


# -- selections -------------------------------------------------------------------------


def test_selection_parses_tags_columns_and_ranges() -> None:
    text = "source=studio, run=run_tech_baseline,model=gpt-4o,2026-11-01..2026-11-15"
    sel = parse_selection(text)
    assert sel.sources == ("studio",)
    assert sel.where == (("tag.run", "run_tech_baseline"), ("model", "gpt-4o"))
    assert (sel.since, sel.until) == (date(2026, 11, 1), date(2026, 11, 15))
    assert sel.label == text


def test_selection_open_range_single_day_and_instants() -> None:
    assert parse_selection("2026-11-01..").until is None
    assert parse_selection("..2026-11-01").since is None
    day = parse_selection("2026-11-05")
    assert day.since == day.until == date(2026, 11, 5)
    instant = parse_selection("2026-11-05T12:00..2026-11-05T18:00")
    assert instant.since == datetime(2026, 11, 5, 12)
    assert instant.needs_events


def test_selection_repeated_source_means_any_of_them() -> None:
    sel = parse_selection("source=a,source=b,tag.session=s1")
    assert sel.sources == ("a", "b")
    assert sel.where == (("tag.session", "s1"),)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty selection"),
        ("run=a,run=b", "given twice"),
        ("2026-11-01,2026-11-02", "more than one date range"),
        ("2026-13-01", "bad date"),
        ('tag."x=1', "bad tag name"),
    ],
)
def test_selection_errors_are_clear(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_selection(text)


# -- range bounds: one reading for --since/--until and selections -----------------------


@pytest.mark.parametrize(
    ("text", "bound"),
    [
        ("2026-11-01", date(2026, 11, 1)),
        (" 2026-11-30 ", date(2026, 11, 30)),
        ("2026-11-01T12:00", datetime(2026, 11, 1, 12)),
        ("2026-11-01 12:00", datetime(2026, 11, 1, 12)),
        ("2026-11-01T12:00:30.5", datetime(2026, 11, 1, 12, 0, 30, 500_000)),
        ("2026-11-01T12:00Z", datetime(2026, 11, 1, 12, tzinfo=UTC)),
        (
            "2026-11-01T12:00+01:00",
            datetime(2026, 11, 1, 12, tzinfo=timezone(timedelta(hours=1))),
        ),
        (
            "2026-11-01T12:00:00-05:00",
            datetime(2026, 11, 1, 12, tzinfo=timezone(timedelta(hours=-5))),
        ),
    ],
)
def test_bounds_read_days_and_instants_with_or_without_offset(
    text: str, bound: date | datetime
) -> None:
    got = parse_bound(text)
    assert got == bound and type(got) is type(bound)
    if isinstance(got, datetime) and isinstance(bound, datetime):
        assert got.utcoffset() == bound.utcoffset()


@pytest.mark.parametrize(
    "text", ["2026-11-31", "lastweek", "0x7d", "2026-11-01T25:00", "11/01/2026"]
)
def test_bad_bounds_are_a_clear_error(text: str) -> None:
    with pytest.raises(ValueError, match="bad date .*use YYYY-MM-DD.* or today, yesterday, Nd"):
        parse_bound(text, today=date(2026, 11, 20))


def test_a_relative_bound_without_todays_date_is_refused() -> None:
    with pytest.raises(ValueError, match="relative date 'yesterday' without today's date"):
        parse_bound("yesterday")


def test_cli_shaped_selection_reads_since_and_until_as_typed(ledger: Ledger) -> None:
    # Issue 9: the text of --since/--until reached the Selection unparsed; SQL ignored
    # it as neither day nor instant and the output crashed on `str.isoformat`.
    sel = selection(since="2026-10-25", until="2026-10-26T00:00+01:00")
    assert sel.since == date(2026, 10, 25)
    assert sel.until == datetime(2026, 10, 26, tzinfo=timezone(timedelta(hours=1)))
    assert sel.has_instant
    parsed = selection(since=date(2026, 10, 25), until=sel.until)
    assert query(ledger.db, ["day"], sel, BERLIN) == query(ledger.db, ["day"], parsed, BERLIN)
    assert selection(since=None, until="2026-10-25") == Selection(until=date(2026, 10, 25))
    with pytest.raises(ValueError, match="bad date '2026-13-01'"):
        selection(until="2026-13-01")


@pytest.mark.parametrize("zone", ["Pacific/Kiritimati", "Etc/GMT+12", "UTC"])
def test_whole_days_read_from_the_events_are_the_local_days_in_the_furthest_zones(
    tmp_path: Path, zone: str
) -> None:
    """The events have no index on the day: a day range reads the time index a UTC day
    wider on each side. Calls on the first and last millisecond of each local day, in
    the zones furthest ahead of and behind UTC, count on their day and no other, as the
    rollup counts them — and a narrow range is a search of the time index."""
    tz = ZoneInfo(zone)
    calls = []
    for n in range(40):
        start = datetime(2026, 11, 1, tzinfo=tz) + timedelta(days=n)  # local midnight
        end = datetime.combine(start.date() + timedelta(days=1), datetime.min.time(), tz)
        calls += [
            ev(f"first-{n}", start, inp=1, cost="1"),
            ev(f"last-{n}", end - timedelta(milliseconds=1), inp=10, cost="2"),
        ]
    with Ledger(tmp_path / "far.sqlite3", tz, zone) as led:
        led.commit(Batch(events=calls))
        for n in range(0, 40, 3):
            day = date(2026, 11, 1) + timedelta(days=n)
            sel = selection(since=day, until=day)
            rollup = query(led.db, ["day"], sel, tz, path="daily")
            events = query(led.db, ["day"], sel, tz, path="events")
            assert [(r.key, r.totals.calls, r.totals.input_tokens) for r in events.rows] == [
                ((day.isoformat(),), 2, 11)
            ]
            assert (events.rows, events.total) == (rollup.rows, rollup.total)
        statements: list[str] = []
        led.db.set_trace_callback(statements.append)
        query(led.db, ["day"], selection(since=date(2026, 11, 5), until=date(2026, 11, 6)), tz,
              path="events")  # fmt: skip
        led.db.set_trace_callback(None)
        [sql] = [s for s in statements if "GROUP BY" in s]
        plan = " ".join(row[-1] for row in led.db.execute(f"EXPLAIN QUERY PLAN {sql}"))
    assert "SEARCH events USING INDEX events_ts (ts>? AND ts<?)" in plan, plan
