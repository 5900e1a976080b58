"""Path globs: the ONE matcher shared by `scan` and the live watcher.

Python 3.11's `PurePath.match` has no `**` and `fnmatch`'s `**` never matches zero
directories, so neither can tell whether `~/.claude/projects/**/*.jsonl` covers
`~/.claude/projects/x.jsonl`. A `Glob` splits its pattern into path segments and runs a
small NFA over a path's segments; matching a single path (the watcher) and walking a
tree (scan, backfill) go through the same segment matchers, so they cannot disagree.

Semantics:
- `**` as a whole segment matches zero or more directories; `*`, `?` and `[...]` match
  within one segment and never cross `/` (a `**` inside a longer segment acts as `*`).
- Names starting with "." are matched only by a segment that itself starts with a
  literal "." (glob(3), Python's `glob` and fast-glob, which ccusage uses, all do this):
  `**/*.jsonl` does not descend into `.git` or `.venv`, while `**/.costs/usage.json`
  finds `.costs`. Claude Code's project directories (`-home-u-x`) start with "-", not
  ".", so they match.
- Only regular files (or symlinks to them) are walked out. Symlinked directories are
  followed, each physical directory once per walk, so a link cycle cannot loop.
- A missing or unreadable directory yields nothing; walking never raises for it.

This module never watches anything itself: `Glob.root` says where to start walking or
watching, `Glob.may_contain` whether a (new) directory can hold matches.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from fnmatch import translate
from pathlib import Path
from typing import Final

_MAGIC: Final = re.compile(r"[*?\[]")
_ANY_DIRS: Final = "**"


@dataclass(slots=True)
class WalkStats:
    """Counters of one walk, so tests (and `scan --verbose`) can see what was pruned."""

    dirs_scanned: int = 0


@dataclass(frozen=True, slots=True)
class _Segment:
    text: str
    literal: bool
    any_dirs: bool
    allow_dot: bool
    match: Callable[[str], object] | None

    def accepts(self, name: str) -> bool:
        if self.literal:
            return name == self.text
        if name[0] == "." and not self.allow_dot:
            return False
        assert self.match is not None
        return self.match(name) is not None


def _segment(text: str) -> _Segment:
    if text == _ANY_DIRS:
        return _Segment(text, literal=False, any_dirs=True, allow_dot=False, match=None)
    if not _MAGIC.search(text):
        return _Segment(text, literal=True, any_dirs=False, allow_dot=True, match=None)
    compiled = re.compile(translate(text.replace("**", "*")))
    return _Segment(
        text, literal=False, any_dirs=False, allow_dot=text.startswith("."), match=compiled.match
    )


States = frozenset[int]


class Glob:
    """A compiled absolute glob pattern (`~` expanded, relative patterns made absolute)."""

    __slots__ = ("pattern", "_root", "_segments", "_start", "_file_tests")

    def __init__(self, pattern: str, base: str | os.PathLike[str] | None = None) -> None:
        expanded = os.path.expanduser(pattern)
        if not os.path.isabs(expanded):
            expanded = os.path.join(os.fspath(base) if base is not None else os.getcwd(), expanded)
        normalized = os.path.normpath(expanded)
        if normalized.startswith("//"):
            normalized = "/" + normalized.lstrip("/")
        parts = [p for p in normalized.split("/") if p]
        literal_prefix = 0
        while literal_prefix < len(parts) and not _MAGIC.search(parts[literal_prefix]):
            literal_prefix += 1
        if literal_prefix == len(parts):
            literal_prefix -= 1  # a literal file path: its directory is the root
        self.pattern: str = normalized
        self._root: str = "/" + "/".join(parts[:literal_prefix])
        self._segments: tuple[_Segment, ...] = tuple(_segment(p) for p in parts[literal_prefix:])
        self._start: States = self._closure({0})
        self._file_tests: dict[States, tuple[Callable[[str], bool], ...]] = {}

    def __repr__(self) -> str:
        return f"Glob({self.pattern!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Glob) and other.pattern == self.pattern

    def __hash__(self) -> int:
        return hash(self.pattern)

    @property
    def root(self) -> Path:
        """The longest literal directory prefix: where a walk starts, what a watcher watches."""
        return Path(self._root)

    @property
    def recursive(self) -> bool:
        """Whether matches can lie deeper than directly inside `root`."""
        return len(self._segments) > 1 or any(s.any_dirs for s in self._segments)

    def matches(self, path: str | os.PathLike[str]) -> bool:
        """Whether `path` (absolute) matches; says nothing about whether it exists."""
        names = self._relative_names(os.fspath(path))
        if names is None or not names:
            return False
        states = self._start
        for name in names:
            states = self._step(states, name)
            if not states:
                return False
        return self._accepts(states)

    def may_contain(self, directory: str | os.PathLike[str]) -> bool:
        """Whether files under `directory` (absolute) can match: a watcher's filter for dirs.

        True for `root`, its ancestors (a missing root is watched from an existing parent)
        and every directory below root that the pattern can still descend through.
        """
        d = os.path.normpath(os.fspath(directory))
        if d == self._root or self._root.startswith(d.rstrip("/") + "/"):
            return True
        names = self._relative_names(d)
        if not names:
            return False
        states: States = self._start
        for name in names:
            states = self._step(states, name)
            if not self._descends(states):
                return False
        return True

    def walk(self, stats: WalkStats | None = None) -> Iterator[str]:
        """Every existing regular file matching, in sorted order per directory."""
        for _, path in walk_all((self,), stats):
            yield path

    def _relative_names(self, path: str) -> list[str] | None:
        path = os.path.normpath(path)
        prefix = self._root if self._root == "/" else self._root + "/"
        if not path.startswith(prefix):
            return None
        return [n for n in path[len(prefix) :].split("/") if n]

    def _closure(self, states: Iterable[int]) -> States:
        """Add the zero-directory case: a state on `**` may also skip it."""
        out: set[int] = set()
        for i in states:
            while i < len(self._segments) and self._segments[i].any_dirs and i not in out:
                out.add(i)
                i += 1
            out.add(i)
        return frozenset(out)

    def _step(self, states: States, name: str) -> States:
        nxt: list[int] = []
        for i in states:
            if i >= len(self._segments):
                continue
            seg = self._segments[i]
            if seg.any_dirs:
                if name[0] != ".":
                    nxt.append(i)
            elif seg.accepts(name):
                nxt.append(i + 1)
        return self._closure(nxt) if nxt else frozenset()

    def accepts_file(self, states: States, name: str) -> bool:
        """`_accepts(_step(states, name))` for a file: the walk asks it of every file, so
        the segments that can end a match from `states` are found once per state set."""
        tests = self._file_tests.get(states)
        if tests is None:
            n = len(self._segments)
            found: list[Callable[[str], bool]] = []
            for i in states:
                if i >= n:
                    continue
                seg = self._segments[i]
                after = i if seg.any_dirs else i + 1
                if n in self._closure({after}):
                    found.append(_not_hidden if seg.any_dirs else seg.accepts)
            tests = self._file_tests[states] = tuple(found)
        if len(tests) == 1:
            return tests[0](name)
        return any(test(name) for test in tests)

    def _descends(self, states: States) -> bool:
        """Whether a directory in these states can still contain a match.

        State i means "the next name must match segment i", so any i short of the end
        leaves something for the directory's entries to match.
        """
        n = len(self._segments)
        return any(i < n for i in states)

    def _accepts(self, states: States) -> bool:
        return len(self._segments) in states


def _not_hidden(name: str) -> bool:
    return name[0] != "."


def walk_all(globs: Sequence[Glob], stats: WalkStats | None = None) -> Iterator[tuple[int, str]]:
    """Walk several globs at once: `(index of the glob, path)` for every match.

    Globs sharing a tree (same or nested roots) are walked together, so each directory
    is listed once however many sources look into it. A file matching two globs is
    reported once per glob.
    """
    roots: dict[str, list[int]] = {}
    for i, g in enumerate(globs):
        roots.setdefault(g._root, []).append(i)
    # Directories between a walked root and a nested root must be entered even when no
    # glob alive there would descend into them.
    tops: list[str] = []
    for r in sorted(roots):
        if not any(r == t or r.startswith(t.rstrip("/") + "/") for t in tops):
            tops.append(r)
    toward: set[str] = set()
    for r in roots:
        d = r
        while d not in tops and d != "/":
            d = os.path.dirname(d)
            toward.add(d)
    seen_dirs: set[tuple[int, int]] = set()
    for top in tops:
        try:
            st = os.stat(top)
        except OSError:
            continue
        seen_dirs.add((st.st_dev, st.st_ino))
        yield from _walk_dir(globs, roots, toward, top, seen_dirs, stats)


_Listing = tuple[Iterator[os.DirEntry[str]], dict[int, States]]
"""A directory being walked: its entries still to visit (sorted), and each live glob's
state in it."""


def _list_dir(
    globs: Sequence[Glob],
    roots: dict[str, list[int]],
    path: str,
    inherited: dict[int, States],
    stats: WalkStats | None,
) -> _Listing | None:
    states = dict(inherited)
    for gi in roots.get(path, ()):
        states[gi] = globs[gi]._start
    try:
        with os.scandir(path) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError:
        return None
    if stats is not None:
        stats.dirs_scanned += 1
    return iter(entries), states


def _walk_dir(
    globs: Sequence[Glob],
    roots: dict[str, list[int]],
    toward: set[str],
    top: str,
    seen_dirs: set[tuple[int, int]],
    stats: WalkStats | None,
) -> Iterator[tuple[int, str]]:
    """Depth first, each directory's entries in name order. A stack of listings, not
    recursion: a chain of `yield from` costs every file once per level it is deep."""
    first = _list_dir(globs, roots, top, {}, stats)
    stack = [first] if first is not None else []
    while stack:
        entries, states = stack[-1]
        for entry in entries:
            name = entry.name
            try:
                is_dir = entry.is_dir()
            except OSError:
                continue
            if is_dir:
                child: dict[int, States] = {}
                for gi, s in states.items():
                    nxt = globs[gi]._step(s, name)
                    if globs[gi]._descends(nxt):
                        child[gi] = nxt
                child_path = entry.path
                if not child and child_path not in toward and child_path not in roots:
                    continue
                try:
                    st = entry.stat()
                except OSError:
                    continue
                ident = (st.st_dev, st.st_ino)
                if ident in seen_dirs:
                    continue
                seen_dirs.add(ident)
                listing = _list_dir(globs, roots, child_path, child, stats)
                if listing is not None:
                    stack.append(listing)
                    break  # the child first; this listing resumes after it
                continue
            try:
                is_file = entry.is_file()
            except OSError:
                continue
            if not is_file:
                continue
            for gi, s in states.items():
                if globs[gi].accepts_file(s, name):
                    yield gi, entry.path
        else:
            stack.pop()
