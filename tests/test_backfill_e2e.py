"""The first backfill through the real daemon: newest files first, this month's totals
final on the socket while older history still fills in, its progress in `status`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from monitor.api import ApiError, request_sync
from tests.daemon_harness import Source, clean_env, studio_line, wait_for, workspace

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

OLD_FILES = 30
OLD_LINES = 4_000


def _status(socket: Path) -> dict[str, Any] | None:
    try:
        return request_sync(socket, {"type": "status"}, timeout=2.0)
    except ApiError:
        return None


def test_todays_spend_is_final_while_older_history_still_fills_in(tmp_path: Path) -> None:
    with workspace(tmp_path) as ws:
        old = time.time() - 100 * 86400
        line = studio_line("advocate", 100, 10, timestamp="2026-08-01T10:00:00", cost_usd=0.01)
        for i in range(OLD_FILES):
            f = ws.root / "output" / "history" / f"run_{i}" / "tokens.jsonl"
            f.parent.mkdir(parents=True)
            f.write_bytes(line * OLD_LINES)
            os.utime(f, (old, old))
        today = ws.root / "output" / "tech" / "run_today" / "tokens.jsonl"
        today.parent.mkdir(parents=True)
        today.write_bytes(
            studio_line("advocate", 100, 10, cost_usd=1.25)
            + studio_line("contrarian", 100, 10, cost_usd=2.00)
        )
        ws.write_config([Source("studio", "studio-tokens", (f"{ws.root}/**/run_*/tokens.jsonl",))])
        daemon = ws.daemon()
        daemon.start()

        def complete(flag: str) -> dict[str, Any] | None:
            doc = _status(ws.socket)
            if doc is None or not doc.get("backfill", {}).get(flag):
                return None
            return doc

        doc = wait_for(lambda: complete("today_final"), 60, "today's files in, while backfilling")
        assert doc["state"] == "backfilling", "the backfill ended before it could be seen"
        assert doc["today"]["cost_usd"] == "3.250000" and doc["today"]["calls"] == 2
        # Appended after the backfill read the file, perhaps before its watch was armed:
        # counted once all the same (the watcher or the catch-up after the backfill).
        with today.open("ab") as f:
            f.write(studio_line("advocate", 100, 10, cost_usd=0.50))
        doc = wait_for(lambda: complete("recent_final"), 60, "this month's files in, too")
        assert doc["state"] == "backfilling", "the backfill ended before it could be seen"
        assert doc["today"]["cost_usd"] == "3.250000" and doc["today"]["calls"] == 2
        assert doc["backfill"]["files_done"] >= 1 and doc["backfill"]["percent"] < 100
        assert doc["backfill"]["files_total"] == OLD_FILES + 1
        text = ws.cli("status")
        assert "this month's totals are complete" in text.stdout or "ready" in text.stdout

        daemon.wait_ready(60)
        final = _status(ws.socket)
        assert final is not None and "backfill" not in final

        def appended_in() -> dict[str, Any] | None:
            doc = _status(ws.socket)
            return doc if doc is not None and doc["today"]["calls"] == 3 else None

        final = wait_for(appended_in, 30, "the line appended during the backfill")
        assert final["today"]["cost_usd"] == "3.750000"
        month_calls = final["month"]["calls"]
        assert month_calls == 3  # the history is August's
        report = ws.cli("report", "--format", "json")
        assert json.loads(report.stdout)["total"]["calls"] == OLD_FILES * OLD_LINES + 3
        assert daemon.stop() == 0


def _marked(mark: str) -> list[int]:
    """Pids of the processes whose environment carries `mark` (a scan and its workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if mark.encode() in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_a_backfill_killed_outright_leaves_no_parsing_worker_behind(tmp_path: Path) -> None:
    """A daemon killed with SIGKILL takes its backfill child with it; the child's parsing
    workers (and their fork server) must not wait on forever for work."""
    with workspace(tmp_path) as ws:
        old = time.time() - 40 * 86400
        line = studio_line("advocate", 100, 10, timestamp="2026-08-01T10:00:00", cost_usd=0.01)
        for i in range(OLD_FILES * 3):
            f = ws.root / "output" / "history" / f"run_{i}" / "tokens.jsonl"
            f.parent.mkdir(parents=True)
            f.write_bytes(line * OLD_LINES)
            os.utime(f, (old, old))
        config = ws.write_config(
            [Source("studio", "studio-tokens", (f"{ws.root}/**/run_*/tokens.jsonl",))]
        )
        mark = f"LLM_MONITOR_TEST_MARK={uuid.uuid4()}"
        key, value = mark.split("=")
        scan = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "scan", "--config", str(config)],
            env=clean_env({key: value}),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(lambda: len(_marked(mark)) >= 3 or None, 30, "the parsing workers")
        finally:
            scan.kill()
            scan.wait()
        wait_for(lambda: not _marked(mark) or None, 15, "every worker gone with the scan")
