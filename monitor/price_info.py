"""What `llm-monitor price MODEL` shows: the prices in force for a model, as text.

Pricing itself (pricing.py) turns usage into dollars; this module only describes a
price — per-MTok rates, tiers, the 1-hour cache-write rate, other units — for people.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Final

from genai_prices.types import ModelInfo, ModelPrice, Provider, TieredPrices


def flat_price(value: Decimal | TieredPrices) -> Decimal:
    """A price's base rate (a tiered price's first tier)."""
    return value.base if isinstance(value, TieredPrices) else value


@dataclass(frozen=True, slots=True)
class TierInfo:
    usage: str
    """Which tokens: "input", "output", "cache read", "cache write", "cache write 1h"."""
    above_tokens: int
    """The tier applies when the call's input tokens exceed this."""
    per_mtok: Decimal


@dataclass(frozen=True, slots=True)
class PriceInfo:
    """What `llm-monitor price MODEL` shows: the price in force at `when`, per MTok."""

    query: str
    when: datetime
    override: str | None
    """The config `[prices."…"]` entry that applies, as the config names it."""
    provider: str | None
    """genai-prices provider id; None when genai-prices does not know the model."""
    model_id: str | None
    """genai-prices model id; None when genai-prices does not know the model."""
    model_name: str | None
    input_per_mtok: Decimal | None
    output_per_mtok: Decimal | None
    cache_read_per_mtok: Decimal | None
    cache_write_per_mtok: Decimal | None
    cache_write_1h_per_mtok: Decimal | None
    cache_write_1h_derived: bool
    """The 1-hour rate is 2× input (ours), not from genai-prices' data."""
    tiers: tuple[TierInfo, ...]
    other: tuple[tuple[str, Decimal], ...]
    """Further genai-prices prices (price key, base value), e.g. web searches per 1000."""
    price_changes: tuple[date, ...]
    """Start dates of the model's price periods (empty when it has one price)."""
    time_of_day_prices: bool
    """Prices vary by time of day (e.g. off-peak hours)."""


_INFO_KEYS: Final[dict[str, str]] = {
    "input_mtok": "input",
    "output_mtok": "output",
    "cache_read_mtok": "cache read",
    "cache_write_mtok": "cache write",
    "cache_write_1h_mtok": "cache write 1h",
}


def price_info_of(
    query: str,
    when: datetime,
    mp: ModelPrice,
    one_hour_derived: bool,
    override: str | None,
    provider: Provider | None,
    model: ModelInfo | None,
) -> PriceInfo:
    """The description of a price in force (what `llm-monitor price MODEL` shows)."""
    flat: dict[str, Decimal | None] = {}
    tiers: list[TierInfo] = []
    other: list[tuple[str, Decimal]] = []
    for key, value in mp.__dict__.items():
        if key.startswith("_") or value is None:
            continue
        if key in _INFO_KEYS:
            flat[key] = flat_price(value)
            if isinstance(value, TieredPrices):
                tiers.extend(TierInfo(_INFO_KEYS[key], t.start, t.price) for t in value.tiers)
        else:
            other.append((key, flat_price(value)))
    return PriceInfo(
        query=query,
        when=when,
        override=override,
        provider=provider.id if provider is not None else None,
        model_id=model.id if model is not None else None,
        model_name=model.name if model is not None else None,
        input_per_mtok=flat.get("input_mtok"),
        output_per_mtok=flat.get("output_mtok"),
        cache_read_per_mtok=flat.get("cache_read_mtok"),
        cache_write_per_mtok=flat.get("cache_write_mtok"),
        cache_write_1h_per_mtok=flat.get("cache_write_1h_mtok"),
        cache_write_1h_derived=one_hour_derived,
        tiers=tuple(tiers),
        other=tuple(other),
        price_changes=(),
        time_of_day_prices=False,
    )


_PER_UNIT: Final[tuple[tuple[str, str], ...]] = (
    ("_mtok", "per MTok"),
    ("_kcount", "per 1,000"),
    ("_kpages", "per 1,000 pages"),
    ("_mchars", "per M chars"),
    ("_gpixels", "per G pixels"),
    ("_hours", "per hour"),
)


def _usd(value: Decimal) -> str:
    return f"${value.normalize():f}"


def _other_line(price_key: str, value: Decimal) -> str:
    for suffix, per in _PER_UNIT:
        if price_key.endswith(suffix):
            return f"{price_key.removesuffix(suffix).replace('_', ' ')}: {_usd(value)} {per}"
    return f"{price_key}: {_usd(value)}"


def format_price_info(info: PriceInfo) -> str:
    """Human text for `llm-monitor price MODEL`."""
    name = f" ({info.model_name})" if info.model_name else ""
    source = f"{info.provider} / {info.model_id}{name} in genai-prices" if info.model_id else ""
    if info.override is None:
        lines = [f"{info.query}: {source}"]
    elif source:
        lines = [f'{info.query}: {source}, with config [prices."{info.override}"] over it']
    else:
        lines = [f'{info.query}: config [prices."{info.override}"] (unknown to genai-prices)']
    lines.append(f"in force at {info.when:%Y-%m-%d %H:%M} UTC, USD per million tokens:")
    tiers: dict[str, list[TierInfo]] = {}
    for tier in info.tiers:
        tiers.setdefault(tier.usage, []).append(tier)
    for label, value in (
        ("input", info.input_per_mtok),
        ("output", info.output_per_mtok),
        ("cache read", info.cache_read_per_mtok),
        ("cache write", info.cache_write_per_mtok),
        ("cache write 1h", info.cache_write_1h_per_mtok),
    ):
        if value is None:
            text = "not priced" if label in ("input", "output") else "input rate"
        else:
            text = _usd(value)
            for tier in tiers.get(label, ()):
                text += f", {_usd(tier.per_mtok)} above {tier.above_tokens:,} input tokens"
            if label == "cache write 1h" and info.cache_write_1h_derived:
                text += " (2× input: Anthropic's 1-hour rate)"
        lines.append(f"  {label:<15} {text}")
    lines.extend(f"  {_other_line(key, value)}" for key, value in info.other)
    if info.price_changes:
        changes = ", ".join(d.isoformat() for d in info.price_changes)
        lines.append(f"  price changes on {changes} (UTC dates)")
    if info.time_of_day_prices:
        lines.append("  prices vary by time of day")
    return "\n".join(lines)
