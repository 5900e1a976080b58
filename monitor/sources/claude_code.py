"""Claude Code transcripts: `~/.claude/projects/<project-dir>/<session>.jsonl` (or under
each dir of `$CLAUDE_CONFIG_DIR`, or `$XDG_CONFIG_HOME/claude`).

Claude Code appends one JSON line per transcript entry; assistant entries carry the
API response's `message.usage`. Subagents (the Task tool) write the same shape to
`<session>/subagents/agent-<id>.jsonl` (older versions: `agent-<id>.jsonl` beside the
session), every line with `isSidechain: true` and an `agentId`.

Rules (ccusage's data loader is the reference reader):
- one event per line with `message.usage`; key `cc:<message.id>:<requestId>`, so the
  same API call seen in two files (a resumed session's file repeats its history)
  counts once;
- Claude Code writes one message several times while it streams (same ids, growing
  usage): within one parse call only the largest copy is kept; the ledger keeps the
  largest across calls and files by key;
- model `<synthetic>` marks entries Claude Code made up itself (API errors, interrupts):
  no call was billed, so they are skipped;
- Anthropic reports cache reads and writes apart from `input_tokens`; our
  `input_tokens` includes them (UsageEvent counts all prompt tokens, as OpenAI does);
- old versions wrote their own `costUSD` on the line: kept as `reported_cost`.
- bad values make the line a bad record (issue 9), never a call of 0 tokens: a count
  that is negative, fractional, a bool, over 10**15 or a non-numeric string (a
  numeric string such as "12" is read: the lenient path always took it), a `costUSD`
  that is no cost, a `message.model` that is no string, a `timestamp` present but
  unreadable (no longer dated by the file's mtime) or out of range.

Speed matters (a backfill reads hundreds of MB): lines without `"usage"` are skipped by
a byte search before any decoding, and msgspec decodes only the fields declared below.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

import msgspec

from monitor.events import UsageEvent
from monitor.sources.base import (
    RECORD_ERRORS,
    Format,
    ParseContext,
    ParseError,
    ParseResult,
    State,
    line_key,
    origin,
    rejected,
)
from monitor.sources.common import (
    MAX_COUNT,
    call_time,
    cost,
    count,
    model_name,
    provider_and_model,
)
from monitor.sources.locations import claude_code_paths as default_paths

_NEEDLE = b'"usage"'
_SYNTHETIC = "<synthetic>"


# A count the fast path takes as is; any other value (a float, a string, a negative or
# huge number) fails the strict decode and is judged by `count` on the lenient path.
_Count = Annotated[int, msgspec.Meta(ge=0, le=MAX_COUNT)]


class _CacheCreation(msgspec.Struct):
    ephemeral_1h_input_tokens: _Count = 0


class _Usage(msgspec.Struct):
    input_tokens: _Count = 0
    output_tokens: _Count = 0
    cache_creation_input_tokens: _Count = 0
    cache_read_input_tokens: _Count = 0
    cache_creation: _CacheCreation | None = None


class _Message(msgspec.Struct):
    id: str | None = None
    model: Any = None
    """Any: a model that is no string is a bad record, judged by `model_name`."""
    usage: _Usage | None = None


class _Line(msgspec.Struct):
    """Only the fields we read: msgspec skips the rest (content, tool results) unbuilt.

    The types are strict so the fast path needs no checks; a line that breaks them
    (a null count, a number as a string) takes `_loose_line` instead.
    """

    message: _Message | None = None
    requestId: str | None = None
    timestamp: Any = None
    """Any: `call_time` judges it (a number or garbage must not pass for a missing time)."""
    sessionId: str | None = None
    cwd: str | None = None
    isSidechain: bool | None = None
    agentId: str | None = None
    costUSD: Any = None


_DECODER = msgspec.json.Decoder(_Line)
_LOOSE = msgspec.json.Decoder()


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _agent_from_path(path: str) -> str | None:
    """`…/agent-<id>.jsonl` → `<id>`: subagent transcripts before lines carried `agentId`."""
    name = path.rsplit("/", 1)[-1]
    if name.startswith("agent-") and name.endswith(".jsonl"):
        return name[6:-6] or None
    return None


def _loose_line(raw: memoryview) -> _Line | None:
    """A line whose fields have unexpected types: rebuild the struct by hand, leniently.

    Returns None when the line holds no `message.usage` object (the byte pre-filter also
    matches e.g. a user line's `toolUseResult.usage`: the subagent's, counted in its own
    file).
    """
    obj = _LOOSE.decode(raw)
    if not isinstance(obj, dict):
        return None
    message = obj.get("message")
    if not isinstance(message, dict):
        return None
    usage = message.get("usage")
    if not isinstance(usage, dict):
        return None
    creation = usage.get("cache_creation")
    return _Line(
        message=_Message(
            id=_str(message.get("id")),
            model=message.get("model"),
            usage=_Usage(
                input_tokens=_count(usage, "input_tokens"),
                output_tokens=_count(usage, "output_tokens"),
                cache_creation_input_tokens=_count(usage, "cache_creation_input_tokens"),
                cache_read_input_tokens=_count(usage, "cache_read_input_tokens"),
                cache_creation=_CacheCreation(_count(creation, "ephemeral_1h_input_tokens"))
                if isinstance(creation, dict)
                else None,
            ),
        ),
        requestId=_str(obj.get("requestId")),
        timestamp=obj.get("timestamp"),
        sessionId=_str(obj.get("sessionId")),
        cwd=_str(obj.get("cwd")),
        isSidechain=obj.get("isSidechain") is True,
        agentId=_str(obj.get("agentId")),
        costUSD=obj.get("costUSD"),
    )


def _count(usage: dict[str, Any], name: str) -> int:
    """A count on the lenient path: null is 0, "12" is 12, garbage raises BadValue."""
    return count(usage.get(name), name, strings=True)


def parse(ctx: ParseContext, state: State, data: bytes) -> ParseResult:
    """Events of the usage lines in `data`; stateless (ids, not position, identify calls)."""
    errors: list[ParseError] = []
    kept: list[_Copy] = []
    index_of: dict[str, int] = {}
    view = memoryview(data)
    find, rfind = data.find, data.rfind
    base = ctx.base_offset
    pos = 0
    while True:
        hit = find(_NEEDLE, pos)
        if hit < 0:
            break
        start = rfind(b"\n", 0, hit) + 1
        end = find(b"\n", hit)
        if end < 0:
            end = len(data)
        pos = end + 1
        raw = view[start:end]
        offset = base + start
        try:
            try:
                rec: _Line | None = _DECODER.decode(raw)
            except msgspec.ValidationError:
                rec = _loose_line(raw)
        except msgspec.DecodeError as exc:
            errors.append(ParseError(offset, f"invalid JSON: {exc}"))
            continue
        except RECORD_ERRORS as exc:  # e.g. a count of -5 or 1e400
            errors.append(rejected(offset, exc))
            continue
        if rec is None or (message := rec.message) is None or (usage := message.usage) is None:
            continue
        model = message.model
        if model == _SYNTHETIC:
            continue
        input_tokens = (
            usage.input_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens
        )
        try:
            if type(model) is not str or not model:
                model = model_name(model, "message.model")
                if model is None:
                    errors.append(ParseError(offset, "usage line without message.model"))
                    continue
            ts, flags = call_time(rec.timestamp, ctx)
            reported = None if rec.costUSD is None else cost(rec.costUSD, "costUSD")
            if input_tokens > MAX_COUNT:
                count(input_tokens, "input_tokens with cache reads and writes")
        except RECORD_ERRORS as exc:
            errors.append(rejected(offset, exc))
            continue
        msg_id, req_id = message.id, rec.requestId
        if not msg_id:
            key = line_key(ctx, offset)
        elif not req_id:
            key = f"cc:{msg_id}"
        else:
            key = f"cc:{msg_id}:{req_id}"
        # Claude Code repeats a message while it streams (same ids, growing usage): the copy
        # with the most usage is kept, the first among equals. Every copy is checked above;
        # only the kept ones become events (a third of a transcript's usage lines are not).
        copy = (input_tokens + usage.output_tokens, key, offset, rec, model, ts, flags, reported)
        seen = index_of.get(key)
        if seen is None:
            index_of[key] = len(kept)
            kept.append(copy)
        elif copy[0] > kept[seen][0]:
            kept[seen] = copy
    path_agent = _agent_from_path(ctx.path)
    events = [_event(ctx, path_agent, copy) for copy in kept]
    return ParseResult(state=state, events=events, errors=errors)


_Copy = tuple[int, str, int, _Line, str, datetime, int, Decimal | None]
"""A usage line read and checked: (tokens, key, offset, line, model, time, flags, cost)."""


def _event(ctx: ParseContext, path_agent: str | None, copy: _Copy) -> UsageEvent:
    """The event of a kept copy."""
    _, key, offset, rec, model, ts, flags, reported = copy
    message = rec.message
    assert message is not None and message.usage is not None
    usage = message.usage
    provider = "anthropic"
    if "/" in model:  # a gateway's "anthropic/claude-…": the vendor once, not twice
        provider, model = provider_and_model(provider, model)
    tags: dict[str, str] = {}
    if rec.cwd:
        tags["project"] = rec.cwd
    if rec.sessionId:
        tags["session"] = rec.sessionId
    if rec.isSidechain:
        tags["sidechain"] = "true"
    agent = rec.agentId or path_agent
    if agent:
        tags["agent"] = agent
    cache_write = usage.cache_creation_input_tokens
    cache_read = usage.cache_read_input_tokens
    creation = usage.cache_creation
    # Positionally, as `common.record_event` does (it guards UsageEvent's field order):
    # three times faster than by keyword, for every call of a backfill.
    return UsageEvent(
        key,
        ts,
        ctx.source,
        provider,
        model,
        None,
        usage.input_tokens + cache_write + cache_read,
        usage.output_tokens,
        cache_read,
        cache_write,
        0 if creation is None else creation.ephemeral_1h_input_tokens,
        0,
        1,
        None,
        "unpriced",
        reported,
        None,
        tags,
        origin(ctx, offset),
        flags,
    )


FORMAT = Format(name="claude-code", kind="lines", parse=parse, default_paths=default_paths)
