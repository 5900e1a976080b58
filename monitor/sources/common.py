"""Small parsing helpers the adapters share: timestamps, token counts, providers."""

from __future__ import annotations

import re
from datetime import UTC, datetime, tzinfo
from typing import Any

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
