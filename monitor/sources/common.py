"""Small parsing helpers the adapters share: lines, timestamps, token counts, providers,
and `record_event`, the one place a record's values become a UsageEvent.

`count`, `cost`, `model_name` and `call_time` are the one definition of what a record's
values may be (issue 9): each raises `BadValue` naming the field and the value, which
the adapter turns into that record's ParseError.
"""

from __future__ import annotations

import dataclasses
import io
import math
import re
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any, Final, TypedDict, TypeVar, cast

from monitor.events import (
    FLAG_TS_FROM_MTIME,
    MAX_COST_USD,
    MAX_TOKENS,
    CostBasis,
    UsageEvent,
    decimal_from_json,
    utc,
)
from monitor.sources.base import (
    BadValue,
    Outcome,
    ParseContext,
    ParseError,
    ParseResult,
    State,
    collect,
    line_key,
    origin,
)

if TYPE_CHECKING:
    import msgspec

T = TypeVar("T")
S = TypeVar("S", bound="msgspec.Struct")


class TokenCounts(TypedDict):
    """UsageEvent's token counts, in its field order: the names records spell them by."""

    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cache_write_1h_tokens: int
    reasoning_tokens: int


TOKEN_FIELDS: Final[tuple[str, ...]] = tuple(TokenCounts.__annotations__)
"""The names of `TokenCounts`, in UsageEvent's field order."""


_BOM: Final = b"\xef\xbb\xbf"

# Model-name prefixes → provider, for records that do not say who served the call.
_PROVIDER_PREFIXES: tuple[tuple[str, str], ...] = (
    ("claude", "anthropic"),
    ("anthropic", "anthropic"),
    ("gpt", "openai"),
    ("o1", "openai"),
    ("o3", "openai"),
    ("o4", "openai"),
    ("chatgpt", "openai"),
    ("codex", "openai"),
    ("text-embedding", "openai"),
    ("davinci", "openai"),
    ("dall-e", "openai"),
    ("whisper", "openai"),
    ("gemini", "google"),
    ("gemma", "google"),
    ("mistral", "mistral"),
    ("mixtral", "mistral"),
    ("codestral", "mistral"),
    ("grok", "x-ai"),
    ("deepseek", "deepseek"),
    ("command", "cohere"),
    ("llama", "meta"),
)

# How tools spell providers → our normalized names: genai-prices provider ids, so the
# pricer finds each under its own prices (tests/test_pricing.py checks that). The same
# table reads the prefix of a model name that names its vendor ("openai/gpt-5.5").
_PROVIDER_ALIASES: dict[str, str] = {
    "openai": "openai",
    "open ai": "openai",
    "azure": "azure",
    "azure openai": "azure",
    "anthropic": "anthropic",
    "claude": "anthropic",
    "google": "google",
    "gemini": "google",
    "google gemini": "google",
    "google-gla": "google",
    "google-vertex": "google",
    "vertex": "google",
    "vertex ai": "google",
    "vertex_ai": "google",
    "mistral": "mistral",
    "mistralai": "mistral",
    "groq": "groq",
    "x-ai": "x-ai",
    "xai": "x-ai",
    "deepseek": "deepseek",
    "cohere": "cohere",
    "meta": "meta",
    "meta-llama": "meta",
    "moonshotai": "moonshotai",
    "z-ai": "zai",
    "zai": "zai",
    "perplexity": "perplexity",
    "together": "together",
    "together_ai": "together",
    "cerebras": "cerebras",
    "ollama": "ollama",
    "openrouter": "openrouter",
}

_ROUTERS: Final = frozenset({"openrouter", "litellm", "kilo"})
"""Providers that pass calls on to the vendor a `vendor/model` name names, at its prices."""
_MAKERS: Final = frozenset(
    {"openai", "anthropic", "google", "x-ai", "mistral", "deepseek", "cohere", "meta",
     "moonshotai", "zai"}
)  # fmt: skip
"""Providers that serve their own models: one named beside another maker's `vendor/model`
name is an assumption (Codex's "openai" for whatever `turn_context.model` names)."""
_YIELDS: Final = _ROUTERS | _MAKERS | {"unknown"}
"""A record's provider that gives way to the vendor its model's name names."""


def infer_provider(model: str) -> str:
    """The provider a model name implies; "unknown" when nothing matches."""
    name = model.lower().rsplit("/", 1)[-1]
    for prefix, provider in _PROVIDER_PREFIXES:
        if name.startswith(prefix):
            return provider
    return "unknown"


def normalize_provider(name: str | None, model: str = "", default: str = "unknown") -> str:
    """A provider as a record spells it ("OpenAI", "Claude", None) → normalized id; when
    it names none, what the model implies, else `default` (e.g. the one provider a tool
    talks to)."""
    if name:
        key = name.strip().lower()
        if key in _PROVIDER_ALIASES:
            return _PROVIDER_ALIASES[key]
        if key:
            return key
    inferred = infer_provider(model)
    return default if inferred == "unknown" else inferred


def split_model(model: str) -> tuple[str | None, str]:
    """A model name that names its vendor → (that provider, the bare model); (None, model)
    for a name that names none.

    OpenRouter, LiteLLM and the tools behind them (Codex's `turn_context.model`) write
    `vendor/model`: "openai/gpt-5.5" → ("openai", "gpt-5.5"). A router's prefix goes
    first ("openrouter/x-ai/grok-4" → ("x-ai", "grok-4"); "openrouter/auto" →
    ("openrouter", "auto")); after a vendor's or a host's prefix the rest is the model as
    written ("groq/openai/gpt-oss-120b" → ("groq", "openai/gpt-oss-120b"), Groq's name
    for it). A prefix that names no provider we know stays part of the name ("vendor/x",
    "accounts/fireworks/models/…").
    """
    named: str | None = None
    while "/" in model:
        head, _, rest = model.partition("/")
        provider = _PROVIDER_ALIASES.get(head.strip().lower())
        rest = rest.strip()
        if provider is None or not rest:
            break
        named, model = provider, rest
        if provider not in _ROUTERS:
            break
    return named, model


def provider_and_model(
    provider: str | None, model: str, default: str = "unknown"
) -> tuple[str, str]:
    """The provider and model of a call, decided here for every format (issue 12).

    The provider as the record spells it (`normalize_provider`); a model named
    `vendor/model` (`split_model`) is the vendor's bare model, so a call reads
    "openai/gpt-5.5", never "openai/openai/gpt-5.5", and is priced as "gpt-5.5". The
    vendor wins over a record's provider that is none, a router or a model maker (whose
    own API serves its own models only). A host that serves other vendors' models under
    their `vendor/model` names (Groq's "openai/gpt-oss-120b", Azure, a company gateway)
    keeps the name whole: it billed the call, at its price for that name (the pricer
    falls back to the vendor's bare model where genai-prices does not know it).
    """
    if "/" not in model:
        return normalize_provider(provider, model, default), model
    vendor, bare = split_model(model)
    if vendor is None:
        return normalize_provider(provider, model, default), model
    if provider and provider.strip():
        own = normalize_provider(provider)
        if own not in _YIELDS:
            return own, model
    return vendor, bare


def parse_ts(value: Any, tz: tzinfo) -> datetime | None:
    """A record's timestamp → aware UTC datetime; naive values are read in `tz`.

    Accepts ISO 8601 (with `Z`, offsets, or none), and epoch seconds/milliseconds.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (ValueError, OverflowError, OSError):
            return None
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=tz)
    try:
        return dt.astimezone(UTC)
    except (ValueError, OverflowError):
        return None


def call_time(
    value: Any,
    ctx: ParseContext,
    name: str = "timestamp",
    read: Callable[[Any, tzinfo], datetime | None] = parse_ts,
) -> tuple[datetime, int]:
    """The time of a call and its flags, from the record's `value` (read by `read`).

    - missing (absent, null, blank): the file's mtime, flagged FLAG_TS_FROM_MTIME;
    - present but unreadable: BadValue ("unreadable timestamp …"), never the mtime: a
      time the record states wrongly is not a missing one;
    - outside [ctx.earliest, ctx.latest]: BadValue ("timestamp … out of range"): epoch 0,
      a year-9999 placeholder or a skewed clock would land in a period it never cost.

    A datetime `value` is a time the adapter derived itself (e.g. from a directory name):
    only its range is checked. Raises BadValue without a time and without an mtime.
    Only the time of the call goes through here, not other times a record carries.
    """
    ts: datetime | None = None
    if type(value) is str and value.endswith("Z") and read is parse_ts:
        # The common case (Claude Code, Codex, the spool), kept fast: a backfill reads
        # millions of "…Z" stamps, which parse straight to UTC.
        try:
            ts = datetime.fromisoformat(value)
        except ValueError:
            ts = None
    if ts is None:
        if value is None or (isinstance(value, str) and not value.strip()):
            if ctx.mtime is None:
                raise BadValue(f"no {name} and no file mtime to stand in for it")
            mtime = utc(ctx.mtime)
            _check_range(mtime, ctx, "file mtime", mtime)
            return mtime, FLAG_TS_FROM_MTIME
        if isinstance(value, datetime):
            ts = utc(value)
        else:
            try:
                ts = read(value, ctx.tz)
            except (ValueError, ArithmeticError, OSError):  # e.g. an epoch of 1e300
                ts = None
            if ts is None:
                raise BadValue(f"unreadable timestamp: {name} = {shown(value)}")
    if ts < ctx.earliest or (ctx.latest is not None and ts > ctx.latest):
        _check_range(ts, ctx, name, value)
    return ts, 0


def _check_range(ts: datetime, ctx: ParseContext, name: str, value: Any) -> None:
    """Raise BadValue when `ts` lies outside [ctx.earliest, ctx.latest]."""
    if ts < ctx.earliest:
        bound = f"before {ctx.earliest.isoformat()}"
    elif ctx.latest is not None and ts > ctx.latest:
        bound = f"after {ctx.latest.isoformat()}"
    else:
        return
    raise BadValue(f"timestamp out of range: {name} = {shown(value)} is {bound}")


MAX_COUNT: Final = MAX_TOKENS
"""The most one record may count (events.MAX_TOKENS: 10**15, so sums stay int64 too)."""
MAX_COST: Final = MAX_COST_USD
"""The most one record may cost (events.MAX_COST_USD: a million dollars)."""

_THOUSANDS = re.compile(r"[,_\s]")


def count(value: Any, name: str, *, strings: bool = False) -> int:
    """A token (or call) count → int; 0 when missing (None).

    A count is a non-negative whole number up to MAX_COUNT: an int, or a float without a
    fractional part (3865.0). With `strings` (formats whose tool writes counts as text:
    CSV cells, log lines), a numeric string is one too ("3,865"; blank: missing).
    Anything else (negative, fractional, over MAX_COUNT, NaN, a bool, a non-numeric
    string, a string where the tool writes numbers) raises BadValue: the record is
    bad, not a call of 0 tokens or of a truncated count.
    """
    if value is None:
        return 0
    number: int | float
    if isinstance(value, bool):
        raise BadValue(f"{name}: {value!r} is not a token count (a boolean)")
    if isinstance(value, int | float):
        number = value
    elif isinstance(value, str) and strings:
        text = _THOUSANDS.sub("", value)
        if not text:
            return 0
        try:
            number = int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                raise BadValue(f"{name}: {shown(value)} is not a token count") from None
    else:
        raise BadValue(f"{name}: {shown(value)} is not a token count")
    if isinstance(number, float) and not (math.isfinite(number) and number.is_integer()):
        raise BadValue(f"{name}: {shown(value)} is not a token count (not a whole number)")
    if number < 0:
        raise BadValue(f"{name}: {shown(value)} is not a token count (negative)")
    if number > MAX_COUNT:
        raise BadValue(f"{name}: {shown(value)} is not a token count (over 10**15)")
    return int(number)


def cost(value: Any, name: str) -> Decimal | None:
    """A cost the record reports in USD (a number or a decimal string, "$0.01" too).

    None when missing (null, blank). Raises BadValue for one that is unreadable,
    negative, NaN, infinite or absurd (over MAX_COST for one record).
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    amount = decimal_from_json(value)
    if amount is None:
        raise BadValue(f"{name}: {shown(value)} is not a cost")
    if not amount.is_finite():
        raise BadValue(f"{name}: {shown(value)} is not a cost (not finite)")
    if amount < 0:
        raise BadValue(f"{name}: {shown(value)} is not a cost (negative)")
    if amount > MAX_COST:
        raise BadValue(f"{name}: {shown(value)} is not a cost (over $1,000,000)")
    return amount


def model_name(value: Any, name: str = "model") -> str | None:
    """A model as the record names it; None when missing (absent, null, blank).

    A model that is no string (5, a list, an object) raises BadValue: unlike a missing
    one, it is no place for a format's fallback model.
    """
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    raise BadValue(f"{name}: {shown(value)} is not a model name")


def fallback_model(model: str | None, fallback: str, tags: dict[str, str]) -> str:
    """The model a call is counted under: `model`, else the format's `fallback`, with the
    tag `model_fallback=true` added to `tags` (the model, and so the price, is a guess)."""
    if model:
        return model
    tags["model_fallback"] = "true"
    return fallback


def json_object(value: Any, name: str) -> dict[str, Any] | None:
    """An object a record holds (its usage, its tokens); None when missing (null).

    Anything else (a number, a string, a list) raises BadValue naming `name`: the record
    is bad, not one without usage.
    """
    if value is None or isinstance(value, dict):
        return value
    raise BadValue(f"{name}: {shown(value)} is not an object")


def token_counts(values: Mapping[str, Any], *, strings: bool = False) -> TokenCounts:
    """The six counts of a record that spells them by UsageEvent's own names (`count`:
    missing is 0, a bad one raises BadValue naming the field)."""
    counts = {name: count(values.get(name), name, strings=strings) for name in TOKEN_FIELDS}
    return cast(TokenCounts, counts)  # TOKEN_FIELDS are TokenCounts' keys


def record_event(
    ctx: ParseContext,
    offset: int,
    when: tuple[datetime, int],
    model: str,
    *,
    key: str | None = None,
    provider: str | None = None,
    default_provider: str = "unknown",
    source: str | None = None,
    operation: str | None = None,
    input_tokens: int = 0,
    output_tokens: int = 0,
    cache_read_tokens: int = 0,
    cache_write_tokens: int = 0,
    cache_write_1h_tokens: int = 0,
    reasoning_tokens: int = 0,
    calls: int = 1,
    cost_basis: CostBasis = "unpriced",
    reported_cost: Decimal | None = None,
    tags: dict[str, str] | None = None,
) -> UsageEvent:
    """The event of the record at `offset`, built the same way in every format.

    `when` is what `call_time` gave: the time and its flags. The key is the record's own
    (`key`) or else its place in the file (`line_key`); provider and model are
    `provider_and_model`'s (the provider as the record spells it, the vendor a
    `vendor/model` name names, what the model implies, else `default_provider`); the
    source is the configured one unless the record names its own; `origin` points at the
    record. The rest are UsageEvent's fields by name (and default), values already
    checked: a `TokenCounts` or `docs.InputOutput` passes on as `**counts`.
    """
    ts, flags = when
    provider, model = provider_and_model(provider, model, default_provider)
    return UsageEvent(
        key or line_key(ctx, offset), ts, source or ctx.source, provider, model, operation,
        input_tokens, output_tokens, cache_read_tokens, cache_write_tokens,
        cache_write_1h_tokens, reasoning_tokens, calls, None, cost_basis, reported_cost, None,
        {} if tags is None else tags, origin(ctx, offset), flags,
    )  # fmt: skip


# `record_event` and the Claude Code adapter build events positionally: three times faster
# than by keyword, and they run for every call of a backfill. This guard turns a
# reordered UsageEvent into an import error rather than events with fields swapped.
_POSITIONAL: Final = (
    "key", "ts", "source", "provider", "model", "operation", "input_tokens",
    "output_tokens", "cache_read_tokens", "cache_write_tokens", "cache_write_1h_tokens",
    "reasoning_tokens", "calls", "cost", "cost_basis", "reported_cost", "priced_cost",
    "tags", "origin", "flags",
)  # fmt: skip
if tuple(f.name for f in dataclasses.fields(UsageEvent)) != _POSITIONAL:
    raise ImportError("UsageEvent's fields changed: update sources.common._POSITIONAL")


def shown(value: Any) -> str:
    """A value in a message: as the record wrote it, cut to a readable length."""
    text = value.isoformat() if isinstance(value, datetime) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def iter_lines(data: bytes, base_offset: int) -> Iterator[tuple[int, bytes]]:
    """(absolute file offset, line without its `\\n` or `\\r\\n`) for each line of `data`."""
    offset = base_offset
    for line in io.BytesIO(data):  # splits at b"\n" only, in C, one line at a time
        start, offset = offset, offset + len(line)
        yield start, _without_terminator(line)


def json_lines(
    data: bytes, base_offset: int, decode: Callable[[bytes], T], *, bom: bool = False
) -> Iterator[tuple[int, T | ParseError]]:
    """(offset, `decode(line)`) for each non-blank line; a line it rejects is a ParseError.

    `decode` raises ValueError (msgspec's DecodeError is one) for a line that is no JSON;
    that line is reported and the next one read, so one bad record costs only itself.
    With `bom`, a UTF-8 byte-order mark opening the file is dropped (Windows tools).

    A line is decoded with its terminator, which JSON reads as white space: cutting it
    off first would cost a copy of every line, a good part of this loop's time.
    """
    offset = base_offset
    for line in io.BytesIO(data):
        start, offset = offset, offset + len(line)
        if bom and start == 0 and line.startswith(_BOM):
            line = line[len(_BOM) :]
        if not line or line.isspace():
            continue
        try:
            value: T | ParseError = decode(line)
        except ValueError as exc:
            value = _rejected(start, line, decode, exc)
        yield start, value


def struct_lines(kind: type[S]) -> Callable[[bytes], S | None]:
    """A `decode` for `json_lines` into the msgspec Struct `kind`, which declares only the
    fields a format reads (msgspec skips the rest unbuilt); None for JSON of another shape
    (not an object, a declared field of the wrong type): nothing the format counts."""
    import msgspec  # here: `status` and `report` use this module without loading msgspec

    decode = msgspec.json.Decoder(kind).decode
    other_shape = msgspec.ValidationError

    def line(data: bytes) -> S | None:
        try:
            return decode(data)
        except other_shape:
            return None

    return line


def parse_lines(
    ctx: ParseContext,
    state: State,
    data: bytes,
    decode: Callable[[bytes], T],
    build: Callable[[ParseContext, State, int, T], Outcome],
) -> ParseResult:
    """The result of the JSON lines in `data` (`json_lines`, `collect`) of a format whose
    lines carry state on to the next ones (a session id, the current model):
    `build(ctx, state, offset, record)` moves a copy of `state`, the result's."""
    state = dict(state)
    return collect(state, json_lines(data, ctx.base_offset, decode), partial(build, ctx, state))


def _without_terminator(line: bytes) -> bytes:
    if line.endswith(b"\n"):
        line = line[:-1]
    return line[:-1] if line.endswith(b"\r") else line


def _rejected(
    offset: int, line: bytes, decode: Callable[[bytes], object], exc: ValueError
) -> ParseError:
    """The error of a line `decode` refused, worded for the line without its terminator.

    Decoding the terminator too moves the positions a message names and turns e.g. a
    string cut at the end of the line from "truncated" into "invalid character"; the
    second decode (of bad lines only) keeps the message about the line as written.
    """
    try:
        decode(_without_terminator(line))
    except ValueError as again:
        exc = again
    return ParseError(offset, f"invalid JSON: {exc}")
