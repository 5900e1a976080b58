"""Running totals, periods, burn rate and forecasts on fixed series and fixed clocks."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.events import UsageEvent
from monitor.forecast import forecast, runs_out_on
from monitor.periods import local_day, period_bounds
from monitor.totals import Totals
from tests.factories import usage_event

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(text: str) -> datetime:
    """A Berlin wall-clock time (never an ambiguous one) as an aware datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


def z(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def event(ts: datetime, cost: str | None = "1", **fields: object) -> UsageEvent:
    return usage_event(ts, cost, **fields)


def totals_with(*events: UsageEvent, **options: object) -> Totals:
    totals = Totals(BERLIN, **options)  # type: ignore[arg-type]
    for e in events:
        totals.add(e)
    return totals


# ---------------------------------------------------------------- periods


def test_day_bounds_are_local_midnights_in_utc() -> None:
    assert period_bounds("day", berlin("2026-01-15 12:00"), BERLIN) == (
        z("2026-01-14 23:00"),
        z("2026-01-15 23:00"),
    )


def test_spring_forward_day_is_23_hours_long() -> None:
    start, end = period_bounds("day", berlin("2026-03-29 12:00"), BERLIN)
    assert (start, end) == (z("2026-03-28 23:00"), z("2026-03-29 22:00"))
    assert end - start == timedelta(hours=23)


def test_fall_back_day_is_25_hours_long() -> None:
    start, end = period_bounds("day", berlin("2026-10-25 12:00"), BERLIN)
    assert (start, end) == (z("2026-10-24 22:00"), z("2026-10-25 23:00"))
    assert end - start == timedelta(hours=25)


def test_week_bounds_run_monday_to_monday_local() -> None:
    # Sunday 2026-03-29 is the spring-forward day: the week is 167 hours long.
    start, end = period_bounds("week", berlin("2026-03-29 23:59"), BERLIN)
    assert (start, end) == (z("2026-03-22 23:00"), z("2026-03-29 22:00"))
    assert period_bounds("week", berlin("2026-03-30 00:00"), BERLIN)[0] == z("2026-03-29 22:00")


def test_month_bounds_cross_year_end() -> None:
    assert period_bounds("month", berlin("2026-12-31 23:59"), BERLIN) == (
        z("2026-11-30 23:00"),
        z("2026-12-31 23:00"),
    )


def test_unknown_period_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown period"):
        period_bounds("year", berlin("2026-01-01 00:00"), BERLIN)  # type: ignore[arg-type]


def test_local_day_follows_the_zone_not_utc() -> None:
    assert local_day(z("2026-06-30 22:30"), BERLIN) == date(2026, 7, 1)
    assert local_day(z("2026-06-30 21:59"), BERLIN) == date(2026, 6, 30)


# ---------------------------------------------------------------- sums


def test_sums_per_day_week_and_month_in_berlin() -> None:
    totals = totals_with(
        event(berlin("2026-06-01 09:00"), "1.5"),  # Monday, other week, same month
        event(berlin("2026-06-10 00:30"), "2"),  # Wednesday
        event(berlin("2026-06-11 23:59"), "0.25"),  # Thursday
        event(berlin("2026-06-12 08:00"), "4", input_tokens=100, output_tokens=20),  # today
        event(berlin("2026-05-31 23:59"), "100"),  # previous month
    )
    now = berlin("2026-06-12 18:00")
    summary = totals.summary(now)
    assert summary.today.cost == Decimal("4")
    assert summary.today.usage.input_tokens == 100
    assert summary.today.usage.output_tokens == 20
    assert summary.week.cost == Decimal("6.25")
    assert summary.week.calls == 3
    assert summary.month.cost == Decimal("7.75")
    assert totals.spent("month", now) == Decimal("7.75")
    assert (summary.month.start, summary.month.end) == period_bounds("month", now, BERLIN)


def test_sums_are_exact_to_the_nano_dollar() -> None:
    totals = totals_with(*(event(berlin("2026-06-12 08:00"), "0.000000075") for _ in range(3)))
    assert totals.spent("day", berlin("2026-06-12 09:00")) == Decimal("0.000000225")


def test_spring_forward_day_is_one_bucket_with_both_sides_of_the_jump() -> None:
    totals = totals_with(
        event(z("2026-03-28 22:59"), "100"),  # 23:59 CET on the 28th
        event(z("2026-03-28 23:00"), "1"),  # 00:00 CET: first moment of the 29th
        event(z("2026-03-29 00:59"), "2"),  # 01:59 CET, just before the jump
        event(z("2026-03-29 01:00"), "4"),  # 03:00 CEST, just after
        event(z("2026-03-29 21:59"), "8"),  # 23:59 CEST, last minute of the day
        event(z("2026-03-29 22:00"), "1000"),  # 00:00 CEST on the 30th
    )
    assert totals.spent("day", z("2026-03-29 12:00")) == Decimal("15")
    assert totals.spent("day", z("2026-03-28 12:00")) == Decimal("100")
    assert totals.summary(z("2026-03-30 10:00")).today.cost == Decimal("1000")


def test_fall_back_day_is_one_bucket_with_both_sides_of_the_change() -> None:
    totals = totals_with(
        event(z("2026-10-24 21:59"), "100"),  # 23:59 CEST on the 24th
        event(z("2026-10-25 00:30"), "1"),  # 02:30 CEST, first pass
        event(z("2026-10-25 01:30"), "2"),  # 02:30 CET, second pass
        event(z("2026-10-25 22:59"), "4"),  # 23:59 CET
        event(z("2026-10-25 23:00"), "1000"),  # 00:00 CET on the 26th
    )
    assert totals.spent("day", z("2026-10-25 12:00")) == Decimal("7")
    assert totals.spent("day", z("2026-10-24 12:00")) == Decimal("100")
    assert totals.spent("day", z("2026-10-26 12:00")) == Decimal("1000")


def test_month_rolls_over_at_local_midnight_without_a_new_event() -> None:
    totals = totals_with(event(berlin("2026-01-31 20:00"), "5"))
    before = totals.summary(berlin("2026-01-31 23:59:59"))
    assert (before.today.cost, before.month.cost) == (Decimal("5"), Decimal("5"))
    after = totals.summary(berlin("2026-02-01 00:00:01"))
    assert after.today.cost == Decimal("0")
    assert after.month.cost == Decimal("0")
    assert after.week.cost == Decimal("5")  # Sunday 1 Feb still belongs to Jan 26's week
    assert after.daily == (Decimal("0"),)


def test_week_starts_at_monday_local_midnight() -> None:
    totals = totals_with(
        event(berlin("2026-03-01 23:59"), "1"),  # Sunday
        event(berlin("2026-03-02 00:00"), "2"),  # Monday
    )
    assert totals.spent("week", berlin("2026-03-01 23:59:30")) == Decimal("1")
    assert totals.spent("week", berlin("2026-03-02 00:00:30")) == Decimal("2")


def test_week_spanning_a_month_boundary_counts_both_months() -> None:
    totals = totals_with(
        event(berlin("2026-06-28 12:00"), "100"),  # Sunday before the week
        event(berlin("2026-06-30 12:00"), "1"),
        event(berlin("2026-07-02 12:00"), "2"),
    )
    now = berlin("2026-07-03 12:00")
    assert totals.spent("week", now) == Decimal("3")
    assert totals.spent("month", now) == Decimal("2")


def test_streamed_copy_adds_only_the_difference_once() -> None:
    first = event(berlin("2026-06-12 08:00"), "0.10", input_tokens=100, output_tokens=5)
    grown = first.replace(cost=Decimal("0.25"), output_tokens=40)
    totals = totals_with(first)
    totals.add(grown, previous=first)
    today = totals.summary(berlin("2026-06-12 09:00")).today.usage
    assert (today.cost, today.calls, today.input_tokens, today.output_tokens) == (
        Decimal("0.25"),
        1,
        100,
        40,
    )
    assert totals.burn_per_hour(berlin("2026-06-12 08:30")) == Decimal("0.25")


def test_streamed_copy_that_moved_bucket_leaves_the_old_one() -> None:
    first = event(berlin("2026-06-11 23:59:59"), "0.10", model="gpt-5-mini")
    grown = first.replace(ts=berlin("2026-06-12 00:00:01"), cost=Decimal("0.30"), model="gpt-5")
    totals = totals_with(first)
    totals.add(grown, previous=first)
    now = berlin("2026-06-12 00:10")
    assert totals.spent("day", now) == Decimal("0.30")
    assert totals.spent("day", berlin("2026-06-11 12:00")) == Decimal("0")
    month = totals.summary(now).month
    assert month.calls == 1
    assert [(model, usage.calls) for model, usage in month.by["model"]] == [("gpt-5", 1)]


def test_unpriced_calls_are_counted_as_unpriced_not_as_free() -> None:
    totals = totals_with(
        event(berlin("2026-06-12 08:00"), None, model="my-finetune", calls=3),
        event(berlin("2026-06-12 08:05"), "2"),
    )
    today = totals.summary(berlin("2026-06-12 09:00")).today
    assert today.cost == Decimal("2")
    assert today.calls == 4
    assert today.usage.unpriced_calls == 3
    rows = dict(today.by["model"])
    assert rows["my-finetune"].unpriced_calls == 3
    assert rows["gpt-5"].unpriced_calls == 0


def test_streamed_copy_that_gained_a_price_stops_being_unpriced() -> None:
    first = event(berlin("2026-06-12 08:00"), None)
    priced = first.replace(cost=Decimal("1"), cost_basis="priced")
    totals = totals_with(first)
    totals.add(priced, previous=first)
    usage = totals.summary(berlin("2026-06-12 09:00")).today.usage
    assert (usage.cost, usage.calls, usage.unpriced_calls) == (Decimal("1"), 1, 0)


def test_breakdowns_by_every_dimension_sorted_by_cost() -> None:
    totals = totals_with(
        event(berlin("2026-06-12 08:00"), "1", source="cc", provider="anthropic", model="opus"),
        event(berlin("2026-06-12 08:10"), "3", source="cc", provider="anthropic", model="sonnet"),
        event(berlin("2026-06-12 08:20"), "2", source="qc", operation="check"),
        event(berlin("2026-06-10 08:20"), "10", source="qc", operation="check"),
    )
    summary = totals.summary(berlin("2026-06-12 09:00"))
    today = summary.today.by

    def costs(rows: tuple[tuple[str | None, object], ...]) -> list[tuple[str | None, Decimal]]:
        return [(value, usage.cost) for value, usage in rows]  # type: ignore[attr-defined]

    assert costs(today["source"]) == [("cc", Decimal(4)), ("qc", Decimal(2))]
    assert costs(today["provider"]) == [("anthropic", Decimal(4)), ("openai", Decimal(2))]
    assert costs(today["model"]) == [
        ("sonnet", Decimal(3)),
        ("gpt-5", Decimal(2)),
        ("opus", Decimal(1)),
    ]
    assert costs(today["operation"]) == [(None, Decimal(4)), ("check", Decimal(2))]
    assert costs(summary.week.by["source"]) == [("qc", Decimal(12)), ("cc", Decimal(4))]
    top = totals.summary(berlin("2026-06-12 09:00"), top=1).today.by["model"]
    assert costs(top) == [("sonnet", Decimal(3))]


def test_spent_within_a_budget_scope() -> None:
    totals = totals_with(
        event(berlin("2026-06-12 08:00"), "1", provider="anthropic", model="opus"),
        event(berlin("2026-06-12 08:00"), "2", provider="anthropic", model="sonnet"),
        event(berlin("2026-06-12 08:00"), "4", operation="advocate"),
    )
    now = berlin("2026-06-12 09:00")
    assert totals.spent("day", now, {"provider": "anthropic"}) == Decimal("3")
    assert totals.spent("day", now, {"provider": "anthropic", "model": "opus"}) == Decimal("1")
    assert totals.spent("day", now, {"operation": "advocate"}) == Decimal("4")
    assert totals.spent("day", now, {"source": "elsewhere"}) == Decimal("0")


def test_tracked_tag_scopes_and_breakdowns() -> None:
    totals = totals_with(
        event(berlin("2026-06-12 08:00"), "1", tags={"project": "a", "session": "s1"}),
        event(berlin("2026-06-12 08:00"), "2", tags={"project": "b"}),
        event(berlin("2026-06-12 08:00"), "4"),
        tracked_tags=["project"],
    )
    now = berlin("2026-06-12 09:00")
    assert totals.spent("month", now, {"tag.project": "b"}) == Decimal("2")
    rows = totals.summary(now).month.by["tag.project"]
    assert [(value, usage.cost) for value, usage in rows] == [
        (None, Decimal(4)),
        ("b", Decimal(2)),
        ("a", Decimal(1)),
    ]
    with pytest.raises(ValueError, match="'session' is not tracked"):
        totals.spent("month", now, {"tag.session": "s1"})
    with pytest.raises(ValueError, match="cannot scope totals by 'colour'"):
        totals.spent("month", now, {"colour": "red"})


def test_future_and_old_events_land_in_their_own_day() -> None:
    totals = totals_with(
        event(berlin("2026-06-20 12:00"), "5"),  # future relative to now
        event(berlin("2026-04-01 12:00"), "7"),  # before the kept window
    )
    now = berlin("2026-06-12 12:00")
    assert totals.spent("day", now) == Decimal("0")
    assert totals.spent("month", now) == Decimal("5")
    assert totals.spent("day", berlin("2026-06-20 13:00")) == Decimal("5")


def test_days_older_than_the_window_are_dropped_but_the_month_stays() -> None:
    totals = totals_with(
        event(berlin("2026-05-01 12:00"), "7"),
        event(berlin("2026-07-01 12:00"), "1"),
        event(berlin("2026-07-31 12:00"), "2"),
    )
    now = berlin("2026-07-31 18:00")
    assert totals.spent("month", now) == Decimal("3")
    assert totals.spent("month", berlin("2026-05-15 12:00")) == Decimal("0")  # dropped
    totals.add(event(berlin("2026-05-02 12:00"), "9"))  # behind the window: not kept
    assert totals.spent("month", berlin("2026-05-15 12:00")) == Decimal("0")
    assert totals.spent("month", now) == Decimal("3")


def test_keep_days_below_a_month_and_a_week_is_refused() -> None:
    with pytest.raises(ValueError, match="keep_days"):
        Totals(BERLIN, keep_days=30)


# ---------------------------------------------------------------- burn rate and series


def test_burn_rate_counts_only_the_last_60_minutes() -> None:
    now = berlin("2026-06-12 12:00:30")
    totals = totals_with(
        event(now - timedelta(minutes=59), "1"),
        event(now - timedelta(minutes=61), "10"),
        event(now, "0.5"),
    )
    assert totals.burn_per_hour(now) == Decimal("1.5")
    assert totals.summary(now).burn_per_hour == Decimal("1.5")
    assert totals.burn_per_hour(now, {"provider": "anthropic"}) == Decimal("0")


def test_hourly_series_covers_the_last_24_hours_oldest_first() -> None:
    now = berlin("2026-06-12 12:00")
    totals = totals_with(
        event(now - timedelta(hours=23, minutes=30), "1"),
        event(now - timedelta(hours=24, minutes=30), "100"),
        event(now - timedelta(hours=2, minutes=10), "2"),
        event(now - timedelta(minutes=5), "3"),
    )
    hourly = totals.summary(now).hourly
    assert len(hourly) == 24
    assert hourly[0] == Decimal("1")
    assert hourly[-3] == Decimal("2")
    assert hourly[-1] == Decimal("3")
    assert sum(hourly) == Decimal("6")


def test_daily_series_runs_from_the_first_of_the_month_to_today() -> None:
    totals = totals_with(
        event(berlin("2026-06-30 12:00"), "9"),
        event(berlin("2026-07-01 12:00"), "1"),
        event(berlin("2026-07-03 12:00"), "3"),
    )
    daily = totals.summary(berlin("2026-07-04 12:00")).daily
    assert daily == (Decimal(1), Decimal(0), Decimal(3), Decimal(0))


# ---------------------------------------------------------------- forecasts

# Wednesday 18 Nov 2026, noon: half of today left, then 12 more days in November and
# 4 more in the week (Mon 16 – Sun 22).
NOW = berlin("2026-11-18 12:00")


def series(*daily: str, last: date = date(2026, 11, 17)) -> Totals:
    first = last - timedelta(days=len(daily) - 1)
    return totals_with(
        *(event(berlin(f"{first + timedelta(days=n)} 12:00"), cost) for n, cost in enumerate(daily))
    )


def test_constant_series_forecasts_spent_plus_rate_times_remaining_days() -> None:
    totals = series(*["2"] * 7)  # 11 – 17 Nov
    month = totals.forecast("month", NOW)
    assert month.spent == Decimal("14")
    assert month.rate == Decimal("2")
    assert month.remaining_days == Decimal("12.5")
    assert month.expected == Decimal("14") + 2 * Decimal("12.5")
    assert month.low == month.expected == month.high
    assert month.history_days == 7
    week = totals.forecast("week", NOW)
    assert (week.spent, week.expected, week.low, week.high) == (
        Decimal(4),
        Decimal(13),
        Decimal(13),
        Decimal(13),
    )
    assert totals.summary(NOW).burn_per_day == Decimal("2")


def test_noisy_series_widens_the_band_by_one_standard_deviation() -> None:
    totals = series("1", "3", "1", "3", "1", "3", "2")  # mean 2, sample sd exactly 1
    month = totals.forecast("month", NOW)
    assert month.expected == Decimal("39")
    assert month.low == Decimal("14") + 1 * Decimal("12.5")
    assert month.high == Decimal("14") + 3 * Decimal("12.5")


def test_band_low_never_drops_below_spent() -> None:
    totals = series("0", "0", "0", "0", "0", "0", "14")  # sd > mean
    month = totals.forecast("month", NOW)
    assert month.low == month.spent == Decimal("14")
    assert month.high > month.expected > month.low


def test_days_without_events_count_as_zero_in_the_rate() -> None:
    totals = series("7", "0", "0", "0", "0", "0", "7")
    assert totals.forecast("month", NOW).rate == Decimal("2")


def test_rate_uses_only_the_days_since_the_first_event() -> None:
    totals = series("3", "1")  # history: 16 and 17 Nov
    month = totals.forecast("month", NOW)
    assert month.history_days == 2
    assert month.rate == Decimal("2")


def test_one_day_of_history_gives_a_band_as_wide_as_the_rate() -> None:
    month = series("2").forecast("month", NOW)
    assert month.history_days == 1
    assert (month.low, month.expected, month.high) == (
        Decimal("2"),
        Decimal("2") + 2 * Decimal("12.5"),
        Decimal("2") + 4 * Decimal("12.5"),
    )


def test_no_history_projects_todays_pace() -> None:
    totals = totals_with(event(berlin("2026-11-18 09:00"), "3"))
    month = totals.forecast("month", NOW)
    assert month.history_days == 0
    assert month.rate == Decimal("6")  # $3 in the first half of the day
    assert month.expected == Decimal("3") + 6 * Decimal("12.5")
    assert month.low == Decimal("3")
    assert month.high == Decimal("3") + 12 * Decimal("12.5")


def test_pace_in_the_first_minutes_of_data_counts_at_least_an_hour() -> None:
    totals = totals_with(event(berlin("2026-11-18 00:01"), "1"))
    assert totals.forecast("month", berlin("2026-11-18 00:05")).rate == Decimal("24")


def test_nothing_spent_ever_forecasts_zero() -> None:
    month = Totals(BERLIN).forecast("month", NOW)
    assert (month.spent, month.expected, month.low, month.high) == (Decimal(0),) * 4


def test_day_forecast_projects_the_recent_hourly_pace_over_the_real_hours_left() -> None:
    now = berlin("2026-03-29 12:00")  # 23-hour day: 12 hours left at noon CEST
    totals = totals_with(
        event(berlin("2026-03-29 08:00"), "5"),
        *(event(now - timedelta(minutes=m), "1") for m in (30, 90, 150)),
    )
    day = totals.forecast("day", now)
    assert day.spent == Decimal("8")
    assert day.remaining_days == Decimal(12) / Decimal(23)
    assert day.expected == Decimal("8") + 12
    assert day.low == day.high == day.expected
    assert totals.summary(now).today.forecast == day


def test_day_forecast_band_follows_the_hour_to_hour_spread() -> None:
    now = berlin("2026-06-12 12:00")  # 12 hours left
    totals = totals_with(
        *(event(now - timedelta(minutes=m), c) for m, c in ((30, "3"), (90, "0"), (150, "0")))
    )
    day = totals.forecast("day", now)
    # hours 0, 0, 3: mean 1, sample sd sqrt(3)
    assert day.expected == Decimal("3") + 12
    assert day.low == Decimal("3")
    high = Decimal("3") + 12 * (1 + Decimal(3).sqrt())
    assert abs(day.high - high) < Decimal("1e-8")


def test_forecast_is_a_pure_function_of_the_daily_series() -> None:
    daily = {date(2026, 11, d): 2_000_000_000 for d in range(11, 18)}
    fc = forecast("month", NOW, BERLIN, daily, first_day=date(2026, 11, 11))
    assert fc == series(*["2"] * 7).forecast("month", NOW)


def test_scoped_forecast_only_sees_the_scope() -> None:
    totals = series(*["2"] * 7)
    totals.add(event(berlin("2026-11-17 12:00"), "70", provider="anthropic"))
    scoped = totals.forecast("month", NOW, {"provider": "openai"})
    assert scoped.expected == Decimal("39")


def test_runs_out_on_the_day_spent_plus_rate_reaches_the_limit() -> None:
    month = series(*["2"] * 7).forecast("month", NOW)  # 14 spent, $2/day
    assert runs_out_on(Decimal("30"), month, NOW, BERLIN) == date(2026, 11, 26)
    assert runs_out_on(Decimal("14.5"), month, NOW, BERLIN) == date(2026, 11, 18)
    assert runs_out_on(Decimal("39"), month, NOW, BERLIN) == date(2026, 11, 30)
    assert runs_out_on(Decimal("39.01"), month, NOW, BERLIN) is None


def test_runs_out_today_when_already_reached() -> None:
    month = series(*["2"] * 7).forecast("month", NOW)
    assert runs_out_on(Decimal("10"), month, NOW, BERLIN) == date(2026, 11, 18)


def test_never_runs_out_when_nothing_is_spent_any_more() -> None:
    totals = totals_with(event(berlin("2026-10-01 12:00"), "5"))
    month = totals.forecast("month", NOW)
    assert month.rate == Decimal(0)
    assert runs_out_on(Decimal("1"), month, NOW, BERLIN) is None


# ---------------------------------------------------------------- incremental == recomputed

_day_offsets = st.integers(min_value=0, max_value=5 * 24 * 60)
_records = st.lists(
    st.tuples(
        _day_offsets,
        st.integers(min_value=0, max_value=10**9),
        st.sampled_from(["gpt-5", "opus", None]),
        st.booleans(),
    ),
    max_size=40,
)


@settings(max_examples=60, deadline=None)
@given(_records)
def test_incremental_totals_equal_sums_recomputed_from_the_final_events(
    records: list[tuple[int, int, str | None, bool]],
) -> None:
    """Events, some replaced by a later streamed copy (moved, grown or repriced)."""
    start = z("2026-10-22 00:00")  # spans the fall-back day
    totals = Totals(BERLIN)
    final: dict[str, UsageEvent] = {}
    for n, (minute, nano, model, replace) in enumerate(records):
        cost = None if model is None else str(Decimal(nano) / 10**9)
        new = event(start + timedelta(minutes=minute), cost, model=model or "mystery")
        key = next(iter(final)) if replace and final else f"r{n}"
        new = new.replace(key=key)
        totals.add(new, previous=final.get(key))
        final[key] = new
    now = z("2026-10-27 12:00")
    for day in range(6):
        at = start + timedelta(days=day, hours=12)
        expected = sum(
            (e.cost or Decimal(0) for e in final.values() if local_day(e.ts, BERLIN) == at.date()),
            Decimal(0),
        )
        assert totals.spent("day", at) == expected
    summary = totals.summary(now)
    in_week = [e for e in final.values() if local_day(e.ts, BERLIN) >= date(2026, 10, 26)]
    assert summary.week.calls == len(in_week)
    assert summary.week.usage.unpriced_calls == sum(e.cost is None for e in in_week)


def test_totals_seeded_from_the_ledger_equal_totals_fed_every_call(tmp_path: Path) -> None:
    """`status` without a daemon seeds totals from the rollups and the last day's cost
    per minute (SQLite sums the calls of a minute): spend, burn rate and the hourly series
    come out as if every call had been added one by one."""
    from monitor.ledger import Batch, Ledger
    from monitor.status.from_ledger import totals_from_ledger

    now = berlin("2026-06-12 12:00:30")
    calls = [
        event(now - timedelta(minutes=m, seconds=s), cost, key=f"k{i}", model=model)
        for i, (m, s, cost, model) in enumerate(
            [
                (0, 5, "0.5", "gpt-5"),
                (0, 20, "0.25", "gpt-5"),
                (0, 25, None, "gpt-5"),
                (3, 1, "1", "claude"),
                (3, 2, "2", "claude"),
                (59, 0, "4", "gpt-5"),
                (61, 0, "8", "gpt-5"),
                (23 * 60, 0, "16", "claude"),
                (30 * 60, 0, "32", "claude"),
            ]  # fmt: skip
        )
    ]
    with Ledger(tmp_path / "l.sqlite3", BERLIN, "Europe/Berlin") as ledger:
        ledger.commit(Batch(events=calls))
        seeded = totals_from_ledger(ledger, now).summary(now)
    fed = totals_with(*calls).summary(now)
    assert seeded.burn_per_hour == fed.burn_per_hour == Decimal("7.75")
    assert seeded.hourly == fed.hourly
    assert (seeded.today, seeded.week, seeded.month) == (fed.today, fed.week, fed.month)
