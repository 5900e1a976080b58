"""`compare`: two selections of the ledger side by side, and what B saves over A.

Separate from `report` because it answers another question (is B cheaper than A?) with
its own rules: each side is one total plus its iterations, a side with no calls is an
error rather than a 100 % saving, and the savings are signed. The numbers come from
`monitor.ledger.query`, read-only; the cells are `monitor.text_table`'s.

Unpriced is never $0 (docs/architecture.md): a side whose calls are all unpriced shows
"unpriced", and no cost difference or saving is computed against it.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import tzinfo
from decimal import Decimal
from typing import Any, Literal, NamedTuple

from monitor.events import usd_json, usd_text
from monitor.ledger.query import Totals, count_tag_values, query
from monitor.ledger.selection import Selection
from monitor.percent import pct, pct_json
from monitor.text_table import PRICE_HINT, all_unpriced, cost_cell, int_text, signed_usd, table


class Side(NamedTuple):
    selection: Selection
    totals: Totals
    iterations: int | None
    """Distinct `iteration` tags (per `run`), None when no selected event carries one."""


class Comparison(NamedTuple):
    """A (the baseline) against B; savings are what B saves over A (negative: B costs more).

    Cost savings are None when a side's calls are all unpriced: its cost is unknown.
    With some unpriced calls they compare the priced ones (the text says so)."""

    a: Side
    b: Side

    @property
    def token_savings(self) -> int:
        return self.a.totals.total_tokens - self.b.totals.total_tokens

    @property
    def token_savings_pct(self) -> Decimal | None:
        return pct(Decimal(self.token_savings), Decimal(self.a.totals.total_tokens))

    @property
    def cost_known(self) -> bool:
        """Both sides have a cost: neither side's calls are all unpriced."""
        return not (all_unpriced(self.a.totals) or all_unpriced(self.b.totals))

    @property
    def cost_savings(self) -> Decimal | None:
        if not self.cost_known:
            return None
        return self.a.totals.cost - self.b.totals.cost

    @property
    def cost_savings_pct(self) -> Decimal | None:
        savings = self.cost_savings
        return None if savings is None else pct(savings, self.a.totals.cost)


def compare(db: sqlite3.Connection, a: Selection, b: Selection, tz: tzinfo) -> Comparison:
    """A against B. Raises ValueError when a side matches no recorded call: a comparison
    with nothing is no saving of 100 % (nor an infinite overspend)."""
    result = Comparison(_side(db, a, tz), _side(db, b, tz))
    empty = [
        f"{name} ({side.selection.label!r})"
        for name, side in (("A", result.a), ("B", result.b))
        if not side.totals.calls
    ]
    if empty:
        raise ValueError(
            f"no recorded calls match {' nor '.join(empty)}: nothing to compare "
            "(check the selection with `llm-monitor report --where …`)"
        )
    return result


def _side(db: sqlite3.Connection, sel: Selection, tz: tzinfo) -> Side:
    totals = query(db, (), sel, tz).total
    iterations = count_tag_values(db, sel, "iteration", tz, per="run")
    return Side(sel, totals, iterations or None)


def render_comparison(c: Comparison, fmt: Literal["text", "json"]) -> str:
    if fmt == "json":
        return json.dumps(comparison_json(c), indent=2) + "\n"
    a, b = c.a.totals, c.b.totals
    rows: list[tuple[str, str, str, str]] = [
        ("Calls", int_text(a.calls), int_text(b.calls), _signed(b.calls - a.calls)),
        (
            "Input tokens",
            int_text(a.input_tokens),
            int_text(b.input_tokens),
            _signed(b.input_tokens - a.input_tokens),
        ),
        (
            "Output tokens",
            int_text(a.output_tokens),
            int_text(b.output_tokens),
            _signed(b.output_tokens - a.output_tokens),
        ),
        (
            "Total tokens",
            int_text(a.total_tokens),
            int_text(b.total_tokens),
            _signed(-c.token_savings),
        ),
        ("Cost", cost_cell(a), cost_cell(b), _opt_signed_usd(c.cost_savings)),
    ]
    ia, ib = c.a.iterations, c.b.iterations
    if ia is not None or ib is not None:
        diff = _signed(ib - ia) if ia is not None and ib is not None else ""
        rows.append(("Iterations", _opt_int(ia), _opt_int(ib), diff))
    if a.unpriced_calls or b.unpriced_calls:
        rows.append(("Unpriced calls", int_text(a.unpriced_calls), int_text(b.unpriced_calls), ""))
    lines = [
        "Comparison",
        f"  A: {c.a.selection.label}",
        f"  B: {c.b.selection.label}",
        "",
        *table(["", "A", "B", "B - A"], [list(r) for r in rows], None, left=1),
        "",
    ]
    lines.append(_savings_line(c))
    if not c.cost_known:
        unpriced = " and ".join(n for n, t in (("A", a), ("B", b)) if all_unpriced(t))
        lines.append(f"No cost comparison: every call of {unpriced} is unpriced.")
        lines.append(PRICE_HINT)
    elif a.unpriced_calls or b.unpriced_calls:
        lines.append("Costs leave out unpriced calls.")
    return "\n".join(lines) + "\n"


def _savings_line(c: Comparison) -> str:
    tokens, tp, cp = c.token_savings, c.token_savings_pct, c.cost_savings_pct
    known = c.cost_savings
    cost = Decimal(0) if known is None else known  # unknown: the tokens alone decide
    if tokens <= 0 and cost <= 0 and (tokens or cost):
        cost_text = "unpriced" if known is None else f"{signed_usd(-cost)} ({_pct_text(cp, -1)})"
        return (
            f"B spends more than A: tokens {_signed(-tokens)} ({_pct_text(tp, -1)}), "
            f"cost {cost_text}"
        )
    word = (
        "Savings (B vs A)"
        if tokens >= 0 and cost >= 0
        else "Savings (B vs A; negative: B spends more)"
    )
    cost_text = "unpriced" if known is None else f"{usd_text(cost)} ({_pct_text(cp)})"
    return f"{word}: tokens {int_text(tokens)} ({_pct_text(tp)}), cost {cost_text}"


def _signed(n: int) -> str:
    return f"{n:+,}" if n else "0"


def _opt_signed_usd(savings: Decimal | None) -> str:
    """B - A of the costs (minus the savings); "n/a" when a side is unpriced."""
    return "n/a" if savings is None else signed_usd(-savings)


def _opt_int(n: int | None) -> str:
    return "-" if n is None else int_text(n)


def _pct_text(percent: Decimal | None, sign: int = 1) -> str:
    if percent is None:
        return "n/a"
    return f"{sign * percent:+}%" if sign < 0 else f"{percent}%"


def comparison_json(c: Comparison) -> dict[str, Any]:
    return {
        "a": _side_json(c.a),
        "b": _side_json(c.b),
        "savings": {
            "tokens": c.token_savings,
            "tokens_pct": pct_json(c.token_savings_pct),
            "cost_usd": usd_json(c.cost_savings),
            "cost_pct": pct_json(c.cost_savings_pct),
        },
    }


def _side_json(side: Side) -> dict[str, Any]:
    t = side.totals
    return {
        "selection": side.selection.label,
        "calls": t.calls,
        "input_tokens": t.input_tokens,
        "output_tokens": t.output_tokens,
        "total_tokens": t.total_tokens,
        "cache_read_tokens": t.cache_read_tokens,
        "cache_write_tokens": t.cache_write_tokens,
        "cost_usd": None if all_unpriced(t) else usd_json(t.cost),
        "unpriced_calls": t.unpriced_calls,
        "iterations": side.iterations,
    }
