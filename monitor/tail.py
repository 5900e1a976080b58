"""File identity, cursors, and reading complete records — the tail.

The tail decides *what bytes are new* in a file and never what they mean (that is the
adapters' job) nor where they are stored (the ledger's). It is synchronous and does
no watching: the scanner and the daemon call it when a file may have changed.

Identity: (device, inode) plus a fingerprint of the file's first min(1 KiB, size when
first seen) bytes, with that length stored so a small file that grows keeps its
identity while a truncated or replaced one does not. While the file is shorter than
1 KiB, each read that finds the old prefix intact widens the fingerprint to what is
there now, so identity gets surer as the file grows. Known limit: a file truncated and
rewritten between two reads, whose new bytes start with exactly the (short) prefix we
fingerprinted and run past the old offset, is taken for the same file grown; and a file
seen only empty, then written and copy-truncated before the next read, has no bytes by
which its copy could be recognised (the daemon reads within milliseconds of a write).
A scan passes a file by unopened while its stat is the one its last read took
(`unchanged`): a rewrite to the same size within that read's clock tick goes unseen
until the file's next write.

Each cursor also carries a `file_id` minted when the content was first seen; event
keys of id-less records are built from it, and it travels with the content when the
file is renamed (rotation) or copied away just before a copy-truncate, so a record is
never counted under two keys.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal

FINGERPRINT_BYTES: Final = 1024
READ_CHUNK: Final = 16 * 1024 * 1024
READ_LIMIT: Final = 64 * 1024 * 1024
"""At most this much of one file is handed to an adapter at once (memory stays bounded)."""
MAX_RECORD: Final = READ_LIMIT
"""A line longer than this without its newline is skipped as bad input, not buffered."""


@dataclass(slots=True)
class Cursor:
    source: str
    path: str
    dev: int
    inode: int
    fp_len: int
    fp_hash: str
    file_id: str
    offset: int = 0
    size: int = 0
    mtime_ns: int = 0
    state: dict[str, Any] = field(default_factory=dict)

    def __reduce__(self) -> tuple[type[Cursor], tuple[Any, ...]]:
        """Pickled as its fields (a parsing worker sends one per file): the pickling that
        slotted dataclasses get runs Python code per object, twice as slow each way."""
        return Cursor, (
            self.source, self.path, self.dev, self.inode, self.fp_len, self.fp_hash,
            self.file_id, self.offset, self.size, self.mtime_ns, self.state,
        )  # fmt: skip


def _hash(data: bytes) -> str:
    from hashlib import blake2b  # not at import: `report`/`status` never fingerprint

    return blake2b(data, digest_size=8).hexdigest()


def fingerprint(prefix: bytes) -> tuple[int, str]:
    head = prefix[:FINGERPRINT_BYTES]
    return len(head), _hash(head)


def mint_file_id(dev: int, inode: int, fp_hash: str) -> str:
    """A new content identity, unique even when an inode is reused for the same prefix.

    It need not be reproducible: it is stored with the cursor in the same transaction as
    the events keyed by it, so a crash before that commit loses both together.
    """
    return f"{dev}:{inode}:{fp_hash}:{secrets.token_hex(4)}"


Change = Literal["new", "same", "grown", "truncated", "replaced", "rotated", "moved"]


@dataclass(slots=True)
class Chunk:
    """Bytes to hand to an adapter, and the cursor to commit once they are stored."""

    cursor: Cursor
    data: bytes
    base_offset: int
    change: Change
    previous: Cursor | None = None
    """The cursor this one continues or supersedes (for rotation bookkeeping)."""
    skipped: list[tuple[int, str]] = field(default_factory=list)
    """(offset, reason) of byte ranges skipped as bad input (an over-long line)."""


def unchanged(cursor: Cursor, size: int, mtime_ns: int, ident: tuple[int, int]) -> bool:
    """Whether the file a stat shows — (`size`, `mtime_ns`, (device, inode)) — holds
    nothing its cursor has not read, told without opening it: the stat its last read
    took, every byte read up to the end, the fingerprint as wide as that size allows.

    A write since that read moved the modification time — but for one within the same
    clock tick that kept the size: a rewrite, which reading would take for the same file
    too whenever it kept the fingerprinted prefix (the module's known limit)."""
    return (
        cursor.mtime_ns == mtime_ns
        and cursor.offset == cursor.size == size
        and (cursor.dev, cursor.inode) == ident
        and cursor.fp_len >= min(FINGERPRINT_BYTES, size)
    )


def _read_prefix(fd: int, n: int) -> bytes:
    return os.pread(fd, n, 0) if n else b""


def _matches_prefix(fd: int, cursor: Cursor) -> bool:
    if cursor.fp_len == 0:
        return True
    return _hash(_read_prefix(fd, cursor.fp_len)) == cursor.fp_hash


def _read_lines(fd: int, offset: int, size: int) -> tuple[bytes, list[tuple[int, str]], int]:
    """Complete lines from `offset`, at most READ_LIMIT bytes; returns (data, skipped, end).

    The caller reads again while `end` < size. A record longer than MAX_RECORD is skipped
    up to its newline (and reported) so one runaway line can neither exhaust memory nor
    stall the file forever; without its newline yet, it waits like any partial line.
    """
    want = min(READ_LIMIT, size - offset)
    data = os.pread(fd, want, offset) if want > 0 else b""
    cut = data.rfind(b"\n") + 1
    if cut == 0 and len(data) >= MAX_RECORD:
        nl = _find_newline(fd, offset + len(data), size)
        if nl is None:
            return b"", [], offset
        reason = f"record of {nl + 1 - offset} bytes skipped (over {MAX_RECORD})"
        return b"", [(offset, reason)], nl + 1
    return data[:cut], [], offset + cut


def _find_newline(fd: int, pos: int, size: int) -> int | None:
    while pos < size:
        buf = os.pread(fd, min(READ_CHUNK, size - pos), pos)
        if not buf:
            return None
        i = buf.find(b"\n")
        if i >= 0:
            return pos + i
        pos += len(buf)
    return None


def _read_all(fd: int, size: int) -> bytes:
    parts = []
    pos = 0
    while pos < size:
        buf = os.pread(fd, min(READ_CHUNK, size - pos), pos)
        if not buf:
            break
        parts.append(buf)
        pos += len(buf)
    return b"".join(parts)


def _regular_files(directory: str, exclude: Iterable[str]) -> Iterator[tuple[str, os.stat_result]]:
    """(path, stat) of each regular file in `directory` (links not followed), but `exclude`.

    An entry that vanishes or cannot be stat'ed mid-scan is passed over, and so is a
    directory that cannot be listed: a rotation search finds nothing there, not an error.
    """
    skip = set(exclude)
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    for entry in entries:
        if entry.path in skip:
            continue
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            yield entry.path, st


def find_moved(cursor: Cursor, directory: str, exclude: Iterable[str] = ()) -> str | None:
    """The path in `directory` that now holds the cursor's file (same dev, inode, prefix).

    Used when the cursor's path holds another file: a rename rotation (`app.log` →
    `app.log.1`) may have happened while we were not looking, even if the new name no
    longer matches the source's glob.
    """
    for path, st in _regular_files(directory, exclude):
        if st.st_ino == cursor.inode and st.st_dev == cursor.dev:
            return path
    return None


def find_copy(cursor: Cursor, directory: str, exclude: Iterable[str] = ()) -> str | None:
    """A copy of the cursor's content made just before a copy-truncate (logrotate).

    Recognised as a regular file in the same directory, another inode, at least as large
    as what was already read, whose first bytes hash to the cursor's fingerprint.
    """
    if cursor.fp_len == 0:
        return None
    for path, st in _regular_files(directory, exclude):
        if st.st_ino == cursor.inode or st.st_size < cursor.offset:
            continue
        try:
            with open(path, "rb") as f:
                head = f.read(cursor.fp_len)
        except OSError:
            continue
        if len(head) == cursor.fp_len and _hash(head) == cursor.fp_hash:
            return path
    return None


def read_lines_file(source: str, path: str, cursor: Cursor | None) -> list[Chunk]:
    """New complete lines of an append-only file, as zero or more chunks.

    Several chunks when the file was rotated or copy-truncated: first the rest of the
    old content (under its old file_id, registered at the path that now holds it), then
    the new content from offset 0. Raises OSError when the file cannot be opened (the
    caller logs it and goes on).
    """
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        size = st.st_size
        if cursor is None:
            return _fresh(source, path, fd, st, "new", None, [])
        same_inode = (st.st_dev, st.st_ino) == (cursor.dev, cursor.inode)
        if (
            same_inode
            and size >= cursor.offset
            and size >= cursor.fp_len
            and _matches_prefix(fd, cursor)
        ):
            # The old prefix still matches: same content, grown. Widen the fingerprint (the
            # file_id stays) so a later truncation is told apart more surely — even when
            # only part of a line has arrived: a file first seen empty is otherwise known by
            # its inode alone, and its copy made by a copy-truncate could not be found.
            widen = cursor.fp_len < FINGERPRINT_BYTES and size > cursor.fp_len
            if size == cursor.offset and not widen:
                return []
            data, skipped, new_off = _read_lines(fd, cursor.offset, size)
            if new_off == cursor.offset and not skipped and not widen:
                return []
            nxt = replace(cursor, offset=new_off, size=size, mtime_ns=st.st_mtime_ns)
            if widen:
                nxt.fp_len, nxt.fp_hash = fingerprint(_read_prefix(fd, FINGERPRINT_BYTES))
            return [Chunk(nxt, data, cursor.offset, "grown", cursor, skipped)]
        directory = os.path.dirname(path)
        before: list[Chunk] = []
        change: Change
        if not same_inode:
            moved = find_moved(cursor, directory, exclude=[path])
            if moved is not None:
                before = _drain(moved, cursor, "rotated")
            change = "rotated"
        else:
            copy = find_copy(cursor, directory, exclude=[path])
            if copy is not None:
                before = _drain(copy, cursor, "truncated")
            change = "truncated" if size < cursor.offset else "replaced"
        return _fresh(source, path, fd, st, change, cursor, before)
    finally:
        os.close(fd)


def _fresh(
    source: str,
    path: str,
    fd: int,
    st: os.stat_result,
    change: Change,
    previous: Cursor | None,
    before: list[Chunk],
) -> list[Chunk]:
    """Start a file's content from offset 0 under a newly minted identity.

    An empty file gets a cursor with an empty fingerprint (fp_len 0): it identifies the
    inode only, and takes the first bytes' fingerprint when they arrive. A file truncated
    to nothing thus stops pointing at its old offset at once.
    """
    data, skipped, new_off = _read_lines(fd, 0, st.st_size)
    n = min(FINGERPRINT_BYTES, st.st_size)
    # The lines read are the file's bytes from 0: the fingerprint's are among them unless
    # they run past the last whole line (a backfill's 22 k files: a read each spared).
    prefix = data[:n] if len(data) >= n else _read_prefix(fd, n)
    cursor = _first_cursor(source, path, st, prefix, new_off, {})
    return [*before, Chunk(cursor, data, 0, change, previous, skipped)]


def _first_cursor(
    source: str, path: str, st: os.stat_result, head: bytes, offset: int, state: dict[str, Any]
) -> Cursor:
    """The cursor of content seen for the first time: fingerprint of `head`, a new file_id."""
    fp_len, fp_hash = fingerprint(head)
    return Cursor(
        source=source,
        path=path,
        dev=st.st_dev,
        inode=st.st_ino,
        fp_len=fp_len,
        fp_hash=fp_hash,
        file_id=mint_file_id(st.st_dev, st.st_ino, fp_hash),
        offset=offset,
        size=st.st_size,
        mtime_ns=st.st_mtime_ns,
        state=state,
    )


def read_moved(cursor: Cursor) -> list[Chunk]:
    """The rest of a file whose path is gone, if it was renamed within its directory.

    Rotation may rename `app.log` away before the writer creates the next one (or while
    we were not running): the old content is still found by (device, inode).
    """
    moved = find_moved(cursor, os.path.dirname(cursor.path), exclude=[cursor.path])
    if moved is None:
        return []
    return _drain(moved, cursor, "rotated")


def _drain(path: str, cursor: Cursor, change: Change) -> list[Chunk]:
    """Read the rest of a rotated-away (or copied-away) file under its old cursor."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return []
    try:
        st = os.fstat(fd)
        chunks: list[Chunk] = []
        current = cursor
        # To its end, in READ_LIMIT pieces: the old name may match no glob, so this is
        # the only time its rest is read.
        while st.st_size > current.offset:
            data, skipped, new_off = _read_lines(fd, current.offset, st.st_size)
            if new_off == current.offset and not skipped:
                break  # only a partial last line is left: it can never be completed
            nxt = replace(
                current,
                path=path,
                dev=st.st_dev,
                inode=st.st_ino,
                offset=new_off,
                size=st.st_size,
                mtime_ns=st.st_mtime_ns,
            )
            chunks.append(Chunk(nxt, data, current.offset, change, current, skipped))
            current = nxt
        return chunks
    finally:
        os.close(fd)


def read_document_file(source: str, path: str, cursor: Cursor | None) -> Chunk | None:
    """The whole file when it changed since the cursor (size, mtime or identity); else None.

    Documents are rewritten whole (often atomically, so a new inode each time): they are
    re-parsed entirely, and the adapters' content keys make that idempotent.
    """
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        if (
            cursor is not None
            and (st.st_dev, st.st_ino) == (cursor.dev, cursor.inode)
            and st.st_size == cursor.size
            and st.st_mtime_ns == cursor.mtime_ns
        ):
            return None
        data = _read_all(fd, st.st_size)
        state = cursor.state if cursor is not None else {}
        nxt = _first_cursor(source, path, st, data, len(data), state)
        return Chunk(nxt, data, 0, "new" if cursor is None else "replaced", cursor)
    finally:
        os.close(fd)
