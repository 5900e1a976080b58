"""Price drift: the tools' reported costs against prices, in `report` and as an alert.

The studio-tokens example reports `cost_usd` for six of its seven gpt-4 calls of
run_tech_20260228_123456 (one writes null) and none for run_tech_baseline; the priced
side is what `monitor.pricing` (genai-prices) says those same six calls cost.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from monitor.alert_store import AlertStore
from monitor.alerts import AlertService
from monitor.config import AlertsConfig, Config, SourceConfig
from monitor.events import UsageEvent, from_nano, to_nano, usd_json
from monitor.ledger import Applied, Batch, Ledger
from monitor.ledger import schema as ledger_schema
from monitor.ledger.query import query
from monitor.ledger.selection import Selection
from monitor.notify import Outcome
from monitor.pricing import Pricer
from monitor.report import drift, drift_pct, only_drift, render_report
from monitor.rules import RULES
from monitor.rules.base import AlertKey, Decision, Situation
from monitor.rules.drift import DriftRule
from monitor.sources.studio import parse
from monitor.totals import Totals
from tests.factories import parse_ctx, usage_event
from tests.test_query import BERLIN
from tests.test_report import cli

TECH = Path(__file__).resolve().parent.parent / "examples" / "studio" / "output" / "tech"
RUN = "run_tech_20260228_123456"


def priced_example() -> list[UsageEvent]:
    """The example run's calls as the pipeline stores them: parsed, then priced."""
    path = TECH / RUN / "tokens.jsonl"
    ctx = parse_ctx("studio", str(path), tz=BERLIN, mtime=datetime(2026, 3, 1, tzinfo=UTC))
    pricer = Pricer()
    return [pricer.apply(e) for e in parse(ctx, {}, path.read_bytes()).events]


@pytest.fixture
def studio(tmp_path: Path) -> Path:
    """A config whose ledger holds the studio examples, ingested by `scan`."""
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'[monitor]\ntimezone = "Europe/Berlin"\nstate_dir = "{tmp_path}"\n'
        f'socket = "{tmp_path}/none.sock"\n\n'
        f'[[sources]]\nname = "studio"\nformat = "studio-tokens"\n'
        f'paths = ["{TECH}/*/tokens.jsonl"]\n'
    )
    return cfg


def run_cli(capsys: pytest.CaptureFixture[str], cfg: Path, *argv: str) -> str:
    code, out, err = cli(capsys, "--config", str(cfg), *argv)
    assert code == 0, err
    return out


@pytest.fixture
def scanned(capsys: pytest.CaptureFixture[str], studio: Path) -> Path:
    run_cli(capsys, studio, "scan")
    return studio


# -- report: both sides, exactly ----------------------------------------------------------


def test_report_rows_carry_reported_and_priced_cost_of_the_calls_that_reported_one(
    capsys: pytest.CaptureFixture[str], scanned: Path
) -> None:
    events = priced_example()
    reported = [e for e in events if e.reported_cost is not None]
    assert len(events) == 7 and len(reported) == 6
    want_reported = sum((e.reported_cost for e in reported if e.reported_cost), Decimal(0))
    prices = Pricer()
    priced = [prices.price(e) for e in reported]
    assert None not in priced
    want_priced = from_nano(sum(to_nano(p) for p in priced if p is not None))
    assert want_reported == Decimal("0.537")
    assert want_priced == Decimal("0.642")  # gpt-4 at $30 / $60 per million tokens

    doc = json.loads(run_cli(capsys, scanned, "report", "--by", "tag:run", "--format", "json"))
    rows = {r["key"]["tag:run"]: r for r in doc["rows"]}
    run = rows[RUN]
    assert run["reported_cost_usd"] == usd_json(want_reported)
    assert run["priced_cost_usd"] == usd_json(want_priced)
    assert run["calls"] == 7  # the call without a cost counts everywhere else
    baseline = rows["run_tech_baseline"]
    assert (baseline["reported_cost_usd"], baseline["priced_cost_usd"]) == (None, None)
    assert (doc["total"]["reported_cost_usd"], doc["total"]["priced_cost_usd"]) == (
        "0.537000",
        "0.642000",
    )
    assert list(run)[-2:] == ["reported_cost_usd", "priced_cost_usd"]
    assert "drift_usd" not in run


def test_rows_where_no_tool_reported_a_cost_are_null_empty_or_a_dash(
    capsys: pytest.CaptureFixture[str], scanned: Path
) -> None:
    text = run_cli(capsys, scanned, "report", "--by", "tag:run", "--format", "csv")
    table = list(csv.DictReader(io.StringIO(text)))
    baseline = next(r for r in table if r["tag:run"] == "run_tech_baseline")
    assert (baseline["reported_cost_usd"], baseline["priced_cost_usd"]) == ("", "")
    assert baseline["cost_usd"] == "0.900000"
    text = run_cli(capsys, scanned, "report", "--by", "tag:run")
    assert text.splitlines()[1].split()[-2:] == ["reported", "priced"]
    line = next(x for x in text.splitlines() if x.startswith("run_tech_baseline"))
    assert line.split()[-2:] == ["-", "-"]
    line = next(x for x in text.splitlines() if x.startswith(RUN))
    assert line.split()[-2:] == ["$0.54", "$0.64"]


def test_drift_keeps_the_rows_that_differ_with_difference_and_percent(
    capsys: pytest.CaptureFixture[str], scanned: Path
) -> None:
    # By operation: the integrator's reported $0.054 equals its price (not shown), the
    # baseline reported nothing; advocate and contrarian differ.
    doc = json.loads(
        run_cli(capsys, scanned, "report", "--by", "operation", "--drift", "--format", "json")
    )
    rows = {r["key"]["operation"]: r for r in doc["rows"]}
    assert list(rows) == ["advocate", "contrarian"]
    advocate = rows["advocate"]
    assert (advocate["reported_cost_usd"], advocate["priced_cost_usd"]) == ("0.336000", "0.405000")
    assert (advocate["drift_usd"], advocate["drift_pct"]) == ("-0.069000", -17.0)
    contrarian = rows["contrarian"]  # its first call reported no cost: on neither side
    assert (contrarian["reported_cost_usd"], contrarian["priced_cost_usd"]) == (
        "0.147000",
        "0.183000",
    )
    assert (contrarian["drift_usd"], contrarian["drift_pct"]) == ("-0.036000", -19.7)
    total = doc["total"]  # the rows shown, added up
    assert (total["calls"], total["reported_cost_usd"], total["priced_cost_usd"]) == (
        advocate["calls"] + contrarian["calls"],
        "0.483000",
        "0.588000",
    )
    assert (total["drift_usd"], total["drift_pct"]) == ("-0.105000", -17.9)

    text = run_cli(capsys, scanned, "report", "--by", "operation", "--drift")
    assert text.startswith("Price drift by operation, all time\n")
    lines = text.splitlines()
    assert lines[2].split() == ["operation", "reported", "priced", "difference", "%"]
    assert lines[4].split() == ["advocate", "$0.336", "$0.405", "-$0.069", "-17.0%"]
    assert lines[5].split() == ["contrarian", "$0.147", "$0.183", "-$0.036", "-19.7%"]
    assert lines[-1].split() == ["TOTAL", "$0.483", "$0.588", "-$0.105", "-17.9%"]
    assert "integrator" not in text and "(none)" not in text

    text = run_cli(capsys, scanned, "report", "--by", "operation", "--drift", "--format", "csv")
    table = list(csv.reader(io.StringIO(text)))
    assert table[0][-4:] == ["reported_cost_usd", "priced_cost_usd", "drift_usd", "drift_pct"]
    assert [r[0] for r in table[1:]] == ["advocate", "contrarian"]
    assert table[1][-2:] == ["-0.069000", "-17.0"]


def test_drift_of_a_selection_without_drift_says_why(
    capsys: pytest.CaptureFixture[str], scanned: Path
) -> None:
    none = run_cli(capsys, scanned, "report", "--where", "tag.run=run_tech_baseline", "--drift")
    assert "No tool reported a cost for this selection." in none
    equal = run_cli(capsys, scanned, "report", "--where", "operation=integrator", "--drift")
    assert "No drift: the reported costs equal prices" in equal
    doc = json.loads(
        run_cli(capsys, scanned, "report", "--where", "operation=integrator", "--drift",
                "--format", "json")
    )  # fmt: skip
    assert doc["rows"] == [] and doc["total"]["drift_usd"] is None


def reported(key: str, ts: datetime, rep: str, priced: str | None, **fields: Any) -> UsageEvent:
    """A call whose tool reported `rep` and prices put at `priced` (None: no price)."""
    return usage_event(
        ts,
        rep,
        key=key,
        cost_basis="reported",
        reported_cost=Decimal(rep),
        priced_cost=None if priced is None else Decimal(priced),
        **fields,
    )


def test_a_reported_call_without_a_price_leaves_the_priced_side_unknown(tmp_path: Path) -> None:
    at = datetime(2026, 11, 20, 10, tzinfo=UTC)
    events = [
        reported("a", at, "1.10", "1.00", model="gpt-5"),
        reported("b", at, "0.50", None, model="my-finetune"),
        usage_event(at, "2", key="c", model="my-finetune", priced_cost=Decimal("2")),
    ]
    with Ledger(tmp_path / "l.sqlite3", BERLIN, "Europe/Berlin") as led:
        led.commit(Batch(events=events))
        result = query(led.db, ["model"], Selection(), BERLIN)
    rows = {r.key[0]: r.totals for r in result.rows}
    assert (rows["gpt-5"].reported_cost, rows["gpt-5"].priced_cost) == (
        Decimal("1.10"),
        Decimal("1.00"),
    )
    assert (rows["my-finetune"].reported_cost, rows["my-finetune"].priced_cost) == (
        Decimal("0.5"),
        None,
    )
    assert (drift(rows["gpt-5"]), drift_pct(rows["gpt-5"])) == (Decimal("0.1"), Decimal("10.0"))
    assert drift(rows["my-finetune"]) is None
    assert result.total.priced_cost is None  # unpriced is never $0
    shown = only_drift(result)
    assert [r.key for r in shown.rows] == [("gpt-5",)]
    assert shown.total.priced_cost == Decimal("1.00")
    text = render_report(result, "text")
    assert re.search(r"^my-finetune .* \$0\.50\s+unpriced$", text, re.M), text


# -- the migration ---------------------------------------------------------------------


def test_a_v5_ledger_reads_drift_from_events_until_upgraded_then_from_its_rollup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "l.sqlite3"
    monkeypatch.setattr(ledger_schema, "SCHEMA_VERSION", 5)
    with Ledger(path, BERLIN, "Europe/Berlin") as v5:
        assert v5.schema_version() == 5
        v5.db.executemany(
            "INSERT INTO events (key, ts, day, source, provider, model, calls, cost_nano, "
            "cost_basis, reported_nano, priced_nano) VALUES (?, 0, ?, 's', 'openai', ?, 1, ?, "
            "?, ?, ?)",
            [
                ("a", "2026-11-20", "gpt-5", 1_100, "reported", 1_100, 1_000),
                ("b", "2026-11-20", "gpt-5", 700, "priced", None, 700),
                ("c", "2026-11-21", "x", 300, "reported", 300, None),
            ],
        )
    monkeypatch.undo()
    with Ledger(path, BERLIN, "Europe/Berlin", readonly=True) as old:
        before = query(old.db, ["day", "model"], Selection(), BERLIN)
        assert before.table == "events"  # the rollups lack the drift measures
        with pytest.raises(ValueError, match="not upgraded"):
            query(old.db, ["day"], Selection(), BERLIN, path="daily")
    with Ledger(path, BERLIN, "Europe/Berlin") as upgraded:
        assert upgraded.schema_version() == ledger_schema.SCHEMA_VERSION
        after = query(upgraded.db, ["day", "model"], Selection(), BERLIN)
    assert after.table == "daily"
    assert after.rows == before.rows
    [a, c] = after.rows
    assert (a.totals.reported_events, a.totals.reported_nano, a.totals.reported_priced_nano) == (
        1,
        1_100,
        1_000,
    )
    assert (c.totals.reported_cost, c.totals.priced_cost) == (Decimal("3E-7"), None)


# -- the alert -------------------------------------------------------------------------

NOW = datetime(2026, 11, 20, 11, tzinfo=UTC)  # 12:00 in Berlin
SOURCES = (
    SourceConfig("studio", "studio-tokens", ("/d/**/tokens.jsonl",), BERLIN, "Europe/Berlin"),
)


def config(sources: tuple[SourceConfig, ...] = SOURCES) -> Config:
    return Config(
        path=None,
        timezone_name="Europe/Berlin",
        tz=BERLIN,
        state_dir=Path("/nonexistent"),
        socket_path=Path("/nonexistent/d.sock"),
        sources=sources,
        budgets=(),
        alerts=AlertsConfig(),
    )


def at(hours: float) -> datetime:
    return NOW + timedelta(hours=hours)


def decide(
    rule: DriftRule, events: list[UsageEvent], known: set[AlertKey], now: datetime = NOW
) -> list[Decision]:
    s = Situation(now=now, config=config(), totals=Totals(BERLIN), known=known, events=events)
    decisions = rule.decide(s)
    known.update(d.key for d in decisions)
    return decisions


def call(key: str, rep: str, price: str, ts: datetime = NOW, model: str = "gpt-4") -> UsageEvent:
    return reported(key, ts - timedelta(minutes=1), rep, price, source="studio", model=model)


def test_drift_over_ten_percent_alerts_once_per_day_per_source_and_model() -> None:
    rule, known = DriftRule(), set[AlertKey]()
    [d] = decide(rule, [call("a", "1.12", "1.00")], known)
    assert d.key == ("drift", "studio gpt-4", "2026-11-20", "0.1")
    assert d.title == (
        "llm-monitor: drift source 'studio' gpt-4: reported costs 12 % over prices on 2026-11-20"
    )
    assert d.severity == "warning" and not d.quiet_exempt
    assert "reported $1.12 for its gpt-4 calls of 2026-11-20 that prices put at $1.00" in d.body
    assert decide(rule, [call("b", "5", "1", at(1))], known, at(1)) == []  # same day: once
    [other] = decide(rule, [call("c", "2", "1", model="o3")], known)  # another model
    assert other.rule == "studio o3"
    [tomorrow] = decide(rule, [call("d", "1.2", "1", at(24))], known, at(24))
    assert tomorrow.period == "2026-11-21"


@pytest.mark.parametrize(
    ("rep", "price", "fires"),
    [
        ("1.100000001", "1", True),
        ("1.10", "1.00", False),  # exactly 10 %: not more
        ("1.05", "1.00", False),
        ("0.899999999", "1", True),  # under prices counts too
        ("0.90", "1.00", False),
        ("1", "1", False),
    ],
)
def test_drift_alerts_only_above_ten_percent_either_way(rep: str, price: str, fires: bool) -> None:
    decisions = decide(DriftRule(), [call("a", rep, price)], set())
    assert bool(decisions) is fires
    if fires:
        way = "over" if Decimal(rep) > Decimal(price) else "under"
        assert f" {way} prices" in decisions[0].title


def test_a_days_calls_are_summed_before_they_are_judged() -> None:
    rule, known = DriftRule(), set[AlertKey]()
    assert decide(rule, [call("a", "1.08", "1"), call("b", "1.08", "1")], known) == []
    assert decide(rule, [call("c", "0.5", "1", model="o3")], known) != []  # another model
    [d] = decide(rule, [call("d", "1.30", "1", at(0.5))], known, at(0.5))  # 3.46 of 3: 15.3 %
    assert d.rule == "studio gpt-4" and "15.3 %" in d.title
    # Yesterday's drift is yesterday's: it does not carry into today (-21 % together).
    rule, known = DriftRule(), set[AlertKey]()
    [yesterday] = decide(rule, [call("e", "0.5", "1", at(-13))], known, at(-13))
    assert yesterday.period == "2026-11-19"
    assert decide(rule, [call("f", "1.08", "1")], known) == []


def test_a_streamed_copy_replaces_its_predecessor_in_the_sums() -> None:
    rule, known = DriftRule(), set[AlertKey]()
    assert decide(rule, [call("m", "1", "1")], known) == []
    [d] = decide(rule, [call("m", "1.15", "1")], known)  # 15 %, not 2.15 of 2 (7.5 %)
    assert "15 %" in d.title


def test_tiny_sums_history_and_calls_without_both_costs_are_not_judged() -> None:
    rule = DriftRule()
    assert decide(rule, [call("a", "0.005", "0.004")], set()) == []  # 25 % of under a cent
    assert decide(rule, [call("b", "2", "1", at(-40))], set()) == []  # two days ago
    unpriced = reported("c", NOW, "2", None, source="studio", model="x")
    priced_only = usage_event(NOW, "1", key="d", priced_cost=Decimal("0.5"))
    assert decide(rule, [unpriced, priced_only], set()) == []


def test_the_registry_includes_the_drift_rule() -> None:
    assert DriftRule in RULES


class Accepting:
    labels = ("json://fake/",)

    async def deliver(
        self, title: str, body: str, severity: str, only: object = None
    ) -> dict[str, Outcome]:
        return {label: Outcome(True) for label in self.labels}


@pytest.fixture
def ledger_path(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "ledger.sqlite3"
    Ledger(path, BERLIN, "Europe/Berlin").close()
    yield path


async def test_the_drift_alert_is_recorded_and_not_repeated_after_a_restart(
    ledger_path: Path,
) -> None:
    cfg = config()
    for round_ in range(2):  # the second service is the daemon after a restart
        store = AlertStore.open(ledger_path)
        service = AlertService(cfg, store, Accepting(), lambda: Totals(BERLIN), lambda: NOW)
        try:
            rows = await service.evaluate(NOW, [Applied(call(f"k{round_}", "2", "1"))])
            if round_ == 0:
                [row] = rows
                assert (row.kind, row.rule, row.period) == ("drift", "studio gpt-4", "2026-11-20")
                assert row.title.startswith("llm-monitor: drift ")
            else:
                assert rows == []
        finally:
            await service.aclose()
            store.close()
