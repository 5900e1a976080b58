"""The line, time and value helpers every adapter reads through."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import msgspec
import pytest

from monitor.events import FLAG_TS_FROM_MTIME, UsageEvent
from monitor.sources.base import BadValue, ParseContext, ParseError, guarded
from monitor.sources.common import (
    TOKEN_FIELDS,
    call_time,
    cost,
    count,
    iter_lines,
    json_lines,
    model_name,
    provider_and_model,
    record_event,
    split_model,
)
from tests.factories import LATEST, parse_ctx

_DECODE = msgspec.json.Decoder().decode

# Shared furniture of the adapter tests: the garbage issue 9 found stored as calls. (The
# upper bound the pipeline would set, now + 1 day, is pinned in tests.factories.LATEST.)
GARBAGE_COUNTS: dict[str, Any] = {
    "negative": -5,
    "abc": "abc",
    "true": True,
    "fraction": 12.7,
    "1e30": 1e30,
    "2**64": 2**64,
    "1e308": 1e308,
}
"""Token counts that make a record bad in every JSON format (`ids=list(GARBAGE_COUNTS)`)."""
BAD_TIMES: dict[str, tuple[str, str]] = {
    "year-9999": ("9999-06-01T00:00:00Z", "timestamp out of range"),
    "year-1970": ("1970-01-01T00:00:00Z", "timestamp out of range"),
    "unreadable": ("yesterday at noon", "unreadable timestamp"),
}
"""Times of a call that make a record bad: (value, what the error says)."""


def make_ctx(mtime: datetime | None = None, latest: datetime | None = LATEST) -> ParseContext:
    return parse_ctx(
        "s",
        "/logs/a.jsonl",
        file_id="1:2:ab",
        tz=timezone(timedelta(hours=1)),
        mtime=mtime,
        latest=latest,
    )


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


# -- counts ------------------------------------------------------------------------------

GOOD_COUNTS: list[tuple[Any, int]] = [
    (0, 0),
    (3865, 3865),
    (3865.0, 3865),  # a float without a fraction is a count
    (None, 0),  # missing: 0
    (10**15, 10**15),
]
BAD_COUNTS: list[tuple[Any, str]] = [
    (-5, "-5 is not a token count (negative)"),
    (-0.5, "not a whole number"),
    (12.7, "12.7 is not a token count (not a whole number)"),
    (1e30, "over 10**15"),
    (10**15 + 1, "over 10**15"),
    (2**63, "over 10**15"),
    (2**64, "18446744073709551616 is not a token count (over 10**15)"),
    (1e308, "over 10**15"),
    (float("inf"), "not a whole number"),
    (float("nan"), "not a whole number"),
    (True, "True is not a token count (a boolean)"),
    (False, "a boolean"),
    ("abc", "'abc' is not a token count"),
    ("12", "'12' is not a token count"),  # a string where the tool writes numbers
    ([1], "[1] is not a token count"),
    ({"n": 1}, "is not a token count"),
]


@pytest.mark.parametrize(("value", "expected"), GOOD_COUNTS)
def test_a_count_is_a_whole_number_from_zero_to_10_to_the_15(value: Any, expected: int) -> None:
    assert count(value, "input_tokens") == expected
    assert count(value, "input_tokens", strings=True) == expected


@pytest.mark.parametrize(("value", "fragment"), BAD_COUNTS)
def test_garbage_count_is_a_bad_value_naming_field_and_value(value: Any, fragment: str) -> None:
    with pytest.raises(BadValue) as raised:
        count(value, "input_tokens")
    assert str(raised.value).startswith("input_tokens: ")
    assert fragment in str(raised.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("3,865", 3865), (" 12 ", 12), ("1_000", 1000), ("3865.0", 3865), ("", 0), ("  ", 0)],
)
def test_numeric_strings_are_counts_where_the_format_writes_text(text: str, expected: int) -> None:
    assert count(text, "prompt_tokens", strings=True) == expected


@pytest.mark.parametrize(
    "text", ["abc", "-5", "12.7", "1e30", "1e400", "nan", "9223372036854775808"]
)
def test_non_count_strings_are_bad_even_where_the_format_writes_text(text: str) -> None:
    with pytest.raises(BadValue, match=r"^prompt_tokens: .* is not a token count"):
        count(text, "prompt_tokens", strings=True)


# -- costs and models --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.0123, Decimal("0.0123")),
        ("0.25", Decimal("0.25")),
        ("$1,234.50", Decimal("1234.50")),
        (0, Decimal(0)),
        (None, None),
        ("", None),
    ],
)
def test_a_reported_cost_is_a_finite_non_negative_amount(value: Any, expected: Any) -> None:
    assert cost(value, "cost_usd") == expected


@pytest.mark.parametrize(
    "value", [-0.01, "-1", float("nan"), float("inf"), "Infinity", 1e9, 1e300, "cheap", True, [1]]
)
def test_garbage_cost_is_a_bad_value(value: Any) -> None:
    with pytest.raises(BadValue, match=r"^cost_usd: .* is not a cost"):
        cost(value, "cost_usd")


def test_a_model_is_a_string_and_a_missing_one_is_none() -> None:
    assert model_name(" gpt-4o ") == "gpt-4o"
    assert model_name(None) is None and model_name("") is None and model_name("  ") is None
    for wrong in (5, 4.0, ["gpt-4o"], {"name": "gpt-4o"}, True):
        with pytest.raises(BadValue, match=r"^model: .* is not a model name$"):
            model_name(wrong)


# -- provider and model: `vendor/model` names (issue 12) ---------------------------------


@pytest.mark.parametrize(
    ("provider", "model", "expected"),
    [
        ("openai", "openai/gpt-5.5", ("openai", "gpt-5.5")),  # Codex's turn_context.model
        (None, "openai/gpt-5.5", ("openai", "gpt-5.5")),
        (None, "google/gemini-2.5-pro", ("google", "gemini-2.5-pro")),
        (None, "anthropic/claude-sonnet-4", ("anthropic", "claude-sonnet-4")),
        (None, "x-ai/grok-4", ("x-ai", "grok-4")),
        (None, "mistralai/mistral-large", ("mistral", "mistral-large")),
        ("OpenAI", "OpenAI/GPT-5 ", ("openai", "GPT-5")),  # the model keeps its spelling
        ("Vertex AI", "google/gemini-2.5-pro", ("google", "gemini-2.5-pro")),  # same vendor
        # a router's prefix or provider gives way to the vendor the name names
        (None, "openrouter/openai/gpt-5", ("openai", "gpt-5")),
        ("openrouter", "anthropic/claude-sonnet-4", ("anthropic", "claude-sonnet-4")),
        ("unknown", "x-ai/grok-4", ("x-ai", "grok-4")),
        (None, "openrouter/auto", ("openrouter", "auto")),
        # a maker named beside another maker's model is an assumption (Codex's "openai")
        ("openai", "x-ai/grok-4", ("x-ai", "grok-4")),
        ("openai", "google/gemini-2.5-pro", ("google", "gemini-2.5-pro")),
        # a host serving another vendor's model under its `vendor/model` name keeps it
        ("groq", "openai/gpt-oss-120b", ("groq", "openai/gpt-oss-120b")),
        (None, "groq/openai/gpt-oss-120b", ("groq", "openai/gpt-oss-120b")),
        ("Azure", "openai/gpt-4o", ("azure", "openai/gpt-4o")),
        ("my-gateway", "anthropic/claude-sonnet-4", ("my-gateway", "anthropic/claude-sonnet-4")),
        # a prefix naming no provider we know is part of the name, shown once
        (None, "vendor/x", ("unknown", "vendor/x")),
        ("acme", "vendor/x", ("acme", "vendor/x")),
        (None, "accounts/fireworks/models/m1", ("unknown", "accounts/fireworks/models/m1")),
        (None, "openai/", ("unknown", "openai/")),
        # names without a prefix: as before
        (None, "gpt-5", ("openai", "gpt-5")),
        ("Claude", "claude-sonnet-4-5", ("anthropic", "claude-sonnet-4-5")),
        (None, "mystery", ("unknown", "mystery")),
    ],
)  # fmt: skip
def test_a_vendor_prefixed_model_is_the_vendors_bare_model(
    provider: str | None, model: str, expected: tuple[str, str]
) -> None:
    assert provider_and_model(provider, model) == expected


def test_split_model_strips_routers_then_one_vendor_or_host() -> None:
    assert split_model("openrouter/openrouter/google/gemini-2.5-pro") == (
        "google",
        "gemini-2.5-pro",
    )
    assert split_model("together_ai/meta-llama/Llama-3-70b") == (
        "together",
        "meta-llama/Llama-3-70b",
    )
    assert split_model("gpt-5") == (None, "gpt-5")


@pytest.mark.parametrize(
    ("kwargs", "model", "shown"),
    [
        ({"provider": "openai"}, "openai/gpt-5.5", "openai/gpt-5.5"),
        ({}, "google/gemini-2.5-pro", "google/gemini-2.5-pro"),
        ({"provider": "openai"}, "x-ai/grok-4", "x-ai/grok-4"),
        ({"provider": "groq"}, "openai/gpt-oss-120b", "groq/openai/gpt-oss-120b"),
        ({}, "vendor/x", "unknown/vendor/x"),
        ({"default_provider": "openai"}, "gpt-5", "openai/gpt-5"),
    ],
)
def test_every_adapters_events_name_the_vendor_once(
    kwargs: dict[str, str], model: str, shown: str
) -> None:
    when = (datetime(2026, 1, 2, tzinfo=UTC), 0)
    event = record_event(make_ctx(), 0, when, model, **kwargs)  # type: ignore[arg-type]
    assert f"{event.provider}/{event.model}" == shown


# -- the time of a call ------------------------------------------------------------------

MTIME = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-01-02T03:04:00Z", datetime(2026, 1, 2, 3, 4, tzinfo=UTC)),
        ("2026-01-02T03:04:00.500+02:00", datetime(2026, 1, 2, 1, 4, 0, 500000, tzinfo=UTC)),
        ("2026-01-02T04:04:00", datetime(2026, 1, 2, 3, 4, tzinfo=UTC)),  # naive: ctx.tz
        (" 2026-01-02T03:04:00Z ", datetime(2026, 1, 2, 3, 4, tzinfo=UTC)),
        (1767323040, datetime(2026, 1, 2, 3, 4, tzinfo=UTC)),  # epoch seconds
        (1767323040000, datetime(2026, 1, 2, 3, 4, tzinfo=UTC)),  # epoch milliseconds
        ("2020-01-01T00:00:00Z", datetime(2020, 1, 1, tzinfo=UTC)),  # the bounds are in range
        ("2026-12-01T00:00:00Z", LATEST),
    ],
)
def test_a_readable_time_in_range_is_the_calls_own(value: Any, expected: datetime) -> None:
    assert call_time(value, make_ctx(MTIME)) == (expected, 0)


@pytest.mark.parametrize("value", [None, "", "   "])
def test_a_missing_time_takes_the_mtime_flagged_or_is_bad_without_one(value: Any) -> None:
    assert call_time(value, make_ctx(MTIME)) == (MTIME, FLAG_TS_FROM_MTIME)
    with pytest.raises(BadValue, match="no timestamp and no file mtime"):
        call_time(value, make_ctx())


@pytest.mark.parametrize(
    "value",
    ["yesterday", "yesterday-ish", "2026-13-45T10:00:00", "2026-02-30", "2026-01-02T25:00Z",
     "1767323040", True, [2026], {"t": 1}, 1e20, 10**400, "9999-12-31T23:59:59-23:00",
     float("nan")],
)  # fmt: skip
def test_an_unreadable_time_is_bad_not_the_mtime(value: Any) -> None:
    with pytest.raises(BadValue, match=r"^unreadable timestamp: created = "):
        call_time(value, make_ctx(MTIME), "created")


@pytest.mark.parametrize(
    ("value", "bound"),
    [
        ("9999-01-01T00:00:00Z", "after 2026-12-01"),
        ("2026-12-01T00:00:01Z", "after 2026-12-01"),
        ("1970-01-01T00:00:00Z", "before 2020-01-01"),
        (0, "before 2020-01-01"),  # epoch 0
        ("2019-12-31T23:59:59Z", "before 2020-01-01"),
    ],
)
def test_a_time_out_of_range_is_bad(value: Any, bound: str) -> None:
    with pytest.raises(BadValue, match=rf"^timestamp out of range: timestamp = .* is {bound}"):
        call_time(value, make_ctx(MTIME))


def test_without_latest_there_is_no_upper_bound_and_earliest_is_configurable() -> None:
    far = datetime(9999, 1, 1, tzinfo=UTC)
    assert call_time("9999-01-01T00:00:00Z", make_ctx(latest=None)) == (far, 0)
    old = dataclasses.replace(make_ctx(), earliest=datetime(1999, 1, 1, tzinfo=UTC))
    assert call_time("2001-09-09T01:46:40Z", old)[0] == datetime(2001, 9, 9, 1, 46, 40, tzinfo=UTC)


def test_an_mtime_standing_in_must_be_in_range_too() -> None:
    with pytest.raises(BadValue, match="timestamp out of range: file mtime = 1970-01-01"):
        call_time(None, make_ctx(datetime(1970, 1, 1, tzinfo=UTC)))


def test_a_time_the_adapter_derived_is_only_range_checked() -> None:
    noon = datetime(2025, 10, 7, 12, tzinfo=timezone(timedelta(hours=2)))
    assert call_time(noon, make_ctx(MTIME), "workflow stamp") == (noon, 0)
    with pytest.raises(BadValue, match="workflow stamp = 1999-10-07T12:00:00"):
        call_time(noon.replace(year=1999), make_ctx(MTIME), "workflow stamp")


def test_a_bad_value_becomes_its_records_error_with_the_message_as_is() -> None:
    def build(value: Any) -> UsageEvent:
        count(value, "output_tokens")
        raise AssertionError("unreachable")

    assert guarded(7, build, -5) == ParseError(
        7, "output_tokens: -5 is not a token count (negative)"
    )

    def overflow() -> UsageEvent:
        raise OverflowError("too big")

    assert guarded(8, overflow) == ParseError(8, "unreadable value: too big")
