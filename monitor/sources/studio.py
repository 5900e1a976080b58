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
  is its guess, not a fact of the record.
"""

from __future__ import annotations

from typing import Any

from monitor.events import UsageEvent, decimal_from_json
from monitor.sources.base import (
    Format,
    ParseContext,
    ParseError,
    ParseResult,
    State,
    line_key,
    origin,
)
from monitor.sources.common import normalize_provider
from monitor.sources.docs import (
    ancestor,
    default_model,
    json_records,
    record_time,
    split_tokens,
    text,
)


def _iteration(value: Any) -> str | None:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return text(value)


def parse(ctx: ParseContext, state: State, data: bytes) -> ParseResult:
    """One event per record; stateless (each line stands alone)."""
    events: list[UsageEvent] = []
    errors: list[ParseError] = []
    run, phase = ancestor(ctx.path, 1), ancestor(ctx.path, 2)
    fallback = default_model(ctx)
    for offset, record in json_records(data, ctx.base_offset):
        if isinstance(record, ParseError):
            errors.append(record)
            continue
        tokens = split_tokens(
            record.get("input_tokens"), record.get("output_tokens"), record.get("total_tokens")
        )
        if tokens is None:
            errors.append(ParseError(offset, "record without token counts"))
            continue
        when = record_time(record.get("timestamp"), ctx)
        if when is None:
            errors.append(ParseError(offset, "record without a readable timestamp"))
            continue
        model = text(record.get("model")) or fallback
        tags = {"run": run}
        if phase:
            tags["phase"] = phase
        iteration = _iteration(record.get("iteration"))
        if iteration is not None:
            tags["iteration"] = iteration
        events.append(
            UsageEvent(
                key=line_key(ctx, offset),
                ts=when[0],
                source=ctx.source,
                provider=normalize_provider(text(record.get("provider")), model),
                model=model,
                operation=text(record.get("operation")),
                input_tokens=tokens[0],
                output_tokens=tokens[1],
                reported_cost=decimal_from_json(record.get("cost_usd")),
                tags=tags,
                origin=origin(ctx, offset),
                flags=when[1],
            )
        )
    return ParseResult(state=state, events=events, errors=errors)


def default_paths() -> list[str]:
    return ["**/run_*/tokens.jsonl"]


FORMAT = Format(
    name="studio-tokens",
    kind="lines",
    parse=parse,
    description="Studio runs: output/<phase>/run_*/tokens.jsonl, one record per operation",
    default_paths=default_paths,
)
