"""The daemon's side of the first backfill, in-process: what it publishes and when it
lets the file watches be armed (arming a big tree holds the event loop for a while)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from monitor.config import load_config
from monitor.daemon import Daemon
from monitor.ledger.store import Ledger
from monitor.progress import Progress


def _daemon(tmp_path: Path) -> Daemon:
    path = tmp_path / "config.toml"
    path.write_text('[monitor]\ntimezone = "UTC"\nstate_dir = "state"\n')
    config = load_config(path, env={"HOME": str(tmp_path)})
    config.state_dir.mkdir(parents=True)
    daemon = Daemon(config=config)
    daemon.ledger = Ledger(config.ledger_path, config.tz, config.timezone_name, threaded=True)
    daemon.state = "backfilling"  # as `Daemon.startup` leaves it
    return daemon


async def test_the_watches_wait_until_todays_final_total_is_published(tmp_path: Path) -> None:
    daemon = _daemon(tmp_path)
    seen_when_released: list[Progress | None] = []

    async def watches() -> None:
        await daemon._today_final.wait()
        seen_when_released.append(daemon.backfill)

    waiter = asyncio.create_task(watches())
    try:
        await daemon._backfill_progress(Progress(files_total=10, files_done=2))
        await asyncio.sleep(0)
        assert not seen_when_released, "released before today's files were in"

        await daemon._backfill_progress(Progress(files_total=10, files_done=3, today_final=True))
        await asyncio.wait_for(waiter, 5)
        released = seen_when_released[0]
        assert released is not None and released.today_final
        assert daemon._backfill_entry() == released.entry()
    finally:
        waiter.cancel()
        assert daemon.ledger is not None
        daemon.ledger.close()
