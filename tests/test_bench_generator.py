"""The benchmark's Claude Code tree generator: its truth must be what the files say."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bench.gen_claude_tree import (
    GENERATOR_VERSION,
    TOKEN_FIELDS,
    TreeParams,
    generate_tree,
    parse_end,
    resolve_end,
)

PARAMS = TreeParams(messages=400, files=40, days=10, end="2026-11-01", seed=7, costs=True)


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("tree")
    truth = generate_tree(out, PARAMS, jobs=1)
    return out, truth


def _files(out: Path) -> list[Path]:
    return sorted((out / "projects").rglob("*.jsonl"))


def _records(out: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for f in _files(out) for line in f.read_bytes().splitlines()]


def _has_usage(record: dict[str, Any]) -> bool:
    message = record.get("message")
    return isinstance(message, dict) and "usage" in message


def _usage_records(out: Path) -> list[dict[str, Any]]:
    return [r for r in _records(out) if _has_usage(r) and r["message"]["model"] != "<synthetic>"]


def _total(usage: dict[str, int]) -> int:
    return sum(
        usage[k]
        for k in (
            "input_tokens",
            "output_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
        )
    )


def _copies(out: Path) -> dict[tuple[str, str], list[dict[str, Any]]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in _usage_records(out):
        groups[(r["message"]["id"], r["requestId"])].append(r)
    return groups


def _recount(kept: list[dict[str, Any]], by: str) -> dict[str, dict[str, int]]:
    sums: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(TOKEN_FIELDS, 0))
    for r in kept:
        u = r["message"]["usage"]
        key = r["timestamp"][:10] if by == "day" else r["message"]["model"]
        acc = sums[key]
        acc["messages"] += 1
        for k in TOKEN_FIELDS[1:5]:
            acc[k] += u[k]
        acc["cache_creation_1h_input_tokens"] += u["cache_creation"]["ephemeral_1h_input_tokens"]
    return dict(sums)


def _strip_cost(blocks: dict[str, dict[str, Any]]) -> dict[str, dict[str, int]]:
    return {k: {f: v for f, v in b.items() if f != "cost_usd"} for k, b in blocks.items()}


def test_writes_the_planned_files_lines_and_bytes(tree: tuple[Path, dict[str, Any]]) -> None:
    out, truth = tree
    files = _files(out)
    subagents = [f for f in files if f.parent.name == "subagents"]
    assert len(files) == PARAMS.files == truth["tree"]["files"]
    assert len(subagents) == truth["tree"]["subagent_files"] > 0
    assert all(f.name.startswith("agent-") for f in subagents)
    data = [f.read_bytes() for f in files]
    assert sum(len(d) for d in data) == truth["tree"]["bytes"]
    assert sum(d.count(b"\n") for d in data) == truth["tree"]["lines"]
    assert all(d.endswith(b"\n") for d in data)


def test_truth_equals_an_independent_recount_keeping_the_largest_copy(
    tree: tuple[Path, dict[str, Any]],
) -> None:
    out, truth = tree
    kept = [
        max(copies, key=lambda r: _total(r["message"]["usage"])) for copies in _copies(out).values()
    ]
    assert len(kept) == PARAMS.messages == truth["total"]["messages"]
    assert _recount(kept, "day") == _strip_cost(truth["days"])
    assert _recount(kept, "model") == _strip_cost(truth["models"])


def test_truth_costs_are_genai_prices_of_the_kept_copies(
    tree: tuple[Path, dict[str, Any]],
) -> None:
    from genai_prices import Usage, calc_price

    out, truth = tree
    total = Decimal(0)
    for copies in _copies(out).values():
        r = max(copies, key=lambda r: _total(r["message"]["usage"]))
        u = r["message"]["usage"]
        usage = Usage(
            input_tokens=u["input_tokens"]
            + u["cache_creation_input_tokens"]
            + u["cache_read_input_tokens"],
            cache_write_tokens=u["cache_creation_input_tokens"],
            cache_write_1h_tokens=u["cache_creation"]["ephemeral_1h_input_tokens"],
            cache_read_tokens=u["cache_read_input_tokens"],
            output_tokens=u["output_tokens"],
        )
        when = datetime.fromisoformat(r["timestamp"].replace("Z", "+00:00"))
        total += calc_price(
            usage, r["message"]["model"], provider_id="anthropic", genai_request_timestamp=when
        ).total_price
    assert Decimal(truth["total"]["cost_usd"]) == total
    assert sum(Decimal(b["cost_usd"]) for b in truth["days"].values()) == total


def test_streamed_copies_share_input_and_grow_output_so_first_copy_undercounts(
    tree: tuple[Path, dict[str, Any]],
) -> None:
    out, truth = tree
    groups = [c for c in _copies(out).values() if len(c) > 1]
    assert groups and max(len(c) for c in groups) <= 4
    first_wins_output = 0
    for copies in _copies(out).values():
        usages = [c["message"]["usage"] for c in copies]
        fixed = {
            (u["input_tokens"], u["cache_creation_input_tokens"], u["cache_read_input_tokens"])
            for u in usages
        }
        assert len(fixed) == 1
        outputs = [u["output_tokens"] for u in usages]
        assert outputs == sorted(outputs)
        first_wins_output += outputs[0]
    assert first_wins_output < truth["total"]["output_tokens"]


def test_copies_of_one_message_never_straddle_a_utc_midnight(
    tree: tuple[Path, dict[str, Any]],
) -> None:
    out, _ = tree
    for copies in _copies(out).values():
        assert len({c["timestamp"][:10] for c in copies}) == 1


def test_synthetic_and_usage_free_lines_do_not_count(tree: tuple[Path, dict[str, Any]]) -> None:
    out, truth = tree
    records = _records(out)
    synthetic = [r for r in records if _has_usage(r) and r["message"]["model"] == "<synthetic>"]
    usage_free = [r for r in records if not _has_usage(r)]
    assert len(synthetic) == truth["tree"]["synthetic_lines"]
    assert all("requestId" not in r and _total(r["message"]["usage"]) == 0 for r in synthetic)
    assert len(usage_free) == truth["tree"]["no_usage_lines"] > PARAMS.messages / 2
    assert {r["type"] for r in usage_free} >= {"user", "summary"}


def _times(out: Path) -> list[datetime]:
    """Every line's top-level timestamp (a snapshot's sits inside it, at its prompt's)."""
    return [
        datetime.fromisoformat(r["timestamp"].replace("Z", "+00:00"))
        for r in _records(out)
        if "timestamp" in r
    ]


def _digest(out: Path) -> str:
    h = hashlib.sha256()
    for f in _files(out):
        h.update(f.relative_to(out).as_posix().encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def test_lines_are_compact_json_with_ms_utc_timestamps_inside_the_window(
    tree: tuple[Path, dict[str, Any]],
) -> None:
    out, _ = tree
    end = datetime.fromisoformat(PARAMS.end).replace(tzinfo=UTC)
    assert all(f.stat().st_mtime < end.timestamp() for f in _files(out))
    for f in _files(out):
        for line in f.read_bytes().splitlines():
            if b'"usage"' in line:
                assert b'"usage":{' in line
            record = json.loads(line)
            ts = record.get("timestamp")
            if ts is not None and record["type"] != "file-history-snapshot":
                assert len(ts) == 24 and ts.endswith("Z")
                when = datetime.fromisoformat(ts.replace("Z", "+00:00"))
                assert end - timedelta(days=PARAMS.days) <= when < end


@pytest.mark.e2e
def test_same_params_give_the_same_bytes_whatever_the_worker_count(tmp_path: Path) -> None:
    params = TreeParams(messages=120, files=12, days=5, end="2026-11-01", seed=3, costs=False)

    def digest(out: Path) -> dict[str, str]:
        return {
            str(f.relative_to(out)): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted((out / "projects").rglob("*.jsonl"))
        }

    one = generate_tree(tmp_path / "one", params, jobs=1)
    two = generate_tree(tmp_path / "two", params, jobs=2)
    assert digest(tmp_path / "one") == digest(tmp_path / "two")
    assert one == two


def test_an_hour_end_has_calls_that_day_before_the_hour_and_none_from_it(tmp_path: Path) -> None:
    params = TreeParams(messages=200, files=20, days=1, end="2026-11-01T06", seed=5, costs=False)
    truth = generate_tree(tmp_path, params, jobs=1)
    end = datetime(2026, 11, 1, 6, tzinfo=UTC)
    assert parse_end(params.end) == end
    times = _times(tmp_path)
    assert all(end - timedelta(days=1) <= t < end for t in times)
    assert any(t.date() == end.date() for t in times)
    assert all(f.stat().st_mtime < end.timestamp() for f in _files(tmp_path))
    # truth.json's days are UTC dates: the partial first and last day are both there.
    assert sorted(truth["days"]) == ["2026-10-31", "2026-11-01"]
    assert truth["days"]["2026-11-01"]["messages"] > 0
    kept = [max(c, key=lambda r: _total(r["message"]["usage"])) for c in _copies(tmp_path).values()]
    assert _recount(kept, "day") == _strip_cost(truth["days"])


def test_a_date_end_is_its_midnight_and_gives_the_tree_it_always_gave(tmp_path: Path) -> None:
    """Bytes for the same params must not change without a GENERATOR_VERSION bump:
    the digest below is the version-1 generator's for these params."""
    params = TreeParams(messages=120, files=12, days=5, end="2026-11-01", seed=3, costs=False)
    truth = generate_tree(tmp_path / "date", params, jobs=1)
    assert GENERATOR_VERSION == 1
    assert _digest(tmp_path / "date") == (
        "c67376a5908893842fb09ad0b9fb3b84786a40618dd51f90a6637ce09c98a3cd"
    )
    midnight = TreeParams(messages=120, files=12, days=5, end="2026-11-01T00", seed=3, costs=False)
    truth_t00 = generate_tree(tmp_path / "t00", midnight, jobs=1)
    assert _digest(tmp_path / "t00") == _digest(tmp_path / "date")
    assert {**truth_t00, "params": truth["params"]} == truth
    assert max(_times(tmp_path / "date")) < datetime(2026, 11, 1, tzinfo=UTC)


def test_an_empty_end_is_pinned_to_the_current_utc_hour() -> None:
    before = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    end = parse_end(resolve_end(TreeParams()).end)
    after = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    assert before <= end <= after
    assert resolve_end(TreeParams(end="2026-11-01")).end == "2026-11-01"


@pytest.mark.parametrize("text", ["2026-11-01T6", "2026-11-01T24", "2026-11-01T06:00", "20261101"])
def test_an_end_that_is_no_date_or_hour_is_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        parse_end(text)
