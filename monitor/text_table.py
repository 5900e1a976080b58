"""Aligned text tables and the cells in them, for `report`, `compare` and `estimate`.

One place decides how the reading commands print a count, a cost, a cost that is
unknown because every call is unpriced, a signed difference and a percentage, so the
three print the same number the same way; each command's module owns only its layout
and its JSON/CSV shapes (percentages: `monitor.percent`). Imports nothing heavier than
`monitor.events`: `report` answers in tens of milliseconds including interpreter
start-up.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Final

from monitor.events import usd_text

if TYPE_CHECKING:
    from monitor.ledger.query import Totals

PRICE_HINT: Final = 'Add a [prices."MODEL"] override to the config, then run `llm-monitor reprice`.'
"""What to do about unpriced calls, wherever they leave a cost out."""


def int_text(n: int) -> str:
    return f"{n:,}"


def calls_text(n: int, noun: str = "call") -> str:
    return f"{int_text(n)} {noun}{'' if n == 1 else 's'}"


def all_unpriced(t: Totals) -> bool:
    """Every call is unpriced: the cost is unknown, not $0."""
    return t.calls > 0 and t.unpriced_calls == t.calls


def cost_cell(t: Totals) -> str:
    return "unpriced" if all_unpriced(t) else usd_text(t.cost)


def signed_usd(amount: Decimal, money: Callable[[Decimal], str] = usd_text) -> str:
    """`amount` with its sign, "+" too: a difference."""
    return ("+" if amount > 0 else "") + money(amount)


def table(
    header: list[str] | None, body: list[list[str]], total: list[str] | None, *, left: int
) -> list[str]:
    """Aligned columns: the first `left` flush left (labels), the rest flush right."""
    every = [*([header] if header else []), *body, *([total] if total else [])]
    widths = [max(len(r[i]) for r in every) for i in range(len(every[0]))]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i < left else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
    out = [line(header), rule] if header else []
    out += [line(r) for r in body]
    if total:
        if body:
            out.append(rule)
        out.append(line(total))
    return out
