"""The normalized usage event and its small value types.

Every adapter turns its format into `UsageEvent`s; pricing fills in the cost; the
ledger stores them. This module imports nothing of ours so that every layer can use it
without pulling in another.

Money is `Decimal` in code and integer nano-dollars (1e-9 USD) at rest: per-token
prices such as $0.075/MTok are 75 nano-dollars per token, so nano-dollars keep every
realistic price exact, and integers sum exactly in SQLite.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Final, Literal, overload

if TYPE_CHECKING:
    from monitor.wire import EventPayload

CostBasis = Literal["reported", "priced", "estimated", "unpriced"]
CostPolicy = Literal["auto", "reported", "priced"]
"""How a source's calls are costed: the tool's own cost if it wrote one, else priced
("auto"); only the tool's ("reported"); always from current prices ("priced")."""
COST_POLICIES: Final[tuple[CostPolicy, ...]] = ("auto", "reported", "priced")
DIMENSIONS: Final[tuple[str, ...]] = ("source", "provider", "model", "operation")
"""What a call is broken down and scoped by (plus `tag.KEY`): budgets' scopes, the daily
rollups' key, the totals' breakdowns — one list."""
COST_BASES: Final[tuple[str, ...]] = ("reported", "priced", "estimated", "unpriced")

NANO: Final = Decimal(1_000_000_000)
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MS: Final = timedelta(milliseconds=1)
_ONE_NANO: Final = Decimal("1e-9")

# Bits of UsageEvent.flags: facts about how trustworthy the record is.
FLAG_TS_FROM_MTIME: Final = 1  # no timestamp in the record; the file's mtime stood in
FLAG_ESTIMATED_TOKENS: Final = 2  # the tool wrote no token counts; a fallback estimate stood in

MAX_TOKENS: Final = 10**15
"""The most tokens one record may count. No call reads a quadrillion tokens; a larger value
is garbage, and the bound keeps the sums of any ledger inside SQLite's 64-bit integers."""
MAX_COST_USD: Final = Decimal(10**6)
"""The most one record may cost, for the same reasons (as nano-dollars: 10**15)."""


@dataclass(slots=True)
class UsageEvent:
    """One API call (or, with `calls` > 1, a summary record standing for several).

    Token semantics follow OpenAI and genai-prices: `input_tokens` counts ALL prompt
    tokens including cache reads and writes; `output_tokens` counts ALL completion
    tokens including reasoning. The cache and reasoning fields are subsets.
    """

    key: str
    ts: datetime
    source: str
    provider: str
    model: str
    operation: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cache_write_1h_tokens: int = 0
    reasoning_tokens: int = 0
    calls: int = 1
    cost: Decimal | None = None
    cost_basis: CostBasis = "unpriced"
    reported_cost: Decimal | None = None
    priced_cost: Decimal | None = None
    tags: dict[str, str] = field(default_factory=dict)
    origin: str = ""
    flags: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def replace(self, **changes: object) -> UsageEvent:
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]


def to_nano(amount: Decimal) -> int:
    """Exact dollars → integer nano-dollars (half-even below a nano-dollar)."""
    return int((amount * NANO).to_integral_value(rounding=ROUND_HALF_EVEN))


def from_nano(nano: int) -> Decimal:
    return (Decimal(nano) / NANO).quantize(_ONE_NANO)


def opt_to_nano(amount: Decimal | None) -> int | None:
    return None if amount is None else to_nano(amount)


def opt_from_nano(nano: int | None) -> Decimal | None:
    return None if nano is None else from_nano(nano)


def decimal_from_json(value: object) -> Decimal | None:
    """A cost as JSON writes it (float, int or string) → Decimal, via its shortest repr.

    `Decimal(0.1)` would carry the binary float's error; `Decimal(repr(0.1))` is 0.1.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int | float):
        return Decimal(repr(value))
    if isinstance(value, str):
        text = value.strip().lstrip("$").replace(",", "")
        if not text:
            return None
        try:
            return Decimal(text)
        except ArithmeticError:
            return None
    return None


@overload
def usd_json(amount: Decimal) -> str: ...
@overload
def usd_json(amount: Decimal | None) -> str | None: ...
def usd_json(amount: Decimal | None) -> str | None:
    """Money in machine-readable output: a decimal string with 6 places, never a float."""
    if amount is None:
        return None
    return f"{amount.quantize(Decimal('0.000001'), rounding=ROUND_HALF_EVEN):f}"


def usd_text(amount: Decimal | None, *, precise: bool = False) -> str:
    """Money for people: `$1,234.57`; `precise` shows sub-cent amounts of one call."""
    if amount is None:
        return "unpriced"
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    if precise and Decimal(0) < amount < Decimal("0.01"):
        text = f"{amount.quantize(Decimal('0.000001'), rounding=ROUND_HALF_EVEN):f}"
        return f"{sign}${text.rstrip('0')}"
    return f"{sign}${amount.quantize(Decimal('0.01'), rounding=ROUND_HALF_EVEN):,.2f}"


def usd_true_text(amount: Decimal | None) -> str:
    """Money in sentences that compare amounts: cents, unless cents would round an amount
    under a dollar into an untruth (`$0.005 of $0.01`, never `$0.01 of $0.01`)."""
    if amount is not None and 0 < abs(amount) < 1 and amount != amount.quantize(Decimal("0.01")):
        text = f"{abs(amount).quantize(Decimal('0.000001'), rounding=ROUND_HALF_EVEN):f}"
        return f"{'-' if amount < 0 else ''}${text.rstrip('0')}"
    return usd_text(amount)


def utc(dt: datetime) -> datetime:
    """An aware datetime in UTC (naive input is taken as UTC already)."""
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def ts_ms(dt: datetime) -> int:
    """Milliseconds since the epoch: how the ledger stores `ts`."""
    return (utc(dt) - _EPOCH) // _MS


def from_ts_ms(ms: int) -> datetime:
    return _EPOCH + ms * _MS


def event_payload(e: UsageEvent) -> EventPayload:
    """An event as JSON-ready plain values for the socket API: money as 6-place strings.

    Its shape is `wire.EventPayload`; `event_from_payload` reads it back.
    """
    return {
        "key": e.key,
        "ts": utc(e.ts).isoformat(),
        "source": e.source,
        "provider": e.provider,
        "model": e.model,
        "operation": e.operation,
        "input_tokens": e.input_tokens,
        "output_tokens": e.output_tokens,
        "cache_read_tokens": e.cache_read_tokens,
        "cache_write_tokens": e.cache_write_tokens,
        "cache_write_1h_tokens": e.cache_write_1h_tokens,
        "reasoning_tokens": e.reasoning_tokens,
        "calls": e.calls,
        "cost_usd": usd_json(e.cost),
        "cost_basis": e.cost_basis,
        "reported_cost_usd": usd_json(e.reported_cost),
        "priced_cost_usd": usd_json(e.priced_cost),
        "tags": dict(e.tags),
        "origin": e.origin,
        "flags": e.flags,
    }


def event_from_payload(d: dict[str, object]) -> UsageEvent:
    """The inverse of `event_payload` (for clients such as the dashboard)."""

    def money(name: str) -> Decimal | None:
        v = d.get(name)
        return Decimal(str(v)) if v is not None else None

    def count(name: str) -> int:
        v = d.get(name, 0)
        return int(v) if isinstance(v, int | str) else 0

    basis = str(d.get("cost_basis", "unpriced"))
    tags = d.get("tags")
    return UsageEvent(
        key=str(d["key"]),
        ts=datetime.fromisoformat(str(d["ts"])),
        source=str(d.get("source", "")),
        provider=str(d.get("provider", "")),
        model=str(d.get("model", "")),
        operation=str(d["operation"]) if d.get("operation") is not None else None,
        input_tokens=count("input_tokens"),
        output_tokens=count("output_tokens"),
        cache_read_tokens=count("cache_read_tokens"),
        cache_write_tokens=count("cache_write_tokens"),
        cache_write_1h_tokens=count("cache_write_1h_tokens"),
        reasoning_tokens=count("reasoning_tokens"),
        calls=count("calls") or 1,
        cost=money("cost_usd"),
        cost_basis=basis if basis in COST_BASES else "unpriced",  # type: ignore[arg-type]
        reported_cost=money("reported_cost_usd"),
        priced_cost=money("priced_cost_usd"),
        tags={str(k): str(v) for k, v in tags.items()} if isinstance(tags, dict) else {},
        origin=str(d.get("origin", "")),
        flags=count("flags"),
    )
