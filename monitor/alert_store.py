"""The ledger's `alerts` table: every alert decided, and how its delivery went.

A decision is written here BEFORE any delivery is tried, with INSERT OR IGNORE on its
key (kind, rule, period, threshold), so one budget threshold of one period instance
exists once whatever happens: a re-run of the rules, a restart, a crash between the
decision and the delivery. Delivery status is written as it happens: `sent_to` lists
the targets (by the redacted label `Notifier` gives them) that confirmed the alert;
`delivered` is set once every configured target has; `attempts` and `last_error` tell
how tries went.

Connections: `AlertStore.open(ledger_path)` opens two. `db` takes the writes
(`BEGIN IMMEDIATE`, a 10 s busy timeout behind an ingest commit) and may be used from
another thread, one job at a time: the alert service runs every write in its own
worker thread, never on the event loop. `reader` answers the reads (`pending`,
`recent`, `keys`, the budgets' alerts in `status`) on the caller's thread: under WAL a
read never waits for a writer. `AlertStore(db)` uses one connection for both.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from monitor.events import from_ts_ms, ts_ms
from monitor.ledger.connection import transaction
from monitor.rules.base import AlertKey, Decision

if TYPE_CHECKING:
    from monitor.wire import AlertPayload

BUSY_TIMEOUT_MS: Final = 10_000

_COLS: Final = (
    "id, kind, rule, period, threshold, created, severity, title, body, hold_until, "
    "delivered, attempts, last_error, sent_to"
)


@dataclass(frozen=True, slots=True)
class AlertRow:
    id: int
    kind: str
    rule: str
    period: str
    threshold: str
    created: datetime
    severity: str
    title: str
    body: str
    hold_until: datetime | None
    delivered: datetime | None
    attempts: int
    last_error: str | None
    sent_to: frozenset[str] = frozenset()
    """Labels of the targets that confirmed this alert."""

    @property
    def key(self) -> AlertKey:
        return (self.kind, self.rule, self.period, self.threshold)

    @classmethod
    def from_row(cls, r: Sequence[Any]) -> AlertRow:
        return cls(
            id=r[0],
            kind=r[1],
            rule=r[2],
            period=r[3],
            threshold=r[4],
            created=from_ts_ms(r[5]),
            severity=r[6],
            title=r[7],
            body=r[8],
            hold_until=from_ts_ms(r[9]) if r[9] is not None else None,
            delivered=from_ts_ms(r[10]) if r[10] else None,
            attempts=r[11],
            last_error=r[12],
            sent_to=_labels(r[13]),
        )

    def payload(self) -> AlertPayload:
        """The JSON shape of `{"type":"alert",…}` on the socket and in status."""
        return {
            "id": self.id,
            "kind": self.kind,
            "rule": self.rule,
            "period": self.period,
            "threshold": self.threshold,
            "severity": self.severity,
            "title": self.title,
            "body": self.body,
            "created": self.created.isoformat(),
            "hold_until": self.hold_until.isoformat() if self.hold_until else None,
            "delivered": self.delivered.isoformat() if self.delivered else None,
            "attempts": self.attempts,
            "last_error": self.last_error,
        }


class AlertStore:
    """The ledger's `alerts` table (created by the ledger's migration 2)."""

    def __init__(self, db: sqlite3.Connection, reader: sqlite3.Connection | None = None) -> None:
        """`db` (and `reader`) must be in autocommit mode (`isolation_level=None`, as the
        ledger's is); without `reader`, `db` serves the reads too."""
        self.db = db
        self.reader = reader if reader is not None else db

    @classmethod
    def open(cls, ledger_path: Path) -> AlertStore:
        """A store with its own connections to an existing, migrated ledger."""
        db = sqlite3.connect(ledger_path, isolation_level=None, check_same_thread=False)
        reader = sqlite3.connect(ledger_path, isolation_level=None)
        for conn in (db, reader):
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        return cls(db, reader)

    def close(self) -> None:
        if self.reader is not self.db:
            self.reader.close()
        self.db.close()

    # ------------------------------------------------------------ writes

    def record(self, decisions: Iterable[Decision], now: datetime) -> list[AlertRow]:
        """Store decisions (one transaction); return only those not stored before."""
        created = ts_ms(now)
        new_ids: list[int] = []
        with transaction(self.db):
            for d in decisions:
                cur = self.db.execute(
                    """INSERT OR IGNORE INTO alerts (kind, rule, period, threshold, created,
                           severity, title, body, hold_until)
                       VALUES (?,?,?,?,?,?,?,?,?)""",
                    (
                        d.kind,
                        d.rule,
                        d.period,
                        d.threshold,
                        created,
                        d.severity,
                        d.title,
                        d.body,
                        ts_ms(d.hold_until) if d.hold_until is not None else None,
                    ),
                )
                if cur.rowcount == 1 and cur.lastrowid is not None:
                    new_ids.append(cur.lastrowid)
        if not new_ids:
            return []
        return self._select(self.db, f"WHERE id IN ({','.join('?' * len(new_ids))})", new_ids)

    def mark_delivered(self, alert_id: int, now: datetime, note: str | None = None) -> None:
        self.db.execute(
            "UPDATE alerts SET delivered = ?, attempts = attempts + 1, last_error = ? WHERE id = ?",
            (max(ts_ms(now), 1), note, alert_id),
        )

    def mark_sent_to(self, alert_id: int, labels: Collection[str]) -> None:
        """Record that the targets labelled `labels` confirmed the alert (kept sorted)."""
        if not labels:
            return
        with transaction(self.db):
            row = self.db.execute("SELECT sent_to FROM alerts WHERE id = ?", (alert_id,)).fetchone()
            if row is not None:
                merged = sorted(_labels(row[0]) | set(labels))
                self.db.execute(
                    "UPDATE alerts SET sent_to = ? WHERE id = ?",
                    (json.dumps(merged, separators=(",", ":")), alert_id),
                )

    def mark_failed(self, alert_id: int, error: str) -> None:
        """Count a failed attempt; `error` must already be redacted."""
        self.db.execute(
            "UPDATE alerts SET attempts = attempts + 1, last_error = ? WHERE id = ?",
            (error[:1000], alert_id),
        )

    # ------------------------------------------------------------ reads

    def pending(self) -> list[AlertRow]:
        """Every alert not delivered yet, oldest first."""
        return self._select(self.reader, "WHERE delivered = 0")

    def recent(self, limit: int = 20) -> list[AlertRow]:
        return self._select(self.reader, "ORDER BY id DESC LIMIT ?", [limit], order=False)

    def keys(self) -> set[AlertKey]:
        return {
            (k, r, p, t)
            for k, r, p, t in self.reader.execute(
                "SELECT kind, rule, period, threshold FROM alerts"
            )
        }

    @staticmethod
    def _select(
        conn: sqlite3.Connection, where: str, args: Sequence[Any] = (), *, order: bool = True
    ) -> list[AlertRow]:
        sql = f"SELECT {_COLS} FROM alerts {where}" + (" ORDER BY id" if order else "")
        return [AlertRow.from_row(r) for r in conn.execute(sql, list(args))]


def _labels(text: str | None) -> frozenset[str]:
    """The `sent_to` column: a JSON list of labels, '' (or a damaged value) for none."""
    if not text:
        return frozenset()
    try:
        value = json.loads(text)
    except ValueError:
        return frozenset()
    if not isinstance(value, list):
        return frozenset()
    return frozenset(v for v in value if isinstance(v, str))


__all__ = ["AlertRow", "AlertStore", "BUSY_TIMEOUT_MS"]
