"""pi (pi-coding-agent, badlogic/pi-mono) session transcripts, and the reader of pi's
session entries that OpenClaw shares: OpenClaw runs pi's agent and SessionManager, so
its transcripts are the same entries (openclaw.py adds only its paths and tags).

Files: `~/.pi/agent/sessions/--<cwd>--/<timestamp>_<uuid>.jsonl` (`$PI_CODING_AGENT_DIR`
moves `~/.pi/agent`; ccusage's `$PI_AGENT_DIR` names sessions dirs), and oh-my-pi's
`~/.omp/agent/sessions` (`$OMP_CODING_AGENT_DIR`), a pi fork writing the same entries.

pi appends one JSON entry per line (session-manager.ts): a header `{"type": "session",
"version": 3, "id": <session uuid>, "timestamp", "cwd"}`, then entries with `type`,
`id` (8 hex), `parentId` and `timestamp` (ISO). A reply is a `"message"` entry whose
`message` is pi-ai's AssistantMessage: `role: "assistant"`, `provider`, `model`,
`usage: {input, output, cacheRead, cacheWrite, totalTokens, cost: {…, total}}`,
`stopReason` and `timestamp` (epoch ms). `model_change` entries (`provider`,
`modelId`) and OpenClaw's `custom` entries of customType `model-snapshot`
(`data.provider`, `data.modelId`) name the model of replies that carry none.

Rules (ccusage's pi and openclaw parsers are the reference readers):
- one event per assistant message with usage; all-zero usage (an aborted or failed
  reply, OpenClaw's `delivery-mirror` echoes) is no call and is skipped;
- pi's `input` excludes cached tokens (its providers subtract them, Anthropic reports
  them apart): our `input_tokens` is `input + cacheRead + cacheWrite`; `output`
  already includes reasoning, which pi does not report apart (reasoning 0). A usage
  with only `totalTokens` counts it as input (the split is unknown);
- `usage.cost.total` is pi's own price, the reported cost. pi writes $0 for models it
  has no price for (custom and local models, subscription providers), so $0 with tokens
  is no reported cost: the call is priced. A `cost` that is no object is no cost either
  (ccusage keeps such a record too);
- key: pi copies entries verbatim into other files (`/fork`, branch extraction, a fork
  into another project) and gives a v1 session fresh entry ids when it migrates it;
  the entry's and the message's timestamps, provider, model and counts survive all of
  that, so the key is `<format>:<timestamp>:<digest of those>` and a copy counts once;
- time: the entry's `timestamp` (when pi appended the reply), else the message's;
- model: the message's own (`modelId`, else `model`), else the latest model_change or
  model-snapshot's, else "unknown" with tag `model_fallback=true`. Provider as pi
  spells it ("openai-codex", "amazon-bedrock", "github-copilot"…), lower-cased;
  pricing maps it to genai-prices' providers itself (openai, aws, …) or infers one
  from the model;
- tags: `session` (the header's id, else from the file name), `project` (the header's
  cwd), and what the tool's paths say;
- state: the header's session and cwd and the current model, so reading a file in
  chunks gives what reading it whole does.

Bad values (issue 9) make their line a bad record: a count that is no JSON number
(a string, bool, negative, fractional, over 10**15), a `usage` that is no object, a
`cost.total` that is no cost, a model that is no string (on a model_change it also
forgets the model: replies after it take the fallback, flagged), or a timestamp present
but unreadable or out of range.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any, Final

import msgspec

from monitor.events import UsageEvent
from monitor.sources.base import BadValue, Format, ParseContext, ParseResult, State
from monitor.sources.common import (
    call_time,
    cost,
    count,
    fallback_model,
    json_object,
    model_name,
    parse_lines,
    record_event,
    struct_lines,
)
from monitor.sources.docs import text
from monitor.sources.locations import pi_paths as default_paths

FALLBACK_MODEL: Final = "unknown"
_SNAPSHOT: Final = "model-snapshot"
_COUNTS: Final = ("input", "output", "cacheRead", "cacheWrite")


class _Model(msgspec.Struct):
    """A model an entry names: a reply's own, a model_change's, a model-snapshot's `data`."""

    provider: Any = None
    modelId: Any = None
    model: Any = None


class _Message(_Model):
    role: Any = None
    usage: Any = None
    timestamp: Any = None


class _Entry(_Model):
    """The fields read of any entry; the rest (content, tool results) stays unbuilt."""

    type: Any = None
    id: Any = None
    timestamp: Any = None
    cwd: Any = None
    message: _Message | None = None
    customType: Any = None
    data: _Model | None = None


_entry = struct_lines(_Entry)
"""The entry of a line; None for JSON of another shape (nothing we count)."""


@dataclass(frozen=True, slots=True)
class Family:
    """A tool writing pi's session entries: its key prefix and what its paths say."""

    name: str
    path_tags: Callable[[str], dict[str, str]]
    """Tags a file's path gives (the session from its name, OpenClaw's agent)."""


def parse_sessions(family: Family, ctx: ParseContext, state: State, data: bytes) -> ParseResult:
    """Events of the assistant replies in `data`; `state` carries header and model."""
    build = partial(_entry_event, family, family.path_tags(ctx.path))
    return parse_lines(ctx, state, data, _entry, build)


def _entry_event(
    family: Family,
    path_tags: dict[str, str],
    ctx: ParseContext,
    state: State,
    offset: int,
    entry: _Entry | None,
) -> UsageEvent | None:
    """The event of one entry, if it is a reply with usage; moves `state` on the others."""
    if entry is None:
        return None
    kind = entry.type
    if kind == "session":
        for key, value in (("session", entry.id), ("project", entry.cwd)):
            if text(value):
                state[key] = text(value)
        return None
    if kind == "model_change":
        _set_model(state, entry.modelId if entry.modelId is not None else entry.model, entry)
        return None
    if kind == "custom" and entry.customType == _SNAPSHOT:
        found = entry.data or _Model()
        _set_model(state, found.modelId if found.modelId is not None else found.model, found)
        return None
    message = entry.message
    if kind not in (None, "message") or message is None or message.role != "assistant":
        return None
    return _reply_event(family, ctx, state, path_tags, offset, entry, message)


def _set_model(state: State, value: Any, source: _Model) -> None:
    """Take the model an entry names. A bad one (BadValue) makes the entry a bad record
    and leaves the replies after it to the fallback model (flagged), not a stale one."""
    try:
        model = model_name(value, "modelId")
    except BadValue:
        state.pop("model", None)
        state.pop("provider", None)
        raise
    if model:
        state["model"] = model
        state["provider"] = text(source.provider)


def _reply_event(
    family: Family,
    ctx: ParseContext,
    state: State,
    path_tags: dict[str, str],
    offset: int,
    entry: _Entry,
    message: _Message,
) -> UsageEvent | None:
    usage = json_object(message.usage, "message.usage")
    if usage is None:
        return None
    fresh, output, read, write = (count(usage.get(name), f"usage.{name}") for name in _COUNTS)
    total = count(usage.get("totalTokens"), "usage.totalTokens")
    if not (fresh or output or read or write):
        fresh = total  # only a total: its split is unknown, counted as input
    count(fresh + read + write, "usage.input with cacheRead and cacheWrite")  # our input's bound
    if not (fresh or output or read or write):
        return None
    reported = _reported_cost(usage)
    if message.modelId is not None:  # some OpenClaw versions (ccusage reads it first)
        own_model = model_name(message.modelId, "message.modelId")
    else:
        own_model = model_name(message.model, "message.model")
    stamp = entry.timestamp if entry.timestamp is not None else message.timestamp
    when = call_time(stamp, ctx)

    key = None
    if stamp is not None:
        facts = (entry.timestamp, message.timestamp, message.provider, own_model)
        digest = hashlib.blake2b(
            repr((*facts, fresh, output, read, write, total)).encode(), digest_size=8
        ).hexdigest()
        key = f"{family.name}:{stamp}:{digest}"
    tags = dict(path_tags)
    for tag in ("session", "project"):
        if state.get(tag):
            tags[tag] = state[tag]
    model = fallback_model(own_model or state.get("model"), FALLBACK_MODEL, tags)
    return record_event(
        ctx,
        offset,
        when,
        model,
        provider=text(message.provider) or state.get("provider"),
        key=key,
        input_tokens=fresh + read + write,
        output_tokens=output,
        cache_read_tokens=read,
        cache_write_tokens=write,
        reported_cost=reported,
        tags=tags,
    )


def _reported_cost(usage: dict[str, Any]) -> Decimal | None:
    """pi's own price of the reply; None when it has none ($0: pi knows no price)."""
    raw = usage.get("cost")
    if not isinstance(raw, dict):
        return None
    return cost(raw.get("total"), "usage.cost.total") or None


def _session_tags(path: str) -> dict[str, str]:
    """`<timestamp>_<uuid>.jsonl` → the session uuid (the header's id, when read, wins)."""
    stem = path.rsplit("/", 1)[-1].removesuffix(".jsonl")
    session = stem.split("_", 1)[-1]
    return {"session": session} if session else {}


PI: Final = Family("pi", _session_tags)


def parse(ctx: ParseContext, state: State, data: bytes) -> ParseResult:
    return parse_sessions(PI, ctx, state, data)


FORMAT = Format(name="pi", kind="lines", parse=parse, default_paths=default_paths)
