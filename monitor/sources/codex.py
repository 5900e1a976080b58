"""Codex CLI rollouts: `~/.codex/sessions/YYYY/MM/DD/rollout-*.jsonl` (`$CODEX_HOME`).

Each line is `{"timestamp", "type", "payload"}`. Three types matter:
- `session_meta` (first line): `payload.id` is the session, `payload.cwd` the project;
- `turn_context` (each turn): `payload.model` is the model of the turns that follow;
- `event_msg` with `payload.type == "token_count"`: `payload.info.total_token_usage`
  is the session's RUNNING total (`input_tokens`, `cached_input_tokens`,
  `output_tokens`, `reasoning_output_tokens`), `info` is null before the first answer.

Codex repeats a token_count line without new usage (e.g. after a rate-limit update), so
an event is the growth of the running total since the previous token_count line of the
file, and lines where it did not grow are skipped. A total that shrinks (a session
reset, or a new session in the same file) is counted as growth from zero. Lines
carrying only `last_token_usage` (no running total) count that as the delta.

Codex's `input_tokens` already include the cached ones and `output_tokens` the
reasoning ones, as UsageEvent's do: they map one to one onto our fields.

Model: the event's own `info.model`/`payload.model` if any, else the latest
`turn_context` (or `session_meta`) model, else "gpt-5" — the model early Codex builds
ran without writing it down (as ccusage assumes) — with the tag `model_fallback=true`.

State (JSON, saved with the cursor so a restart resumes exactly): `model`, `totals`
(the last running total as [input, cached, output, reasoning]), `session`, `cwd`.

Bad values (issue 9) make their line a bad record. Codex writes counts as JSON numbers:
one that is a string, bool, negative, fractional or over 10**15 leaves the running
total where it was (the next good line's growth covers the turn). A model that is no
string is bad too — on a turn_context line it also forgets the model, so the turns
after it take the fallback, flagged. A token_count line whose time (unreadable, out of
range) or own model is bad still moves the running total: its turn is lost, never
counted twice.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import msgspec

from monitor.events import UsageEvent
from monitor.limits import BadLimit, codex_limits
from monitor.sources.base import (
    RECORD_ERRORS,
    BadValue,
    Format,
    ParseContext,
    ParseResult,
    State,
    collect,
    rejected,
)
from monitor.sources.common import call_time, count, json_lines, model_name, record_event
from monitor.sources.locations import codex_paths as default_paths

FALLBACK_MODEL = "gpt-5"
_COUNTERS = ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_output_tokens")


class _Payload(msgspec.Struct):
    type: Any = None
    id: Any = None
    cwd: Any = None
    model: Any = None
    info: Any = None
    rate_limits: Any = None


class _Entry(msgspec.Struct):
    """The rollout envelope; payload fields not declared (message content…) stay unbuilt."""

    timestamp: Any = None
    type: Any = None
    payload: _Payload | None = None


_DECODER = msgspec.json.Decoder(_Entry)


def _entry(line: bytes) -> _Entry | None:
    """The rollout envelope; None for JSON of another shape (nothing we count)."""
    try:
        return _DECODER.decode(line)
    except msgspec.ValidationError:
        return None


def _counters(usage: Any) -> list[int] | None:
    if not isinstance(usage, dict):
        return None
    return [count(usage.get(name), name) for name in _COUNTERS]


def _text(value: Any) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None


def _usage_delta(state: State, info: dict[str, Any]) -> list[int] | None:
    """The token growth a token_count `info` reports, updating the running total in state."""
    total = _counters(info.get("total_token_usage"))
    if total is None:
        return _counters(info.get("last_token_usage"))
    previous = state.get("totals")
    state["totals"] = total
    if not isinstance(previous, list) or len(previous) != len(total):
        return total
    delta = [now - before for now, before in zip(total, previous, strict=True)]
    if any(d < 0 for d in delta):
        return total
    return delta


def parse(ctx: ParseContext, state: State, data: bytes) -> ParseResult:
    """Events of the token_count lines in `data`; `state` carries model and running total."""
    state = dict(state)
    lines = json_lines(data, ctx.base_offset, _entry)
    side = ParseResult(state=state)
    result = collect(state, lines, partial(_line_event, ctx, state, side))
    result.limits = side.limits
    if side.errors:
        result.errors = sorted([*result.errors, *side.errors], key=lambda e: e.offset)
    return result


def _line_event(
    ctx: ParseContext, state: State, side: ParseResult, offset: int, entry: _Entry | None
) -> UsageEvent | None:
    """The event of one rollout line, if it is a token_count that grew; moves `state`."""
    if entry is None or (payload := entry.payload) is None:
        return None
    kind = entry.type
    if kind == "session_meta":
        session = _text(payload.id)
        if session and state.get("session") not in (None, session):
            state["totals"] = None
        if session:
            state["session"] = session
    if kind in ("session_meta", "turn_context"):
        state["cwd"] = _text(payload.cwd) or state.get("cwd")
        _set_model(state, payload.model)
        return None
    if kind != "event_msg" or payload.type != "token_count":
        return None
    if payload.rate_limits is not None:
        _read_limits(ctx, entry.timestamp, payload.rate_limits, offset, side)
    info = payload.info
    if not isinstance(info, dict):
        return None  # `info: null`: no answer yet in this session
    delta = _usage_delta(state, info)  # a bad count raises before the state moves
    if delta is None or not any(delta):
        return None
    when = call_time(entry.timestamp, ctx)
    model = (
        model_name(info.get("model"), "info.model")
        or model_name(payload.model, "payload.model")
        or state.get("model")
    )
    tags: dict[str, str] = {}
    if state.get("session"):
        tags["session"] = state["session"]
    if state.get("cwd"):
        tags["project"] = state["cwd"]
    if not model:
        model = FALLBACK_MODEL
        tags["model_fallback"] = "true"
    input_tokens, cached, output, reasoning = delta
    return record_event(
        ctx,
        offset,
        when,
        model,
        provider="openai",
        input_tokens=input_tokens,
        output_tokens=output,
        cache_read_tokens=cached,
        reasoning_tokens=reasoning,
        tags=tags,
    )


def _read_limits(
    ctx: ParseContext, timestamp: Any, raw: Any, offset: int, side: ParseResult
) -> None:
    """The plan windows a token_count line reports (also when its `info` is null). A bad
    snapshot is a bad record of its own: the line's usage still counts."""
    try:
        if not isinstance(raw, dict):
            raise BadLimit(f"rate_limits: {raw!r} is not an object")
        when, _ = call_time(timestamp, ctx)
        side.limits.extend(codex_limits(raw, when))
    except RECORD_ERRORS as exc:
        side.errors.append(rejected(offset, exc))


def _set_model(state: State, value: Any) -> None:
    """Take the model a session_meta/turn_context line names. A bad one (BadValue) makes
    the line a bad record and leaves the turns after it to the fallback model (flagged),
    not to a stale one."""
    try:
        model = model_name(value)
    except BadValue:
        state.pop("model", None)
        raise
    state["model"] = model or state.get("model")


FORMAT = Format(name="codex", kind="lines", parse=parse, default_paths=default_paths)
