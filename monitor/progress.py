"""How far a backfill has come: files, bytes and calls done of what there is, and an ETA.

A `scan` on a terminal redraws one line of it; the daemon's backfill child writes it as
JSON lines to the daemon, which shows it in `status` and on the dashboard
("backfilling, 34 %"). `today_final` says the files that can hold today's calls are all
in (they are read first), `recent_final` the same of this week's and this month's: from
then on those totals are final while older history fills in behind.

Pure: the caller passes the monotonic clock's readings.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Final

_MB: Final = 1024 * 1024


@dataclass(slots=True)
class Progress:
    files_total: int = 0
    bytes_total: int = 0
    files_done: int = 0
    bytes_done: int = 0
    calls: int = 0
    """Calls stored so far (new events)."""
    elapsed: float = 0.0
    """Seconds since the walk ended (the work measured by the ETA)."""
    today_final: bool = False
    recent_final: bool = False
    done: bool = False

    @property
    def fraction(self) -> float:
        """Bytes are the work: a 40 MB session file takes longer than a 2 KB one."""
        if self.done:
            return 1.0
        if self.bytes_total:
            return min(self.bytes_done / self.bytes_total, 1.0)
        return min(self.files_done / self.files_total, 1.0) if self.files_total else 0.0

    def eta_seconds(self) -> float | None:
        """Time left at the rate so far; None until there is a rate to go by."""
        f = self.fraction
        if f >= 1.0:
            return 0.0
        if f < 0.01 or self.elapsed < 0.5:
            return None
        return self.elapsed * (1 - f) / f

    def line(self) -> str:
        """`1,234 / 22,000 files · 120 / 472 MB · 45,000 calls · 26 % · ETA 0:05`."""
        eta = self.eta_seconds()
        parts = [
            f"{self.files_done:,} / {self.files_total:,} files",
            f"{self.bytes_done / _MB:,.0f} / {self.bytes_total / _MB:,.0f} MB",
            f"{self.calls:,} calls",
            f"{self.fraction * 100:.0f} %",
        ]
        if eta is not None and not self.done:
            parts.append(f"ETA {int(eta) // 60}:{int(eta) % 60:02d}")
        if self.recent_final and not self.done:
            parts.append("this month in")
        elif self.today_final and not self.done:
            parts.append("today in")
        return " · ".join(parts)

    def to_json(self) -> str:
        return json.dumps({"progress": asdict(self)}, separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str | bytes) -> Progress | None:
        """A progress line as `to_json` wrote it; None for anything else."""
        try:
            obj = json.loads(line)
            fields = obj["progress"]
            return cls(**{k: v for k, v in fields.items() if k in cls.__dataclass_fields__})
        except (ValueError, TypeError, KeyError, AttributeError):
            return None

    def entry(self) -> dict[str, Any]:
        """As the status document carries it (`backfill`)."""
        eta = self.eta_seconds()
        return {
            "percent": round(self.fraction * 100, 1),
            "files_done": self.files_done,
            "files_total": self.files_total,
            "bytes_done": self.bytes_done,
            "bytes_total": self.bytes_total,
            "calls": self.calls,
            "eta_seconds": None if eta is None else round(eta, 1),
            "today_final": self.today_final,
            "recent_final": self.recent_final,
        }
