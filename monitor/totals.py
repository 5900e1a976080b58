"""Rolling totals, burn rates and forecasts: the arithmetic the daemon keeps in memory.

This module owns the running sums behind `status`, the dashboard and budget decisions.
It never does I/O, never reads the clock (`now` is always a parameter), never touches
asyncio, and never holds money as a float: sums are integer nano-dollars (see
`monitor.events`) and leave as `Decimal`.

Periods
-------
Day, ISO week and month bounds come from `monitor.periods` (local midnights, DST-safe):
the day of a DST change is 23 or 25 hours long and still one bucket. Which period is
"current" is a function of `now` alone: a summary one second after local midnight shows
today = 0 even if no event arrived since.

Buckets
-------
`Totals.add` files each event under a *combination* (source, provider, model,
operation and the values of the tracked tags) and into two kinds of bucket:
- per local day: cost, calls, input/output/cache-read/cache-write tokens, unpriced
  calls. Summing a period or a breakdown walks only that period's days and their
  combinations, so an event costs one dict update at ingest and nothing is re-scanned.
- per UTC minute: cost, for the 60-minute burn rate and the 24-hour series. Minute
  resolution means the "last 60 minutes" are the 60 whole minutes ending with the
  current one: an event 59 minutes ago counts, one 61 minutes ago does not.

Days older than `keep_days` (default 40: the current month plus the 7 days the rate
looks at) and minutes older than 48 h are dropped when a query moves `now` past them;
the ledger still holds them. Call `prune(now)` before a large backfill to keep old
minute buckets from being built at all. Future-dated events simply land in their day.

Tags: per-tag sums cost one more key part per event, and a tag with many values
(session ids) would multiply the combinations, so only the tag keys given in
`tracked_tags` are kept; budget scopes and breakdowns name them `tag.KEY`. A scope on an
untracked tag raises `ValueError` rather than silently reporting $0.

Streamed copies: Claude Code rewrites one message with growing usage. The ledger keeps
the largest copy and hands `add` the copy it replaced; only the difference is applied
(if the copy moved to another bucket, the old one is taken out and the new one put in).

Unpriced calls (no cost known) count as calls and as `unpriced_calls`; they add no cost.

Forecasts: `monitor.forecast` (the method is described there).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING, Final, TypeVar

from monitor.events import DIMENSIONS, UsageEvent, from_nano, to_nano, utc
from monitor.forecast import RATE_DAYS, RECENT_HOURS, Forecast, days_between, forecast
from monitor.periods import (
    PERIODS,
    Period,
    local_day,
    local_midnight,
    period_days,
)

if TYPE_CHECKING:
    from monitor.ledger.measures import Sums


KEEP_DAYS: Final = 40
KEEP_MINUTES: Final = 48 * 60

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_HOUR: Final = timedelta(hours=1)
_SLOT_MINUTES: Final = 15  # every real UTC offset is a whole number of quarter hours
_SLOT_CACHE_MAX: Final = 100_000
_ZERO: Final = Decimal(0)

# Positions in a bucket vector (a list of ints).
COST, CALLS, INPUT, OUTPUT, CACHE_READ, CACHE_WRITE, UNPRICED = range(7)
_WIDTH: Final = 7

Combo = tuple[str | None, ...]
_Vector = tuple[int, ...]
_K = TypeVar("_K")


def _add_to(table: dict[_K, list[int]], key: _K, v: Sequence[int]) -> None:
    """Add the vector `v` to `table[key]` (a copy of `v` where the key is new)."""
    acc = table.get(key)
    if acc is None:
        table[key] = list(v)
    else:
        for i in range(_WIDTH):
            acc[i] += v[i]


# ---------------------------------------------------------------- minutes


def _epoch_minute(ts: datetime) -> int:
    return (utc(ts) - _EPOCH) // timedelta(minutes=1)


# ---------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class Usage:
    """Sums over a set of events: what a report row or a period shows."""

    cost: Decimal
    calls: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    unpriced_calls: int

    @classmethod
    def of(cls, vector: Sequence[int]) -> Usage:
        return cls(from_nano(vector[COST]), *vector[CALLS:])


Breakdown = tuple[tuple[str | None, Usage], ...]


@dataclass(frozen=True, slots=True)
class PeriodTotals:
    kind: Period
    start: datetime
    end: datetime
    usage: Usage
    forecast: Forecast
    by: Mapping[str, Breakdown]
    """Per dimension (`source`, `provider`, `model`, `operation`, `tag.KEY`): rows by cost."""

    @property
    def cost(self) -> Decimal:
        return self.usage.cost

    @property
    def calls(self) -> int:
        return self.usage.calls


@dataclass(frozen=True, slots=True)
class TotalsSummary:
    now: datetime
    today: PeriodTotals
    week: PeriodTotals
    month: PeriodTotals
    burn_per_hour: Decimal
    """Spend in the last 60 minutes."""
    burn_per_day: Decimal
    """Mean daily spend of the last 7 complete days: the rate the week/month forecasts use."""
    hourly: tuple[Decimal, ...]
    """24 rolling 60-minute windows, oldest first; the last one is `burn_per_hour`."""
    daily: tuple[Decimal, ...]
    """One per local day of the current month, from the 1st to today."""

    def period(self, kind: Period) -> PeriodTotals:
        return {"day": self.today, "week": self.week, "month": self.month}[kind]


# ---------------------------------------------------------------- running totals


def _vector(event: UsageEvent) -> _Vector:
    cost = event.cost
    unpriced = cost is None or event.cost_basis == "unpriced"
    return (
        0 if cost is None else to_nano(cost),
        event.calls,
        event.input_tokens,
        event.output_tokens,
        event.cache_read_tokens,
        event.cache_write_tokens,
        event.calls if unpriced else 0,
    )


class Totals:
    """Incremental sums per local day and per minute (see the module docstring).

    Not thread-safe; the daemon owns one and feeds it from its ingest task.
    """

    def __init__(
        self,
        tz: tzinfo,
        *,
        tracked_tags: Iterable[str] = (),
        keep_days: int = KEEP_DAYS,
        keep_minutes: int = KEEP_MINUTES,
    ) -> None:
        if keep_days < 35:
            raise ValueError("keep_days must be at least 35 (a month and the rate's week)")
        self.tz = tz
        self.tracked_tags: tuple[str, ...] = tuple(dict.fromkeys(tracked_tags))
        self.dimensions: tuple[str, ...] = DIMENSIONS + tuple(
            f"tag.{key}" for key in self.tracked_tags
        )
        self._keep_days = keep_days
        self._keep_minutes = max(keep_minutes, 24 * 60)
        self._combo_ids: dict[Combo, int] = {}
        self._combos: list[Combo] = []
        self._days: dict[date, dict[int, list[int]]] = {}
        self._minutes: dict[int, dict[int, int]] = {}
        self._slot_days: dict[int, date] = {}
        self._first_day: date | None = None
        self._day_floor: date | None = None
        self._minute_floor: int | None = None

    # ------------------------------------------------------------ ingest

    def add(self, event: UsageEvent, previous: UsageEvent | None = None) -> None:
        """Count a new event, or the growth of a streamed copy over `previous`."""
        place = self._place(event)
        vector = _vector(event)
        if previous is None:
            self._bump(place, vector)
            return
        old_place = self._place(previous)
        old_vector = _vector(previous)
        if place == old_place:
            delta = tuple(a - b for a, b in zip(vector, old_vector, strict=True))
            self._bump(place, delta)
        else:
            self._bump(old_place, tuple(-v for v in old_vector))
            self._bump(place, vector)

    def seed_day(self, day: date, dims: Sequence[str | None], sums: Sums) -> None:
        """Add a pre-summed day bucket (the ledger's daily rollup) without minute detail.

        `dims` are (source, provider, model, operation); tracked tags stay unknown (None).
        Together with `seed_minute` this rebuilds totals from a rollup instead of events.
        """
        combo: Combo = tuple(dims) + (None,) * len(self.tracked_tags)
        vector = (
            sums.cost_nano,
            sums.calls,
            sums.input_tokens,
            sums.output_tokens,
            sums.cache_read_tokens,
            sums.cache_write_tokens,
            sums.unpriced_calls,
        )
        self._bump_day(day, self._combo(combo), vector)

    @property
    def first_day(self) -> date | None:
        return self._first_day

    def seed_first_day(self, day: date) -> None:
        """The day of the first event ever (rates count complete days since then only)."""
        if self._first_day is None or day < self._first_day:
            self._first_day = day

    def seed_minute(self, minute: int, dims: Sequence[str | None], cost_nano: int) -> None:
        """Add a minute's cost (epoch minute) to its bucket only (for burn rates after
        `seed_day`)."""
        combo: Combo = tuple(dims) + (None,) * len(self.tracked_tags)
        if cost_nano and (self._minute_floor is None or minute >= self._minute_floor):
            costs = self._minutes.setdefault(minute, {})
            cid = self._combo(combo)
            costs[cid] = costs.get(cid, 0) + cost_nano

    def _combo(self, combo: Combo) -> int:
        cid = self._combo_ids.get(combo)
        if cid is None:
            cid = self._combo_ids[combo] = len(self._combos)
            self._combos.append(combo)
        return cid

    def _place(self, event: UsageEvent) -> tuple[date, int, int]:
        ts = event.ts
        seconds = (ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)).timestamp()
        minute = int(seconds // 60)
        day = self._slot_days.get(minute // _SLOT_MINUTES)
        if day is None:
            day = self._slot_day(minute // _SLOT_MINUTES, ts)
        combo: Combo = (event.source, event.provider, event.model, event.operation)
        if self.tracked_tags:
            combo += tuple(map(event.tags.get, self.tracked_tags))
        return day, minute, self._combo(combo)

    def _slot_day(self, slot: int, ts: datetime) -> date:
        """The local date of a quarter-hour slot, cached when the whole slot is one date."""
        start = _EPOCH + timedelta(minutes=slot * _SLOT_MINUTES)
        first = start.astimezone(self.tz).date()
        last = (start + timedelta(minutes=_SLOT_MINUTES, microseconds=-1)).astimezone(self.tz)
        if first != last.date():
            return local_day(ts, self.tz)
        if len(self._slot_days) >= _SLOT_CACHE_MAX:
            self._slot_days.clear()
        self._slot_days[slot] = first
        return first

    def _bump(self, place: tuple[date, int, int], v: _Vector) -> None:
        day, minute, cid = place
        self._bump_day(day, cid, v)
        if v[COST] and (self._minute_floor is None or minute >= self._minute_floor):
            costs = self._minutes.get(minute)
            if costs is None:
                costs = self._minutes[minute] = {}
            costs[cid] = costs.get(cid, 0) + v[COST]

    def _bump_day(self, day: date, cid: int, v: _Vector) -> None:
        if self._first_day is None or day < self._first_day:
            self._first_day = day
        if self._day_floor is None or day >= self._day_floor:
            combos = self._days.get(day)
            if combos is None:
                combos = self._days[day] = {}
            b = combos.get(cid)
            if b is None:
                combos[cid] = list(v)
            else:
                b[0] += v[0]
                b[1] += v[1]
                b[2] += v[2]
                b[3] += v[3]
                b[4] += v[4]
                b[5] += v[5]
                b[6] += v[6]

    def prune(self, now: datetime) -> None:
        """Drop buckets too old for any query at `now` or later (the floor only rises)."""
        day_floor = local_day(now, self.tz) - timedelta(days=self._keep_days)
        if self._day_floor is None or day_floor > self._day_floor:
            self._day_floor = day_floor
            for day in [d for d in self._days if d < day_floor]:
                del self._days[day]
        minute_floor = _epoch_minute(now) - self._keep_minutes + 1
        if self._minute_floor is None or minute_floor > self._minute_floor:
            self._minute_floor = minute_floor
            for minute in [m for m in self._minutes if m < minute_floor]:
                del self._minutes[minute]

    # ------------------------------------------------------------ queries

    def _matcher(self, scope: Mapping[str, str] | None) -> Callable[[int], bool] | None:
        if not scope:
            return None
        wanted: list[tuple[int, str]] = []
        for key, value in scope.items():
            if key not in self.dimensions:
                hint = (
                    f"tag {key[4:]!r} is not tracked (pass it in tracked_tags)"
                    if key.startswith("tag.")
                    else f"expected one of {', '.join(self.dimensions)} or tag.KEY"
                )
                raise ValueError(f"cannot scope totals by {key!r}: {hint}")
            wanted.append((self.dimensions.index(key), value))
        combos = self._combos

        def match(cid: int) -> bool:
            combo = combos[cid]
            return all(combo[i] == value for i, value in wanted)

        return match

    def _sum(self, first: date, end: date, match: Callable[[int], bool] | None) -> list[int]:
        total = [0] * _WIDTH
        for day in days_between(first, end):
            for cid, v in self._days.get(day, {}).items():
                if match is None or match(cid):
                    for i in range(_WIDTH):
                        total[i] += v[i]
        return total

    def _daily(
        self, first: date, end: date, match: Callable[[int], bool] | None
    ) -> dict[date, int]:
        return {
            day: sum(
                v[COST] for cid, v in self._days.get(day, {}).items() if match is None or match(cid)
            )
            for day in days_between(first, end)
        }

    def _windows(self, now: datetime, count: int, match: Callable[[int], bool] | None) -> list[int]:
        """Spend in the `count` rolling 60-minute windows ending with now's minute."""
        last = _epoch_minute(now)
        windows = [0] * count
        for minute, costs in self._minutes.items():
            back = (last - minute) // 60
            if 0 <= back < count:
                windows[count - 1 - back] += sum(
                    c for cid, c in costs.items() if match is None or match(cid)
                )
        return windows

    def spent(self, kind: Period, now: datetime, scope: Mapping[str, str] | None = None) -> Decimal:
        """Spend in the period containing `now`, optionally within a budget scope.

        Scope keys: `source`, `provider`, `model`, `operation`, `tag.KEY` (tracked tags).
        """
        self.prune(now)
        first, end = period_days(kind, local_day(now, self.tz))
        return from_nano(self._sum(first, end, self._matcher(scope))[COST])

    def burn_per_hour(self, now: datetime, scope: Mapping[str, str] | None = None) -> Decimal:
        """Spend in the last 60 minutes (minute resolution)."""
        self.prune(now)
        return from_nano(self._windows(now, 1, self._matcher(scope))[0])

    def forecast(
        self, kind: Period, now: datetime, scope: Mapping[str, str] | None = None
    ) -> Forecast:
        self.prune(now)
        return self._forecast(kind, now, self._matcher(scope))

    def _forecast(
        self, kind: Period, now: datetime, match: Callable[[int], bool] | None
    ) -> Forecast:
        today = local_day(now, self.tz)
        first, end = period_days(kind, today)
        since = min(first, today - timedelta(days=RATE_DAYS))
        return forecast(
            kind,
            now,
            self.tz,
            self._daily(since, end, match),
            first_day=self._first_day,
            recent_hours=self._windows(now, RECENT_HOURS, match) if kind == "day" else (),
        )

    def summary(self, now: datetime, *, top: int | None = None) -> TotalsSummary:
        """Everything `status`, the dashboard and the socket snapshot show, at `now`.

        `top` keeps the N costliest rows of each breakdown (all when None).
        """
        self.prune(now)
        today = local_day(now, self.tz)
        periods = {kind: self._period(kind, now, today, top) for kind in PERIODS}
        month_first, _ = period_days("month", today)
        daily = self._daily(month_first, today + timedelta(days=1), None)
        return TotalsSummary(
            now=utc(now),
            today=periods["day"],
            week=periods["week"],
            month=periods["month"],
            burn_per_hour=from_nano(self._windows(now, 1, None)[0]),
            burn_per_day=periods["week"].forecast.rate,
            hourly=tuple(from_nano(c) for c in self._windows(now, 24, None)),
            daily=tuple(
                from_nano(daily[day]) for day in days_between(month_first, today + timedelta(1))
            ),
        )

    def _period(self, kind: Period, now: datetime, today: date, top: int | None) -> PeriodTotals:
        first, end = period_days(kind, today)
        per_combo: dict[int, list[int]] = {}
        for day in days_between(first, end):
            for cid, v in self._days.get(day, {}).items():
                _add_to(per_combo, cid, v)
        total = [0] * _WIDTH
        groups: list[dict[str | None, list[int]]] = [{} for _ in self.dimensions]
        for cid, v in per_combo.items():
            for i in range(_WIDTH):
                total[i] += v[i]
            for group, value in zip(groups, self._combos[cid], strict=True):
                _add_to(group, value, v)
        by = {
            dim: tuple(
                (value, Usage.of(v))
                for value, v in sorted(
                    ((value, v) for value, v in group.items() if any(v)),
                    key=lambda row: (-row[1][COST], -row[1][CALLS], row[0] or ""),
                )[:top]
            )
            for dim, group in zip(self.dimensions, groups, strict=True)
        }
        return PeriodTotals(
            kind=kind,
            start=local_midnight(first, self.tz),
            end=local_midnight(end, self.tz),
            usage=Usage.of(total),
            forecast=self._forecast(kind, now, None),
            by=by,
        )
