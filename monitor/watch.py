"""Which files may have changed: an async stream of candidate paths for the daemon.

This module owns *where to look*: it chooses the directories to watch (`plan_watches`),
runs watchfiles' notifiers over them, re-arms when the tree under them changes shape,
and keeps a periodic stat sweep as a safety net for what notification misses. It never
reads a file and never decides what happened to one (append, rotation, truncation,
deletion): it yields paths and the tailer decides by `stat`. A deleted or renamed-away
path is yielded too, so the tailer can finish the old inode. A SQLite database in WAL
mode takes its commits into `<db>-wal` and reaches the main file only at a checkpoint:
a change of the `-wal` yields the database, and the sweep's signature includes it.

It never watches inside an excluded directory (the daemon's state dir: the ledger's own
writes would wake it forever). A glob root that lies strictly inside an excluded dir
(the spool) is watched itself; files elsewhere in the excluded dir are ignored.

What costs what (numbers: `bench/bench_watch.py`, recorded in bench/README.md):
- watchfiles' Rust loop wakes every `step` ms while it waits (it takes the GIL to check
  the stop event), and append→yield latency is about 1.5 × step: `step` trades idle CPU
  against latency, and its default keeps both inside the daemon's goals. Every notifier
  instance pays its own wakes, so all recursive roots share one instance, small
  non-recursive roots (the spool) join it, and only a big ancestor of a missing root
  gets a second, slower one.
- The stat sweep is a safety net, so it is budgeted: every `sweep_interval` it stats the
  `max_hot` most recently modified files changed within `hot_window` (the ones being
  written) plus a slice of the others, so a full pass over the cold files takes
  `cold_interval` or, for big sets, as long as `cold_per_sweep` per sweep needs. A
  re-walk of the globs (new files missed by notification) runs every `rewalk_interval`,
  stretched so walking never takes more than a small share of the time. With inotify
  healthy all of this finds nothing.
- A cost outside our control: notify's inotify mask includes opens and closes, so
  another program reading many watched files (a backup, `ccusage`) wakes the notifier
  thread per file read, although nothing is reported.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import stat
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Final

from watchfiles import Change, awatch
from watchfiles._rust_notify import WatchfilesRustInternalError

from monitor.globs import Glob, walk_all
from monitor.watch_plan import (
    DEFAULT_PENDING_STEP_MS,
    DEFAULT_STEP_MS,
    WAL_SUFFIX,
    Group,
    Scope,
    Sig,
    WatchPlan,
    dir_ident,
    groups_for,
    inside,
    is_limit_error,
    norm_path,
    plan_for,
    plan_watches,
    sig_of,
    stat_sig,
)

__all__ = ["DEFAULT_STEP_MS", "WatchStats", "Watcher", "plan_watches"]

log = logging.getLogger("llm_monitor.watch")

_MIN_REARM_GAP: Final = 0.05
_YIELD_EVERY: Final = 512
"""Walks and sweeps give the event loop a turn this often, so a big tree never stalls it."""


@dataclass(slots=True)
class WatchStats:
    """Counters for `status` / metrics and for tests that must see what did NOT happen."""

    batches: int = 0
    raw_changes: int = 0
    excluded_changes: int = 0
    """Changes reported inside an excluded dir; stays 0 while the plan keeps them unwatched."""
    sweeps: int = 0
    sweep_hits: int = 0
    """Changed files found by the stat sweep rather than by a notification."""
    rearms: int = 0
    polling: set[str] = field(default_factory=set)


class Watcher:
    """Yields sets of paths that match a glob and may have new bytes (or be gone).

    Run it with `async for paths in watcher.changes()`; `stop()` ends the iteration
    within about `pending_step_ms`. `ready` is set once the notifiers are armed and the
    first walk has recorded what exists: nothing written after that is missed. That
    first walk yields nothing unless `yield_existing` (the daemon backfills instead);
    files that appear later, including those newly covered by `update()`, are yielded.

    `notify=False` leaves only the stat sweep and the re-walks (every 60 s by default): for
    file systems where notification never works. `force_polling=None` keeps watchfiles'
    own choice (polling on WSL or when WATCHFILES_FORCE_POLLING is set).
    """

    def __init__(
        self,
        globs: Sequence[Glob],
        *,
        exclude: Sequence[str | os.PathLike[str]] = (),
        sweep_interval: float = 5.0,
        cold_interval: float = 60.0,
        hot_window: float = 3600.0,
        max_hot: int = 128,
        cold_per_sweep: int = 150,
        rewalk_interval: float | None = None,
        debounce_ms: int = 50,
        step_ms: int = DEFAULT_STEP_MS,
        pending_step_ms: int = DEFAULT_PENDING_STEP_MS,
        notify: bool = True,
        force_polling: bool | None = None,
        poll_delay_ms: int = 1000,
        yield_existing: bool = False,
    ) -> None:
        self._scope = Scope(globs, (norm_path(x) for x in exclude))
        self._sweep_interval = sweep_interval
        self._cold_interval = cold_interval
        self._hot_ns = int(hot_window * 1e9)
        self._max_hot = max_hot
        self._cold_per_sweep = cold_per_sweep
        if rewalk_interval is None:
            rewalk_interval = 600.0 if notify else 60.0
        self._rewalk_interval = rewalk_interval
        self._debounce_ms = debounce_ms
        self._step_ms = step_ms
        self._pending_step_ms = pending_step_ms
        self._notify = notify
        self._force_polling = force_polling
        self._poll_delay_ms = poll_delay_ms
        self._yield_existing = yield_existing

        self.ready = asyncio.Event()
        self.stats = WatchStats()
        self._started = False
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._rearm = asyncio.Event()
        self._globs_changed = False
        self._rearm_for_error = False
        self._fail_streak = 0
        self._armed_at = 0.0
        self._out: set[str] = set()
        self._plan = WatchPlan(frozenset())
        self._streams: dict[Group, tuple[asyncio.Task[None], asyncio.Event]] = {}
        self._polling: set[str] = set()
        self._lenient = False
        self._warned: set[str] = set()
        self._sigs: dict[str, Sig] = {}
        self._hot: set[str] = set()
        self._cold: set[str] = set()
        self._cold_pass: list[str] = []
        self._cold_next = 0

    # -- public ------------------------------------------------------------------------

    async def changes(self) -> AsyncIterator[set[str]]:
        if self._started:
            raise RuntimeError("a Watcher runs once; create a new one")
        self._started = True
        tasks = [
            asyncio.create_task(self._supervise(), name="watch-supervisor"),
            asyncio.create_task(self._sweep_loop(), name="watch-sweep"),
        ]
        for t in tasks:
            t.add_done_callback(lambda _: self._wake.set())
        try:
            while not self._stopping.is_set():
                await self._wake.wait()
                self._wake.clear()
                for t in tasks:
                    exc = t.exception() if t.done() and not t.cancelled() else None
                    if exc is not None:
                        raise exc
                if self._out and not self._stopping.is_set():
                    batch, self._out = self._out, set()
                    self.stats.batches += 1
                    yield batch
        finally:
            self.stop()
            results = await asyncio.gather(*tasks, return_exceptions=True)
        for r in results:
            if isinstance(r, Exception):
                raise r

    def stop(self) -> None:
        """End `changes()` soon; safe to call more than once, or before it started."""
        self._stopping.set()
        self._rearm.set()
        self._wake.set()

    def update(self, globs: Sequence[Glob]) -> None:
        """Watch these globs instead (config reload); files they newly cover are yielded."""
        self._scope = Scope(globs, self._scope.exclude)
        self._polling.clear()  # the user may have raised the inotify limit meanwhile
        self.stats.polling.clear()
        self._globs_changed = True
        self._rearm.set()

    # -- arming ------------------------------------------------------------------------

    async def _supervise(self) -> None:
        try:
            await self._arm(initial=True)
            self.ready.set()
            while True:
                await self._rearm.wait()
                if self._stopping.is_set():
                    return
                since = time.monotonic() - self._armed_at
                if self._rearm_for_error:
                    self._fail_streak = self._fail_streak + 1 if since < 2.0 else 1
                    delay = min(0.05 * 2**self._fail_streak, self._sweep_interval)
                else:
                    delay = _MIN_REARM_GAP - since  # a directory re-created in a loop
                if delay > 0:
                    await self._sleep(delay)
                    if self._stopping.is_set():
                        return
                self._rearm.clear()
                self._rearm_for_error = False
                self.stats.rearms += 1
                await self._arm(initial=False)
        finally:
            streams = list(self._streams.values())
            self._streams.clear()
            for _, ev in streams:
                ev.set()
            await asyncio.gather(*(task for task, _ in streams))

    async def _arm(self, *, initial: bool) -> None:
        globs_changed, self._globs_changed = self._globs_changed, False
        old_targets = self._plan.targets
        dirty: set[str] = set()
        if self._notify:
            for g in [g for g, (task, _) in self._streams.items() if task.done()]:
                await self._streams.pop(g)[0]  # failed and reported: start it afresh
                dirty.update(g.paths)
            plan = plan_for(self._scope)
            wanted = groups_for(
                plan, self._polling, self._lenient, self._step_ms, self._pending_step_ms
            )
            started = [g for g in wanted if g not in self._streams]
            for g in started:
                ev = asyncio.Event()
                self._streams[g] = (asyncio.create_task(self._stream(g, ev)), ev)
            if started:
                # awatch adds every inotify watch synchronously in its first step: one loop
                # turn later the new notifiers are armed, so retiring the old ones leaves
                # no gap (changes in the overlap are reported twice, which is harmless).
                await asyncio.sleep(0)
            retiring = [self._streams.pop(g) for g in list(self._streams) if g not in wanted]
            for _, ev in retiring:
                ev.set()
            self._plan = plan
            self._armed_at = time.monotonic()
            await asyncio.gather(*(task for task, _ in retiring))
            if plan_for(self._scope) != plan:
                # The tree changed while arming (a missing root made right after its
                # ancestor's watch was planned): nothing would report it, so go again.
                self._request_rearm()
        if initial or globs_changed:
            await self._walk_all(emit=not initial or self._yield_existing)
            return
        # Files under a target new to this plan, or whose notifier failed, may have
        # changed while nothing watched them.
        for t in sorted(self._plan.targets, key=lambda t: t.path):
            if not t.pending and (t not in old_targets or t.path in dirty):
                await self._walk_tree(t.path)

    def _request_rearm(self, *, error: bool = False) -> None:
        self._rearm_for_error = self._rearm_for_error or error
        self._rearm.set()

    async def _stream(self, group: Group, stop: asyncio.Event) -> None:
        changes = awatch(
            *group.paths,
            watch_filter=None,
            debounce=self._debounce_ms,
            step=group.step_ms,
            stop_event=stop,
            recursive=group.recursive,
            force_polling=True if group.polling else self._force_polling,
            poll_delay_ms=self._poll_delay(group),
            # Lenient mode also swallows the watch-limit error (notify skips what it
            # cannot watch, silently), so it is only used once a directory proved unreadable.
            ignore_permission_denied=group.lenient,
        )
        try:
            while True:
                try:
                    raw = await anext(changes)
                except StopAsyncIteration:
                    return
                except FileNotFoundError:
                    # A target vanished between planning and arming: plan again.
                    self._request_rearm(error=True)
                    return
                except PermissionError as exc:
                    log.warning("%s; unreadable directories will be skipped", exc)
                    self._lenient = True
                    self._request_rearm()
                    return
                except (OSError, WatchfilesRustInternalError) as exc:
                    self._on_notify_error(group, exc)
                    return
                await self._on_changes(raw, group)
        finally:
            await changes.aclose()

    def _poll_delay(self, group: Group) -> int:
        """Polling stats every file each round (~5 µs each): slow down for big trees so it
        stays near 1 % of a core; the hot-file sweep still sees active files every few s."""
        prefixes = tuple(t.rstrip("/") + "/" for t in group.paths)
        files = sum(1 for p in self._sigs if p.startswith(prefixes))
        return max(self._poll_delay_ms, files // 2)

    def _on_notify_error(self, group: Group, exc: BaseException) -> None:
        paths = ", ".join(group.paths)
        if not group.polling and is_limit_error(exc):
            self._polling.update(group.paths)
            self.stats.polling.update(group.paths)
            if paths not in self._warned:
                self._warned.add(paths)
                log.warning(
                    "cannot watch %s with inotify (%s); polling it every %d ms or more instead. "
                    "Raise the limit: sudo sysctl fs.inotify.max_user_watches=524288 "
                    "(fs.inotify.max_user_instances for 'too many open files'), and persist "
                    "it in /etc/sysctl.d/",
                    paths,
                    exc,
                    self._poll_delay_ms,
                )
            self._request_rearm()
            return
        message = f"watching {paths} failed: {exc}"
        (log.debug if message in self._warned else log.warning)("%s; re-arming", message)
        self._warned.add(message)
        self._request_rearm(error=True)

    # -- events ------------------------------------------------------------------------

    async def _on_changes(self, raw: set[tuple[Change, str]], group: Group) -> None:
        scope = self._scope
        self.stats.raw_changes += len(raw)
        armed = self._plan.paths
        new_dirs: list[str] = []
        for change, path in raw:
            if scope.hidden(path):
                self.stats.excluded_changes += 1
                if change == Change.added and path in scope.exclude:
                    self._request_rearm()  # the excluded dir appeared inside a watched tree
                continue
            # The set is unordered (a rename rotation arrives as deleted + added of one
            # name), so what the path is now is decided by stat, whatever the change says.
            try:
                st: os.stat_result | None = os.stat(path)
            except OSError:
                st = None
            if change == Change.deleted and path in armed:
                self._request_rearm()
            if path.endswith(WAL_SUFFIX):
                self._on_wal(path[: -len(WAL_SUFFIX)])
            if st is None:
                if scope.matches(path):
                    self._forget(path)
                    self._emit(path)
            elif stat.S_ISREG(st.st_mode):
                sig = sig_of(path, st) if scope.matches(path) else None
                if sig is not None:
                    self._record(path, sig)
                    self._emit(path)
            elif stat.S_ISDIR(st.st_mode) and change == Change.added and scope.may_contain(path):
                if group.recursive:
                    new_dirs.append(path)  # notify watches it already; its files may predate that
                else:
                    self._request_rearm()  # a missing root (or a split child) appeared
        for d in sorted(new_dirs):
            if not any(o != d and inside(d, o) for o in new_dirs):
                await self._walk_tree(d)

    def _on_wal(self, database: str) -> None:
        """A SQLite database's write-ahead log changed: its commits are new rows of the
        database, whose own file may not change until a checkpoint."""
        if not self._scope.matches(database):
            return
        sig = stat_sig(database)
        if sig is not None:  # gone: the database's own change reports it
            self._record(database, sig)
            self._emit(database)

    def _emit(self, path: str) -> None:
        self._out.add(path)
        self._wake.set()

    # -- what is known -----------------------------------------------------------------

    def _record(self, path: str, sig: Sig) -> None:
        self._sigs[path] = sig
        if time.time_ns() - sig.mtime_ns < self._hot_ns:
            self._cold.discard(path)
            self._hot.add(path)
        else:
            self._hot.discard(path)
            self._cold.add(path)

    def _forget(self, path: str) -> None:
        if self._sigs.pop(path, None) is not None:
            self._hot.discard(path)
            self._cold.discard(path)

    def _walk_subtree(self, top: str) -> Iterator[str]:
        """Matching files under `top`, pruned by the globs; symlink cycles entered once."""
        scope = self._scope
        seen: set[tuple[int, int]] = set()
        stack = [top]
        while stack:
            d = stack.pop()
            ident = dir_ident(d)
            if ident is None or ident in seen:
                continue
            seen.add(ident)
            try:
                with os.scandir(d) as it:
                    entries = list(it)
            except OSError:
                continue
            for e in entries:
                try:
                    if e.is_dir():
                        if scope.may_contain(e.path):
                            stack.append(e.path)
                    elif e.is_file() and scope.matches(e.path):
                        yield e.path
                except OSError:
                    continue

    async def _walk_tree(self, top: str) -> None:
        """Yield every file under a newly watched directory that is new or changed."""
        for i, path in enumerate(self._walk_subtree(top)):
            if i % _YIELD_EVERY == _YIELD_EVERY - 1:
                await asyncio.sleep(0)
                if self._stopping.is_set():
                    return
            sig = stat_sig(path)
            if sig is not None and sig != self._sigs.get(path):
                self._record(path, sig)
                self._emit(path)

    async def _walk_all(self, *, emit: bool) -> None:
        """Walk the globs: record new files (yielding them if `emit`), drop vanished ones."""
        scope = self._scope
        found: set[str] = set()
        for i, (_, path) in enumerate(walk_all(scope.globs)):
            if i % _YIELD_EVERY == _YIELD_EVERY - 1:
                await asyncio.sleep(0)
                if self._stopping.is_set():
                    return
            if path in found or scope.hidden(path):
                continue
            found.add(path)
            if path not in self._sigs:
                sig = stat_sig(path)
                if sig is not None:
                    self._record(path, sig)
                    if emit:
                        self._emit(path)
        for path in [p for p in self._sigs if p not in found]:
            if not scope.matches(path):
                self._forget(path)  # no longer covered (update): nobody asks about it
            elif stat_sig(path) is None:
                self._forget(path)  # gone without an event: the tailer finishes it
                if emit:
                    self._emit(path)

    # -- the sweep ---------------------------------------------------------------------

    async def _sleep(self, seconds: float) -> None:
        """Sleep, but wake at once on stop()."""
        try:
            async with asyncio.timeout(seconds):
                await self._stopping.wait()
        except TimeoutError:
            pass

    async def _sweep_loop(self) -> None:
        next_walk = time.monotonic() + self._rewalk_interval
        while True:
            await self._sleep(self._sweep_interval)
            if self._stopping.is_set():
                return
            if not self.ready.is_set():
                continue
            self.stats.sweeps += 1
            if self._notify and plan_for(self._scope) != self._plan:
                self._request_rearm()  # e.g. a watched dir re-created, or a missing root made
            if time.monotonic() >= next_walk:
                spent = time.process_time()
                await self._walk_all(emit=True)
                spent = time.process_time() - spent
                next_walk = time.monotonic() + max(self._rewalk_interval, 2000 * spent)
            await self._stat_sweep()

    def _sweep_paths(self) -> list[str]:
        """The hot files, then this sweep's slice of the current pass over the cold ones."""
        if len(self._hot) > self._max_hot:
            by_age = sorted(self._hot, key=lambda p: self._sigs[p].mtime_ns, reverse=True)
            for p in by_age[self._max_hot :]:
                self._hot.discard(p)
                self._cold.add(p)
        if self._cold_next >= len(self._cold_pass):
            self._cold_pass = sorted(self._cold)
            self._cold_next = 0
        share = math.ceil(len(self._cold_pass) * self._sweep_interval / self._cold_interval)
        start = self._cold_next
        self._cold_next += max(1, min(self._cold_per_sweep, share))
        cold = [p for p in self._cold_pass[start : self._cold_next] if p in self._cold]
        return [*self._hot, *cold]

    async def _stat_sweep(self) -> None:
        now_ns = time.time_ns()
        for i, path in enumerate(self._sweep_paths()):
            if i % _YIELD_EVERY == _YIELD_EVERY - 1:
                await asyncio.sleep(0)
                if self._stopping.is_set():
                    return
            old = self._sigs.get(path)
            if old is None:
                continue
            sig = stat_sig(path)
            if sig is None:
                self.stats.sweep_hits += 1
                self._forget(path)
                self._emit(path)
            elif sig != old:
                self.stats.sweep_hits += 1
                self._record(path, sig)
                self._emit(path)
            elif path in self._hot and now_ns - sig.mtime_ns >= self._hot_ns:
                self._hot.discard(path)
                self._cold.add(path)
