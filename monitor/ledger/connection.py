"""Opening the ledger's SQLite file, and the one way to write to it: `transaction()`.

Connections are autocommit (`isolation_level=None`): a statement outside `transaction()`
is its own transaction, and a transaction is always spelled out.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final


class LedgerError(Exception):
    """The ledger cannot be opened or is from a newer version of llm-monitor."""


@contextmanager
def transaction(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """`BEGIN IMMEDIATE` … `COMMIT`, or `ROLLBACK` on any exception (then re-raised).

    For autocommit connections, as every ledger and alert-store connection is.
    IMMEDIATE takes the write lock at once, so a transaction that reads and then writes
    cannot fail half-way on a lock another writer took meanwhile.

        with transaction(db):
            db.execute("UPDATE …")
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


def connect(path: Path, *, readonly: bool, threaded: bool) -> sqlite3.Connection:
    """An autocommit connection; read-only ones never create the file.

    `threaded`: the connection may be used from a worker thread (one at a time).
    """
    try:
        if readonly:
            db = sqlite3.connect(
                f"file:{path}?mode=ro",
                uri=True,
                isolation_level=None,
                check_same_thread=not threaded,
            )
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            check_writable(path)
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=not threaded)
    except sqlite3.Error as exc:
        raise LedgerError(f"{path}: cannot open the ledger: {exc}") from exc
    db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return db


BUSY_TIMEOUT_MS: Final = 10_000
"""How long a write waits for another connection's write lock before it fails."""
MIGRATION_WAIT_MS: Final = 3_600_000
"""How long opening a ledger waits for another process migrating it (`schema.migrate`)."""


WAL_KEPT_BYTES: Final = 64 << 20
CHECKPOINT_BYTES: Final = 64 << 20
"""How much WAL a writer lets grow before it checkpoints (a backfill's commits: more,
`Ledger._fit_cache`)."""
PAGE_BYTES: Final = 16384
"""A new ledger's page size. A backfill's rows land all over the key index's pages and
every commit writes each page it touched to the WAL again: with 16 KiB pages (SQLite's
default is 4 KiB) a 200 k-call backfill's inserts cost ~15 % less CPU, most of it in the
writes. A ledger made with other pages keeps them (SQLite fixes the size at creation)."""


def checkpoint_pages(db: sqlite3.Connection, wal_bytes: int) -> int:
    """`wal_autocheckpoint` counts pages: `wal_bytes` of them, at this ledger's size."""
    return max(1, wal_bytes // int(db.execute("PRAGMA page_size").fetchone()[0]))


def tune_for_writing(db: sqlite3.Connection) -> None:
    db.execute(f"PRAGMA page_size = {PAGE_BYTES}")  # before WAL mode writes a new file
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")
    # Inserting keys in random order touches the whole key index: give the page cache
    # room (32 MiB: 200 k keys' index and the pages in work) so a backfill does not thrash,
    # and no more — the backfill's peak memory is the user's (bench: 187 MB at 200 k calls).
    db.execute("PRAGMA cache_size = -32768")
    # Checkpoint less often than every 4 MiB of WAL: a backfill writes hundreds.
    db.execute(f"PRAGMA wal_autocheckpoint = {checkpoint_pages(db, CHECKPOINT_BYTES)}")
    # A big backfill checkpoints more seldom still (`Ledger._fit_cache`): once the WAL
    # starts over, it is cut back to this, not left at the backfill's size on disk.
    db.execute(f"PRAGMA journal_size_limit = {WAL_KEPT_BYTES}")


def check_writable(path: Path) -> None:
    """LedgerError unless the ledger and its WAL files, where they exist, can be written.

    SQLite maps the `-shm` file into memory: one it cannot write (made immutable, owned by
    another user) fails deep inside SQLite, as a bus error in the worst case. Say so first.
    """
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            fd = os.open(p, os.O_RDWR)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise LedgerError(
                f"{p}: cannot write it ({exc.strerror}); the ledger needs it writable"
            ) from exc
        os.close(fd)
