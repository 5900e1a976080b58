"""Percentages, rounded one way (to 0.1, half to even) for text and JSON alike.

`report --drift`, `compare`'s savings and `estimate`'s cache shares all show a part of a
whole; one rounding here keeps the same ratio from printing two ways. Kept apart from
`monitor.text_table` because JSON carries these numbers too.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Final

_TENTH: Final = Decimal("0.1")


def pct(part: Decimal, whole: Decimal) -> Decimal | None:
    """`part` as a percentage of `whole`, to 0.1; None when `whole` is 0."""
    if not whole:
        return None
    return (part * 100 / whole).quantize(_TENTH, rounding=ROUND_HALF_EVEN)


def pct_json(value: Decimal | None) -> float | None:
    """A percentage as JSON: a number, or null when there is none."""
    return None if value is None else float(value)
