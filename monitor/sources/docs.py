"""Helpers the seed-tool adapters share: whole JSON documents, content keys, JSONL lines.

The seed tools (studio, haiku, openai-tracker, image-describer, qc) write small files in
a handful of shapes; what they have in common lives here so each adapter reads as the
rules of its own format. Everything here is pure: bytes and values in, values out.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import PurePath
from typing import Any

from monitor.events import FLAG_TS_FROM_MTIME, utc
from monitor.sources.base import IncompleteDocument, ParseContext, ParseError
from monitor.sources.common import parse_ts, to_int

_BOM = b"\xef\xbb\xbf"


def load_document(data: bytes) -> Any:
    """A whole-file JSON document; `IncompleteDocument` while it is not valid JSON yet.

    Tools rewrite these files in place (truncate, then write), so an empty or cut-off
    file is a write in progress, not an error. Windows tools may prepend a BOM.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:  # cut inside a multi-byte character
        raise IncompleteDocument(str(exc)) from None
    if not text.strip():
        raise IncompleteDocument("empty document")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise IncompleteDocument(str(exc)) from None


class ContentKeys:
    """Keys for id-less records of a rewritten document: a hash of the record's content.

    Position would break when a tool caps its history (drops the oldest records);
    content survives that. Identical records within one document are told apart by
    their occurrence count (`#0`, `#1`, …).
    """

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._seen: dict[str, int] = {}

    def __call__(self, record: Any) -> str:
        canonical = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        digest = hashlib.blake2b(canonical.encode(), digest_size=10).hexdigest()
        count = self._seen.get(digest, 0)
        self._seen[digest] = count + 1
        return f"{self._prefix}{digest}#{count}"


def iter_lines(data: bytes, base_offset: int) -> Iterator[tuple[int, bytes]]:
    """(absolute file offset, line without its `\\n` or `\\r\\n`) for each line of `data`."""
    pos, size = 0, len(data)
    while pos < size:
        end = data.find(b"\n", pos)
        if end < 0:
            end = size
        line = data[pos:end]
        if line.endswith(b"\r"):
            line = line[:-1]
        yield base_offset + pos, line
        pos = end + 1


def json_line(offset: int, line: bytes) -> dict[str, Any] | ParseError | None:
    """One JSONL record: the object, a `ParseError` for a bad line, None for a blank one."""
    if offset == 0 and line.startswith(_BOM):
        line = line[len(_BOM) :]
    if not line.strip():
        return None
    try:
        record = json.loads(line)
    except ValueError as exc:
        return ParseError(offset, f"invalid JSON: {exc}")
    if not isinstance(record, dict):
        return ParseError(offset, f"expected a JSON object, got {type(record).__name__}")
    return record


def record_time(value: Any, ctx: ParseContext) -> tuple[datetime, int] | None:
    """A record's timestamp and flags; the file's mtime (flagged) when it has none.

    None only when neither exists: the caller reports the record instead of inventing
    a time.
    """
    ts = parse_ts(value, ctx.tz)
    if ts is not None:
        return ts, 0
    if ctx.mtime is not None:
        return utc(ctx.mtime), FLAG_TS_FROM_MTIME
    return None


def first(mapping: Mapping[str, Any], *names: str) -> Any:
    """The value of the first of `names` that is present and not null."""
    for name in names:
        value = mapping.get(name)
        if value is not None:
            return value
    return None


def text(value: Any) -> str | None:
    """A non-empty string field, else None (numbers become their text: ids are often ints)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def split_tokens(prompt: Any, completion: Any, total: Any) -> tuple[int, int] | None:
    """(input, output) from whichever of the three counts a record has; None if none.

    A record with only a total cannot be split: it is counted as input, so the tokens
    are not lost (the price of such a call is a guess either way).
    """
    if prompt is None and completion is None:
        if total is None:
            return None
        return to_int(total), 0
    whole = to_int(total) if total is not None else None
    tokens_in = to_int(prompt) if prompt is not None else None
    tokens_out = to_int(completion) if completion is not None else None
    if tokens_in is None:
        tokens_in = max(0, whole - (tokens_out or 0)) if whole is not None else 0
    if tokens_out is None:
        tokens_out = max(0, whole - tokens_in) if whole is not None else 0
    return tokens_in, tokens_out


def ancestor(path: str, level: int) -> str:
    """Name of the directory `level` steps above the file (1 = its own dir); "" if none."""
    parents = PurePath(path).parents
    if not 1 <= level <= len(parents):
        return ""
    return parents[level - 1].name
