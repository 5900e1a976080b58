"""Where to watch: the directories a set of globs needs watched, and how.

The watcher (watch.py) runs notifiers; this module only plans them, from the globs and
the file system as it is now: the nearest existing directory of each glob root, missing
roots through non-recursive watches on their ancestors, small trees folded into one
recursive notifier, excluded directories (the daemon's own state dir) left out. Pure but
for `stat`/`listdir`: nothing here watches or reads a file.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final, NamedTuple

from monitor.globs import Glob

DEFAULT_STEP_MS: Final = 40
"""~53 ms median append→yield for ~0.2 % of a core idle (bench/README.md)."""
DEFAULT_PENDING_STEP_MS: Final = 100
"""Ancestors of missing roots only wait for a directory to appear; this also bounds stop()."""
SMALL_TREE_DIRS: Final = 32
"""A non-recursive root with at most this many directories below it joins the recursive
notifier (one instance instead of two); a bigger one gets a flat watch of its own."""
_LIMIT_HINTS: Final = (
    "watch limit",
    "no space left on device",
    "too many open files",
    "os error 28",
    "os error 24",
)


class Sig(NamedTuple):
    """What the sweep compares: a change in any of these means the file may have new bytes.

    A SQLite database in WAL mode takes its commits into `<db>-wal` and leaves the main
    file untouched until a checkpoint: its write-ahead log's size counts too, and
    `mtime_ns` is the later of the two files' (so an active database stays "hot").
    """

    size: int
    mtime_ns: int
    inode: int
    wal_size: int = -1
    """The size of `<path>-wal`; -1 when there is none (every file but a WAL database)."""


@dataclass(frozen=True, slots=True)
class WatchTarget:
    """One directory handed to a notifier.

    `pending`: the nearest existing ancestor of a missing root, watched flat with the
    slower step until the root appears. `ident` is (st_dev, st_ino) when planned: a
    directory deleted and re-created under the same name is a different target, so its
    dead inotify watch gets replaced.
    """

    path: str
    recursive: bool
    pending: bool
    ident: tuple[int, int]


@dataclass(frozen=True, slots=True)
class WatchPlan:
    """What to watch now; the sweep re-plans and re-arms when the result differs."""

    targets: frozenset[WatchTarget]

    @property
    def paths(self) -> frozenset[str]:
        return frozenset(t.path for t in self.targets)


@dataclass(frozen=True, slots=True)
class Group:
    """One notifier instance: its paths, its mode and its wake-up step."""

    targets: tuple[WatchTarget, ...]
    recursive: bool
    step_ms: int
    polling: bool
    lenient: bool

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(t.path for t in self.targets)


def inside(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip("/") + "/")


def norm_path(path: str | os.PathLike[str]) -> str:
    return os.path.normpath(os.path.abspath(os.path.expanduser(os.fspath(path))))


WAL_SUFFIX: Final = "-wal"
"""A SQLite database's write-ahead log is `<database>-wal`, beside it."""


def stat_sig(path: str) -> Sig | None:
    """The file's signature, or None when it is gone or not a regular file."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return sig_of(path, st)


def sig_of(path: str, st: os.stat_result) -> Sig | None:
    """The signature of `path`, stat'ed as `st`, with its `-wal` if it has one."""
    if not stat.S_ISREG(st.st_mode):
        return None
    try:
        wal = os.stat(path + WAL_SUFFIX)
    except OSError:
        return Sig(st.st_size, st.st_mtime_ns, st.st_ino)
    return Sig(st.st_size, max(st.st_mtime_ns, wal.st_mtime_ns), st.st_ino, wal.st_size)


def dir_ident(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISDIR(st.st_mode) else None


def _subdirs(path: str) -> list[str]:
    try:
        with os.scandir(path) as it:
            return sorted(e.path for e in it if e.is_dir())
    except OSError:
        return []


def _small_tree(path: str, limit: int = SMALL_TREE_DIRS) -> bool:
    seen = 0
    stack = [path]
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                for e in it:
                    if e.is_dir(follow_symlinks=False):
                        seen += 1
                        if seen > limit:
                            return False
                        stack.append(e.path)
        except OSError:
            continue
    return True


class Scope:
    """The globs and excluded dirs, with the cheap path tests every event goes through."""

    def __init__(self, globs: Sequence[Glob], exclude: Iterable[str]) -> None:
        self.globs: tuple[Glob, ...] = tuple(globs)
        self.exclude: tuple[str, ...] = tuple(sorted(set(exclude)))
        roots = {str(g.root) for g in self.globs}
        self.allowed: tuple[str, ...] = tuple(
            sorted(r for r in roots if any(inside(r, x) and r != x for x in self.exclude))
        )

    def hidden(self, path: str) -> bool:
        """Inside an excluded dir and not under a glob root that lies strictly inside it."""
        return any(inside(path, x) for x in self.exclude) and not any(
            inside(path, a) for a in self.allowed
        )

    def prunable(self, directory: str) -> bool:
        """Hidden, and not on the way to an allowed root either: never enter it."""
        return self.hidden(directory) and not any(inside(a, directory) for a in self.allowed)

    def matches(self, path: str) -> bool:
        return any(g.matches(path) for g in self.globs) and not self.hidden(path)

    def may_contain(self, directory: str) -> bool:
        return not self.prunable(directory) and any(g.may_contain(directory) for g in self.globs)

    def contains_excluded(self, directory: str) -> bool:
        return any(inside(x, directory) for x in self.exclude)


def plan_watches(
    globs: Sequence[Glob], exclude: Iterable[str | os.PathLike[str]] = ()
) -> WatchPlan:
    """Decide which existing directories to watch, and how, for these globs.

    - An existing root is watched with its glob's recursion; a missing root's nearest
      existing ancestor is watched flat (`pending`) until the root appears: recursively,
      an ancestor like $HOME would cost a watch per directory and wake on every write
      below it.
    - A recursive watch never contains an excluded dir: such a root is split into a flat
      watch of itself plus one watch per child that the globs can descend into (the
      excluded dir's own children only when they lead to an allowed root, e.g. spool).
    - Watches covered by a recursive one are dropped; small flat ones (the spool, or
      `~/.codex` while `sessions/` is missing) become recursive so they share the
      recursive notifier instead of paying for their own.
    """
    return plan_for(Scope(globs, (norm_path(x) for x in exclude)))


def plan_for(scope: Scope) -> WatchPlan:
    wanted: dict[str, bool] = {}
    for g in scope.globs:
        root = str(g.root)
        if not scope.hidden(root):
            wanted[root] = wanted.get(root, False) or g.recursive
    rec: set[str] = set()
    flat: set[str] = set()
    pending: set[str] = set()

    def place(d: str, recursive: bool) -> None:
        if not recursive:
            flat.add(d)
            return
        if not scope.contains_excluded(d):
            rec.add(d)
            return
        if not scope.hidden(d):
            flat.add(d)
        for child in _subdirs(d):
            if not scope.prunable(child) and scope.may_contain(child):
                place(child, True)

    for root, recursive in sorted(wanted.items()):
        existing = root
        while dir_ident(existing) is None and existing != "/":
            existing = os.path.dirname(existing)
        if existing == root:
            place(root, recursive)
        elif not scope.hidden(existing):
            pending.add(existing)
        # A hidden ancestor (the state dir while spool/ is missing) is left to the sweep.

    for small in [d for d in flat | pending if not scope.contains_excluded(d) and _small_tree(d)]:
        flat.discard(small)
        pending.discard(small)
        rec.add(small)
    rec = {r for r in rec if not any(r != o and inside(r, o) for o in rec)}
    flat = {f for f in flat if not any(inside(f, r) for r in rec)}
    pending = {p for p in pending if p not in flat and not any(inside(p, r) for r in rec)}

    targets: set[WatchTarget] = set()
    for paths, recursive, is_pending in (
        (rec, True, False),
        (flat, False, False),
        (pending, False, True),
    ):
        for p in paths:
            ident = dir_ident(p)
            if ident is not None:  # gone since: the next sweep re-plans
                targets.add(WatchTarget(p, recursive, is_pending, ident))
    return WatchPlan(frozenset(targets))


def groups_for(
    plan: WatchPlan, polling: set[str], lenient: bool, step_ms: int, pending_step_ms: int
) -> set[Group]:
    buckets: dict[tuple[bool, int, bool], list[WatchTarget]] = {}
    for t in plan.targets:
        step = pending_step_ms if t.pending else step_ms
        buckets.setdefault((t.recursive, step, t.path in polling), []).append(t)
    return {
        Group(tuple(sorted(ts, key=lambda t: t.path)), recursive, step, poll, lenient)
        for (recursive, step, poll), ts in buckets.items()
    }


def is_limit_error(exc: BaseException) -> bool:
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EMFILE, errno.ENFILE):
        return True
    text = str(exc).lower()
    return any(h in text for h in _LIMIT_HINTS)
