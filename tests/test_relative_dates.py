"""Relative dates (`today`, `7d`, `last-week`, …): what each word means, at DST changes,
in `--since`/`--until`, and in the selections of `compare` and `estimate --like`."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import pytest

from monitor.ledger import Batch, Ledger
from monitor.ledger.query import query
from monitor.ledger.selection import parse_bound, parse_selection, selection
from monitor.periods import local_day, relative_days
from tests.test_query import BERLIN, EVENTS, REPEATED_HOUR, ev
from tests.test_report import cli

D = date.fromisoformat

# Berlin: summer time ended on Sunday 2026-10-25 (25 hours) and began on Sunday
# 2026-03-29 (23 hours).
MEANINGS = {
    D("2026-10-25"): {
        "today": ("2026-10-25", "2026-10-25"),
        "yesterday": ("2026-10-24", "2026-10-24"),
        "1d": ("2026-10-25", "2026-10-25"),
        "7d": ("2026-10-19", "2026-10-25"),
        "30d": ("2026-09-26", "2026-10-25"),
        "this-week": ("2026-10-19", "2026-10-25"),
        "last-week": ("2026-10-12", "2026-10-18"),
        "this-month": ("2026-10-01", "2026-10-31"),
        "last-month": ("2026-09-01", "2026-09-30"),
    },
    D("2026-10-26"): {  # the Monday after: a new ISO week
        "today": ("2026-10-26", "2026-10-26"),
        "yesterday": ("2026-10-25", "2026-10-25"),
        "7d": ("2026-10-20", "2026-10-26"),
        "this-week": ("2026-10-26", "2026-11-01"),
        "last-week": ("2026-10-19", "2026-10-25"),
    },
    D("2026-03-29"): {
        "today": ("2026-03-29", "2026-03-29"),
        "yesterday": ("2026-03-28", "2026-03-28"),
        "7d": ("2026-03-23", "2026-03-29"),
        "30d": ("2026-02-28", "2026-03-29"),
        "this-week": ("2026-03-23", "2026-03-29"),
        "last-week": ("2026-03-16", "2026-03-22"),
        "this-month": ("2026-03-01", "2026-03-31"),
        "last-month": ("2026-02-01", "2026-02-28"),
    },
    D("2027-01-01"): {  # a Friday in ISO week 2026-W53
        "yesterday": ("2026-12-31", "2026-12-31"),
        "this-week": ("2026-12-28", "2027-01-03"),
        "last-week": ("2026-12-21", "2026-12-27"),
        "this-month": ("2027-01-01", "2027-01-31"),
        "last-month": ("2026-12-01", "2026-12-31"),
    },
}


@pytest.mark.parametrize(
    ("today", "word", "first", "last"),
    [(t, w, f, la) for t, words in MEANINGS.items() for w, (f, la) in words.items()],
)
def test_each_word_names_whole_local_days(today: date, word: str, first: str, last: str) -> None:
    assert relative_days(word, today) == (D(first), D(last))
    assert parse_bound(word, today=today) == D(first)
    assert parse_bound(word, today=today, end=True) == D(last)
    sel = parse_selection(word, today=today)
    assert (sel.since, sel.until) == (D(first), D(last))


def test_words_are_read_regardless_of_case_and_spaces() -> None:
    today = D("2026-10-25")
    assert relative_days(" Last-Week ", today) == relative_days("last-week", today)
    assert relative_days("7D", today) == relative_days("7d", today)


@pytest.mark.parametrize("text", ["2026-10-25", "week", "last week", "d", "-7d", "7days", "۷d"])
def test_other_texts_are_no_relative_date(text: str) -> None:
    assert relative_days(text, D("2026-10-25")) is None


def test_a_count_of_no_days_or_before_year_one_is_an_error() -> None:
    with pytest.raises(ValueError, match="N >= 1"):
        relative_days("0d", D("2026-10-25"))
    with pytest.raises(ValueError, match="before year 1"):
        relative_days("999999999d", D("2026-10-25"))


@pytest.mark.parametrize(
    ("now", "today"),
    [
        ("2026-10-24T21:59:00+00:00", "2026-10-24"),  # 23:59 CEST
        ("2026-10-24T22:00:00+00:00", "2026-10-25"),  # 00:00 CEST
        ("2026-10-25T22:59:00+00:00", "2026-10-25"),  # 23:59 CET: the 25-hour day's end
        ("2026-10-25T23:00:00+00:00", "2026-10-26"),
        ("2026-03-28T22:59:00+00:00", "2026-03-28"),  # 23:59 CET
        ("2026-03-29T21:59:00+00:00", "2026-03-29"),  # 23:59 CEST: the 23-hour day's end
        ("2026-03-29T22:00:00+00:00", "2026-03-30"),
    ],
)
def test_today_is_the_local_date_in_the_configured_zone(now: str, today: str) -> None:
    assert local_day(datetime.fromisoformat(now), BERLIN) == D(today)


# -- on a ledger: the calls each word selects ----------------------------------------------


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    # Local days of the calls: the 24th 1, the 25th (25 hours) 7, the 26th 2, Nov 2nd 26.
    with Ledger(tmp_path / "l.sqlite3", BERLIN, "Europe/Berlin") as led:
        led.commit(Batch(events=[*EVENTS, *REPEATED_HOUR]))
        yield led


SELECTED = {
    D("2026-10-25"): {
        "today": 7,
        "yesterday": 1,
        "7d": 8,
        "30d": 8,
        "this-week": 8,
        "last-week": 0,
        "this-month": 10,
        "last-month": 0,
    },
    D("2026-10-26"): {"today": 2, "yesterday": 7, "this-week": 2, "last-week": 8, "2d": 9},
    D("2026-11-02"): {
        "today": 26,
        "yesterday": 0,
        "7d": 26,
        "30d": 36,
        "this-week": 26,
        "last-week": 2,
        "this-month": 26,
        "last-month": 10,
    },
}


@pytest.mark.parametrize(
    ("today", "word", "calls"),
    [(t, w, n) for t, words in SELECTED.items() for w, n in words.items()],
)
def test_each_word_selects_the_calls_of_its_local_days(
    ledger: Ledger, today: date, word: str, calls: int
) -> None:
    sel = selection(since=word, until=word, today=today)
    assert query(ledger.db, [], sel, BERLIN).total.calls == calls
    # The rollup and the events agree, hour by hour too.
    assert query(ledger.db, ["hour"], sel, BERLIN).total.calls == calls
    assert parse_selection(word, today=today)[:2] == sel[:2]


def test_ranges_mix_words_and_dates(ledger: Ledger) -> None:
    today = D("2026-10-26")
    both = parse_selection("yesterday..today", today=today)
    assert (both.since, both.until) == (D("2026-10-25"), D("2026-10-26"))
    assert query(ledger.db, [], both, BERLIN).total.calls == 9
    assert parse_selection("30d..", today=today).since == D("2026-09-27")
    assert parse_selection("..last-week, source=studio", today=today).until == D("2026-10-25")
    instant = selection(since="last-week", until="2026-10-25T02:30+01:00", today=today)
    assert query(ledger.db, [], instant, BERLIN).total.calls == 1 + 1 + 2 + 1  # to 02:30 CET


# -- on the command line, with the real clock ----------------------------------------------


@pytest.fixture
def config_now(tmp_path: Path) -> Path:
    """A ledger with one call now and one at noon yesterday (local time)."""
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'[monitor]\ntimezone = "Europe/Berlin"\nstate_dir = "{tmp_path}"\n'
        f'socket = "{tmp_path}/none.sock"\n'
    )
    now = datetime.now(UTC)
    yesterday = local_day(now, BERLIN) - timedelta(days=1)
    noon = datetime.combine(yesterday, time(12), tzinfo=BERLIN)
    with Ledger(tmp_path / "ledger.sqlite3", BERLIN, "Europe/Berlin") as led:
        led.commit(
            Batch(events=[ev("now", now, inp=10, cost="0.1"), ev("y", noon, inp=20, cost="0.2")])
        )
    return cfg


def test_report_compare_and_estimate_take_relative_dates(
    capsys: pytest.CaptureFixture[str], config_now: Path
) -> None:
    cfg = ["--config", str(config_now)]
    today = local_day(datetime.now(UTC), BERLIN)
    code, out, err = cli(capsys, *cfg, "report", "--since", "today", "--format", "json")
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert (doc["since"], doc["until"], doc["total"]["calls"]) == (today.isoformat(), None, 1)
    code, out, _ = cli(capsys, *cfg, "report", "--since", "yesterday", "--until", "yesterday")
    assert code == 0 and out.startswith(f"Usage, from {today - timedelta(days=1)} through")
    assert out.splitlines()[-1].split()[:3] == ["TOTAL", "1", "20"]
    code, out, _ = cli(capsys, *cfg, "report", "--since", "2d", "--by", "day", "--format", "json")
    assert [r["calls"] for r in json.loads(out)["rows"]] == [1, 1]
    code, out, err = cli(capsys, *cfg, "compare", "yesterday", "today", "--format", "json")
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert (doc["a"]["input_tokens"], doc["b"]["input_tokens"]) == (20, 10)
    like = ["estimate", "--like", "this-month,7d..", "--calls", "2", "--format", "json"]
    code, out, err = cli(capsys, *cfg, *like)
    # "this-month" and "7d.." are two ranges: one selection takes one.
    assert code == 2 and "more than one date range" in err
    like = ["estimate", "--like", "7d..", "--calls", "2", "--format", "json"]
    code, out, err = cli(capsys, *cfg, *like)
    assert (code, err) == (0, "")
    assert json.loads(out)["sample_calls"] == 2


def test_a_bad_relative_date_is_a_usage_error_naming_the_words(
    capsys: pytest.CaptureFixture[str], config_now: Path
) -> None:
    code, out, err = cli(capsys, "--config", str(config_now), "report", "--since", "0d")
    assert (code, out) == (2, "") and "'0d': the last N days need N >= 1" in err
    code, out, err = cli(capsys, "--config", str(config_now), "report", "--until", "lastmonth")
    assert code == 2 and "bad date 'lastmonth'" in err and "last-month" in err
