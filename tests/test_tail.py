"""The tail on real files: complete lines only, rotation, copy-truncate, replacement."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from monitor.tail import (
    Cursor,
    find_copy,
    find_moved,
    read_document_file,
    read_lines_file,
    unchanged,
)


def _read_all(path: Path, cursor: Cursor | None) -> tuple[list[bytes], Cursor | None, list[str]]:
    """Drain a file like the ingestor does; returns (lines, last cursor, changes)."""
    lines: list[bytes] = []
    changes: list[str] = []
    while True:
        chunks = read_lines_file("s", str(path), cursor)
        if not chunks:
            return lines, cursor, changes
        for ch in chunks:
            lines.extend(ch.data.splitlines())
            changes.append(ch.change)
        cursor = chunks[-1].cursor


def test_partial_line_waits_for_its_newline(tmp_path: Path) -> None:
    f = tmp_path / "a.log"
    f.write_bytes(b"one\ntw")
    lines, cur, _ = _read_all(f, None)
    assert lines == [b"one"]
    assert cur is not None and cur.offset == 4
    with f.open("ab") as fh:
        fh.write(b"o\n")
    lines, cur, changes = _read_all(f, cur)
    assert lines == [b"two"]
    assert changes == ["grown"]


def test_empty_file_takes_its_fingerprint_from_its_first_bytes(tmp_path: Path) -> None:
    f = tmp_path / "a.log"
    f.write_bytes(b"")
    [chunk] = read_lines_file("s", str(f), None)
    assert chunk.data == b"" and chunk.cursor.fp_len == 0
    f.write_bytes(b"first\n")
    lines, cur, changes = _read_all(f, chunk.cursor)
    assert lines == [b"first"] and changes == ["grown"]
    assert cur is not None and cur.fp_len == 6 and cur.file_id == chunk.cursor.file_id


def test_truncation_to_empty_resets_the_cursor_at_once(tmp_path: Path) -> None:
    f = tmp_path / "a.log"
    f.write_bytes(b"one\ntwo\n")
    _, cur, _ = _read_all(f, None)
    with f.open("r+b") as fh:
        fh.truncate(0)
    [chunk] = read_lines_file("s", str(f), cur)
    assert chunk.change == "truncated" and chunk.cursor.offset == 0
    f.write_bytes(b"three\n")
    lines, _, _ = _read_all(f, chunk.cursor)
    assert lines == [b"three"]


def test_small_file_that_grows_keeps_its_identity(tmp_path: Path) -> None:
    f = tmp_path / "a.log"
    f.write_bytes(b"x\n")
    _, cur, _ = _read_all(f, None)
    assert cur is not None and cur.fp_len == 2
    with f.open("ab") as fh:
        fh.write(b"y" * 5000 + b"\n")
    lines, cur2, changes = _read_all(f, cur)
    assert changes == ["grown"]
    assert cur2 is not None and cur2.file_id == cur.file_id


def test_follows_rename_rotation_reading_old_file_to_its_end(tmp_path: Path) -> None:
    f = tmp_path / "app.log"
    f.write_bytes(b"a\nb\n")
    _, cur, _ = _read_all(f, None)
    with f.open("ab") as fh:
        fh.write(b"c\n")  # written after our last read, before the rotation
    os.rename(f, tmp_path / "app.log.1")
    f.write_bytes(b"d\n")
    lines, cur2, changes = _read_all(f, cur)
    assert lines == [b"c", b"d"]
    assert changes == ["rotated", "rotated"]
    assert cur2 is not None and cur2.file_id != cur.file_id  # type: ignore[union-attr]


def test_copytruncate_rereads_new_content_only(tmp_path: Path) -> None:
    f = tmp_path / "app.log"
    f.write_bytes(b"first line of the log\nsecond\n")
    _, cur, _ = _read_all(f, None)
    with f.open("ab") as fh:
        fh.write(b"third\n")
    shutil.copyfile(f, tmp_path / "app.log.1")
    with f.open("r+b") as fh:
        fh.truncate(0)
    with f.open("ab") as fh:
        fh.write(b"fourth\n")
    lines, _, changes = _read_all(f, cur)
    assert lines == [b"third", b"fourth"]
    assert changes == ["truncated", "truncated"]


def test_rotation_search_passes_over_links_directories_and_excluded_paths(
    tmp_path: Path,
) -> None:
    f = tmp_path / "app.log"
    f.write_bytes(b"first line of the log\n")
    (chunk,) = read_lines_file("s", str(f), None)
    cur, here = chunk.cursor, str(tmp_path)
    copy = tmp_path / "app.log.copy"
    copy.write_bytes(b"first line of the log\nsecond\n")
    (tmp_path / "link-to-copy").symlink_to(copy)
    (tmp_path / "subdir").mkdir()
    assert find_copy(cur, here, exclude=[str(f)]) == str(copy)
    assert find_copy(cur, here, exclude=[str(f), str(copy)]) is None  # the link is no copy
    moved = tmp_path / "app.log.1"
    os.link(f, moved)
    assert find_moved(cur, here, exclude=[str(f)]) == str(moved)
    assert find_moved(cur, here, exclude=[str(f), str(moved)]) is None
    assert find_moved(cur, str(tmp_path / "gone")) is None


def test_truncated_in_place_restarts_at_zero_with_a_new_identity(tmp_path: Path) -> None:
    f = tmp_path / "app.log"
    f.write_bytes(b"hello world\nline two\n")
    _, cur, _ = _read_all(f, None)
    with f.open("r+b") as fh:
        fh.truncate(0)
    f.write_bytes(b"hello world\n")  # same first bytes, shorter than what we read
    lines, cur2, _ = _read_all(f, cur)
    assert lines == [b"hello world"]
    assert cur2 is not None and cur is not None and cur2.file_id != cur.file_id


def test_replaced_file_with_same_size_is_detected_by_fingerprint(tmp_path: Path) -> None:
    f = tmp_path / "app.log"
    f.write_bytes(b"aaaa\n")
    _, cur, _ = _read_all(f, None)
    with f.open("r+b") as fh:  # same inode, rewritten in place, then grown
        fh.write(b"bbbb\ncccc\n")
    lines, _, changes = _read_all(f, cur)
    assert lines == [b"bbbb", b"cccc"]
    assert changes == ["replaced"]


@pytest.mark.parametrize(
    "content",
    [
        b"".join(b"line %04d\n" % i for i in range(300)),  # whole lines past the fingerprint
        b"short\n" * 10 + b"a partial line" * 100,  # whole lines end before its 1,024 bytes
        b"only a partial line" * 100,
        b"x" * 5000 + b"\nafter\n",  # a first record too long: skipped, not read
        b"",
    ],
)
def test_a_new_files_fingerprint_is_of_its_first_bytes_however_its_lines_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: bytes
) -> None:
    import monitor.tail as tail

    monkeypatch.setattr(tail, "MAX_RECORD", 4096)
    f = tmp_path / "new.jsonl"
    f.write_bytes(content)
    [chunk] = read_lines_file("s", str(f), None)
    assert (chunk.cursor.fp_len, chunk.cursor.fp_hash) == tail.fingerprint(content[:1024])


def test_overlong_record_is_skipped_and_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import monitor.tail as tail

    monkeypatch.setattr(tail, "READ_LIMIT", 64)
    monkeypatch.setattr(tail, "MAX_RECORD", 64)
    f = tmp_path / "big.log"
    f.write_bytes(b"ok\n" + b"x" * 200 + b"\nafter\n")
    cur = None
    lines: list[bytes] = []
    skipped: list[tuple[int, str]] = []
    for _ in range(10):
        chunks = read_lines_file("s", str(f), cur)
        if not chunks:
            break
        for ch in chunks:
            lines.extend(ch.data.splitlines())
            skipped.extend(ch.skipped)
        cur = chunks[-1].cursor
    assert lines == [b"ok", b"after"]
    assert [off for off, _ in skipped] == [3]


def test_document_is_reread_only_when_it_changes(tmp_path: Path) -> None:
    f = tmp_path / "doc.json"
    f.write_text('{"a": 1}')
    chunk = read_document_file("s", str(f), None)
    assert chunk is not None and chunk.data == b'{"a": 1}'
    assert read_document_file("s", str(f), chunk.cursor) is None
    tmp = tmp_path / "doc.json.tmp"
    tmp.write_text('{"a": 1, "b": 2}')
    os.replace(tmp, f)  # atomic rewrite: a new inode
    again = read_document_file("s", str(f), chunk.cursor)
    assert again is not None and again.data == b'{"a": 1, "b": 2}'


def test_rotated_file_is_drained_to_its_end_in_pieces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import monitor.tail as tail

    monkeypatch.setattr(tail, "READ_LIMIT", 16)
    monkeypatch.setattr(tail, "MAX_RECORD", 16)
    f = tmp_path / "app.log"
    f.write_bytes(b"first line\n")
    _, cur, _ = _read_all(f, None)
    with f.open("ab") as fh:
        fh.write(b"".join(b"line %d\n" % i for i in range(10)))
    os.rename(f, tmp_path / "app.log.0")  # a name no glob would match
    f.write_bytes(b"new\n")
    lines, _, _ = _read_all(f, cur)
    assert lines == [b"line %d" % i for i in range(10)] + [b"new"]


def test_a_cursor_and_a_workers_file_result_pickle_with_every_field() -> None:
    """Both pickle as their fields (`__reduce__`, for speed): a field added to either
    and not to its `__reduce__` would come back as its default from a parsing worker."""
    import dataclasses
    import pickle
    from datetime import UTC, datetime

    from monitor.limits import LimitSnapshot
    from monitor.parallel import FileResult

    cur = Cursor("s", "/a.log", 1, 2, 3, "h", "id", offset=4, size=5, mtime_ns=6, state={"k": [1]})
    seen = datetime(2026, 12, 4, tzinfo=UTC)
    res = FileResult(
        "/a.log", [cur], [("/a.log", 7, "bad")], [LimitSnapshot("codex", 300, 1.0, seen, seen)],
        pending=True, unreadable="EACCES",
    )  # fmt: skip
    for obj in (cur, res):
        assert len(obj.__reduce__()[1]) == len(dataclasses.fields(obj))
        assert pickle.loads(pickle.dumps(obj)) == obj


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"one\ntwo\n", True),
        (b"".join(b"line %04d\n" % i for i in range(300)), True),  # past the fingerprint
        (b"one\ntw", False),  # a partial line at the end: read again once it grows
        (b"", True),
    ],
)
def test_a_file_is_unchanged_while_its_stat_is_the_one_its_last_read_took(
    tmp_path: Path, content: bytes, expected: bool
) -> None:
    """What lets a rescan pass a file by without opening it: every byte read, and the
    stat as it was; any append, rewrite, replacement or new modification time says
    otherwise."""
    f = tmp_path / "a.log"
    f.write_bytes(content)
    _, cur, _ = _read_all(f, None)
    assert cur is not None

    def now() -> bool:
        st = os.stat(f)
        return unchanged(cur, st.st_size, st.st_mtime_ns, (st.st_dev, st.st_ino))

    assert now() is expected
    st = os.stat(f)
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # touched
    assert not now()
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert now() is expected
    with f.open("ab") as fh:
        fh.write(b"three\n")
    assert not now()
    if content:  # a fingerprint narrower than the file allows is widened by a read
        assert not unchanged(replace(cur, fp_len=0), cur.size, cur.mtime_ns, (cur.dev, cur.inode))
    other = tmp_path / "b.log"  # another file (inode) by the same name, same size and time
    other.write_bytes(content)
    os.utime(other, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(other, f)
    assert not now()
