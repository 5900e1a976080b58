"""The tail of a SQLite database: which of its rows are read now, read-only and lock-free.

The agents that keep their usage in SQLite (OpenCode, Kilo, Goose, Hermes) hold the
database open and write to it while we read, mostly in WAL mode: a commit lands in
`<db>-wal` and reaches the main file only at a checkpoint. This module reads the rows a
`DatabaseFormat` names (`sources/sqlite_db.py`) as one consistent snapshot and hands them
over as a document chunk; it never decides what a row means (the adapter's job) and
never writes anything.

How a database is opened, so that we never write it, never create its `-wal`/`-shm` in a
place we should not, and never block its writer:
- WAL mode with a `-wal` file (a writer has it open, or did): `mode=ro`. SQLite then
  reads the committed WAL frames through the existing `-shm`. When the `-shm` is missing
  and the database is not ours to write, opening would create it: refused as unreadable.
- WAL mode without a `-wal` (no connection open; everything checkpointed): `immutable=1`,
  which takes no lock and creates nothing (a plain `mode=ro` would create an empty `-wal`
  and `-shm` and leave them behind). The main file is stat'ed again after the read: if a
  writer changed it meanwhile, the snapshot is dropped and read again.
- Rollback-journal mode: `mode=ro` with SQLite's shared lock (it creates nothing); a
  writer holding the lock longer than `BUSY_TIMEOUT` makes the read fail.
Every query of one read runs in one read transaction, so the rows are one snapshot.

Change detection: the cursor's `fp_hash` holds a signature of the main file's and the
`-wal`'s size and mtime, taken before the read; an unchanged signature reads nothing. Its
`offset` holds the watermark of incremental reads (`Query.since`). Rows re-read are
harmless, rows missed are not: a read goes back `OVERLAP_MS` before the watermark (two
writers' commits need not come in the order of their clocks), and the first read of a
database in each ingestor, then one every `FULL_READ_EVERY` seconds, reads every row —
which also heals a clock that jumped back.

Failures (locked, busy, corrupt, not a database) raise `DatabaseUnreadable`, an OSError:
the ingestor logs it with the path, stores nothing for that database, and reads it again
later; no row is lost, since no cursor moved.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import time
from collections.abc import Iterable, MutableMapping, Sequence
from hashlib import blake2b
from typing import Any, Final
from urllib.parse import quote

from monitor.sources.sqlite_db import SQLITE_MAGIC, DatabaseFormat, Query, Table, encode
from monitor.tail import Change, Chunk, Cursor, mint_file_id, read_document_file

BUSY_TIMEOUT: Final = 2.0
"""Seconds a read waits for a rollback-mode writer's lock (or a WAL recovery) to end."""
OVERLAP_MS: Final = 120_000
"""An incremental read goes back this far before the last watermark."""
FULL_READ_EVERY: Final = 3600.0
"""Seconds between full reads of a database that keeps changing (per ingestor)."""
SNAPSHOT_TRIES: Final = 3
"""Reads of a lock-free (immutable) snapshot before giving up while the file changes."""
_IN_CHUNK: Final = 500
"""Values per `IN (…)` of a parent lookup (SQLite allows 32766 variables; stay modest)."""
_HEADER: Final = 100

FullReads = MutableMapping[tuple[str, str, int, int], float]
"""When each (source, path, dev, inode) was last read whole (time.monotonic())."""


class DatabaseUnreadable(OSError):
    """A database that cannot be read now (locked, busy, corrupt, not a database): logged
    with its path and read again later; nothing is stored for it meanwhile."""


def read_database_file(
    source: str,
    path: str,
    cursor: Cursor | None,
    fmt: DatabaseFormat,
    full_reads: FullReads | None = None,
) -> Chunk | None:
    """The rows to parse now, as a document chunk, or None when nothing changed.

    A `.json` file of a format that also reads documents is read as a document. A file
    that is empty or shorter than a database header is a database being created: None.
    Raises FileNotFoundError when the file is gone, DatabaseUnreadable when it cannot be
    read (see the module docstring).
    """
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        head = os.pread(fd, _HEADER, 0)
    finally:
        os.close(fd)
    if fmt.documents and path.endswith(".json") and not head.startswith(SQLITE_MAGIC):
        return read_document_file(source, path, cursor)
    if len(head) < _HEADER and head[:16] == SQLITE_MAGIC[: len(head[:16])]:
        return None  # created, its header not written yet
    if not head.startswith(SQLITE_MAGIC):
        raise DatabaseUnreadable(errno.EINVAL, "not a SQLite database")
    wal = _stat(path + "-wal")
    sig = signature(st, wal)
    same_file = cursor is not None and (st.st_dev, st.st_ino) == (cursor.dev, cursor.inode)
    key = (source, path, st.st_dev, st.st_ino)
    now = time.monotonic()
    last_full = full_reads.get(key) if full_reads is not None else None
    full_due = last_full is None or now - last_full >= FULL_READ_EVERY
    if cursor is not None and same_file and cursor.fp_hash == sig and not full_due:
        return None
    incremental = cursor is not None and same_file and cursor.offset > 0 and not full_due
    since = cursor.offset - OVERLAP_MS if incremental and cursor is not None else None
    tables, watermark = _snapshot(path, head, st, wal, fmt.queries, since)
    if not incremental:
        if full_reads is not None:
            full_reads[key] = now
    elif cursor is not None:
        watermark = max(watermark, cursor.offset)
    change: Change
    if cursor is None:
        change, file_id, state = "new", mint_file_id(st.st_dev, st.st_ino, sig), {}
    elif same_file:
        change, file_id, state = "grown", cursor.file_id, cursor.state
    else:
        change, file_id, state = "replaced", mint_file_id(st.st_dev, st.st_ino, sig), {}
    nxt = Cursor(
        source=source,
        path=path,
        dev=st.st_dev,
        inode=st.st_ino,
        fp_len=0,
        fp_hash=sig,
        file_id=file_id,
        offset=watermark,
        size=st.st_size,
        mtime_ns=st.st_mtime_ns,
        state=state,
    )
    return Chunk(nxt, encode(tables, full=not incremental), 0, change, cursor)


def signature(st: os.stat_result, wal: os.stat_result | None) -> str:
    """What changes when a database may hold new rows: its file and its `-wal`."""
    parts = [st.st_size, st.st_mtime_ns]
    if wal is not None:
        parts += [wal.st_size, wal.st_mtime_ns, wal.st_ino]
    text = ":".join(map(str, parts))
    return "db:" + blake2b(text.encode(), digest_size=8).hexdigest()


def _stat(path: str) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def _snapshot(
    path: str,
    head: bytes,
    st: os.stat_result,
    wal: os.stat_result | None,
    queries: Sequence[Query],
    since: int | None,
) -> tuple[dict[str, Table], int]:
    """The queries' rows as one snapshot, and the largest `since` value among them."""
    wal_mode = head[18] == 2 and head[19] == 2
    immutable = wal_mode and wal is None
    if wal_mode and wal is not None and _stat(path + "-shm") is None and not _writable(path):
        raise DatabaseUnreadable(
            errno.EACCES,
            "its -wal has no -shm, and reading it would create one beside a database "
            "this user cannot write",
        )
    uri = "file:" + quote(os.path.abspath(path)) + "?mode=ro"
    if immutable:
        uri += "&immutable=1"
    for _ in range(SNAPSHOT_TRIES):
        result = _query(uri, queries, since)
        if not immutable:
            return result
        after = _stat(path)
        if after is not None and (after.st_size, after.st_mtime_ns, after.st_ino) == (
            st.st_size,
            st.st_mtime_ns,
            st.st_ino,
        ):
            return result
        # A writer checkpointed into the file while we read it without a lock: the rows
        # may come from two versions of the file. Read them again.
        if after is None:
            raise FileNotFoundError(errno.ENOENT, "database removed while it was read", path)
        st = after
    raise DatabaseUnreadable(errno.EBUSY, "kept changing while it was read")


def _writable(path: str) -> bool:
    return os.access(path, os.W_OK) and os.access(os.path.dirname(path) or ".", os.W_OK)


def _query(uri: str, queries: Sequence[Query], since: int | None) -> tuple[dict[str, Table], int]:
    try:
        db = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT, isolation_level=None)
    except sqlite3.Error as exc:
        raise DatabaseUnreadable(errno.EIO, _reason(exc)) from None
    try:
        db.execute("BEGIN")  # one read transaction: every query sees the same snapshot
        out: dict[str, Table] = {}
        watermark = 0
        for q in queries:
            table, high = _rows(db, q, out, since)
            out[q.name] = table
            watermark = max(watermark, high)
        db.execute("COMMIT")
        return out, watermark
    except sqlite3.Error as exc:
        raise DatabaseUnreadable(errno.EIO, _reason(exc)) from None
    finally:
        db.close()


def _reason(exc: sqlite3.Error) -> str:
    name = getattr(exc, "sqlite_errorname", "")
    return f"{exc} ({name})" if name else str(exc)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _rows(
    db: sqlite3.Connection, q: Query, done: dict[str, Table], since: int | None
) -> tuple[Table, int]:
    names = ("rowid", *q.columns)
    have = {r[1] for r in db.execute(f"PRAGMA table_info({_ident(q.table)})")}
    if not have:
        return Table(names, []), 0
    select = ", ".join(
        ["rowid", *(_ident(c) if c in have else f"NULL AS {_ident(c)}" for c in q.columns)]
    )
    sql = f"SELECT {select} FROM {_ident(q.table)}"
    where: list[str] = [f"({q.where})"] if q.where else []
    args: list[Any] = []
    tracked = q.since is not None and q.since in have
    if tracked and since is not None and q.since is not None:
        where.append(f"{_ident(q.since)} >= ?")
        args.append(since)
    if q.parent is None:
        if where:
            sql += " WHERE " + " AND ".join(where)
        rows = [list(r) for r in db.execute(sql, args)]
    else:
        column, parent, parent_column = q.parent
        if column not in have:
            return Table(names, []), 0
        keys = _column(done.get(parent), parent_column)
        rows = []
        for chunk in _chunks(sorted(keys, key=str), _IN_CHUNK):
            cond = " AND ".join([*where, f"{_ident(column)} IN ({', '.join('?' * len(chunk))})"])
            rows += [list(r) for r in db.execute(f"{sql} WHERE {cond}", args + chunk)]
    high = 0
    if tracked:
        at = names.index(q.since) if q.since is not None else 0
        high = max((r[at] for r in rows if type(r[at]) is int), default=0)
    return Table(names, rows), high


def _column(table: Table | None, name: str) -> set[Any]:
    if table is None or name not in table.columns:
        return set()
    at = table.columns.index(name)
    return {r[at] for r in table.rows if r[at] is not None}


def _chunks(values: list[Any], size: int) -> Iterable[list[Any]]:
    for i in range(0, len(values), size):
        yield values[i : i + size]
