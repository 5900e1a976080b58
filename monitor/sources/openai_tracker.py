"""An OpenAI app's token tracker (seed 002): `token_usage.json` in the app's working
directory, rewritten whole after every call.

The tracker the seed describes keeps `session_usage` = running totals plus a `calls`
list, one record per API call — `{"timestamp", "operation", "model", "prompt_tokens",
"completion_tokens", "total_tokens", "input_cost", "output_cost", "call_cost"}` — and
dumps it after every call. The seed shows only part of the schema, so the plausible
variants are read too: the list under `calls`, `api_calls`, `history`, `usage_log`,
`calls_log` or `records` (possibly nested under `session_usage`), or the document
itself a list; counts as `prompt_/completion_tokens`, `input_/output_tokens` or a
nested `usage` object (with OpenAI's `prompt_tokens_details.cached_tokens` and
`completion_tokens_details.reasoning_tokens`); the cost as `call_cost`, `cost`,
`total_cost`, `cost_usd` or `input_cost` + `output_cost` (the tracker's own prices:
`reported_cost`). The totals are never counted.

The tracker dumps its counts as JSON numbers: a count that is a string ("abc"), a bool,
negative, fractional or over 10**15 makes the call record bad (issue 9: records with
"prompt_tokens": "abc" were counted as calls of 0 tokens), as do a bad cost, a model
that is no string, or a time that is unreadable or out of range.

Records have no ids, and such a tracker may cap its history (drop the oldest), so a
record's index is no identity: the key is a hash of its content plus its occurrence
among identical records (`oat:<hash>#<n>`). Limit: if the tracker drops the older of
two byte-identical records (same timestamp, same counts) and then writes a third
identical one, that third is taken for the second. Timestamps carry microseconds, so
identical records are not expected in practice.
"""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from typing import Any

from monitor.events import UsageEvent
from monitor.sources.base import BadValue, Format, ParseContext, ParseResult, State, collect
from monitor.sources.common import call_time, cost, count, model_name, record_event
from monitor.sources.docs import (
    ContentKeys,
    ancestor,
    default_model,
    document_records,
    first_item,
    fixed_paths,
    load_document,
    split_tokens,
    text,
)

LIST_KEYS = ("calls", "api_calls", "history", "usage_log", "calls_log", "records")
DEFAULT_MODEL = "gpt-3.5-turbo"
"""The tracker's own default (`log_usage(..., model="gpt-3.5-turbo")`)."""


def call_records(doc: Any) -> list[Any] | None:
    """The list of call records, wherever this variant keeps it; None if there is none."""
    if isinstance(doc, list):
        return doc
    containers = (doc, doc.get("session_usage")) if isinstance(doc, dict) else ()
    for container in containers:
        if isinstance(container, dict):
            for name in LIST_KEYS:
                found = container.get(name)
                if isinstance(found, list):
                    return found
    return None


def _reported_cost(record: dict[str, Any]) -> Decimal | None:
    name, value = first_item(record, "call_cost", "cost", "total_cost", "cost_usd")
    whole = cost(value, name)
    if whole is not None:
        return whole
    parts = [cost(record.get(name), name) for name in ("input_cost", "output_cost")]
    if all(part is None for part in parts):
        return None
    return sum((part for part in parts if part is not None), Decimal(0))


def _detail(usage: dict[str, Any], name: str, field: str) -> int:
    details = usage.get(name)
    return count(details.get(field), f"{name}.{field}") if isinstance(details, dict) else 0


def _event(
    ctx: ParseContext, keys: ContentKeys, project: str, index: int, record: dict[str, Any]
) -> UsageEvent:
    key = keys(record)  # first: an unreadable record still takes its occurrence number
    nested = record.get("usage")
    usage = nested if isinstance(nested, dict) else record
    tokens = split_tokens(
        usage, ("prompt_tokens", "input_tokens"), ("completion_tokens", "output_tokens")
    )
    if tokens is None:
        raise BadValue("call record without token counts")
    name, stamp = first_item(record, "timestamp", "time", "created_at", "created")
    when = call_time(stamp, ctx, name)
    model = (
        model_name(record.get("model"))
        or model_name(usage.get("model"), "usage.model")
        or default_model(ctx, DEFAULT_MODEL)
    )
    return record_event(
        ctx,
        index,
        when,
        model,
        key=key,
        provider=text(record.get("provider")),
        default_provider="openai",
        operation=text(record.get("operation")),
        **tokens,
        cache_read_tokens=_detail(usage, "prompt_tokens_details", "cached_tokens"),
        reasoning_tokens=_detail(usage, "completion_tokens_details", "reasoning_tokens"),
        reported_cost=_reported_cost(record),
        tags={"project": project} if project else {},
    )


def parse(ctx: ParseContext, state: State, data: bytes) -> ParseResult:
    """One event per call record of the whole document (errors carry the record's index)."""
    missing = f"no list of call records ({', '.join(LIST_KEYS)})"
    records = document_records(call_records(load_document(data)), "call record", missing)
    return collect(state, records, partial(_event, ctx, ContentKeys("oat:"), ancestor(ctx.path, 1)))


FORMAT = Format(
    name="openai-tracker",
    kind="document",
    parse=parse,
    default_paths=fixed_paths("**/token_usage.json"),
)
