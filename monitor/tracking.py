"""Record usage from your own code: `monitor.track(response)` after an SDK call.

`track` reads the usage an OpenAI (chat completions or responses API), Anthropic
(messages) or Gemini (generateContent) response carries, normalizes it to our event
fields (input includes cache reads and writes, output includes reasoning) and appends
one native record to the spool, which the daemon (or the next `scan`) ingests and
prices. Nothing here talks to the daemon, prices a call or imports an SDK: only tokens,
model and tags go into the record, so a script pays for the standard library, msgspec
and the config loader — not genai-prices.

Response shapes (the SDK object is first turned into its dict: `model_dump()`,
`to_dict()`, else `__dict__`, nested objects likewise):
- OpenAI chat: `usage.prompt_tokens` (cache included; `prompt_tokens_details.
  cached_tokens` is the cached part), `completion_tokens` (reasoning included;
  `completion_tokens_details.reasoning_tokens`). Also what OpenAI-compatible APIs
  (DeepSeek, Groq, OpenRouter, Azure) return, and embeddings (no completion tokens).
- OpenAI responses: `usage.input_tokens` / `input_tokens_details.cached_tokens`,
  `output_tokens` / `output_tokens_details.reasoning_tokens`: same semantics.
- Anthropic: `usage.input_tokens` EXCLUDES cache reads and writes, which come as
  `cache_read_input_tokens` and `cache_creation_input_tokens`: they are added; 1-hour
  cache writes are `cache_creation.ephemeral_1h_input_tokens`.
- Gemini: `usageMetadata` (REST, camelCase) or `usage_metadata` (Python SDK):
  `promptTokenCount` (+ `toolUsePromptTokenCount`) includes `cachedContentTokenCount`;
  `thoughtsTokenCount` is NOT part of `candidatesTokenCount`: it is added to output.
These rules mirror genai-prices' own extractors for the same providers.

The response's id becomes the record's `id` (key `spool:<provider>:<id>`), so
tracking the same response twice counts it once.

`track` is a monitoring hook: by default a problem (no usage in the response, an
unwritable spool) is logged as a warning and the response returned unchanged — the
caller's program goes on. `strict=True` raises `TrackingError` instead.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Literal, TypedDict, TypeVar, Unpack, cast

from monitor.sources.common import normalize_provider

log = logging.getLogger("llm_monitor.track")

Shape = Literal["openai-chat", "openai-responses", "anthropic", "gemini"]
_SHAPE_PROVIDER: Final[dict[str, str]] = {
    "openai-chat": "openai",
    "openai-responses": "openai",
    "anthropic": "anthropic",
    "gemini": "google",
}
_ANTHROPIC_CACHE_KEYS: Final = (
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "cache_creation",
)
_OPENAI_COUNTS: Final[dict[str, tuple[str, str]]] = {
    "openai-chat": ("prompt_tokens", "completion_tokens"),
    "openai-responses": ("input_tokens", "output_tokens"),
}
"""The names of a call's input and output counts in each OpenAI API's usage object."""
_MAX_DEPTH: Final = 12
_R = TypeVar("_R")
_F = TypeVar("_F", bound=Callable[..., Any])


class TrackingError(ValueError):
    """The response carries no usage we can read, or the record could not be written."""


class CallInfo(TypedDict, total=False):
    """What the caller may say about a call: the keyword arguments of `timed`, and with
    `ts` (`RecordInfo`) those of `track` and `usage_record`. None means "not said"."""

    source: str | None
    """The source the event counts under (default: the spool source's name)."""
    operation: str | None
    tags: Mapping[str, object] | None
    """Values become strings; None values are left out."""
    model: str | None
    """Overrides the response's model (needed for a bare usage object)."""
    provider: str | None
    """Overrides the provider otherwise inferred from the model (else the shape's own)."""


class RecordInfo(CallInfo, total=False):
    ts: datetime | None
    """When the call happened; default: when the record is written."""


def _refuse_unknown(info: Mapping[str, object], known: frozenset[str], fn: str) -> None:
    """The TypeError a mistyped keyword (`operaton=`) would raise with named parameters."""
    unknown = sorted(info.keys() - known)
    if unknown:
        raise TypeError(f"{fn}() got unexpected keyword argument(s): {', '.join(unknown)}")


# ------------------------------------------------------------ response → plain values


def as_plain(obj: Any, depth: int = 0) -> Any:
    """An SDK object (pydantic model, proto message, plain class) → dicts, lists, scalars."""
    if depth > _MAX_DEPTH or obj is None or isinstance(obj, str | int | float | bool):
        return obj
    if isinstance(obj, Mapping):
        return {str(k): as_plain(v, depth + 1) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [as_plain(v, depth + 1) for v in obj]
    for method in ("model_dump", "to_dict"):
        fn = getattr(obj, method, None)
        if callable(fn):
            try:
                return as_plain(fn(), depth + 1)
            except Exception:  # a foreign to_dict may want arguments or fail: try the next way
                continue
    attrs = getattr(obj, "__dict__", None)
    if isinstance(attrs, dict):
        return {k: as_plain(v, depth + 1) for k, v in attrs.items() if not k.startswith("_")}
    return obj


def _get(d: Any, *names: str) -> Any:
    """The first of `names` present in mapping `d` (camelCase and snake_case spellings)."""
    if not isinstance(d, Mapping):
        return None
    for name in names:
        if d.get(name) is not None:
            return d[name]
    return None


def _count(d: Any, *names: str) -> int:
    value = _get(d, *names)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return max(0, int(value))


def detect_shape(doc: Mapping[str, Any]) -> Shape | None:
    """Which provider's response (or bare usage object) `doc` is; None without usage."""
    if _get(doc, "usageMetadata", "usage_metadata") is not None:
        return "gemini"
    usage = doc.get("usage")
    if not isinstance(usage, Mapping):
        usage = doc  # a bare usage object: track(response.usage, model=…)
    if _get(usage, "promptTokenCount", "prompt_token_count") is not None:
        return "gemini"
    if "prompt_tokens" in usage or "completion_tokens" in usage:
        return "openai-chat"
    if "input_tokens" in usage or "output_tokens" in usage:
        if any(k in usage for k in _ANTHROPIC_CACHE_KEYS) or doc.get("type") == "message":
            return "anthropic"
        if doc.get("object") == "response" or "input_tokens_details" in usage:
            return "openai-responses"
        # Without cache fields both readings give the same numbers.
        return "anthropic" if str(doc.get("model", "")).startswith("claude") else "openai-responses"
    return None


def _tokens(shape: Shape, doc: Mapping[str, Any]) -> dict[str, int]:
    if shape == "gemini":
        meta = _get(doc, "usageMetadata", "usage_metadata")
        if not isinstance(meta, Mapping):
            meta = doc
        thoughts = _count(meta, "thoughtsTokenCount", "thoughts_token_count")
        return {
            "input_tokens": _count(meta, "promptTokenCount", "prompt_token_count")
            + _count(meta, "toolUsePromptTokenCount", "tool_use_prompt_token_count"),
            "output_tokens": _count(meta, "candidatesTokenCount", "candidates_token_count")
            + thoughts,
            "cache_read_tokens": _count(
                meta, "cachedContentTokenCount", "cached_content_token_count"
            ),
            "reasoning_tokens": thoughts,
        }
    usage = doc.get("usage")
    if not isinstance(usage, Mapping):
        usage = doc
    if shape in _OPENAI_COUNTS:
        # Both OpenAI APIs: the same usage object, its two counts named differently.
        prompt, completion = _OPENAI_COUNTS[shape]
        details_in = usage.get(f"{prompt}_details")
        details_out = usage.get(f"{completion}_details")
        return {
            "input_tokens": _count(usage, prompt),
            "output_tokens": _count(usage, completion),
            "cache_read_tokens": _count(details_in, "cached_tokens"),
            "cache_write_tokens": _count(details_in, "cache_write_tokens"),
            "reasoning_tokens": _count(details_out, "reasoning_tokens"),
        }
    cache_read = _count(usage, "cache_read_input_tokens")
    cache_write = _count(usage, "cache_creation_input_tokens")
    return {
        "input_tokens": _count(usage, "input_tokens") + cache_read + cache_write,
        "output_tokens": _count(usage, "output_tokens"),
        "cache_read_tokens": cache_read,
        "cache_write_tokens": cache_write,
        "cache_write_1h_tokens": _count(usage.get("cache_creation"), "ephemeral_1h_input_tokens"),
    }


def usage_record(response: Any, **info: Unpack[RecordInfo]) -> dict[str, Any]:
    """The spool record (UsageEvent field names) for one SDK response; pure.

    Provider: the one given, else what the model name implies, else the shape's own
    (an OpenAI-shaped response from an unknown model counts as openai). Raises
    TrackingError when the response holds no usage or names no model.
    """
    _refuse_unknown(info, RecordInfo.__optional_keys__, "usage_record")
    doc = as_plain(response)
    if not isinstance(doc, Mapping):
        raise TrackingError(f"not a response object: {type(response).__name__}")
    shape = detect_shape(doc)
    if shape is None:
        raise TrackingError("the response carries no token usage (usage / usageMetadata)")
    name = info.get("model") or _get(doc, "model", "modelVersion", "model_version")
    if not isinstance(name, str) or not name.strip():
        raise TrackingError("the response names no model: pass model=…")
    name = name.strip()
    prov = normalize_provider(info.get("provider"), name, _SHAPE_PROVIDER[shape])
    record: dict[str, Any] = {"model": name, "provider": prov}
    record.update({k: v for k, v in _tokens(shape, doc).items() if v})
    response_id = _get(doc, "id", "responseId", "response_id")
    if isinstance(response_id, str) and response_id:
        record["id"] = f"{prov}:{response_id}"
    for field in ("source", "operation"):
        if info.get(field):
            record[field] = info[field]
    tags = info.get("tags")
    if tags:
        record["tags"] = {str(k): str(v) for k, v in tags.items() if v is not None}
    if info.get("ts") is not None:
        record["ts"] = info["ts"]
    return record


# ------------------------------------------------------------ writing


_spool_dirs: dict[tuple[str | None, ...], Path] = {}
_spool_lock = threading.Lock()


def spool_dir(config: str | os.PathLike[str] | None = None) -> Path:
    """The spool directory, found through the same config lookup as the CLI.

    Memoized per config argument and the environment variables the lookup reads, so a
    loop of `track` calls loads the config once.
    """
    env = os.environ
    key = (
        os.fspath(config) if config is not None else None,
        *(env.get(v) for v in ("LLM_MONITOR_CONFIG", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "HOME")),
    )
    with _spool_lock:
        found = _spool_dirs.get(key)
    if found is None:
        from monitor.config import load_config

        found = load_config(config).spool_dir
        with _spool_lock:
            _spool_dirs[key] = found
    return found


def track(
    response: _R,
    *,
    config: str | os.PathLike[str] | None = None,
    strict: bool = False,
    **info: Unpack[RecordInfo],
) -> _R:
    """Record one API call from its SDK response (or dict form); returns `response`.

    So it wraps a call inline: `reply = track(client.messages.create(…), operation="x")`.
    `info`: what `RecordInfo` names (source, operation, tags, model, provider, ts);
    `config`: the config file (default: the CLI's lookup); `strict`: raise TrackingError
    instead of logging a warning.
    """
    from monitor.config import ConfigError
    from monitor.spool_writer import append_record

    try:
        append_record(spool_dir(config), usage_record(response, **info))
    except (TrackingError, ConfigError, OSError, ValueError) as exc:
        if strict:
            if isinstance(exc, TrackingError):
                raise
            raise TrackingError(f"usage not recorded: {exc}") from exc
        log.warning("llm-monitor: usage not recorded: %s", exc)
    return response


# ------------------------------------------------------------ timing


class timed:
    """Time an API call and track its response, with `duration_ms` among the tags.

    As a decorator (sync or async functions) the return value is the response:

        @timed(operation="summarize")
        def summarize(text): return client.messages.create(…)

    As a context manager, hand the response over with `.track(response)`:

        with timed(operation="summarize") as t:
            t.track(client.messages.create(…))

    An exception inside records nothing (there is no response to read).
    """

    def __init__(
        self,
        *,
        config: str | os.PathLike[str] | None = None,
        strict: bool = False,
        **info: Unpack[CallInfo],
    ) -> None:
        _refuse_unknown(info, CallInfo.__optional_keys__, "timed")
        self._info = info
        self._config = config
        self._strict = strict
        self._started: float | None = None
        self._response: Any = None
        self._has_response = False

    def track(self, response: _R) -> _R:
        """Remember the response of the timed call; it is tracked when the block ends."""
        self._response = response
        self._has_response = True
        return response

    def __enter__(self) -> timed:
        self._started = time.perf_counter()
        self._has_response = False
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None and self._has_response and self._started is not None:
            self._record(self._response, time.perf_counter() - self._started)

    def _record(self, response: Any, seconds: float) -> None:
        info = self._info.copy()
        info["tags"] = {**(info.get("tags") or {}), "duration_ms": str(round(seconds * 1000))}
        track(response, config=self._config, strict=self._strict, **info)

    def __call__(self, fn: _F) -> _F:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                started = time.perf_counter()
                response = await fn(*args, **kwargs)
                self._record(response, time.perf_counter() - started)
                return response

            return cast(_F, run_async)

        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            response = fn(*args, **kwargs)
            self._record(response, time.perf_counter() - started)
            return response

        return cast(_F, run)


__all__ = [
    "CallInfo",
    "RecordInfo",
    "TrackingError",
    "as_plain",
    "spool_dir",
    "timed",
    "track",
    "usage_record",
]
