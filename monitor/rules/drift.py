"""Price drift: a tool's reported costs differ from prices by more than `DRIFT_SHARE`.

Tools that write their own cost (studio-tokens' `cost_usd`, the spool's `cost`, …) price
calls with a table of their own, which goes stale; `cost = "auto"` keeps what they wrote,
so budgets would follow a stale table unnoticed. Both costs are stored with each call
(`UsageEvent.reported_cost`, `priced_cost`); this rule compares them.

What counts as one alert: ("drift", "<source> <model>", local day, "0.1"): over the calls
of that day, source and model that carry both a reported and a priced cost, the reported
sum differs from the priced sum by more than 10 % of the priced sum, either way. At most
once per source, model and day: the key is recorded before delivery, so a restart does not
repeat it. Sums under `MIN_PRICED` are not judged: a tool that rounds a tiny call's cost
to a few digits would drift by rounding alone.

The rule sees the calls the daemon applies while it runs (`Situation.events`), not the
backfill: it keeps their sums for the current and the previous local day (a call logged
late still counts to its own day); a streamed copy that grows replaces its predecessor.
After a restart a day's sums start again from the calls applied since.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Final

from monitor.events import from_nano, to_nano, usd_true_text
from monitor.periods import local_day
from monitor.rules.base import PREFIX, AlertKey, Decision, Situation, percent_text, threshold_text

if TYPE_CHECKING:
    from monitor.events import UsageEvent

DRIFT_SHARE: Final = Decimal("0.1")
"""Reported costs further than this share of the priced cost from it alert."""
MIN_PRICED: Final = Decimal("0.01")
"""The priced sum a day's calls need before their drift is judged (USD)."""
_KEEP: Final = timedelta(days=1)

Bucket = tuple[date, str, str]
"""(local day, source, model)."""


class DriftRule:
    """The registered rule: per local day, source and model, the reported and priced sums
    of the calls seen (integer nano-dollars, exact), judged after each round."""

    def __init__(self, share: Decimal = DRIFT_SHARE, min_priced: Decimal = MIN_PRICED) -> None:
        self.share = share
        self.min_priced_nano = to_nano(min_priced)
        self._sums: dict[Bucket, list[int]] = {}
        """Bucket → [reported, priced] nano-dollars."""
        self._seen: dict[str, tuple[Bucket, int, int]] = {}
        """Event key → what it added, so a larger copy replaces it instead of adding twice."""

    def decide(self, s: Situation) -> list[Decision]:
        today = local_day(s.now, s.tz)
        self._forget_before(today - _KEEP)
        touched: set[Bucket] = set()
        for e in s.events:
            bucket = self._add(e, s, today)
            if bucket is not None:
                touched.add(bucket)
        policies = {c.name: c.cost for c in s.config.sources}
        threshold = threshold_text(self.share)
        out: list[Decision] = []
        for bucket in sorted(touched):
            day, source, model = bucket
            key: AlertKey = ("drift", f"{source} {model}", day.isoformat(), threshold)
            if key in s.known:
                continue
            reported, priced = self._sums[bucket]
            # Exact: integers against the exact share of an integer.
            if priced < self.min_priced_nano or abs(reported - priced) <= self.share * priced:
                continue
            out.append(_drift(key, bucket, reported, priced, policies.get(source, "auto")))
        return out

    def _add(self, e: UsageEvent, s: Situation, today: date) -> Bucket | None:
        if e.reported_cost is None or e.priced_cost is None:
            return None
        day = local_day(e.ts, s.tz)
        if day < today - _KEEP:
            return None  # history (a late backfill), not today's drift
        bucket = (day, e.source, e.model)
        reported, priced = to_nano(e.reported_cost), to_nano(e.priced_cost)
        sums = self._sums.setdefault(bucket, [0, 0])
        before = self._seen.get(e.key)
        if before is not None:
            old_bucket, old_reported, old_priced = before
            old = self._sums.get(old_bucket)
            if old is not None:
                old[0] -= old_reported
                old[1] -= old_priced
        sums[0] += reported
        sums[1] += priced
        self._seen[e.key] = (bucket, reported, priced)
        return bucket

    def _forget_before(self, first: date) -> None:
        if any(b[0] < first for b in self._sums):
            self._sums = {b: v for b, v in self._sums.items() if b[0] >= first}
            self._seen = {k: v for k, v in self._seen.items() if v[0][0] >= first}


def _drift(
    key: AlertKey, bucket: Bucket, reported_nano: int, priced_nano: int, policy: str
) -> Decision:
    day, source, model = bucket
    reported, priced = from_nano(reported_nano), from_nano(priced_nano)
    difference = reported - priced
    share = difference / priced
    way = "over" if difference > 0 else "under"
    pct = percent_text(abs(share))
    title = (
        f"{PREFIX} drift source '{source}' {model}: reported costs {pct} % {way} prices "
        f"on {day.isoformat()}"
    )
    body = "\n".join(
        [
            f"Source '{source}' reported {usd_true_text(reported)} for its {model} calls of "
            f"{day.isoformat()} that prices put at {usd_true_text(priced)} "
            f"({'+' if difference > 0 else '-'}{pct} %).",
            "The tool's own price table may be out of date (or it charges other rates).",
            _counted(policy),
            "`llm-monitor report --by source,model --drift` shows the drift per model.",
        ]
    )
    kind, rule, period, threshold = key
    return Decision(kind, rule, period, threshold, "warning", title, body)


def _counted(policy: str) -> str:
    if policy == "priced":
        return 'Costs count at prices (the source\'s `cost = "priced"`), not as reported.'
    return (
        f'Costs count as the tool reported them (the source\'s `cost = "{policy}"`); '
        '`cost = "priced"` counts prices instead.'
    )


__all__ = ["DRIFT_SHARE", "MIN_PRICED", "DriftRule"]
