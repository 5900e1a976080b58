"""The watcher: which files may have changed, on real files with real inotify.

Every test is bounded by a timeout and waits for a condition, never a fixed time.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from monitor.globs import Glob
from monitor.watch import Watcher, plan_watches

WAIT = 5.0


class Seen:
    """Runs a watcher and keeps every batch it yields."""

    def __init__(self, watcher: Watcher) -> None:
        self.watcher = watcher
        self.batches: list[set[str]] = []
        self._new = asyncio.Event()

    @property
    def paths(self) -> set[str]:
        return set().union(*self.batches)

    async def run(self) -> None:
        async for batch in self.watcher.changes():
            self.batches.append(batch)
            self._new.set()

    async def until(self, predicate: Callable[[], bool], timeout: float = WAIT) -> None:
        async with asyncio.timeout(timeout):
            while True:
                self._new.clear()
                if predicate():
                    return
                await self._new.wait()

    async def until_yielded(self, *paths: Path) -> None:
        wanted = {str(p) for p in paths}
        await self.until(lambda: wanted <= self.paths)

    def forget(self) -> None:
        self.batches.clear()


Start = Callable[..., Awaitable[Seen]]


@pytest.fixture
async def watching() -> AsyncIterator[Start]:
    runs: list[tuple[Seen, asyncio.Task[None]]] = []

    async def start(patterns: Sequence[str | Path], **options: Any) -> Seen:
        watcher = Watcher([Glob(str(p)) for p in patterns], **options)
        seen = Seen(watcher)
        task = asyncio.create_task(seen.run())
        runs.append((seen, task))
        async with asyncio.timeout(WAIT):
            await watcher.ready.wait()
        return seen

    yield start
    for seen, task in runs:
        seen.watcher.stop()
        async with asyncio.timeout(WAIT):
            await task


def append(path: Path, text: str = '{"n": 1}\n') -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(text)


async def test_appended_line_yields_the_file(tmp_path: Path, watching: Start) -> None:
    log = tmp_path / "p" / "s.jsonl"
    append(log)
    seen = await watching([tmp_path / "**" / "*.jsonl"])
    append(log)
    await seen.until_yielded(log)


async def test_existing_files_are_not_yielded_unless_asked(tmp_path: Path, watching: Start) -> None:
    old = tmp_path / "old.jsonl"
    append(old)
    quiet = await watching([tmp_path / "*.jsonl"])
    loud = await watching([tmp_path / "*.jsonl"], yield_existing=True)
    await loud.until_yielded(old)
    new = tmp_path / "new.jsonl"
    append(new)
    await quiet.until_yielded(new)
    assert str(old) not in quiet.paths


async def test_new_matching_file_in_existing_dir_is_yielded(
    tmp_path: Path, watching: Start
) -> None:
    seen = await watching([tmp_path / "**" / "*.jsonl"])
    new = tmp_path / "proj" / "new.jsonl"
    append(new)
    await seen.until_yielded(new)


async def test_non_matching_file_is_not_yielded(tmp_path: Path, watching: Start) -> None:
    seen = await watching([tmp_path / "**" / "*.jsonl"])
    append(tmp_path / "notes.txt")
    append(tmp_path / ".hidden" / "x.jsonl")
    marker = tmp_path / "after.jsonl"
    append(marker)
    await seen.until_yielded(marker)
    assert seen.paths == {str(marker)}


async def test_new_subdirectory_with_files_in_watched_tree_is_yielded(
    tmp_path: Path, watching: Start
) -> None:
    seen = await watching([tmp_path / "**" / "*.jsonl"])
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    append(outside / "deep" / "a.jsonl")
    append(outside / "b.jsonl")
    os.rename(outside, tmp_path / "moved")  # arrives with its files already inside
    made = tmp_path / "x" / "y" / "c.jsonl"
    append(made)
    await seen.until_yielded(
        tmp_path / "moved" / "deep" / "a.jsonl", tmp_path / "moved" / "b.jsonl", made
    )


def crowd(directory: Path, crowded: bool) -> None:
    """Make `directory` too big to watch recursively, so the slow flat notifier is used."""
    for i in range(40 if crowded else 0):
        (directory / "crowd" / str(i)).mkdir(parents=True)


@pytest.mark.parametrize("crowded", [False, True], ids=["small-ancestor", "big-ancestor"])
async def test_directory_created_later_two_levels_deep_is_picked_up(
    tmp_path: Path, watching: Start, crowded: bool
) -> None:
    crowd(tmp_path, crowded)
    root = tmp_path / "a" / "b"
    seen = await watching([root / "**" / "*.jsonl"], sweep_interval=60)
    assert any(t.pending for t in seen.watcher._plan.targets) is crowded
    first = root / "s" / "one.jsonl"
    append(first)
    await seen.until_yielded(first)
    second = root / "s" / "two.jsonl"
    append(second)  # the sweep is 60 s away: only a live watch sees this
    await seen.until_yielded(second)


@pytest.mark.parametrize("crowded", [False, True], ids=["small-ancestor", "big-ancestor"])
async def test_directory_moved_into_a_missing_root_yields_its_files(
    tmp_path: Path, watching: Start, crowded: bool
) -> None:
    crowd(tmp_path, crowded)
    root = tmp_path / "sessions"
    seen = await watching([root / "**" / "rollout-*.jsonl"], sweep_interval=60)
    staged = tmp_path / "staging"
    append(staged / "2026" / "rollout-1.jsonl")
    append(staged / "rollout-2.jsonl")
    os.rename(staged, root)
    await seen.until_yielded(root / "2026" / "rollout-1.jsonl", root / "rollout-2.jsonl")


async def test_deleted_and_recreated_directory_is_rearmed(tmp_path: Path, watching: Start) -> None:
    root = tmp_path / "projects"
    log = root / "s.jsonl"
    append(log)
    seen = await watching([root / "**" / "*.jsonl"], sweep_interval=60)
    shutil.rmtree(root)
    await seen.until_yielded(log)  # the tailer is told the file is gone
    seen.forget()
    append(log)
    await seen.until_yielded(log)
    later = root / "later.jsonl"
    append(later)  # the sweep is 60 s away: only a live watch on the new inode sees this
    await seen.until_yielded(later)


async def test_excluded_state_dir_never_wakes_the_watcher_but_its_spool_does(
    tmp_path: Path, watching: Start
) -> None:
    state = tmp_path / "state"
    spool = state / "spool"
    spool.mkdir(parents=True)
    (tmp_path / "data").mkdir()
    seen = await watching(
        [tmp_path / "**" / "*.jsonl", spool / "*.jsonl"], exclude=[state], sweep_interval=60
    )
    append(state / "ledger.jsonl")  # matches the first glob, but it is the state dir
    append(state / "other" / "x.jsonl")
    (state / "ledger.sqlite3-wal").write_bytes(b"\0" * 64)
    data = tmp_path / "data" / "d.jsonl"
    spooled = spool / "s.jsonl"
    append(data)
    append(spooled)
    await seen.until_yielded(data, spooled)
    assert seen.paths == {str(data), str(spooled)}
    assert seen.watcher.stats.excluded_changes == 0


def test_plan_splits_a_recursive_root_around_the_excluded_dir(tmp_path: Path) -> None:
    state = tmp_path / "state"
    (state / "spool").mkdir(parents=True)
    (state / "logs").mkdir()
    (tmp_path / "data").mkdir()
    plan = plan_watches(
        [Glob(f"{tmp_path}/**/*.jsonl"), Glob(f"{state}/spool/*.jsonl")], exclude=[state]
    )
    assert {(t.path, t.recursive, t.pending) for t in plan.targets} == {
        (str(tmp_path), False, False),
        (str(tmp_path / "data"), True, False),
        (str(state / "spool"), True, False),
    }


def test_plan_watches_a_missing_root_from_its_nearest_ancestor_flat(tmp_path: Path) -> None:
    crowd(tmp_path, True)
    plan = plan_watches([Glob(f"{tmp_path}/a/b/**/*.jsonl")])
    assert [(t.path, t.recursive, t.pending) for t in plan.targets] == [
        (str(tmp_path), False, True)
    ]


def test_plan_watches_a_small_ancestor_of_a_missing_root_recursively(tmp_path: Path) -> None:
    (tmp_path / "codex" / "log").mkdir(parents=True)
    plan = plan_watches([Glob(f"{tmp_path}/codex/sessions/**/*.jsonl")])
    assert [(t.path, t.recursive) for t in plan.targets] == [(str(tmp_path / "codex"), True)]


def test_plan_never_watches_the_state_dir_for_a_missing_spool(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    plan = plan_watches([Glob(f"{state}/spool/*.jsonl")], exclude=[state])
    assert plan.targets == frozenset()


async def test_atomic_replace_of_a_watched_file_is_yielded(tmp_path: Path, watching: Start) -> None:
    target = tmp_path / "token_usage.json"
    target.write_text('{"calls": []}')
    seen = await watching([target])
    tmp = tmp_path / "token_usage.json.tmp"
    tmp.write_text('{"calls": [1]}')
    os.replace(tmp, target)
    await seen.until_yielded(target)
    assert str(tmp) not in seen.paths


async def test_rename_rotation_yields_the_rotated_name(tmp_path: Path, watching: Start) -> None:
    log = tmp_path / "app.log"
    append(log, "one\n")
    seen = await watching([log])
    os.rename(log, tmp_path / "app.log.1")
    await seen.until_yielded(log)  # gone: the tailer reads the old inode to its end
    seen.forget()
    append(log, "two\n")
    await seen.until_yielded(log)
    assert str(tmp_path / "app.log.1") not in seen.paths


async def test_sweep_finds_an_append_without_notifications(tmp_path: Path, watching: Start) -> None:
    log = tmp_path / "s.jsonl"
    append(log)
    seen = await watching([tmp_path / "*.jsonl"], notify=False, sweep_interval=0.05)
    append(log)
    await seen.until_yielded(log)
    assert seen.watcher.stats.sweep_hits >= 1
    assert seen.watcher.stats.raw_changes == 0


async def test_sweep_reaches_files_untouched_for_hours_in_slices(
    tmp_path: Path, watching: Start
) -> None:
    hours_ago = time.time() - 7200
    files = [tmp_path / f"{name}.jsonl" for name in "abcdefg"]
    for f in files:
        append(f)
        os.utime(f, (hours_ago, hours_ago))
    seen = await watching(
        [tmp_path / "*.jsonl"],
        notify=False,
        sweep_interval=0.02,
        cold_interval=0.1,
        cold_per_sweep=2,
    )
    assert seen.watcher.stats.sweep_hits == 0
    append(files[-1])  # in the last slice of each pass: found only if slices cover it all
    await seen.until_yielded(files[-1])


async def test_update_watches_new_globs_and_yields_what_they_cover(
    tmp_path: Path, watching: Start
) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    existing = second / "old.jsonl"
    append(existing)
    first.mkdir()
    seen = await watching([first / "*.jsonl"])
    seen.watcher.update([Glob(f"{first}/*.jsonl"), Glob(f"{second}/*.jsonl")])
    await seen.until_yielded(existing)
    seen.forget()
    append(existing)
    await seen.until_yielded(existing)


async def test_stop_ends_the_iteration_promptly(tmp_path: Path) -> None:
    watched, missing = tmp_path / "watched", tmp_path / "missing" / "x"
    crowd(watched, True)
    watcher = Watcher([Glob(f"{watched}/**/*.jsonl"), Glob(f"{missing}/*.jsonl")])
    task = asyncio.create_task(Seen(watcher).run())
    async with asyncio.timeout(WAIT):
        await watcher.ready.wait()
    assert any(t.pending for t in watcher._plan.targets)
    began = time.monotonic()
    watcher.stop()
    async with asyncio.timeout(1.0):
        await task
    assert time.monotonic() - began < 0.5  # ~100 ms (the slow notifier's step) when idle


_LIMITED = """
import asyncio, json, logging, sys
from monitor.globs import Glob
from monitor.watch import Watcher

warnings = []
class Keep(logging.Handler):
    def emit(self, record):
        if record.levelno >= logging.WARNING:
            warnings.append(record.getMessage())
logging.getLogger("llm_monitor.watch").addHandler(Keep())

async def main(root):
    w = Watcher([Glob(root + "/**/*.jsonl")], poll_delay_ms=50, sweep_interval=60)
    got = set()
    async def run():
        async for batch in w.changes():
            got.update(batch)
    task = asyncio.create_task(run())
    async with asyncio.timeout(5):
        await w.ready.wait()
        while not w.stats.polling:
            await asyncio.sleep(0.01)
        with open(root + "/a/b/s.jsonl", "a") as f:
            f.write("x\\n")
        while root + "/a/b/s.jsonl" not in got:
            await asyncio.sleep(0.01)
    w.stop()
    await task
    print(json.dumps({"polling": sorted(w.stats.polling), "warnings": warnings}))

asyncio.run(main(sys.argv[1]))
"""


def _can_limit_inotify() -> bool:
    if not sys.platform.startswith("linux") or shutil.which("unshare") is None:
        return False
    probe = "echo 3 > /proc/sys/user/max_inotify_watches"
    done = subprocess.run(["unshare", "-Ur", "sh", "-c", probe], capture_output=True, timeout=10)
    return done.returncode == 0


@pytest.mark.e2e
@pytest.mark.skipif(not _can_limit_inotify(), reason="needs a user namespace to lower the limit")
def test_watch_limit_falls_back_to_polling_with_one_warning(tmp_path: Path) -> None:
    (tmp_path / "a" / "b" / "c").mkdir(parents=True)
    (tmp_path / "d").mkdir()
    script = f'echo 3 > /proc/sys/user/max_inotify_watches && exec {sys.executable} -c "$0" $1'
    done = subprocess.run(
        ["unshare", "-Ur", "sh", "-c", script, _LIMITED, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["polling"] == [str(tmp_path)]
    assert len(result["warnings"]) == 1
    assert "fs.inotify.max_user_watches" in result["warnings"][0]
    assert str(tmp_path) in result["warnings"][0]
