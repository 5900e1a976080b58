"""`estimate`: what N planned calls will cost, from given averages or like past calls.

Separate from `report` because it predicts rather than sums: it prices tokens that were
never spent, so it takes a price function, and with `--like` it reads the per-call
spread of the past calls. Pricing enters only as a callable (`Pricer`), so this module
never imports genai-prices: the command line passes its pricer in. The past calls come
from `monitor.ledger.query`, read-only; the cells are `monitor.text_table`'s.

Estimate band: `--like` knows the spread of the past calls, so besides the point
estimate (N × the average cost per call) it gives N × the 25th and 75th percentile of
the per-call cost, weighted by calls. That is not a confidence interval for N
independent calls (that would shrink with N); it is the range the total falls in if the
planned calls resemble the cheaper or the dearer half of the past ones — the usual
planning question, since planned work is rarely the same mix as the sample.

Estimate at another model: `--like X --model Y` prices each past call's tokens at Y with
the history's cache shares: if 96 % of X's input tokens were cache reads, so are 96 % of
each re-priced call's, at Y's cache-read rate (genai-prices charges the input rate where
Y has none); pricing it all as fresh input would overstate an agent's cost several
times. 1-hour cache writes are priced as 5-minute ones: the rollups keep no 1-hour sums.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from datetime import tzinfo
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Final, Literal, NamedTuple

from monitor.events import NANO, usd_json, usd_text
from monitor.ledger.query import event_usage, query
from monitor.ledger.selection import Selection
from monitor.percent import pct
from monitor.text_table import calls_text, int_text, table

Pricer = Callable[[str, str | None, int, int, int, int], Decimal | None]
"""price(model, provider, input_tokens, output_tokens, cache_read_tokens,
cache_write_tokens) → USD for one call, None if unknown. Input includes the cache
tokens, as everywhere (docs/architecture.md)."""

_LOW_Q: Final = Decimal("0.25")
_HIGH_Q: Final = Decimal("0.75")


class Estimate(NamedTuple):
    calls: int
    avg_input_tokens: int
    avg_output_tokens: int
    cost_per_call: Decimal | None
    """None: no price known (for `model`, or for every past call of `like`)."""
    cost: Decimal | None
    low: Decimal | None = None
    high: Decimal | None = None
    """The band (see the module docstring); only with `like`."""
    model: str | None = None
    """The model priced at; None with `like` alone (the past calls' own costs)."""
    provider: str | None = None
    like: str | None = None
    sample_calls: int = 0
    """Past calls the averages come from."""
    unpriced_sample_calls: int = 0
    """Past calls without a cost, left out of the average cost."""
    avg_cache_read_tokens: int = 0
    """Of `avg_input_tokens`, read from the cache (with `like`: as in the past calls)."""
    avg_cache_write_tokens: int = 0
    """Of `avg_input_tokens`, written to the cache."""
    cache_read_share: Decimal | None = None
    """With `like`: the past calls' cache reads over their input tokens (exact), which
    re-pricing at `model` carries over; None when they had no input."""
    cache_write_share: Decimal | None = None

    @property
    def input_tokens(self) -> int:
        return self.calls * self.avg_input_tokens

    @property
    def output_tokens(self) -> int:
        return self.calls * self.avg_output_tokens

    @property
    def cache_read_tokens(self) -> int:
        return self.calls * self.avg_cache_read_tokens

    @property
    def cache_write_tokens(self) -> int:
        return self.calls * self.avg_cache_write_tokens


def _check_counts(**counts: int) -> None:
    for name, n in counts.items():
        if n < 0:
            raise ValueError(f"{name} must not be negative (got {n})")


def estimate(
    price: Pricer,
    *,
    model: str,
    calls: int,
    avg_input: int,
    avg_output: int,
    provider: str | None = None,
) -> Estimate:
    """N planned calls of `model` with the given average tokens per call."""
    _check_counts(calls=calls, avg_input=avg_input, avg_output=avg_output)
    per_call = price(model, provider, avg_input, avg_output, 0, 0)
    return Estimate(
        calls=calls,
        avg_input_tokens=avg_input,
        avg_output_tokens=avg_output,
        cost_per_call=per_call,
        cost=None if per_call is None else per_call * calls,
        model=model,
        provider=provider,
    )


def _div_round(n: int, d: int) -> int:
    return (2 * n + d) // (2 * d)


def estimate_like(
    db: sqlite3.Connection,
    like: Selection,
    tz: tzinfo,
    *,
    calls: int,
    model: str | None = None,
    provider: str | None = None,
    price: Pricer | None = None,
) -> Estimate:
    """N planned calls like the past calls of `like`: their average tokens and cost per
    call, or — with `model` — each past call re-priced at `model` (per call, so tiered
    prices apply as they would), then averaged.

    Re-priced calls keep the history's cache shares of their input (see the module
    docstring): a past call of I input tokens is priced with round(I × R / T) cache
    reads and round(I × W / T) cache writes, R, W and T the selection's cache reads,
    cache writes and input tokens."""
    _check_counts(calls=calls)
    usage = event_usage(db, like, tz)
    n_calls = sum(u.calls for u in usage)
    if not n_calls:
        raise ValueError(f"no recorded calls match {like.label!r}")
    history = query(db, (), like, tz).total
    total_in = history.input_tokens
    read, write = history.cache_read_tokens, history.cache_write_tokens

    def cached(tokens: int) -> tuple[int, int]:
        """(cache reads, cache writes) of `tokens` input tokens at the history's shares."""
        if not total_in:
            return 0, 0
        r = min(_div_round(tokens * read, total_in), tokens)
        return r, min(_div_round(tokens * write, total_in), tokens - r)

    samples: list[tuple[Decimal, int]] = []  # (nano-dollars per call, calls)
    unpriced = 0
    if model is None:
        for c, _, _, nano in usage:
            if nano is None:
                unpriced += c
            else:
                samples.append((Decimal(nano) / c, c))
    else:
        if price is None:
            raise ValueError("re-pricing at another model needs a pricer")
        memo: dict[tuple[int, int], Decimal | None] = {}
        for c, i, o, _ in usage:
            tokens = (_div_round(i, c), _div_round(o, c))
            if tokens not in memo:
                memo[tokens] = price(model, provider, *tokens, *cached(tokens[0]))
            usd = memo[tokens]
            if usd is None:
                unpriced += c
            else:
                samples.append((usd * NANO, c))
    per_call = low = high = None
    if samples and not (model is not None and unpriced):
        weight = sum(w for _, w in samples)
        per_call = sum((v * w for v, w in samples), Decimal(0)) / weight / NANO
        low = _weighted_quantile(samples, _LOW_Q) * calls / NANO
        high = _weighted_quantile(samples, _HIGH_Q) * calls / NANO
    avg_input = _div_round(sum(u[1] for u in usage), n_calls)
    avg_read, avg_write = cached(avg_input)
    return Estimate(
        calls=calls,
        avg_input_tokens=avg_input,
        avg_output_tokens=_div_round(sum(u[2] for u in usage), n_calls),
        cost_per_call=per_call,
        cost=None if per_call is None else per_call * calls,
        low=low,
        high=high,
        model=model,
        provider=provider,
        like=like.label,
        sample_calls=n_calls,
        unpriced_sample_calls=unpriced,
        avg_cache_read_tokens=avg_read,
        avg_cache_write_tokens=avg_write,
        cache_read_share=Decimal(read) / total_in if total_in else None,
        cache_write_share=Decimal(write) / total_in if total_in else None,
    )


def _weighted_quantile(samples: Sequence[tuple[Decimal, int]], q: Decimal) -> Decimal:
    """The smallest value with at least a `q` share of the weight at or below it."""
    ordered = sorted(samples)
    need = q * sum(w for _, w in ordered)
    seen = 0
    for value, w in ordered:
        seen += w
        if seen >= need:
            return value
    return ordered[-1][0]


def _usd_per_call(amount: Decimal | None) -> str:
    """One call's cost: sub-dollar amounts to 4 places, sub-cent ones to 6."""
    if amount is not None and Decimal("0.01") <= abs(amount) < 1:
        return f"${amount.quantize(Decimal('0.0001'), rounding=ROUND_HALF_EVEN)}"
    return usd_text(amount, precise=True)


def _share_text(share: Decimal) -> str:
    """A share of the input tokens (0-1) as a percentage, rounded as all of them are."""
    return f"{pct(share, Decimal(1))}%"


def render_estimate(e: Estimate, fmt: Literal["text", "json"]) -> str:
    if fmt == "json":
        return json.dumps(estimate_json(e), indent=2) + "\n"
    what = calls_text(e.calls)
    if e.model is not None:
        what += f" of {e.model}" + (f" ({e.provider})" if e.provider else "")
    lines = [f"Estimate: {what}"]
    tokens = f"{int_text(e.avg_input_tokens)} input + {int_text(e.avg_output_tokens)} output"
    per = f"{tokens} tokens per call"
    if e.like is not None:
        past = calls_text(e.sample_calls, "past call")
        lines.append(f"  Like {e.like}: {past}, {per}")
        read, write = e.cache_read_share or Decimal(0), e.cache_write_share or Decimal(0)
        if read or write:
            shares = f"{_share_text(read)} cache reads, {_share_text(write)} cache writes"
            if e.model is None:
                lines.append(f"  Their input: {shares}")
            else:
                lines.append(f"  Their input: {shares}; priced so at {e.model}'s cache rates")
        if e.model is None:
            lines.append("  Priced as those calls were charged")
    else:
        lines.append(f"  {per}")
    rows = [
        ["Input tokens", int_text(e.input_tokens)],
        *([["  cache reads", int_text(e.cache_read_tokens)]] if e.cache_read_tokens else []),
        *([["  cache writes", int_text(e.cache_write_tokens)]] if e.cache_write_tokens else []),
        ["Output tokens", int_text(e.output_tokens)],
        ["Cost per call", _usd_per_call(e.cost_per_call)],
        ["Total cost", usd_text(e.cost)],
    ]
    if e.low is not None and e.high is not None and e.low != e.high:
        rows.append(["Likely range", f"{usd_text(e.low)} - {usd_text(e.high)}"])
    lines += ["  " + r for r in table(None, rows, None, left=1)]
    if e.low is not None and e.low != e.high:
        lines.append("  (range: the past calls' 25th-75th percentile cost per call)")
    if e.cost is None:
        lines.append(
            f"  No price known for {e.model}."
            if e.model is not None
            else "  None of the past calls has a cost."
        )
    elif e.unpriced_sample_calls and e.model is None:
        lines.append(
            f"  {calls_text(e.unpriced_sample_calls, 'past call')} without a cost "
            "left out of the average."
        )
    return "\n".join(lines) + "\n"


def estimate_json(e: Estimate) -> dict[str, Any]:
    return {
        "calls": e.calls,
        "model": e.model,
        "provider": e.provider,
        "like": e.like,
        "sample_calls": e.sample_calls,
        "unpriced_sample_calls": e.unpriced_sample_calls,
        "avg_input_tokens": e.avg_input_tokens,
        "avg_output_tokens": e.avg_output_tokens,
        "avg_cache_read_tokens": e.avg_cache_read_tokens,
        "avg_cache_write_tokens": e.avg_cache_write_tokens,
        "cache_read_share": _share_json(e.cache_read_share),
        "cache_write_share": _share_json(e.cache_write_share),
        "input_tokens": e.input_tokens,
        "output_tokens": e.output_tokens,
        "cache_read_tokens": e.cache_read_tokens,
        "cache_write_tokens": e.cache_write_tokens,
        "cost_per_call_usd": usd_json(e.cost_per_call),
        "cost_usd": usd_json(e.cost),
        "low_usd": usd_json(e.low),
        "high_usd": usd_json(e.high),
    }


def _share_json(share: Decimal | None) -> float | None:
    """A share of the input tokens, 0-1, to 4 places (a ratio, not money)."""
    return None if share is None else float(share.quantize(Decimal("0.0001")))
