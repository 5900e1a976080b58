"""Small parsing helpers the adapters share: lines, timestamps, token counts, providers."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, tzinfo
from typing import Any, Final, TypeVar

from monitor.events import FLAG_TS_FROM_MTIME, utc
from monitor.sources.base import ParseContext, ParseError

T = TypeVar("T")

TOKEN_FIELDS: Final = (
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "reasoning_tokens",
)
"""UsageEvent's token counts, in its field order: the names records spell them by."""

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

# How tools spell providers → our normalized names (genai-prices provider ids).
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
    "vertex": "google",
    "vertex ai": "google",
    "mistral": "mistral",
    "groq": "groq",
    "x-ai": "x-ai",
    "xai": "x-ai",
    "deepseek": "deepseek",
    "ollama": "ollama",
    "openrouter": "openrouter",
}


def infer_provider(model: str) -> str:
    """The provider a model name implies; "unknown" when nothing matches."""
    name = model.lower().rsplit("/", 1)[-1]
    for prefix, provider in _PROVIDER_PREFIXES:
        if name.startswith(prefix):
            return provider
    return "unknown"


def normalize_provider(name: str | None, model: str = "") -> str:
    """A provider as a record spells it ("OpenAI", "Claude", None) → normalized id."""
    if name:
        key = name.strip().lower()
        if key in _PROVIDER_ALIASES:
            return _PROVIDER_ALIASES[key]
        if key:
            return key
    return infer_provider(model)


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


def ts_or_mtime(ts: datetime | None, ctx: ParseContext) -> tuple[datetime, int] | None:
    """A record's time and flags: its own, else the file's mtime flagged FLAG_TS_FROM_MTIME.

    None only when neither exists: the caller reports the record instead of inventing
    a time.
    """
    if ts is not None:
        return ts, 0
    if ctx.mtime is not None:
        return utc(ctx.mtime), FLAG_TS_FROM_MTIME
    return None


_THOUSANDS = re.compile(r"[,_\s]")


def to_int(value: Any) -> int:
    """A token count as tools write it (int, float, "3,865", None) → int; 0 when absent.

    Raises ValueError for a number that is no count (NaN, infinite, "1e400")."""
    if value is None or isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return _float_int(value)
    if isinstance(value, str):
        text = _THOUSANDS.sub("", value)
        if not text:
            return 0
        try:
            return int(text)
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                return 0
            return _float_int(number)
    return 0


def _float_int(value: float) -> int:
    """NaN and infinities are no count: a ValueError the adapter reports as a bad record."""
    try:
        return int(value)
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"not a token count: {value!r}") from exc


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
