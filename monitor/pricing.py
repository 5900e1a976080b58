"""The cost of a usage event: genai-prices at the event's timestamp, config overrides, policy.

genai-prices owns every price (an offline snapshot with price history); this module never
holds a price table of its own. What it adds:

- Speed. `genai_prices.calc_price` costs 50–80 µs a call, too slow for a 200 k-event
  backfill. A `Pricer` resolves the model once per (provider, model), picks the price in
  force once per price period (genai-prices' `ModelInfo.get_prices`: start-date
  constraints are UTC dates, so a period is cached by UTC date; time-of-day prices, such
  as DeepSeek's off-peak hours, are picked per event), and compiles that `ModelPrice`
  into a `_Rate`: the same unit decomposition genai-prices does (each priced unit pays
  for its tokens minus those of its priced sub-units, e.g. input minus cache reads and
  writes), the same cliff tiers (crossing a tier's start, by total input tokens, moves
  ALL tokens to that tier's rate), exact `Decimal` arithmetic. The result equals
  `calc_price(...).total_price` (tests sweep many usages to prove it), in 2–4 µs.
- Token semantics. `UsageEvent.input_tokens` already includes cache reads and writes,
  `output_tokens` includes reasoning: genai-prices' own semantics, passed through as
  `input_tokens`, `output_tokens`, `cache_read_tokens`, `cache_write_tokens`,
  `cache_write_1h_tokens` and `output_reasoning_tokens`. Inconsistent usage (a subset
  larger than its whole, negative counts) is unpriced, as genai-prices rejects it.
- 1-hour cache writes. genai-prices prices them (`cache_write_1h_mtok`, 2× input for
  Anthropic) where its data has the rate. Where a price has a cache-write rate but no
  1-hour rate (Claude served through Vertex, Bedrock regional, OpenRouter, …, and config
  overrides), genai-prices would charge 1-hour writes at the 5-minute rate; Anthropic
  charges 2× the input rate on every platform, so this module adds that rate
  (tiered like the input rate). One of two places it departs from `calc_price`:
- Per-request fees (a few Perplexity models): genai-prices charges one request per
  call; an event standing for `calls` calls pays `calls` request fees. Tokens are
  priced on the event's totals whatever `calls` is (tiers included).
- Provider: the event's provider when genai-prices knows it (only that provider's
  prices, or those it falls back to, e.g. Azure → OpenAI); "unknown" or a provider it
  does not know lets genai-prices infer the provider from the model name.
- Model names that name their vendor ("openai/gpt-5.5", as OpenRouter, LiteLLM and
  Codex write them) are priced as `sources.common.provider_and_model` reads them, the
  one rule adapters store them by: the vendor's bare model ("openai/gpt-5.5" is OpenAI's
  gpt-5.5, also through OpenRouter), or a host's own name for it ("groq" +
  "openai/gpt-oss-120b" is Groq's price); a host's name genai-prices does not know is
  looked up bare, under the host, then under the vendor. This serves names adapters did
  not store: events stored before, `estimate --model`, `price`.
- Overrides: config `[prices."model"]` entries (`monitor.config.PriceOverride`),
  matched on the model name exactly (case-insensitive), or on its bare name
  (`[prices."openai/gpt-5.5"]` prices gpt-5.5 too, unless `[prices."gpt-5.5"]` exists).
  A rate the entry sets replaces genai-prices' rate for that kind of token (flat: no
  tiers); a rate it leaves unset keeps genai-prices' rate. Setting the input or
  cache-write rate drops genai-prices' 1-hour rate, so 1-hour writes cost 2× the
  overridden input rate. For a model genai-prices does not know, the entry is the
  whole price: cache tokens without a rate cost the input rate, and without both an
  input and an output rate the model stays unpriced (never $0 for tokens nobody
  priced).
- Cost policy per source (`apply`) and repricing (`reprice`).

Unknown model → `None` (unpriced), never $0; misses are memoized too. This module
must not import the daemon, api, tui, notify, textual or apprise.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from copy import copy
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Final, Protocol, TypeVar

from genai_prices.data_snapshot import DataSnapshot, find_provider_by_id, get_snapshot
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

from monitor.events import (
    COST_POLICIES,
    FLAG_ESTIMATED_TOKENS,
    NANO,
    CostBasis,
    UsageEvent,
    opt_to_nano,
)
from monitor.price_info import PriceInfo, flat_price, price_info_of
from monitor.sources.common import provider_and_model, split_model

# The usage vector: the genai-prices usage keys an event fills, in slot order.
_USAGE_KEYS: Final[tuple[str, ...]] = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "output_reasoning_tokens",
)
_SLOT: Final[dict[str, int]] = {key: slot for slot, key in enumerate(_USAGE_KEYS)}
_REQUESTS: Final = "requests"
_ONE_HOUR_WRITE_FACTOR: Final = Decimal(2)

# The same unit registry genai-prices builds for itself (units.py keeps its own private).
_REGISTRY: Final = UnitRegistry(unit_data)


class OverridePrices(Protocol):
    """What a `Pricer` reads of a config `[prices."model"]` entry (`monitor.config.PriceOverride`).

    USD per million tokens; None = no override for that kind of token.
    """

    @property
    def input_per_mtok(self) -> Decimal | None: ...
    @property
    def output_per_mtok(self) -> Decimal | None: ...
    @property
    def cache_read_per_mtok(self) -> Decimal | None: ...
    @property
    def cache_write_per_mtok(self) -> Decimal | None: ...


_OVERRIDE_KEYS: Final[tuple[tuple[str, str], ...]] = (
    ("input_per_mtok", "input_mtok"),
    ("output_per_mtok", "output_mtok"),
    ("cache_read_per_mtok", "cache_read_mtok"),
    ("cache_write_per_mtok", "cache_write_mtok"),
)


@dataclass(slots=True)
class PricerStats:
    """How often the slow paths ran; the memoization is observable through these."""

    lookups: int = 0
    """Model resolutions in genai-prices (hits and misses), once per (provider, model)."""
    periods: int = 0
    """Price periods compiled, once per distinct `ModelPrice` in force."""
    fallbacks: int = 0
    """Events priced by genai-prices' own `calc_price` (shapes the fast path does not know)."""


@dataclass(frozen=True, slots=True)
class _Term:
    slot: int
    base: Decimal
    """USD per token below every tier."""
    tiers: tuple[tuple[int, Decimal], ...]
    """(start, USD per token), highest start first."""
    sub_terms: tuple[int, ...]
    """Positions (in `_Rate.terms`) of the priced sub-units whose tokens this one excludes."""


@dataclass(frozen=True, slots=True)
class _Rate:
    """A `ModelPrice` compiled for the usage an event can carry."""

    terms: tuple[_Term, ...]
    """Most specific unit first, so a unit's sub-units are settled before it."""
    per_request: Decimal
    valid: bool
    """False when genai-prices rejects the price itself (every event is then unpriced)."""
    fallback: bool
    """True when a priced unit lies outside the usage vector: use genai-prices' calc_price."""
    model_price: ModelPrice
    one_hour_derived: bool
    nano: _NanoRate | None = None
    """The same terms in whole nano-dollars per token, when every price is one (the
    usual case: $3/MTok is 3,000): a backfill's costs summed as integers, exactly what
    the Decimal sum gives once stored as nano-dollars, at a third of its CPU."""


@dataclass(frozen=True, slots=True)
class _NanoRate:
    terms: tuple[tuple[int, int, tuple[tuple[int, int], ...], tuple[int, ...]], ...]
    """(slot, base, tiers, sub_terms) of each `_Term`, prices in nano-dollars per token."""
    per_request: int


@dataclass(slots=True)
class _Entry:
    """A resolved (provider, model): a genai-prices model and/or a config override."""

    rate: _Rate | None
    """The rate when it never changes with time; else picked per period."""
    model: ModelInfo | None
    """None for an override-only model or a miss (then `rate` is set, or None for a miss)."""
    override: str | None
    """Key of the config override merged into the model's prices."""
    by_date: bool
    """The model's prices change on UTC dates only, so a day's rate can be cached."""
    by_day: dict[date, _Rate]


_MISS: Final = _Entry(rate=None, model=None, override=None, by_date=False, by_day={})


class Pricer:
    """Prices events; memoizes model resolution and price periods. Not thread-safe."""

    def __init__(self, overrides: Mapping[str, OverridePrices] | None = None) -> None:
        self.stats = PricerStats()
        self.overrides: Mapping[str, OverridePrices] = dict(overrides or {})
        """As given: what a worker process needs to build the same Pricer."""
        self._overrides: dict[str, tuple[str, OverridePrices]] = {}
        for name, override in (overrides or {}).items():
            for field, _ in _OVERRIDE_KEYS:
                value = getattr(override, field)
                if value is not None and not (value.is_finite() and value >= 0):
                    raise ValueError(f'[prices."{name}"] {field}: expected a price >= 0')
            self._overrides[name.strip().lower()] = (name, override)
        for name, override in (overrides or {}).items():
            # A bare model matches `[prices."vendor/model"]` too; its own entry comes first.
            vendor, bare = split_model(name.strip())
            if vendor is not None:
                self._overrides.setdefault(bare.lower(), (name, override))
        self._snapshot: DataSnapshot | None = None
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._rates: dict[tuple[int, str | None], _Rate] = {}

    # -- cost of one event -------------------------------------------------------------

    def price(self, event: UsageEvent) -> Decimal | None:
        """The event's cost at current prices, or None when its model has no known price."""
        found = self._priceable(event)
        if found is None:
            return None
        return self._decimal_cost(*found, event.calls)

    def price_nano(self, event: UsageEvent) -> int | None:
        """`price` in nano-dollars, as the ledger stores it: summed as integers when the
        rate allows (`_Rate.nano`), else the Decimal cost converted."""
        found = self._priceable(event)
        if found is None:
            return None
        rate, usage = found
        if rate.nano is not None and not rate.fallback:
            return _cost_nano(rate.nano, usage, event.calls)
        return opt_to_nano(self._decimal_cost(rate, usage, event.calls))

    def row_costs(self, event: UsageEvent, policy: str) -> RowCosts:
        """What `apply` would make of the event, in nano-dollars, without touching it:
        a parsing worker stores the row and never needs the event's Decimals."""
        _check_policy(policy)
        priced = self.price_nano(event)
        reported = opt_to_nano(event.reported_cost)
        cost, basis = choose_cost(policy, priced, reported, _estimated(event))
        return cost, basis, reported, priced

    def _decimal_cost(self, rate: _Rate, usage: tuple[int, ...], calls: int) -> Decimal | None:
        if rate.fallback:
            return self._calc_price(rate, usage, calls)
        return _cost(rate, usage, calls)

    def _priceable(self, event: UsageEvent) -> tuple[_Rate, tuple[int, ...]] | None:
        """The rate in force and the usage vector, or None when the event has no price
        (an unknown model, a price genai-prices rejects, a usage that is no usage)."""
        rate = self._rate_of(event)
        if rate is None:
            return None
        usage = _usage_of(event)
        if not rate.valid or min(usage) < 0:
            return None
        return rate, usage

    def _rate_of(self, event: UsageEvent) -> _Rate | None:
        """The rate in force for the event's model at its time; None when unpriced."""
        snapshot = get_snapshot()
        if snapshot is not self._snapshot:
            self._reset(snapshot)
        entry = self._entries.get((event.provider, event.model))
        if entry is None:
            entry = self._entries[(event.provider, event.model)] = self._resolve(
                event.provider, event.model
            )
        rate = entry.rate
        if rate is None:
            if entry.model is None:
                return None
            rate = self._rate_at(entry, entry.model, event.ts)
        return rate

    def apply(self, event: UsageEvent, policy: str = "auto") -> UsageEvent:
        """Set `priced_cost`, then `cost` and `cost_basis` by the source's policy; in place.

        - "auto": the record's own cost when it has one (it may reflect batch or
          negotiated prices), else the priced cost, else unpriced.
        - "reported": the same order as "auto". A record without a cost is priced rather
          than left at nothing: money spent is never hidden because a tool did not
          write its cost.
        - "priced": the priced cost, else the record's own, else unpriced.
        An event with estimated tokens (`cost_basis="estimated"` or the flag) keeps the
        basis "estimated" with the reported cost if any, else the priced one; with
        neither it is "unpriced" (the flag remembers it was estimated).
        """
        _check_policy(policy)
        priced = self.price(event)
        event.priced_cost = priced
        event.cost, event.cost_basis = choose_cost(
            policy, priced, event.reported_cost, _estimated(event)
        )
        return event

    def reprice(self, event: UsageEvent, policy: str) -> bool:
        """Re-apply current prices; True when cost, priced_cost or basis changed.

        Compared at nano-dollar precision, as the ledger stores them, so a stored event
        that reads back rounded does not count as changed. A "reported" event keeps its
        cost; its priced_cost is refreshed so drift shows.
        """
        before = (opt_to_nano(event.cost), opt_to_nano(event.priced_cost), event.cost_basis)
        self.apply(event, policy)
        after = (opt_to_nano(event.cost), opt_to_nano(event.priced_cost), event.cost_basis)
        return before != after

    # -- what a model costs --------------------------------------------------------------

    def price_info(
        self, model: str, provider: str | None = None, when: datetime | None = None
    ) -> PriceInfo | None:
        """The price that would apply to `model` at `when` (default: now); None if unknown."""
        when = when or datetime.now(UTC)
        snapshot = get_snapshot()
        if snapshot is not self._snapshot:
            self._reset(snapshot)
        key = self._override_key(model)
        named = self._overrides[key] if key is not None else None
        override_name = named[0] if named is not None else None
        found = _find(snapshot, provider or "unknown", model)
        if found is None:
            whole = _override_price(named[1]) if named is not None else None
            if whole is None:
                return None
            rate = _compile(whole)
            return price_info_of(
                model, when, rate.model_price, rate.one_hour_derived, override_name, None, None
            )
        found_provider, found_model = found
        model_price = found_model.get_prices(when)
        if named is not None:
            model_price = _merged(model_price, named[1])
        rate = _compile(model_price)
        info = price_info_of(
            model,
            when,
            rate.model_price,
            rate.one_hour_derived,
            override_name,
            found_provider,
            found_model,
        )
        prices = found_model.prices
        if isinstance(prices, ModelPrice):
            return info
        starts = sorted(
            {
                c.constraint.start_date
                for c in prices
                if isinstance(c.constraint, StartDateConstraint)
            }
        )
        time_of_day = any(
            c.constraint is not None and not isinstance(c.constraint, StartDateConstraint)
            for c in prices
        )
        return replace(info, price_changes=tuple(starts), time_of_day_prices=time_of_day)

    # -- memoization ---------------------------------------------------------------------

    def _reset(self, snapshot: DataSnapshot) -> None:
        """A new genai-prices snapshot (auto-update, tests) invalidates every cached price."""
        self._snapshot = snapshot
        self._entries.clear()
        self._rates.clear()

    def _override_key(self, model: str) -> str | None:
        """The key of the config override for `model`: its name, else its bare name."""
        key = model.strip().lower()
        if key in self._overrides:
            return key
        if "/" in key:
            bare = split_model(key)[1]
            if bare in self._overrides:
                return bare
        return None

    def _resolve(self, provider: str, model: str) -> _Entry:
        self.stats.lookups += 1
        assert self._snapshot is not None
        override = self._override_key(model)
        found = _find(self._snapshot, provider, model)
        if found is None:
            whole = _override_price(self._overrides[override][1]) if override else None
            if whole is None:
                return _MISS
            self.stats.periods += 1
            return _Entry(
                rate=_compile(whole), model=None, override=override, by_date=False, by_day={}
            )
        model_info = found[1]
        prices = model_info.prices
        if isinstance(prices, ModelPrice):
            rate = self._compiled(prices, override)
            return _Entry(rate=rate, model=model_info, override=override, by_date=False, by_day={})
        by_date = all(
            c.constraint is None or isinstance(c.constraint, StartDateConstraint) for c in prices
        )
        return _Entry(rate=None, model=model_info, override=override, by_date=by_date, by_day={})

    def _rate_at(self, entry: _Entry, model: ModelInfo, ts: datetime) -> _Rate:
        if not entry.by_date:
            return self._compiled(model.get_prices(ts), entry.override)
        day = (ts if ts.tzinfo is None or ts.tzinfo is UTC else ts.astimezone(UTC)).date()
        rate = entry.by_day.get(day)
        if rate is None:
            rate = entry.by_day[day] = self._compiled(model.get_prices(ts), entry.override)
        return rate

    def _compiled(self, model_price: ModelPrice, override: str | None) -> _Rate:
        # Keyed by identity: the snapshot's ModelPrice objects live as long as it does.
        key = (id(model_price), override)
        rate = self._rates.get(key)
        if rate is None:
            self.stats.periods += 1
            if override is not None:
                model_price = _merged(model_price, self._overrides[override][1])
            rate = self._rates[key] = _compile(model_price)
        return rate

    def _calc_price(self, rate: _Rate, usage: tuple[int, ...], calls: int) -> Decimal | None:
        self.stats.fallbacks += 1
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                total = rate.model_price.calc_price(genai_usage(usage))["total_price"]
        except (LookupError, ValueError):
            return None
        return total + rate.per_request * (calls - 1)


# -- pure helpers ------------------------------------------------------------------------

RowCosts = tuple[int | None, CostBasis, int | None, int | None]
"""(cost, basis, reported, priced) of an event's row: the amounts in nano-dollars."""


_Amount = TypeVar("_Amount", Decimal, int)


def choose_cost(
    policy: str, priced: _Amount | None, reported: _Amount | None, estimated: bool
) -> tuple[_Amount | None, CostBasis]:
    """The cost a source's policy takes and its basis (see `Pricer.apply`), the same
    whether the amounts are Decimals or nano-dollars."""
    cost: _Amount | None
    basis: CostBasis
    if policy == "priced":
        cost, basis = (priced, "priced") if priced is not None else (reported, "reported")
    else:
        cost, basis = (reported, "reported") if reported is not None else (priced, "priced")
    if cost is None:
        basis = "unpriced"
    elif estimated:
        basis = "estimated"
    return cost, basis


def _check_policy(policy: str) -> None:
    if policy not in COST_POLICIES:
        raise ValueError(f"unknown cost policy {policy!r}; expected one of {COST_POLICIES}")


def _estimated(event: UsageEvent) -> bool:
    return event.cost_basis == "estimated" or bool(event.flags & FLAG_ESTIMATED_TOKENS)


def _usage_of(event: UsageEvent) -> tuple[int, ...]:
    """The event's usage vector (`_USAGE_KEYS` order)."""
    return (
        event.input_tokens,
        event.output_tokens,
        event.cache_read_tokens,
        event.cache_write_tokens,
        event.cache_write_1h_tokens,
        event.reasoning_tokens,
    )


def genai_usage(usage: tuple[int, ...]) -> Usage:
    """The usage vector (see `_USAGE_KEYS`) as a genai-prices `Usage`."""
    return Usage(**dict(zip(_USAGE_KEYS, usage, strict=True)))


def _find(snapshot: DataSnapshot, provider: str, model: str) -> tuple[Provider, ModelInfo] | None:
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


def _override_price(override: OverridePrices) -> ModelPrice | None:
    """An override for a model genai-prices does not know: the whole price.

    Without an input and an output rate there is none (unpriced), never $0 for tokens
    nobody priced.
    """
    if override.input_per_mtok is None or override.output_per_mtok is None:
        return None
    return ModelPrice(**{key: getattr(override, field) for field, key in _OVERRIDE_KEYS})


def _merged(model_price: ModelPrice, override: OverridePrices) -> ModelPrice:
    """genai-prices' price with the rates the override sets replaced (flat)."""
    merged = copy(model_price)
    for field, key in _OVERRIDE_KEYS:
        value = getattr(override, field)
        if value is not None:
            merged.__dict__[key] = value
    if override.input_per_mtok is not None or override.cache_write_per_mtok is not None:
        merged.__dict__.pop("cache_write_1h_mtok", None)  # re-derived as 2× input
    return merged


def _compile(model_price: ModelPrice) -> _Rate:
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
    terms: list[_Term] = []
    for position, (unit, value) in enumerate(kept):
        if unit.usage_key not in _SLOT:
            break
        subs = tuple(
            i for i, (other, _) in enumerate(kept[:position]) if is_descendant_or_self(unit, other)
        )
        base, tiers = _per_token(value, unit.per)
        terms.append(_Term(slot=_SLOT[unit.usage_key], base=base, tiers=tiers, sub_terms=subs))
    return _Rate(
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


def _cost(rate: _Rate, usage: tuple[int, ...], calls: int) -> Decimal | None:
    """genai-prices' ModelPrice.calc_price on the usage vector, without its overhead."""
    total_input = usage[0]
    counts: list[int] = []
    total = rate.per_request * calls
    for term in rate.terms:
        count = usage[term.slot]
        for sub in term.sub_terms:
            count -= counts[sub]
        if count < 0:
            return None
        counts.append(count)
        if count:
            price = term.base
            for start, tier_price in term.tiers:
                if total_input > start:
                    price = tier_price
                    break
            total += price * count
    return total


def _cost_nano(rate: _NanoRate, usage: tuple[int, ...], calls: int) -> int | None:
    """`_cost` in whole nano-dollars (`_Rate.nano`): the same terms, tiers and sub-units."""
    total_input = usage[0]
    counts: list[int] = []
    total = rate.per_request * calls
    for slot, base, tiers, sub_terms in rate.terms:
        count = usage[slot]
        for sub in sub_terms:
            count -= counts[sub]
        if count < 0:
            return None
        counts.append(count)
        if count:
            price = base
            for start, tier_price in tiers:
                if total_input > start:
                    price = tier_price
                    break
            total += price * count
    return total


def _nano_rate(terms: tuple[_Term, ...], per_request: Decimal) -> _NanoRate | None:
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
    return None if request is None else _NanoRate(tuple(out), request)
