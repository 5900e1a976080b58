"""Source health: parse errors jumping, and sources gone silent.

What counts as one alert:
- parse errors: ("health", source, local day, "errors"): at least `ERROR_MIN`
  unreadable records that are more than `ERROR_SHARE` of the source's records within
  `ERROR_WINDOW` (a tool update that changed its format); at most once per source and
  day. Counting starts when `HealthWatch` first sees the source, so errors of a backfill
  that happened before are not a jump.
- silence: ("health", source, newest event time or "never", "silent"): a source with
  `expect_every` whose newest event is older than that. The episode is named by that
  event, so it alerts once until the source writes again.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Container, Mapping, Sequence
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

from monitor.events import utc
from monitor.periods import local_day
from monitor.rules.base import PREFIX, AlertKey, Decision, Situation

if TYPE_CHECKING:
    from monitor.config import SourceConfig

ERROR_WINDOW: Final = timedelta(hours=1)
ERROR_MIN: Final = 10
ERROR_SHARE: Final = Decimal("0.2")


class HealthWatch:
    """The registered rule: parse-error jumps and silent sources.

    Keeps, per source, the (time, events, errors) counts seen over the last
    `ERROR_WINDOW`, so the error share is measured over recent records, not all time.
    No clock and no I/O: `check` is called with `now` and the counters.
    """

    def __init__(
        self,
        *,
        window: timedelta = ERROR_WINDOW,
        min_errors: int = ERROR_MIN,
        min_share: Decimal = ERROR_SHARE,
    ) -> None:
        self.window = window
        self.min_errors = min_errors
        self.min_share = min_share
        self._samples: dict[str, deque[tuple[datetime, int, int]]] = {}

    def decide(self, s: Situation) -> list[Decision]:
        if s.sources is None:
            return []
        since = s.since if s.since is not None else s.now
        return self.check(s.now, s.tz, s.config.sources, s.sources, since=since, known=s.known)

    def check(
        self,
        now: datetime,
        tz: tzinfo,
        sources: Sequence[SourceConfig],
        stats: Mapping[str, Mapping[str, Any]],
        *,
        since: datetime,
        known: Container[AlertKey] = frozenset(),
    ) -> list[Decision]:
        """Health alerts due at `now`.

        `stats` are per-source counters as the daemon keeps them (`events`, `errors`,
        `last_event`); `since` is when watching began (a source that never wrote counts
        as silent from then).
        """
        now = utc(now)
        out: list[Decision] = []
        for s in sources:
            if not s.enabled:
                continue
            st = stats.get(s.name, {})
            jump = self._error_jump(s.name, now, int(st.get("events", 0)), int(st.get("errors", 0)))
            if jump is not None:
                key: AlertKey = ("health", s.name, local_day(now, tz).isoformat(), "errors")
                if key not in known:
                    out.append(_errors(s, *jump, day=key[2]))
            if s.expect_every is not None:
                last = st.get("last_event")
                quiet_since = utc(last) if isinstance(last, datetime) else None
                start = quiet_since or utc(since)
                if now - start > s.expect_every:
                    episode = quiet_since.isoformat(timespec="seconds") if quiet_since else "never"
                    key = ("health", s.name, episode, "silent")
                    if key not in known:
                        out.append(_silent(s, quiet_since, now, tz, episode))
        return out

    def _error_jump(
        self, name: str, now: datetime, events: int, errors: int
    ) -> tuple[int, int] | None:
        samples = self._samples.setdefault(name, deque())
        if samples and (events < samples[-1][1] or errors < samples[-1][2]):
            samples.clear()  # counters were reset (a reload rebuilt them)
        # One sample per 1/60 of the window: enough to find its start, and bounded
        # however many rounds a busy source makes (one per round grew without end).
        if not samples or now - samples[-1][0] >= self.window / 60:
            samples.append((now, events, errors))
        while len(samples) > 1 and samples[1][0] <= now - self.window:
            samples.popleft()
        _, base_events, base_errors = samples[0]
        new_errors = errors - base_errors
        records = new_errors + events - base_events
        if new_errors >= self.min_errors and new_errors > self.min_share * records:
            return new_errors, records
        return None


def _errors(s: SourceConfig, errors: int, records: int, *, day: str) -> Decision:
    title = (
        f"{PREFIX} health source '{s.name}': {errors:,} of {records:,} records unreadable "
        "in the last hour"
    )
    body = (
        f"Source '{s.name}' (format {s.format}) could not read {errors:,} of its last "
        f"{records:,} records. Did the tool that writes it change its format? "
        "`llm-monitor status` lists the sources; the bad records are skipped, not counted."
    )
    return Decision("health", s.name, day, "errors", "warning", title, body)


def _silent(
    s: SourceConfig, last: datetime | None, now: datetime, tz: tzinfo, episode: str
) -> Decision:
    expected = _duration_text(s.expect_every or timedelta())
    if last is None:
        title = f"{PREFIX} health source '{s.name}' has written nothing (expected every {expected})"
        body = f"Source '{s.name}' has produced no usage record since llm-monitor started."
    else:
        silent = _duration_text(now - last)
        local = last.astimezone(tz)
        title = f"{PREFIX} health source '{s.name}' silent for {silent} (expected every {expected})"
        body = f"Source '{s.name}' last recorded a call at {local:%Y-%m-%d %H:%M %Z}."
    body += f"\nIt watches: {', '.join(s.paths)}\nIs the tool still running, or did its files move?"
    return Decision("health", s.name, episode, "silent", "warning", title, body)


def _duration_text(d: timedelta) -> str:
    minutes = int(d.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours}h"
    return f"{hours // 24}d"


__all__ = ["ERROR_MIN", "ERROR_SHARE", "ERROR_WINDOW", "HealthWatch"]
