"""The line and time helpers every JSON-lines adapter reads through."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import msgspec
import pytest

from monitor.events import FLAG_TS_FROM_MTIME, UsageEvent
from monitor.sources.base import ParseContext, ParseError
from monitor.sources.common import TOKEN_FIELDS, iter_lines, json_lines, ts_or_mtime

_DECODE = msgspec.json.Decoder().decode


def make_ctx(mtime: datetime | None = None) -> ParseContext:
    return ParseContext(source="s", path="/logs/a.jsonl", file_id="1:2:ab", tz=UTC, mtime=mtime)


def test_lines_carry_absolute_offsets_without_their_terminators() -> None:
    data = b'{"a":1}\r\n\n{"b":2}\n'
    assert list(iter_lines(data, 100)) == [(100, b'{"a":1}'), (109, b""), (110, b'{"b":2}')]


def test_blank_lines_are_skipped_and_records_keep_their_offsets() -> None:
    data = b'{"a":1}\r\n\n   \r\n{"b":2}\n'
    assert list(json_lines(data, 7, _DECODE)) == [(7, {"a": 1}), (22, {"b": 2})]


def test_a_line_that_is_no_json_is_reported_and_the_next_one_read() -> None:
    lines = [b"{oops\n", b'{"s":"\xff"}\n', b'{"b":2}\n']  # the second is not UTF-8
    (first, bad), (second, invalid), last = json_lines(b"".join(lines), 0, _DECODE)
    assert isinstance(bad, ParseError) and isinstance(invalid, ParseError)
    assert (bad.offset, invalid.offset) == (first, second) == (0, len(lines[0]))
    assert bad.message.startswith("invalid JSON: ") and invalid.message.startswith("invalid JSON: ")
    assert last == (len(lines[0] + lines[1]), {"b": 2})


def test_a_rejected_line_is_described_as_written_without_its_terminator() -> None:
    for decode, line in ((_DECODE, b'{"a":"cut'), (json.loads, b'{"a":')):
        ((_, error),) = json_lines(line + b"\r\n", 0, decode)
        with pytest.raises(ValueError) as raised:
            decode(line)
        assert error == ParseError(0, f"invalid JSON: {raised.value}")


def test_a_bom_is_dropped_only_at_the_start_of_the_file_and_only_when_asked() -> None:
    data = b'\xef\xbb\xbf{"a":1}\n'
    assert list(json_lines(data, 0, _DECODE, bom=True)) == [(0, {"a": 1})]
    ((offset, kept),) = json_lines(data, 0, _DECODE)
    assert offset == 0 and isinstance(kept, ParseError)
    ((_, later),) = json_lines(data, 5, _DECODE, bom=True)
    assert isinstance(later, ParseError)
    assert list(json_lines(b"\xef\xbb\xbf\n", 0, json.loads, bom=True)) == []


def test_token_fields_are_usage_events_counts_in_field_order() -> None:
    names = [f.name for f in dataclasses.fields(UsageEvent)]
    first = names.index("input_tokens")
    assert tuple(names[first : first + len(TOKEN_FIELDS)]) == TOKEN_FIELDS


def test_a_record_without_time_takes_the_mtime_flagged_or_nothing() -> None:
    own = datetime(2026, 1, 2, 3, 4, tzinfo=UTC)
    mtime = datetime(2026, 1, 1, tzinfo=UTC)
    assert ts_or_mtime(own, make_ctx(mtime)) == (own, 0)
    assert ts_or_mtime(None, make_ctx(mtime)) == (mtime, FLAG_TS_FROM_MTIME)
    assert ts_or_mtime(None, make_ctx()) is None
