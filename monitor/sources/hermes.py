"""Hermes Agent (Nous Research): its SQLite database `~/.hermes/state.db`.

Hermes keeps one row per session in the `sessions` table (WAL mode) and adds each API
call's usage to it: `input_tokens` (the prompt without the cache), `output_tokens`,
`cache_read_tokens`, `cache_write_tokens`, `reasoning_tokens`, `api_call_count`,
`estimated_cost_usd` / `actual_cost_usd`, with `model`, `billing_provider` and
`started_at` (epoch seconds). Columns an older schema lacks read as NULL. A compressed
session continues in a new row (`parent_session_id`) that counts from zero.

Rules (ccusage's Hermes loader is the reference reader):
- one event per session, key `hermes:<id>` (the same id in two profiles' databases is
  one session, as ccusage dedupes it); as the session grows, the larger copy replaces
  the stored one. The whole session is dated at `started_at`.
- our input is input + cache reads + cache writes; Hermes's output already holds the
  reasoning (the providers count it there), unless the reasoning exceeds it: then it is
  added. `calls` is `api_call_count` (at least 1).
- the reported cost is `actual_cost_usd`, else `estimated_cost_usd` (0: none — a
  subscription's "included" calls are priced); the provider is `billing_provider`
  (`openai-codex`, a ChatGPT subscription: openai; `auto`, `custom`: what the model
  implies).
- tags `session`, `platform` (Hermes's `source`: cli, telegram, …), `project` (`cwd`).
- a session without usage counts nothing; one without a model counts under the source's
  `default_model` option, else "unknown" (ccusage skips it: its tokens were spent all the
  same); a count that is no count, a bad cost or a time out of range make it bad
  (offset: rowid).
"""

from __future__ import annotations

from typing import Any, Final

from monitor.events import UsageEvent
from monitor.sources.base import BadValue, ParseContext
from monitor.sources.common import call_time, cost, count, model_name, record_event
from monitor.sources.docs import default_model, text, text_tags
from monitor.sources.locations import hermes_paths
from monitor.sources.sqlite_db import Query, row_format

SESSIONS = Query(
    "sessions",
    "sessions",
    (
        "id",
        "source",
        "model",
        "billing_provider",
        "started_at",
        "api_call_count",
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
        "estimated_cost_usd",
        "actual_cost_usd",
        "cwd",
    ),
)


_TAGS: Final = (("platform", "source"), ("project", "cwd"))
"""Tags from the session's columns: (tag, column)."""
_BILLING_PROVIDERS: Final = {"openai-codex": "openai", "openai_codex": "openai"}
"""Hermes's billing routes that are a provider's subscription, by the provider."""
_NO_PROVIDER: Final = frozenset({"auto", "custom"})
"""Billing buckets that name no provider: the model says who served the call."""


def _provider(value: Any) -> str | None:
    name = text(value)
    if name is None or name.lower() in _NO_PROVIDER:
        return None
    return _BILLING_PROVIDERS.get(name.lower(), name)


def _event(ctx: ParseContext, rowid: int, row: dict[str, Any]) -> UsageEvent | None:
    session = text(row.get("id"))
    if session is None:
        raise BadValue("session without an id (its key is built from it)")
    fresh = count(row.get("input_tokens"), "input_tokens")
    out = count(row.get("output_tokens"), "output_tokens")
    read = count(row.get("cache_read_tokens"), "cache_read_tokens")
    write = count(row.get("cache_write_tokens"), "cache_write_tokens")
    reasoning = count(row.get("reasoning_tokens"), "reasoning_tokens")
    actual = cost(row.get("actual_cost_usd"), "actual_cost_usd")
    estimated = cost(row.get("estimated_cost_usd"), "estimated_cost_usd")
    if not (fresh or out or read or write or reasoning or actual or estimated):
        return None
    model = model_name(row.get("model"))
    tags = {"session": session, **text_tags(row, _TAGS)}
    return record_event(
        ctx,
        rowid,
        call_time(row.get("started_at"), ctx, "started_at"),
        model or default_model(ctx),
        key=f"hermes:{session}",
        provider=_provider(row.get("billing_provider")),
        input_tokens=fresh + read + write,
        output_tokens=out if reasoning <= out else out + reasoning,
        cache_read_tokens=read,
        cache_write_tokens=write,
        reasoning_tokens=reasoning,
        calls=max(1, count(row.get("api_call_count"), "api_call_count")),
        reported_cost=actual or estimated or None,
        tags=tags,
    )


FORMAT = row_format("hermes", SESSIONS, _event, hermes_paths)
parse = FORMAT.parse
