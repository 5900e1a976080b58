"""Alert rules on fixed totals and a fixed clock: budget thresholds, forecasts, spikes,
source health, quiet hours, and the registry that makes them one list."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from monitor.config import AlertsConfig, BudgetConfig, Config, SourceConfig
from monitor.events import UsageEvent
from monitor.rules import RULES
from monitor.rules.base import (
    AlertKey,
    Decision,
    Situation,
    apply_quiet_hours,
    percent_text,
    quiet_until,
    threshold_text,
)
from monitor.rules.budget import BudgetRule
from monitor.rules.forecast import ForecastRule
from monitor.rules.health import HealthWatch
from monitor.rules.spike import SpikeRule
from monitor.totals import Totals
from tests.factories import usage_event as call

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


def totals_with(*events: UsageEvent, tags: Iterable[str] = ()) -> Totals:
    totals = Totals(BERLIN, tracked_tags=tags)
    for e in events:
        totals.add(e)
    return totals


def budget(limit: str = "50", period: str = "month", **fields: object) -> BudgetConfig:
    values: dict[str, object] = {"forecast": False}
    values.update(fields)
    return BudgetConfig(
        name=str(values.pop("name", "monthly")),
        period=period,  # type: ignore[arg-type]
        limit=Decimal(limit),
        **values,  # type: ignore[arg-type]
    )


def situation(
    now: datetime,
    totals: Totals,
    known: set[AlertKey] | None = None,
    *,
    budgets: Iterable[BudgetConfig] = (),
    alerts: AlertsConfig | None = None,
    events: Iterable[UsageEvent] = (),
) -> Situation:
    """What the alert service hands the rules: a Berlin config with these budgets."""
    config = Config(
        path=None,
        timezone_name="Europe/Berlin",
        tz=BERLIN,
        state_dir=Path("/nonexistent"),
        socket_path=Path("/nonexistent/d.sock"),
        sources=(),
        budgets=tuple(budgets),
        alerts=alerts or AlertsConfig(),
    )
    return Situation(
        now=now.astimezone(UTC),
        config=config,
        totals=totals,
        known=known if known is not None else set(),
        events=tuple(events),
    )


def decide(
    b: BudgetConfig, totals: Totals, now: datetime, known: set[AlertKey] | None = None
) -> list[Decision]:
    """The two budget rules, thresholds first, as the registry orders them."""
    s = situation(now, totals, known, budgets=[b])
    return [*BudgetRule().decide(s), *ForecastRule().decide(s)]


NOW = berlin("2026-11-20 12:00")


# ---------------------------------------------------------------- the registry


def test_the_registry_makes_every_rule_and_each_decides_from_one_situation() -> None:
    rules = [make() for make in RULES]
    names = [type(r).__name__ for r in rules]
    assert names == [
        "BudgetRule", "ForecastRule", "SpikeRule", "HealthWatch", "LimitRule", "DigestRule",
        "DriftRule",
    ]  # fmt: skip
    totals = totals_with(call(berlin("2026-11-20 11:30"), "45"))
    s = situation(NOW, totals, budgets=[budget()], alerts=AlertsConfig(spike_hourly=Decimal(10)))
    assert [(d.kind, d.rule) for r in rules for d in r.decide(s)] == [
        ("budget", "monthly"),
        ("spike", "hourly"),
    ]


def test_a_budget_the_totals_cannot_answer_leaves_the_others_deciding(
    caplog: pytest.LogCaptureFixture,
) -> None:
    totals = totals_with(call(berlin("2026-11-19 10:00"), "45"))
    tagged = budget(name="tagged", scope={"tag.project": "x"})
    s = situation(NOW, totals, budgets=[tagged, budget()])
    assert [d.rule for d in BudgetRule().decide(s)] == ["monthly"]
    assert "budget tagged: cannot scope totals by 'tag.project'" in caplog.text


# ---------------------------------------------------------------- thresholds


def test_threshold_title_matches_design_exactly() -> None:
    totals = totals_with(call(berlin("2026-11-05 10:00"), "40.12"))
    [d] = decide(budget(), totals, NOW)
    assert d.title == "llm-monitor: budget 'monthly' at 80 % ($40.12 of $50.00)"
    assert (d.kind, d.rule, d.period, d.threshold) == ("budget", "monthly", "2026-11", "0.8")
    assert d.severity == "warning" and not d.quiet_exempt


def test_a_sub_cent_spend_is_titled_with_the_digits_that_make_it_true() -> None:
    totals = totals_with(call(berlin("2026-11-05 10:00"), "0.005"))
    [d] = decide(budget("0.01"), totals, NOW)
    assert d.title == "llm-monitor: budget 'monthly' at 50 % ($0.005 of $0.01)"
    assert d.body.startswith("Spent $0.005 of $0.01 (50 %)")


def test_each_threshold_crossed_in_turn_is_decided_once() -> None:
    b, totals, known = budget(), totals_with(), set[AlertKey]()
    titles = []
    for cost in ("10", "15", "5", "10", "10", "3"):  # spend: 10, 25, 30, 40, 50, 53
        totals.add(call(berlin("2026-11-19 10:00"), cost))
        for d in decide(b, totals, NOW, known):
            known.add(d.key)
            titles.append((d.title, d.severity))
        assert decide(b, totals, NOW, known) == []
    assert titles == [
        ("llm-monitor: budget 'monthly' at 50 % ($25.00 of $50.00)", "warning"),
        ("llm-monitor: budget 'monthly' at 80 % ($40.00 of $50.00)", "warning"),
        ("llm-monitor: budget 'monthly' at 100 % ($50.00 of $50.00)", "failure"),
    ]


def test_several_thresholds_at_once_decide_only_the_highest_and_never_the_lower_later() -> None:
    totals = totals_with(call(berlin("2026-11-19 10:00"), "45"))
    [d] = decide(budget(), totals, NOW)
    assert d.threshold == "0.8"
    assert decide(budget(), totals, NOW, {d.key}) == []


def test_full_budget_is_a_failure_exempt_from_quiet_hours() -> None:
    totals = totals_with(call(berlin("2026-11-19 10:00"), "60"))
    [d] = decide(budget(), totals, NOW)
    assert d.title == "llm-monitor: budget 'monthly' at 100 % ($60.00 of $50.00)"
    assert d.severity == "failure" and d.quiet_exempt


def test_raising_the_limit_refires_nothing_and_lowering_it_fires_the_new_threshold() -> None:
    totals = totals_with(call(berlin("2026-11-19 10:00"), "45"))
    known = {d.key for d in decide(budget("50"), totals, NOW)}
    assert known == {("budget", "monthly", "2026-11", "0.8")}
    totals.add(call(berlin("2026-11-19 11:00"), "10"))  # $55: 55 % of the raised limit
    assert decide(budget("100"), totals, NOW, known) == []
    [d] = decide(budget("40"), totals, NOW, known)
    assert d.title == "llm-monitor: budget 'monthly' at 100 % ($55.00 of $40.00)"


def test_a_new_period_rearms_the_thresholds() -> None:
    b = budget("10", period="day", name="daily")
    totals = totals_with(
        call(berlin("2026-11-19 20:00"), "6"), call(berlin("2026-11-20 09:00"), "6")
    )
    [first] = decide(b, totals, berlin("2026-11-19 23:00"))
    [second] = decide(b, totals, berlin("2026-11-20 10:00"), {first.key})
    assert (first.period, second.period) == ("2026-11-19", "2026-11-20")
    assert first.threshold == second.threshold == "0.5"


def test_week_period_is_the_iso_week() -> None:
    totals = totals_with(call(berlin("2026-11-23 09:00"), "30"))
    [d] = decide(budget(period="week", name="weekly"), totals, berlin("2026-11-23 10:00"))
    assert d.period == "2026-W48"


def test_scope_counts_only_matching_calls() -> None:
    totals = totals_with(
        call(berlin("2026-11-19 10:00"), "30", provider="anthropic", model="claude-sonnet-4-5"),
        call(berlin("2026-11-19 10:00"), "40", provider="openai"),
        call(berlin("2026-11-19 10:00"), "25", provider="openai", tags={"project": "x"}),
        tags=["project"],
    )
    scoped = budget(name="claude", scope={"provider": "anthropic"})
    [d] = decide(scoped, totals, NOW)
    assert d.title == "llm-monitor: budget 'claude' at 50 % ($30.00 of $50.00)"
    assert "Scope: provider=anthropic" in d.body
    assert "claude-sonnet-4-5 $30.00" in d.body and "gpt-5" not in d.body
    [t] = decide(budget(name="x", scope={"tag.project": "x"}), totals, NOW)
    assert t.title == "llm-monitor: budget 'x' at 50 % ($25.00 of $50.00)"
    assert decide(budget(name="none", scope={"provider": "google"}), totals, NOW) == []


def test_zero_limit_alerts_on_the_first_spend_only() -> None:
    assert decide(budget("0"), totals_with(), NOW) == []
    [d] = decide(budget("0"), totals_with(call(berlin("2026-11-19 10:00"), "0.01")), NOW)
    assert d.threshold == "1.0" and d.severity == "failure"


def history(per_day: str, first: int, last: int) -> list[UsageEvent]:
    return [call(berlin(f"2026-11-{d:02d} 12:00"), per_day) for d in range(first, last + 1)]


def test_forecast_over_the_limit_is_decided_once_per_period() -> None:
    totals = totals_with(*history("4", 1, 9), call(berlin("2026-11-10 09:00"), "2"))
    now = berlin("2026-11-10 12:00")
    b = budget("100", forecast=True)
    fc = totals.forecast("month", now)
    [d] = decide(b, totals, now)
    assert d.title == f"llm-monitor: budget 'monthly' forecast ${fc.expected:.2f} of $100.00"
    assert (d.kind, d.threshold, d.period, d.severity) == (
        "forecast",
        "forecast",
        "2026-11",
        "warning",
    )
    assert decide(b, totals, now + timedelta(hours=5), {d.key}) == []
    december = berlin("2026-12-01 12:00")
    for e in history("5", 24, 30):
        totals.add(e)
    assert [x.period for x in decide(b, totals, december, {d.key})] == ["2026-12"]


def test_forecast_waits_for_a_complete_day_and_stops_once_over_the_limit() -> None:
    b = budget("100", forecast=True)
    first_day = totals_with(call(berlin("2026-11-10 01:30"), "10"))  # pace: $240/day
    assert decide(b, first_day, berlin("2026-11-10 02:00")) == []
    over = totals_with(*history("20", 1, 6))
    assert [d.kind for d in decide(b, over, berlin("2026-11-07 12:00"))] == ["budget"]
    assert decide(budget("100", forecast=False), totals_with(*history("4", 1, 9)), NOW) == []


def test_body_tells_spend_forecast_band_run_out_date_and_top_spenders() -> None:
    events = [*history("3", 1, 9)]
    events += [call(berlin("2026-11-10 09:00"), "9", model="o3", source="codex")]
    totals = totals_with(*events)
    [d] = decide(budget("40"), totals, berlin("2026-11-10 12:00"))
    fc = totals.forecast("month", berlin("2026-11-10 12:00"))
    lines = d.body.splitlines()
    assert lines[0] == "Spent $36.00 of $40.00 (90 %) in month 2026-11."
    assert lines[1] == (
        f"Forecast for the month: ${fc.expected:.2f} (range ${fc.low:.2f}–${fc.high:.2f})."
    )
    assert lines[2] == "At this pace the budget runs out on 2026-11-11."
    assert lines[3] == "Top models: gpt-5 $27.00, o3 $9.00"
    assert lines[4] == "Top sources: studio $27.00, codex $9.00"


# ---------------------------------------------------------------- spikes


def spikes(
    totals: Totals,
    now: datetime,
    events: Iterable[UsageEvent] = (),
    known: set[AlertKey] | None = None,
    **limits: str,
) -> list[Decision]:
    alerts = AlertsConfig(
        spike_call_cost=Decimal(limits.get("call_cost", "0")),
        spike_hourly=Decimal(limits.get("hourly", "0")),
    )
    return SpikeRule().decide(situation(now, totals, known, alerts=alerts, events=events))


def test_one_expensive_call_alerts_once_even_as_it_grows() -> None:
    e = call(berlin("2026-11-20 11:50"), "3.2", model="claude-opus-4-1", key="msg-1")
    [d] = spikes(totals_with(e), NOW, [e, e], call_cost="2")
    assert d.title == "llm-monitor: spike $3.20 in one call to claude-opus-4-1 (over $2.00)"
    assert (d.kind, d.rule, d.period, d.quiet_exempt) == ("spike", "call", "msg-1", True)
    grown = e.replace(cost=Decimal("4"))
    assert spikes(totals_with(grown), NOW, [grown], {d.key}, call_cost="2") == []


def test_cheap_unpriced_and_backfilled_calls_are_not_spikes() -> None:
    events = [
        call(berlin("2026-11-20 11:50"), "1.99"),
        call(berlin("2026-11-20 11:50"), "0").replace(cost=None),
        call(berlin("2026-11-20 10:30"), "9"),  # 90 minutes old: a backfill
    ]
    assert spikes(totals_with(), NOW, events, call_cost="2") == []


def test_hourly_spend_over_the_limit_alerts_once_per_local_hour() -> None:
    totals = totals_with(
        call(berlin("2026-11-20 11:30"), "6"), call(berlin("2026-11-20 11:55"), "6")
    )
    [d] = spikes(totals, NOW, hourly="10")
    assert d.title == "llm-monitor: spike $12.00 in the last hour (over $10.00)"
    assert d.period == "2026-11-20T12+0100"
    assert spikes(totals, NOW + timedelta(minutes=20), known={d.key}, hourly="10") == []
    totals.add(call(berlin("2026-11-20 12:58"), "11"))
    [later] = spikes(totals, berlin("2026-11-20 13:05"), known={d.key}, hourly="10")
    assert later.period == "2026-11-20T13+0100"
    assert spikes(totals, NOW, hourly="20") == []


# ---------------------------------------------------------------- health


def source(name: str = "studio", expect_every: timedelta | None = None) -> SourceConfig:
    return SourceConfig(
        name, "studio-tokens", ("/data/**/tokens.jsonl",), BERLIN, "Europe/Berlin",
        expect_every=expect_every,
    )  # fmt: skip


def test_parse_errors_jumping_alert_once_per_source_and_day() -> None:
    watch, start = HealthWatch(), berlin("2026-11-20 09:00")
    sources = [source()]

    def check(minutes: int, events: int, errors: int, known: set[AlertKey]) -> list[Decision]:
        stats = {"studio": {"events": events, "errors": errors}}
        now = start + timedelta(minutes=minutes)
        return watch.check(now, BERLIN, sources, stats, since=start, known=known)

    known: set[AlertKey] = set()
    assert check(0, 1000, 500, known) == []  # errors from before watching began
    assert check(10, 1100, 505, known) == []  # a few bad lines among many good ones
    [d] = check(20, 1105, 530, known)
    assert (
        d.title
        == "llm-monitor: health source 'studio': 30 of 135 records unreadable in the last hour"
    )
    assert (d.kind, d.rule, d.period, d.threshold) == ("health", "studio", "2026-11-20", "errors")
    known.add(d.key)
    assert check(30, 1105, 560, known) == []


def test_errors_older_than_the_window_do_not_count() -> None:
    watch, start = HealthWatch(), berlin("2026-11-20 09:00")
    stats = {"studio": {"events": 0, "errors": 0}}
    watch.check(start, BERLIN, [source()], stats, since=start)
    stats = {"studio": {"events": 0, "errors": 6}}
    watch.check(start + timedelta(minutes=5), BERLIN, [source()], stats, since=start)
    stats = {"studio": {"events": 0, "errors": 12}}
    later = start + timedelta(minutes=70)
    assert watch.check(later, BERLIN, [source()], stats, since=start) == []


def test_silent_source_alerts_once_per_silence() -> None:
    s = source(expect_every=timedelta(hours=2))
    last = berlin("2026-11-20 08:00")
    start = berlin("2026-11-20 07:00")
    watch = HealthWatch()
    stats = {"studio": {"events": 5, "errors": 0, "last_event": last}}
    assert watch.check(berlin("2026-11-20 09:59"), BERLIN, [s], stats, since=start) == []
    [d] = watch.check(berlin("2026-11-20 11:00"), BERLIN, [s], stats, since=start)
    assert d.title == "llm-monitor: health source 'studio' silent for 3h (expected every 2h)"
    assert d.period == "2026-11-20T07:00:00+00:00" and d.threshold == "silent"
    again = watch.check(berlin("2026-11-20 15:00"), BERLIN, [s], stats, since=start, known={d.key})
    assert again == []
    never = watch.check(berlin("2026-11-20 10:00"), BERLIN, [s], {}, since=start)
    assert [x.period for x in never] == ["never"]


# ---------------------------------------------------------------- quiet hours


QUIET = (time(22, 0), time(7, 0))


def test_quiet_hours_span_midnight_and_end_at_local_wall_clock() -> None:
    assert quiet_until(QUIET, berlin("2026-11-20 21:59"), BERLIN) is None
    assert quiet_until(QUIET, berlin("2026-11-20 23:00"), BERLIN) == berlin("2026-11-21 07:00")
    assert quiet_until(QUIET, berlin("2026-11-21 03:00"), BERLIN) == berlin("2026-11-21 07:00")
    assert quiet_until(QUIET, berlin("2026-11-21 07:00"), BERLIN) is None
    daytime = (time(12, 0), time(14, 0))
    assert quiet_until(daytime, berlin("2026-11-21 13:00"), BERLIN) == berlin("2026-11-21 14:00")
    assert quiet_until(None, berlin("2026-11-21 03:00"), BERLIN) is None


def test_quiet_hours_end_is_dst_safe() -> None:
    # The night of 2026-03-29 loses an hour: 07:00 CEST is 05:00 UTC, not 06:00.
    until = quiet_until(QUIET, berlin("2026-03-28 23:00"), BERLIN)
    assert until == datetime(2026, 3, 29, 5, 0, tzinfo=UTC)
    until = quiet_until(QUIET, berlin("2026-10-24 23:00"), BERLIN)
    assert until == datetime(2026, 10, 25, 6, 0, tzinfo=UTC)


def test_quiet_hours_hold_warnings_not_the_full_budget_alert() -> None:
    totals = totals_with(call(berlin("2026-11-19 10:00"), "45"))
    warning = decide(budget(), totals, NOW)[0]
    totals.add(call(berlin("2026-11-19 11:00"), "10"))
    failure = decide(budget(), totals, NOW, {warning.key})[0]
    held = apply_quiet_hours([warning, failure], QUIET, berlin("2026-11-20 23:30"), BERLIN)
    assert [d.hold_until for d in held] == [berlin("2026-11-21 07:00"), None]
    assert apply_quiet_hours([warning], QUIET, berlin("2026-11-20 12:00"), BERLIN) == [warning]


def test_threshold_and_percent_spelling() -> None:
    assert [threshold_text(Decimal(x)) for x in ("0.50", "0.8", "1", "1.0", "1.25")] == [
        "0.5", "0.8", "1.0", "1.0", "1.25",
    ]  # fmt: skip
    assert [percent_text(Decimal(x)) for x in ("0.8", "1.0", "0.333", "1.25")] == [
        "80", "100", "33.3", "125",
    ]  # fmt: skip


# ---------------------------------------------------------------- plan limits


def window(pct: float, resets: datetime, tool: str = "codex", minutes: int = 300) -> Any:
    from monitor.limits import LimitSnapshot

    return LimitSnapshot(tool, minutes, pct, resets.astimezone(UTC), NOW.astimezone(UTC), "plus")


def limit_decisions(
    snapshots: Iterable[Any], known: set[AlertKey] | None = None, **config: Any
) -> list[Decision]:
    from dataclasses import replace

    from monitor.rules.limit import LimitRule

    s = situation(NOW, totals_with(), known)
    s = replace(s, limits=tuple(snapshots), config=replace(s.config, **config))
    return LimitRule().decide(s)


def test_a_reported_window_warns_at_80_and_95_once_each_per_window() -> None:
    resets = berlin("2026-11-20 14:05")
    known: set[AlertKey] = set()
    titles = []
    for pct in (50.0, 81.0, 85.0, 96.0, 99.0):
        for d in limit_decisions([window(pct, resets)], known):
            known.add(d.key)
            titles.append((d.title, d.quiet_exempt))
    assert titles == [
        ("llm-monitor: limit 'codex 5h' at 80 % (resets 14:05)", False),
        ("llm-monitor: limit 'codex 5h' at 95 % (resets 14:05)", True),
    ]
    # The next window (a new resets_at) re-arms both.
    [again] = limit_decisions([window(82.0, berlin("2026-11-20 19:05"))], known)
    assert again.title == "llm-monitor: limit 'codex 5h' at 80 % (resets 19:05)"


def test_a_jump_over_both_thresholds_sends_only_95_and_80_never_follows() -> None:
    resets = berlin("2026-11-20 14:05")
    [d] = limit_decisions([window(97.0, resets)])
    assert d.threshold == "0.95"
    assert limit_decisions([window(98.0, resets)], {d.key}) == []


def test_limits_config_sets_thresholds_or_turns_a_window_off() -> None:
    from decimal import Decimal

    from monitor.config import LimitConfig

    resets = berlin("2026-11-20 14:05")
    weekly = window(60.0, berlin("2026-11-24 09:00"), minutes=10080)
    custom = (
        LimitConfig("codex", "7d", (Decimal("0.5"),)),
        LimitConfig("codex", "5h", enabled=False),
    )
    [d] = limit_decisions([window(90.0, resets), weekly], limits=custom)
    assert d.title.startswith("llm-monitor: limit 'codex 7d' at 50 %")


def test_a_window_whose_reset_has_passed_warns_no_more() -> None:
    assert limit_decisions([window(99.0, NOW - timedelta(minutes=1))]) == []


def test_an_estimated_window_warns_only_when_its_size_is_configured() -> None:
    from decimal import Decimal

    from monitor.blocks import Block, BlockLimit, Estimate
    from monitor.limits import estimated

    start = berlin("2026-11-20 10:00").astimezone(UTC)
    block = Block(start, start + timedelta(hours=5), start, NOW.astimezone(UTC), 3, 8500)
    block.cost = Decimal("1.20")
    sized = estimated(Estimate("claude", block, BlockLimit(10_000, None)))
    [d] = limit_decisions([sized])
    assert d.title == "llm-monitor: limit 'claude 5h' at 80 % (estimated, resets 15:00)"
    assert "8,500 tokens ($1.20) of the configured 10,000 tokens: 85 %" in d.body
    learned = estimated(Estimate("claude", block, BlockLimit(10_000, None, learned_from=12)))
    assert limit_decisions([learned]) == []
