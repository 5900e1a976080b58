"""The `limits` table: plan-window snapshots, stored exactly once like events.

A snapshot read from a Codex line is committed with that line's cursor (the same
transaction as the events), and its key — tool, window, window instance, moment — makes
a re-read of the same line a no-op. A window's state is its latest snapshot.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Final

from monitor.events import from_ts_ms, ts_ms
from monitor.limits import LimitSnapshot

SCHEMA: Final = """
CREATE TABLE limits (
    key TEXT PRIMARY KEY,
    tool TEXT NOT NULL,
    window_minutes INTEGER NOT NULL,
    used_percent REAL NOT NULL,
    resets_at INTEGER NOT NULL,         -- epoch ms, UTC
    observed_at INTEGER NOT NULL,       -- epoch ms, UTC
    plan TEXT,
    basis TEXT NOT NULL                 -- reported | estimated
);
CREATE INDEX limits_latest ON limits (tool, window_minutes, observed_at)
"""


def store(db: sqlite3.Connection, snapshots: Iterable[LimitSnapshot]) -> None:
    """Insert snapshots not stored before (inside the caller's transaction)."""
    db.executemany(
        "INSERT OR IGNORE INTO limits (key, tool, window_minutes, used_percent, resets_at, "
        "observed_at, plan, basis) VALUES (?,?,?,?,?,?,?,?)",
        [
            (
                s.key(),
                s.tool,
                s.window_minutes,
                s.used_percent,
                ts_ms(s.resets_at),
                ts_ms(s.observed_at),
                s.plan,
                s.basis,
            )
            for s in snapshots
        ],
    )


def latest(db: sqlite3.Connection) -> list[LimitSnapshot]:
    """Each (tool, window)'s latest snapshot; [] on a ledger from before the table."""
    try:
        rows = db.execute(
            """SELECT tool, window_minutes, used_percent, resets_at, observed_at, plan, basis
               FROM limits AS l WHERE observed_at = (
                   SELECT MAX(observed_at) FROM limits
                   WHERE tool = l.tool AND window_minutes = l.window_minutes)
               ORDER BY tool, window_minutes, resets_at, rowid"""
        ).fetchall()
    except sqlite3.OperationalError:
        return []
    out: dict[tuple[str, int], LimitSnapshot] = {}
    for tool, minutes, pct, resets, seen, plan, basis in rows:
        out[(tool, minutes)] = LimitSnapshot(
            tool, minutes, pct, from_ts_ms(resets), from_ts_ms(seen), plan, basis
        )
    return list(out.values())
