"""OpenCode: its SQLite database `~/.local/share/opencode/opencode.db`, and the JSON files
`storage/message/<session>/<message>.json` that versions before the database wrote.

OpenCode (and Kilo, its fork: kilo.py) stores a session's messages in the `message` table
`(id, session_id, time_created, time_updated, data)`, `data` being the message as JSON
without its id and session id; an assistant message carries `role`, `modelID`,
`providerID`, `time{created, completed}`, `cost` and `tokens{input, output, reasoning,
cache{read, write}, total?}`, and is updated in place while it streams. Each API call of
the message (a "step": the model answers, calls tools, answers again) also leaves a part
`{"type": "step-finish", "tokens", "cost"}` in the `part` table `(id, message_id,
session_id, time_created, time_updated, data)`. OpenCode overwrites the message's tokens
with the LAST step's and adds up its cost; so the message's usage is the sum of its
step-finish parts, and its own tokens only when it has none (the JSON files: their
parts live in other files, without the model).

Rules:
- one event per assistant message, key `opencode:<message id>` — the same for the
  database row and the JSON file, so an upgrade that moved the files into the database
  never counts a message twice; the database's copy (all its steps) is the larger and
  replaces the file's. `calls` is its number of steps.
- OpenCode's `tokens.input` excludes the cache: our input is input + cache read + cache
  write. Its `output` excludes the reasoning (current versions): our output is output +
  reasoning, unless the call's `total` shows the reasoning already inside `output` (what
  older versions wrote).
- `cost` is OpenCode's reported cost; 0 (what it writes for a model it has no price for,
  or a subscription) is no cost: the call is priced.
- the time is `time.created` (epoch ms), else the row's `time_created`; the provider is
  `providerID`, the model `modelID`; tags `session`, `project` (the message's
  `path.root`, else `path.cwd`), `agent`.
- a user message, or an assistant message without usage yet, counts nothing; a row whose
  `data` is no JSON object, a count that is no count, a cost that is no cost or a time
  out of range makes that message bad (offset: the row's rowid; 0 for a file).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from functools import partial
from pathlib import PurePath
from typing import Any

from monitor.events import UsageEvent
from monitor.sources.base import BadValue, ParseContext, ParseResult, State, collect
from monitor.sources.common import (
    TokenCounts,
    call_time,
    cost,
    count,
    model_name,
    record_event,
    shown,
)
from monitor.sources.docs import ancestor, default_model, object_document, text
from monitor.sources.locations import opencode_paths
from monitor.sources.sqlite_db import DatabaseFormat, Query, Table, decode, json_column

MESSAGES = Query(
    "message",
    "message",
    ("id", "session_id", "time_created", "time_updated", "data"),
    # JSON.stringify writes `"role":"assistant"`; a user message is never needed.
    where="data LIKE '%\"assistant\"%'",
    since="time_updated",
)
STEPS = Query(
    "step",
    "part",
    ("id", "message_id", "time_created", "data"),
    where="data LIKE '%\"step-finish\"%'",
    parent=("message_id", "message", "id"),
)


def _tokens(tokens: Any, where: str) -> TokenCounts:
    """One call's (or message's) `tokens` object, in UsageEvent's terms."""
    if not isinstance(tokens, dict):
        raise BadValue(f"{where}tokens: {shown(tokens)} is not an object")
    cache = tokens.get("cache")
    if not isinstance(cache, dict):  # absent, or `0` in some records: no cache
        cache = {}
    fresh = count(tokens.get("input"), f"{where}tokens.input")
    out = count(tokens.get("output"), f"{where}tokens.output")
    reasoning = count(tokens.get("reasoning"), f"{where}tokens.reasoning")
    read = count(cache.get("read"), f"{where}tokens.cache.read")
    write = count(cache.get("write"), f"{where}tokens.cache.write")
    raw_total = tokens.get("total")
    total = None if raw_total is None else count(raw_total, f"{where}tokens.total")
    if not (fresh or out or reasoning or read or write) and total:
        fresh = total  # only a total: counted as input, the tokens are not lost
    if reasoning and total == fresh + out + read + write:
        output = out  # an older version: the reasoning is inside `output` already
    else:
        output = out + reasoning
    return TokenCounts(
        input_tokens=fresh + read + write,
        output_tokens=output,
        cache_read_tokens=read,
        cache_write_tokens=write,
        cache_write_1h_tokens=0,
        reasoning_tokens=reasoning,
    )


def _add(total: TokenCounts, more: TokenCounts) -> None:
    for name, value in more.items():
        total[name] += value  # type: ignore[literal-required]


def _event(
    ctx: ParseContext,
    prefix: str,
    offset: int,
    msg: dict[str, Any],
    message_id: str,
    session: str | None,
    steps: list[dict[str, Any]] | None,
    row_time: Any,
) -> UsageEvent | None:
    role = msg.get("role")
    if role is not None and role != "assistant":
        return None
    if steps:
        counts = _tokens(steps[0].get("tokens"), "step 1 ")
        reported = cost(steps[0].get("cost"), "step 1 cost")
        for i, step in enumerate(steps[1:], 2):
            _add(counts, _tokens(step.get("tokens"), f"step {i} "))
            more = cost(step.get("cost"), f"step {i} cost")
            if more is not None:
                reported = more if reported is None else reported + more
        if reported is None:  # steps without costs: the message's sum of them
            reported = cost(msg.get("cost"), "cost")
        calls = len(steps)
    else:
        if msg.get("tokens") is None:
            return None
        counts = _tokens(msg.get("tokens"), "")
        reported = cost(msg.get("cost"), "cost")
        calls = 1
    if not any(counts.values()):
        return None  # created, not answered yet
    times = msg.get("time")
    created = times.get("created") if isinstance(times, dict) else None
    when = call_time(row_time if created is None else created, ctx, "time.created")
    model = model_name(msg.get("modelID"), "modelID") or default_model(ctx)
    tags: dict[str, str] = {}
    if session:
        tags["session"] = session
    where = msg.get("path")
    if isinstance(where, dict):
        project = text(where.get("root")) or text(where.get("cwd"))
        if project and project != "/":
            tags["project"] = project
    agent = text(msg.get("agent")) or text(msg.get("mode"))
    if agent:
        tags["agent"] = agent
    return record_event(
        ctx,
        offset,
        when,
        model,
        key=f"{prefix}:{message_id}",
        provider=text(msg.get("providerID")),
        **counts,
        calls=calls,
        reported_cost=reported or None,  # 0: OpenCode had no price for it
        tags=tags,
    )


def _steps(table: Table) -> dict[str, list[tuple[int, Any]]]:
    """The step-finish rows by their message's id, in the order they were written."""
    out: dict[str, list[tuple[int, Any]]] = defaultdict(list)
    for rowid, row in table.records():
        message = text(row.get("message_id"))
        if message is not None:
            out[message].append((rowid, row))
    for rows in out.values():
        rows.sort(key=lambda r: (str(r[1].get("id")), r[0]))
    return out


def _step_data(rows: list[tuple[int, Any]]) -> list[dict[str, Any]]:
    steps = []
    for rowid, row in rows:
        data = json_column(row.get("data"), f"part {row.get('id') or rowid} data")
        if isinstance(data, dict) and data.get("type") == "step-finish":
            steps.append(data)
    return steps


def _row_event(
    ctx: ParseContext,
    prefix: str,
    steps: dict[str, list[tuple[int, Any]]],
    rowid: int,
    row: dict[str, Any],
) -> UsageEvent | None:
    msg = json_column(row.get("data"), "data")
    if not isinstance(msg, dict):
        raise BadValue("data: not a JSON object (an OpenCode message)")
    message_id = text(row.get("id")) or text(msg.get("id"))
    if message_id is None:
        raise BadValue("message without an id (its key is built from it)")
    session = text(row.get("session_id")) or text(msg.get("sessionID"))
    mine = _step_data(steps.get(message_id, []))
    return _event(ctx, prefix, rowid, msg, message_id, session, mine, row.get("time_created"))


def _file_event(ctx: ParseContext, prefix: str, doc: dict[str, Any]) -> UsageEvent | None:
    """The message of a file of the older storage: `storage/message/<session>/<message>.json`."""
    message_id = text(doc.get("id")) or PurePath(ctx.path).stem
    session = text(doc.get("sessionID")) or ancestor(ctx.path, 1)
    return _event(ctx, prefix, 0, doc, message_id, session, None, None)


def parse_for(prefix: str, ctx: ParseContext, state: State, data: bytes) -> ParseResult:
    """The events of a database read (`sqlite_db.Rows`) or of one message file."""
    rows = decode(data)
    if rows is None:
        build = partial(_file_event, ctx, prefix)
        return object_document(state, data, "an OpenCode message", build)
    build = partial(_row_event, ctx, prefix, _steps(rows.table(STEPS.name)))
    return collect(state, rows.table(MESSAGES.name).records(), build)


def format_for(prefix: str, default_paths: Callable[[], list[str]]) -> DatabaseFormat:
    """The format of OpenCode, or of a fork that keeps its schema (Kilo), named `prefix`
    as its keys are (`<prefix>:<message id>`)."""
    return DatabaseFormat(
        name=prefix,
        kind="document",
        parse=partial(parse_for, prefix),
        default_paths=default_paths,
        queries=(MESSAGES, STEPS),
        documents=True,
    )


FORMAT = format_for("opencode", opencode_paths)
parse = FORMAT.parse
