"""Formats `jsonl` and `csv`: any tool's usage log, monitored with no code, by a field mapping.

Options (the source's table in config.toml):

    [[sources]]
    name = "myapp"
    format = "jsonl"                 # or "csv"
    paths = ["~/myapp/logs/usage*.jsonl"]
    input_includes_cache = true      # default true; false: cache tokens are added to input
    output_includes_reasoning = true # default true; false: reasoning is added to output

    [sources.fields]                 # event field = dotted path (jsonl) or column name (csv)
    ts = "created"
    model = "response.model"
    input_tokens = "response.usage.prompt_tokens"
    output_tokens = "response.usage.completion_tokens"
    cache_read_tokens = "response.usage.prompt_tokens_details.cached_tokens"
    key = "response.id"
    "tags.user" = "metadata.user"    # or a sub-table: [sources.fields.tags] user = "…"

    [sources.defaults]               # constants for fields a record lacks
    provider = "openai"

- `fields` keys: ts, model, provider, operation, input_tokens, output_tokens,
  cache_read_tokens, cache_write_tokens, cache_write_1h_tokens, reasoning_tokens, calls,
  cost, key, and `tags.NAME`. Without `fields` at all, each event field is read from
  the key (column) of the same name.
- jsonl paths: keys joined by dots; a number indexes a list (`choices.0.usage`); a
  top-level key that itself contains dots (`"usage.prompt_tokens": 12`) also matches.
- csv: the first line is the header (kept in the adapter state, so appended lines parse
  after a restart); quoted fields may hold commas, quotes and newlines; CRLF is fine.
- `defaults` keys: the same names; a value the record has wins over the default.
- Values: `ts` ISO 8601 (naive → the source's time zone) or epoch seconds/ms; token
  counts as numbers or strings ("3,865"); `cost` in USD as a number or decimal string
  (kept as `reported_cost`); `calls` defaults to 1; `provider` is inferred from the
  model when neither mapped nor defaulted.
- `key`: the record's own id; the event key becomes `map:<source>:<id>`, so a record
  written twice counts once; without it the line's position is the key.
- A record without a model (no mapping value and no default) is a ParseError.
- Bad values make their record a ParseError, never a call of 0 tokens (issue 9): a count
  that is negative, fractional ("12.7"), a bool, not a number ("abc") or over 10**15;
  a cost that is unreadable, negative, infinite or over $1,000,000; a model that is no
  string (jsonl); a `ts` that is present but unreadable, or outside the accepted range.
  Counts as strings are legitimate in both formats (every CSV cell is text).

`option_errors(options)` lists what is wrong with a source's options (for config
validation); `parse` ignores unknown fields rather than failing.
"""

from __future__ import annotations

import csv
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal
from functools import partial
from typing import Any, Final

import msgspec

from monitor.events import UsageEvent
from monitor.sources.base import Format, ParseContext, ParseError, ParseResult, State, collect
from monitor.sources.common import (
    TOKEN_FIELDS,
    call_time,
    cost,
    count,
    iter_lines,
    json_lines,
    model_name,
    parse_ts,
    record_event,
    token_counts,
)

FIELDS: Final = ("ts", "model", "provider", "operation", *TOKEN_FIELDS, "calls", "cost", "key")
"""Event fields a mapping may name (besides `tags.NAME`)."""
OPTIONS: Final = ("fields", "defaults", "input_includes_cache", "output_includes_reasoning")
"""The keys these formats add to a source's table in the config."""
MAX_RECORD_LINES: Final = 64
"""Lines one quoted CSV field may span before its opening quote is taken for a stray one."""

_DECODER = msgspec.json.Decoder()


@dataclass(frozen=True, slots=True)
class _Spec:
    """A source's options, read once per parse call."""

    fields: dict[str, str]
    tags: dict[str, str]
    defaults: dict[str, Any]
    default_tags: dict[str, str]
    input_includes_cache: bool
    output_includes_reasoning: bool


def _split(table: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A `fields`/`defaults` table → (event fields, tags): `tags.X` keys or a `tags` table."""
    fields: dict[str, Any] = {}
    tags: dict[str, Any] = {}
    if not isinstance(table, Mapping):
        return fields, tags
    for name, value in table.items():
        if name == "tags" and isinstance(value, Mapping):
            tags.update({str(k): v for k, v in value.items()})
        elif isinstance(name, str) and name.startswith("tags.") and len(name) > 5:
            tags[name[5:]] = value
        elif name in FIELDS:
            fields[name] = value
    return fields, tags


def _spec(options: Mapping[str, Any]) -> _Spec:
    fields, tags = _split(options.get("fields"))
    if not fields and not tags:
        fields = {name: name for name in FIELDS}
    defaults, default_tags = _split(options.get("defaults"))
    return _Spec(
        fields={k: str(v) for k, v in fields.items() if isinstance(v, str) and v},
        tags={k: str(v) for k, v in tags.items() if isinstance(v, str) and v},
        defaults=defaults,
        default_tags={k: str(v) for k, v in default_tags.items() if v is not None},
        input_includes_cache=options.get("input_includes_cache", True) is not False,
        output_includes_reasoning=options.get("output_includes_reasoning", True) is not False,
    )


def option_errors(options: Mapping[str, Any]) -> list[str]:
    """What is wrong with a `jsonl`/`csv` source's options; empty when they are usable."""
    problems: list[str] = []
    for name in ("input_includes_cache", "output_includes_reasoning"):
        if name in options and not isinstance(options[name], bool):
            problems.append(f"{name} must be true or false")
    for table in ("fields", "defaults"):
        value = options.get(table)
        if value is None:
            continue
        if not isinstance(value, Mapping):
            problems.append(f"{table} must be a table")
            continue
        for name, target in value.items():
            if name == "tags" and isinstance(target, Mapping):
                continue
            if not (isinstance(name, str) and name.startswith("tags.") and len(name) > 5):
                if name not in FIELDS:
                    known = ", ".join(FIELDS)
                    problems.append(f"{table}: unknown field {name!r} (known: {known}, tags.NAME)")
                    continue
            if table == "fields" and not (isinstance(target, str) and target):
                problems.append(f"fields.{name} must be a non-empty path or column name")
            if table == "defaults" and name == "model" and not isinstance(target, str):
                problems.append("defaults.model must be a string")
    fields = options.get("fields")
    defaults = options.get("defaults")
    has_model = (isinstance(fields, Mapping) and "model" in fields) or not fields
    if not has_model and not (isinstance(defaults, Mapping) and defaults.get("model")):
        problems.append("no model: map fields.model or set defaults.model")
    return problems


def _lookup(obj: Any, path: str) -> Any:
    """The value at a dotted path (`usage.prompt_tokens`, `choices.0.usage`), or None."""
    if isinstance(obj, dict) and path in obj:
        return obj[path]
    for part in path.split("."):
        if isinstance(obj, dict):
            obj = obj.get(part)
        elif isinstance(obj, list) and part.isdigit() and int(part) < len(obj):
            obj = obj[int(part)]
        else:
            return None
        if obj is None:
            return None
    return obj


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _ts(value: Any, tz: tzinfo) -> datetime | None:
    """ISO 8601 or epoch seconds/ms, the epoch also as text (a CSV cell is always text)."""
    ts = parse_ts(value, tz)
    if ts is None and isinstance(value, str):
        try:
            return parse_ts(float(value.strip()), tz)
        except (ValueError, OverflowError, OSError):
            return None
    return ts


def _text(value: Any) -> str | None:
    if not _present(value):
        return None
    return value.strip() if isinstance(value, str) else str(value)


def _event(
    ctx: ParseContext, spec: _Spec, values: dict[str, Any], tags: dict[str, str], offset: int
) -> UsageEvent | ParseError:
    """The event of one record's mapped values (defaults already merged), or why not.

    Raises BadValue for a value that makes the record bad."""
    model = model_name(values.get("model"))
    if model is None:
        return ParseError(offset, "record without model (map fields.model or set defaults.model)")
    when = call_time(values.get("ts"), ctx, "ts", _ts)
    reported: Decimal | None = cost(values.get("cost"), "cost")
    counts = token_counts(values, strings=True)
    if not spec.input_includes_cache:
        cached = counts["cache_read_tokens"] + counts["cache_write_tokens"]
        counts["input_tokens"] = count(counts["input_tokens"] + cached, "input_tokens with cache")
    if not spec.output_includes_reasoning:
        with_reasoning = counts["output_tokens"] + counts["reasoning_tokens"]
        counts["output_tokens"] = count(with_reasoning, "output_tokens with reasoning")
    record_id = _text(values.get("key"))
    calls = values.get("calls")
    return record_event(
        ctx,
        offset,
        when,
        model,
        key=f"map:{ctx.source}:{record_id}" if record_id else None,
        provider=_text(values.get("provider")),
        operation=_text(values.get("operation")),
        **counts,
        calls=count(calls, "calls", strings=True) if _present(calls) else 1,
        reported_cost=reported,
        tags=tags,
    )


def _record_event(
    ctx: ParseContext, spec: _Spec, get: Callable[[str], Any], offset: int
) -> UsageEvent | ParseError:
    """Map one record through `get(path)` → raw value, filling gaps from the defaults."""
    values: dict[str, Any] = dict(spec.defaults)
    for name, path in spec.fields.items():
        value = get(path)
        if _present(value):
            values[name] = value
    tags = dict(spec.default_tags)
    for name, path in spec.tags.items():
        text = _text(get(path))
        if text is not None:
            tags[name] = text
    return _event(ctx, spec, values, tags, offset)


def _jsonl_event(ctx: ParseContext, spec: _Spec, offset: int, obj: Any) -> UsageEvent | ParseError:
    if not isinstance(obj, dict):
        return ParseError(offset, "record is not a JSON object")
    return _record_event(ctx, spec, partial(_lookup, obj), offset)


def parse_jsonl(ctx: ParseContext, state: State, data: bytes) -> ParseResult:
    """One event per JSON object line, mapped by `ctx.options`; stateless."""
    records = json_lines(data, ctx.base_offset, _DECODER.decode)
    return collect(state, records, partial(_jsonl_event, ctx, _spec(ctx.options)))


def _records(data: bytes, base: int, state: State) -> Iterator[tuple[int, str | ParseError]]:
    """Whole CSV records (a quoted field may span lines) or errors, in file order; the
    unfinished record at the end of `data` is left in `state["pending"]`.

    A record is whole when its quotes balance. One still open after `MAX_RECORD_LINES`
    lines is a stray quote, not a long field: it is reported and its later lines are read
    again as records of their own, so one bad quote cannot swallow the rest of the log.
    """
    open_lines: list[list[Any]] = list(state.pop("pending", None) or [])
    quotes = sum(text.count('"') for _, text in open_lines)
    queue = deque(
        (offset, line.decode("utf-8", "replace")) for offset, line in iter_lines(data, base)
    )
    while queue:
        offset, text = queue.popleft()
        if not open_lines and not text.strip():
            continue
        open_lines.append([offset, text])
        quotes += text.count('"')
        if quotes % 2 == 0:
            yield open_lines[0][0], "\n".join(t for _, t in open_lines)
            open_lines, quotes = [], 0
        elif len(open_lines) >= MAX_RECORD_LINES:
            yield open_lines[0][0], ParseError(open_lines[0][0], "unterminated quoted field")
            queue.extendleft((o, t) for o, t in reversed(open_lines[1:]))
            open_lines, quotes = [], 0
    if open_lines:
        state["pending"] = open_lines


def _csv_event(
    ctx: ParseContext, spec: _Spec, state: State, offset: int, text: str
) -> UsageEvent | ParseError | None:
    """The event of one CSV record; the first record is the header, kept in `state`."""
    try:
        row = next(csv.reader([text]))
    except (csv.Error, StopIteration) as exc:
        return ParseError(offset, f"unreadable CSV record: {exc}")
    header = state.get("header")
    if isinstance(header, list):
        return _record_event(ctx, spec, dict(zip(header, row, strict=False)).get, offset)
    header = [cell.strip() for cell in row]
    if header:
        header[0] = header[0].lstrip("\ufeff")
    state["header"] = header
    missing = sorted(
        path for path in (*spec.fields.values(), *spec.tags.values()) if path not in header
    )
    if missing and ctx.options.get("fields"):
        return ParseError(offset, f"mapped columns not in header: {missing}")
    return None


def parse_csv(ctx: ParseContext, state: State, data: bytes) -> ParseResult:
    """One event per CSV row, mapped by `ctx.options`; the header lives in `state`."""
    state = dict(state)
    records = _records(data, ctx.base_offset, state)
    return collect(state, records, partial(_csv_event, ctx, _spec(ctx.options), state))


JSONL_FORMAT = Format(name="jsonl", kind="lines", parse=parse_jsonl)
CSV_FORMAT = Format(name="csv", kind="lines", parse=parse_csv)
