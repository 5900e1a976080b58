"""How the dashboard writes numbers, money and times in narrow cells.

Pure functions on plain values (the strings of the socket documents, datetimes), so the
widgets stay thin and the formats are tested without a screen. Money as the reports
write it: USD to the cent with separators, more places only for a single sub-cent call.
"""

from __future__ import annotations

from datetime import datetime, tzinfo
from decimal import Decimal, InvalidOperation

from monitor.events import usd_text


def dec(value: str | Decimal | None) -> Decimal | None:
    """A money string of a socket document ("1.200000") → Decimal; None when absent or bad."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def money(value: str | Decimal | None, *, precise: bool = False) -> str:
    """ "$1,234.57"; "—" when unknown (the document had no number)."""
    amount = dec(value)
    return "—" if amount is None else usd_text(amount, precise=precise)


def cost_cell(cost: Decimal | None, basis: str) -> str:
    """One call's cost: sub-cent amounts keep their places; estimates carry a "~"."""
    if cost is None:
        return "unpriced"
    text = usd_text(cost, precise=True)
    return "~" + text if basis == "estimated" else text


def tokens(n: int) -> str:
    """Token counts in five characters or fewer: 950, 12.3k, 1.25M."""
    if n < 1000:
        return str(n)
    if n < 100_000:
        return f"{n / 1000:.1f}k"
    if n < 1_000_000:
        return f"{n // 1000}k"
    if n < 100_000_000:
        return f"{n / 1_000_000:.2f}M"
    return f"{n // 1_000_000}M"


def when(ts: datetime, now: datetime, tz: tzinfo) -> str:
    """A call's time: "14:03:22" today, "Nov 20" before (the live list spans days)."""
    local = ts.astimezone(tz)
    if local.date() == now.astimezone(tz).date():
        return local.strftime("%H:%M:%S")
    return local.strftime("%b %d")


def percent(fraction: float | None) -> str:
    return "—" if fraction is None else f"{fraction * 100:.0f} %"


def clip(text: str, width: int) -> str:
    """At most `width` characters, an ellipsis marking the cut."""
    if width <= 0:
        return ""
    return text if len(text) <= width else text[: width - 1] + "…"
