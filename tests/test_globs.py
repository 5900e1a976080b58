"""The one glob matcher: matching single paths (the watcher) and walking trees (scan)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from monitor.globs import Glob, WalkStats, walk_all


def touch(root: Path, *relpaths: str) -> list[str]:
    out = []
    for rel in relpaths:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("x\n")
        out.append(str(p))
    return out


@pytest.mark.parametrize(
    ("rel", "expected"),
    [
        ("a.jsonl", True),  # ** as zero directories
        ("d1/a.jsonl", True),
        ("d1/d2/d3/a.jsonl", True),
        ("-home-u-project/session.jsonl", True),  # Claude Code's project dir names
        ("d1/a.json", False),
        ("d1/a.jsonl/x", False),
    ],
)
def test_double_star_matches_zero_one_or_many_directories(rel: str, expected: bool) -> None:
    g = Glob("/r/**/*.jsonl")
    assert g.matches(f"/r/{rel}") is expected


def test_double_star_in_the_middle_matches_zero_directories() -> None:
    g = Glob("/r/**/logs/*.log")
    assert g.matches("/r/logs/a.log")
    assert g.matches("/r/x/y/logs/a.log")
    assert not g.matches("/r/x/logs/sub/a.log")


def test_trailing_double_star_matches_every_file_below() -> None:
    g = Glob("/r/**")
    assert g.matches("/r/a")
    assert g.matches("/r/x/y/a")
    assert not g.matches("/r")


def test_single_star_stays_within_one_segment() -> None:
    g = Glob("/r/*.jsonl")
    assert g.matches("/r/a.jsonl")
    assert not g.matches("/r/sub/a.jsonl")
    assert Glob("/r/run_*/tokens.jsonl").matches("/r/run_1/tokens.jsonl")
    assert not Glob("/r/run_*/tokens.jsonl").matches("/r/run_1/x/tokens.jsonl")


def test_question_mark_and_brackets_match_one_character() -> None:
    assert Glob("/r/file?.log").matches("/r/file1.log")
    assert not Glob("/r/file?.log").matches("/r/file12.log")
    assert Glob("/r/log[0-9].txt").matches("/r/log7.txt")
    assert not Glob("/r/log[!0-9].txt").matches("/r/log7.txt")


def test_hidden_names_match_only_when_the_pattern_spells_the_dot() -> None:
    assert not Glob("/r/**/*.jsonl").matches("/r/.git/a.jsonl")
    assert not Glob("/r/*.jsonl").matches("/r/.hidden.jsonl")
    assert Glob("/r/.*.jsonl").matches("/r/.hidden.jsonl")
    assert Glob("/r/**/.costs/haiku_usage.json").matches("/r/proj/.costs/haiku_usage.json")
    assert Glob("/home/u/.claude/projects/**/*.jsonl").matches("/home/u/.claude/projects/x.jsonl")


def test_paths_outside_the_root_do_not_match() -> None:
    g = Glob("/r/**/*.jsonl")
    assert not g.matches("/other/a.jsonl")
    assert not g.matches("/rr/a.jsonl")
    assert g.matches("/r/./x/../a.jsonl")


def test_root_is_the_longest_literal_directory_prefix() -> None:
    assert Glob("/home/u/.claude/projects/**/*.jsonl").root == Path("/home/u/.claude/projects")
    assert Glob("/data/run_*/tokens.jsonl").root == Path("/data")
    assert Glob("/data/logs/app.log").root == Path("/data/logs")
    assert Glob("/*/x").root == Path("/")


def test_recursive_when_matches_can_lie_below_the_root() -> None:
    assert Glob("/r/**/*.jsonl").recursive
    assert Glob("/r/run_*/tokens.jsonl").recursive
    assert not Glob("/r/*.jsonl").recursive
    assert not Glob("/r/app.log").recursive


def test_tilde_and_relative_patterns_become_absolute(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HOME", "/home/someone")
    assert Glob("~/.codex/sessions/**/*.jsonl").root == Path("/home/someone/.codex/sessions")
    assert Glob("logs/*.log", base=tmp_path).root == tmp_path / "logs"
    monkeypatch.chdir(tmp_path)
    assert Glob("logs/*.log").pattern == f"{tmp_path}/logs/*.log"


def test_walk_finds_exactly_the_files_matches_accepts(tmp_path: Path) -> None:
    files = touch(
        tmp_path,
        "a.jsonl",
        "b.txt",
        "p1/s.jsonl",
        "p1/sub/deep/t.jsonl",
        "-home-u-x/u.jsonl",
        ".git/objects/o.jsonl",
        "p2/.hidden.jsonl",
        "run_1/tokens.jsonl",
        "run_1/x/tokens.jsonl",
        "p3/.costs/haiku_usage.json",
        "logs/app.log",
        "p1/logs/app.log",
    )
    (tmp_path / "dir.jsonl").mkdir()  # a directory is never a match
    patterns = [
        "**/*.jsonl",
        "*.jsonl",
        "run_*/tokens.jsonl",
        "**/.costs/haiku_usage.json",
        "**/logs/*.log",
        "**",
        "logs/app.log",
        "**/**/*.jsonl",
        "p1/**",
        "*/**/*.jsonl",
        "**/.*.jsonl",
    ]
    for pattern in patterns:
        g = Glob(pattern, base=tmp_path)
        assert sorted(g.walk()) == sorted(f for f in files if g.matches(f)), pattern
    assert sorted(Glob("**/*.jsonl", base=tmp_path).walk()) == [
        str(tmp_path / p)
        for p in ("-home-u-x/u.jsonl", "a.jsonl", "p1/s.jsonl", "p1/sub/deep/t.jsonl")
        + ("run_1/tokens.jsonl", "run_1/x/tokens.jsonl")
    ]


def test_walk_does_not_descend_into_directories_that_cannot_match(tmp_path: Path) -> None:
    touch(tmp_path, "run_1/tokens.jsonl", "run_2/tokens.jsonl")
    for i in range(50):
        touch(tmp_path, f"node_modules/pkg{i}/lib/index.jsonl")
    touch(tmp_path, ".venv/lib/x.jsonl")
    stats = WalkStats()
    found = list(Glob("run_*/tokens.jsonl", base=tmp_path).walk(stats))
    assert len(found) == 2
    assert stats.dirs_scanned == 3  # the root and the two run dirs, nothing else

    stats = WalkStats()
    assert list(Glob("**/*.jsonl", base=tmp_path / "run_1").walk(stats)) == [
        str(tmp_path / "run_1/tokens.jsonl")
    ]
    assert stats.dirs_scanned == 1

    stats = WalkStats()
    list(Glob("**/*.jsonl", base=tmp_path).walk(stats))
    assert stats.dirs_scanned == 1 + 2 + 1 + 50 * 2  # .venv is hidden: never entered


def test_missing_root_yields_nothing(tmp_path: Path) -> None:
    assert list(Glob(str(tmp_path / "nope/**/*.jsonl")).walk()) == []
    touch(tmp_path, "file")
    assert list(Glob(str(tmp_path / "file/**/*.jsonl")).walk()) == []


def test_walk_follows_symlinked_directories_without_looping(tmp_path: Path) -> None:
    touch(tmp_path, "real/a.jsonl")
    os.symlink(tmp_path / "real", tmp_path / "link")
    os.symlink(tmp_path, tmp_path / "real/loop")  # points back at the root
    found = list(Glob("**/*.jsonl", base=tmp_path).walk())
    assert len(found) == 1
    assert found[0] in (str(tmp_path / "real/a.jsonl"), str(tmp_path / "link/a.jsonl"))
    touch(tmp_path, "elsewhere/b.jsonl")
    os.symlink(tmp_path / "elsewhere", tmp_path / "real/linked")
    assert str(tmp_path / "real/linked/b.jsonl") in set(
        Glob("real/**/*.jsonl", base=tmp_path).walk()
    )


def test_walk_yields_symlinked_files_and_skips_broken_links(tmp_path: Path) -> None:
    (target,) = touch(tmp_path, "target.data")
    os.symlink(target, tmp_path / "alias.jsonl")
    os.symlink(tmp_path / "missing", tmp_path / "broken.jsonl")
    assert list(Glob("*.jsonl", base=tmp_path).walk()) == [str(tmp_path / "alias.jsonl")]


def test_may_contain_tells_the_watcher_which_directories_matter() -> None:
    g = Glob("/r/**/run_*/tokens.jsonl")
    assert g.may_contain("/")  # an ancestor of a missing root is watched instead
    assert g.may_contain("/r")
    assert g.may_contain("/r/a/b")
    assert not g.may_contain("/r/.git")
    assert not g.may_contain("/other")
    flat = Glob("/r/run_*/tokens.jsonl")
    assert flat.may_contain("/r/run_3")
    assert not flat.may_contain("/r/other")
    assert not flat.may_contain("/r/run_3/sub")


def test_walk_all_lists_a_shared_tree_once_and_reports_every_glob(tmp_path: Path) -> None:
    a, b, c = touch(tmp_path, "p/x.jsonl", "p/y.json", "p/deep/er/z.jsonl")
    globs = [
        Glob("p/*.jsonl", base=tmp_path),
        Glob("p/**/*.jsonl", base=tmp_path),
        Glob("p/*.json", base=tmp_path),
        Glob("p/deep/er/*.jsonl", base=tmp_path),  # a root nested in another glob's tree
        Glob("nowhere/*.jsonl", base=tmp_path),
    ]
    stats = WalkStats()
    found = sorted(walk_all(globs, stats))
    assert found == sorted([(0, a), (1, a), (1, c), (2, b), (3, c)])
    assert stats.dirs_scanned == 3  # p, p/deep, p/deep/er


def test_walk_all_enters_directories_leading_to_a_nested_root(tmp_path: Path) -> None:
    (deep,) = touch(tmp_path, "top/x/y/z.jsonl")
    touch(tmp_path, "top/unrelated/w.jsonl")
    globs = [Glob("top/*.json", base=tmp_path), Glob("top/x/y/*.jsonl", base=tmp_path)]
    stats = WalkStats()
    assert list(walk_all(globs, stats)) == [(1, deep)]
    assert stats.dirs_scanned == 3  # top, top/x, top/x/y; never top/unrelated
