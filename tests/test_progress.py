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
    p.today_final = True
    assert p.line().endswith("ETA 0:30 · today in")
    p.recent_final, p.done = True, True
    assert p.fraction == 1.0 and p.eta_seconds() == 0.0
    assert Progress.from_json(p.to_json()) == p
    assert Progress.from_json(b"claude: 3 files, 12 new events") is None
    assert p.entry()["percent"] == 100.0 and p.entry()["recent_final"] is True


def test_a_backfill_reads_todays_files_then_this_months_then_the_rest(tmp_path: Path) -> None:
    """When today's files are in, every call of today is in and none older; when the
    recent files are, every call of this month is."""
    world = World(tmp_path, [source("studio", "studio-tokens", tmp_path / "**/run_*/tokens.jsonl")])
    now = time.time()
    ages_days = {"run_1": 40, "run_2": 0, "run_3": 90, "run_4": 0.5, "run_5": 65}
    for i, (run, age) in enumerate(ages_days.items(), 1):
        f = tmp_path / "output" / "tech" / run / "tokens.jsonl"
        f.parent.mkdir(parents=True)
        f.write_bytes(record(i))
        os.utime(f, (now - age * 86400, now - age * 86400))
    seen: list[tuple[bool, bool, list[int]]] = []

    def watch(p: Progress) -> None:
        seen.append((p.today_final, p.recent_final, world.input_tokens()))

    world.ingestor.on_progress = watch
    today = datetime.now(UTC) - timedelta(hours=6)
    since = datetime.now(UTC) - timedelta(days=30)
    world.ingestor.scan(parallel=False, today_since=today, recent_since=since)
    today_in = next(tokens for today_final, _, tokens in seen if today_final)
    assert today_in == [2]  # run_2, written now; run_4 (12 h ago) is not "today" here
    month_in = next(tokens for today_final, final, tokens in seen if final)
    assert month_in == [2, 4]  # and run_4: this month's
    assert all(today_final for today_final, final, _ in seen if final)
    assert world.input_tokens() == [1, 2, 3, 4, 5]
    assert world.ingestor.progress.done and world.ingestor.progress.files_done == 5
    world.close()
