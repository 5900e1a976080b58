"""Spikes (`[alerts] spike`): one expensive call, or an expensive last hour.

What counts as one alert:
- one call: ("spike", "call", event key, ""): a streamed call that grows keeps its key,
  so it alerts once. Only calls from the last `SPIKE_WINDOW` count: a backfill of old
  files is history, not a spike.
- hourly: ("spike", "hourly", local hour "2026-11-23T14+0100", ""): spend over the
  limit in the last 60 minutes, at most once per local hour.

Spikes are warnings that quiet hours never hold: a runaway loop must not wait till 07:00.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Final

from monitor.events import usd_text, usd_true_text, utc
from monitor.periods import hour_label
from monitor.rules.base import PREFIX, AlertKey, Decision, Situation

if TYPE_CHECKING:
    from monitor.events import UsageEvent

SPIKE_WINDOW: Final = timedelta(hours=1)


class SpikeRule:
    """The registered rule: `[alerts] spike` over the events just applied and the totals."""

    def decide(self, s: Situation) -> list[Decision]:
        """One recent call over `call_cost`, or the last 60 minutes over `hourly`."""
        alerts = s.config.alerts
        out: list[Decision] = []
        seen: set[AlertKey] = set()
        if alerts.spike_call_cost > 0:
            since = s.now - SPIKE_WINDOW
            for e in s.events:
                if e.cost is None or e.cost <= alerts.spike_call_cost or utc(e.ts) < since:
                    continue
                key: AlertKey = ("spike", "call", e.key, "")
                if key not in s.known and key not in seen:
                    seen.add(key)
                    out.append(_call(e, e.cost, s))
        if alerts.spike_hourly > 0:
            burn = s.totals.burn_per_hour(s.now)
            hour = hour_label(s.now, s.tz)
            if burn > alerts.spike_hourly and ("spike", "hourly", hour, "") not in s.known:
                out.append(_hourly(burn, hour, s))
        return out


def _call(e: UsageEvent, cost: Decimal, s: Situation) -> Decision:
    limit = s.config.alerts.spike_call_cost
    local = utc(e.ts).astimezone(s.tz)
    op = f" ({e.operation})" if e.operation else ""
    title = (
        f"{PREFIX} spike {usd_true_text(cost)} in one call to {e.model} "
        f"(over {usd_true_text(limit)})"
    )
    body = "\n".join(
        [
            f"One call cost {usd_true_text(cost)}, over the per-call limit of "
            f"{usd_true_text(limit)}.",
            f"Model: {e.provider}/{e.model}{op}",
            f"Source: {e.source}",
            f"Tokens: {e.input_tokens:,} in, {e.output_tokens:,} out",
            f"At: {local:%Y-%m-%d %H:%M:%S %Z}",
        ]
    )
    return Decision("spike", "call", e.key, "", "warning", title, body, quiet_exempt=True)


def _hourly(burn: Decimal, hour: str, s: Situation) -> Decision:
    limit = s.config.alerts.spike_hourly
    title = f"{PREFIX} spike {usd_text(burn)} in the last hour (over {usd_text(limit)})"
    body = (
        f"Spend in the last 60 minutes: {usd_text(burn)}, over the hourly limit of "
        f"{usd_text(limit)}.\nSpent today: {usd_text(s.totals.spent('day', s.now))}."
    )
    return Decision("spike", "hourly", hour, "", "warning", title, body, quiet_exempt=True)


__all__ = ["SPIKE_WINDOW", "SpikeRule"]
