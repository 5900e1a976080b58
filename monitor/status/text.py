"""`status` as text, for people: one screen from the status document.

Reads only the document (`monitor.status.document`), so it renders the daemon's answer
and the ledger's alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from monitor.events import usd_text


def _money(value: str | None) -> str:
    return usd_text(Decimal(value)) if value is not None else "—"


def render_status(doc: Mapping[str, Any]) -> str:
    origin = "daemon" if doc.get("daemon") else "ledger (no daemon running)"
    state = f", {doc['state']}" if doc.get("state") else ""
    backfill = doc.get("backfill")
    if backfill:
        eta = backfill.get("eta_seconds")
        state += f" {backfill['percent']:.0f} %" + (
            f" (about {int(eta) // 60}:{int(eta) % 60:02d} left)" if eta is not None else ""
        )
        if backfill.get("recent_final"):
            state += "; this month's totals are complete"
        elif backfill.get("today_final"):
            state += "; today's totals are complete"
    lines = [
        f"llm-monitor status — {doc['now'][:19]}Z, {doc['timezone']}, from {origin}{state}",
        "",
    ]
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
    lines += _section("Budgets", [_budget_line(b) for b in doc["budgets"]])
    lines += _section(
        'Unpriced models (calls counted, cost unknown — add [prices."MODEL"])',
        [f"  {u['provider']}/{u['model']}: {u['calls']:,} calls" for u in doc["unpriced"]],
    )
    lines += _section("Plan windows", [_limit_line(w) for w in doc.get("limits", [])])
    lines += _section("Sources", [_source_line(s) for s in doc["sources"]])
    return "\n".join(lines)


def _limit_line(w: Mapping[str, Any]) -> str:
    """`codex 5h  42 % (reported, plus plan), resets 14:05Z`; an estimate adds its burn."""
    name = f"{w['tool']} {w['window']}"
    basis = w["basis"] + (f", {w['plan']} plan" if w.get("plan") else "")
    resets = w["resets_at"][:16].replace("T", " ")
    line = f"  {name:<22} {w['used_percent']:>5.1f} % ({basis}), resets {resets} UTC"
    e = w.get("estimate")
    if e:
        size = f"{e['limit_tokens']:,} tokens" if e["limit_tokens"] else _money(e["limit_usd"])
        line += (
            f"; {e['tokens']:,} tokens {_money(e['cost_usd'])} of {size} "
            f"({e['limit_from']}), {e['burn_tokens_per_minute']:,.0f} tokens/min, "
            f"{e['projected_percent']:.0f} % at the end"
        )
    return line


def _section(title: str, rows: list[str]) -> list[str]:
    return ["", title, *rows] if rows else []


def _budget_line(b: Mapping[str, Any]) -> str:
    pct = f"{b['fraction'] * 100:.0f} %" if b["fraction"] is not None else "—"
    out = f", runs out on {b['runs_out_on']}" if b.get("runs_out_on") else ""
    scope = (
        " [" + ", ".join(f"{k}={v}" for k, v in b["scope"].items()) + "]" if b.get("scope") else ""
    )
    return (
        f"  {b['name']:<16} {b['period']:<5} {_money(b['spent_usd'])} of "
        f"{_money(b['limit_usd'])} ({pct}), forecast {_money(b['forecast_usd'])}{out}{scope}"
    )


def _source_line(s: Mapping[str, Any]) -> str:
    last = s["last_event"][:16].replace("T", " ") if s.get("last_event") else "never"
    err = f", {s['errors']:,} bad records" if s.get("errors") else ""
    off = "" if s.get("enabled", True) else " (disabled)"
    return (
        f"  {s['name']:<16} {s['format']:<26} {s['files']:>6,} files "
        f"{s['events']:>9,} events{err}, last {last}{off}"
    )
