"""Factory Droid session settings: `~/.factory/sessions/[<project>/]<session>.settings.json`
(each dir of ccusage's `$DROID_SESSIONS_DIR`), a JSON document Droid rewrites whole as
the session runs.

Droid keeps no per-call usage on disk: the settings document holds the session's
RUNNING totals, `tokenUsage: {inputTokens, outputTokens, cacheCreationTokens,
cacheReadTokens, thinkingTokens}`, beside `model`, `providerLock`,
`providerLockTimestamp` (when the session took its provider) and `apiProviderLock`.
ccusage, the reference reader, counts each session's latest totals once.

Rules:
- an event is the growth of the totals since the previous reading of the file (state:
  `totals`), so each token counts once, when it shows up. A rewrite without growth
  counts nothing; totals that shrink (Droid started counting afresh) count as growth
  from zero.
- keys: the session as first seen is `droid:<session>`; each later growth is
  `droid:<session>:<the totals reached>`. Re-reading a document is idempotent, and a
  second file holding the same session (Droid can leave a copy of a session in another
  folder) gives the same first key: the ledger keeps the more complete copy. Known limit:
  the totals seen are stored with the file's cursor; a copy appearing after the session
  grew under watch counts that growth twice.
- time: the file's mtime — by when those tokens were spent — flagged
  FLAG_TS_FROM_MTIME: the document dates no call. Without an mtime, the session's
  `providerLockTimestamp`.
- tokens as ccusage reads them: `inputTokens` excludes the cache (Anthropic's way), so
  our input is input + cache creation + cache read; `thinkingTokens` come on top of
  `outputTokens`, so our output is their sum and reasoning the thinking tokens. A
  `tokenUsage` with only `totalTokens` counts it as input (the split is unknown).
- model: `model` without Droid's decoration of custom models
  (`custom:Claude-Opus-4.5-Thinking-[Anthropic]-0` → `claude-opus-4.5-thinking`), else
  "unknown" with tag `model_fallback=true`; provider: `providerLock`, else what the model
  implies. Tags: `session` (the file name), `api_provider` (`apiProviderLock`).

Bad values (issue 9) make the document a bad record (offset 0) and leave the totals
where they were, so the next good rewrite counts the growth since the last good one:
nothing lost, nothing twice. Bad are a count that is no JSON number (a string, bool,
negative, fractional, over 10**15), a `tokenUsage` that is no object, a model that is
no string, and a time out of range.
"""

from __future__ import annotations

import re
from functools import partial
from typing import Any, Final

from monitor.events import UsageEvent
from monitor.sources.base import Format, ParseContext, ParseResult, State
from monitor.sources.common import (
    call_time,
    count,
    fallback_model,
    json_object,
    model_name,
    record_event,
)
from monitor.sources.docs import object_document, text, text_tags
from monitor.sources.locations import droid_paths as default_paths

FALLBACK_MODEL: Final = "unknown"
_SUFFIX: Final = ".settings.json"
_COUNTERS: Final = (
    "inputTokens",
    "outputTokens",
    "cacheCreationTokens",
    "cacheReadTokens",
    "thinkingTokens",
)
_BRACKETS: Final = re.compile(r"\[[^\]]*\]")
_CUSTOM_INDEX: Final = re.compile(r"-+\d+$")
_SEPARATORS: Final = re.compile(r"[\s-]+")


def _session(path: str) -> str:
    return path.rsplit("/", 1)[-1].removesuffix(_SUFFIX)


def _model(value: Any) -> str | None:
    """Droid's model id; a custom model's display name and index reduced to a model name."""
    model = model_name(value)
    if model is None or not model.startswith("custom:"):
        return model
    bare = _BRACKETS.sub("", model.removeprefix("custom:"))
    bare = _CUSTOM_INDEX.sub("", _SEPARATORS.sub("-", bare.strip()).strip("-"))
    return bare.lower() or None


def _totals(usage: dict[str, Any]) -> list[int]:
    """The running totals a `tokenUsage` reports, in `_COUNTERS` order."""
    totals = [count(usage.get(name), f"tokenUsage.{name}") for name in _COUNTERS]
    if not any(totals):
        totals[0] = count(usage.get("totalTokens"), "tokenUsage.totalTokens")
    return totals


def parse(ctx: ParseContext, state: State, data: bytes) -> ParseResult:
    """The growth of the session's totals since the state's; the new totals in state."""
    state = dict(state)
    return object_document(state, data, "Droid session settings", partial(_growth, ctx, state))


def _growth(ctx: ParseContext, state: State, doc: dict[str, Any]) -> UsageEvent | None:
    """The event of the totals' growth; moves `state` only once the document proved good."""
    usage = json_object(doc.get("tokenUsage"), "tokenUsage")
    if usage is None:
        return None
    totals = _totals(usage)
    count(totals[0] + totals[2] + totals[3], "tokenUsage input with cache")
    count(totals[1] + totals[4], "tokenUsage output with thinking")
    model = _model(doc.get("model"))
    if ctx.mtime is not None:
        when = call_time(None, ctx)
    else:
        when = call_time(doc.get("providerLockTimestamp"), ctx, "providerLockTimestamp")
    session = _session(ctx.path)
    previous = state.get("totals")
    state["totals"] = totals
    if not isinstance(previous, list) or len(previous) != len(totals):
        key, delta = f"droid:{session}", totals
    else:
        key = f"droid:{session}:{'/'.join(map(str, totals))}"
        delta = [now - before for now, before in zip(totals, previous, strict=True)]
        if any(d < 0 for d in delta):
            delta = totals
    if not any(delta):
        return None
    fresh, output, cache_write, cache_read, thinking = delta
    tags = {"session": session, **text_tags(doc, (("api_provider", "apiProviderLock"),))}
    return record_event(
        ctx,
        0,
        when,
        fallback_model(model, FALLBACK_MODEL, tags),
        key=key,
        provider=text(doc.get("providerLock")),
        input_tokens=fresh + cache_write + cache_read,
        output_tokens=output + thinking,
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        reasoning_tokens=thinking,
        tags=tags,
    )


FORMAT = Format(name="droid", kind="document", parse=parse, default_paths=default_paths)
