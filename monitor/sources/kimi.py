"""Kimi CLI (MoonshotAI/kimi-cli) and Kimi Code wire logs, one `wire.jsonl` per session
and per subagent: `~/.kimi/sessions/<md5 of the work dir>/<session>/wire.jsonl`
(`$KIMI_SHARE_DIR` moves `~/.kimi`), a subagent's in `<session>/subagents/<agent>/`;
Kimi Code's `~/.kimi-code/sessions/<workspace>/<session>/agents/<agent>/wire.jsonl`
(`$KIMI_CODE_HOME`); ccusage's `$KIMI_DATA_DIR` names roots (comma-separated).

Kimi CLI appends (wire/file.py, with Python's json) a metadata line `{"type":
"metadata", "protocol_version"}`, then `{"timestamp": <epoch seconds>, "message":
{"type", "payload"}}` per wire message. After each LLM step the soul sends a
`StatusUpdate` whose payload holds kosong's `token_usage` (`input_other`, `output`,
`input_cache_read`, `input_cache_creation`) and `message_id`, the provider's response
id; other StatusUpdates (plan mode, MCP status, /compact) carry `token_usage: null`. A
subagent's messages also reach its parent's wire wrapped in a `SubagentEvent`
(`payload.event` = the wrapped message, `agent_id`, `subagent_type`). Kimi Code writes
`{"type": "usage.record", "model", "usage": {"inputOther", "output", "inputCacheRead",
"inputCacheCreation"}, "usageScope", "time": <epoch ms>}`: a "turn" record per step, a
"session" record with the session's running total.

Rules (ccusage's kimi parser is the reference reader):
- one event per StatusUpdate with token_usage, inside SubagentEvents too (any depth);
  key `kimi:<message_id>`, so a step seen in the parent's wire and in the subagent's,
  or in a session forked from this one (`/fork` copies the wire), counts once; without
  an id the line's place is the key;
- only "turn" usage.records count: a "session" record repeats the turns' sum;
- tokens: `input_other` excludes the cache, so our input is the sum of the three
  inputs, cache reads and creations their own fields; `output` is all output (the
  reasoning in it is not reported apart); a `token_usage` with only `total` counts it
  as input (the split is unknown);
- model: Kimi CLI's wire names none. The record's own (Kimi Code; its `kimi-code/`
  namespace dropped), else the source's `model` option (the model Kimi's config
  names), else Kimi Code's default `kimi-for-coding`, tagged `model_fallback=true`.
  `kimi-for-coding` is a plan alias genai-prices cannot price: it is recorded as the
  model that served it — Kimi K2.5 until 2026-04-20T15:28:10Z, K2.6 since (ccusage's
  cutoff) — tagged `model_alias=kimi-for-coding`. Provider: the source's `provider`
  option, else what the model implies, else `moonshotai`;
- time: the line's `timestamp` (epoch seconds) or `time` (epoch ms);
- tags: `session` (the session's directory), `agent` (a subagent's id, from the path or
  the SubagentEvent), `subagent` (its type).

Kimi CLI writes with Python's json (NaN included), so Python's json reads it back. Bad
values (issue 9) make the whole line a bad record: a count that is no JSON number (a
string, bool, negative, fractional, over 10**15), a `token_usage` or `usage` that is no
object, a model that is no string, or a time unreadable or out of range.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from functools import partial
from typing import Any, Final

from monitor.events import UsageEvent
from monitor.sources.base import BadValue, Format, ParseContext, ParseResult, State, collect
from monitor.sources.common import call_time, count, model_name, record_event, shown
from monitor.sources.docs import json_records, text
from monitor.sources.locations import kimi_paths as default_paths

PROVIDER: Final = "moonshotai"
PLAN_MODEL: Final = "kimi-for-coding"
K2_6_SINCE: Final = datetime(2026, 4, 20, 15, 28, 10, 72000, tzinfo=UTC)
"""When `kimi-for-coding` moved from Kimi K2.5 to K2.6 (ccusage's cutoff, 1776698890072 ms)."""
_CLI_COUNTS: Final = ("input_other", "output", "input_cache_read", "input_cache_creation")
_CODE_COUNTS: Final = ("inputOther", "output", "inputCacheRead", "inputCacheCreation")


def _path_tags(path: str) -> dict[str, str]:
    """Session and agent from `…/sessions/<group>/<session>/[(sub)agents/<agent>/]wire.jsonl`."""
    parts = path.split("/")[:-1]
    tags: dict[str, str] = {}
    if "sessions" in parts:
        at = len(parts) - 1 - parts[::-1].index("sessions")
        if at + 2 < len(parts):
            tags["session"] = parts[at + 2]
    if len(parts) >= 2 and parts[-2] in ("subagents", "agents") and parts[-1] != "main":
        tags["agent"] = parts[-1]
    return tags


def parse(ctx: ParseContext, state: State, data: bytes) -> ParseResult:
    """Events of the usage lines in `data`; stateless (ids and places identify steps)."""
    build = partial(_line_events, ctx, _path_tags(ctx.path))
    return collect(state, json_records(data, ctx.base_offset), build)


def _line_events(
    ctx: ParseContext, path_tags: dict[str, str], offset: int, record: dict[str, Any]
) -> list[UsageEvent]:
    """The events of one wire line; all or nothing (one bad value makes the line bad)."""
    found: list[UsageEvent | None] = []
    if record.get("type") == "usage.record":
        if record.get("usageScope") == "turn":
            usage = (record.get("usage"), "usage", _CODE_COUNTS)
            own = model_name(record.get("model"))
            found.append(_event(ctx, offset, record.get("time"), usage, None, own, path_tags))
    elif isinstance(message := record.get("message"), dict):
        for payload, tags in _status_updates(message, path_tags):
            if payload.get("token_usage") is None:
                continue  # a status update of plan mode, MCP servers or the context only
            usage = (payload["token_usage"], "token_usage", _CLI_COUNTS)
            step = payload.get("message_id")
            found.append(_event(ctx, offset, record.get("timestamp"), usage, step, None, tags))
    return [event for event in found if event is not None]


def _status_updates(
    envelope: dict[str, Any], tags: dict[str, str]
) -> Iterator[tuple[dict[str, Any], dict[str, str]]]:
    """(payload, tags) of the StatusUpdate an envelope is or wraps in SubagentEvents."""
    payload = envelope.get("payload")
    if not isinstance(payload, dict):
        return
    kind = envelope.get("type")
    if kind == "StatusUpdate":
        yield payload, tags
    elif kind == "SubagentEvent" and isinstance(payload.get("event"), dict):
        inner = dict(tags)
        for tag, name in (("agent", "agent_id"), ("subagent", "subagent_type")):
            value = text(payload.get(name))
            if value:
                inner[tag] = value
        yield from _status_updates(payload["event"], inner)


def _event(
    ctx: ParseContext,
    offset: int,
    stamp: Any,
    usage: tuple[Any, str, tuple[str, ...]],
    message_id: Any,
    own_model: str | None,
    tags: dict[str, str],
) -> UsageEvent | None:
    """The event of one step's usage (`usage` = the object, its name, its count names)."""
    values, where, names = usage
    if not isinstance(values, dict):
        raise BadValue(f"{where}: {shown(values)} is not an object")
    fresh, output, read, write = (count(values.get(name), f"{where}.{name}") for name in names)
    if not (fresh or output or read or write):
        fresh = count(values.get("total"), f"{where}.total")
    input_tokens = count(fresh + read + write, f"{where} inputs together")
    if not (input_tokens or output):
        return None
    when = call_time(stamp, ctx)
    model, model_tags = _model(ctx, own_model, when[0])
    step = text(message_id)
    return record_event(
        ctx,
        offset,
        when,
        model,
        key=f"kimi:{step}" if step else None,
        provider=text(ctx.options.get("provider")),
        default_provider=PROVIDER,
        input_tokens=input_tokens,
        output_tokens=output,
        cache_read_tokens=read,
        cache_write_tokens=write,
        tags={**tags, **model_tags},
    )


def _model(ctx: ParseContext, own: str | None, ts: datetime) -> tuple[str, dict[str, str]]:
    """The model of a step and the tags saying how it was decided."""
    tags: dict[str, str] = {}
    model = own or text(ctx.options.get("model"))
    if not model:
        model, tags["model_fallback"] = PLAN_MODEL, "true"
    model = model.removeprefix("kimi-code/")
    if model == PLAN_MODEL:
        model, tags["model_alias"] = ("kimi-k2.6" if ts >= K2_6_SINCE else "kimi-k2.5"), model
    return model, tags


FORMAT = Format(name="kimi", kind="lines", parse=parse, default_paths=default_paths)
