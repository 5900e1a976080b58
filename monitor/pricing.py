"""The cost of a usage event: genai-prices at the event's timestamp, config overrides, policy.

genai-prices owns every price (an offline snapshot with price history); this module never
holds a price table of its own. What it adds:

- Speed. `genai_prices.calc_price` costs 50–80 µs a call, too slow for a 200 k-event
  backfill. A `Pricer` resolves the model once per (provider, model), picks the price in
  force once per price period (genai-prices' `ModelInfo.get_prices`: start-date
  constraints are UTC dates, so a period is cached by UTC date; time-of-day prices, such
  as DeepSeek's off-peak hours, are picked per event), and compiles that `ModelPrice`
  into a `Rate` (`monitor.price_tables`, the one module that imports genai-prices: its
  0.2 s of CPU is paid with the first price asked, not by importing this one): the same
  unit decomposition genai-prices does (each priced unit pays
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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Final, Protocol, TypeVar

from monitor.events import (
    COST_POLICIES,
    FLAG_ESTIMATED_TOKENS,
    CostBasis,
    UsageEvent,
    opt_to_nano,
)
from monitor.sources.common import split_model

if TYPE_CHECKING:
    from collections.abc import Callable

    from genai_prices.data_snapshot import DataSnapshot
    from genai_prices.types import ModelInfo, ModelPrice

    from monitor.price_info import PriceInfo

# The usage vector: the genai-prices usage keys an event fills, in slot order.
USAGE_KEYS: Final[tuple[str, ...]] = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "output_reasoning_tokens",
)


def _load_snapshot() -> DataSnapshot:
    """genai-prices' price data, imported with the first price asked (0.2 s of CPU:
    pydantic models, the snapshot): a `scan` whose files the parsing workers price never
    loads it, nor does a command that only builds a `Pricer`. From then on
    `_snapshot_now` is genai-prices' own getter, called once per event."""
    global _snapshot_now
    from genai_prices.data_snapshot import get_snapshot

    _snapshot_now = get_snapshot
    return get_snapshot()


_snapshot_now: Callable[[], DataSnapshot] = _load_snapshot


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


OVERRIDE_KEYS: Final[tuple[tuple[str, str], ...]] = (
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
class Term:
    slot: int
    base: Decimal
    """USD per token below every tier."""
    tiers: tuple[tuple[int, Decimal], ...]
    """(start, USD per token), highest start first."""
    sub_terms: tuple[int, ...]
    """Positions (in `Rate.terms`) of the priced sub-units whose tokens this one excludes."""


@dataclass(frozen=True, slots=True)
class Rate:
    """A `ModelPrice` compiled for the usage an event can carry."""

    terms: tuple[Term, ...]
    """Most specific unit first, so a unit's sub-units are settled before it."""
    per_request: Decimal
    valid: bool
    """False when genai-prices rejects the price itself (every event is then unpriced)."""
    fallback: bool
    """True when a priced unit lies outside the usage vector: use genai-prices' calc_price."""
    model_price: ModelPrice
    one_hour_derived: bool
    nano: NanoRate | None = None
    """The same terms in whole nano-dollars per token, when every price is one (the
    usual case: $3/MTok is 3,000): a backfill's costs summed as integers, exactly what
    the Decimal sum gives once stored as nano-dollars, at a third of its CPU."""


@dataclass(frozen=True, slots=True)
class NanoRate:
    terms: tuple[tuple[int, int, tuple[tuple[int, int], ...], tuple[int, ...]], ...]
    """(slot, base, tiers, sub_terms) of each `Term`, prices in nano-dollars per token."""
    per_request: int


@dataclass(slots=True)
class _Entry:
    """A resolved (provider, model): a genai-prices model and/or a config override."""

    rate: Rate | None
    """The rate when it never changes with time; else picked per period."""
    model: ModelInfo | None
    """None for an override-only model or a miss (then `rate` is set, or None for a miss)."""
    override: str | None
    """Key of the config override merged into the model's prices."""
    by_date: bool
    """The model's prices change on UTC dates only, so a day's rate can be cached."""
    by_day: dict[date, Rate]


_MISS: Final = _Entry(rate=None, model=None, override=None, by_date=False, by_day={})


class Pricer:
    """Prices events; memoizes model resolution and price periods. Not thread-safe."""

    def __init__(self, overrides: Mapping[str, OverridePrices] | None = None) -> None:
        self.stats = PricerStats()
        self.overrides: Mapping[str, OverridePrices] = dict(overrides or {})
        """As given: what a worker process needs to build the same Pricer."""
        self._overrides: dict[str, tuple[str, OverridePrices]] = {}
        for name, override in (overrides or {}).items():
            for field, _ in OVERRIDE_KEYS:
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
        self._rates: dict[tuple[int, str | None], Rate] = {}

    # -- cost of one event -------------------------------------------------------------

    def price(self, event: UsageEvent) -> Decimal | None:
        """The event's cost at current prices, or None when its model has no known price."""
        found = self._priceable(event)
        if found is None:
            return None
        return self._decimal_cost(*found, event.calls)

    def price_nano(self, event: UsageEvent) -> int | None:
        """`price` in nano-dollars, as the ledger stores it: summed as integers when the
        rate allows (`Rate.nano`), else the Decimal cost converted."""
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

    def costs_of(self, events: Sequence[UsageEvent], policy: str) -> list[RowCosts]:
        """`row_costs` of each event, in order, in one loop: a parsing worker's job.

        The policy is checked and the price data's snapshot taken once, and each model's
        rate looked up once; an event with no cost of its own and no estimate, of a model
        whose one price is whole nano-dollars (the usual case), is priced right here. Any
        other event takes `row_costs`."""
        _check_policy(policy)
        snapshot = _snapshot_now()
        if snapshot is not self._snapshot:
            self._reset(snapshot)
        nano_of: dict[tuple[str, str], NanoRate | None] = {}
        general = self.row_costs
        out: list[RowCosts] = []
        for e in events:
            if e.reported_cost is not None or _estimated(e):
                out.append(general(e, policy))
                continue
            model = (e.provider, e.model)
            try:
                rate = nano_of[model]
            except KeyError:
                rate = nano_of[model] = self._fixed_nano(model)
            usage = _usage_of(e)
            if rate is None or min(usage) < 0:
                out.append(general(e, policy))
                continue
            cost = _cost_nano(rate, usage, e.calls)
            out.append(_UNPRICED if cost is None else (cost, "priced", None, cost))
        return out

    def _fixed_nano(self, model: tuple[str, str]) -> NanoRate | None:
        """The model's rate in whole nano-dollars when it has one price at all times and
        needs no genai-prices fallback; else None (`row_costs` prices its events)."""
        entry = self._entries.get(model)
        if entry is None:
            entry = self._entries[model] = self._resolve(*model)
        rate = entry.rate
        if rate is None or not rate.valid or rate.fallback:
            return None
        return rate.nano

    def _decimal_cost(self, rate: Rate, usage: tuple[int, ...], calls: int) -> Decimal | None:
        if rate.fallback:
            return self._calc_price(rate, usage, calls)
        return _cost(rate, usage, calls)

    def _priceable(self, event: UsageEvent) -> tuple[Rate, tuple[int, ...]] | None:
        """The rate in force and the usage vector, or None when the event has no price
        (an unknown model, a price genai-prices rejects, a usage that is no usage)."""
        rate = self._rate_of(event)
        if rate is None:
            return None
        usage = _usage_of(event)
        if not rate.valid or min(usage) < 0:
            return None
        return rate, usage

    def _rate_of(self, event: UsageEvent) -> Rate | None:
        """The rate in force for the event's model at its time; None when unpriced."""
        snapshot = _snapshot_now()
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
        from monitor import price_tables as tables
        from monitor.price_info import price_info_of

        when = when or datetime.now(UTC)
        snapshot = _snapshot_now()
        if snapshot is not self._snapshot:
            self._reset(snapshot)
        key = self._override_key(model)
        named = self._overrides[key] if key is not None else None
        override_name = named[0] if named is not None else None
        found = tables.find_model(snapshot, provider or "unknown", model)
        if found is None:
            whole = tables.override_price(named[1]) if named is not None else None
            if whole is None:
                return None
            rate = tables.compile_price(whole)
            return price_info_of(
                model, when, rate.model_price, rate.one_hour_derived, override_name, None, None
            )
        found_provider, found_model = found
        model_price = found_model.get_prices(when)
        if named is not None:
            model_price = tables.merged(model_price, named[1])
        rate = tables.compile_price(model_price)
        info = price_info_of(
            model,
            when,
            rate.model_price,
            rate.one_hour_derived,
            override_name,
            found_provider,
            found_model,
        )
        starts, time_of_day = tables.price_changes(found_model)
        return replace(info, price_changes=starts, time_of_day_prices=time_of_day)

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
        from monitor import price_tables as tables

        self.stats.lookups += 1
        assert self._snapshot is not None
        override = self._override_key(model)
        found = tables.find_model(self._snapshot, provider, model)
        if found is None:
            whole = tables.override_price(self._overrides[override][1]) if override else None
            if whole is None:
                return _MISS
            self.stats.periods += 1
            return _Entry(
                rate=tables.compile_price(whole),
                model=None,
                override=override,
                by_date=False,
                by_day={},
            )
        model_info = found[1]
        fixed = tables.fixed_price(model_info)
        if fixed is not None:
            rate = self._compiled(fixed, override)
            return _Entry(rate=rate, model=model_info, override=override, by_date=False, by_day={})
        by_date = tables.dated_only(model_info)
        return _Entry(rate=None, model=model_info, override=override, by_date=by_date, by_day={})

    def _rate_at(self, entry: _Entry, model: ModelInfo, ts: datetime) -> Rate:
        if not entry.by_date:
            return self._compiled(model.get_prices(ts), entry.override)
        day = (ts if ts.tzinfo is None or ts.tzinfo is UTC else ts.astimezone(UTC)).date()
        rate = entry.by_day.get(day)
        if rate is None:
            rate = entry.by_day[day] = self._compiled(model.get_prices(ts), entry.override)
        return rate

    def _compiled(self, model_price: ModelPrice, override: str | None) -> Rate:
        from monitor import price_tables as tables

        # Keyed by identity: the snapshot's ModelPrice objects live as long as it does.
        key = (id(model_price), override)
        rate = self._rates.get(key)
        if rate is None:
            self.stats.periods += 1
            if override is not None:
                model_price = tables.merged(model_price, self._overrides[override][1])
            rate = self._rates[key] = tables.compile_price(model_price)
        return rate

    def _calc_price(self, rate: Rate, usage: tuple[int, ...], calls: int) -> Decimal | None:
        from monitor import price_tables as tables

        self.stats.fallbacks += 1
        total = tables.calc_price(rate.model_price, usage)
        return None if total is None else total + rate.per_request * (calls - 1)


# -- pure helpers ------------------------------------------------------------------------

RowCosts = tuple[int | None, CostBasis, int | None, int | None]
"""(cost, basis, reported, priced) of an event's row: the amounts in nano-dollars."""
_UNPRICED: Final[RowCosts] = (None, "unpriced", None, None)


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
    """The event's usage vector (`USAGE_KEYS` order)."""
    return (
        event.input_tokens,
        event.output_tokens,
        event.cache_read_tokens,
        event.cache_write_tokens,
        event.cache_write_1h_tokens,
        event.reasoning_tokens,
    )


def _cost(rate: Rate, usage: tuple[int, ...], calls: int) -> Decimal | None:
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


def _cost_nano(rate: NanoRate, usage: tuple[int, ...], calls: int) -> int | None:
    """`_cost` in whole nano-dollars (`Rate.nano`): the same terms, tiers and sub-units."""
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
