"""The native spool `<state_dir>/spool/*.jsonl`: what `llm-monitor log` and `track()` write.

One JSON object per line, with UsageEvent's own field names and meanings:
- `ts` (required): ISO 8601; without a zone it is read in the source's time zone;
- `model` (required); `provider` (default: inferred from the model);
- `source` (default: the spool source's name); `operation` (optional);
- `input_tokens`, `output_tokens`, `cache_read_tokens`, `cache_write_tokens`,
  `cache_write_1h_tokens`, `reasoning_tokens`: ints, default 0; input includes cache,
  output includes reasoning;
- `calls` (default 1);
- `cost`: USD the caller reports, a decimal string (or a JSON number), kept as
  `reported_cost`;
- `tags`: an object of strings;
- `id` (optional): the key becomes `spool:<id>`, so a retried write counts once; without
  it the line's position is the key.

`encode_record` is the writer's half, so reader and writer share one definition.
The reader holds every line to what the writer writes (issue 9): a count that is no
JSON integer from 0 to 10**15 (a float without a fraction passes), a cost that is no
finite decimal in [0, 1e9) USD, a model that is no string, or a `ts` that is
unreadable or out of range makes that line a bad record, never a call of 0 tokens.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any, Final

import msgspec

from monitor.events import UsageEvent, decimal_from_json
from monitor.limits import BadLimit, LimitSnapshot, reading
from monitor.sources.base import Format, ParseContext, ParseError, ParseResult, State, collect
from monitor.sources.common import (
    TOKEN_FIELDS,
    call_time,
    cost,
    count,
    json_lines,
    model_name,
    record_event,
    token_counts,
)

_TEXT_FIELDS: Final = ("id", "source", "provider", "model", "operation")
FIELDS: Final = (
    "id",
    "ts",
    "source",
    "provider",
    "model",
    "operation",
    *TOKEN_FIELDS,
    "calls",
    "cost",
    "tags",
)
"""Every field a spool record may carry, in the order `encode_record` writes them."""

_DECODER = msgspec.json.Decoder()
_ENCODER = msgspec.json.Encoder()


def _cost_text(value: Any) -> str:
    if isinstance(value, bool):
        raise ValueError("cost must be a number or a decimal string")
    amount = value if isinstance(value, Decimal) else decimal_from_json(value)
    if amount is None or not amount.is_finite():
        raise ValueError(f"cost is not a finite decimal: {value!r}")
    cost(amount, "cost")  # the reader's bounds: negative or over $1,000,000 are refused
    return f"{amount:f}"


def _ts_text(value: Any) -> str:
    if isinstance(value, datetime):
        # A naive datetime is the writer's local time: pin its offset now, while it is known.
        return (value if value.tzinfo else value.astimezone()).isoformat()
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise ValueError(f"ts must be a datetime or an ISO 8601 string: {value!r}")


def encode_record(event_fields: Mapping[str, Any]) -> bytes:
    """One spool line (ending in b"\\n") from event field values; None values are left out.

    Raises ValueError for an unknown field name, a missing `ts` or `model`, or a value of
    the wrong type or out of the reader's bounds: the writer learns at once, not the
    daemon later.
    """
    unknown = set(event_fields) - set(FIELDS)
    if unknown:
        raise ValueError(f"unknown spool field(s): {', '.join(sorted(unknown))}")
    record: dict[str, Any] = {}
    for name in FIELDS:
        value = event_fields.get(name)
        if value is None:
            continue
        if name == "ts":
            record[name] = _ts_text(value)
        elif name == "cost":
            record[name] = _cost_text(value)
        elif name == "tags":
            if not isinstance(value, Mapping):
                raise ValueError("tags must be a mapping")
            record[name] = {str(k): str(v) for k, v in value.items() if v is not None}
        elif name in _TEXT_FIELDS:
            if not isinstance(value, str):
                raise ValueError(f"{name} must be a string: {value!r}")
            record[name] = value
        else:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name} must be an integer: {value!r}")
            record[name] = count(value, name)  # the reader's bounds: 0 <= count <= 10**15
    if "ts" not in record:
        raise ValueError("a spool record needs ts")
    if not record.get("model"):
        raise ValueError("a spool record needs model")
    return _ENCODER.encode(record) + b"\n"


def _string(value: Any) -> str | None:
    """A text field as written; None for a missing, empty or non-string one (the default)."""
    return value if isinstance(value, str) and value else None


def _key(obj: dict[str, Any]) -> str | None:
    """`spool:<id>` for a record with an `id` of its own (a string or an int), so a retried
    write counts once; None without one (the line's place keys it)."""
    record_id = obj.get("id")
    if isinstance(record_id, str | int) and not isinstance(record_id, bool) and str(record_id):
        return f"spool:{record_id}"
    return None


def _event(ctx: ParseContext, offset: int, obj: Any) -> UsageEvent | ParseError:
    """The event one spool record stands for, or why it cannot be read."""
    if not isinstance(obj, dict):
        return ParseError(offset, "spool record is not a JSON object")
    model = model_name(obj.get("model"))
    if model is None:
        return ParseError(offset, "spool record without model")
    when = call_time(obj.get("ts"), ctx, "ts")
    reported = cost(obj.get("cost"), "cost")
    calls = obj.get("calls")
    raw_tags = obj.get("tags")
    if raw_tags is not None and not isinstance(raw_tags, dict):
        return ParseError(offset, "tags is not a JSON object")
    return record_event(
        ctx,
        offset,
        when,
        model,
        key=_key(obj),
        source=_string(obj.get("source")),
        provider=_string(obj.get("provider")),
        operation=_string(obj.get("operation")),
        **token_counts(obj),
        calls=1 if calls is None else count(calls, "calls"),
        reported_cost=reported,
        tags={str(k): str(v) for k, v in (raw_tags or {}).items() if v is not None},
    )


def parse(ctx: ParseContext, state: State, data: bytes) -> ParseResult:
    """One event per spool line (or a plan-window snapshot per `"type": "limit"` line);
    stateless."""
    limits: list[LimitSnapshot] = []
    result = collect(
        state, json_lines(data, ctx.base_offset, _DECODER.decode), partial(_record, ctx, limits)
    )
    result.limits = limits
    return result


def _record(
    ctx: ParseContext, limits: list[LimitSnapshot], offset: int, obj: Any
) -> UsageEvent | ParseError | None:
    if isinstance(obj, dict) and obj.get("type") == "limit":
        limits.append(_limit(ctx, obj))
        return None
    return _event(ctx, offset, obj)


def _limit(ctx: ParseContext, obj: dict[str, Any]) -> LimitSnapshot:
    """A plan-window snapshot `llm-monitor statusline` spooled (Claude Code's windows):
    `tool`, `window_minutes`, `used_percent`, `resets_at` (epoch seconds), `ts`, `plan`."""
    tool = model_name(obj.get("tool"), "tool")
    if not tool:
        raise BadLimit("limit record without a tool")
    when, _ = call_time(obj.get("ts"), ctx)
    return reading(
        tool,
        obj.get("window_minutes"),
        obj.get("used_percent"),
        obj.get("resets_at"),
        when,
        "limit",
        obj.get("plan"),
    )


def encode_limit(snapshot: LimitSnapshot) -> bytes:
    """The spool line of a plan-window snapshot (the writer's half of `_limit`)."""
    record: dict[str, Any] = {
        "type": "limit",
        "tool": snapshot.tool,
        "window_minutes": snapshot.window_minutes,
        "used_percent": snapshot.used_percent,
        "resets_at": int(snapshot.resets_at.timestamp()),
        "ts": snapshot.observed_at.isoformat(),
    }
    if snapshot.plan:
        record["plan"] = snapshot.plan
    return _ENCODER.encode(record) + b"\n"


FORMAT = Format(name="spool", kind="lines", parse=parse)
