"""Qwen Code chat recordings: `~/.qwen/projects/<project>/chats/<sessionId>.jsonl`, under
Qwen Code's runtime dir (`$QWEN_RUNTIME_DIR`, else `$QWEN_HOME`, else `~/.qwen`).

Qwen Code (a Gemini CLI fork) appends one JSON line per record (`ChatRecordingService`):
`{"uuid", "parentUuid", "sessionId", "timestamp", "type", "cwd", "version", …}`. An
`"assistant"` record is one model response, with its `model` and the response's
`usageMetadata` (`promptTokenCount`, `candidatesTokenCount`, `thoughtsTokenCount`,
`cachedContentTokenCount`, `totalTokenCount`). Other records carry no usage of their
own: `system` records with `subtype: "ui_telemetry"` repeat a response's counts for the
dashboard of a resumed session and are not counted again.

Rules (ccusage's Qwen loader is the reference reader):
- one event per assistant record with usage, key `qwen:<uuid>`: `/branch` copies a
  session's records verbatim into a new session (new `sessionId`, same `uuid`), and a
  copy is the same call;
- tokens (`gemini_cli.google_counts`): Qwen Code turns an OpenAI-compatible response into
  usageMetadata — prompt tokens (the cached ones included), completion tokens (reasoning
  included), the reasoning as thoughts — while a Gemini model's thoughts come apart from
  its candidates, as Google counts them. The total tells the two apart; without one,
  the thoughts are taken as included. input = prompt (+ tool-use prompt), output =
  candidates (+ thoughts when apart), cache read = cached, reasoning = thoughts;
- provider: what the model implies (`gpt-…` → openai, `gemini-…` → google, …), else
  alibaba (`qwen3-coder-plus`, `coder-model`: Alibaba Cloud serves Qwen's models;
  genai-prices has no prices for them, so they stay unpriced unless the config sets one);
- tags: `session`, `project` (the record's `cwd`), `agent` (a subagent's `agentId`);
- stateless: every record names its own session, model and time;
- an assistant record with usage but no model, a count that is no count, usage that is
  no object, a model that is no string, or a timestamp present but unreadable or out of
  range makes its line a bad record; the lines around it count.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Final

import msgspec

from monitor.events import UsageEvent
from monitor.sources.base import BadValue, Format, ParseContext, ParseResult, State, collect
from monitor.sources.common import call_time, json_lines, model_name, record_event
from monitor.sources.docs import text, text_tags
from monitor.sources.gemini_cli import google_usage
from monitor.sources.locations import qwen_code_paths as default_paths

TOKEN_NAMES: Final = (
    "promptTokenCount",
    "candidatesTokenCount",
    "cachedContentTokenCount",
    "thoughtsTokenCount",
    "toolUsePromptTokenCount",
    "totalTokenCount",
)
DEFAULT_PROVIDER = "alibaba"
_TAGS: Final = (("session", "sessionId"), ("project", "cwd"), ("agent", "agentId"))

_DECODE = msgspec.json.Decoder().decode


def _decode(line: bytes) -> Any:
    """A line with usage, decoded; None, undecoded, for the many without (tool results,
    user turns, system records)."""
    return _DECODE(line) if b'"usageMetadata"' in line else None


def _event(ctx: ParseContext, offset: int, record: Any) -> UsageEvent | None:
    """The event of an assistant record with usage; None for any other record."""
    if not isinstance(record, dict) or record.get("type") != "assistant":
        return None
    counts = google_usage(record, "usageMetadata", TOKEN_NAMES, thoughts_apart=False)
    if counts is None:
        return None
    model = model_name(record.get("model"))
    if model is None:
        raise BadValue("assistant record with usage but no model")
    uuid = text(record.get("uuid"))
    tags = text_tags(record, _TAGS)
    return record_event(
        ctx,
        offset,
        call_time(record.get("timestamp"), ctx),
        model,
        key=f"qwen:{uuid}" if uuid else None,
        default_provider=DEFAULT_PROVIDER,
        **counts,
        tags=tags,
    )


def parse(ctx: ParseContext, state: State, data: bytes) -> ParseResult:
    """Events of the assistant records with usage in `data`; stateless."""
    return collect(state, json_lines(data, ctx.base_offset, _decode), partial(_event, ctx))


FORMAT = Format(name="qwen-code", kind="lines", parse=parse, default_paths=default_paths)
