"""Codex counted exactly (issue 12): forks and subagents count only what they add after
the history they inherited, archived rollouts are never counted again, per-response
`token_usage_record` lines are used and never counted twice with the running totals.

The rollouts in examples/codex/ are shaped after codex-rs (a legacy-mode fork re-writes
its parent's header and history, re-stamped, after its own header; a subagent's copy
ends at `subagent_history_start_ordinal`; records precede the token_count that adds
them to the running total and are never copied into a child):

- P  sessions/2026/11/24/…-019ab6e1-….jsonl  a parent, Codex 0.58: totals T1, T2, T3;
- C  sessions/2026/11/24/…-019ab6fc-….jsonl  its fork at the end of P's first turn: P's
     header and first turn copied (totals T1, T2), then two answers of its own (T4, T5);
- Q  sessions/2026/11/27/…-019acb4d-….jsonl  Codex 0.153: a record per response, one of
     them a remote compaction the running total leaves out;
- S  sessions/2026/11/27/…-019acb52-….jsonl  a subagent Q spawned with its history
     (copied up to ordinal 17: Q's totals, not its records), two answers of its own;
- archived_sessions/…-0199a1b2-….jsonl       the 2026-11-20 rollout, archived.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from monitor.config import SourceConfig
from monitor.events import UsageEvent
from monitor.ingest import Ingestor
from monitor.ledger import Ledger
from monitor.pricing import Pricer
from monitor.sources.base import ParseContext, ParseResult, State
from monitor.sources.codex import parse
from tests.factories import parse_ctx

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "codex"
P = "019ab6e1-4c2d-7a10-9e3f-5b8c7d6e1f20"
C = "019ab6fc-8e41-7d52-b0a3-2c6f9e8d7a41"
Q = "019acb4d-2f6e-7b83-a1c5-7e9d0f2b4c68"
S = "019acb52-9a07-7c14-8e2b-3d5f6a7b8c90"
ARCHIVED = "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
PARENT = EXAMPLES / f"sessions/2026/11/24/rollout-2026-11-24T10-02-11-{P}.jsonl"
FORK = EXAMPLES / f"sessions/2026/11/24/rollout-2026-11-24T10-31-40-{C}.jsonl"
RECORDS = EXAMPLES / f"sessions/2026/11/27/rollout-2026-11-27T14-05-02-{Q}.jsonl"
SUBAGENT = EXAMPLES / f"sessions/2026/11/27/rollout-2026-11-27T14-06-02-{S}.jsonl"
ORIGINAL = EXAMPLES / f"sessions/2026/11/20/rollout-2026-11-20T09-14-03-{ARCHIVED}.jsonl"
ARCHIVED_COPY = EXAMPLES / f"archived_sessions/rollout-2026-11-20T09-14-03-{ARCHIVED}.jsonl"
EVERY_ROLLOUT = sorted(EXAMPLES.rglob("rollout-*.jsonl"))
SPAWNED = {"subagent": {"thread_spawn": {"parent_thread_id": "p", "depth": 1}}}

# Running totals as (input, cached, output, reasoning), written in the example files.
T2 = (25400, 11264, 1250, 640)  # P after its first turn: where C forked
T3 = (40100, 24448, 2010, 1088)  # P at its end
T4 = (39500, 24064, 1780, 896)  # C's own first answer, on top of T2
T5 = (56300, 38144, 2690, 1408)  # C at its end


def ctx_for(path: Path, base_offset: int = 0, file_id: str = "1:2:ff") -> ParseContext:
    return parse_ctx("codex", str(path), file_id=file_id, base_offset=base_offset, latest=None)


def read(path: Path) -> ParseResult:
    return parse(ctx_for(path), {}, path.read_bytes())


def counts(events: list[UsageEvent]) -> list[tuple[int, int, int, int, int]]:
    """(input, cached, cache write, output, reasoning) of each event."""
    return [
        (
            e.input_tokens,
            e.cache_read_tokens,
            e.cache_write_tokens,
            e.output_tokens,
            e.reasoning_tokens,
        )
        for e in events
    ]


def summed(events: list[UsageEvent]) -> tuple[int, ...]:
    return tuple(sum(column) for column in zip(*counts(events), strict=True))


def minus(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(x - y for x, y in zip(a, b, strict=True))


def rewritten(path: Path, change: Any) -> bytes:
    """The rollout at `path` with `change(record)` applied to each line's JSON."""
    lines = [json.loads(line) for line in path.read_bytes().splitlines()]
    return b"".join(json.dumps(change(record)).encode() + b"\n" for record in lines)


# -- a fork counts only what it added after its inherited prefix ------------------------------


def test_a_fork_counts_only_what_it_added_after_the_copied_history() -> None:
    result = read(FORK)
    assert result.errors == []
    # Before issue 12 the copy was counted again, under the parent's session: 56,300 input
    # tokens (all of T5). What C added is T5 - T2: its two own answers.
    four = [(i, c, o, r) for i, c, _, o, r in counts(result.events)]
    assert four == [minus(T4, T2), minus(T5, T4)]
    assert summed(result.events) == (30900, 26880, 0, 1440, 768)
    assert [e.tags["session"] for e in result.events] == [C, C]
    assert [e.key for e in result.events] == [
        f"codex:{C}:39500,24064,1780,896,0",
        f"codex:{C}:56300,38144,2690,1408,0",
    ]
    assert [e.model for e in result.events] == ["gpt-5-codex", "gpt-5-codex"]
    assert result.state["fork"] == P and "replay" not in result.state


def test_the_parent_alone_counts_its_own_totals() -> None:
    assert summed(read(PARENT).events) == (40100, 24448, 0, 2010, 1088)


def test_copied_rate_limits_are_not_read_as_new_readings() -> None:
    limits = read(FORK).limits
    # Three own token_count lines, two windows each; the parent's four copied lines
    # (re-stamped to the fork instant) are not readings of that instant.
    assert len(limits) == 6
    assert {s.used_percent for s in limits if s.window == "5h"} == {14.0}


def test_a_fork_that_does_not_name_its_parent_is_told_by_the_copied_header() -> None:
    def unnamed(record: dict[str, Any]) -> dict[str, Any]:
        record["payload"].pop("forked_from_id", None)
        return record

    result = parse(ctx_for(FORK), {}, rewritten(FORK, unnamed))
    assert counts(result.events) == counts(read(FORK).events)
    assert [e.tags["session"] for e in result.events] == [C, C]


def test_a_copied_burst_written_after_the_forks_own_header_is_still_the_copy() -> None:
    # The child's header at :00, the parent's history copied at :03 (a slow flush).
    meta = line("session_meta", {"id": "child", "forked_from_id": "p"}, "2026-11-27T13:00:00Z")
    header = line("session_meta", {"id": "p"}, "2026-11-27T13:00:03.000Z")
    copy = token_count((900, 0, 90, 0), (900, 0, 90, 0), "2026-11-27T13:00:03.002Z")
    own = token_count((1500, 512, 130, 0), (600, 512, 40, 0), "2026-11-27T13:00:11Z")
    events = parse(ctx_for(FORK), {}, meta + header + copy + own).events
    assert counts(events) == [(600, 512, 0, 40, 0)]


def test_a_subagent_spawned_without_history_counts_its_first_answer() -> None:
    meta = line("session_meta", {"id": "child", "source": SPAWNED}, "2026-11-27T13:00:00Z")
    first = token_count((4000, 0, 200, 64), (4000, 0, 200, 64), "2026-11-27T13:00:04Z")
    assert counts(parse(ctx_for(FORK), {}, meta + first).events) == [(4000, 0, 0, 200, 64)]


def test_an_own_record_ends_the_copied_prefix_at_once() -> None:
    # No line numbers, and the child's own answer lands within the burst's second: its
    # record says it is the child's, so the total after it is the child's too (its growth
    # beyond the record, 50 input tokens no record explains, counts).
    meta = line("session_meta", {"id": "child", "source": SPAWNED}, "2026-11-27T13:00:00Z")
    copy = token_count((900, 0, 90, 0), (900, 0, 90, 0), "2026-11-27T13:00:00.004Z")
    record = usage_record("child", "resp_c", (300, 0, 30, 0)).replace(
        b"13:00:04.000Z", b"13:00:00.700Z"
    )
    own = token_count((1250, 0, 125, 0), (350, 0, 35, 0), "2026-11-27T13:00:00.703Z")
    events = parse(ctx_for(FORK), {}, meta + copy + record + own).events
    assert [(e.key, counts([e])[0]) for e in events] == [
        ("codex:child:resp_c", (300, 0, 0, 30, 0)),
        ("codex:child:1250,0,125,0,0", (50, 0, 0, 5, 0)),
    ]


def test_the_parent_present_or_absent_gives_the_fork_the_same_totals(tmp_path: Path) -> None:
    both = ledger_sums(tmp_path / "both", [PARENT, FORK])
    alone = ledger_sums(tmp_path / "alone", [FORK])
    assert both[C] == alone[C] == (30900, 26880, 0, 1440, 768)
    assert both[P] == (40100, 24448, 0, 2010, 1088)
    assert set(both) == {P, C} and set(alone) == {C}


# -- a subagent: its copy ends at subagent_history_start_ordinal ------------------------------


def test_a_subagent_counts_its_own_responses_only() -> None:
    result = read(SUBAGENT)
    assert result.errors == []
    # Before issue 12: 43,350 input tokens under Q's session (Q's copied totals included).
    assert counts(result.events) == [(8400, 3072, 0, 350, 192), (11900, 8192, 0, 520, 320)]
    assert [e.key for e in result.events] == [
        f"codex:{S}:resp_5f6c4b7d2c9a1f3b5d6e8f0a2b4c6d7e",
        f"codex:{S}:resp_6a7d5c8e3d0b2a4c6e7f9a1b3c5d7e8f",
    ]
    assert {e.tags["session"] for e in result.events} == {S}
    assert {e.model for e in result.events} == {"gpt-5.1-codex-mini"}
    assert len(result.limits) == 6  # its own three token_count lines, not Q's copied ones


def test_a_subagent_without_line_numbers_is_told_apart_by_time() -> None:
    # Older builds write no ordinals: the copy is the burst stamped at the spawn.
    def unnumbered(record: dict[str, Any]) -> dict[str, Any]:
        record.pop("ordinal", None)
        record["payload"].pop("subagent_history_start_ordinal", None)
        return record

    result = parse(ctx_for(SUBAGENT), {}, rewritten(SUBAGENT, unnumbered))
    assert counts(result.events) == counts(read(SUBAGENT).events)


def test_a_subagent_of_totals_only_counts_the_growth_after_the_copy() -> None:
    # The same subagent written by a Codex before records: its totals alone tell.
    def recordless(record: dict[str, Any]) -> dict[str, Any] | None:
        return None if record["type"] == "token_usage_record" else record

    lines = [recordless(json.loads(line)) for line in SUBAGENT.read_bytes().splitlines()]
    data = b"".join(json.dumps(r).encode() + b"\n" for r in lines if r is not None)
    result = parse(ctx_for(SUBAGENT), {}, data)
    assert counts(result.events) == counts(read(SUBAGENT).events)
    assert [e.key for e in result.events] == [
        f"codex:{S}:31450,12672,1380,832,0",
        f"codex:{S}:43350,20864,1900,1152,0",
    ]


def test_the_parent_present_or_absent_gives_the_subagent_the_same_totals(tmp_path: Path) -> None:
    both = ledger_sums(tmp_path / "both", [RECORDS, SUBAGENT])
    alone = ledger_sums(tmp_path / "alone", [SUBAGENT])
    assert both[S] == alone[S] == (20300, 11264, 0, 870, 512)
    assert both[Q] == (66350, 22656, 1024, 3730, 960)


def test_a_rollout_that_continues_a_thread_counts_its_first_answer_not_the_thread() -> None:
    # A later page, or a fork that copied nothing: its totals start from the thread's.
    meta = line("session_meta", {"id": "child", "forked_from_id": "parent"}, "2026-11-27T13:00:00Z")
    own = token_count((52000, 40960, 2100, 900), (9000, 8192, 300, 128), "2026-11-27T13:00:09Z")
    more = token_count((60500, 48128, 2450, 1000), (8500, 7168, 350, 100), "2026-11-27T13:00:21Z")
    events = parse(ctx_for(FORK), {}, meta + own + more).events
    assert counts(events) == [(9000, 8192, 0, 300, 128), (8500, 7168, 0, 350, 100)]


# -- per-response records ----------------------------------------------------------------------


def test_records_are_counted_once_and_the_totals_add_nothing_they_cover() -> None:
    result = read(RECORDS)
    assert result.errors == []
    assert counts(result.events) == [
        (9800, 0, 0, 420, 256),
        (13250, 9600, 0, 610, 384),
        (15900, 13056, 1024, 380, 128),
        (21000, 0, 0, 1800, 0),  # the remote compaction: in no running total
        (6400, 0, 0, 520, 192),
    ]
    # Every response once: the running total (45,350 input tokens, all Codex 0.153 counted
    # before issue 12) is covered by the records and adds nothing.
    assert summed(result.events) == (66350, 22656, 1024, 3730, 960)
    assert all(e.key.startswith(f"codex:{Q}:resp_") for e in result.events)
    assert {e.model for e in result.events} == {"gpt-5.1-codex"}
    assert "recorded" not in result.state  # the compaction's record was taken in by the last total


def test_growth_no_record_explains_is_counted_once_besides_the_records() -> None:
    # An incomplete response's usage reaches the total without a record.
    data = (
        line("session_meta", {"id": "t"})
        + usage_record("t", "resp_a", (100, 0, 10, 0))
        + token_count((100, 0, 10, 0), (100, 0, 10, 0))
        + usage_record("t", "resp_b", (200, 50, 20, 0))
        + token_count((340, 50, 35, 0), (40, 0, 5, 0))
    )
    events = parse(ctx_for(RECORDS), {}, data).events
    assert counts(events) == [(100, 0, 0, 10, 0), (200, 50, 0, 20, 0), (40, 0, 0, 5, 0)]
    assert [e.key for e in events] == ["codex:t:resp_a", "codex:t:resp_b", "codex:t:340,50,35,0,0"]


def test_a_repeated_total_before_the_one_a_record_precedes_counts_nothing() -> None:
    data = (
        line("session_meta", {"id": "t"})
        + usage_record("t", "resp_a", (100, 0, 10, 0))
        + token_count((100, 0, 10, 0), (100, 0, 10, 0))
        + usage_record("t", "resp_b", (200, 50, 20, 0))
        + token_count((100, 0, 10, 0), (100, 0, 10, 0))  # a rate-limit update: no growth
        + token_count((300, 50, 30, 0), (200, 50, 20, 0))
    )
    events = parse(ctx_for(RECORDS), {}, data).events
    assert summed(events) == (300, 50, 0, 30, 0)


def test_a_forwarded_delegate_record_counts_and_a_copied_ancestor_record_does_not() -> None:
    data = (
        line("session_meta", {"id": "t"})
        + usage_record("review-1", "resp_r", (700, 0, 20, 0), parent_thread_id="t")
        + usage_record("ancestor", "resp_x", (900, 0, 90, 0))
    )
    (event,) = parse(ctx_for(RECORDS), {}, data).events
    assert (event.key, event.tags["session"]) == ("codex:review-1:resp_r", "review-1")


def test_a_bad_record_is_a_bad_record_and_the_total_counts_its_response() -> None:
    data = (
        line("session_meta", {"id": "t"})
        + usage_record("t", "resp_a", (100, 0, 10, 0))
        + token_count((100, 0, 10, 0), (100, 0, 10, 0))
    )
    bad = usage_record("t", "resp_b", (-1, 50, 20, 0))
    after = token_count((300, 50, 30, 0), (200, 50, 20, 0))
    result = parse(ctx_for(RECORDS), {}, data + bad + after)
    assert counts(result.events) == [(100, 0, 0, 10, 0), (200, 50, 0, 20, 0)]
    assert [e.key for e in result.events] == ["codex:t:resp_a", "codex:t:300,50,30,0,0"]
    assert [e.offset for e in result.errors] == [len(data)]
    assert result.errors[0].message.startswith("input_tokens: -1 is not a token count")


def test_a_record_without_response_id_is_a_bad_record() -> None:
    bad = line("token_usage_record", {"thread_id": "t", "usage": {"input_tokens": 5}})
    result = parse(ctx_for(RECORDS), {}, line("session_meta", {"id": "t"}) + bad)
    assert result.events == []
    assert [e.message for e in result.errors] == ["response_id: None is not a response id"]


# -- archived rollouts are never counted again -------------------------------------------------


def test_an_archived_rollout_gives_the_same_events_under_the_same_keys() -> None:
    assert ARCHIVED_COPY.read_bytes() == ORIGINAL.read_bytes()
    here = parse(ctx_for(ORIGINAL, file_id="2049:81:aa:01"), {}, ORIGINAL.read_bytes())
    there = parse(ctx_for(ARCHIVED_COPY, file_id="2049:97:aa:02"), {}, ARCHIVED_COPY.read_bytes())
    assert [(e.key, counts([e])) for e in there.events] == [
        (e.key, counts([e])) for e in here.events
    ]
    assert len(here.events) == 3


@pytest.mark.parametrize("how", ["copied", "moved"])
def test_a_rollout_archived_after_it_was_counted_is_not_counted_again(
    tmp_path: Path, how: str
) -> None:
    home = tmp_path / "codex"
    day = home / "sessions/2026/11/20"
    day.mkdir(parents=True)
    (home / "archived_sessions").mkdir()
    shutil.copyfile(ORIGINAL, day / ORIGINAL.name)
    globs = [home / "sessions/**/rollout-*.jsonl", home / "archived_sessions/rollout-*.jsonl"]
    ledger, ingestor = world(tmp_path, globs)
    ingestor.scan(parallel=False)
    before = totals(ledger.db)
    if how == "moved":
        os.rename(day / ORIGINAL.name, home / "archived_sessions" / ORIGINAL.name)
    else:  # another file (inode) with the same bytes: a copy, a restore, another disk
        shutil.copyfile(ORIGINAL, home / "archived_sessions" / ORIGINAL.name)
        (day / ORIGINAL.name).unlink()
    ingestor.scan(parallel=False)
    assert totals(ledger.db) == before == {ARCHIVED: (29000, 16512, 0, 1400, 800)}
    ledger.close()


# -- reading in chunks is reading it whole ------------------------------------------------------


@pytest.mark.parametrize("path", EVERY_ROLLOUT, ids=lambda p: p.name[8:27])
def test_reading_in_chunks_at_any_line_gives_the_events_of_reading_it_whole(path: Path) -> None:
    data = path.read_bytes()
    whole = parse(ctx_for(path), {}, data)
    ends = [i + 1 for i, byte in enumerate(data) if byte == ord("\n")]
    for cut in ends[:-1]:
        first = parse(ctx_for(path), {}, data[:cut])
        state: State = json.loads(json.dumps(first.state))  # as the ledger stores it
        second = parse(ctx_for(path, base_offset=cut), state, data[cut:])
        assert first.events + second.events == whole.events, cut
        assert first.limits + second.limits == whole.limits, cut
        assert second.state == whole.state, cut


@pytest.mark.parametrize("path", [FORK, SUBAGENT, RECORDS], ids=["fork", "subagent", "records"])
def test_reading_line_by_line_with_a_restart_each_time_gives_the_same_events(path: Path) -> None:
    data = path.read_bytes()
    state: State = {}
    events: list[UsageEvent] = []
    offset = 0
    for raw in data.splitlines(keepends=True):
        result = parse(ctx_for(path, base_offset=offset), state, raw)
        events += result.events
        state = json.loads(json.dumps(result.state))
        offset += len(raw)
    assert events == parse(ctx_for(path), {}, data).events


# -- helpers -----------------------------------------------------------------------------------


def line(kind: str, payload: dict[str, Any], ts: str = "2026-11-27T13:00:00.000Z") -> bytes:
    return json.dumps({"timestamp": ts, "type": kind, "payload": payload}).encode() + b"\n"


def usage(values: tuple[int, int, int, int]) -> dict[str, int]:
    inp, cached, out, reasoning = values
    return {
        "input_tokens": inp,
        "cached_input_tokens": cached,
        "output_tokens": out,
        "reasoning_output_tokens": reasoning,
        "total_tokens": inp + out,
    }


def token_count(
    total: tuple[int, int, int, int],
    last: tuple[int, int, int, int],
    ts: str = "2026-11-27T13:00:05.000Z",
) -> bytes:
    info = {"total_token_usage": usage(total), "last_token_usage": usage(last)}
    return line("event_msg", {"type": "token_count", "info": info}, ts)


def usage_record(
    thread: str, response: str, values: tuple[int, int, int, int], **extra: str
) -> bytes:
    payload: dict[str, Any] = {"thread_id": thread, "turn_id": "turn-1", "response_id": response}
    payload |= {"usage": usage(values), "attribution": {"model": "gpt-5.1-codex"}, **extra}
    return line("token_usage_record", payload, "2026-11-27T13:00:04.000Z")


def world(root: Path, globs: list[Path]) -> tuple[Ledger, Ingestor]:
    """A ledger and an ingestor reading `globs` as the one source `codex`."""
    zone = ZoneInfo("UTC")
    config = SourceConfig("codex", "codex", tuple(str(g) for g in globs), zone, "UTC")
    root.mkdir(parents=True, exist_ok=True)
    ledger = Ledger(root / "ledger.sqlite3", zone, "UTC")
    return ledger, Ingestor([config], ledger, Pricer())


def totals(db: sqlite3.Connection) -> dict[str, tuple[int, ...]]:
    """(input, cached, cache write, output, reasoning) per session, as the ledger holds them."""
    rows = db.execute(
        "SELECT json_extract(tags, '$.session'), SUM(input_tokens), SUM(cache_read_tokens),"
        " SUM(cache_write_tokens), SUM(output_tokens), SUM(reasoning_tokens)"
        " FROM events GROUP BY 1"
    )
    return {session: tuple(sums) for session, *sums in rows}


def ledger_sums(root: Path, rollouts: list[Path]) -> dict[str, tuple[int, ...]]:
    """Scan copies of `rollouts` (laid out as Codex does) into a fresh ledger."""
    home = root / "codex"
    for rollout in rollouts:
        target = home / rollout.relative_to(EXAMPLES)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(rollout, target)
    ledger, ingestor = world(root, [home / "sessions/**/rollout-*.jsonl"])
    report = ingestor.scan(parallel=False)
    assert report.errors == 0
    sums = totals(ledger.db)
    ledger.close()
    return sums
