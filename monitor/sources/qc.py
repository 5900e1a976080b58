"""The visual-QC back-end's usage log (seed 004): `logs/usage*.jsonl` beside the back-end,
one JSON line appended per usage event.

Only `"event": "analysis_complete"` lines carry usage (other event types are ignored,
silently). Since the token-tracking enhancement such a line holds
`token_usage.by_provider`: `{"OpenAI": {"prompt_tokens", "completion_tokens",
"total_tokens", "cost"}, "Gemini": {…}}` → one event per provider, its `cost` reported.
Provider normalized (OpenAI → openai, Gemini → google); model: the entry's own `model`,
else the source's `models` option (`{"OpenAI": "gpt-4o-mini"}`, keyed as the log
spells the provider or normalized), else gpt-4o / gemini-1.5-pro — the models whose
per-1K prices the seed's cost formula uses. The log does not say how many API calls a
provider served: `calls` is the entry's `calls` when present, else 1.

Older lines have no token data; the back-end then estimated 1000 input + 200 output
tokens per check, and so do we (`checks_completed`, at least 1): `cost_basis`
"estimated", `FLAG_ESTIMATED_TOKENS`, `calls` = the checks, reported cost =
`total_cost_usd` when present, provider/model from the record, else the source's
`default_provider` option, else openai/gpt-4o. A line with totals but no per-provider
breakdown is one event with those (actual) totals.

Key `qc:<session_id>:<timestamp>:<provider>`; without a session id or timestamp, the
line's key plus the provider. Tags: client, profile, user (user_email), session (session_id).

The back-end writes counts as JSON numbers: a count (tokens, calls, checks) that is a
string, bool, negative, fractional or over 10**15 makes the whole line bad — all its
providers, since they share one analysis — as do a bad cost, a model that is no
string, and a timestamp that is unreadable or out of range.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from functools import partial
from typing import Any, NamedTuple

from monitor.events import FLAG_ESTIMATED_TOKENS, UsageEvent
from monitor.sources.base import Format, ParseContext, ParseResult, State, collect, line_key
from monitor.sources.common import (
    call_time,
    cost,
    count,
    model_name,
    normalize_provider,
    record_event,
)
from monitor.sources.docs import (
    InputOutput,
    first_item,
    fixed_paths,
    json_records,
    split_tokens,
    text,
)

OPERATION = "visual_qc"
EVENT = "analysis_complete"
DEFAULT_MODELS = {"openai": "gpt-4o", "google": "gemini-1.5-pro"}
ESTIMATED_INPUT_PER_CHECK = 1000
ESTIMATED_OUTPUT_PER_CHECK = 200


def _model(ctx: ParseContext, written: str, provider: str, own: str | None) -> str:
    if own:
        return own
    configured = ctx.options.get("models")
    if isinstance(configured, Mapping):
        for name in (written, provider):
            model = text(configured.get(name))
            if model:
                return model
    return DEFAULT_MODELS.get(provider, "unknown")


def _tags(record: dict[str, Any]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for tag, field in (
        ("client", "client"),
        ("profile", "profile"),
        ("user", "user_email"),
        ("session", "session_id"),
    ):
        value = text(record.get(field))
        if value:
            tags[tag] = value
    return tags


class _Part(NamedTuple):
    """One provider's share of an analysis: what becomes one event."""

    written: str
    """The provider as the log spells it ("OpenAI"), for the `models` option."""
    provider: str
    model: str | None
    tokens: InputOutput
    calls: int
    cost: Decimal | None
    flags: int


def _parts(ctx: ParseContext, record: dict[str, Any]) -> list[_Part]:
    usage = record.get("token_usage")
    usage = usage if isinstance(usage, dict) else {}
    by_provider = usage.get("by_provider")
    if isinstance(by_provider, dict) and by_provider:
        parts = []
        for written, entry in by_provider.items():
            entry = entry if isinstance(entry, dict) else {}
            tokens = split_tokens(
                entry,
                ("prompt_tokens", "input_tokens"),
                ("completion_tokens", "output_tokens"),
                where=f"{written}.",
            )
            name, calls_value = first_item(entry, "calls", "api_calls", "call_count")
            calls = count(calls_value, f"{written}.{name}") or 1
            parts.append(
                _Part(
                    written,
                    normalize_provider(written),
                    model_name(entry.get("model"), f"{written}.model"),
                    tokens or InputOutput(input_tokens=0, output_tokens=0),
                    calls,
                    cost(entry.get("cost"), f"{written}.cost"),
                    0,
                )
            )
        return parts
    written = text(record.get("provider")) or text(ctx.options.get("default_provider")) or "openai"
    provider = normalize_provider(written)
    model = model_name(record.get("model"))
    reported = cost(record.get("total_cost_usd"), "total_cost_usd")
    totals = split_tokens(
        usage, ("total_prompt_tokens",), ("total_completion_tokens",), ("total_tokens",)
    )
    if totals is not None:
        return [_Part(written, provider, model, totals, 1, reported, 0)]
    checks = max(1, count(record.get("checks_completed"), "checks_completed"))
    estimate = InputOutput(
        input_tokens=count(ESTIMATED_INPUT_PER_CHECK * checks, "estimated input tokens"),
        output_tokens=count(ESTIMATED_OUTPUT_PER_CHECK * checks, "estimated output tokens"),
    )
    return [_Part(written, provider, model, estimate, checks, reported, FLAG_ESTIMATED_TOKENS)]


def parse(ctx: ParseContext, state: State, data: bytes) -> ParseResult:
    """Events of the `analysis_complete` lines in `data`; stateless."""
    return collect(state, json_records(data, ctx.base_offset), partial(_events, ctx))


def _events(ctx: ParseContext, offset: int, record: dict[str, Any]) -> list[UsageEvent]:
    """The events of one `analysis_complete` line, one per provider; none for a line of
    another event. All or nothing: the providers share one analysis, so one bad value
    (BadValue) makes the whole line bad."""
    if record.get("event") != EVENT:
        return []
    stamp = text(record.get("timestamp"))
    ts, flags = call_time(record.get("timestamp"), ctx)
    session = text(record.get("session_id"))
    base = f"qc:{session}:{stamp}" if session and stamp else line_key(ctx, offset)
    tags = _tags(record)
    return [
        record_event(
            ctx,
            offset,
            (ts, flags | part.flags),
            _model(ctx, part.written, part.provider, part.model),
            key=f"{base}:{part.provider}",
            provider=part.provider,
            operation=OPERATION,
            **part.tokens,
            calls=part.calls,
            cost_basis="estimated" if part.flags else "unpriced",
            reported_cost=part.cost,
            tags=dict(tags),
        )
        for part in _parts(ctx, record)
    ]


FORMAT = Format(
    name="qc-usage-log",
    kind="lines",
    parse=parse,
    default_paths=fixed_paths("**/logs/usage*.jsonl"),
)
