"""GitHub Copilot CLI sessions: `~/.copilot/session-state/<sessionId>/events.jsonl`
(`$COPILOT_HOME` moves `~/.copilot`).

Copilot CLI appends one JSON line per session event, `{"type", "data", "id",
"timestamp", "parentId"}`. Its per-call `assistant.usage` events are ephemeral (never
written); what it writes is the bill of each process: on a graceful exit, a
`session.shutdown` event whose `data.modelMetrics` maps each model to
`{"requests": {"count", "cost"}, "usage": {"inputTokens", "outputTokens",
"cacheReadTokens", "cacheWriteTokens", "reasoningTokens"}}`. A resumed session appends
another `session.shutdown` for the next process, with that process's usage only.

Rules (ccusage's Copilot loader is the reference reader):
- one event per model of each `session.shutdown`, key
  `copilot:<session>:<event id>:<model>`; `calls` = `requests.count` (at least 1). The
  usage appears when the process exits, dated then: a long session lands at its end;
- `inputTokens` already includes the cache reads and writes, as our input does;
  `outputTokens` includes the reasoning of Claude and GPT models, but not of Gemini
  models (Google counts thoughts apart): there output = outputTokens + reasoningTokens
  (so too wherever reasoningTokens exceeds outputTokens);
- provider: what the model implies (`claude-sonnet-4.5` → anthropic, `gpt-5-mini` →
  openai, `gemini-…` → google), so genai-prices prices the tokens at the vendors' rates
  (Copilot itself bills premium requests; `requests.cost` counts them and is not read);
- the session is `session.start`'s `data.sessionId` (else the directory's name), the
  project its `data.context.cwd`; both kept in the state saved with the cursor;
- a count that is no count, a model name that is empty, or a timestamp present but
  unreadable or out of range makes the whole `session.shutdown` line bad (its models
  share one bill); the lines around it count. Text mentioning `session.shutdown`
  (a message, a tool's command) is never taken for one: the event's `type` decides.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import msgspec

from monitor.events import UsageEvent
from monitor.sources.base import BadValue, Format, ParseContext, ParseResult, State, line_key
from monitor.sources.common import (
    call_time,
    count,
    infer_provider,
    json_object,
    model_name,
    parse_lines,
    record_event,
    shown,
)
from monitor.sources.docs import ancestor, text
from monitor.sources.locations import copilot_cli_paths as default_paths

START = "session.start"
SHUTDOWN = "session.shutdown"
_USAGE = ("inputTokens", "outputTokens", "cacheReadTokens", "cacheWriteTokens", "reasoningTokens")

_DECODE = msgspec.json.Decoder().decode


def _decode(line: bytes) -> Any:
    """A line that may be a session's start or shutdown, decoded; None, undecoded, for
    the many others (messages, tool runs, deltas)."""
    return _DECODE(line) if b'"session.s' in line else None


def _object(record: dict[str, Any], name: str, where: str = "") -> dict[str, Any]:
    """`record[name]`: an object, or {} when missing; anything else is a bad value."""
    return json_object(record.get(name), where + name) or {}


def _model_event(
    ctx: ParseContext, offset: int, when: Any, key: str, tags: dict[str, str], model: Any, row: Any
) -> UsageEvent | None:
    """The event of one model's row of a shutdown's modelMetrics; None if it used nothing."""
    name = model_name(model, "modelMetrics key")
    if name is None:
        raise BadValue("modelMetrics: a model without a name")
    where = f"modelMetrics.{name}."
    if not isinstance(row, dict):
        raise BadValue(f"{where[:-1]}: {shown(row)} is not an object")
    usage = _object(row, "usage", where)
    fresh, output, read, write, reasoning = (
        count(usage.get(field), f"{where}usage.{field}") for field in _USAGE
    )
    calls = count(_object(row, "requests", where).get("count"), f"{where}requests.count")
    if not (fresh or output or read or write or reasoning or calls):
        return None
    if infer_provider(name) == "google" or reasoning > output:
        output = count(output + reasoning, f"{where}usage.outputTokens + reasoningTokens")
    return record_event(  # the provider is what the model implies (`record_event`'s default)
        ctx,
        offset,
        when,
        name,
        key=f"{key}:{name}",
        input_tokens=fresh,
        output_tokens=output,
        cache_read_tokens=read,
        cache_write_tokens=write,
        reasoning_tokens=reasoning,
        calls=calls or 1,
        tags=dict(tags),
    )


def _line_events(
    ctx: ParseContext, state: State, offset: int, record: Any
) -> list[UsageEvent] | None:
    """The events of a `session.shutdown` line, one per model; notes a `session.start`."""
    if not isinstance(record, dict):
        return None
    kind = record.get("type")
    if kind == START:
        data = _object(record, "data")
        state["session"] = text(data.get("sessionId")) or state.get("session")
        cwd = data.get("context")
        state["cwd"] = (text(cwd.get("cwd")) if isinstance(cwd, dict) else None) or state.get("cwd")
        return None
    if kind != SHUTDOWN:
        return None
    metrics = _object(_object(record, "data"), "modelMetrics", "data.")
    session = state.get("session") or ancestor(ctx.path, 1)
    event_id = text(record.get("id"))
    key = f"copilot:{session}:{event_id}" if event_id else line_key(ctx, offset)
    tags = {"session": session}
    if state.get("cwd"):
        tags["project"] = state["cwd"]
    when = call_time(record.get("timestamp"), ctx)
    build = partial(_model_event, ctx, offset, when, key, tags)
    return [event for model, row in metrics.items() if (event := build(model, row)) is not None]


def parse(ctx: ParseContext, state: State, data: bytes) -> ParseResult:
    """Events of the `session.shutdown` lines in `data`; `state` carries session and cwd."""
    return parse_lines(ctx, state, data, _decode, _line_events)


FORMAT = Format(name="copilot-cli", kind="lines", parse=parse, default_paths=default_paths)
