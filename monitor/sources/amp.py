"""Amp threads: `~/.local/share/amp/threads/T-<uuid>.json`, one JSON document per thread
that Amp rewrites whole as the thread grows (`$AMP_DATA_HOME/amp`, or
`$XDG_DATA_HOME/amp` on Linux, moves the Amp dir).

A thread is `{"id": "T-…", "created", "title", "messages": […], …}`. Usage comes from
(ccusage's Amp loader is the reference reader):
- `usageLedger.events[]` when the thread has a non-empty one (older Amp): one event per
  ledger entry, `{"id", "timestamp", "model", "credits", "tokens": {"input", "output"},
  "toMessageId"}`, the cache reads and writes taken from the `usage` of the message
  `toMessageId` names;
- else each assistant message's `usage` (today's Amp): `{"model", "timestamp",
  "inputTokens", "outputTokens", "cacheCreationInputTokens", "cacheReadInputTokens",
  "totalInputTokens"}`.

Rules:
- the counts are Anthropic's: input excludes the cache reads and writes, and our input
  includes them — `totalInputTokens` when the message has it, else the sum; with only a
  total (`totalTokens`, `tokens.total`), it is counted as input (see `docs.split_tokens`);
- keys from content, stable across rewrites: `amp:<thread>:<ledger entry id>`, or
  `amp:<thread>:<messageId>` (`amp:<thread>@<usage.timestamp>` for a message without
  one); the model and the timestamp are the usage's own, else the message's;
- provider: what the model implies (claude → anthropic, gpt → openai, gemini → google);
- Amp's `credits` are not dollars and are not read;
- that entry or message is bad (offset: its index), the others count, when it lacks
  what its key is built from (an entry's id; a message's id and timestamp both) or a
  model, or has a count that is no count, tokens that are no object, a model that is
  no string, or a timestamp that is unreadable or out of range.
"""

from __future__ import annotations

from functools import partial
from pathlib import PurePath
from typing import Any

from monitor.events import UsageEvent
from monitor.sources.base import BadValue, Format, ParseContext, ParseResult, State, collect
from monitor.sources.common import (
    TokenCounts,
    call_time,
    count,
    json_object,
    model_name,
    record_event,
)
from monitor.sources.docs import document_records, load_document, member, split_tokens, text
from monitor.sources.locations import amp_paths as default_paths

_CACHE_WRITE = "cacheCreationInputTokens"
_CACHE_READ = "cacheReadInputTokens"


def _usage(message: Any) -> dict[str, Any] | None:
    """The `usage` of an assistant message; None for any other."""
    if not isinstance(message, dict) or message.get("role") != "assistant":
        return None
    usage = message.get("usage")
    return usage if isinstance(usage, dict) else None


def _message_id(value: Any) -> int | str | None:
    """A messageId fit to look a message up by (Amp numbers them 0, 1, …)."""
    return value if isinstance(value, int | str) and not isinstance(value, bool) else None


def _counts(
    tokens: dict[str, Any],
    names: tuple[str, ...],
    usage: dict[str, Any],
    input_total: Any,
    where: str = "",
) -> TokenCounts | None:
    """The counts of a ledger entry or a message: input and output from `tokens` (by
    `names`: input, output, total), the cache reads and writes from the message's
    `usage`; input includes them (it is `input_total`, the message's totalInputTokens,
    when it has one). None when it counts no tokens."""
    io = split_tokens(tokens, names[:1], names[1:2], names[2:], where=where)
    write = count(usage.get(_CACHE_WRITE), _CACHE_WRITE)
    read = count(usage.get(_CACHE_READ), _CACHE_READ)
    if io is None and not (write or read):
        return None
    fresh, output = (io["input_tokens"], io["output_tokens"]) if io else (0, 0)
    whole = fresh + write + read if input_total is None else count(input_total, "totalInputTokens")
    return TokenCounts(
        input_tokens=count(whole, "input tokens with cache reads and writes"),
        output_tokens=output,
        cache_read_tokens=read,
        cache_write_tokens=write,
        cache_write_1h_tokens=0,
        reasoning_tokens=0,
    )


def _amp_event(
    ctx: ParseContext,
    thread: str,
    index: int,
    key: str,
    usage: tuple[Any, Any, TokenCounts],
) -> UsageEvent:
    """The event of a ledger entry or a message: `usage` is its (timestamp, model, counts)."""
    when, model, counts = usage
    name = model_name(model)
    if name is None:
        raise BadValue("usage without a model")
    when_read = call_time(when, ctx)
    return record_event(ctx, index, when_read, name, key=key, **counts, tags={"session": thread})


def _ledger_event(
    ctx: ParseContext, thread: str, usages: dict[Any, dict[str, Any]], index: int, entry: Any
) -> UsageEvent | None:
    entry_id = text(entry.get("id"))
    if not entry_id:
        raise BadValue("ledger entry without an id (its key is built from it)")
    tokens = json_object(entry.get("tokens"), "tokens")
    message = usages.get(_message_id(entry.get("toMessageId")), {})
    counts = _counts(tokens or {}, ("input", "output", "total"), message, None, "tokens.")
    if counts is None:
        return None
    usage = (entry.get("timestamp"), entry.get("model"), counts)
    return _amp_event(ctx, thread, index, f"amp:{thread}:{entry_id}", usage)


def _message_event(
    ctx: ParseContext, thread: str, index: int, message: dict[str, Any]
) -> UsageEvent | None:
    usage = _usage(message)
    if usage is None:
        return None
    names = ("inputTokens", "outputTokens", "totalTokens")
    counts = _counts(usage, names, usage, usage.get("totalInputTokens"))
    if counts is None:
        return None
    when = usage.get("timestamp") or message.get("timestamp")
    ident = _message_id(message.get("messageId"))
    if ident is not None:
        key = f"amp:{thread}:{ident}"
    elif text(when):
        key = f"amp:{thread}@{text(when)}"
    else:
        raise BadValue("message without a messageId or a timestamp (its key is built from them)")
    model = usage.get("model") or message.get("model")
    return _amp_event(ctx, thread, index, key, (when, model, counts))


def _ledger(doc: Any) -> list[Any] | None:
    """The thread's usage ledger entries, if it has any."""
    ledger = doc.get("usageLedger") if isinstance(doc, dict) else None
    entries = ledger.get("events") if isinstance(ledger, dict) else None
    return entries if isinstance(entries, list) and entries else None


def _usages(messages: object) -> dict[Any, dict[str, Any]]:
    """Each assistant message's usage by its messageId: the ledger's cache counts (none
    when the thread has no list of messages: `member`'s None or ParseError)."""
    found = messages if isinstance(messages, list) else []
    by_id = {}
    for message in found:
        ident, usage = _message_id(_field(message, "messageId")), _usage(message)
        if ident is not None and usage is not None:
            by_id[ident] = usage
    return by_id


def _field(record: Any, name: str) -> Any:
    return record.get(name) if isinstance(record, dict) else None


def parse(ctx: ParseContext, state: State, data: bytes) -> ParseResult:
    """One event per ledger entry, or per assistant message's usage, of the whole thread."""
    doc = load_document(data)
    messages = member(doc, "messages", list, "expected a JSON object (an Amp thread)")
    thread = text(_field(doc, "id")) or PurePath(ctx.path).stem
    entries = _ledger(doc)
    if entries is not None:
        build = partial(_ledger_event, ctx, thread, _usages(messages))
        return collect(state, document_records(entries, "ledger entry"), build)
    build_message = partial(_message_event, ctx, thread)
    return collect(state, document_records(messages, "message"), build_message)


FORMAT = Format(name="amp", kind="document", parse=parse, default_paths=default_paths)
