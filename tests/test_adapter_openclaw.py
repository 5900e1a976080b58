"""The openclaw adapter: pi's session entries with OpenClaw's model state, paths and tags."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from monitor.globs import Glob
from monitor.sources import get_format
from monitor.sources.base import ParseContext, ParseResult
from monitor.sources.locations import openclaw_paths
from monitor.sources.openclaw import FORMAT, parse
from tests.factories import parse_ctx
from tests.test_adapter_pi import assert_bad_alone, assert_priced, in_two_chunks

AGENTS = Path(__file__).resolve().parent.parent / "examples" / "openclaw" / "agents"
MAIN = AGENTS / "main" / "sessions" / "8f3c2d1e-6b4a-4e7d-9c15-2a0f8e7d6c5b.jsonl"
TRAJECTORY = MAIN.with_name("8f3c2d1e-6b4a-4e7d-9c15-2a0f8e7d6c5b.trajectory.jsonl")
ARCHIVED = (
    AGENTS
    / "research"
    / "sessions"
    / "c15a7e90-2d3b-4f48-8a6e-0b9c1d2e3f4a.jsonl.reset.2026-11-19T18-30-12.447Z"
)


def make_ctx(path: Path | str = MAIN, base_offset: int = 0) -> ParseContext:
    return parse_ctx(
        "openclaw",
        str(path),
        file_id="2049:5:beef",
        base_offset=base_offset,
        mtime=datetime(2026, 11, 20, 12, 0, tzinfo=UTC),
    )


def parse_file(path: Path) -> ParseResult:
    return parse(make_ctx(path), {}, path.read_bytes())


def reply_line(n: int, usage: dict[str, Any], **message: Any) -> bytes:
    """A reply as older OpenClaw lines (and ccusage's fixture) write it: no model, ms time."""
    body = {"role": "assistant", "usage": usage, "timestamp": 1795161521000 + n, **message}
    return json.dumps({"type": "message", "message": body}).encode() + b"\n"


def test_registry_names_this_format() -> None:
    assert get_format("openclaw") is FORMAT
    assert FORMAT.kind == "lines"


def test_example_agents_give_the_hand_totals() -> None:
    events = [e for path in (MAIN, TRAJECTORY, ARCHIVED) for e in parse_file(path).events]
    # main: two replies (the delivery-mirror echo has no usage); research: two replies;
    # the trajectory file holds run timings, no message entries.
    assert len(events) == len({e.key for e in events}) == 4
    assert_priced(events)
    assert (
        sum(e.input_tokens for e in events),
        sum(e.output_tokens for e in events),
        sum(e.cache_read_tokens for e in events),
        sum(e.cache_write_tokens for e in events),
    ) == (
        (1660 + 108928) + (420 + 110592) + (6 + 15420) + (8 + 15420 + 236),
        55 + 40 + 830 + 310,
        108928 + 110592 + 15420,
        15420 + 236,
    )
    assert sum((e.reported_cost or Decimal(0) for e in events), Decimal(0)) == Decimal("0.177516")
    assert {e.tags["agent"] for e in events} == {"main", "research"}


def test_a_reply_without_model_takes_the_model_snapshot_before_it() -> None:
    tool_call, answer = parse_file(MAIN).events
    assert (answer.provider, answer.model) == (tool_call.provider, tool_call.model)
    assert (answer.provider, answer.model) == ("openai-codex", "gpt-5.2")
    assert "model_fallback" not in answer.tags
    assert answer.tags == {
        "session": "8f3c2d1e-6b4a-4e7d-9c15-2a0f8e7d6c5b",
        "agent": "main",
        "project": "/home/user/.openclaw/workspace",
    }
    snapshot = {"type": "custom", "customType": "model-snapshot", "data": {"modelId": "gpt-5-mini"}}
    data = json.dumps(snapshot).encode() + b"\n" + reply_line(1, {"input": 9, "output": 3})
    (event,) = parse(make_ctx(), {}, data).events
    assert (event.model, event.ts) == ("gpt-5-mini", datetime(2026, 11, 20, 7, 58, 41, 1000, UTC))


def test_a_replys_own_model_id_wins_over_the_model_state() -> None:
    change = b'{"type":"model_change","provider":"anthropic","modelId":"claude-opus-4-5"}\n'
    own = reply_line(1, {"input": 9, "output": 3}, provider="openai", modelId="gpt-5.2-pro")
    (event,) = parse(make_ctx(), {}, change + own).events
    assert (event.provider, event.model) == ("openai", "gpt-5.2-pro")


def test_the_model_state_survives_a_cut_between_chunks() -> None:
    data = MAIN.read_bytes()
    whole = parse(make_ctx(), {}, data)
    for events, errors in in_two_chunks(parse, lambda at: make_ctx(base_offset=at), data):
        assert (events, errors) == (whole.events, whole.errors)


def test_a_transcript_archived_by_reset_counts_once_with_the_live_one() -> None:
    archived = parse_file(ARCHIVED).events
    live = parse(
        make_ctx(ARCHIVED.with_name(ARCHIVED.name.split(".reset")[0])), {}, ARCHIVED.read_bytes()
    )
    assert [e.key for e in live.events] == [e.key for e in archived]
    assert {e.tags["session"] for e in archived} == {"c15a7e90-2d3b-4f48-8a6e-0b9c1d2e3f4a"}


def test_reparsing_is_idempotent() -> None:
    once, again = parse_file(MAIN), parse_file(MAIN)
    assert (once.events, once.state) == (again.events, again.state)


def test_a_bad_model_snapshot_is_a_bad_record() -> None:
    good = reply_line(1, {"input": 9, "output": 3}, model="gpt-5.2")
    bad = b'{"type":"custom","customType":"model-snapshot","data":{"modelId":42}}\n'
    last = reply_line(3, {"input": 4, "output": 1}, model="gpt-5.2")
    assert_bad_alone(parse, make_ctx(), good, bad, last, "modelId: 42 is not a model name")


def test_a_negative_count_is_a_bad_record() -> None:
    good = reply_line(1, {"input": 9, "output": 3}, model="gpt-5.2")
    bad = reply_line(2, {"input": 9, "output": -3}, model="gpt-5.2")
    last = reply_line(3, {"input": 4, "output": 1}, model="gpt-5.2")
    assert_bad_alone(parse, make_ctx(), good, bad, last, "usage.output: -3")


def test_default_paths_follow_ccusage_then_openclaw() -> None:
    live, reset, deleted = "*.jsonl", "*.jsonl.reset.*[0-9Z]", "*.jsonl.deleted.*[0-9Z]"
    assert openclaw_paths({"OPENCLAW_DIR": "/a,/b/"}) == [
        f"{root}/agents/*/sessions/{name}"
        for root in ("/a", "/b")
        for name in (live, reset, deleted)
    ]
    state = {"OPENCLAW_STATE_DIR": "/srv/oc/", "OPENCLAW_HOME": "/ignored"}
    assert openclaw_paths(state)[0] == "/srv/oc/agents/*/sessions/*.jsonl"
    assert openclaw_paths({"CLAWDBOT_STATE_DIR": "/old"})[0] == "/old/agents/*/sessions/*.jsonl"
    homes = openclaw_paths({"OPENCLAW_HOME": "/home/svc"})[::3]
    assert homes == [
        f"/home/svc/{name}/agents/*/sessions/*.jsonl"
        for name in (".openclaw", ".clawdbot", ".moltbot", ".moldbot")
    ]
    assert openclaw_paths({})[0] == "~/.openclaw/agents/*/sessions/*.jsonl"


def test_default_paths_take_archived_transcripts_but_not_compressed_ones_or_locks() -> None:
    globs = [Glob(pattern) for pattern in openclaw_paths({"OPENCLAW_DIR": "/oc"})]
    sessions = "/oc/agents/main/sessions/8f3c2d1e"
    taken = {
        f"{sessions}.jsonl": True,
        f"{sessions}.jsonl.reset.2026-11-19T18-30-12.447Z": True,
        f"{sessions}.jsonl.deleted.2026-04-13T00-53-49.392Z": True,
        f"{sessions}.jsonl.deleted.1795111800123": True,
        f"{sessions}.jsonl.deleted.1795111800123.zst": False,
        f"{sessions}.jsonl.lock": False,
        "/oc/agents/main/sessions/sessions.json": False,
    }
    assert {path: any(g.matches(path) for g in globs) for path in taken} == taken
