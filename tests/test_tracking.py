"""`monitor.track`: each provider's real response shape lands in the ledger, priced.

The responses are written by hand after each provider's documented response format
(no SDK is a dependency). Every test runs the real path: track() appends to the spool
of a temporary config, then `Ingestor.scan` with the real pricer fills the ledger.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import genai_prices
import pytest

import monitor
from monitor.config import load_config
from monitor.events import UsageEvent
from monitor.ingest import Ingestor
from monitor.ledger import Ledger
from monitor.pricing import Pricer
from monitor.tracking import TrackingError, timed, track, usage_record

REPO = Path(__file__).resolve().parent.parent
TS = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)

OPENAI_CHAT: dict[str, Any] = {
    "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
    "object": "chat.completion",
    "created": 1741570283,
    "model": "gpt-4o-2024-08-06",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "The image shows a wooden boardwalk through a meadow.",
                "refusal": None,
                "annotations": [],
            },
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 1117,
        "completion_tokens": 46,
        "total_tokens": 1163,
        "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    },
    "service_tier": "default",
    "system_fingerprint": "fp_fc9f1d7035",
}

OPENAI_REASONING: dict[str, Any] = {
    **OPENAI_CHAT,
    "id": "chatcmpl-reasoning-1",
    "model": "o4-mini",
    "usage": {
        "prompt_tokens": 320,
        "completion_tokens": 1850,
        "total_tokens": 2170,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 1536, "audio_tokens": 0},
    },
}

OPENAI_RESPONSES: dict[str, Any] = {
    "id": "resp_67ccd3a9da748190baa7f1570fe91ac604becb25c45c1d41",
    "object": "response",
    "created_at": 1741476777,
    "status": "completed",
    "error": None,
    "incomplete_details": None,
    "instructions": None,
    "max_output_tokens": None,
    "model": "gpt-4.1-2025-04-14",
    "output": [
        {
            "type": "message",
            "id": "msg_67ccd3acc8d48190a77525dc6de64b4104becb25c45c1d41",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Three findings…", "annotations": []}],
        }
    ],
    "parallel_tool_calls": True,
    "previous_response_id": None,
    "reasoning": {"effort": None, "summary": None},
    "store": True,
    "temperature": 1.0,
    "text": {"format": {"type": "text"}},
    "tool_choice": "auto",
    "tools": [],
    "top_p": 1.0,
    "truncation": "disabled",
    "usage": {
        "input_tokens": 2328,
        "input_tokens_details": {"cached_tokens": 2048},
        "output_tokens": 421,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 2749,
    },
    "user": None,
    "metadata": {},
}

ANTHROPIC_MESSAGE: dict[str, Any] = {
    "id": "msg_01XFDUDYJgAACzvnptvVoYEL",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [{"type": "text", "text": "Here is the summary of chapter 3…"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 50,
        "cache_creation_input_tokens": 3000,
        "cache_read_input_tokens": 20000,
        "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 2000},
        "output_tokens": 700,
        "server_tool_use": None,
        "service_tier": "standard",
    },
}

GEMINI_REST: dict[str, Any] = {
    "candidates": [
        {
            "content": {"parts": [{"text": "The label is misaligned by 2 mm."}], "role": "model"},
            "finishReason": "STOP",
            "index": 0,
        }
    ],
    "usageMetadata": {
        "promptTokenCount": 12000,
        "candidatesTokenCount": 800,
        "totalTokenCount": 14000,
        "cachedContentTokenCount": 8000,
        "thoughtsTokenCount": 1200,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 12000}],
        "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": 8000}],
    },
    "modelVersion": "gemini-2.5-flash",
    "responseId": "mVSyaJ7TOeOGz7IPq5qF-Ak",
}

# google-genai's GenerateContentResponse.model_dump(): snake_case, None for absent counts.
GEMINI_SDK_DUMP: dict[str, Any] = {
    "sdk_http_response": {"headers": {"content-type": "application/json"}, "body": None},
    "candidates": [{"content": {"parts": [{"text": "…"}], "role": "model"}, "index": 0}],
    "create_time": None,
    "model_version": "gemini-2.5-pro",
    "prompt_feedback": None,
    "response_id": "Zb6yaKqXL5yOz7IP7tG3wQk",
    "usage_metadata": {
        "cache_tokens_details": None,
        "cached_content_token_count": None,
        "candidates_token_count": 300,
        "candidates_tokens_details": None,
        "prompt_token_count": 1000,
        "prompt_tokens_details": [{"modality": "TEXT", "token_count": 1000}],
        "thoughts_token_count": 500,
        "tool_use_prompt_token_count": None,
        "total_token_count": 1800,
        "traffic_type": None,
    },
    "automatic_function_calling_history": [],
    "parsed": None,
}


class PydanticLike:
    """What the openai / anthropic / google-genai SDKs return: a model with model_dump()."""

    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    def model_dump(self) -> dict[str, Any]:
        copy: dict[str, Any] = json.loads(json.dumps(self._data))
        return copy


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[monitor]\ntimezone = "UTC"\nstate_dir = "{tmp_path}/state"\n')
    return path


def ingest(config_file: Path) -> list[UsageEvent]:
    config = load_config(config_file)
    with Ledger(config.ledger_path, config.tz, config.timezone_name) as ledger:
        Ingestor(config.sources, ledger, Pricer(config.prices)).scan()
        return list(ledger.iter_events())


def tracked(config_file: Path, response: Any, **kw: Any) -> UsageEvent:
    assert track(response, config=config_file, ts=TS, strict=True, **kw) is response
    (event,) = ingest(config_file)
    return event


def micro_usd(n: str) -> Decimal:
    return Decimal(n) / 1_000_000


def test_openai_chat_completion_lands_with_cached_input_priced_lower(config_file: Path) -> None:
    e = tracked(config_file, OPENAI_CHAT, operation="describe_image", tags={"image": "a.jpg"})
    assert (e.provider, e.model, e.operation) == ("openai", "gpt-4o-2024-08-06", "describe_image")
    assert (e.input_tokens, e.cache_read_tokens, e.output_tokens) == (1117, 1024, 46)
    assert e.tags == {"image": "a.jpg"}
    assert e.ts == TS
    assert e.cost_basis == "priced"
    # 93 uncached × $2.50 + 1024 cached × $1.25 + 46 × $10 per MTok
    assert e.cost == micro_usd("1972.5")


def test_openai_reasoning_tokens_are_part_of_output(config_file: Path) -> None:
    e = tracked(config_file, OPENAI_REASONING)
    assert (e.input_tokens, e.output_tokens, e.reasoning_tokens) == (320, 1850, 1536)
    assert e.cost == micro_usd("8492")  # 320 × $1.10 + 1850 × $4.40


def test_openai_responses_api_lands_with_cached_input(config_file: Path) -> None:
    e = tracked(config_file, OPENAI_RESPONSES)
    assert (e.model, e.input_tokens, e.cache_read_tokens, e.output_tokens) == (
        "gpt-4.1-2025-04-14", 2328, 2048, 421,
    )  # fmt: skip
    assert e.cost == micro_usd("4952")  # 280 × $2 + 2048 × $0.50 + 421 × $8


def test_anthropic_cache_reads_and_writes_are_added_to_input(config_file: Path) -> None:
    e = tracked(config_file, ANTHROPIC_MESSAGE)
    assert e.provider == "anthropic"
    assert e.input_tokens == 50 + 3000 + 20000
    assert (e.cache_read_tokens, e.cache_write_tokens, e.cache_write_1h_tokens) == (
        20000, 3000, 2000,
    )  # fmt: skip
    # 50 × $3 + 1000 5-min writes × $3.75 + 2000 1-hour writes × $6 + 20000 reads × $0.30
    # + 700 × $15 per MTok
    assert e.cost == micro_usd("32400")


def test_gemini_thoughts_are_added_to_output(config_file: Path) -> None:
    e = tracked(config_file, GEMINI_REST, source="qc-backend")
    assert (e.source, e.provider, e.model) == ("qc-backend", "google", "gemini-2.5-flash")
    assert (e.input_tokens, e.cache_read_tokens) == (12000, 8000)
    assert (e.output_tokens, e.reasoning_tokens) == (2000, 1200)
    assert e.cost == micro_usd("6440")  # 4000 × $0.30 + 8000 × $0.03 + 2000 × $2.50


def test_gemini_python_sdk_object_with_snake_case_keys(config_file: Path) -> None:
    e = tracked(config_file, PydanticLike(GEMINI_SDK_DUMP))
    assert (e.model, e.input_tokens, e.output_tokens, e.reasoning_tokens) == (
        "gemini-2.5-pro", 1000, 800, 500,
    )  # fmt: skip
    assert e.cost == micro_usd("9250")  # 1000 × $1.25 + 800 × $10


def test_sdk_objects_become_dicts_through_model_dump_or_attributes(config_file: Path) -> None:
    with_attributes = SimpleNamespace(
        id="msg_attr",
        type="message",
        model="claude-sonnet-4-5-20250929",
        usage=SimpleNamespace(
            input_tokens=10,
            output_tokens=5,
            cache_read_input_tokens=100,
            cache_creation_input_tokens=0,
            cache_creation=SimpleNamespace(ephemeral_1h_input_tokens=0),
        ),
    )
    dumped = usage_record(PydanticLike(ANTHROPIC_MESSAGE))
    assert usage_record(ANTHROPIC_MESSAGE) == dumped
    assert usage_record(with_attributes)["input_tokens"] == 110


@pytest.mark.parametrize(
    ("response", "provider_id", "flavor"),
    [
        (OPENAI_CHAT, "openai", "chat"),
        (OPENAI_REASONING, "openai", "chat"),
        (OPENAI_RESPONSES, "openai", "responses"),
        (ANTHROPIC_MESSAGE, "anthropic", "default"),
        (GEMINI_REST, "google", "default"),
    ],
    ids=["chat", "reasoning", "responses", "anthropic", "gemini"],
)
def test_normalization_agrees_with_genai_prices_extractors(
    response: dict[str, Any], provider_id: str, flavor: str
) -> None:
    theirs = genai_prices.extract_usage(response, provider_id=provider_id, api_flavor=flavor).usage
    ours = usage_record(response)
    assert ours.get("input_tokens", 0) == (theirs.input_tokens or 0)
    assert ours.get("output_tokens", 0) == (theirs.output_tokens or 0)
    assert ours.get("cache_read_tokens", 0) == (theirs.cache_read_tokens or 0)
    assert ours.get("cache_write_tokens", 0) == (theirs.cache_write_tokens or 0)


def test_tracking_the_same_response_twice_counts_once(config_file: Path) -> None:
    track(OPENAI_CHAT, config=config_file, ts=TS)
    track(OPENAI_CHAT, config=config_file, ts=TS)
    (event,) = ingest(config_file)
    assert event.key == "spool:openai:chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG"


def test_openai_compatible_api_takes_the_provider_the_model_implies() -> None:
    deepseek = {**OPENAI_CHAT, "model": "deepseek-chat"}
    assert usage_record(deepseek)["provider"] == "deepseek"
    assert usage_record({**OPENAI_CHAT, "model": "my-finetune"})["provider"] == "openai"
    assert usage_record(OPENAI_CHAT, provider="Azure")["provider"] == "azure"


def test_bare_usage_object_with_explicit_model() -> None:
    record = usage_record(ANTHROPIC_MESSAGE["usage"], model="claude-haiku-4-5")
    assert (record["model"], record["input_tokens"], record["output_tokens"]) == (
        "claude-haiku-4-5", 23050, 700,
    )  # fmt: skip


def test_response_without_usage_is_logged_not_raised(
    config_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    no_usage = {"id": "x", "model": "gpt-4o", "choices": []}
    with caplog.at_level(logging.WARNING, logger="llm_monitor.track"):
        assert track(no_usage, config=config_file) is no_usage
    assert "no token usage" in caplog.text
    assert not (load_config(config_file).spool_dir).exists()
    with pytest.raises(TrackingError, match="no token usage"):
        track(no_usage, config=config_file, strict=True)
    with pytest.raises(TrackingError, match="pass model"):
        usage_record({"usage": {"prompt_tokens": 1, "completion_tokens": 1}})


def test_timed_decorator_records_the_duration_as_a_tag(config_file: Path) -> None:
    @timed(operation="summarize", tags={"run": "7"}, config=config_file, strict=True)
    def summarize() -> dict[str, Any]:
        return ANTHROPIC_MESSAGE

    assert summarize() is ANTHROPIC_MESSAGE
    (e,) = ingest(config_file)
    assert e.operation == "summarize"
    assert e.tags["run"] == "7"
    assert int(e.tags["duration_ms"]) >= 0


def test_timed_works_on_coroutines_and_as_a_context_manager(config_file: Path) -> None:
    @timed(operation="classify", config=config_file, strict=True)
    async def classify() -> dict[str, Any]:
        await asyncio.sleep(0.01)
        return GEMINI_REST

    assert asyncio.run(classify()) is GEMINI_REST
    with timed(operation="answer", config=config_file, strict=True) as t:
        t.track(OPENAI_RESPONSES)
    with pytest.raises(RuntimeError), timed(operation="failed", config=config_file) as t:
        t.track(OPENAI_CHAT)
        raise RuntimeError("the call failed after all")
    events = {e.operation: e for e in ingest(config_file)}
    assert set(events) == {"classify", "answer"}
    assert int(events["classify"].tags["duration_ms"]) >= 10


def test_many_threads_tracking_at_once_write_exactly_n_intact_lines(config_file: Path) -> None:
    threads, per_thread = 16, 40

    def work(t: int) -> None:
        for i in range(per_thread):
            response = {**OPENAI_CHAT, "id": f"chatcmpl-{t}-{i}"}
            track(response, config=config_file, ts=TS, tags={"thread": t}, strict=True)

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    spool = load_config(config_file).spool_dir
    lines = [ln for f in spool.iterdir() for ln in f.read_bytes().splitlines()]
    assert len(lines) == threads * per_thread
    assert len({json.loads(ln)["id"] for ln in lines}) == threads * per_thread
    assert len(ingest(config_file)) == threads * per_thread


@pytest.mark.e2e
def test_several_processes_tracking_at_once_lose_nothing(config_file: Path) -> None:
    script = (
        "import sys, monitor\n"
        "for i in range(50):\n"
        "    r = {'id': f'p{sys.argv[1]}-{i}', 'model': 'gpt-4o',\n"
        "         'usage': {'prompt_tokens': 10, 'completion_tokens': 1}}\n"
        f"    monitor.track(r, config={str(config_file)!r}, strict=True)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [subprocess.Popen([sys.executable, "-c", script, str(n)], env=env) for n in range(3)]
    assert [p.wait(timeout=30) for p in procs] == [0, 0, 0]
    events = ingest(config_file)
    assert len(events) == 150
    assert sum(e.input_tokens for e in events) == 1500


def run_python(code: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


HEAVY = ("monitor.tracking", "genai_prices", "msgspec", "apprise", "textual")


@pytest.mark.e2e
def test_import_monitor_stays_cheap() -> None:
    out = run_python(f"import sys, monitor; print([m for m in {HEAVY!r} if m in sys.modules])")
    assert out.strip() == "[]"


@pytest.mark.e2e
def test_track_imports_no_pricing_nor_ui(config_file: Path) -> None:
    code = (
        "import sys, monitor\n"
        f"r = {{'model': 'gpt-4o', 'usage': {{'prompt_tokens': 1, 'completion_tokens': 1}}}}\n"
        f"monitor.track(r, config={str(config_file)!r}, strict=True)\n"
        "print([m for m in ('genai_prices', 'apprise', 'textual') if m in sys.modules])\n"
        "print(callable(monitor.track))\n"
    )
    assert run_python(code).split() == ["[]", "True"]


def test_monitor_track_is_the_tracking_function(config_file: Path) -> None:
    track_fn: Callable[..., Any] = monitor.track
    track_fn(OPENAI_CHAT, config=config_file, ts=TS, strict=True)
    track_fn(GEMINI_REST, config=config_file, ts=TS, strict=True)
    assert callable(monitor.track)  # the submodule import did not shadow the function
    assert {e.model for e in ingest(config_file)} == {"gpt-4o-2024-08-06", "gemini-2.5-flash"}
