"""`report`, `compare` and `estimate`: what they compute from the ledger, and how they look.

Text is for people (aligned columns, thousands separators, `$1,234.57`); JSON and CSV
are for programs and follow the documented shapes (docs/architecture.md) key for key, money as
6-place decimal strings. The numbers come from `monitor.ledger.query`, read-only.

Pricing enters `estimate` only as a callable, so this module (and `report`) never
imports genai-prices: the command line passes its pricer in.

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

Unpriced is never $0 (docs/architecture.md): a side of `compare` whose calls are all
unpriced shows "unpriced", and no cost difference or saving is computed against it.

Price drift: every report row carries `reported_cost_usd` and `priced_cost_usd`, both
over exactly the calls whose tool reported a cost (null when none did; the priced side
also when some of those calls have no price). `report --drift` keeps the rows where both
are known and differ, adds `drift_usd` (reported - priced) and `drift_pct` (of priced),
and totals the rows it shows.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Callable, Sequence
from datetime import date, datetime, tzinfo
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any, Final, Literal, NamedTuple

from monitor.events import NANO, usd_json, usd_text, usd_true_text
from monitor.ledger.query import (
    Bound,
    QueryResult,
    Selection,
    Totals,
    count_tag_values,
    event_usage,
    query,
)

Format = Literal["text", "json", "csv"]
Pricer = Callable[[str, str | None, int, int, int, int], Decimal | None]
"""price(model, provider, input_tokens, output_tokens, cache_read_tokens,
cache_write_tokens) → USD for one call, None if unknown. Input includes the cache
tokens, as everywhere (docs/architecture.md)."""

FIELDS: Final = (
    "calls",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost_usd",
    "unpriced_calls",
    "reported_cost_usd",
    "priced_cost_usd",
)
DRIFT_FIELDS: Final = ("drift_usd", "drift_pct")
"""What `report --drift` adds to each row, after `FIELDS`."""
_TENTH: Final = Decimal("0.1")
_LOW_Q: Final = Decimal("0.25")
_HIGH_Q: Final = Decimal("0.75")


# -- report ----------------------------------------------------------------------------


def _fields(t: Totals) -> dict[str, Any]:
    return {
        "calls": t.calls,
        "input_tokens": t.input_tokens,
        "output_tokens": t.output_tokens,
        "cache_read_tokens": t.cache_read_tokens,
        "cache_write_tokens": t.cache_write_tokens,
        "cost_usd": usd_json(t.cost),
        "unpriced_calls": t.unpriced_calls,
        "reported_cost_usd": usd_json(t.reported_cost),
        "priced_cost_usd": usd_json(t.priced_cost),
    }


def _drift_fields(t: Totals) -> dict[str, Any]:
    return {**_fields(t), "drift_usd": usd_json(drift(t)), "drift_pct": _pct_json(drift_pct(t))}


def drift(t: Totals) -> Decimal | None:
    """What the tools reported minus what prices say, over the calls whose tool reported a
    cost (positive: the tools charged more); None when either side is unknown."""
    reported, priced = t.reported_cost, t.priced_cost
    return None if reported is None or priced is None else reported - priced


def drift_pct(t: Totals) -> Decimal | None:
    """`drift` as a percentage of the priced side, to 0.1; None when that is $0."""
    difference = drift(t)
    return None if difference is None or t.priced_cost is None else _pct(difference, t.priced_cost)


def only_drift(result: QueryResult) -> QueryResult:
    """The rows whose reported and priced costs are both known and differ; the total is
    theirs (so the shown rows add up to it)."""
    rows = tuple(r for r in result.rows if drift(r.totals))
    total = Totals(*map(sum, zip(*(r.totals for r in rows), strict=True))) if rows else Totals()
    return result._replace(rows=rows, total=total, unpriced=())


def _iso(bound: Bound) -> str | None:
    return None if bound is None else bound.isoformat()


def report_json(result: QueryResult, *, with_drift: bool = False) -> dict[str, Any]:
    """The documented shape; `with_drift` adds `DRIFT_FIELDS` to each row and the total
    (the rows are as given: `only_drift` chooses them)."""
    fields = _drift_fields if with_drift else _fields
    return {
        "since": _iso(result.since),
        "until": _iso(result.until),
        "group_by": list(result.group_by),
        "rows": [
            {"key": dict(zip(result.group_by, row.key, strict=True)), **fields(row.totals)}
            for row in result.rows
        ],
        "total": fields(result.total),
    }


def _report_json_text(doc: dict[str, Any]) -> str:
    """One row per line: readable, and every piece goes through the C encoder (json's
    `indent` falls back to the pure-Python one, 10x slower on a long report)."""
    head = json.dumps({k: doc[k] for k in ("since", "until", "group_by")})[:-1]
    rows = ",\n  ".join(json.dumps(row) for row in doc["rows"])
    body = f"[\n  {rows}\n ]" if rows else "[]"
    return f'{head},\n "rows": {body},\n "total": {json.dumps(doc["total"])}}}\n'


def render_report(result: QueryResult, fmt: Format, *, only_drifting: bool = False) -> str:
    """`report`'s output; `only_drifting` (`--drift`): the rows whose tools' reported
    costs differ from prices, with the difference (`only_drift`)."""
    shown = only_drift(result) if only_drifting else result
    if fmt == "json":
        return _report_json_text(report_json(shown, with_drift=only_drifting))
    if fmt == "csv":
        return _report_csv(shown, with_drift=only_drifting)
    if only_drifting:
        return _drift_text(shown, result.total)
    return _report_text(result)


def _report_csv(result: QueryResult, *, with_drift: bool = False) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*result.group_by, *FIELDS, *(DRIFT_FIELDS if with_drift else ())])
    fields = _drift_fields if with_drift else _fields
    for row in result.rows:
        # csv writes None (an unknown cost) as an empty cell.
        writer.writerow([*("" if k is None else k for k in row.key), *fields(row.totals).values()])
    return out.getvalue()


def _range_text(since: Bound, until: Bound) -> str:
    if since is None and until is None:
        return "all time"
    parts = []
    if since is not None:
        parts.append(f"from {_bound_text(since)}")
    if until is not None:
        word = "before" if isinstance(until, datetime) else "through"
        parts.append(f"{word} {_bound_text(until)}")
    return " ".join(parts)


def _bound_text(bound: date) -> str:
    if isinstance(bound, datetime):
        return bound.isoformat(sep=" ", timespec="minutes")
    return bound.isoformat()


def _int(n: int) -> str:
    return f"{n:,}"


def _cost_cell(t: Totals) -> str:
    if t.calls and t.unpriced_calls == t.calls:
        return "unpriced"
    return usd_text(t.cost)


def _key_cell(value: str | None) -> str:
    return "(none)" if value is None else value


def _report_text(result: QueryResult) -> str:
    by = f" by {', '.join(result.group_by)}" if result.group_by else ""
    lines = [f"Usage{by}, {_range_text(result.since, result.until)}"]
    if not result.rows:
        lines.append("No usage recorded for this selection.")
        return "\n".join(lines) + "\n"
    show_unpriced = result.total.unpriced_calls > 0
    show_reported = result.total.reported_events > 0
    header = [*result.group_by, "calls", "input", "output", "cache read", "cache write", "cost"]
    if show_reported:
        header += ["reported", "priced"]
    if show_unpriced:
        header.append("unpriced")

    def numbers(t: Totals) -> list[str]:
        cells = [
            _int(t.calls),
            _int(t.input_tokens),
            _int(t.output_tokens),
            _int(t.cache_read_tokens),
            _int(t.cache_write_tokens),
            _cost_cell(t),
        ]
        if show_reported:
            cells += _reported_cells(t, usd_text)
        return [*cells, _int(t.unpriced_calls)] if show_unpriced else cells

    body = [[*map(_key_cell, r.key), *numbers(r.totals)] for r in result.rows]
    label = ["TOTAL", *[""] * (len(result.group_by) - 1)] if result.group_by else []
    total = [*label, *numbers(result.total)]
    if not result.group_by:
        header, body, total = ["", *header], [], ["TOTAL", *total]
    lines += _table(header, body, total, left=max(1, len(result.group_by)))
    if result.unpriced:
        n = result.total.unpriced_calls
        models = ", ".join(f"{u.model} ({u.provider}, {_int(u.calls)})" for u in result.unpriced)
        lines.append("")
        lines.append(f"{_calls(n)} unpriced, not in the cost: {models}")
        lines.append(
            'Add a [prices."MODEL"] override to the config, then run `llm-monitor reprice`.'
        )
    return "\n".join(lines) + "\n"


def _reported_cells(t: Totals, money: Callable[[Decimal], str]) -> list[str]:
    """The reported and the priced cost: "-" where no tool reported a cost, "unpriced"
    where some of those calls have no price."""
    reported, priced = t.reported_cost, t.priced_cost
    if reported is None:
        return ["-", "-"]
    return [money(reported), "unpriced" if priced is None else money(priced)]


def _precise(amount: Decimal) -> str:
    """Drift is often cents of cents: sub-dollar amounts keep their digits ($0.336)."""
    return usd_true_text(amount)


def _drift_text(shown: QueryResult, whole: Totals) -> str:
    """`report --drift` for people: the differing rows, reported against priced."""
    by = f" by {', '.join(shown.group_by)}" if shown.group_by else ""
    lines = [f"Price drift{by}, {_range_text(shown.since, shown.until)}"]
    if not shown.rows:
        if not whole.reported_events:
            lines.append("No tool reported a cost for this selection.")
        else:
            lines.append("No drift: the reported costs equal prices wherever both are known.")
        return "\n".join(lines) + "\n"
    lines.append("Calls whose tool reported a cost: what it reported, what prices say.")
    header = [*shown.group_by, "reported", "priced", "difference", "%"]

    def numbers(t: Totals) -> list[str]:
        difference, pct = drift(t), drift_pct(t)
        return [
            *_reported_cells(t, _precise),
            "n/a" if difference is None else _signed_precise(difference),
            _signed_pct(pct),
        ]

    body = [[*map(_key_cell, r.key), *numbers(r.totals)] for r in shown.rows]
    label = ["TOTAL", *[""] * (len(shown.group_by) - 1)] if shown.group_by else []
    total = [*label, *numbers(shown.total)]
    if not shown.group_by:
        header, body, total = ["", *header], [], ["TOTAL", *total]
    lines += _table(header, body, total, left=max(1, len(shown.group_by)))
    return "\n".join(lines) + "\n"


def _signed_precise(amount: Decimal) -> str:
    return ("+" if amount > 0 else "") + _precise(amount)


def _signed_pct(pct: Decimal | None) -> str:
    return "n/a" if pct is None else f"{pct:+}%"


def _table(
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


# -- compare ---------------------------------------------------------------------------


class Side(NamedTuple):
    selection: Selection
    totals: Totals
    iterations: int | None
    """Distinct `iteration` tags (per `run`), None when no selected event carries one."""


def _all_unpriced(t: Totals) -> bool:
    """Every call is unpriced: the cost is unknown, not $0."""
    return t.calls > 0 and t.unpriced_calls == t.calls


class Comparison(NamedTuple):
    """A (the baseline) against B; savings are what B saves over A (negative: B costs more).

    Cost savings are None when a side's calls are all unpriced: its cost is unknown.
    With some unpriced calls they compare the priced ones (the text says so)."""

    a: Side
    b: Side

    @property
    def token_savings(self) -> int:
        return self.a.totals.total_tokens - self.b.totals.total_tokens

    @property
    def token_savings_pct(self) -> Decimal | None:
        return _pct(Decimal(self.token_savings), Decimal(self.a.totals.total_tokens))

    @property
    def cost_known(self) -> bool:
        """Both sides have a cost: neither side's calls are all unpriced."""
        return not (_all_unpriced(self.a.totals) or _all_unpriced(self.b.totals))

    @property
    def cost_savings(self) -> Decimal | None:
        if not self.cost_known:
            return None
        return self.a.totals.cost - self.b.totals.cost

    @property
    def cost_savings_pct(self) -> Decimal | None:
        savings = self.cost_savings
        return None if savings is None else _pct(savings, self.a.totals.cost)


def _pct(part: Decimal, whole: Decimal) -> Decimal | None:
    if not whole:
        return None
    return (part * 100 / whole).quantize(_TENTH, rounding=ROUND_HALF_EVEN)


def compare(db: sqlite3.Connection, a: Selection, b: Selection, tz: tzinfo) -> Comparison:
    """A against B. Raises ValueError when a side matches no recorded call: a comparison
    with nothing is no saving of 100 % (nor an infinite overspend)."""
    result = Comparison(_side(db, a, tz), _side(db, b, tz))
    empty = [
        f"{name} ({side.selection.label!r})"
        for name, side in (("A", result.a), ("B", result.b))
        if not side.totals.calls
    ]
    if empty:
        raise ValueError(
            f"no recorded calls match {' nor '.join(empty)}: nothing to compare "
            "(check the selection with `llm-monitor report --where …`)"
        )
    return result


def _side(db: sqlite3.Connection, sel: Selection, tz: tzinfo) -> Side:
    totals = query(db, (), sel, tz).total
    iterations = count_tag_values(db, sel, "iteration", tz, per="run")
    return Side(sel, totals, iterations or None)


def _side_json(side: Side) -> dict[str, Any]:
    t = side.totals
    return {
        "selection": side.selection.label,
        "calls": t.calls,
        "input_tokens": t.input_tokens,
        "output_tokens": t.output_tokens,
        "total_tokens": t.total_tokens,
        "cache_read_tokens": t.cache_read_tokens,
        "cache_write_tokens": t.cache_write_tokens,
        "cost_usd": None if _all_unpriced(t) else usd_json(t.cost),
        "unpriced_calls": t.unpriced_calls,
        "iterations": side.iterations,
    }


def _pct_json(pct: Decimal | None) -> float | None:
    return None if pct is None else float(pct)


def comparison_json(c: Comparison) -> dict[str, Any]:
    return {
        "a": _side_json(c.a),
        "b": _side_json(c.b),
        "savings": {
            "tokens": c.token_savings,
            "tokens_pct": _pct_json(c.token_savings_pct),
            "cost_usd": usd_json(c.cost_savings),
            "cost_pct": _pct_json(c.cost_savings_pct),
        },
    }


def render_comparison(c: Comparison, fmt: Literal["text", "json"]) -> str:
    if fmt == "json":
        return json.dumps(comparison_json(c), indent=2) + "\n"
    a, b = c.a.totals, c.b.totals
    rows: list[tuple[str, str, str, str]] = [
        ("Calls", _int(a.calls), _int(b.calls), _signed(b.calls - a.calls)),
        (
            "Input tokens",
            _int(a.input_tokens),
            _int(b.input_tokens),
            _signed(b.input_tokens - a.input_tokens),
        ),
        (
            "Output tokens",
            _int(a.output_tokens),
            _int(b.output_tokens),
            _signed(b.output_tokens - a.output_tokens),
        ),
        ("Total tokens", _int(a.total_tokens), _int(b.total_tokens), _signed(-c.token_savings)),
        ("Cost", _cost_cell(a), _cost_cell(b), _opt_signed_usd(c.cost_savings)),
    ]
    ia, ib = c.a.iterations, c.b.iterations
    if ia is not None or ib is not None:
        diff = _signed(ib - ia) if ia is not None and ib is not None else ""
        rows.append(("Iterations", _opt_int(ia), _opt_int(ib), diff))
    if a.unpriced_calls or b.unpriced_calls:
        rows.append(("Unpriced calls", _int(a.unpriced_calls), _int(b.unpriced_calls), ""))
    lines = [
        "Comparison",
        f"  A: {c.a.selection.label}",
        f"  B: {c.b.selection.label}",
        "",
        *_table(["", "A", "B", "B - A"], [list(r) for r in rows], None, left=1),
        "",
    ]
    lines.append(_savings_line(c))
    if not c.cost_known:
        unpriced = " and ".join(n for n, t in (("A", a), ("B", b)) if _all_unpriced(t))
        lines.append(f"No cost comparison: every call of {unpriced} is unpriced.")
        lines.append(
            'Add a [prices."MODEL"] override to the config, then run `llm-monitor reprice`.'
        )
    elif a.unpriced_calls or b.unpriced_calls:
        lines.append("Costs leave out unpriced calls.")
    return "\n".join(lines) + "\n"


def _savings_line(c: Comparison) -> str:
    tokens, tp, cp = c.token_savings, c.token_savings_pct, c.cost_savings_pct
    known = c.cost_savings
    cost = Decimal(0) if known is None else known  # unknown: the tokens alone decide
    if tokens <= 0 and cost <= 0 and (tokens or cost):
        cost_text = "unpriced" if known is None else f"{_signed_usd(-cost)} ({_pct_text(cp, -1)})"
        return (
            f"B spends more than A: tokens {_signed(-tokens)} ({_pct_text(tp, -1)}), "
            f"cost {cost_text}"
        )
    word = (
        "Savings (B vs A)"
        if tokens >= 0 and cost >= 0
        else "Savings (B vs A; negative: B spends more)"
    )
    cost_text = "unpriced" if known is None else f"{usd_text(cost)} ({_pct_text(cp)})"
    return f"{word}: tokens {_int(tokens)} ({_pct_text(tp)}), cost {cost_text}"


def _signed(n: int) -> str:
    return f"{n:+,}" if n else "0"


def _signed_usd(amount: Decimal) -> str:
    return ("+" if amount > 0 else "") + usd_text(amount)


def _opt_signed_usd(savings: Decimal | None) -> str:
    """B - A of the costs (minus the savings); "n/a" when a side is unpriced."""
    return "n/a" if savings is None else _signed_usd(-savings)


def _opt_int(n: int | None) -> str:
    return "-" if n is None else _int(n)


def _pct_text(pct: Decimal | None, sign: int = 1) -> str:
    if pct is None:
        return "n/a"
    return f"{sign * pct:+}%" if sign < 0 else f"{pct}%"


# -- estimate --------------------------------------------------------------------------


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


def _calls(n: int, noun: str = "call") -> str:
    return f"{_int(n)} {noun}{'' if n == 1 else 's'}"


def _share_json(share: Decimal | None) -> float | None:
    """A share of the input tokens, 0-1, to 4 places (a ratio, not money)."""
    return None if share is None else float(share.quantize(Decimal("0.0001")))


def _share_text(share: Decimal) -> str:
    return f"{(share * 100).quantize(_TENTH, rounding=ROUND_HALF_EVEN)}%"


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


def render_estimate(e: Estimate, fmt: Literal["text", "json"]) -> str:
    if fmt == "json":
        return json.dumps(estimate_json(e), indent=2) + "\n"
    what = _calls(e.calls)
    if e.model is not None:
        what += f" of {e.model}" + (f" ({e.provider})" if e.provider else "")
    lines = [f"Estimate: {what}"]
    per = f"{_int(e.avg_input_tokens)} input + {_int(e.avg_output_tokens)} output tokens per call"
    if e.like is not None:
        past = _calls(e.sample_calls, "past call")
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
        ["Input tokens", _int(e.input_tokens)],
        *([["  cache reads", _int(e.cache_read_tokens)]] if e.cache_read_tokens else []),
        *([["  cache writes", _int(e.cache_write_tokens)]] if e.cache_write_tokens else []),
        ["Output tokens", _int(e.output_tokens)],
        ["Cost per call", _usd_per_call(e.cost_per_call)],
        ["Total cost", usd_text(e.cost)],
    ]
    if e.low is not None and e.high is not None and e.low != e.high:
        rows.append(["Likely range", f"{usd_text(e.low)} - {usd_text(e.high)}"])
    lines += ["  " + r for r in _table(None, rows, None, left=1)]
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
            f"  {_calls(e.unpriced_sample_calls, 'past call')} without a cost "
            "left out of the average."
        )
    return "\n".join(lines) + "\n"
