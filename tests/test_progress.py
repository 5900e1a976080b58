"""A backfill's progress and order: newest files first, this month's totals complete early,
and the numbers `scan` and the daemon show on the way."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.progress import Progress
from tests.test_ingest import World, record, source


def test_progress_counts_bytes_as_the_work_and_gives_an_eta_once_there_is_a_rate() -> None:
    p = Progress(files_total=4, bytes_total=1000, files_done=1, bytes_done=250, calls=7)
    assert p.fraction == 0.25 and p.eta_seconds() is None  # no time gone by yet
    p.elapsed = 10.0
    assert p.eta_seconds() == 30.0
    assert p.line() == "1 / 4 files · 0 / 0 MB · 7 calls · 25 % · ETA 0:30"
    p.recent_final, p.done = True, True
    assert p.fraction == 1.0 and p.eta_seconds() == 0.0
    assert Progress.from_json(p.to_json()) == p
    assert Progress.from_json(b"claude: 3 files, 12 new events") is None
    assert p.entry()["percent"] == 100.0 and p.entry()["recent_final"] is True


def test_a_backfill_reads_this_months_files_first(tmp_path: Path) -> None:
    """When the recent files are in, every call of this month is in and none older."""
    world = World(tmp_path, [source("studio", "studio-tokens", tmp_path / "**/run_*/tokens.jsonl")])
    now = time.time()
    ages_days = {"run_1": 40, "run_2": 0, "run_3": 90, "run_4": 0.5, "run_5": 65}
    for i, (run, age) in enumerate(ages_days.items(), 1):
        f = tmp_path / "output" / "tech" / run / "tokens.jsonl"
        f.parent.mkdir(parents=True)
        f.write_bytes(record(i))
        os.utime(f, (now - age * 86400, now - age * 86400))
    seen: list[tuple[bool, list[int]]] = []

    def watch(p: Progress) -> None:
        seen.append((p.recent_final, world.input_tokens()))

    world.ingestor.on_progress = watch
    since = datetime.now(UTC) - timedelta(days=30)
    world.ingestor.scan(parallel=False, recent_since=since)
    first_final = next(tokens for final, tokens in seen if final)
    assert first_final == [2, 4]  # run_2 (today) and run_4 (12 h ago): this month's
    assert world.input_tokens() == [1, 2, 3, 4, 5]
    assert world.ingestor.progress.done and world.ingestor.progress.files_done == 5
    world.close()
