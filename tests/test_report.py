"""`report`, `compare` and `estimate` output: documented shapes, and each seed tool's own view."""

from __future__ import annotations

import csv
import io
import json
import re
import subprocess
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from monitor.compare import compare, render_comparison
from monitor.estimate import Pricer, estimate, estimate_like, render_estimate
from monitor.events import UsageEvent
from monitor.ledger import Batch, Ledger
from monitor.ledger.query import QueryResult, query
from monitor.ledger.selection import Selection, parse_selection, selection
from monitor.report import render_report
from tests.test_query import BERLIN, ev, utc

DOCUMENTED_REPORT_JSON = """
{"since": null, "until": null, "group_by": ["source"],
 "rows": [{"key": {"source": "studio"}, "calls": 12, "input_tokens": 11000,
           "output_tokens": 7500, "cache_read_tokens": 0, "cache_write_tokens": 0,
           "cost_usd": "0.675000", "unpriced_calls": 0,
           "reported_cost_usd": null, "priced_cost_usd": null}],
 "total": {"calls": 12, "input_tokens": 11000, "output_tokens": 7500,
           "cache_read_tokens": 0, "cache_write_tokens": 0, "cost_usd": "0.675000",
           "unpriced_calls": 0, "reported_cost_usd": null, "priced_cost_usd": null}}
"""


def per_mtok(prices: dict[str, tuple[str, ...]]) -> Pricer:
    """A pricer from explicit USD per million tokens: input, output[, cache read, cache
    write] (cache tokens at the input rate without their own; unknown model: None)."""

    def price(
        model: str, provider: str | None, inp: int, out: int, read: int, write: int
    ) -> Decimal | None:
        if model not in prices:
            return None
        i, o, *cache = map(Decimal, prices[model])
        r, w = cache or (i, i)
        return (i * (inp - read - write) + r * read + w * write + o * out) / 1_000_000

    return price


GPT4 = per_mtok({"gpt-4": ("30", "60"), "gpt-4o-mini": ("0.15", "0.6")})
SONNET = per_mtok({"sonnet": ("3", "15", "0.3", "3.75")})


def open_ledger(tmp_path: Path, events: Sequence[UsageEvent]) -> Ledger:
    led = Ledger(tmp_path / "l.sqlite3", BERLIN, "Europe/Berlin")
    led.commit(Batch(events=list(events)))
    return led


# Seed 003: a baseline run (5 iterations, 25,000 tokens, $0.90) and an optimized one
# (3 iterations, 18,500 tokens = 11,000 in + 7,500 out, $0.675; advocate 9,200 tokens
# $0.336, contrarian 7,800 $0.285, integrator 1,500 $0.054).
BASELINE = [
    ev(
        f"base-{it}-{op}",
        utc(2026, 2, 27, 10, it * 10 + n),
        operation=op,
        model="gpt-4",
        inp=inp,
        out=out,
        cost=cost,
        run="run_tech_baseline",
        phase="tech",
        iteration=str(it),
    )
    for it in range(1, 6)
    for n, (op, inp, out, cost) in enumerate(
        [("advocate", 3000, 1000, "0.10"), ("contrarian", 500, 500, "0.08")]
    )
]
OPTIMIZED = [
    ev(
        f"opt-{i}",
        utc(2026, 2, 28, 12, i),
        operation=op,
        model="gpt-4",
        inp=inp,
        out=out,
        cost=cost,
        run="run_tech_with_scopes",
        phase="tech",
        iteration=str(it),
    )
    for i, (op, it, inp, out, cost) in enumerate(
        [
            ("advocate", 1, 2500, 1200, "0.15"),
            ("contrarian", 1, 3000, 800, "0.14"),
            ("advocate", 2, 1800, 1200, "0.105"),
            ("contrarian", 2, 1200, 1000, "0.08"),
            ("advocate", 3, 1400, 1100, "0.081"),
            ("contrarian", 3, 800, 1000, "0.065"),
            ("integrator", 3, 300, 1200, "0.054"),
        ]
    )
]


@pytest.fixture
def studio(tmp_path: Path) -> Iterator[Ledger]:
    with open_ledger(tmp_path, [*BASELINE, *OPTIMIZED]) as led:
        yield led


# -- report ------------------------------------------------------------------------------


def test_json_report_has_the_documented_shape_key_for_key(tmp_path: Path) -> None:
    events = [
        ev(f"e{i}", utc(2026, 11, 20, 9, i), inp=900, out=600, cost="0.05") for i in range(10)
    ] + [ev(f"f{i}", utc(2026, 11, 20, 10, i), inp=1000, out=750, cost="0.0875") for i in (1, 2)]
    with open_ledger(tmp_path, events) as led:
        text = render_report(query(led.db, ["source"], Selection(), BERLIN), "json")
    got = json.loads(text)
    want = json.loads(DOCUMENTED_REPORT_JSON)
    assert got == want
    assert list(got) == list(want)
    assert list(got["rows"][0]) == list(want["rows"][0])
    assert list(got["total"]) == list(want["total"])


def test_json_report_gives_ranges_as_iso_and_missing_keys_as_null(studio: Ledger) -> None:
    sel = selection(since=date(2026, 2, 28), until=date(2026, 2, 28))
    got = json.loads(
        render_report(query(studio.db, ["tag:run", "tag:client"], sel, BERLIN), "json")
    )
    assert (got["since"], got["until"]) == ("2026-02-28", "2026-02-28")
    assert got["group_by"] == ["tag:run", "tag:client"]
    assert [r["key"] for r in got["rows"]] == [
        {"tag:run": "run_tech_with_scopes", "tag:client": None}
    ]


def test_csv_report_has_group_columns_then_the_fields(studio: Ledger) -> None:
    sel = selection(where={"tag.run": "run_tech_with_scopes"})
    text = render_report(query(studio.db, ["operation"], sel, BERLIN), "csv")
    assert list(csv.reader(io.StringIO(text))) == [
        [
            "operation",
            "calls",
            "input_tokens",
            "output_tokens",
            "cache_read_tokens",
            "cache_write_tokens",
            "cost_usd",
            "unpriced_calls",
            "reported_cost_usd",
            "priced_cost_usd",
        ],
        ["advocate", "3", "5700", "3500", "0", "0", "0.336000", "0", "", ""],
        ["contrarian", "3", "5000", "2800", "0", "0", "0.285000", "0", "", ""],
        ["integrator", "1", "300", "1200", "0", "0", "0.054000", "0", "", ""],
    ]


def test_text_report_is_aligned_with_separators_and_a_total_row(studio: Ledger) -> None:
    text = render_report(query(studio.db, ["tag:run"], Selection(), BERLIN), "text")
    lines = text.splitlines()
    assert lines[0] == "Usage by tag:run, all time"
    assert lines[1].split() == [
        "tag:run",
        "calls",
        "input",
        "output",
        "cache",
        "read",
        "cache",
        "write",
        "cost",
    ]
    assert lines[3].split() == ["run_tech_baseline", "10", "17,500", "7,500", "0", "0", "$0.90"]
    assert lines[4].split() == ["run_tech_with_scopes", "7", "11,000", "7,500", "0", "0", "$0.68"]
    assert lines[6].split() == ["TOTAL", "17", "28,500", "15,000", "0", "0", "$1.58"]
    assert len({len(line) for line in lines[1:7] if not line.startswith("-")}) == 1
    assert "unpriced" not in text


def test_text_report_names_unpriced_models(tmp_path: Path) -> None:
    events = [
        ev("a", utc(2026, 11, 20, 9), model="gpt-4o", inp=1_234_567, out=10, cost="1234.567"),
        ev("b", utc(2026, 11, 20, 9), model="my-finetune", inp=5, out=5, calls=2),
        ev("c", utc(2026, 11, 21, 9), model="my-finetune", inp=5, out=5),
    ]
    with open_ledger(tmp_path, events) as led:
        text = render_report(query(led.db, ["model"], Selection(), BERLIN), "text")
    assert "$1,234.57" in text
    assert "1,234,567" in text
    rows = {line.split()[0]: line.split() for line in text.splitlines()[3:5]}
    assert rows["my-finetune"][-2:] == ["unpriced", "3"]
    assert "3 calls unpriced, not in the cost: my-finetune (openai, 3)" in text
    assert "TOTAL" in text


def test_text_report_without_grouping_is_one_total_line(studio: Ledger) -> None:
    sel = selection(since=date(2026, 2, 28))
    lines = render_report(query(studio.db, [], sel, BERLIN), "text").splitlines()
    assert lines[0] == "Usage, from 2026-02-28"
    assert lines[-1].split() == ["TOTAL", "7", "11,000", "7,500", "0", "0", "$0.68"]


def test_text_report_of_nothing_says_so(studio: Ledger) -> None:
    text = render_report(query(studio.db, ["day"], selection(sources=["x"]), BERLIN), "text")
    assert "No usage recorded" in text


# -- each seed tool's own view ---------------------------------------------------------


def test_seed_003_summary_by_operation_and_iteration(studio: Ledger) -> None:
    run = selection(where={"tag.run": "run_tech_with_scopes"})
    by_op = query(studio.db, ["operation"], run, BERLIN)
    assert {r.key[0]: (r.totals.total_tokens, r.totals.cost) for r in by_op.rows} == {
        "advocate": (9200, Decimal("0.336")),
        "contrarian": (7800, Decimal("0.285")),
        "integrator": (1500, Decimal("0.054")),
    }
    assert (by_op.total.input_tokens, by_op.total.output_tokens) == (11000, 7500)
    by_iteration = query(studio.db, ["tag:iteration"], run, BERLIN)
    assert [r.totals.cost for r in by_iteration.rows] == [
        Decimal("0.29"),
        Decimal("0.185"),
        Decimal("0.2"),
    ]


def test_seed_000_per_workflow_totals_as_csv(tmp_path: Path) -> None:
    flows = {
        "wf_openai_gpt-4o_narrative_20251007": (315600, 70900, "1.5"),
        "wf_claude_sonnet-45_narrative_20251007": (637600, 115600, "3.65"),
    }
    events = [
        ev(
            f"{wf}-{i}",
            utc(2025, 10, 7, 12, i),
            source="image-describer",
            model="gpt-4o",
            inp=inp // 4,
            out=out // 4,
            cost=str(Decimal(cost) / 4),
            workflow=wf,
            image=f"{i}.jpg",
        )
        for wf, (inp, out, cost) in flows.items()
        for i in range(4)
    ]
    with open_ledger(tmp_path, events) as led:
        text = render_report(query(led.db, ["tag:workflow"], Selection(), BERLIN), "csv")
    assert text.splitlines()[1:] == [
        "wf_claude_sonnet-45_narrative_20251007,4,637600,115600,0,0,3.650000,0,,",
        "wf_openai_gpt-4o_narrative_20251007,4,315600,70900,0,0,1.500000,0,,",
    ]


def test_seed_001_sessions_keep_their_call_counts(tmp_path: Path) -> None:
    events = [
        ev(
            "s1",
            utc(2024, 12, 26, 14, 30),
            source="novel",
            provider="anthropic",
            model="claude-3-5-haiku",
            inp=13750,
            out=2500,
            calls=25,
            cost="0.021",
            session="generate_images_chapters_1",
        ),
        ev(
            "s2",
            utc(2024, 12, 27, 9),
            source="novel",
            provider="anthropic",
            model="claude-3-5-haiku",
            inp=36250,
            out=7500,
            calls=75,
            cost="0.059",
            session="generate_images_chapters_2_4",
        ),
    ]
    with open_ledger(tmp_path, events) as led:
        got = json.loads(render_report(query(led.db, ["tag:session"], Selection(), BERLIN), "json"))
    assert [(r["key"]["tag:session"], r["calls"]) for r in got["rows"]] == [
        ("generate_images_chapters_1", 25),
        ("generate_images_chapters_2_4", 75),
    ]
    assert got["total"]["input_tokens"] == 50000
    assert got["total"]["cost_usd"] == "0.080000"


def test_seed_002_daily_and_per_operation_totals(tmp_path: Path) -> None:
    events = [
        ev(
            f"n{i}",
            utc(2026, 5, 1 + i % 2, 8, i),
            source="app",
            model="gpt-3.5-turbo",
            operation="Notification Generation" if i % 3 else "Title Generation",
            inp=45,
            out=23,
            cost="0.000114",
        )
        for i in range(6)
    ]
    with open_ledger(tmp_path, events) as led:
        days = query(led.db, ["day"], Selection(), BERLIN)
        ops = query(led.db, ["operation"], Selection(), BERLIN)
    assert [(r.key[0], r.totals.calls, r.totals.cost) for r in days.rows] == [
        ("2026-05-01", 3, Decimal("0.000342")),
        ("2026-05-02", 3, Decimal("0.000342")),
    ]
    assert [(r.key[0], r.totals.calls) for r in ops.rows] == [
        ("Notification Generation", 4),
        ("Title Generation", 2),
    ]


def test_seed_004_clients_and_providers_within_a_date_range(tmp_path: Path) -> None:
    def analysis(key: str, day: int, client: str, provider: str, inp: int, cost: str) -> UsageEvent:
        model = "gpt-4o" if provider == "openai" else "gemini-2.5-flash"
        return ev(
            key,
            utc(2026, 2, day, 15),
            source="qc",
            provider=provider,
            model=model,
            inp=inp,
            out=inp // 6,
            cost=cost,
            client=client,
            user="user@company.com",
            profile=f"{client}_key_visual",
            session=f"202602{day:02d}_153000",
        )

    events = [
        analysis("a1", 1, "diageo", "openai", 6123, "0.0128"),
        analysis("a2", 2, "diageo", "openai", 6123, "0.0128"),
        analysis("a3", 2, "diageo", "google", 7122, "0.0106"),
        analysis("a4", 2, "acme", "google", 7122, "0.0106"),
        analysis("a5", 9, "acme", "openai", 6123, "0.0128"),
    ]
    feb_2_to_8 = selection(since=date(2026, 2, 2), until=date(2026, 2, 8))
    with open_ledger(tmp_path, events) as led:
        result = query(led.db, ["tag:client", "provider"], feb_2_to_8, BERLIN)
    assert [(r.key, r.totals.calls, r.totals.cost) for r in result.rows] == [
        (("acme", "google"), 1, Decimal("0.0106")),
        (("diageo", "google"), 1, Decimal("0.0106")),
        (("diageo", "openai"), 1, Decimal("0.0128")),
    ]


# -- compare -----------------------------------------------------------------------------


def test_compare_shows_seed_003_savings(studio: Ledger) -> None:
    c = compare(
        studio.db,
        parse_selection("run=run_tech_baseline"),
        parse_selection("run=run_tech_with_scopes"),
        BERLIN,
    )
    assert (c.a.totals.total_tokens, c.b.totals.total_tokens) == (25000, 18500)
    assert (c.a.totals.cost, c.b.totals.cost) == (Decimal("0.9"), Decimal("0.675"))
    assert (c.a.iterations, c.b.iterations) == (5, 3)
    assert c.token_savings == 6500
    assert c.token_savings_pct == Decimal("26.0")
    assert c.cost_savings == Decimal("0.225")
    assert c.cost_savings_pct == Decimal("25.0")
    text = render_comparison(c, "text")
    assert "Savings (B vs A): tokens 6,500 (26.0%), cost $0.22 (25.0%)" in text
    assert "A: run=run_tech_baseline" in text
    iterations = next(line for line in text.splitlines() if line.startswith("Iterations"))
    assert iterations.split() == ["Iterations", "5", "3", "-2"]


def test_compare_json_has_both_sides_and_savings(studio: Ledger) -> None:
    c = compare(
        studio.db,
        parse_selection("source=studio,2026-02-27"),
        parse_selection("tag.run=run_tech_with_scopes"),
        BERLIN,
    )
    got = json.loads(render_comparison(c, "json"))
    assert got["a"] == {
        "selection": "source=studio,2026-02-27",
        "calls": 10,
        "input_tokens": 17500,
        "output_tokens": 7500,
        "total_tokens": 25000,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "cost_usd": "0.900000",
        "unpriced_calls": 0,
        "iterations": 5,
    }
    assert got["b"]["iterations"] == 3
    assert got["savings"] == {
        "tokens": 6500,
        "tokens_pct": 26.0,
        "cost_usd": "0.225000",
        "cost_pct": 25.0,
    }


def test_compare_says_when_b_spends_more(studio: Ledger) -> None:
    c = compare(
        studio.db,
        parse_selection("run=run_tech_with_scopes"),
        parse_selection("run=run_tech_baseline"),
        BERLIN,
    )
    assert "B spends more than A: tokens +6,500 (+35.1%), cost +$0.22 (+33.3%)" in (
        render_comparison(c, "text")
    )


@pytest.mark.parametrize(
    ("a", "b", "says"),
    [
        ("run=nope", "run=run_tech_baseline", "no recorded calls match A ('run=nope')"),
        ("run=run_tech_baseline", "run=nope", "no recorded calls match B ('run=nope')"),
        ("run=x", "run=y", "no recorded calls match A ('run=x') nor B ('run=y')"),
    ],
)
def test_compare_with_a_side_that_matches_nothing_is_an_error(
    studio: Ledger, a: str, b: str, says: str
) -> None:
    # Not "savings 100 %": a comparison with nothing is a mistake in the selection.
    with pytest.raises(ValueError, match=re.escape(says)):
        compare(studio.db, parse_selection(a), parse_selection(b), BERLIN)


def test_compare_with_a_zero_cost_baseline_has_no_percentage(tmp_path: Path) -> None:
    events = [
        ev("a", utc(2026, 11, 1, 9), inp=100, out=10, cost="0", run="a"),
        ev("b", utc(2026, 11, 1, 9), inp=100, out=10, cost="0.1", run="b"),
    ]
    with open_ledger(tmp_path, events) as led:
        c = compare(led.db, parse_selection("run=a"), parse_selection("run=b"), BERLIN)
    assert (c.cost_savings, c.cost_savings_pct, c.token_savings_pct) == (
        Decimal("-0.1"),
        None,
        Decimal("0.0"),
    )
    assert "cost +$0.10 (n/a)" in render_comparison(c, "text")


def _unpriced_runs(tmp_path: Path) -> Ledger:
    """Run `priced` ($0.90, 2 calls), `mystery` (3 calls, none priced), `mixed` (1 priced
    at $0.30, 1 unpriced)."""
    return open_ledger(
        tmp_path,
        [
            ev("p1", utc(2026, 11, 1, 9), inp=1000, out=100, cost="0.4", run="priced"),
            ev("p2", utc(2026, 11, 1, 9), inp=1000, out=100, cost="0.5", run="priced"),
            *(
                ev(f"u{i}", utc(2026, 11, 1, 9), model="mystery", inp=500, out=50, run="mystery")
                for i in range(3)
            ),
            ev("m1", utc(2026, 11, 1, 9), inp=1000, out=100, cost="0.3", run="mixed"),
            ev("m2", utc(2026, 11, 1, 9), model="mystery", inp=1000, out=100, run="mixed"),
        ],
    )


def test_compare_shows_unpriced_not_zero_dollars(tmp_path: Path) -> None:
    with _unpriced_runs(tmp_path) as led:
        c = compare(led.db, parse_selection("run=priced"), parse_selection("run=mystery"), BERLIN)
    assert (c.cost_known, c.cost_savings, c.cost_savings_pct) == (False, None, None)
    assert c.token_savings == 2200 - 1650
    text = render_comparison(c, "text")
    cost = next(line for line in text.splitlines() if line.startswith("Cost"))
    assert cost.split() == ["Cost", "$0.90", "unpriced", "n/a"]
    assert "$0.00" not in text
    assert "Savings (B vs A): tokens 550 (25.0%), cost unpriced" in text
    assert "every call of B is unpriced" in text
    doc = json.loads(render_comparison(c, "json"))
    assert (doc["a"]["cost_usd"], doc["b"]["cost_usd"]) == ("0.900000", None)
    assert doc["b"]["unpriced_calls"] == 3
    assert (doc["savings"]["cost_usd"], doc["savings"]["cost_pct"]) == (None, None)
    assert doc["savings"]["tokens"] == 550


def test_compare_against_an_unpriced_baseline_says_more_tokens_without_a_cost(
    tmp_path: Path,
) -> None:
    with _unpriced_runs(tmp_path) as led:
        c = compare(led.db, parse_selection("run=mystery"), parse_selection("run=priced"), BERLIN)
    text = render_comparison(c, "text")
    assert "B spends more than A: tokens +550 (+33.3%), cost unpriced" in text
    assert "every call of A is unpriced" in text


def test_compare_with_some_unpriced_calls_compares_the_priced_ones_and_says_so(
    tmp_path: Path,
) -> None:
    with _unpriced_runs(tmp_path) as led:
        c = compare(led.db, parse_selection("run=priced"), parse_selection("run=mixed"), BERLIN)
    assert c.cost_savings == Decimal("0.6")
    text = render_comparison(c, "text")
    cost = next(line for line in text.splitlines() if line.startswith("Cost"))
    assert cost.split() == ["Cost", "$0.90", "$0.30", "-$0.60"]
    unpriced = next(line for line in text.splitlines() if line.startswith("Unpriced calls"))
    assert unpriced.split() == ["Unpriced", "calls", "0", "1"]
    assert "Costs leave out unpriced calls." in text


# -- estimate ----------------------------------------------------------------------------


def test_estimate_from_averages_matches_seed_003_estimator() -> None:
    # 5 iterations × 2 roles at 2,000 in + 1,000 out, GPT-4 at $0.03/$0.06 per 1K.
    e = estimate(GPT4, model="gpt-4", calls=10, avg_input=2000, avg_output=1000)
    assert (e.input_tokens, e.output_tokens) == (20000, 10000)
    assert e.cost_per_call == Decimal("0.12")
    assert e.cost == Decimal("1.2")
    assert e.low is None and e.high is None
    text = render_estimate(e, "text")
    assert "Estimate: 10 calls of gpt-4" in text
    assert re.search(r"Cost per call +\$0\.1200\n", text)
    assert re.search(r"Total cost +\$1\.20\n", text)


def test_estimate_for_an_unknown_model_is_unpriced() -> None:
    e = estimate(GPT4, model="mystery", calls=3, avg_input=10, avg_output=10)
    assert e.cost is None
    assert json.loads(render_estimate(e, "json"))["cost_usd"] is None
    assert "No price known for mystery" in render_estimate(e, "text")


def test_estimate_rejects_negative_counts() -> None:
    with pytest.raises(ValueError, match="calls must not be negative"):
        estimate(GPT4, model="gpt-4", calls=-1, avg_input=1, avg_output=1)


def test_estimate_like_scales_past_averages(studio: Ledger) -> None:
    e = estimate_like(studio.db, parse_selection("run=run_tech_with_scopes"), BERLIN, calls=70)
    assert e.sample_calls == 7
    assert (e.avg_input_tokens, e.avg_output_tokens) == (1571, 1071)
    assert e.cost_per_call == Decimal("0.675") / 7
    assert e.cost == Decimal("6.75")
    # per-call costs sorted: .054 .065 .08 .081 .105 .14 .15 → 25th: .065, 75th: .14
    assert (e.low, e.high) == (Decimal("4.55"), Decimal("9.8"))
    got = json.loads(render_estimate(e, "json"))
    assert (got["cost_usd"], got["low_usd"], got["high_usd"]) == (
        "6.750000",
        "4.550000",
        "9.800000",
    )
    text = render_estimate(e, "text")
    assert "Like run=run_tech_with_scopes: 7 past calls" in text
    assert "$4.55 - $9.80" in text


def test_estimate_like_weights_summary_records_by_their_calls(tmp_path: Path) -> None:
    events = [
        ev("big", utc(2026, 11, 1, 9), inp=3000, out=1000, calls=3, cost="0.3", run="r"),
        ev("one", utc(2026, 11, 1, 9), inp=500, out=100, calls=1, cost="0.5", run="r"),
    ]
    with open_ledger(tmp_path, events) as led:
        e = estimate_like(led.db, parse_selection("run=r"), BERLIN, calls=8)
    assert (e.avg_input_tokens, e.avg_output_tokens) == (875, 275)
    assert e.cost == Decimal("1.6")  # (0.3 + 0.5) / 4 calls × 8
    assert (e.low, e.high) == (Decimal("0.8"), Decimal("0.8"))  # 3 of 4 calls cost 0.1
    assert "Likely range" not in render_estimate(e, "text")


def test_estimate_like_reprices_each_past_call_at_another_model(studio: Ledger) -> None:
    like = parse_selection("run=run_tech_with_scopes")
    e = estimate_like(studio.db, like, BERLIN, calls=7, model="gpt-4o-mini", price=GPT4)
    # 11,000 in × $0.15/MTok + 7,500 out × $0.60/MTok over the same 7 calls
    assert e.cost == Decimal("0.00615")
    assert e.model == "gpt-4o-mini"
    assert "Estimate: 7 calls of gpt-4o-mini" in render_estimate(e, "text")


def test_estimate_like_at_another_model_keeps_the_historys_cache_shares(tmp_path: Path) -> None:
    # An agent's calls: 96 % of the input read from the cache, 2 % written to it.
    events = [
        ev("c1", utc(2026, 11, 1, 9), inp=100_000, out=1_000, cache_read=96_000,
           cache_write=2_000, cost="0.1", run="agent"),
        ev("c2", utc(2026, 11, 1, 10), inp=50_000, out=500, cache_read=48_000,
           cache_write=1_000, cost="0.05", run="agent"),
    ]  # fmt: skip
    with open_ledger(tmp_path, events) as led:
        e = estimate_like(
            led.db, parse_selection("run=agent"), BERLIN, calls=2, model="sonnet", price=SONNET
        )
    assert (e.cache_read_share, e.cache_write_share) == (Decimal("0.96"), Decimal("0.02"))
    assert (e.avg_input_tokens, e.avg_cache_read_tokens, e.avg_cache_write_tokens) == (
        75_000,
        72_000,
        1_500,
    )
    # Each call re-priced with its own input split as the history's: $3 fresh input,
    # $0.30 cache reads, $3.75 cache writes, $15 output per MTok.
    first = (2_000 * 3 + 96_000 * Decimal("0.3") + 2_000 * Decimal("3.75") + 1_000 * 15) / 10**6
    second = (1_000 * 3 + 48_000 * Decimal("0.3") + 1_000 * Decimal("3.75") + 500 * 15) / 10**6
    assert e.cost == first + second
    everything_fresh = (150_000 * 3 + 1_500 * 15) / Decimal(10**6)
    assert e.cost < everything_fresh / 3
    text = render_estimate(e, "text")
    assert "Their input: 96.0% cache reads, 2.0% cache writes; priced so at sonnet's" in text
    assert re.search(r"cache reads +144,000\n", text)
    doc = json.loads(render_estimate(e, "json"))
    assert (doc["cache_read_share"], doc["cache_write_share"]) == (0.96, 0.02)
    assert (doc["avg_cache_read_tokens"], doc["cache_read_tokens"]) == (72_000, 144_000)


def test_estimate_like_without_cache_history_prices_all_input_fresh(studio: Ledger) -> None:
    like = parse_selection("run=run_tech_with_scopes")
    e = estimate_like(studio.db, like, BERLIN, calls=7, model="sonnet", price=SONNET)
    assert (e.cache_read_share, e.cache_write_share) == (Decimal(0), Decimal(0))
    assert e.cost == (11_000 * 3 + 7_500 * 15) / Decimal(10**6)
    assert "cache" not in render_estimate(e, "text")


def test_estimate_like_leaves_unpriced_calls_out_of_the_average(tmp_path: Path) -> None:
    events = [
        ev("p", utc(2026, 11, 1, 9), inp=100, out=100, cost="0.2", run="r"),
        ev("u", utc(2026, 11, 1, 9), inp=300, out=100, run="r"),
    ]
    with open_ledger(tmp_path, events) as led:
        e = estimate_like(led.db, parse_selection("run=r"), BERLIN, calls=10)
        unknown = estimate_like(
            led.db, parse_selection("run=r"), BERLIN, calls=10, model="mystery", price=GPT4
        )
    assert e.cost == Decimal("2")
    assert e.unpriced_sample_calls == 1
    assert "1 past call without a cost left out of the average" in render_estimate(e, "text")
    assert unknown.cost is None


def test_estimate_like_without_matching_calls_is_an_error(studio: Ledger) -> None:
    with pytest.raises(ValueError, match="no recorded calls match 'run=nope'"):
        estimate_like(studio.db, parse_selection("run=nope"), BERLIN, calls=5)


# -- the command line: --since/--until as the README and docs/ write them -----------------


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """`llm-monitor ARGV` in this process: (exit code, stdout, stderr)."""
    from monitor.cli import main

    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse's usage errors
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def studio_config(tmp_path: Path) -> Path:
    """A config whose ledger holds the seed-003 runs (Berlin time)."""
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'[monitor]\ntimezone = "Europe/Berlin"\nstate_dir = "{tmp_path}"\n'
        f'socket = "{tmp_path}/none.sock"\n'
    )
    with Ledger(tmp_path / "ledger.sqlite3", BERLIN, "Europe/Berlin") as led:
        led.commit(Batch(events=[*BASELINE, *OPTIMIZED]))
    return cfg


# BASELINE: 10 calls on 2026-02-27 10:10-10:51 UTC; OPTIMIZED: 7 calls on 2026-02-28
# 12:00-12:06 UTC (13:00-13:06 in Berlin, UTC+1 in February).
@pytest.mark.parametrize(
    ("bounds", "calls", "since", "until"),
    [
        (["--since", "2026-02-01", "--until", "2026-02-28"], 17, "2026-02-01", "2026-02-28"),
        (["--since", "2026-02-28"], 7, "2026-02-28", None),
        (["--until", "2026-02-27"], 10, None, "2026-02-27"),
        (["--since", "2026-02-28T13:03"], 4, "2026-02-28T13:03:00", None),
        (["--since", "2026-02-28 13:03"], 4, "2026-02-28T13:03:00", None),
        (["--since", "2026-02-28T12:03Z"], 4, "2026-02-28T12:03:00+00:00", None),
        (["--until", "2026-02-28T13:03+01:00"], 13, None, "2026-02-28T13:03:00+01:00"),
        (
            ["--since", "2026-02-27T05:00-05:00", "--until", "2026-02-28T12:00:00+00:00"],
            10,
            "2026-02-27T05:00:00-05:00",
            "2026-02-28T12:00:00+00:00",
        ),
    ],
)
def test_report_takes_every_documented_since_until_form(
    capsys: pytest.CaptureFixture[str],
    studio_config: Path,
    bounds: list[str],
    calls: int,
    since: str | None,
    until: str | None,
) -> None:
    base = ["--config", str(studio_config), "report", "--by", "model", *bounds]
    code, out, err = cli(capsys, *base, "--format", "json")
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert (doc["since"], doc["until"]) == (since, until)
    assert doc["total"]["calls"] == calls
    code, out, err = cli(capsys, *base)
    assert (code, err) == (0, "")
    assert re.search(rf"^TOTAL\s+{calls}\s", out, re.M), out
    code, out, err = cli(capsys, *base, "--format", "csv")
    assert (code, err) == (0, "") and out.startswith("model,calls")


def test_readme_november_report_runs_in_text_and_json(
    capsys: pytest.CaptureFixture[str], studio_config: Path
) -> None:
    base = ["--config", str(studio_config), "report", "--by", "model"]
    november = ["--since", "2026-11-01", "--until", "2026-11-30"]
    code, out, err = cli(capsys, *base, *november)
    assert (code, err) == (0, "")
    assert out.startswith("Usage by model, from 2026-11-01 through 2026-11-30\n")
    code, out, _ = cli(capsys, *base, *november, "--format", "json")
    assert code == 0 and json.loads(out)["total"]["calls"] == 0


@pytest.mark.parametrize("bad", ["2026-02-30", "last week", "2026-02-28T13:00+25:00"])
def test_report_with_a_bad_bound_is_a_usage_error_not_a_traceback(
    capsys: pytest.CaptureFixture[str], studio_config: Path, bad: str
) -> None:
    code, out, err = cli(capsys, "--config", str(studio_config), "report", "--since", bad)
    assert code == 2 and out == ""
    assert f"bad date {bad!r}" in err and "Traceback" not in err


def test_compare_and_estimate_take_instants_in_their_selections(
    capsys: pytest.CaptureFixture[str], studio_config: Path
) -> None:
    cfg = ["--config", str(studio_config)]
    code, out, err = cli(
        capsys, *cfg, "compare", "2026-02-27", "2026-02-28T13:03+01:00..", "--format", "json"
    )
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert (doc["a"]["calls"], doc["b"]["calls"]) == (10, 4)
    like = ["estimate", "--like", "2026-02-28T12:00Z..", "--calls", "7", "--format", "json"]
    code, out, err = cli(capsys, *cfg, *like)
    assert (code, err) == (0, "")
    assert json.loads(out)["sample_calls"] == 7
    assert json.loads(out)["cost_usd"] == "0.675000"


def test_compare_with_a_side_matching_nothing_exits_2_with_the_reason(
    capsys: pytest.CaptureFixture[str], studio_config: Path
) -> None:
    cfg = ["--config", str(studio_config)]
    code, out, err = cli(capsys, *cfg, "compare", "run=run_tech_baseline", "run=run_tech_typo")
    assert (code, out) == (2, "")
    assert "no recorded calls match B ('run=run_tech_typo')" in err
    assert "Traceback" not in err


def test_estimate_names_a_vendor_prefixed_model_once_and_prices_it_as_the_vendors(
    capsys: pytest.CaptureFixture[str], studio_config: Path
) -> None:
    cfg = ["--config", str(studio_config)]
    plan = ["--calls", "10", "--avg-input", "2000", "--avg-output", "1000", "--format", "json"]
    code, out, err = cli(capsys, *cfg, "estimate", "--model", "openai/gpt-4o", *plan)
    assert (code, err) == (0, "")
    prefixed = json.loads(out)
    assert (prefixed["model"], prefixed["provider"]) == ("gpt-4o", "openai")
    code, out, _ = cli(capsys, *cfg, "estimate", "--model", "gpt-4o", *plan)
    assert prefixed["cost_usd"] == json.loads(out)["cost_usd"] is not None
    code, out, _ = cli(capsys, *cfg, "estimate", "--model", "openai/gpt-4o", *plan[:-2])
    assert "Estimate: 10 calls of gpt-4o (openai)" in out


def test_report_by_hour_names_local_hours_with_their_offset(
    capsys: pytest.CaptureFixture[str], studio_config: Path
) -> None:
    base = ["--config", str(studio_config), "report", "--by", "hour"]
    code, out, err = cli(capsys, *base, "--format", "json")
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert [(r["key"]["hour"], r["calls"]) for r in doc["rows"]] == [
        ("2026-02-27T11:00+01:00", 10),  # 10:10-10:51 UTC
        ("2026-02-28T13:00+01:00", 7),
    ]
    assert doc["total"]["cost_usd"] == "1.575000"
    code, out, _ = cli(capsys, *base, "--by", "operation", "--format", "csv")
    assert code == 0 and out.splitlines()[1].startswith("2026-02-27T11:00+01:00,advocate,5,")
    code, out, _ = cli(capsys, *base, "--since", "yesterday")
    assert code == 0 and "No usage recorded" in out
    code, out, err = cli(capsys, *base, "--by", "block")
    assert code == 2 and "block" in err


# -- report --by block: 5-hour blocks per source (monitor.blocks) ---------------------


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# claude-code: a block from 10:00 holding the call exactly 5 h later, the next call (one
# second later) opening the 15:00 block, a gap, then a block at 01:00; codex: one block at
# 14:00, one call unpriced.
BLOCK_EVENTS = [
    ev(
        "c1",
        _at("2026-11-20 10:17:00"),
        source="claude-code",
        model="claude-sonnet-4-5",
        provider="anthropic",
        inp=1000,
        out=100,
        cache_read=600,
        cache_write=300,
        cost="0.01",
    ),
    ev(
        "c2",
        _at("2026-11-20 15:00:00"),
        source="claude-code",
        model="claude-sonnet-4-5",
        provider="anthropic",
        inp=2000,
        out=200,
        cache_read=1500,
        cache_write=0,
        cost="0.02",
    ),
    ev(
        "c3",
        _at("2026-11-20 15:00:01"),
        source="claude-code",
        model="claude-haiku-4-5",
        provider="anthropic",
        inp=400,
        out=40,
        cache_write=100,
        cost="0.004",
    ),
    ev(
        "c4",
        _at("2026-11-20 15:17:00"),
        source="claude-code",
        model="claude-sonnet-4-5",
        provider="anthropic",
        inp=500,
        out=50,
        cost="0.005",
    ),
    ev(
        "c5",
        _at("2026-11-21 01:30:00"),
        source="claude-code",
        model="claude-sonnet-4-5",
        provider="anthropic",
        inp=10,
        out=1,
        cost="0.0001",
    ),
    ev(
        "x1",
        _at("2026-11-20 14:30:00"),
        source="codex",
        model="gpt-5",
        inp=300,
        out=30,
        cost="0.003",
    ),
    ev("x2", _at("2026-11-20 16:00:00"), source="codex", model="gpt-5-mystery", inp=70, out=7),
]
B10, B15, B01, B14 = (
    "2026-11-20T10:00:00+00:00",
    "2026-11-20T15:00:00+00:00",
    "2026-11-21T01:00:00+00:00",
    "2026-11-20T14:00:00+00:00",
)


def _block_rows(result: QueryResult) -> list[tuple[tuple[str | None, ...], int, int, int, int]]:
    return [
        (
            r.key,
            r.totals.calls,
            r.totals.input_tokens,
            r.totals.output_tokens,
            r.totals.cache_read_tokens,
        )
        for r in result.rows
    ]


def test_blocks_of_one_source_sum_every_token_column_per_block(tmp_path: Path) -> None:
    led = open_ledger(tmp_path, BLOCK_EVENTS)
    got = query(led.db, ["block"], Selection(sources=("claude-code",)), BERLIN)
    assert (got.group_by, got.table) == (("block",), "events")
    assert _block_rows(got) == [
        ((B10,), 2, 3000, 300, 2100),
        ((B15,), 2, 900, 90, 0),
        ((B01,), 1, 10, 1, 0),
    ]
    assert [r.totals.cache_write_tokens for r in got.rows] == [300, 100, 0]
    assert [r.totals.cost for r in got.rows] == [
        Decimal("0.03"),
        Decimal("0.009"),
        Decimal("0.0001"),
    ]
    assert got.total.calls == 5 and got.total.input_tokens == 3910


def test_blocks_are_drawn_per_source_and_keyed_by_source_when_several_match(
    tmp_path: Path,
) -> None:
    led = open_ledger(tmp_path, BLOCK_EVENTS)
    got = query(led.db, ["block"], Selection(), BERLIN)
    assert got.group_by == ("block", "source")
    # codex's 14:30 call opens its own 14:00 block: claude-code's 10:00 block is not its.
    assert [r.key for r in got.rows] == [
        (B10, "claude-code"),
        (B14, "codex"),
        (B15, "claude-code"),
        (B01, "claude-code"),
    ]
    assert got.total.unpriced_calls == 1
    assert [(u.model, u.calls) for u in got.unpriced] == [("gpt-5-mystery", 1)]
    by_source_first = query(led.db, ["source", "block"], Selection(), BERLIN)
    assert [r.key for r in by_source_first.rows] == [
        ("claude-code", B10),
        ("claude-code", B15),
        ("claude-code", B01),
        ("codex", B14),
    ]


def test_blocks_respect_the_range_and_filters_before_they_are_drawn(tmp_path: Path) -> None:
    led = open_ledger(tmp_path, BLOCK_EVENTS)
    since = selection(since="2026-11-20T15:00:01Z", sources=["claude-code"])
    assert _block_rows(query(led.db, ["block"], since, BERLIN)) == [
        ((B15,), 2, 900, 90, 0),
        ((B01,), 1, 10, 1, 0),
    ]
    haiku = selection(where={"model": "claude-haiku-4-5"})
    assert _block_rows(query(led.db, ["block"], haiku, BERLIN)) == [((B15,), 1, 400, 40, 0)]
    with pytest.raises(ValueError, match="block"):
        query(led.db, ["block", "model"], Selection(), BERLIN)


def test_report_by_block_on_the_command_line_in_text_json_and_csv(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'[monitor]\ntimezone = "Europe/Berlin"\nstate_dir = "{tmp_path}"\n'
        f'socket = "{tmp_path}/none.sock"\n'
    )
    with Ledger(tmp_path / "ledger.sqlite3", BERLIN, "Europe/Berlin") as led:
        led.commit(Batch(events=BLOCK_EVENTS))
    base = ["--config", str(cfg), "report", "--by", "block", "--source", "claude-code"]
    code, out, err = cli(capsys, *base, "--format", "json")
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert doc["group_by"] == ["block"]
    assert doc["rows"][0] == {
        "key": {"block": B10},
        "calls": 2,
        "input_tokens": 3000,
        "output_tokens": 300,
        "cache_read_tokens": 2100,
        "cache_write_tokens": 300,
        "cost_usd": "0.030000",
        "unpriced_calls": 0,
        "reported_cost_usd": None,
        "priced_cost_usd": None,
    }
    assert [r["key"]["block"] for r in doc["rows"]] == [B10, B15, B01]
    code, out, err = cli(capsys, *base, "--format", "csv")
    assert (code, err) == (0, "")
    assert out.splitlines()[:2] == [
        "block,calls,input_tokens,output_tokens,cache_read_tokens,cache_write_tokens,"
        "cost_usd,unpriced_calls,reported_cost_usd,priced_cost_usd",
        f"{B10},2,3000,300,2100,300,0.030000,0,,",
    ]
    code, out, err = cli(capsys, *base)
    assert (code, err) == (0, "")
    assert out.startswith("Usage by block, all time\n")
    assert re.search(rf"^{re.escape(B15)}\s+2\s+900\s+90\s", out, re.M), out
    code, out, err = cli(capsys, "--config", str(cfg), "report", "--by", "block,model")
    assert code == 2 and "block" in err and "Traceback" not in err


# -- import hygiene ----------------------------------------------------------------------


@pytest.mark.e2e
def test_report_imports_no_heavy_dependency() -> None:
    code = (
        "import sys, monitor.report; "
        "heavy = {'genai_prices', 'textual', 'apprise', 'msgspec', 'monitor.pricing'}; "
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=30
    )
    assert out.stdout.strip() == "[]"
