"""`budget list | set | rm`: what the commands do, apart from parsing argv.

`set` and `rm` write `budgets.toml` beside the config (`monitor.config.set_budget` /
`remove_budget`: tomli-w, atomic replace); the user's commented config.toml is never
rewritten, and a running daemon picks the change up when it sees the file change.
`list` shows the same budget entries as `status` (limit, spend, forecast, when it runs
out, alerts sent) for the budgets the files define now: the daemon's snapshot when it
already describes exactly those, else the ledger read-only. No apprise here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor.config import (
    ConfigError,
    budgets_file_of,
    make_budget,
    remove_budget,
    set_budget,
)
from monitor.events import usd_text

if TYPE_CHECKING:
    from monitor.config import BudgetConfig, Config
    from monitor.ledger import Ledger


def parse_scope(items: Sequence[str]) -> dict[str, str]:
    """`["provider=anthropic", "tag.project=x"]` → a scope (keys are checked by `make_budget`)."""
    scope: dict[str, str] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not eq or not key.strip() or not value.strip():
            raise ConfigError("budget", "scope", f'expected KEY=VALUE, got "{item}"')
        scope[key.strip()] = value.strip()
    return scope


def parse_warn_at(text: str) -> list[str]:
    """ "0.5,0.8,1.0" (or "50%,80%,100%") → fractions as text, validated by `make_budget`."""
    out: list[str] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        if part.endswith("%"):
            try:
                part = str(Decimal(part[:-1].strip()) / 100)
            except ArithmeticError:
                raise ConfigError(
                    "budget", "warn_at", f'expected a fraction, got "{part}"'
                ) from None
        out.append(part)
    if not out:
        raise ConfigError("budget", "warn_at", "expected fractions such as 0.5,0.8,1.0")
    return out


def budget_set(
    config: Config,
    name: str,
    *,
    limit: str | None = None,
    period: str | None = None,
    warn_at: str | None = None,
    scope: Sequence[str] | None = None,
    forecast: bool | None = None,
) -> Path:
    """Add or change a budget; options left out keep the existing budget's values.

    A new budget needs `limit` and `period`. Bad values raise ConfigError naming the key.
    """
    try:
        old = config.budget(name)
    except KeyError:
        old = None
    if old is None and (limit is None or period is None):
        missing = "limit" if limit is None else "period"
        raise ConfigError("budget", missing, f'a new budget needs --{missing} ("{name}")')
    budget = make_budget(
        name,
        period if period is not None else old.period if old else "",
        limit if limit is not None else old.limit if old else "",
        warn_at=parse_warn_at(warn_at) if warn_at is not None else (old.warn_at if old else None),
        forecast=forecast if forecast is not None else (old.forecast if old else True),
        scope=parse_scope(scope) if scope is not None else (old.scope if old else None),
    )
    return set_budget(config, budget)


def budget_rm(config: Config, name: str) -> Path:
    try:
        return remove_budget(config, name)
    except KeyError:
        names = ", ".join(b.name for b in config.budgets) or "none"
        raise ConfigError(
            str(budgets_file_of(config)), "budgets", f'no budget named "{name}" (budgets: {names})'
        ) from None


def budget_entries(
    config: Config, ledger: Ledger, now: datetime | None = None
) -> list[dict[str, Any]]:
    """`budget list --json` without a daemon: the `status --json` budget entries."""
    from monitor.status import budget_entries, totals_from_ledger

    now = now or datetime.now(UTC)
    totals = totals_from_ledger(ledger, now)
    return budget_entries(config.budgets, totals, now, ledger.tz, ledger.db)


def list_entries(
    config: Config,
    daemon_entries: Sequence[Mapping[str, Any]] | None,
    now: datetime | None = None,
) -> list[dict[str, Any]]:
    """`budget list`: the effective budgets as the files define them now, with their numbers.

    `config` was just loaded, so its budgets include what `budget set/rm` wrote a moment
    ago. A running daemon only learns of that when it reloads (it polls the files every
    few seconds, and not at all during its first backfill), so its entries are used only
    when they describe exactly these budgets; otherwise the numbers come from the ledger
    (read-only, as `status` reads it without a daemon), or are zero before there is one.
    Taking the daemon's list as it was made `budget list` say "No budgets" right after
    the first `budget set`.
    """
    now = now or datetime.now(UTC)
    if daemon_entries is not None and [_definition(e) for e in daemon_entries] == [
        _definition(_unspent_entry(b, now, config.tz)) for b in config.budgets
    ]:
        return [dict(e) for e in daemon_entries]
    if not config.budgets:
        return []
    if not config.ledger_path.exists():
        return [_unspent_entry(b, now, config.tz) for b in config.budgets]
    from monitor.ledger import Ledger

    with Ledger(config.ledger_path, config.tz, config.timezone_name, readonly=True) as ledger:
        return budget_entries(config, ledger, now)


def _definition(entry: Mapping[str, Any]) -> tuple[Any, ...]:
    """What a budget entry says about the budget itself, as opposed to its spend."""
    return tuple(entry.get(k) for k in ("name", "period", "limit_usd", "scope", "warn_at"))


def _unspent_entry(budget: BudgetConfig, now: datetime, tz: tzinfo) -> dict[str, Any]:
    """The entry of a budget nothing has been spent against (no ledger yet)."""
    from monitor.forecast import forecast
    from monitor.status import budget_entry

    return budget_entry(
        budget, Decimal(0), forecast(budget.period, now, tz, {}, first_day=None), now, tz
    )


def _money(value: str | None) -> str:
    return usd_text(Decimal(value)) if value is not None else "—"


def _alerts_text(alerts: Sequence[Mapping[str, Any]]) -> str:
    parts = []
    for a in alerts:
        t = a.get("threshold")
        label = "forecast" if t == "forecast" else f"{Decimal(str(t)) * 100:.0f} %"
        parts.append(label + ("" if a.get("delivered") else " (pending)"))
    return ", ".join(parts) or "—"


def render_budgets(entries: Sequence[Mapping[str, Any]]) -> str:
    """The `budget list` table: limits, spend, forecast, runs out, alerts sent, scope."""
    if not entries:
        return "No budgets. Add one: llm-monitor budget set NAME --limit 50 --period month"
    header = ("NAME", "PERIOD", "LIMIT", "SPENT", "USED", "FORECAST", "RUNS OUT", "ALERTS", "SCOPE")
    rows = [header]
    for b in entries:
        fraction = b.get("fraction")
        scope = b.get("scope") or {}
        rows.append(
            (
                str(b["name"]),
                str(b["period"]),
                _money(b.get("limit_usd")),
                _money(b.get("spent_usd")),
                f"{fraction * 100:.0f} %" if fraction is not None else "—",
                _money(b.get("forecast_usd")),
                str(b.get("runs_out_on") or "—"),
                _alerts_text(b.get("alerts") or ()),
                ", ".join(f"{k}={v}" for k, v in scope.items()) or "all",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    right = {2, 3, 4, 5}
    lines = []
    for r in rows:
        cells = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def budget_rows(config: Config, ledger: Ledger, now: datetime | None = None) -> str:
    """`budget list` text from the ledger (no daemon needed)."""
    return render_budgets(budget_entries(config, ledger, now))


__all__ = [
    "budget_entries",
    "budget_rm",
    "budget_rows",
    "budget_set",
    "list_entries",
    "parse_scope",
    "parse_warn_at",
    "render_budgets",
]
