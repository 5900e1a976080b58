"""Studio multi-agent runs (seed 003): `output/<phase>/run_*/tokens.jsonl`.

Studio's `TokenTracker.log_usage` appends one JSON record per operation:
`{"timestamp", "operation", "iteration", "input_tokens", "output_tokens", "total_tokens",
"model", "cost_usd"}`; `model` and `cost_usd` are optional (null or absent). The run and
phase are not in the record but in the path, so they become tags (`compare` selects a
run by `tag:run`). `token_summary.json` and `run.json` beside it repeat these numbers
as totals and are never read.

- `cost_usd`, when not null, is the actual cost the user logged: `reported_cost`.
- no model: the source's `default_model` option, else "unknown" (unpriced unless the
  record reports its cost) — the tool itself prices such records as GPT-4, but that
  is its guess, not a fact of the record. A model that is no string is a bad record.
- `TokenTracker` writes counts as JSON numbers: a count that is a string, a bool,
  negative, fractional or over 10**15 makes the record bad (issue 9: a day once
  summed to −224,000 input tokens); so does a time that is unreadable or out of range.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from monitor.events import UsageEvent
from monitor.sources.base import BadValue, Format, ParseContext, ParseResult, State, collect
from monitor.sources.common import call_time, cost, model_name, record_event
from monitor.sources.docs import (
    ancestor,
    default_model,
    fixed_paths,
    json_records,
    split_tokens,
    text,
)


def _iteration(value: Any) -> str | None:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return text(value)


def _event(ctx: ParseContext, fallback: str, offset: int, record: dict[str, Any]) -> UsageEvent:
    tokens = split_tokens(record, ("input_tokens",), ("output_tokens",))
    if tokens is None:
        raise BadValue("record without token counts")
    when = call_time(record.get("timestamp"), ctx)
    model = model_name(record.get("model")) or fallback
    run, phase = ancestor(ctx.path, 1), ancestor(ctx.path, 2)
    tags = {"run": run}
    if phase:
        tags["phase"] = phase
    iteration = _iteration(record.get("iteration"))
    if iteration is not None:
        tags["iteration"] = iteration
    return record_event(
        ctx,
        offset,
        when,
        model,
        provider=text(record.get("provider")),
        operation=text(record.get("operation")),
        **tokens,
        reported_cost=cost(record.get("cost_usd"), "cost_usd"),
        tags=tags,
    )


def parse(ctx: ParseContext, state: State, data: bytes) -> ParseResult:
    """One event per record; stateless (each line stands alone)."""
    build = partial(_event, ctx, default_model(ctx))
    return collect(state, json_records(data, ctx.base_offset), build)


FORMAT = Format(
    name="studio-tokens",
    kind="lines",
    parse=parse,
    default_paths=fixed_paths("**/run_*/tokens.jsonl"),
)
