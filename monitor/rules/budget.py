"""Budget thresholds: `[[budgets]]` `warn_at` fractions of each budget's limit.

What counts as one alert: ("budget", budget name, period label, "0.8"). The period label
(`monitor.periods.period_label`: "2026-11-23", "2026-W48", "2026-11") makes a new
period start fresh. Thresholds are fractions of the limit, so raising a budget above
the current spend re-fires nothing already sent this period, and lowering it so that
the spend crosses a threshold not yet sent fires that one.

When several thresholds are crossed at once (a first start over a month already at
85 %, one huge call), only the highest goes out: "at 80 %" says everything "at 50 %"
would, and a burst of stale warnings teaches people to ignore them. A threshold is also
taken as sent when a higher one was, so the lower one never follows later.

Warnings below 100 %; at or over it a failure that quiet hours never hold.

`each_budget` and the body (`budget_body`) are shared with the forecast rule.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Final

from monitor.events import usd_text, usd_true_text
from monitor.forecast import Forecast, runs_out_on
from monitor.periods import Period, local_day, period_label
from monitor.rules.base import (
    PREFIX,
    Decision,
    Severity,
    Situation,
    TotalsView,
    percent_text,
    threshold_text,
)

if TYPE_CHECKING:
    from monitor.config import BudgetConfig

log = logging.getLogger("llm_monitor.rules")

TOP_N: Final = 3
_ONE: Final = Decimal(1)


class BudgetRule:
    """The registered rule: thresholds of every configured budget."""

    def decide(self, s: Situation) -> list[Decision]:
        return each_budget(s, _threshold)


def each_budget(
    s: Situation, decide: Callable[[BudgetConfig, Situation], Decision | None]
) -> list[Decision]:
    """`decide` for each budget alone: one the totals cannot answer (a scope on an
    untracked tag raises ValueError, as `Totals.spent` does) is logged and leaves the
    others deciding."""
    out: list[Decision] = []
    for b in s.config.budgets:
        try:
            d = decide(b, s)
        except ValueError as exc:
            log.error("budget %s: %s", b.name, exc)
            continue
        if d is not None:
            out.append(d)
    return out


def _threshold(b: BudgetConfig, s: Situation) -> Decision | None:
    """The highest threshold crossed, unless it or a higher one was already decided."""
    label = period_label(b.period, local_day(s.now, s.tz))
    spent = s.totals.spent(b.period, s.now, dict(b.scope) or None)
    crossed = [t for t in b.warn_at if spent >= t * b.limit] if spent > 0 else []
    if not crossed:
        return None
    top = max(crossed)
    if any(("budget", b.name, label, threshold_text(t)) in s.known for t in b.warn_at if t >= top):
        return None
    over = top >= _ONE
    title = (
        f"{PREFIX} budget '{b.name}' at {percent_text(top)} % "
        f"({usd_true_text(spent)} of {usd_true_text(b.limit)})"
    )
    body = budget_body(b, s, spent, s.totals.forecast(b.period, s.now, dict(b.scope) or None))
    severity: Severity = "failure" if over else "warning"
    return Decision("budget", b.name, label, threshold_text(top), severity, title, body, over)


# ---------------------------------------------------------------- the body


def budget_body(b: BudgetConfig, s: Situation, spent: Decimal, fc: Forecast) -> str:
    """Spent, limit, forecast with its band, when it runs out, top models and sources."""
    label = period_label(b.period, local_day(s.now, s.tz))
    pct = f" ({percent_text(spent / b.limit)} %)" if b.limit > 0 else ""
    lines = [
        f"Spent {usd_true_text(spent)} of {usd_true_text(b.limit)}{pct} in {b.period} {label}.",
        f"Forecast for the {b.period}: {usd_text(fc.expected)} "
        f"(range {usd_text(fc.low)}–{usd_text(fc.high)}).",
    ]
    if spent >= b.limit:
        lines.append("The limit is reached.")
    else:
        out_on = runs_out_on(b.limit, fc, s.now, s.tz)
        lines.append(
            f"At this pace the budget runs out on {out_on.isoformat()}."
            if out_on
            else f"At this pace the budget lasts to the end of the {b.period}."
        )
    for dim, name in (("model", "models"), ("source", "sources")):
        top = top_spenders(s.totals, b.period, s.now, dim, b.scope)
        if top:
            lines.append(f"Top {name}: " + ", ".join(f"{v} {usd_text(c)}" for v, c in top))
    if b.scope:
        lines.append("Scope: " + ", ".join(f"{k}={v}" for k, v in b.scope.items()))
    return "\n".join(lines)


def top_spenders(
    totals: TotalsView,
    kind: Period,
    now: datetime,
    dim: str,
    scope: Mapping[str, str] | None = None,
    n: int = TOP_N,
) -> list[tuple[str, Decimal]]:
    """The `n` costliest values of `dim` (model, source, …) this period, within `scope`."""
    scope = dict(scope or {})
    if dim in scope:
        spent = totals.spent(kind, now, scope)
        return [(scope[dim], spent)] if spent > 0 else []
    rows = totals.summary(now).period(kind).by.get(dim, ())
    out: list[tuple[str, Decimal]] = []
    for value, usage in rows:
        if value is None:
            continue
        cost = totals.spent(kind, now, {**scope, dim: value}) if scope else usage.cost
        if cost > 0:
            out.append((value, cost))
    out.sort(key=lambda row: (-row[1], row[0]))
    return out[:n]


__all__ = ["BudgetRule", "budget_body", "each_budget", "top_spenders"]
