"""The status document's numbers read from the ledger: when no daemon answers (`status`,
`budget list`), and the budget scopes the daemon's totals cannot answer.

Every read goes through `monitor.ledger.reads`; nothing here writes SQL against the
usage tables. `ledger_alerts` reads the alert store's table, which the alert store owns.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from monitor.events import from_nano
from monitor.forecast import forecast
from monitor.ledger import reads
from monitor.ledger.limits import latest as latest_limits
from monitor.limits import FIVE_HOURS, LimitSnapshot, current_windows, estimated
from monitor.periods import local_day, period_days, period_label
from monitor.status.document import budget_entry, build_status, sources_entries
from monitor.totals import Totals

if TYPE_CHECKING:
    from monitor.config import BudgetConfig, Config
    from monitor.ledger import Ledger


def estimated_limits(
    db: sqlite3.Connection, config: Config, now: datetime, reported: Sequence[LimitSnapshot]
) -> list[LimitSnapshot]:
    """The estimated 5-hour windows (`monitor.blocks.estimates`) of the configured sources,
    from the last eight days of calls — what the daemon and `status` both show."""
    # Only a source with a call in the last five hours has an active block: with none,
    # there is nothing to draw (and `status` need not load the block arithmetic).
    active = reads.sources_since(db, now - timedelta(minutes=FIVE_HOURS))
    if not active:
        return []
    from monitor import blocks

    sized = {
        c.tool: blocks.BlockLimit(c.tokens, c.cost)
        for c in config.limits
        if c.window == "5h" and (c.tokens is not None or c.cost is not None)
    }
    sources = [
        blocks.EstimateSource(s.name, s.format, sized.get(s.name) or sized.get(s.format))
        for s in config.sources
        if s.enabled
    ]
    skip = current_windows(reported, FIVE_HOURS, now)
    wanted = [s.name for s in sources if s.name in active and blocks.needs_estimate(s, skip)]
    spans = reads.block_spans_since(db, now - blocks.LOOKBACK, wanted)
    drawn = {name: blocks.blocks_of_spans(found) for name, found in spans.items()}
    found = blocks.estimates(drawn, sources, skip, now)
    return [estimated(e) for e in found]


def totals_from_ledger(ledger: Ledger, now: datetime) -> Totals:
    """Totals seeded from the daily rollup (+ the last day's events for hourly burn).

    Reads a few thousand rollup rows instead of every event: fast enough for `status`.
    """
    totals = Totals(ledger.tz)
    first_day = reads.first_day(ledger.db)
    if first_day is not None:
        totals.seed_first_day(first_day)
    today = local_day(now, ledger.tz)
    first = min(period_days("month", today)[0], period_days("week", today)[0])
    # The weekly digest compares the last complete ISO week with the one before it.
    week = period_days("week", today)[0]
    first = min(first, today - timedelta(days=8), week - timedelta(days=14))
    for day in reads.days_since(ledger.db, first):
        totals.seed_day(day.day, (day.source, day.provider, day.model, day.operation), day.sums)
    for m in reads.priced_minutes_since(ledger.db, now - timedelta(hours=25)):
        totals.seed_minute(m.minute, (m.source, m.provider, m.model, m.operation), m.cost_nano)
    return totals


def budget_entries(
    budgets: Sequence[BudgetConfig],
    totals: Totals,
    now: datetime,
    tz: tzinfo,
    db: sqlite3.Connection,
) -> list[dict[str, Any]]:
    """Budget entries from totals (the daemon's, or seeded from the ledger); a scope the
    totals cannot answer (a tag they do not track) is read from the ledger's rollups."""
    out = []
    today = local_day(now, tz)
    for b in budgets:
        scope = dict(b.scope) or None
        try:
            spent = totals.spent(b.period, now, scope)
            fc = totals.forecast(b.period, now, scope)
        except ValueError:
            first, end = period_days(b.period, today)
            daily = reads.daily_cost(db, b.scope, min(first, today - timedelta(days=7)), end)
            spent = from_nano(sum(v for d, v in daily.items() if first <= d < end))
            fc = forecast(b.period, now, tz, daily, first_day=totals.first_day)
        alerts = ledger_alerts(db, b.name, period_label(b.period, today))
        out.append(budget_entry(b, spent, fc, now, tz, alerts))
    return out


def ledger_alerts(db: sqlite3.Connection, budget: str, period: str) -> list[dict[str, Any]]:
    """Alerts decided for a budget in one period instance (e.g. "2026-11"), for `status`."""
    try:
        rows = db.execute(
            "SELECT threshold, delivered FROM alerts WHERE kind IN ('budget', 'forecast') "
            "AND rule = ? AND period = ? ORDER BY id",
            (budget, period),
        ).fetchall()
    except sqlite3.OperationalError:
        return []
    return [
        {"threshold": float(t) if t != "forecast" else "forecast", "delivered": bool(d)}
        for t, d in rows
    ]


def status_from_ledger(
    config: Config, ledger: Ledger, now: datetime | None = None
) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    totals = totals_from_ledger(ledger, now)
    summary = totals.summary(now, top=5)
    reported = latest_limits(ledger.db)
    return build_status(
        summary=summary,
        timezone=config.timezone_name,
        daemon=False,
        budgets=budget_entries(config.budgets, totals, now, ledger.tz, ledger.db),
        unpriced=ledger.unpriced(),
        sources=sources_entries(config, ledger.source_stats()),
        limits=[*reported, *estimated_limits(ledger.db, config, now, reported)],
    )
