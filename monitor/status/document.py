"""The status document: today / week / month spend, forecasts, budgets, unpriced models
and sources, as `status --json` prints it and the socket's `status` and `snapshot` carry
it (the shapes are in docs/architecture.md).

Pure: built from a `TotalsSummary` and plain values — the daemon's live totals, or ones
seeded from the ledger (`monitor.status.from_ledger`). No SQL, no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from monitor.events import usd_json
from monitor.forecast import Forecast, runs_out_on
from monitor.limits import LimitSnapshot, window_states
from monitor.periods import DOC_KEYS, PERIODS
from monitor.totals import TotalsSummary

if TYPE_CHECKING:
    from monitor.blocks import Estimate
    from monitor.config import BudgetConfig, Config


def _fraction(spent: Decimal, limit: Decimal) -> float | None:
    # A ratio for display and gauges, not money: a float is what clients expect here.
    return None if limit <= 0 else round(float(spent / limit), 4)


def budget_entry(
    budget: BudgetConfig,
    spent: Decimal,
    fc: Forecast,
    now: datetime,
    tz: Any,
    alerts: Sequence[Mapping[str, Any]] = (),
) -> dict[str, Any]:
    out_on = runs_out_on(budget.limit, fc, now, tz) if budget.limit > 0 else None
    return {
        "name": budget.name,
        "period": budget.period,
        "limit_usd": usd_json(budget.limit),
        "spent_usd": usd_json(spent),
        "fraction": _fraction(spent, budget.limit),
        "forecast_usd": usd_json(fc.expected),
        "forecast_low_usd": usd_json(fc.low),
        "forecast_high_usd": usd_json(fc.high),
        "runs_out_on": out_on.isoformat() if out_on else None,
        "scope": dict(budget.scope),
        "warn_at": [float(w) for w in budget.warn_at],
        "alerts": list(alerts),
    }


def build_status(
    *,
    summary: TotalsSummary,
    timezone: str,
    daemon: bool,
    budgets: Sequence[dict[str, Any]],
    unpriced: Iterable[tuple[str, str, int]],
    sources: Sequence[dict[str, Any]],
    state: str | None = None,
    backfill: Mapping[str, Any] | None = None,
    limits: Sequence[LimitSnapshot] = (),
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "now": summary.now.isoformat(),
        "timezone": timezone,
        "daemon": daemon,
    }
    if state is not None:
        doc["state"] = state
    if backfill is not None:
        doc["backfill"] = dict(backfill)
    for kind in PERIODS:
        p = summary.period(kind)
        entry: dict[str, Any] = {
            "cost_usd": usd_json(p.cost),
            "calls": p.calls,
            "unpriced_calls": p.usage.unpriced_calls,
            "forecast_usd": usd_json(p.forecast.expected),
        }
        entry["forecast_low_usd"] = usd_json(p.forecast.low)
        entry["forecast_high_usd"] = usd_json(p.forecast.high)
        doc[DOC_KEYS[kind]] = entry
    doc["burn_rate"] = {
        "per_hour_usd": usd_json(summary.burn_per_hour),
        "per_day_usd": usd_json(summary.burn_per_day),
    }
    doc["budgets"] = list(budgets)
    doc["unpriced"] = [{"provider": p, "model": m, "calls": n} for p, m, n in unpriced]
    doc["sources"] = list(sources)
    doc["limits"] = [limit_entry(s, summary.now) for s in limits]
    return doc


def limit_entry(snapshot: LimitSnapshot, now: datetime) -> dict[str, Any]:
    """One plan window as `status --json` shows it: reset (0 %) once its time has passed."""
    [state] = window_states([snapshot], now)
    entry: dict[str, Any] = {
        "tool": snapshot.tool,
        "window": snapshot.window,
        "window_minutes": snapshot.window_minutes,
        "used_percent": state.used_percent,
        "resets_at": snapshot.resets_at.isoformat(),
        "observed_at": snapshot.observed_at.isoformat(),
        "basis": snapshot.basis,
    }
    if snapshot.plan:
        entry["plan"] = snapshot.plan
    if snapshot.estimate is not None and not state.reset:
        entry["estimate"] = estimate_entry(snapshot.estimate, now)
    return entry


def estimate_entry(e: Estimate, now: datetime) -> dict[str, Any]:
    """An estimated window's block, its burn rate and where it ends at that rate."""
    from monitor.blocks import project

    p = project(e.block, now)
    entry: dict[str, Any] = {
        "block_start": e.block.start.isoformat(),
        "tokens": e.block.tokens,
        "cost_usd": usd_json(e.block.cost),
        "unpriced_calls": e.block.unpriced_calls,
        "limit_tokens": e.limit.tokens,
        "limit_usd": usd_json(e.limit.cost) if e.limit.cost is not None else None,
        "limit_from": "learned" if e.limit.learned_from else "configured",
        "burn_tokens_per_minute": round(p.burn_tokens_per_minute, 1),
        "burn_usd_per_hour": usd_json(p.burn_cost_per_hour),
        "projected_tokens": p.tokens_at_end,
        "projected_cost_usd": usd_json(p.cost_at_end),
        "projected_percent": e.limit.percent(p.tokens_at_end, p.cost_at_end),
    }
    if e.limit.learned_from:
        entry["learned_from_blocks"] = e.limit.learned_from
    return entry


def sources_entries(config: Config, stats: Mapping[str, Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for s in config.sources:
        st = stats.get(s.name, {})
        last = st.get("last_event")
        out.append(
            {
                "name": s.name,
                "format": s.format,
                "enabled": s.enabled,
                "files": st.get("files", 0),
                "events": st.get("events", 0),
                "errors": st.get("errors", 0),
                "last_event": last.isoformat() if last else None,
            }
        )
    return out
