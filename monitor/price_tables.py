"""genai-prices' price data, read into the rates `monitor.pricing` sums.

`Pricer` asks this module the slow questions, each once per model or price period: which
genai-prices model a (provider, model) names (`find_model`), which of its prices are in
force when (`fixed_price`, `dated_only`, `price_changes`), and what a `ModelPrice` comes
to per token (`compile_price`: genai-prices' unit decomposition and tiers as plain
`Decimal` terms, and as whole nano-dollars where the prices allow). Shapes the terms
cannot hold are priced by genai-prices itself (`calc_price`).

Its own module because genai-prices (pydantic models and the snapshot) takes 0.2 s of
CPU to import: `monitor.pricing` imports this only when a price is first asked, so a
process that builds a `Pricer` and never prices — a backfill's storing process, whose
files the workers price — never pays for it. See `monitor.pricing` for the rules.
"""

from __future__ import annotations

import warnings
from copy import copy
from datetime import date
from decimal import Decimal
from typing import Final

from genai_prices.data_snapshot import DataSnapshot, find_provider_by_id
from genai_prices.data_units import unit_data
from genai_prices.decompose import is_descendant_or_self
from genai_prices.types import (
    ModelInfo,
    ModelPrice,
    Provider,
    StartDateConstraint,
    Tier,
    TieredPrices,
    Usage,
)
from genai_prices.units import UnitDef, UnitRegistry

from monitor.events import NANO
from monitor.price_info import flat_price
from monitor.pricing import OVERRIDE_KEYS, USAGE_KEYS, NanoRate, OverridePrices, Rate, Term
from monitor.sources.common import provider_and_model, split_model

_SLOT: Final[dict[str, int]] = {key: slot for slot, key in enumerate(USAGE_KEYS)}
_REQUESTS: Final = "requests"
_ONE_HOUR_WRITE_FACTOR: Final = Decimal(2)

# The same unit registry genai-prices builds for itself (units.py keeps its own private).
_REGISTRY: Final = UnitRegistry(unit_data)


def fixed_price(model: ModelInfo) -> ModelPrice | None:
    """The model's price when it never changes with time, else None."""
    prices = model.prices
    return prices if isinstance(prices, ModelPrice) else None


def dated_only(model: ModelInfo) -> bool:
    """The model's prices change on UTC dates only (no time-of-day prices), so the price
    of a day can be kept for the day."""
    prices = model.prices
    if isinstance(prices, ModelPrice):
        return True
    return all(
        c.constraint is None or isinstance(c.constraint, StartDateConstraint) for c in prices
    )


def price_changes(model: ModelInfo) -> tuple[tuple[date, ...], bool]:
    """The dates the model's price changes on, and whether it has time-of-day prices."""
    prices = model.prices
    if isinstance(prices, ModelPrice):
        return (), False
    starts = sorted(
        {c.constraint.start_date for c in prices if isinstance(c.constraint, StartDateConstraint)}
    )
    time_of_day = any(
        c.constraint is not None and not isinstance(c.constraint, StartDateConstraint)
        for c in prices
    )
    return tuple(starts), time_of_day


def calc_price(model_price: ModelPrice, usage: tuple[int, ...]) -> Decimal | None:
    """genai-prices' own price of one call's usage vector, or None when it has none."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            total: Decimal = model_price.calc_price(genai_usage(usage))["total_price"]
    except (LookupError, ValueError):
        return None
    return total


def genai_usage(usage: tuple[int, ...]) -> Usage:
    """The usage vector (see `USAGE_KEYS`) as a genai-prices `Usage`."""
    return Usage(**dict(zip(USAGE_KEYS, usage, strict=True)))


def find_model(
    snapshot: DataSnapshot, provider: str, model: str
) -> tuple[Provider, ModelInfo] | None:
    """Resolve in genai-prices. A `vendor/model` name is first read as adapters read it
    (`provider_and_model`: the vendor's bare model, or a host's own name); a host's name
    genai-prices does not know is then looked up bare, under the host and then under the
    vendor (see the module docstring)."""
    if "/" in model:
        provider, model = provider_and_model(provider, model)
    found = _lookup(snapshot, provider, model)
    if found is None and "/" in model:
        vendor, bare = split_model(model)
        if vendor is not None:
            found = _lookup(snapshot, provider, bare) or _lookup(snapshot, vendor, bare)
    return found


def _lookup(snapshot: DataSnapshot, provider: str, model: str) -> tuple[Provider, ModelInfo] | None:
    """Under the provider when genai-prices knows it, else under the one it infers from
    the model name."""
    provider_id: str | None = None
    if provider and provider != "unknown":
        known = find_provider_by_id(snapshot.providers, provider)
        provider_id = known.id if known is not None else None
    try:
        return snapshot.find_provider_model(model, None, provider_id, None)
    except (LookupError, ValueError):
        return None


def override_price(override: OverridePrices) -> ModelPrice | None:
    """An override for a model genai-prices does not know: the whole price.

    Without an input and an output rate there is none (unpriced), never $0 for tokens
    nobody priced.
    """
    if override.input_per_mtok is None or override.output_per_mtok is None:
        return None
    return ModelPrice(**{key: getattr(override, field) for field, key in OVERRIDE_KEYS})


def merged(model_price: ModelPrice, override: OverridePrices) -> ModelPrice:
    """genai-prices' price with the rates the override sets replaced (flat)."""
    out = copy(model_price)
    for field, key in OVERRIDE_KEYS:
        value = getattr(override, field)
        if value is not None:
            out.__dict__[key] = value
    if override.input_per_mtok is not None or override.cache_write_per_mtok is not None:
        out.__dict__.pop("cache_write_1h_mtok", None)  # re-derived as 2× input
    return out


def compile_price(model_price: ModelPrice) -> Rate:
    """Compile a ModelPrice into the terms genai-prices' decomposition would price.

    genai-prices prices every priced unit for its "leaf" count: its usage minus that of
    its priced sub-units (compute_leaf_values). Units outside the usage vector always
    count zero and have no sub-unit inside it, so they add nothing and are dropped.
    """
    derived, one_hour_derived = _with_one_hour_rate(model_price)
    if one_hour_derived and _accepted(derived):
        model_price = derived
    else:
        one_hour_derived = False
    valid = _accepted(model_price)
    units: list[tuple[UnitDef, Decimal | TieredPrices]] = []
    per_request = Decimal(0)
    for price_key, value in model_price.__dict__.items():
        if price_key.startswith("_") or value is None:
            continue
        try:
            unit = _REGISTRY.unit_for_price_key(price_key)
        except KeyError:
            continue  # genai-prices ignores unknown price keys too (with a warning)
        if unit.usage_key == _REQUESTS:
            per_request = flat_price(value) / unit.per
        else:
            units.append((unit, value))
    in_vector = [u for u, _ in units if u.usage_key in _SLOT]
    kept = [
        (u, v)
        for u, v in units
        if u.usage_key in _SLOT or any(is_descendant_or_self(u, d) for d in in_vector)
    ]
    kept.sort(key=lambda uv: (-len(uv[0].dimensions), uv[0].usage_key))
    fallback = any(u.usage_key not in _SLOT for u, _ in kept)
    terms: list[Term] = []
    for position, (unit, value) in enumerate(kept):
        if unit.usage_key not in _SLOT:
            break
        subs = tuple(
            i for i, (other, _) in enumerate(kept[:position]) if is_descendant_or_self(unit, other)
        )
        base, tiers = _per_token(value, unit.per)
        terms.append(Term(slot=_SLOT[unit.usage_key], base=base, tiers=tiers, sub_terms=subs))
    return Rate(
        terms=tuple(terms),
        per_request=per_request,
        valid=valid,
        fallback=fallback,
        model_price=model_price,
        one_hour_derived=one_hour_derived,
        nano=_nano_rate(tuple(terms), per_request),
    )


def _accepted(model_price: ModelPrice) -> bool:
    """Whether genai-prices accepts the price shape (ancestor and join coverage, values)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            model_price.calc_price(Usage(input_tokens=0, output_tokens=0))
    except ValueError:
        return False
    return True


def _with_one_hour_rate(model_price: ModelPrice) -> tuple[ModelPrice, bool]:
    """Add Anthropic's 1-hour cache-write rate (2× input) where the data lacks it."""
    input_price = getattr(model_price, "input_mtok", None)
    has_write = getattr(model_price, "cache_write_mtok", None) is not None
    has_one_hour = getattr(model_price, "cache_write_1h_mtok", None) is not None
    if input_price is None or not has_write or has_one_hour:
        return model_price, False
    derived = copy(model_price)
    derived.__dict__["cache_write_1h_mtok"] = _scaled(input_price, _ONE_HOUR_WRITE_FACTOR)
    return derived, True


def _scaled(price: Decimal | TieredPrices, factor: Decimal) -> Decimal | TieredPrices:
    if isinstance(price, TieredPrices):
        return TieredPrices(
            base=price.base * factor,
            tiers=[Tier(start=t.start, price=t.price * factor) for t in price.tiers],
        )
    return price * factor


def _per_token(
    value: Decimal | TieredPrices, per: int
) -> tuple[Decimal, tuple[tuple[int, Decimal], ...]]:
    if isinstance(value, TieredPrices):
        ascending = sorted(value.tiers, key=lambda t: t.start)  # genai-prices scans it backwards
        tiers = tuple((t.start, t.price / per) for t in reversed(ascending))
        return value.base / per, tiers
    return value / per, ()


def _nano_rate(terms: tuple[Term, ...], per_request: Decimal) -> NanoRate | None:
    """The terms in whole nano-dollars per token, or None when a price is not one."""

    def whole(usd: Decimal) -> int | None:
        nano = usd * NANO
        return int(nano) if nano == nano.to_integral_value() else None

    out = []
    for term in terms:
        base = whole(term.base)
        tiers = []
        for start, usd in term.tiers:
            price = whole(usd)
            if price is None:
                return None
            tiers.append((start, price))
        if base is None:
            return None
        out.append((term.slot, base, tuple(tiers), term.sub_terms))
    request = whole(per_request)
    return None if request is None else NanoRate(tuple(out), request)
