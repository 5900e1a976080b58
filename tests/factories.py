"""The furniture tests share: parse contexts, usage events, waiting with a deadline.

One definition each, so a new field of ParseContext or UsageEvent is added here once,
not in every test file. Factories take keyword overrides for anything a test cares
about and fill the rest with plain, valid values.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, TypeVar
from zoneinfo import ZoneInfo

from monitor.events import UsageEvent
from monitor.sources.base import ParseContext

T = TypeVar("T")

LATEST = datetime(2026, 12, 1, tzinfo=UTC)
"""The newest call time adapter tests accept (the pipeline sets now + a day)."""
POLL = 0.02
UTC_ZONE = ZoneInfo("UTC")

_keys = itertools.count()


def parse_ctx(
    source: str = "test",
    path: str = "/data/usage.jsonl",
    *,
    file_id: str = "1:2:ff",
    tz: tzinfo = UTC_ZONE,
    base_offset: int = 0,
    mtime: datetime | None = None,
    latest: datetime | None = LATEST,
    option_map: Mapping[str, Any] | None = None,
    **options: Any,
) -> ParseContext:
    """What an adapter is told about its bytes; extra keywords become the source's options.

    `option_map` passes options whole (a source table from a config, or keys that clash
    with the parameters above); extra keywords are laid over it.
    """
    if option_map is not None:
        options = {**option_map, **options} if options else option_map  # type: ignore[assignment]
    return ParseContext(
        source=source,
        path=path,
        file_id=file_id,
        tz=tz,
        base_offset=base_offset,
        mtime=mtime,
        options=options,
        latest=latest,
    )


def usage_event(
    ts: datetime = datetime(2026, 11, 20, 10, tzinfo=UTC),
    cost: str | Decimal | None = "1",
    **fields: Any,
) -> UsageEvent:
    """One call with a fresh key; `cost` None makes it unpriced."""
    values: dict[str, Any] = {
        "key": f"k{next(_keys)}",
        "ts": ts,
        "source": "studio",
        "provider": "openai",
        "model": "gpt-5",
        "cost": None if cost is None else Decimal(cost),
        "cost_basis": "unpriced" if cost is None else "priced",
    }
    values.update(fields)
    return UsageEvent(**values)


def wait_for(predicate: Callable[[], T | None | Literal[False]], timeout: float, what: str) -> T:
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(POLL)


async def until(predicate: Callable[[], T | None | Literal[False]], timeout: float, what: str) -> T:
    """`wait_for` for coroutines: yields to the loop between polls."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(POLL)


def one_source_config(
    tmp_path: Path, name: str, fmt: str, glob: str, timezone: str = "UTC"
) -> Path:
    """A config with one source over `tmp_path/glob` (or an absolute glob); state and
    socket inside tmp_path."""
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f"""
[monitor]
timezone = "{timezone}"
state_dir = "{tmp_path / "state"}"
socket = "{tmp_path / "sock"}"
[[sources]]
name = "{name}"
format = "{fmt}"
paths = ["{tmp_path / glob}"]
"""
    )
    return cfg


def insert_as_before_v10(db: Any, events: list[UsageEvent], tz: tzinfo = UTC_ZONE) -> None:
    """Insert events into a ledger of schema 9 or older, whose rows had no `key_hash`."""
    from monitor.ledger.rows import EVENT_COLUMNS, KEY_HASH, DayOf, event_row

    columns = [c for c in EVENT_COLUMNS if c != "key_hash"]
    day_of = DayOf(tz)
    db.executemany(
        f"INSERT INTO events ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        [(r := event_row(e, day_of))[:KEY_HASH] + r[KEY_HASH + 1 :] for e in events],
    )
