"""The novel pipeline's Claude Haiku costs (seed 001): `.costs/haiku_usage.json`.

`CostTracker` rewrites the whole file after each run: all-time totals plus a `sessions`
list, one entry per run — `{"timestamp", "session_name", "input_tokens",
"output_tokens", "api_calls", "cost_usd"}`. A session is a summary of many calls, so it
becomes ONE event with `calls` = `api_calls`; the top-level totals repeat the sessions
and are never counted.

- key `haiku:<timestamp>:<session_name>`: stable across rewrites, so re-reading the
  file after the next run adds exactly the new session.
- operation = the session name. It names the job, not the run ("generate_images_
  chapters_1" again when chapter 1 is regenerated), so `report --by operation` shows
  what the money went to; the same name is also the `session` tag.
- model: the session's own `model` if a newer tracker writes one, else the source's
  `model` option, else the Haiku 3.5 snapshot the seed describes.
- a session with no calls and no tokens carries no usage: skipped.
- a session without a timestamp is a bad record, not one dated by the file's mtime: the
  timestamp is part of its key. Counts (`input_tokens`, `output_tokens`, `api_calls`)
  are JSON numbers; a string, bool, negative, fractional or huge one makes the session
  bad, as do a bad `cost_usd`, a model that is no string, or a time out of range.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from monitor.events import UsageEvent
from monitor.sources.base import BadValue, Format, ParseContext, ParseResult, State, collect
from monitor.sources.common import call_time, cost, count, model_name, record_event
from monitor.sources.docs import (
    InputOutput,
    ancestor,
    document_records,
    fixed_paths,
    load_document,
    member,
    text,
)

DEFAULT_MODEL = "claude-3-5-haiku-20241022"


def _project(path: str) -> str:
    """The directory holding `.costs/`: the pipeline's project."""
    if ancestor(path, 1) == ".costs":
        return ancestor(path, 2)
    return ancestor(path, 1)


def _event(
    ctx: ParseContext, project: str, index: int, session: dict[str, Any]
) -> UsageEvent | None:
    raw = session.get("timestamp")
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise BadValue("session without a timestamp (its key is built from it)")
    when = call_time(raw, ctx)
    name = text(session.get("session_name")) or "session"
    tokens = InputOutput(
        input_tokens=count(session.get("input_tokens"), "input_tokens"),
        output_tokens=count(session.get("output_tokens"), "output_tokens"),
    )
    calls = count(session.get("api_calls"), "api_calls") if "api_calls" in session else 1
    reported = cost(session.get("cost_usd"), "cost_usd")
    if calls == 0 and not any(tokens.values()) and not reported:
        return None
    model = model_name(session.get("model")) or text(ctx.options.get("model")) or DEFAULT_MODEL
    tags = {"session": name}
    if project:
        tags["project"] = project
    return record_event(
        ctx,
        index,
        when,
        model,
        key=f"haiku:{text(raw)}:{name}",
        provider=text(session.get("provider")) or "anthropic",
        operation=name,
        **tokens,
        calls=calls,
        reported_cost=reported,
        tags=tags,
    )


def parse(ctx: ParseContext, state: State, data: bytes) -> ParseResult:
    """One event per session of the whole document (errors carry the session's index)."""
    doc = load_document(data)
    sessions = member(doc, "sessions", list, "expected a JSON object with a sessions list")
    build = partial(_event, ctx, _project(ctx.path))
    return collect(state, document_records(sessions, "session"), build)


FORMAT = Format(
    name="haiku-costs",
    kind="document",
    parse=parse,
    default_paths=fixed_paths("**/.costs/haiku_usage.json"),
)
