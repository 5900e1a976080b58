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

from typing import Any

from monitor.events import UsageEvent
from monitor.sources.base import (
    Format,
    ParseContext,
    ParseError,
    ParseResult,
    State,
    guarded,
    origin,
)
from monitor.sources.common import call_time, cost, count, model_name, normalize_provider
from monitor.sources.docs import ancestor, load_document, text

DEFAULT_MODEL = "claude-3-5-haiku-20241022"


def _project(path: str) -> str:
    """The directory holding `.costs/`: the pipeline's project."""
    if ancestor(path, 1) == ".costs":
        return ancestor(path, 2)
    return ancestor(path, 1)


def _event(
    ctx: ParseContext, index: int, session: dict[str, Any], project: str
) -> UsageEvent | ParseError | None:
    raw = session.get("timestamp")
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return ParseError(index, "session without a timestamp (its key is built from it)")
    ts, _ = call_time(raw, ctx)
    stamp = text(raw)
    name = text(session.get("session_name")) or "session"
    tokens_in = count(session.get("input_tokens"), "input_tokens")
    tokens_out = count(session.get("output_tokens"), "output_tokens")
    calls = count(session.get("api_calls"), "api_calls") if "api_calls" in session else 1
    reported = cost(session.get("cost_usd"), "cost_usd")
    if calls == 0 and tokens_in == 0 and tokens_out == 0 and not reported:
        return None
    model = model_name(session.get("model")) or text(ctx.options.get("model")) or DEFAULT_MODEL
    tags = {"session": name}
    if project:
        tags["project"] = project
    return UsageEvent(
        key=f"haiku:{stamp}:{name}",
        ts=ts,
        source=ctx.source,
        provider=normalize_provider(text(session.get("provider")) or "anthropic", model),
        model=model,
        operation=name,
        input_tokens=tokens_in,
        output_tokens=tokens_out,
        calls=calls,
        reported_cost=reported,
        tags=tags,
        origin=origin(ctx, index),
    )


def parse(ctx: ParseContext, state: State, data: bytes) -> ParseResult:
    """One event per session of the whole document (errors carry the session's index)."""
    doc = load_document(data)
    result = ParseResult(state=state)
    if not isinstance(doc, dict):
        result.errors.append(ParseError(0, "expected a JSON object with a sessions list"))
        return result
    sessions = doc.get("sessions")
    if sessions is None:
        return result
    if not isinstance(sessions, list):
        result.errors.append(ParseError(0, "sessions is not a list"))
        return result
    project = _project(ctx.path)
    for index, session in enumerate(sessions):
        if not isinstance(session, dict):
            result.errors.append(ParseError(index, "session is not a JSON object"))
            continue
        result.add(guarded(index, _event, ctx, index, session, project))
    return result


def default_paths() -> list[str]:
    return ["**/.costs/haiku_usage.json"]


FORMAT = Format(
    name="haiku-costs",
    kind="document",
    parse=parse,
    description="Claude Haiku session costs: .costs/haiku_usage.json, rewritten whole",
    default_paths=default_paths,
)
