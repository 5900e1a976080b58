"""Gemini CLI chat recordings: `~/.gemini/tmp/<project>/chats/session-*.jsonl` (under
`$GEMINI_CLI_HOME/.gemini` when set); a subagent's in `chats/<parent session>/<id>.jsonl`.

Gemini CLI's `ChatRecordingService` appends one JSON line per record:
- first the session's metadata, `{"sessionId", "projectHash", "startTime", "kind", …}`;
- then each message, `{"id", "timestamp", "type", "content", …}`; a `"type": "gemini"`
  message carries its `model` and the response's `tokens` — `input`, `output`, `cached`,
  `thoughts`, `tool`, `total`: Google's usageMetadata under other names — or `null`
  while its usage is not known yet;
- a message again, whole, each time it changes (its tokens arrive, tool calls are
  added): the later line with the same `id` replaces the earlier;
- `{"$set": …}` (metadata; at times the whole message list again) and `{"$rewindTo":
  id}` carry no new usage and are skipped undecoded (a rewound answer was still billed).

Rules (ccusage's Gemini loader is the reference reader):
- one event per gemini message with tokens, key `gemini:<sessionId>:<id>`: every copy
  of a message is one call — within one parse call only the largest copy is returned,
  across calls and files the ledger keeps the largest;
- tokens (`google_counts`): `input` (promptTokenCount) already includes `cached`; `tool`
  (toolUsePromptTokenCount) is prompt too; `thoughts` are billed as output but Google
  counts them apart from `output` (candidates). So input = input + tool, output =
  output + thoughts, cache read = cached, reasoning = thoughts;
- provider google; the model is the message's, else the last one the file named;
- state (saved with the cursor): the session id (first line) and the last model, so a
  file read in pieces gives the events of the file read whole;
- a message with tokens but no `id` (its key) or no model, a count that is no count,
  tokens that are no object, a model that is no string, or a timestamp present but
  unreadable or out of range makes its line a bad record; the lines around it count.

Before JSONL, Gemini CLI rewrote one JSON document per session, `session-*.json`:
`{"sessionId", …, "messages": […]}` with the same messages. Resuming one migrates it
into a `.jsonl` with the same ids, so both give the same keys. `JSON_FORMAT` reads those
documents; it needs a registry name of its own (a format has one kind).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import partial
from pathlib import PurePath
from typing import Any, Final

import msgspec

from monitor.events import UsageEvent
from monitor.sources.base import BadValue, Format, ParseContext, ParseResult, State, collect
from monitor.sources.common import (
    TokenCounts,
    call_time,
    count,
    json_object,
    model_name,
    parse_lines,
    record_event,
)
from monitor.sources.docs import ancestor, document_records, load_document, member, text
from monitor.sources.locations import gemini_cli_json_paths as json_paths
from monitor.sources.locations import gemini_cli_paths as default_paths

TOKEN_NAMES: Final = ("input", "output", "cached", "thoughts", "tool", "total")
"""Gemini CLI's names for usageMetadata's prompt, candidates, cached, thoughts, tool-use
prompt and total counts (the order `google_counts` takes them in)."""

_DECODE = msgspec.json.Decoder().decode


def google_counts(
    usage: Mapping[str, Any], names: tuple[str, ...], *, thoughts_apart: bool, where: str = ""
) -> TokenCounts | None:
    """UsageEvent's counts of a Google-style usageMetadata (Gemini CLI's `tokens`, Qwen
    Code's `usageMetadata`), whose counts `names` names in the order prompt, candidates,
    cached, thoughts, tool-use prompt, total; None when it counts no tokens.

    The prompt includes the cached tokens, and the tool-use prompt is input too. Google
    counts thoughts apart from the candidates (total = prompt + tool + candidates +
    thoughts), OpenAI-compatible back-ends (Qwen Code's converter) inside them (total =
    prompt + completion): the total decides where it tells the two apart, else
    `thoughts_apart` does. Output always includes the thoughts, as UsageEvent's does.
    """
    prompt, candidates, cached, thoughts, tool, total = (
        count(usage.get(name), where + name) for name in names
    )
    prompt = count(prompt + tool, f"{where}{names[0]} + {names[4]}")
    if thoughts and total == prompt + candidates + thoughts:
        apart = True
    elif thoughts and total == prompt + candidates:
        apart = False
    else:  # no total to go by; a part is never more than its whole either
        apart = thoughts_apart or thoughts > candidates
    if apart:
        candidates = count(candidates + thoughts, f"{where}{names[1]} + {names[3]}")
    if not (prompt or candidates or cached):
        return None
    return TokenCounts(
        input_tokens=prompt,
        output_tokens=candidates,
        cache_read_tokens=cached,
        cache_write_tokens=0,
        cache_write_1h_tokens=0,
        reasoning_tokens=thoughts,
    )


def google_usage(
    record: Mapping[str, Any], name: str, names: tuple[str, ...], *, thoughts_apart: bool
) -> TokenCounts | None:
    """`google_counts` of the usageMetadata `record[name]`; None when it counts no tokens
    or is null (Gemini CLI: its usage is not known yet, a later copy will carry it). One
    that is no object raises BadValue."""
    usage = json_object(record.get(name), name)
    if usage is None:
        return None
    return google_counts(usage, names, thoughts_apart=thoughts_apart, where=f"{name}.")


def largest_copies(events: Iterable[UsageEvent]) -> list[UsageEvent]:
    """One event per key: the copy with the most tokens (the first among equals), in the
    order the keys first appear — what the ledger keeps of a record written again."""
    kept: dict[str, UsageEvent] = {}
    for event in events:
        have = kept.get(event.key)
        if have is None or event.total_tokens > have.total_tokens:
            kept[event.key] = event
    return list(kept.values())


def _project(path: str) -> str | None:
    """The directory under `tmp/` holding `chats/`: the project's hash (or, in newer
    versions, its short name)."""
    for level in (1, 2):
        if ancestor(path, level) == "chats":
            return ancestor(path, level + 1) or None
    return None


def _message_event(
    ctx: ParseContext, state: State, offset: int, message: dict[str, Any]
) -> UsageEvent | None:
    """The event of a gemini message with tokens; None for any other message."""
    if message.get("type") != "gemini":
        return None
    own = model_name(message.get("model"))
    if own:
        state["model"] = own
    counts = google_usage(message, "tokens", TOKEN_NAMES, thoughts_apart=True)
    if counts is None:
        return None
    msg_id = text(message.get("id"))
    if not msg_id:
        raise BadValue("gemini message with tokens but no id (its key is built from it)")
    model = own or state.get("model")
    if not model:
        raise BadValue("gemini message with tokens but no model")
    session = state.get("session") or PurePath(ctx.path).stem
    tags = {"session": session}
    project = _project(ctx.path)
    if project:
        tags["project"] = project
    return record_event(
        ctx,
        offset,
        call_time(message.get("timestamp"), ctx),
        model,
        key=f"gemini:{session}:{msg_id}",
        provider="google",
        **counts,
        tags=tags,
    )


def _line_event(ctx: ParseContext, state: State, offset: int, record: Any) -> UsageEvent | None:
    if not isinstance(record, dict):
        return None
    if "type" not in record and isinstance(record.get("sessionId"), str):
        state["session"] = record["sessionId"].strip() or state.get("session")
        return None  # the session's metadata line
    return _message_event(ctx, state, offset, record)


def _decode(line: bytes) -> Any:
    """A line that may matter, decoded; None for the others, left undecoded: `$set` lines
    can repeat the whole message list, and most lines carry neither tokens nor the id."""
    if line.startswith(b'{"$') or (b'"tokens"' not in line and b'"sessionId"' not in line):
        return None
    return _DECODE(line)


def parse(ctx: ParseContext, state: State, data: bytes) -> ParseResult:
    """Events of the gemini messages with tokens in `data` (one per message id)."""
    result = parse_lines(ctx, state, data, _decode, _line_event)
    result.events = largest_copies(result.events)
    return result


def parse_json(ctx: ParseContext, state: State, data: bytes) -> ParseResult:
    """Events of a pre-JSONL session document (errors carry the message's index)."""
    doc = load_document(data)
    messages = member(doc, "messages", list, "expected a JSON object with a messages list")
    session = text(doc.get("sessionId")) if isinstance(doc, dict) else None
    scratch: State = {"session": session} if session else {}
    records = document_records(messages, "message")
    result = collect(state, records, partial(_message_event, ctx, scratch))
    result.events = largest_copies(result.events)
    return result


FORMAT = Format(name="gemini-cli", kind="lines", parse=parse, default_paths=default_paths)
JSON_FORMAT = Format(
    name="gemini-cli-json", kind="document", parse=parse_json, default_paths=json_paths
)
