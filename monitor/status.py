"""`status`: today / week / month spend, forecasts, budgets, unpriced models, sources.

One document shape (DESIGN §10 `status --json`) built from a `Totals` — the daemon's
live one, or one seeded from the ledger's daily rollup when no daemon answers — plus a
text rendering of it. Imports stay light (no genai-prices, textual, apprise): `status`
must answer in tens of milliseconds.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from monitor.events import from_nano, usd_json, usd_text
from monitor.totals import (
    PERIODS,
    Forecast,
    Period,
    Totals,
    TotalsSummary,
    forecast,
    local_day,
    period_days,
    runs_out_on,
)

if TYPE_CHECKING:
    from monitor.config import BudgetConfig, Config
    from monitor.ledger import Ledger

_LABEL: dict[Period, str] = {"day": "today", "week": "week", "month": "month"}
_ROLLUP_SCOPES = ("source", "provider", "model", "operation")


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
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "now": summary.now.isoformat(),
        "timezone": timezone,
        "daemon": daemon,
    }
    if state is not None:
        doc["state"] = state
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
        doc[_LABEL[kind]] = entry
    doc["burn_rate"] = {
        "per_hour_usd": usd_json(summary.burn_per_hour),
        "per_day_usd": usd_json(summary.burn_per_day),
    }
    doc["budgets"] = list(budgets)
    doc["unpriced"] = [{"provider": p, "model": m, "calls": n} for p, m, n in unpriced]
    doc["sources"] = list(sources)
    return doc


# -- from the ledger, when no daemon answers ---------------------------------------------------


def totals_from_ledger(ledger: Ledger, now: datetime) -> Totals:
    """Totals seeded from the daily rollup (+ the last day's events for hourly burn).

    Reads a few thousand rollup rows instead of every event: fast enough for `status`.
    """
    totals = Totals(ledger.tz)
    row = ledger.db.execute("SELECT MIN(day) FROM daily").fetchone()
    if row and row[0]:
        totals.seed_first_day(date.fromisoformat(row[0]))
    today = local_day(now, ledger.tz)
    first = min(period_days("month", today)[0], period_days("week", today)[0])
    first = min(first, today - timedelta(days=8))
    for row in ledger.db.execute(
        """SELECT day, source, provider, model, operation, cost_nano, calls, input_tokens,
                  output_tokens, cache_read_tokens, cache_write_tokens, unpriced_calls
           FROM daily WHERE day >= ?""",
        (first.isoformat(),),
    ):
        totals.seed_day(
            date.fromisoformat(row[0]), (row[1], row[2], row[3], row[4] or None), row[5:]
        )
    since = int((now - timedelta(hours=25)).timestamp() * 1000)
    for ts, source, provider, model, operation, cost in ledger.db.execute(
        """SELECT ts, source, provider, model, operation, cost_nano FROM events
           WHERE ts >= ? AND cost_nano IS NOT NULL""",
        (since,),
    ):
        totals.seed_minute(
            datetime.fromtimestamp(ts / 1000, UTC),
            (source, provider, model, operation or None),
            cost,
        )
    return totals


def _scoped_daily(
    db: sqlite3.Connection, scope: Mapping[str, str], first: date, end: date
) -> dict[date, int]:
    """Daily spend within a budget scope: a rollup when one can answer, else the events.

    One tag in the scope reads the per-tag rollup (`daily_tags`); more than one needs
    the events themselves.
    """
    clauses = ["day >= ?", "day < ?"]
    args: list[Any] = [first.isoformat(), end.isoformat()]
    tags = [(k[4:], v) for k, v in scope.items() if k.startswith("tag.")]
    table = "daily"
    if len(tags) == 1:
        table = "daily_tags"
        clauses += ["tag = ?", "value = ?"]
        args += list(tags[0])
    elif tags:
        table = "events"
        for key, value in tags:
            clauses.append("json_extract(tags, ?) = ?")
            args.extend([f'$."{key}"', value])
    for key, value in scope.items():
        if key in _ROLLUP_SCOPES:
            clauses.append(f"{key} = ?")
            args.append(value)
    sql = (
        f"SELECT day, COALESCE(SUM(cost_nano), 0) FROM {table} WHERE "
        + " AND ".join(clauses)
        + " GROUP BY day"
    )
    return {date.fromisoformat(d): int(c) for d, c in db.execute(sql, args)}


def budget_entries(
    budgets: Sequence[BudgetConfig],
    totals: Totals,
    now: datetime,
    tz: tzinfo,
    db: sqlite3.Connection,
) -> list[dict[str, Any]]:
    """Budget entries from totals (the daemon's, or seeded from the ledger); a scope the
    totals cannot answer (a tag they do not track) is read from the per-tag rollup."""
    out = []
    today = local_day(now, tz)
    for b in budgets:
        scope = dict(b.scope) or None
        try:
            spent = totals.spent(b.period, now, scope)
            fc = totals.forecast(b.period, now, scope)
        except ValueError:
            first, end = period_days(b.period, today)
            daily = _scoped_daily(db, b.scope, min(first, today - timedelta(days=7)), end)
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


def period_label(kind: Period, day: date) -> str:
    """The period instance a day belongs to: "2026-11-23", "2026-W48" or "2026-11"."""
    if kind == "day":
        return day.isoformat()
    if kind == "week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return f"{day.year}-{day.month:02d}"


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


def status_from_ledger(
    config: Config, ledger: Ledger, now: datetime | None = None
) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    totals = totals_from_ledger(ledger, now)
    summary = totals.summary(now, top=5)
    return build_status(
        summary=summary,
        timezone=config.timezone_name,
        daemon=False,
        budgets=budget_entries(config.budgets, totals, now, ledger.tz, ledger.db),
        unpriced=ledger.unpriced(),
        sources=sources_entries(config, ledger.source_stats()),
    )


# -- text --------------------------------------------------------------------------------------


def _money(value: str | None) -> str:
    return usd_text(Decimal(value)) if value is not None else "—"


def render_status(doc: Mapping[str, Any]) -> str:
    lines = []
    origin = "daemon" if doc.get("daemon") else "ledger (no daemon running)"
    state = f", {doc['state']}" if doc.get("state") else ""
    lines.append(
        f"llm-monitor status — {doc['now'][:19]}Z, {doc['timezone']}, from {origin}{state}"
    )
    lines.append("")
    width = max(len(_money(doc[k]["cost_usd"])) for k in ("today", "week", "month"))
    for label in ("today", "week", "month"):
        p = doc[label]
        extra = ""
        if label == "month":
            extra = f" (range {_money(p['forecast_low_usd'])}–{_money(p['forecast_high_usd'])})"
        unpriced = f", {p['unpriced_calls']:,} unpriced" if p.get("unpriced_calls") else ""
        lines.append(
            f"  {label.capitalize():<6} {_money(p['cost_usd']):>{width}}  "
            f"{p['calls']:>8,} calls{unpriced}   forecast {_money(p['forecast_usd'])}{extra}"
        )
    burn = doc.get("burn_rate", {})
    if burn:
        lines.append(
            f"  Burn   {_money(burn['per_hour_usd'])}/hour (last 60 min), "
            f"{_money(burn['per_day_usd'])}/day (last 7 days)"
        )
    if doc["budgets"]:
        lines.append("")
        lines.append("Budgets")
        for b in doc["budgets"]:
            pct = f"{b['fraction'] * 100:.0f} %" if b["fraction"] is not None else "—"
            out = f", runs out on {b['runs_out_on']}" if b.get("runs_out_on") else ""
            scope = (
                " [" + ", ".join(f"{k}={v}" for k, v in b["scope"].items()) + "]"
                if b.get("scope")
                else ""
            )
            lines.append(
                f"  {b['name']:<16} {b['period']:<5} {_money(b['spent_usd'])} of "
                f"{_money(b['limit_usd'])} ({pct}), forecast {_money(b['forecast_usd'])}"
                f"{out}{scope}"
            )
    if doc["unpriced"]:
        lines.append("")
        lines.append('Unpriced models (calls counted, cost unknown — add [prices."MODEL"])')
        for u in doc["unpriced"]:
            lines.append(f"  {u['provider']}/{u['model']}: {u['calls']:,} calls")
    if doc["sources"]:
        lines.append("")
        lines.append("Sources")
        for s in doc["sources"]:
            last = s["last_event"][:16].replace("T", " ") if s.get("last_event") else "never"
            err = f", {s['errors']:,} bad records" if s.get("errors") else ""
            off = "" if s.get("enabled", True) else " (disabled)"
            lines.append(
                f"  {s['name']:<16} {s['format']:<26} {s['files']:>6,} files "
                f"{s['events']:>9,} events{err}, last {last}{off}"
            )
    return "\n".join(lines)
