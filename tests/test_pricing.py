"""Pricing: the fast path equals genai-prices, overrides, policies, memoization."""

from __future__ import annotations

import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import genai_prices
import pytest

from monitor.config import PriceOverride
from monitor.events import FLAG_ESTIMATED_TOKENS, UsageEvent
from monitor.price_info import format_price_info
from monitor.price_tables import genai_usage
from monitor.pricing import Pricer
from monitor.sources.common import _PROVIDER_ALIASES, record_event
from tests.factories import parse_ctx

WHEN = datetime(2025, 10, 1, 12, 0, tzinfo=UTC)
MTOK = Decimal(1_000_000)


def event(
    model: str,
    provider: str = "unknown",
    *,
    ts: datetime = WHEN,
    input_tokens: int = 0,
    output_tokens: int = 0,
    cache_read: int = 0,
    cache_write: int = 0,
    cache_write_1h: int = 0,
    reasoning: int = 0,
    calls: int = 1,
    reported: Decimal | None = None,
) -> UsageEvent:
    return UsageEvent(
        key="k",
        ts=ts,
        source="test",
        provider=provider,
        model=model,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        cache_write_1h_tokens=cache_write_1h,
        reasoning_tokens=reasoning,
        calls=calls,
        reported_cost=reported,
    )


def calc_price(ev: UsageEvent) -> Decimal | None:
    """genai-prices' own answer for the event (the reference the fast path must equal)."""
    usage = genai_usage(
        (
            ev.input_tokens,
            ev.output_tokens,
            ev.cache_read_tokens,
            ev.cache_write_tokens,
            ev.cache_write_1h_tokens,
            ev.reasoning_tokens,
        )
    )
    provider = None if ev.provider == "unknown" else ev.provider
    try:
        result = genai_prices.calc_price(
            usage, ev.model, provider_id=provider, genai_request_timestamp=ev.ts
        )
    except (LookupError, ValueError):
        return None
    return result.total_price


def random_event(
    rng: random.Random, provider: str, model: str, total_in: int, *, one_hour: bool = True
) -> UsageEvent:
    """A call at a random time since 2024 with `total_in` prompt tokens, some of them
    cache reads and writes, and random output (part of it reasoning)."""
    cache_read = rng.randrange(0, total_in + 1) if rng.random() < 0.7 else 0
    cache_write = rng.randrange(0, total_in - cache_read + 1) if rng.random() < 0.5 else 0
    output = rng.randrange(0, 60_000)
    return event(
        model,
        provider,
        ts=datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randrange(0, 94_608_000)),
        input_tokens=total_in,
        output_tokens=output,
        cache_read=cache_read,
        cache_write=cache_write,
        cache_write_1h=rng.randrange(0, cache_write + 1) if one_hour else 0,
        reasoning=rng.randrange(0, output + 1),
    )


# (provider, model as tools write it, whether genai-prices' data has a 1-hour write rate)
SWEEP_MODELS = [
    ("anthropic", "claude-sonnet-4-5-20250929", True),  # tiered at 200 k input
    ("anthropic", "claude-3-7-sonnet", True),
    ("anthropic", "claude-sonnet-4-6", True),  # tiered until 2026-03-13, flat after
    ("anthropic", "claude-opus-4-6", True),
    ("anthropic", "claude-haiku-5-5", True),  # tiered at 100 k input
    ("unknown", "claude-haiku-4-5", True),
    ("openai", "gpt-4o", False),
    ("openai", "o3", False),  # price cut on 2025-06-10
    ("openai", "gpt-4o-mini", False),
    ("google", "gemini-2.5-pro", False),  # tiered, thinking counted in output
    ("google", "gemini-2.5-flash", False),
    ("deepseek", "deepseek-chat", False),  # off-peak prices by time of day
    ("perplexity", "sonar-deep-research", False),  # reasoning priced apart
    ("perplexity", "sonar-pro", False),  # per-request fee
    ("google", "claude-3-7-sonnet", False),
]


def test_fast_path_equals_calc_price_over_many_usages() -> None:
    rng = random.Random(20251001)
    pricer = Pricer()
    compared = 0
    for _ in range(2500):
        provider, model, has_one_hour = rng.choice(SWEEP_MODELS)
        total_in = rng.choice(
            [0, 1, 999, 99_999, 100_000, 100_001, 199_999, 200_000, 200_001]
            + [rng.randrange(0, 1_500_000)] * 4
        )
        # Where the data lacks a 1-hour rate, ours (2× input) departs on purpose: tested apart.
        ev = random_event(rng, provider, model, total_in, one_hour=has_one_hour)
        expected = calc_price(ev)
        assert expected is not None, (provider, model)
        assert pricer.price(ev) == expected, (provider, model, ev)
        compared += 1
    assert compared == 2500
    assert pricer.stats.fallbacks == 0


def test_row_costs_store_what_apply_then_event_row_would_over_many_usages() -> None:
    """A parsing worker prices straight to nano-dollars (`row_costs`, and `costs_of` for a
    job's events at once); the row must hold to the nano-dollar what pricing the event's
    Decimals and converting them stores — for every policy, reported costs, estimated
    tokens, unpriced models, usages no price fits, and overrides whose rates are not whole
    nano-dollars per token (summed as Decimals then)."""
    from zoneinfo import ZoneInfo

    from monitor.ledger.rows import DayOf, event_row, priced_row

    overrides = {
        "thirds-model": PriceOverride(input_per_mtok=Decimal(1) / 3, output_per_mtok=Decimal(2)),
        "odd-model": PriceOverride(input_per_mtok=Decimal("0.0001234"), output_per_mtok=Decimal(1)),
        "gpt-4o": PriceOverride(output_per_mtok=Decimal("12.5")),
    }
    models = [(p, m) for p, m, _ in SWEEP_MODELS] + [
        ("unknown", "thirds-model"),
        ("unknown", "odd-model"),
        ("unknown", "no-such-model-anywhere"),
    ]
    rng = random.Random(20261204)
    day_of = DayOf(ZoneInfo("Europe/Berlin"))
    fast, slow = Pricer(overrides), Pricer(overrides)
    cases: list[tuple[UsageEvent, str, tuple[object, ...]]] = []
    for _ in range(3000):
        provider, model = rng.choice(models)
        total_in = rng.choice([0, 1, 200_000, 200_001, rng.randrange(0, 10**15)])
        ev = random_event(rng, provider, model, total_in)
        ev.calls = rng.choice([1, 1, 3])
        ev.reported_cost = rng.choice([None, Decimal("0.0123456789"), Decimal(0), Decimal("1.5")])
        if rng.random() < 0.1:
            ev.flags |= FLAG_ESTIMATED_TOKENS
        if rng.random() < 0.05:
            ev.input_tokens = -1  # inconsistent usage: unpriced either way
        if rng.random() < 0.05:
            ev.cache_read_tokens = ev.input_tokens + 1  # more read than sent: no price fits
        if rng.random() < 0.05:
            ev.cost_basis = "estimated"
        policy = rng.choice(["auto", "reported", "priced"])
        expected = event_row(slow.apply(ev.replace(), policy), day_of)
        assert priced_row(ev, day_of, fast.row_costs(ev, policy)) == expected, (model, ev)
        cases.append((ev, policy, expected))
    assert ev.cost is None and ev.priced_cost is None  # row_costs left the event be
    at_once = Pricer(overrides)
    for policy in ("auto", "reported", "priced"):
        job = [(ev, expected) for ev, p, expected in cases if p == policy]
        costs = at_once.costs_of([ev for ev, _ in job], policy)
        for (ev, expected), c in zip(job, costs, strict=True):
            assert priced_row(ev, day_of, c) == expected, (policy, ev)
    assert {c[1] for c in costs} >= {"priced", "reported", "estimated", "unpriced"}


def test_whole_nano_dollar_rates_are_summed_as_integers() -> None:
    pricer = Pricer(
        {"thirds-model": PriceOverride(input_per_mtok=Decimal(1) / 3, output_per_mtok=Decimal(2))}
    )
    sonnet = event("claude-sonnet-4-5-20250929", "anthropic", input_tokens=300_000)
    thirds = event("thirds-model", input_tokens=1)
    assert pricer._rate_of(sonnet).nano is not None  # type: ignore[union-attr]
    assert pricer._rate_of(thirds).nano is None  # type: ignore[union-attr]
    assert pricer.price_nano(sonnet) == 300_000 * 6_000  # the tier above 200 k: $6/MTok
    assert pricer.price_nano(thirds) == 333  # 333.33… nano-dollars, as Decimals, rounded


def test_tier_boundary_moves_every_token_to_the_higher_rate() -> None:
    pricer = Pricer()
    at_limit = event("claude-sonnet-4-5", "anthropic", input_tokens=200_000, output_tokens=1000)
    over = event("claude-sonnet-4-5", "anthropic", input_tokens=200_001, output_tokens=1000)
    assert pricer.price(at_limit) == Decimal("0.615")
    assert pricer.price(over) == Decimal("1.222506")
    assert pricer.price(over) == calc_price(over)


def test_one_hour_cache_write_costs_more_than_five_minute() -> None:
    pricer = Pricer()
    base = event(
        "claude-sonnet-4-5", "anthropic", input_tokens=12_000, output_tokens=100, cache_write=10_000
    )
    five_minute = pricer.price(base)
    one_hour = pricer.price(base.replace(cache_write_1h_tokens=10_000))
    assert five_minute is not None and one_hour is not None
    assert one_hour - five_minute == 10_000 * (Decimal(6) - Decimal("3.75")) / MTOK


def test_one_hour_write_costs_twice_input_where_the_data_has_no_one_hour_rate() -> None:
    pricer = Pricer()
    base = event(
        "claude-3-7-sonnet", "google", input_tokens=12_000, output_tokens=100, cache_write=10_000
    )
    five_minute = pricer.price(base)
    one_hour = pricer.price(base.replace(cache_write_1h_tokens=4000))
    assert five_minute == calc_price(base)
    assert five_minute is not None and one_hour is not None
    assert one_hour - five_minute == 4000 * (2 * Decimal(3) - Decimal("3.75")) / MTOK


def test_override_wins_and_matches_the_model_name_case_insensitively() -> None:
    pricer = Pricer({"GPT-4o": PriceOverride(Decimal("1"), Decimal("2"), Decimal("0.5"))})
    ev = event(
        "gpt-4o", "openai", input_tokens=3_000_000, output_tokens=1_000_000, cache_read=1_000_000
    )
    assert pricer.price(ev) == Decimal("2") + Decimal("0.5") + Decimal("2")
    other = event("gpt-4o-mini", "openai", input_tokens=1000)
    assert pricer.price(other) == calc_price(other)


def test_partial_override_keeps_genai_prices_for_the_rates_it_leaves_unset() -> None:
    pricer = Pricer({"claude-sonnet-4-5": PriceOverride(input_per_mtok=Decimal(10))})
    ev = event(
        "claude-sonnet-4-5",
        "anthropic",
        input_tokens=300_000,
        output_tokens=1_000,
        cache_read=100_000,
        cache_write=50_000,
        cache_write_1h=20_000,
    )
    expected = (
        150_000 * Decimal(10)  # uncached input: the override, flat (no tier)
        + 100_000 * Decimal("0.6")  # cache read: genai-prices, above the 200 k tier
        + 30_000 * Decimal("7.5")  # 5-minute writes: genai-prices, tiered
        + 20_000 * Decimal(20)  # 1-hour writes: 2× the overridden input rate
        + 1_000 * Decimal("22.5")  # output: genai-prices, tiered
    ) / MTOK
    assert pricer.price(ev) == expected


def test_override_prices_cache_tokens_at_input_rate_when_it_has_no_cache_rates() -> None:
    pricer = Pricer({"my-finetune": PriceOverride(Decimal("3"), Decimal("12"))})
    ev = event("my-finetune", input_tokens=1_000_000, output_tokens=0, cache_read=400_000)
    assert pricer.price(ev) == Decimal("3")


def test_override_without_input_and_output_rates_leaves_an_unknown_model_unpriced() -> None:
    pricer = Pricer({"my-finetune": PriceOverride(output_per_mtok=Decimal("12"))})
    assert pricer.price(event("my-finetune", input_tokens=1000, output_tokens=10)) is None
    assert pricer.price_info("my-finetune") is None


def test_inconsistent_override_is_rejected_at_construction() -> None:
    with pytest.raises(ValueError, match="my-model"):
        Pricer({"my-model": PriceOverride(Decimal("-1"), Decimal("1"))})


def test_unknown_model_is_unpriced_never_zero() -> None:
    pricer = Pricer()
    ev = pricer.apply(event("totally-made-up-model", input_tokens=1000, output_tokens=10))
    assert ev.priced_cost is None
    assert ev.cost is None
    assert ev.cost_basis == "unpriced"


def test_unknown_model_miss_is_memoized() -> None:
    pricer = Pricer()
    for _ in range(50):
        assert pricer.price(event("totally-made-up-model", input_tokens=10)) is None
    assert pricer.stats.lookups == 1


def test_inconsistent_usage_is_unpriced() -> None:
    pricer = Pricer()
    ev = event("claude-sonnet-4-5", "anthropic", input_tokens=100, cache_read=500)
    assert calc_price(ev) is None
    assert pricer.price(ev) is None
    assert pricer.price(event("gpt-4o", "openai", input_tokens=-5)) is None


def test_model_resolved_once_and_price_compiled_once_per_period() -> None:
    pricer = Pricer()
    before_change = datetime(2026, 3, 10, tzinfo=UTC)
    for day in range(6):  # 2026-03-10 .. 03-15: the price changes on 2026-03-13
        for hour in (0, 12):
            ts = before_change + timedelta(days=day, hours=hour)
            pricer.price(event("claude-sonnet-4-6", "anthropic", ts=ts, input_tokens=10))
    assert pricer.stats.lookups == 1
    assert pricer.stats.periods == 2
    for year in (2024, 2025, 2026):
        pricer.price(event("gpt-4o", "openai", ts=WHEN.replace(year=year), input_tokens=10))
    assert pricer.stats.lookups == 2
    assert pricer.stats.periods == 3


def test_price_period_follows_the_event_timestamp() -> None:
    pricer = Pricer()
    base = event("o3", "openai", input_tokens=1_000_000)
    before = pricer.price(base.replace(ts=datetime(2025, 6, 9, 23, tzinfo=UTC)))
    after = pricer.price(base.replace(ts=datetime(2025, 6, 10, 1, tzinfo=UTC)))
    assert (before, after) == (Decimal(10), Decimal(2))


def test_time_of_day_prices_are_picked_per_event() -> None:
    pricer = Pricer()
    base = event("deepseek-chat", "deepseek", input_tokens=1_000_000)
    peak = base.replace(ts=datetime(2025, 5, 1, 3, tzinfo=UTC))
    off_peak = base.replace(ts=datetime(2025, 5, 1, 20, tzinfo=UTC))
    assert pricer.price(peak) == calc_price(peak)
    assert pricer.price(off_peak) == calc_price(off_peak)
    assert pricer.price(peak) != pricer.price(off_peak)


def test_unknown_provider_is_inferred_from_the_model_name() -> None:
    pricer = Pricer()
    claude = event("claude-3-7-sonnet", "unknown", input_tokens=5000, output_tokens=500)
    inferred = pricer.price(claude)
    named = pricer.price(claude.replace(provider="anthropic"))
    assert inferred is not None and inferred == named
    # A provider genai-prices does not know (a local gateway) also falls back to inference.
    gateway = event("gpt-4o", "my-gateway", input_tokens=5000, output_tokens=500)
    assert pricer.price(gateway) == pricer.price(gateway.replace(provider="openai"))


def test_model_names_as_tools_write_them_resolve() -> None:
    pricer = Pricer()
    for provider, model in [
        ("anthropic", "claude-3-7-sonnet"),
        ("anthropic", "claude-sonnet-4-5-20250929"),
        ("openai", "gpt-4o"),
        ("google", "gemini-2.5-pro"),
    ]:
        assert pricer.price(event(model, provider, input_tokens=1000)) is not None, model


# -- `vendor/model` names (issue 12) -----------------------------------------------------


def test_every_provider_we_normalize_to_is_a_genai_prices_provider_id() -> None:
    # So a provider a record spells (or a model name's prefix) selects that provider's
    # own prices: "google", not a fall-back to inference; "x-ai", not "xai".
    providers = genai_prices.data_snapshot.get_snapshot().providers
    local = {"ollama"}  # runs on your machine: nobody bills it
    for ours in sorted(set(_PROVIDER_ALIASES.values()) - local):
        found = genai_prices.data_snapshot.find_provider_by_id(providers, ours)
        assert found is not None and found.id == ours, ours


@pytest.mark.parametrize(
    ("prefixed", "provider", "bare"),
    [
        ("openai/gpt-5.5", "openai", "gpt-5.5"),
        ("openai/gpt-5", "openai", "gpt-5"),
        ("google/gemini-2.5-pro", "google", "gemini-2.5-pro"),
        ("anthropic/claude-sonnet-4-5", "anthropic", "claude-sonnet-4-5"),
        ("x-ai/grok-4", "x-ai", "grok-4"),
        ("openrouter/openai/gpt-5", "openai", "gpt-5"),
    ],
)
def test_a_vendor_prefixed_model_costs_what_the_vendors_model_costs(
    prefixed: str, provider: str, bare: str
) -> None:
    pricer = Pricer()
    usage = {"input_tokens": 120_000, "output_tokens": 3_000, "cache_read": 100_000}
    expected = calc_price(event(bare, provider, **usage))  # type: ignore[arg-type]
    assert expected is not None
    # as an adapter builds it (Codex: provider "openai"): priced and shown once
    when = (WHEN, 0)
    built = record_event(
        parse_ctx(), 0, when, prefixed, provider="openai",
        input_tokens=120_000, output_tokens=3_000, cache_read_tokens=100_000,
    )  # fmt: skip
    assert (built.provider, built.model) == (provider, bare)
    assert pricer.price(built) == expected
    # as written (events stored before, `estimate --model`): priced the same
    for as_written in ("unknown", provider, "openrouter"):
        assert pricer.price(event(prefixed, as_written, **usage)) == expected  # type: ignore[arg-type]


def test_an_unknown_vendors_model_is_unpriced_and_named_once() -> None:
    built = record_event(parse_ctx(), 0, (WHEN, 0), "vendor/x", input_tokens=1000)
    assert (built.provider, built.model) == ("unknown", "vendor/x")
    pricer = Pricer()
    assert pricer.apply(built).cost_basis == "unpriced" and built.cost is None
    assert pricer.price(event("vendor/x", "openai", input_tokens=1000)) is None
    assert pricer.price_info("vendor/x") is None


def test_a_host_keeps_its_own_price_for_its_vendor_model_name() -> None:
    # Groq names the open-weights model "openai/gpt-oss-120b" and bills it at its price.
    built = record_event(
        parse_ctx(), 0, (WHEN, 0), "openai/gpt-oss-120b", provider="groq",
        input_tokens=10_000, output_tokens=1_000,
    )  # fmt: skip
    assert (built.provider, built.model) == ("groq", "openai/gpt-oss-120b")
    groq = Pricer().price(built)
    assert groq is not None and groq == calc_price(built)
    # a gateway genai-prices does not know: the bare model under the vendor's prices
    gateway = event("openai/gpt-4o", "my-gateway", input_tokens=5000, output_tokens=500)
    assert Pricer().price(gateway) == calc_price(
        event("gpt-4o", "openai", input_tokens=5000, output_tokens=500)
    )


def test_an_override_named_with_the_vendor_prices_the_bare_model() -> None:
    pricer = Pricer({"openai/gpt-5.5": PriceOverride(Decimal("1"), Decimal("2"))})
    bare = event("gpt-5.5", "openai", input_tokens=1_000_000, output_tokens=1_000_000)
    assert pricer.price(bare) == Decimal(3)
    assert pricer.price(bare.replace(model="openai/gpt-5.5")) == Decimal(3)
    info = pricer.price_info("gpt-5.5", "openai")
    assert info is not None and info.override == "openai/gpt-5.5"
    # the model's own entry wins over the vendor-named one
    both = Pricer(
        {
            "openai/gpt-5.5": PriceOverride(Decimal("1"), Decimal("2")),
            "gpt-5.5": PriceOverride(Decimal("5"), Decimal("5")),
        }
    )
    assert both.price(bare) == Decimal(10)


def test_price_info_of_a_vendor_prefixed_name_is_the_vendors_model() -> None:
    info = Pricer().price_info("openai/gpt-5", None, WHEN)
    assert info is not None
    assert (info.query, info.provider, info.model_id) == ("openai/gpt-5", "openai", "gpt-5")


def test_per_request_fee_is_paid_by_every_call_of_a_summary_record() -> None:
    pricer = Pricer()
    one = pricer.price(event("sonar-pro", "perplexity", input_tokens=1000, output_tokens=100))
    three = pricer.price(
        event("sonar-pro", "perplexity", input_tokens=1000, output_tokens=100, calls=3)
    )
    assert one is not None and three is not None
    assert three - one == 2 * Decimal(14) / 1000


def test_auto_policy_keeps_the_reported_cost_and_prices_beside_it() -> None:
    pricer = Pricer()
    ev = pricer.apply(event("gpt-4o", "openai", input_tokens=1_000_000, reported=Decimal("1.99")))
    assert (ev.cost, ev.cost_basis, ev.priced_cost) == (Decimal("1.99"), "reported", Decimal("2.5"))


def test_auto_policy_prices_a_record_without_its_own_cost() -> None:
    ev = Pricer().apply(event("gpt-4o", "openai", input_tokens=1_000_000))
    assert (ev.cost, ev.cost_basis) == (Decimal("2.5"), "priced")


def test_reported_policy_prices_a_record_without_its_own_cost() -> None:
    ev = Pricer().apply(event("gpt-4o", "openai", input_tokens=1_000_000), "reported")
    assert (ev.cost, ev.cost_basis) == (Decimal("2.5"), "priced")


def test_priced_policy_prefers_prices_and_falls_back_to_the_reported_cost() -> None:
    pricer = Pricer()
    known = pricer.apply(
        event("gpt-4o", "openai", input_tokens=1_000_000, reported=Decimal("1.99")), "priced"
    )
    unknown = pricer.apply(event("made-up", input_tokens=1, reported=Decimal("0.5")), "priced")
    assert (known.cost, known.cost_basis) == (Decimal("2.5"), "priced")
    assert (unknown.cost, unknown.cost_basis) == (Decimal("0.5"), "reported")


def test_estimated_tokens_keep_the_estimated_basis() -> None:
    pricer = Pricer()
    ev = event("gpt-4o", "openai", input_tokens=1000, output_tokens=200)
    ev.cost_basis = "estimated"
    ev.flags |= FLAG_ESTIMATED_TOKENS
    pricer.apply(ev)
    assert ev.cost_basis == "estimated"
    assert ev.cost == ev.priced_cost == calc_price(ev)
    assert pricer.reprice(ev, "auto") is False


def test_unknown_policy_is_rejected() -> None:
    with pytest.raises(ValueError, match="policy"):
        Pricer().apply(event("gpt-4o", "openai"), "cheapest")


def test_reprice_reports_a_change_only_when_the_cost_changes() -> None:
    ev = event("my-finetune", input_tokens=1_000_000)
    assert Pricer().reprice(ev, "auto") is False  # unknown then, unknown now
    cheap = Pricer({"my-finetune": PriceOverride(Decimal("1"), Decimal("1"))})
    assert cheap.reprice(ev, "auto") is True
    assert (ev.cost, ev.cost_basis) == (Decimal(1), "priced")
    assert cheap.reprice(ev, "auto") is False
    dear = Pricer({"my-finetune": PriceOverride(Decimal("4"), Decimal("1"))})
    assert dear.reprice(ev, "auto") is True
    assert ev.cost == Decimal(4)


def test_reprice_keeps_a_reported_cost_and_refreshes_its_priced_cost() -> None:
    ev = event("my-finetune", input_tokens=1_000_000, reported=Decimal("0.7"))
    Pricer().apply(ev)
    assert (ev.cost, ev.cost_basis, ev.priced_cost) == (Decimal("0.7"), "reported", None)
    repriced = Pricer({"my-finetune": PriceOverride(Decimal("1"), Decimal("1"))})
    assert repriced.reprice(ev, "auto") is True
    assert (ev.cost, ev.cost_basis, ev.priced_cost) == (Decimal("0.7"), "reported", Decimal(1))


def test_price_info_shows_the_match_tiers_and_override() -> None:
    pricer = Pricer({"my-finetune": PriceOverride(Decimal("3"), Decimal("12"))})
    info = pricer.price_info("claude-sonnet-4-5-20250929", "anthropic", WHEN)
    assert info is not None
    assert (info.provider, info.model_id, info.override) == (
        "anthropic",
        "claude-sonnet-4-5",
        None,
    )
    assert (info.input_per_mtok, info.output_per_mtok) == (Decimal(3), Decimal(15))
    assert (info.cache_read_per_mtok, info.cache_write_per_mtok) == (
        Decimal("0.3"),
        Decimal("3.75"),
    )
    assert info.cache_write_1h_per_mtok == Decimal(6)
    input_tiers = [(t.above_tokens, t.per_mtok) for t in info.tiers if t.usage == "input"]
    assert input_tiers == [(200_000, Decimal(6))]
    assert "$6 above 200,000 input tokens" in format_price_info(info)

    override = pricer.price_info("My-Finetune")
    assert override is not None and override.override == "my-finetune"
    assert (override.provider, override.model_id) == (None, None)
    assert (override.input_per_mtok, override.output_per_mtok) == (Decimal(3), Decimal(12))
    assert '[prices."my-finetune"]' in format_price_info(override)
    assert pricer.price_info("totally-made-up-model") is None


def test_price_info_lists_price_changes_and_derived_one_hour_rate() -> None:
    pricer = Pricer()
    changing = pricer.price_info("claude-sonnet-4-6", "anthropic", WHEN)
    assert changing is not None and [d.isoformat() for d in changing.price_changes] == [
        "2026-03-13"
    ]
    vertex = pricer.price_info("claude-3-7-sonnet", "google", WHEN)
    assert vertex is not None and vertex.cache_write_1h_derived
    assert vertex.cache_write_1h_per_mtok == Decimal(6)


@pytest.mark.e2e
def test_a_pricer_loads_genai_prices_with_its_first_price_not_before() -> None:
    """A backfill's storing process builds a Pricer but its workers price every file:
    it must not spend 0.2 s importing price data it never reads."""
    code = (
        "import sys; from decimal import Decimal; from datetime import datetime, UTC\n"
        "from monitor.pricing import Pricer\n"
        "from monitor.events import UsageEvent\n"
        "p = Pricer({})\n"
        "before = 'genai_prices' in sys.modules or 'monitor.price_tables' in sys.modules\n"
        "e = UsageEvent(key='k', ts=datetime(2026, 11, 20, tzinfo=UTC), source='s',\n"
        "    provider='openai', model='gpt-4o', input_tokens=1000, output_tokens=10)\n"
        "price = p.price(e)\n"
        "print(before, 'genai_prices' in sys.modules, price)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, after, price = out.stdout.split()
    assert (before, after) == ("False", "True")
    assert Decimal(price) == Decimal("0.0026")


@pytest.mark.e2e
def test_importing_pricing_pulls_in_no_ui_or_delivery_module() -> None:
    code = (
        "import sys, monitor.pricing; "
        "bad = [m for m in ('textual', 'apprise', 'monitor.daemon', 'monitor.api', "
        "'monitor.tui', 'monitor.notify') if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
