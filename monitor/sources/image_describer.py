"""Image Description Toolkit (seed 000): the batch log and the GUI workspace.

## `Descriptions/wf_*/logs/image_describer_*.log` (append-only text log)

Per described image the batch script logs

    Processing: IMG_1234.jpg                    (newer versions: "Describing image 3 of 100: …")
    Generated description for IMG_1234.jpg (Provider: OpenAI, Model: gpt-4o)
    Token usage: 3,865 total (3,156 prompt + 709 completion)
    Estimated cost: $0.0150                     (optional)

each line possibly wrapped by the logging format: "2025-10-07 14:20:18,123 - INFO - …",
"[2025-10-07 14:20:18] INFO: …", or the toolkit's own screen-reader friendly
"INFO - … - (2025-10-07 14:20:18,123)"; Windows writes CRLF. At the end a WORKFLOW /
TOKEN USAGE SUMMARY block repeats the per-image numbers: it is never counted (its lines
do not match the per-call pattern, and its "Estimated cost" never directly follows a
"Token usage" line).

One event per "Token usage" line (key: the file identity and that line's offset),
joined with the pending "Generated description" line for image, provider and model.
The optional "Estimated cost" line belongs to the event only if it is the next
non-blank line, so the event is HELD in the adapter state until that next line shows
whether a cost follows; the last image's event is emitted when the log goes on (the
toolkit always logs more after an image: timings, the summary). The pending line and
the held event live in the state, which is saved with the cursor: a restart at any
line boundary yields exactly the events of one uninterrupted pass.

Timestamp of an event: the "Token usage" line's own logging stamp; else the workflow
directory's stamp (`wf_…_20251007` → noon local time that day, `wf_…_20251007_142000`
→ that minute): it survives copying the folder, which the file's mtime does not; else
the mtime, flagged `FLAG_TS_FROM_MTIME`. A logging stamp that is no date (month 13) or
a time out of range makes the line a bad record; so do counts of over 10**15 and an
absurd cost (the pattern admits digits and commas only, so nothing else can be wrong).

Provider as written, normalized ("OpenAI" → openai, "Claude" → anthropic); model as
written. Without a "Generated description" line the event takes the image from the
last "Processing" line and provider/model from the last seen description line or the
"Initialized ImageDescriber with provider: …, model: …" line, else the source's
`default_model` option.

## `Descriptions/<workspace>/workspace.json` (GUI, rewritten whole)

`{"image_descriptions": {"IMG_1234.jpg": [{"id", "text", "model", "provider",
"prompt_style", "created", "total_tokens", "prompt_tokens", "completion_tokens"}]}}`:
one event per description with token fields (descriptions from before token tracking
have none: skipped, not errors). Key `idw:<id>`, else `idw:<image>:<created>:<model>`.
The GUI writes counts as JSON numbers: a string, bool, negative, fractional or huge one
makes the description a bad record, as do a bad cost, a model that is no string, and a
`created` time that is unreadable or out of range.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, time
from decimal import Decimal
from functools import partial
from typing import Any

from monitor.events import UsageEvent, utc
from monitor.sources.base import (
    BadValue,
    Format,
    ParseContext,
    ParseError,
    ParseResult,
    State,
    collect,
)
from monitor.sources.common import call_time, cost, count, iter_lines, model_name, record_event
from monitor.sources.docs import (
    ancestor,
    default_model,
    first_item,
    fixed_paths,
    load_document,
    member,
    split_tokens,
    text,
    text_tags,
)

OPERATION = "describe_image"

_STAMP = r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?"
_LEVEL = r"(?:DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL)"
# The logging wrappers seen in the wild, each giving (stamp, message).
_WRAPPERS = (
    # "2025-10-07 14:20:18,123 - INFO - msg" (also with a logger name: "- root - INFO -")
    re.compile(rf"^(?P<ts>{_STAMP})\s+-\s+(?:\S+\s+-\s+)?{_LEVEL}\s+-\s(?P<msg>.*)$"),
    # "[2025-10-07 14:20:18] INFO: msg"
    re.compile(rf"^\[(?P<ts>{_STAMP})\]\s+(?:{_LEVEL}:?\s+)?(?P<msg>.*)$"),
    # the toolkit's own: "INFO - msg - (2025-10-07 14:20:18,123)"
    re.compile(rf"^{_LEVEL}\s+-\s(?P<msg>.*)\s-\s\((?P<ts>{_STAMP})\)\s*$"),
)
_TOKENS = re.compile(
    r"Token usage:\s*(?P<total>[\d,]+)\s+total\s*\(\s*(?P<prompt>[\d,]+)\s+prompt\s*\+\s*"
    r"(?P<completion>[\d,]+)\s+completion\s*\)"
)
_GENERATED = re.compile(
    r"Generated description for (?P<image>.+?) \(Provider: (?P<provider>[^,()]+), "
    r"Model: (?P<model>[^()]+)\)"
)
_COST = re.compile(r"^\s*Estimated cost:\s*\$\s*(?P<cost>\d[\d,]*(?:\.\d+)?|\.\d+)\s*$")
_PROCESSING = re.compile(r"(?:^|\s)(?:Processing|Describing image \d+ of \d+): (?P<image>.+?)\s*$")
_INITIALIZED = re.compile(
    r"Initialized ImageDescriber with provider: (?P<provider>[^,]+), model: (?P<model>.+?)\s*$"
)
_WORKFLOW_STAMP = re.compile(r"_(?P<date>\d{8})(?:_(?P<time>\d{4,6}))?$")


# A wrapper whose stamp is no date ("yesterday-ish - INFO - …"): a time stated but
# unreadable, which makes a bad record rather than a call dated by the file.
_LOOSE_WRAPPER = re.compile(
    rf"^(?P<ts>[^\s\[][^\[]*?)\s+-\s+(?:\S+\s+-\s+)?{_LEVEL}\s+-\s(?P<msg>.*)$"
)


def _unwrap(line: str) -> tuple[str | None, str]:
    for wrapper in (*_WRAPPERS, _LOOSE_WRAPPER):
        m = wrapper.match(line)
        if m:
            return m["ts"], m["msg"]
    return None, line


def _workflow(path: str) -> str:
    """The `wf_*` directory the log belongs to (`…/wf_x/logs/image_describer_*.log`)."""
    for level in (2, 1, 3):
        name = ancestor(path, level)
        if name.startswith("wf_"):
            return name
    return ancestor(path, 2) if ancestor(path, 1) == "logs" else ancestor(path, 1)


def _workflow_time(workflow: str, ctx: ParseContext) -> datetime | str | None:
    m = _WORKFLOW_STAMP.search(workflow)
    if m is None:
        return None
    try:
        day = datetime.strptime(m["date"], "%Y%m%d").date()
        clock = m["time"]
        at = time(12) if clock is None else datetime.strptime(clock.ljust(6, "0"), "%H%M%S").time()
    except ValueError:
        return m.group(0).lstrip("_")  # stated but no date: `call_time` makes it a bad record
    return utc(datetime.combine(day, at, tzinfo=ctx.tz))


def _held_event(
    ctx: ParseContext, state: State, offset: int, stamp: str | None, m: re.Match[str]
) -> dict[str, Any] | ParseError:
    """The JSON-able event of a "Token usage" line, joined with the pending description."""
    pending = state.pop("pending", None) or {}  # the description is this line's, bad or not
    try:
        if stamp is not None:
            ts, flags = call_time(stamp, ctx, "log stamp")
        else:
            wf_time = _workflow_time(_workflow(ctx.path), ctx)
            ts, flags = call_time(wf_time, ctx, "workflow stamp" if wf_time else "timestamp")
        tokens_in = count(m["prompt"], "prompt tokens", strings=True)
        tokens_out = count(m["completion"], "completion tokens", strings=True)
    except BadValue as exc:
        return ParseError(offset, str(exc))
    return {
        "offset": offset,
        "ts": ts.isoformat(),
        "flags": flags,
        "image": pending.get("image") or state.get("image"),
        "provider": pending.get("provider") or state.get("provider"),
        "model": pending.get("model") or state.get("model"),
        "input": tokens_in,
        "output": tokens_out,
    }


def _emit(ctx: ParseContext, held: dict[str, Any], cost: Decimal | None) -> UsageEvent:
    model = held["model"] or default_model(ctx)
    tags = {"workflow": _workflow(ctx.path)}
    if held["image"]:
        tags["image"] = held["image"]
    when = datetime.fromisoformat(held["ts"]), held["flags"]
    return record_event(
        ctx,
        held["offset"],
        when,
        model,
        provider=held["provider"],
        operation=OPERATION,
        input_tokens=held["input"],
        output_tokens=held["output"],
        reported_cost=cost,
        tags=tags,
    )


def parse_log(ctx: ParseContext, state: State, data: bytes) -> ParseResult:
    """Events of the log's complete lines; the state carries what spans lines.

    State: `image` (last "Processing" line), `provider`/`model` (last seen), `pending`
    (the "Generated description" awaiting its "Token usage"), `held` (an event awaiting
    a possible "Estimated cost" line).
    """
    state = dict(state)
    events: list[UsageEvent] = []
    errors: list[ParseError] = []
    for offset, raw in iter_lines(data, ctx.base_offset):
        stamp, message = _unwrap(raw.decode("utf-8", errors="replace"))
        held = state.get("held")
        if held is not None:
            if not message.strip():
                continue
            state.pop("held")
            cost_line = _COST.match(message)
            try:
                amount = cost(cost_line["cost"], "Estimated cost") if cost_line else None
            except BadValue as exc:
                errors.append(ParseError(held["offset"], str(exc)))
            else:
                events.append(_emit(ctx, held, amount))
            if cost_line:
                continue
        if m := _TOKENS.search(message):
            item = _held_event(ctx, state, offset, stamp, m)
            if isinstance(item, ParseError):
                errors.append(item)
            else:
                state["held"] = item
        elif "Token usage:" in message:
            errors.append(ParseError(offset, f"unreadable Token usage line: {message[:120]}"))
        elif m := _GENERATED.search(message):
            provider, model = m["provider"].strip(), m["model"].strip()
            state["pending"] = {"image": m["image"], "provider": provider, "model": model}
            state["provider"], state["model"] = provider, model
        elif m := _PROCESSING.search(message):
            state["image"] = m["image"]
            state.pop("pending", None)
        elif m := _INITIALIZED.search(message):
            state["provider"], state["model"] = m["provider"].strip(), m["model"]
    return ParseResult(state=state, events=events, errors=errors)


def _description_event(
    ctx: ParseContext, workspace: str, index: int, described: tuple[str, dict[str, Any]]
) -> UsageEvent | None:
    image, entry = described
    tokens = split_tokens(entry, ("prompt_tokens",), ("completion_tokens",))
    if tokens is None:
        return None
    created = text(entry.get("created"))
    when = call_time(entry.get("created"), ctx, "created")
    model = model_name(entry.get("model")) or default_model(ctx)
    cost_name, cost_value = first_item(entry, "cost", "estimated_cost", "cost_usd")
    ident = text(entry.get("id"))
    style = text_tags(entry, (("prompt_style", "prompt_style"),))
    tags = {"workspace": workspace, "image": image, **style}
    return record_event(
        ctx,
        index,
        when,
        model,
        key=f"idw:{ident}" if ident else f"idw:{image}:{created or ''}:{model}",
        provider=text(entry.get("provider")),
        operation=OPERATION,
        **tokens,
        reported_cost=cost(cost_value, cost_name),
        tags=tags,
    )


def _descriptions(
    by_image: dict[str, Any] | ParseError | None,
) -> Iterator[tuple[int, tuple[str, dict[str, Any]] | ParseError]]:
    """(index, (image, description)) in document order (all images, all entries)."""
    if isinstance(by_image, ParseError):
        yield 0, by_image
        return
    index = 0
    for image, entries in (by_image or {}).items():
        for entry in entries if isinstance(entries, list) else [entries]:
            if isinstance(entry, dict):
                yield index, (image, entry)
            else:
                yield index, ParseError(index, f"description of {image} is not an object")
            index += 1


def parse_workspace(ctx: ParseContext, state: State, data: bytes) -> ParseResult:
    """One event per stored description with token fields.

    Error offsets count the descriptions in document order (all images, all entries).
    """
    by_image = member(load_document(data), "image_descriptions", dict, "expected a JSON object")
    build = partial(_description_event, ctx, ancestor(ctx.path, 1))
    return collect(state, _descriptions(by_image), build)


LOG_FORMAT = Format(
    name="image-describer-log",
    kind="lines",
    parse=parse_log,
    default_paths=fixed_paths("**/Descriptions/wf_*/logs/image_describer_*.log"),
)

WORKSPACE_FORMAT = Format(
    name="image-describer-workspace",
    kind="document",
    parse=parse_workspace,
    default_paths=fixed_paths("**/Descriptions/*/workspace.json"),
)
