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

from typing import Any

from monitor.events import UsageEvent
from monitor.sources.base import (
    Format,
    ParseContext,
    ParseError,
    ParseResult,
    State,
    guarded,
    line_key,
    origin,
)
from monitor.sources.common import call_time, cost, model_name, normalize_provider
from monitor.sources.docs import ancestor, default_model, json_records, split_tokens, text


def _iteration(value: Any) -> str | None:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return text(value)


def _event(
    ctx: ParseContext, offset: int, record: dict[str, Any], fallback: str
) -> UsageEvent | ParseError:
    tokens = split_tokens(record, ("input_tokens",), ("output_tokens",))
    if tokens is None:
        return ParseError(offset, "record without token counts")
    ts, flags = call_time(record.get("timestamp"), ctx)
    model = model_name(record.get("model")) or fallback
    run, phase = ancestor(ctx.path, 1), ancestor(ctx.path, 2)
    tags = {"run": run}
    if phase:
        tags["phase"] = phase
    iteration = _iteration(record.get("iteration"))
    if iteration is not None:
        tags["iteration"] = iteration
    return UsageEvent(
        key=line_key(ctx, offset),
        ts=ts,
        source=ctx.source,
        provider=normalize_provider(text(record.get("provider")), model),
        model=model,
        operation=text(record.get("operation")),
        input_tokens=tokens[0],
        output_tokens=tokens[1],
        reported_cost=cost(record.get("cost_usd"), "cost_usd"),
        tags=tags,
        origin=origin(ctx, offset),
        flags=flags,
    )


def parse(ctx: ParseContext, state: State, data: bytes) -> ParseResult:
    """One event per record; stateless (each line stands alone)."""
    result = ParseResult(state=state)
    fallback = default_model(ctx)
    for offset, record in json_records(data, ctx.base_offset):
        if isinstance(record, ParseError):
            result.errors.append(record)
        else:
            result.add(guarded(offset, _event, ctx, offset, record, fallback))
    return result


def default_paths() -> list[str]:
    return ["**/run_*/tokens.jsonl"]


FORMAT = Format(
    name="studio-tokens",
    kind="lines",
    parse=parse,
    description="Studio runs: output/<phase>/run_*/tokens.jsonl, one record per operation",
    default_paths=default_paths,
)
