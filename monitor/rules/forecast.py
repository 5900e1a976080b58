"""Budget forecasts: the period is expected to end over a budget's limit.

What counts as one alert: ("forecast", budget name, period label, "forecast"), once per
period, while the spend is still under the limit and the expected end of the period
(`monitor.totals` explains the forecast) is over it. Budgets with `forecast = false`
never have one. Week and month forecasts need at least one complete day of history
first: on the first day of data the pace projection swings too wildly to warn on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from monitor.events import usd_true_text
from monitor.periods import local_day, period_label
from monitor.rules.base import PREFIX, Decision, Situation
from monitor.rules.budget import budget_body, each_budget

if TYPE_CHECKING:
    from monitor.config import BudgetConfig


class ForecastRule:
    """The registered rule: forecasts of every budget that asks for them."""

    def decide(self, s: Situation) -> list[Decision]:
        return each_budget(s, _forecast)


def _forecast(b: BudgetConfig, s: Situation) -> Decision | None:
    label = period_label(b.period, local_day(s.now, s.tz))
    if not b.forecast or b.limit <= 0 or ("forecast", b.name, label, "forecast") in s.known:
        return None
    scope = dict(b.scope) or None
    spent = s.totals.spent(b.period, s.now, scope)
    if spent >= b.limit:
        return None
    fc = s.totals.forecast(b.period, s.now, scope)
    if fc.expected <= b.limit or (b.period != "day" and fc.history_days == 0):
        return None
    title = (
        f"{PREFIX} budget '{b.name}' forecast {usd_true_text(fc.expected)} "
        f"of {usd_true_text(b.limit)}"
    )
    body = budget_body(b, s, spent, fc)
    return Decision("forecast", b.name, label, "forecast", "warning", title, body)


__all__ = ["ForecastRule"]
