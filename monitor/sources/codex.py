"""Codex CLI rollouts: `$CODEX_HOME/sessions/YYYY/MM/DD/rollout-*.jsonl` (and, once a
session is archived, the same file moved to `$CODEX_HOME/archived_sessions/`).

Each line is `{"timestamp", "ordinal"?, "type", "payload"}` (newer CLIs number their
lines). The types that matter:
- `session_meta`: the FIRST one is the file's own thread (`payload.id`, `payload.cwd`);
  a fork or a spawned subagent names its parent there (`forked_from_id`,
  `parent_thread_id`, `source.subagent.thread_spawn.parent_thread_id`). Any later
  session_meta with another id is a copy of an ancestor's, never a new session;
- `turn_context` (each turn): `payload.model` is the model of the turns that follow;
- `event_msg` with `payload.type == "token_count"`: `payload.info.total_token_usage`
  is the thread's RUNNING total (`input_tokens`, `cached_input_tokens`,
  `output_tokens`, `reasoning_output_tokens`, newer: `cache_write_input_tokens`), and
  `info.last_token_usage` the latest answer's; `info` is null before the first answer;
- `token_usage_record` (Codex 0.153 and later): one per completed response, written just
  before the token_count that adds it to the running total, with `response_id`,
  `thread_id` and the response's own `usage`.

Counting. A record is one event, keyed by its thread and response id. A running total
is counted by its growth since the previous token_count of the file, less what the
records since then already counted: Codex repeats a total without new usage (rate-limit
updates), so lines where it did not grow are skipped; in a file with records the growth
is nearly always covered by them (a remote compaction's record is left out of the total
altogether), and only growth no record explains (an incomplete response's usage) is an
event of its own. A total that shrinks (Codex resets its counters) is counted as growth
from zero. The FIRST total of a file counts only `last_token_usage` (when it fits in the
total): a rollout that continues a thread — a later page, a fork that copied nothing —
starts from the thread's total, and its first answer is what it last used. Lines with
`last_token_usage` only (no running total) count that.

Forks and subagents (issue 12): a child rollout begins with a replay of its parent's
history — token_count lines included, with the parent's running totals — and its own
totals go on from the parent's. That inherited prefix is never counted, whether or not
the parent's file is read too (the adapter only sees the child's bytes): its token_count
lines move the running total, so the child's first own line counts only what the child
added, and their rate limits are not read (they are the parent's, re-stamped). The
prefix is recognised as ccusage does:
- by line number where Codex writes one: lines before `subagent_history_start_ordinal`;
- else by time: Codex re-stamps the copied lines within milliseconds of the fork, so a
  token_count of the leading burst within REPLAY_GAP of the child's session_meta (of
  the copied ancestor header, or of the last copied total before it) is copied; the
  first one later is the child's own. A fork whose header names no parent (older Codex)
  is known by that copied ancestor header. A record of the child's own thread ends the
  prefix at once. Known limit: in a rollout without line numbers or records, a child
  that copied nothing and answered within REPLAY_GAP of its header would lose that
  first answer (it moves the running total but is taken for the copy).
Records are never copied into a child by Codex; one naming another thread is a copy
(skipped), unless it names this thread as its parent (a delegate's usage forwarded here:
counted).

Keys come from the content, never from the file: `codex:<thread>:<response id>` for a
record, `codex:<session>:<running total>` for a total's growth (`#<n>` after the n-th
reset), `codex:<session>@<offset>` for a line with `last_token_usage` only. A rollout read
again under another path (moved to `archived_sessions/`, a copy) gives the same keys, so
the ledger's keys (one event each) make the second sighting a no-op. A file without any
session_meta falls back to the file identity (`line_key`).

Codex's `input_tokens` already include the cached (and cache-write) ones and
`output_tokens` the reasoning ones, as UsageEvent's do: they map one to one onto our
fields.

Model: the event's own `info.model`/`payload.model` (a record's `attribution.model`) if
any, else the latest `turn_context` (or session_meta) model, else "gpt-5" — the model
early Codex builds ran without writing it down (as ccusage assumes) — with the tag
`model_fallback=true`.

State (JSON, saved with the cursor so a restart resumes mid-file exactly): `model`,
`session`, `cwd`; `totals` (the last running total as [input, cached, output,
reasoning, cache_write]; a 4-list saved by older versions reads as cache_write 0),
`resets`, `recorded` (what records counted since the last total); for a child: `fork`
(the ancestor it names), `opened` (its session_meta's time, epoch seconds) and, while
its inherited prefix may still run, `replay` ({"until": epoch seconds | null,
"start": ordinal | null}).

Bad values (issue 9) make their line a bad record. Codex writes counts as JSON numbers:
one that is a string, bool, negative, fractional or over 10**15 leaves the running
total where it was (the next good line's growth covers the turn). A model that is no
string is bad too — on a turn_context line it also forgets the model, so the turns
after it take the fallback, flagged. A token_count line whose time (unreadable, out of
range) or own model is bad still moves the running total: its turn is lost, never
counted twice. A record with a bad value (usage, time, model) counts nothing and is not
subtracted: the growth of the next total counts its response instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import partial
from typing import Any, Final

import msgspec

from monitor.events import UsageEvent
from monitor.limits import BadLimit, codex_limits
from monitor.sources.base import (
    RECORD_ERRORS,
    BadValue,
    Format,
    ParseContext,
    ParseResult,
    State,
    collect,
    line_key,
    rejected,
)
from monitor.sources.common import (
    call_time,
    count,
    fallback_model,
    json_lines,
    model_name,
    parse_ts,
    record_event,
    shown,
    struct_lines,
)
from monitor.sources.locations import codex_paths as default_paths

FALLBACK_MODEL = "gpt-5"
_COUNTERS: Final = (
    "input_tokens",
    "cached_input_tokens",
    "output_tokens",
    "reasoning_output_tokens",
    "cache_write_input_tokens",
)
"""A usage object's counts, in the order state and keys keep them."""
_INPUT, _CACHED, _OUTPUT, _REASONING, _CACHE_WRITE = range(len(_COUNTERS))
"""Their positions in a usage list."""

REPLAY_GAP: Final = 1.0
"""Seconds. Codex writes a child's copied history in one burst at the fork; the child's own
first answer takes longer than this to arrive (ccusage's same-second rule, widened to
follow a burst that crosses a second boundary)."""


class _Payload(msgspec.Struct):
    type: Any = None
    id: Any = None
    cwd: Any = None
    model: Any = None
    info: Any = None
    rate_limits: Any = None
    timestamp: Any = None
    forked_from_id: Any = None
    parent_thread_id: Any = None
    source: Any = None
    subagent_history_start_ordinal: Any = None
    thread_id: Any = None
    response_id: Any = None
    usage: Any = None
    attribution: Any = None


class _Entry(msgspec.Struct):
    """The rollout envelope; payload fields not declared (message content…) stay unbuilt."""

    timestamp: Any = None
    type: Any = None
    payload: _Payload | None = None
    ordinal: Any = None


_entry = struct_lines(_Entry)
"""The rollout envelope of a line; None for JSON of another shape (nothing we count)."""


def _counters(usage: Any) -> list[int] | None:
    if not isinstance(usage, dict):
        return None
    return [count(usage.get(name), name) for name in _COUNTERS]


def _text(value: Any) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None


def _ordinal(value: Any) -> int | None:
    """A line number as Codex writes it: an int, or (some builds) a string of digits."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def _epoch(value: Any, ctx: ParseContext) -> float | None:
    """A line's time in epoch seconds, for telling copied lines apart; None if unreadable.
    Not a call time: no range check, no mtime fallback."""
    try:
        at = parse_ts(value, ctx.tz)
    except (ValueError, ArithmeticError, OSError):
        return None
    return None if at is None else at.timestamp()


def parse(ctx: ParseContext, state: State, data: bytes) -> ParseResult:
    """Events of the records and token_count lines in `data`; `state` carries the rest."""
    state = dict(state)
    lines = json_lines(data, ctx.base_offset, _entry)
    side = ParseResult(state=state)
    result = collect(state, lines, partial(_line_event, ctx, state, side))
    result.limits = side.limits
    if side.errors:
        result.errors = sorted([*result.errors, *side.errors], key=lambda e: e.offset)
    return result


def _line_event(
    ctx: ParseContext, state: State, side: ParseResult, offset: int, entry: _Entry | None
) -> UsageEvent | None:
    """The event of one rollout line, if it counts usage; moves `state`."""
    if entry is None or (payload := entry.payload) is None:
        return None
    kind = entry.type
    if kind == "event_msg":
        if payload.type != "token_count":
            return None
        return _token_count_event(ctx, state, side, offset, entry, payload)
    if kind == "token_usage_record":
        return _record_event(ctx, state, offset, entry, payload)
    if kind == "session_meta":
        _session_meta(ctx, state, entry, payload)
    elif kind == "turn_context":
        state["cwd"] = _text(payload.cwd) or state.get("cwd")
        _set_model(state, payload.model)
    return None


# -- whose lines: the file's own thread, and the prefix a child inherited --------------------


def _session_meta(ctx: ParseContext, state: State, entry: _Entry, payload: _Payload) -> None:
    """Take in the file's own session_meta; a later one with another id is an ancestor's,
    copied into a fork: it opens the inherited prefix (if the own one named no parent)."""
    session = _text(payload.id)
    own = state.get("session")
    if own is None:
        if session:
            state["session"] = session
        state["cwd"] = _text(payload.cwd) or state.get("cwd")
        opened = _epoch(entry.timestamp, ctx)
        if opened is None:
            opened = _epoch(payload.timestamp, ctx)
        if opened is not None:
            state["opened"] = opened
        parent = _parent(payload, session)
        if parent is not None:
            state["fork"] = parent
            _begin_replay(state, _ordinal(payload.subagent_history_start_ordinal), opened)
        _set_model(state, payload.model)  # last: a bad model makes the line bad, not lost
    elif session and session != own:
        _ancestor_header(ctx, state, entry, session)


def _ancestor_header(ctx: ParseContext, state: State, entry: _Entry, ancestor: str) -> None:
    """An ancestor's session_meta copied into a fork: the copied burst starts here. It opens
    the inherited prefix when the file's own header named no parent (older Codex), and
    moves the time window to it when the burst was written after the child's header."""
    at = _epoch(entry.timestamp, ctx)
    replay = state.get("replay")
    if isinstance(replay, dict):
        until = replay.get("until")
        if isinstance(until, int | float) and at is not None:
            state["replay"] = {**replay, "until": max(until, at + REPLAY_GAP)}
    elif state.get("totals") is None and "recorded" not in state:
        state.setdefault("fork", ancestor)
        opened = state.get("opened")
        _begin_replay(state, None, at if opened is None else max(opened, at or opened))


def _parent(payload: _Payload, session: str | None) -> str | None:
    """The thread a child rollout inherits its history from, as its session_meta names it."""
    spawn = payload.source
    for step in ("subagent", "thread_spawn"):
        spawn = spawn.get(step) if isinstance(spawn, dict) else None
    spawned = spawn.get("parent_thread_id") if isinstance(spawn, dict) else None
    for value in (payload.forked_from_id, payload.parent_thread_id, spawned):
        parent = _text(value)
        if parent and parent != session:
            return parent
    return None


def _begin_replay(state: State, start: int | None, opened: float | None) -> None:
    """Expect the inherited prefix: lines before `start`, or the burst at `opened`."""
    until = None if opened is None else opened + REPLAY_GAP
    if start is not None or until is not None:
        state["replay"] = {"until": until, "start": start}


def _copied(ctx: ParseContext, state: State, entry: _Entry) -> bool:
    """Whether a token_count line belongs to the inherited prefix. The prefix is leading:
    the first line judged the child's own ends it for good."""
    replay = state.get("replay")
    if not isinstance(replay, dict):
        return False
    start, ordinal = replay.get("start"), _ordinal(entry.ordinal)
    if isinstance(start, int) and ordinal is not None:
        copied = ordinal < start
    else:
        until = replay.get("until")
        at = _epoch(entry.timestamp, ctx)
        copied = isinstance(until, int | float) and (at is None or at <= until)
    if not copied:
        del state["replay"]
    return copied


def _inherit(ctx: ParseContext, state: State, entry: _Entry, info: dict[str, Any]) -> None:
    """A copied token_count: its total (the parent's) is where the child's own growth
    starts; the burst it belongs to reaches REPLAY_GAP past it."""
    total = _counters(info.get("total_token_usage"))
    if total is None:
        return
    state["totals"] = total
    state.pop("recorded", None)
    replay, at = state.get("replay"), _epoch(entry.timestamp, ctx)
    if isinstance(replay, dict) and at is not None:
        until = replay.get("until")
        if isinstance(until, int | float):
            state["replay"] = {**replay, "until": max(until, at + REPLAY_GAP)}


# -- token_count: the running total -----------------------------------------------------------


def _saved_totals(state: State) -> list[int] | None:
    """The last running total; a 4-list saved before cache writes were read has none."""
    saved = state.get("totals")
    if type(saved) is not list or not all(type(n) is int for n in saved):
        return None
    if len(saved) == len(_COUNTERS) - 1:
        return [*saved, 0]
    return saved if len(saved) == len(_COUNTERS) else None


def _minus(growth: list[int], recorded: Any) -> list[int] | None:
    """`growth` less what records counted; None when the records cover it (some count would
    fall below zero: a compaction's record is not in the total at all)."""
    if type(recorded) is not list or len(recorded) != len(growth):
        return growth
    rest = [g - r for g, r in zip(growth, recorded, strict=True)]
    return None if min(rest) < 0 else rest


def _first_growth(info: dict[str, Any], total: list[int]) -> list[int]:
    """What a file's first running total counts: the answer it reports last when that fits
    in the total (a file that continues a thread starts from the thread's total), else the
    whole total (older lines without `last_token_usage`)."""
    last = _counters(info.get("last_token_usage"))
    if last is not None and all(n <= t for n, t in zip(last, total, strict=True)):
        return last
    return total


def _growth(state: State, info: dict[str, Any], total: list[int]) -> list[int] | None:
    """The token growth a running `total` reports beyond the records, updating state.
    None when it did not change (a repeat): pending records wait for the total that
    includes them."""
    previous = _saved_totals(state)
    if previous == total:
        return None
    if previous is None:
        growth = _first_growth(info, total)  # a bad count raises before state moves
    else:
        growth = [now - before for now, before in zip(total, previous, strict=True)]
        if min(growth) < 0:
            growth = total
            state["resets"] = int(state.get("resets") or 0) + 1
    state["totals"] = total
    recorded = state.pop("recorded", None)
    return growth if recorded is None else _minus(growth, recorded)


def _total_key(ctx: ParseContext, state: State, offset: int) -> str:
    """The key of a total's growth: the session's running total there (its content)."""
    session, totals = state.get("session"), state.get("totals")
    if not session or not isinstance(totals, list):
        return line_key(ctx, offset)
    key = f"codex:{session}:{','.join(map(str, totals))}"
    resets = state.get("resets")
    return f"{key}#{resets}" if resets else key


def _token_count_event(
    ctx: ParseContext,
    state: State,
    side: ParseResult,
    offset: int,
    entry: _Entry,
    payload: _Payload,
) -> UsageEvent | None:
    """The event of a token_count line that grew beyond the records; moves `state`."""
    copied = "replay" in state and _copied(ctx, state, entry)
    if payload.rate_limits is not None and not copied:
        _read_limits(ctx, entry.timestamp, payload.rate_limits, offset, side)
    info = payload.info
    if not isinstance(info, dict):
        return None  # `info: null`: no answer yet in this session
    if copied:
        _inherit(ctx, state, entry, info)
        return None
    total = _counters(info.get("total_token_usage"))  # a bad count raises before state moves
    if total is None:
        delta = _counters(info.get("last_token_usage"))
        session = state.get("session")
        key = f"codex:{session}@{offset}" if session else line_key(ctx, offset)
    else:
        delta = _growth(state, info, total)
        key = _total_key(ctx, state, offset)
    if delta is None or not any(delta):
        return None
    when = call_time(entry.timestamp, ctx)
    model = (
        model_name(info.get("model"), "info.model")
        or model_name(payload.model, "payload.model")
        or state.get("model")
    )
    return _event(ctx, state, offset, when, model, delta, key, state.get("session"), None)


# -- token_usage_record: one response -----------------------------------------------------------


def _record_event(
    ctx: ParseContext, state: State, offset: int, entry: _Entry, payload: _Payload
) -> UsageEvent | None:
    """The event of one response's record. Its usage is subtracted from the next growth of
    the running total; state moves only once every value of the record is good."""
    session = state.get("session")
    thread = _text(payload.thread_id) or session
    own = session is None or thread == session
    forwarded = not own and session is not None and _text(payload.parent_thread_id) == session
    replay = state.get("replay")
    start = replay.get("start") if isinstance(replay, dict) else None
    ordinal = _ordinal(entry.ordinal)
    if (not own and not forwarded) or (
        isinstance(start, int) and ordinal is not None and ordinal < start
    ):
        return None  # an ancestor's record: counted from its own thread's file
    response = _text(payload.response_id)
    if response is None:
        raise BadValue(f"response_id: {shown(payload.response_id)} is not a response id")
    usage = _counters(payload.usage)
    if usage is None:
        raise BadValue(f"usage: {shown(payload.usage)} is not a usage object")
    when = call_time(entry.timestamp, ctx)
    attribution = payload.attribution if isinstance(payload.attribution, dict) else {}
    model = model_name(attribution.get("model"), "attribution.model") or state.get("model")
    if own:
        pending = state.get("recorded")
        if isinstance(pending, list) and len(pending) == len(usage):
            usage_sum = [p + u for p, u in zip(pending, usage, strict=True)]
        else:
            usage_sum = usage
        state["recorded"] = usage_sum
        state.pop("replay", None)  # the child's own answer: its inherited prefix is over
    if not any(usage):
        return None
    key = f"codex:{thread or '-'}:{response}"
    provider = _text(attribution.get("model_provider"))
    return _event(ctx, state, offset, when, model, usage, key, thread, provider)


def _event(
    ctx: ParseContext,
    state: State,
    offset: int,
    when: tuple[datetime, int],
    model: str | None,
    usage: Sequence[int],
    key: str,
    session: str | None,
    provider: str | None,
) -> UsageEvent:
    """A Codex call: its counts in `_COUNTERS` order, tagged with its thread and project."""
    tags: dict[str, str] = {}
    if session:
        tags["session"] = session
    if state.get("cwd"):
        tags["project"] = state["cwd"]
    return record_event(
        ctx,
        offset,
        when,
        fallback_model(model, FALLBACK_MODEL, tags),
        key=key,
        provider=provider or "openai",
        input_tokens=usage[_INPUT],
        output_tokens=usage[_OUTPUT],
        cache_read_tokens=usage[_CACHED],
        cache_write_tokens=usage[_CACHE_WRITE],
        reasoning_tokens=usage[_REASONING],
        tags=tags,
    )


def _read_limits(
    ctx: ParseContext, timestamp: Any, raw: Any, offset: int, side: ParseResult
) -> None:
    """The plan windows a token_count line reports (also when its `info` is null). A bad
    snapshot is a bad record of its own: the line's usage still counts."""
    try:
        if not isinstance(raw, dict):
            raise BadLimit(f"rate_limits: {raw!r} is not an object")
        when, _ = call_time(timestamp, ctx)
        side.limits.extend(codex_limits(raw, when))
    except RECORD_ERRORS as exc:
        side.errors.append(rejected(offset, exc))


def _set_model(state: State, value: Any) -> None:
    """Take the model a session_meta/turn_context line names. A bad one (BadValue) makes
    the line a bad record and leaves the turns after it to the fallback model (flagged),
    not to a stale one."""
    try:
        model = model_name(value)
    except BadValue:
        state.pop("model", None)
        raise
    state["model"] = model or state.get("model")


FORMAT = Format(name="codex", kind="lines", parse=parse, default_paths=default_paths)
