"""Calendar periods in a time zone: the one place that knows what "today", "this week"
and "this month" mean — for the running totals and for the words a date may be given as.

A day, ISO week (Monday first) or calendar month is a range of *local dates* in the
configured zone. Its UTC bounds come from constructing local midnights, never from
adding 24 h, so the day of a DST change is 23 or 25 hours long and still one period.
Which period is current is a function of `now` alone.

Relative dates (`relative_days`): the words `--since`, `--until` and the ranges of
`compare` / `estimate --like` take besides ISO dates, each a range of whole local days
(first and last, both inclusive) counted from today's local date:

- `today`, `yesterday`: that one day;
- `Nd` (`7d`, `30d`, any N >= 1): the last N days including today, today - (N-1) .. today;
- `this-week`, `last-week`: the ISO week (Monday to Sunday) holding today, the one before;
- `this-month`, `last-month`: the calendar month holding today, the one before.

Used as a start a word means its first day, as an end its last day, alone (a selection's
one-day part) both. Being whole local days, they hold 23 or 25 hours across a DST change.

A local hour (`hour_key`) is named by its start with its UTC offset,
"2026-10-25T02:00+02:00": the offset tells the repeated hour of a DST change apart
("…T02:00+01:00" is the second one).

Pure: no I/O, no clock (`now` is always a parameter), no SQL. `tz` must be a PEP 495
tzinfo (`zoneinfo.ZoneInfo`, `datetime.timezone`); pytz zones are not supported (they
need `localize`).

    >>> from zoneinfo import ZoneInfo
    >>> berlin = ZoneInfo("Europe/Berlin")
    >>> period_label("week", date(2026, 11, 23))
    '2026-W48'
    >>> period_bounds("day", datetime(2026, 3, 29, 12, tzinfo=UTC), berlin)[0].isoformat()
    '2026-03-28T23:00:00+00:00'
    >>> [d.isoformat() for d in relative_days("last-week", date(2026, 10, 25))]
    ['2026-10-12', '2026-10-18']
    >>> hour_key(datetime(2026, 10, 25, 1, 30, tzinfo=UTC), berlin)
    '2026-10-25T02:00+01:00'
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


RELATIVE_WORDS: Final = (
    "today",
    "yesterday",
    "Nd",
    "this-week",
    "last-week",
    "this-month",
    "last-month",
)
"""The relative dates, as help texts and errors list them (`Nd`: `7d`, `30d`, …)."""

_ONE_DAY: Final = timedelta(days=1)
_THIS: Final[Mapping[str, Period]] = {"this-week": "week", "this-month": "month"}
_LAST: Final[Mapping[str, Period]] = {"last-week": "week", "last-month": "month"}


def relative_days(text: str, today: date) -> tuple[date, date] | None:
    """The first and last local date (both inclusive) a relative word names, counted from
    `today` (the local date now); None when `text` is no such word (see the module
    docstring). ValueError for `0d` or a count reaching before year 1."""
    word = text.strip().lower()
    if word == "today":
        return today, today
    if word == "yesterday":
        return today - _ONE_DAY, today - _ONE_DAY
    if word in _THIS:
        first, end = period_days(_THIS[word], today)
        return first, end - _ONE_DAY
    if word in _LAST:
        first, _ = period_days(_LAST[word], today)
        before, end = period_days(_LAST[word], first - _ONE_DAY)
        return before, end - _ONE_DAY
    if len(word) > 1 and word[-1] == "d" and word[:-1].isascii() and word[:-1].isdigit():
        n = int(word[:-1])
        if n < 1:
            raise ValueError(f"{text.strip()!r}: the last N days need N >= 1")
        try:
            return today - timedelta(days=n - 1), today
        except OverflowError:
            raise ValueError(f"{text.strip()!r} reaches before year 1") from None
    return None


def hour_start(ts: datetime, tz: tzinfo) -> datetime:
    """The start of the local hour an instant falls in, aware in `tz` (naive: UTC)."""
    return utc(ts).astimezone(tz).replace(minute=0, second=0, microsecond=0)


def hour_key(ts: datetime, tz: tzinfo) -> str:
    """The local hour an instant falls in as `report --by hour` names it:
    "2026-11-20T14:00+01:00" (its start, ISO 8601 with the UTC offset)."""
    return hour_start(ts, tz).isoformat(timespec="minutes")


def hour_label(now: datetime, tz: tzinfo) -> str:
    """The local hour `now` falls in, "2026-11-23T14+0100": the UTC offset keeps the
    repeated hour of a DST change apart."""
    return utc(now).astimezone(tz).strftime("%Y-%m-%dT%H%z")


__all__ = [
    "DOC_KEYS",
    "PERIODS",
    "RELATIVE_WORDS",
    "Period",
    "hour_key",
    "hour_label",
    "hour_start",
    "local_day",
    "local_midnight",
    "period_bounds",
    "period_days",
    "period_label",
    "relative_days",
]
