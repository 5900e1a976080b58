"""Helpers the seed-tool adapters share: whole JSON documents and the record lists inside
them, content keys, JSONL records, token splits, fixed default paths.

The seed tools (studio, haiku, openai-tracker, image-describer, qc) write small files in
a handful of shapes; what they have in common lives here so each adapter reads as the
rules of its own format. Everything here is pure: bytes and values in, values out.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import PurePath
from typing import Any, TypedDict, TypeVar

from monitor.sources.base import (
    IncompleteDocument,
    Outcome,
    ParseContext,
    ParseError,
    ParseResult,
    State,
    guarded,
)
from monitor.sources.common import count, json_lines

_Kind = TypeVar("_Kind", list[Any], dict[str, Any])


def fixed_paths(*globs: str) -> Callable[[], list[str]]:
    """A format's `default_paths` where its tool writes to the same places everywhere."""
    return lambda: list(globs)


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


def object_document(
    state: State, data: bytes, what: str, build: Callable[[dict[str, Any]], Outcome]
) -> ParseResult:
    """The result of a whole-file document that is one record, a JSON object (`what` names
    it: "an OpenCode message"): what `build(doc)` gives, a bad value in it the record's
    ParseError (offset 0), as is a document that is no object."""
    doc = load_document(data)
    result = ParseResult(state=state)
    if not isinstance(doc, dict):
        result.errors.append(ParseError(0, f"expected a JSON object ({what})"))
    else:
        result.add(guarded(0, build, doc))
    return result


def member(doc: Any, name: str, kind: type[_Kind], not_an_object: str) -> _Kind | ParseError | None:
    """`doc[name]`, the part of a JSON-object document that holds its records.

    None when the document has none (yet): nothing to count, nothing wrong. A
    ParseError (offset 0) when the document is no object (`not_an_object` says what it
    should be) or the member is not of `kind`.
    """
    if not isinstance(doc, dict):
        return ParseError(0, not_an_object)
    found = doc.get(name)
    if found is None or isinstance(found, kind):
        return found
    return ParseError(0, f"{name} is not {'a list' if kind is list else 'an object'}")


def document_records(
    found: list[Any] | ParseError | None, what: str, missing: str = ""
) -> Iterator[tuple[int, dict[str, Any] | ParseError]]:
    """(index, record) of a document's list of records (`found`, as `member` gives it).

    A record that is no JSON object is a ParseError at its index ("session is not a JSON
    object"). A document without a usable list gives its own ParseError; one without
    any list gives nothing, unless the format requires one: then `missing` says why.
    """
    if found is None and missing:
        found = ParseError(0, missing)
    if isinstance(found, ParseError):
        yield found.offset, found
        return
    for index, record in enumerate(found or ()):
        if isinstance(record, dict):
            yield index, record
        else:
            yield index, ParseError(index, f"{what} is not a JSON object")


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


def json_records(
    data: bytes, base_offset: int
) -> Iterator[tuple[int, dict[str, Any] | ParseError]]:
    """The JSON object of each non-blank line, or a `ParseError` for a line that is none.

    The seed tools write their logs with Python's `json`, so that is what reads them
    back (it takes what they may write and msgspec refuses: NaN, a BOM on any line).
    """
    for offset, record in json_lines(data, base_offset, json.loads, bom=True):
        if isinstance(record, dict | ParseError):
            yield offset, record
        else:
            yield offset, ParseError(offset, f"expected a JSON object, got {type(record).__name__}")


def default_model(ctx: ParseContext, fallback: str = "unknown") -> str:
    """The model of records that name none: the source's `default_model` option, else `fallback`."""
    return text(ctx.options.get("default_model")) or fallback


def first(mapping: Mapping[str, Any], *names: str) -> Any:
    """The value of the first of `names` that is present and not null."""
    return first_item(mapping, *names)[1]


def first_item(mapping: Mapping[str, Any], *names: str) -> tuple[str, Any]:
    """(name, value) of the first of `names` present and not null; (names[0], None) if none.

    The name goes into the message when the value is bad."""
    for name in names:
        value = mapping.get(name)
        if value is not None:
            return name, value
    return names[0], None


def text_tags(record: Mapping[str, Any], fields: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Tags from a record's text fields, (tag, field) pairs in order; a field without text
    (`text`: missing, blank) gives no tag."""
    return {tag: value for tag, field in fields if (value := text(record.get(field)))}


def text(value: Any) -> str | None:
    """A non-empty string field, else None (numbers become their text: ids are often ints)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


class InputOutput(TypedDict):
    """A call's two counts by UsageEvent's names, to pass on as `**tokens`."""

    input_tokens: int
    output_tokens: int


def split_tokens(
    record: Mapping[str, Any],
    prompt: tuple[str, ...],
    completion: tuple[str, ...],
    total: tuple[str, ...] = ("total_tokens",),
    *,
    where: str = "",
) -> InputOutput | None:
    """Input and output from whichever of the three counts `record` has; None if none.

    Each count is read from the first of its names present (e.g. `prompt_tokens`, else
    `input_tokens`) and must be one (`count`, numbers only: the seed tools write JSON
    numbers); a bad one raises BadValue, its name prefixed by `where` ("OpenAI."). A
    record with only a total cannot be split: it is counted as input, so the tokens are
    not lost (the price of such a call is a guess either way).
    """
    tokens_in, tokens_out, whole = (
        _count_of(record, names, where) for names in (prompt, completion, total)
    )
    if tokens_in is None and tokens_out is None:
        return None if whole is None else InputOutput(input_tokens=whole, output_tokens=0)
    if tokens_in is None:
        tokens_in = max(0, whole - (tokens_out or 0)) if whole is not None else 0
    if tokens_out is None:
        tokens_out = max(0, whole - tokens_in) if whole is not None else 0
    return InputOutput(input_tokens=tokens_in, output_tokens=tokens_out)


def _count_of(record: Mapping[str, Any], names: tuple[str, ...], where: str) -> int | None:
    name, value = first_item(record, *names)
    return None if value is None else count(value, where + name)


def ancestor(path: str, level: int) -> str:
    """Name of the directory `level` steps above the file (1 = its own dir); "" if none."""
    parents = PurePath(path).parents
    if not 1 <= level <= len(parents):
        return ""
    return parents[level - 1].name
