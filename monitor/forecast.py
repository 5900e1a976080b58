"""Forecasts: where a period's spend ends, with a low–high band, and when a budget runs out.

Pure arithmetic on integer nano-dollars (exact `Decimal`, `Decimal.sqrt` for sigma,
rounded half-even to whole nano-dollars at the end); `now` is always a parameter. The
running totals (totals.py) feed it the daily sums.

Forecast method
---------------
All three periods: forecast = spent so far + rate x remaining time, with a band
rate +/- k·sigma (k = `BAND_K` = 1) held for the whole remaining time. The low end is
clipped so the rate never goes below 0, so low >= spent always.

- Week and month: the rate r is the mean daily spend of the last 7 *complete* local days
  (today excluded, days without events count as $0), or of the complete days since the
  first event seen if there are fewer. sigma is the sample standard deviation of those
  daily totals. Remaining time is counted in local days: the fraction of today still to
  come (by today's real length) plus each later day of the period.
  With one complete day, sigma is unknown and the band is r +/- r. With none (the first
  day of data) r is today's pace, today's spend / elapsed fraction of today (at least
  one hour's worth, so an early call is not blown up), with the same r +/- r band.
- Day: a pace projection from the last `RECENT_HOURS` (3) rolling 60-minute windows:
  rate per hour h = their mean, sigma their sample standard deviation, projected over
  the hours left today. At 08:00 with nothing spent in three hours it forecasts only
  what is spent: it answers "where does today end at this pace", and the typical-day
  view is in the week and month forecasts.

The band treats the rate itself as uncertain (a heavy week tends to stay heavy), so it
grows linearly with the remaining time rather than with its square root: deliberately
wide, never narrower than the truth for a budget warning.

All of it is exact `Decimal` arithmetic on nano-dollars (`Decimal.sqrt` for sigma),
rounded half-even to whole nano-dollars at the end.

`runs_out_on(limit, forecast, now, tz)` is the local date on which spent + r x elapsed
reaches the limit within the period: today if already reached, None if the period ends
first or nothing is being spent.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Final

from monitor.events import from_nano, utc
from monitor.periods import Period, local_day, period_bounds, period_days

RATE_DAYS: Final = 7
RECENT_HOURS: Final = 3
BAND_K: Final = Decimal(1)
MIN_PACE_ELAPSED: Final = timedelta(hours=1)
_ONE_HOUR: Final = timedelta(hours=1)
_ZERO: Final = Decimal(0)


def days_between(first: date, end: date) -> Iterable[date]:
    """Each local date from `first` up to (not including) `end`."""
    for n in range((end - first).days):
        yield first + timedelta(days=n)


@dataclass(frozen=True, slots=True)
class Forecast:
    """Where a period ends if spending goes on at `rate` (see the module docstring)."""

    kind: Period
    spent: Decimal
    expected: Decimal
    low: Decimal
    high: Decimal
    rate: Decimal
    """Expected spend per local day for the rest of the period (day: the pace x day length)."""
    remaining_days: Decimal
    """Local days left in the period, today's rest as a fraction."""
    history_days: int
    """Complete days the rate came from; 0 = today's pace (week/month) or the hourly pace (day)."""


def _mean_sd(values: Sequence[int]) -> tuple[Decimal, Decimal | None]:
    """Mean and sample standard deviation (None below two values), exact in Decimal."""
    n = len(values)
    mean = Decimal(sum(values)) / n
    if n < 2:
        return mean, None
    variance = sum(((Decimal(v) - mean) ** 2 for v in values), _ZERO) / (n - 1)
    return mean, variance.sqrt()


def _whole(amount: Decimal) -> int:
    return int(amount.to_integral_value(rounding=ROUND_HALF_EVEN))


def _fraction(part: timedelta, whole: timedelta) -> Decimal:
    micro = timedelta(microseconds=1)
    return Decimal(part // micro) / Decimal(whole // micro)


def _today_left(now: datetime, tz: tzinfo) -> tuple[Decimal, timedelta]:
    """Fraction of today's real length still to come, and that length."""
    start, end = period_bounds("day", now, tz)
    return _fraction(end - utc(now), end - start), end - start


def forecast(
    kind: Period,
    now: datetime,
    tz: tzinfo,
    daily: Mapping[date, int],
    *,
    first_day: date | None,
    recent_hours: Sequence[int] = (),
    k: Decimal = BAND_K,
) -> Forecast:
    """Forecast the end of the period containing `now` (method: module docstring).

    `daily` maps local dates to spend in nano-dollars and must cover the period and the
    `RATE_DAYS` days before today; `first_day` is the earliest day with data (days before
    it are not history, they are unknown); `recent_hours` are the last rolling 60-minute
    windows' spend in nano-dollars, used by the day forecast.
    """
    today = local_day(now, tz)
    first, end = period_days(kind, today)
    spent = sum(daily.get(day, 0) for day in days_between(first, end))
    today_left, day_length = _today_left(now, tz)
    remaining = today_left + ((end - today).days - 1)
    history = 0
    if kind == "day":
        hours_per_day = _fraction(day_length, _ONE_HOUR)
        if recent_hours:
            per_hour, sd = _mean_sd(recent_hours)
            rate = per_hour * hours_per_day
            spread = rate if sd is None else k * sd * hours_per_day
        else:
            rate = spread = _ZERO
    else:
        since = today - timedelta(days=RATE_DAYS)
        if first_day is not None and first_day > since:
            since = first_day
        past = [daily.get(day, 0) for day in days_between(since, today)] if first_day else []
        if past:
            history = len(past)
            rate, sd = _mean_sd(past)
            spread = rate if sd is None else k * sd
        else:
            elapsed = max(1 - today_left, _fraction(MIN_PACE_ELAPSED, day_length))
            rate = Decimal(daily.get(today, 0)) / elapsed
            spread = rate
    rate_nano = _whole(rate)
    spread_nano = _whole(spread)
    return Forecast(
        kind=kind,
        spent=from_nano(spent),
        expected=from_nano(spent + _whole(rate_nano * remaining)),
        low=from_nano(spent + _whole(max(rate_nano - spread_nano, 0) * remaining)),
        high=from_nano(spent + _whole((rate_nano + spread_nano) * remaining)),
        rate=from_nano(rate_nano),
        remaining_days=remaining,
        history_days=history,
    )


def runs_out_on(limit: Decimal, fc: Forecast, now: datetime, tz: tzinfo) -> date | None:
    """The local date on which spent + rate x elapsed reaches `limit` within the period."""
    today = local_day(now, tz)
    if fc.spent >= limit:
        return today
    if fc.rate <= 0:
        return None
    needed = (limit - fc.spent) / fc.rate
    if needed > fc.remaining_days:
        return None
    today_left, _ = _today_left(now, tz)
    if needed <= today_left:
        return today
    return today + timedelta(days=math.ceil(needed - today_left))
