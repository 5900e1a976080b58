"""Goose (Block's agent): its SQLite database `~/.local/share/goose/sessions/sessions.db`.

Goose keeps one row per session in the `sessions` table and updates it in place after
every reply: `accumulated_input_tokens`, `accumulated_output_tokens`,
`accumulated_total_tokens` are the session's running totals (the columns without
`accumulated_` hold the last reply's), joined in later schema versions by
`accumulated_cache_read_tokens`, `accumulated_cache_write_tokens`, `accumulated_cost`,
`provider_name` and `model_config_json` (`{"model_name": …}`). `created_at` is SQLite's
`CURRENT_TIMESTAMP`: UTC without a zone. Columns an older schema lacks read as NULL.

Rules (ccusage's Goose loader is the reference reader):
- one event per session, key `goose:<id>@<created_at>` (Goose's ids, `20260102_1`, repeat
  in every Goose root); as the session grows, the larger copy replaces the stored one.
  The whole session is dated at its start, as ccusage dates it.
- the accumulated counts, else the last reply's; input is Goose's input (it includes the
  cache reads and writes, which are its subsets); a total above input + output is
  reasoning, counted as output (ccusage's `extra_total_tokens`).
- `accumulated_cost` is the reported cost (0: none, the call is priced); the provider is
  `provider_name`, the model `model_config_json.model_name`, else the source's
  `default_model` option, else "unknown".
- tags `session` (the id), `project` (`working_dir`), `session_type` when not "user".
- a session with no tokens counts nothing; a count that is no count, a bad cost, model
  JSON that is no JSON or a time out of range make that session bad (offset: rowid).
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any

from monitor.events import UsageEvent
from monitor.sources.base import BadValue, ParseContext
from monitor.sources.common import call_time, cost, count, model_name, parse_ts, record_event
from monitor.sources.docs import default_model, text, text_tags
from monitor.sources.locations import goose_paths
from monitor.sources.sqlite_db import Query, json_column, row_format

SESSIONS = Query(
    "sessions",
    "sessions",
    (
        "id",
        "name",
        "working_dir",
        "session_type",
        "created_at",
        "input_tokens",
        "output_tokens",
        "total_tokens",
        "accumulated_input_tokens",
        "accumulated_output_tokens",
        "accumulated_total_tokens",
        "accumulated_cache_read_tokens",
        "accumulated_cache_write_tokens",
        "accumulated_cost",
        "provider_name",
        "model_config_json",
    ),
)


def _utc(value: Any, tz: tzinfo) -> datetime | None:
    """Goose's timestamps: SQLite's UTC `YYYY-MM-DD HH:MM:SS`, or RFC 3339, or epoch."""
    return parse_ts(value, UTC)


def _first(row: dict[str, Any], *names: str) -> int | None:
    """The count in the first of `names` that is not NULL (an older schema, a new session)."""
    for name in names:
        if row.get(name) is not None:
            return count(row[name], name)
    return None


def _event(ctx: ParseContext, rowid: int, row: dict[str, Any]) -> UsageEvent | None:
    session = text(row.get("id"))
    if session is None:
        raise BadValue("session without an id (its key is built from it)")
    fresh = _first(row, "accumulated_input_tokens", "input_tokens") or 0
    out = _first(row, "accumulated_output_tokens", "output_tokens") or 0
    total = _first(row, "accumulated_total_tokens", "total_tokens")
    read = count(row.get("accumulated_cache_read_tokens"), "accumulated_cache_read_tokens")
    write = count(row.get("accumulated_cache_write_tokens"), "accumulated_cache_write_tokens")
    if not (fresh or out) and total:
        fresh = total  # only a total: counted as input, the tokens are not lost
    extra = max(0, (total or 0) - fresh - out)
    if not (fresh or out or extra):
        return None
    created = row.get("created_at")
    when = call_time(created, ctx, "created_at", read=_utc)
    config = json_column(row.get("model_config_json"), "model_config_json")
    model = None
    if isinstance(config, dict):
        model = model_name(config.get("model_name"), "model_config_json.model_name")
    tags = {"session": session, **text_tags(row, (("project", "working_dir"),))}
    kind = text(row.get("session_type"))
    if kind and kind != "user":
        tags["session_type"] = kind
    return record_event(
        ctx,
        rowid,
        when,
        model or default_model(ctx),
        key=f"goose:{session}@{text(created) or ''}",
        provider=text(row.get("provider_name")),
        input_tokens=max(fresh, read + write),
        output_tokens=out + extra,
        cache_read_tokens=read,
        cache_write_tokens=write,
        reasoning_tokens=extra,
        reported_cost=cost(row.get("accumulated_cost"), "accumulated_cost") or None,
        tags=tags,
    )


FORMAT = row_format("goose", SESSIONS, _event, goose_paths)
parse = FORMAT.parse
