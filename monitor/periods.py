"""Calendar periods in a time zone: the one place that knows what "today", "this week"
and "this month" mean.

A day, ISO week (Monday first) or calendar month is a range of *local dates* in the
configured zone. Its UTC bounds come from constructing local midnights, never from
adding 24 h, so the day of a DST change is 23 or 25 hours long and still one period.
Which period is current is a function of `now` alone.

Pure: no I/O, no clock (`now` is always a parameter), no SQL. `tz` must be a PEP 495
tzinfo (`zoneinfo.ZoneInfo`, `datetime.timezone`); pytz zones are not supported (they
need `localize`).

    >>> from zoneinfo import ZoneInfo
    >>> berlin = ZoneInfo("Europe/Berlin")
    >>> period_label("week", date(2026, 11, 23))
    '2026-W48'
    >>> period_bounds("day", datetime(2026, 3, 29, 12, tzinfo=UTC), berlin)[0].isoformat()
    '2026-03-28T23:00:00+00:00'
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Final, Literal

from monitor.events import utc

if TYPE_CHECKING:
    from monitor.wire import PeriodKey

Period = Literal["day", "week", "month"]
PERIODS: Final[tuple[Period, ...]] = ("day", "week", "month")
DOC_KEYS: Final[Mapping[Period, PeriodKey]] = {"day": "today", "week": "week", "month": "month"}
"""The key each period has in the status document and the socket snapshot."""


def local_day(ts: datetime, tz: tzinfo) -> date:
    """The local calendar date of an instant (naive input is taken as UTC)."""
    return utc(ts).astimezone(tz).date()


def local_midnight(day: date, tz: tzinfo) -> datetime:
    """The UTC instant at which `day` begins locally.

    Where midnight itself is skipped by a DST jump, fold=0 resolves it to the instant of
    the jump, which is the first moment of that day.
    """
    return datetime.combine(day, time(), tzinfo=tz).astimezone(UTC)


def period_days(kind: Period, day: date) -> tuple[date, date]:
    """First local date of the period containing `day`, and the first date after it."""
    if kind == "day":
        return day, day + timedelta(days=1)
    if kind == "week":
        first = day - timedelta(days=day.weekday())
        return first, first + timedelta(days=7)
    if kind == "month":
        first = day.replace(day=1)
        if first.month == 12:
            return first, first.replace(year=first.year + 1, month=1)
        return first, first.replace(month=first.month + 1)
    raise ValueError(f"unknown period {kind!r}; expected one of {', '.join(PERIODS)}")


def period_bounds(kind: Period, now: datetime, tz: tzinfo) -> tuple[datetime, datetime]:
    """Aware UTC [start, end) of the local day / ISO week / month containing `now`."""
    first, end = period_days(kind, local_day(now, tz))
    return local_midnight(first, tz), local_midnight(end, tz)


def period_label(kind: Period, day: date) -> str:
    """The period instance a day belongs to: "2026-11-23", "2026-W48" or "2026-11"."""
    if kind == "day":
        return day.isoformat()
    if kind == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{day.year}-{day.month:02d}"


def hour_label(now: datetime, tz: tzinfo) -> str:
    """The local hour `now` falls in, "2026-11-23T14+0100": the UTC offset keeps the
    repeated hour of a DST change apart."""
    return utc(now).astimezone(tz).strftime("%Y-%m-%dT%H%z")


__all__ = [
    "DOC_KEYS",
    "PERIODS",
    "Period",
    "hour_label",
    "local_day",
    "local_midnight",
    "period_bounds",
    "period_days",
    "period_label",
]
