"""The running daemon's config reload: noticing a new config, deciding what it makes
stale, and redoing only that.

A reload is asked for by SIGHUP or found by polling the config's stamp (the config file
and budgets.toml: `budget set/rm` write the latter while the daemon runs). `plan_reload`
is the decision, pure: from the old and the new config alone, which parts of the daemon
must be rebuilt. `ConfigReload` carries it out on the daemon's loop thread; the ledger
work (reopening it, repricing, rebuilding the picture, scanning new sources) runs in the
daemon's worker thread, one job at a time, never here. A config that fails to load is
logged and the running one kept: a typo must never stop the daemon.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from monitor.config import Config, ConfigError, CostMode, config_stamp, load_config
from monitor.ledger import Ledger
from monitor.notify import Notifier
from monitor.picture import tracked_tags
from monitor.pricing import Pricer

if TYPE_CHECKING:
    from monitor.daemon import Daemon

# The daemon's logger: a reload's lines belong to the daemon's log.
log = logging.getLogger("llm_monitor.daemon")

CONFIG_POLL: Final = 2.0
"""Seconds between two looks at the config's stamp."""


@dataclass(frozen=True, slots=True)
class ReloadPlan:
    """What a new config makes stale in a running daemon (everything else is reused)."""

    reopen_ledger: bool
    """The time zone changed: local days are stored with each event, reopening re-derives them."""
    reprice: bool
    """Prices or a source's cost policy changed: the stored events are priced again."""
    rebuild_picture: bool
    """The totals are read again from the ledger (repriced, split by other tags, other days)."""
    new_ingestor: bool
    """The ingestor holds the sources and the pricer it was built with."""
    rescan: bool
    """The sources changed: files a new or widened source covers are read now."""
    new_notifier: bool
    """The alert targets changed; otherwise the notifier (and its retries) carries on."""


def _costs(config: Config) -> dict[str, CostMode]:
    return {s.name: s.cost for s in config.sources}


def plan_reload(old: Config, new: Config) -> ReloadPlan:
    """What must be redone when `new` replaces `old`."""
    zone_changed = new.timezone_name != old.timezone_name
    reprice = new.prices != old.prices or _costs(new) != _costs(old)
    sources_changed = new.sources != old.sources
    return ReloadPlan(
        reopen_ledger=zone_changed,
        reprice=reprice,
        rebuild_picture=reprice or tracked_tags(new) != tracked_tags(old) or zone_changed,
        new_ingestor=sources_changed or reprice,
        rescan=sources_changed,
        new_notifier=new.alerts != old.alerts,
    )


class ConfigReload:
    """The daemon's reload half: `watch` is one of its tasks, `reload` runs in its ingest
    loop (between two ingest rounds, so no round sees half of each config)."""

    def __init__(self, daemon: Daemon) -> None:
        self._daemon = daemon
        self._stamp = config_stamp(daemon.config_path, daemon.config)

    async def watch(self) -> None:
        """Ask for a reload when the config's stamp changes, and wake the ingest loop for
        one asked for (by this or by SIGHUP); until cancelled."""
        d = self._daemon
        while True:
            await asyncio.sleep(CONFIG_POLL)
            stamp = config_stamp(d.config_path, d.config)
            if stamp != self._stamp:
                self._stamp = stamp
                log.info("config file changed: reloading")
                d.reload_requested.set()
            if d.reload_requested.is_set():
                d.wake.set()

    async def reload(self) -> None:
        d = self._daemon
        d.reload_requested.clear()
        try:
            config = load_config(d.config_path)
        except ConfigError as exc:
            log.error("config reload failed, keeping the running config: %s", exc)
            return
        plan = plan_reload(d.config, config)
        d.config = config
        d.pricer = Pricer(config.prices)
        if plan.reopen_ledger:
            await d.in_worker(self._reopen_ledger)
        if plan.rebuild_picture:
            d.adopt_state(await d.in_worker(d.read_ledger_state, plan.reprice))
        if plan.new_ingestor:
            d.ingestor = d.make_ingestor()
        if d.alerts is not None:
            d.alerts.reconfigure(
                config, Notifier.from_config(config.alerts) if plan.new_notifier else None
            )
        if d.watcher is not None:
            d.watcher.update([g for s in config.sources if s.enabled for g in s.globs()])
        log.info(
            "config reloaded: %d sources, %d budgets", len(config.sources), len(config.budgets)
        )
        if plan.rescan and d.ingestor is not None:
            report = await d.in_worker(d.ingestor.scan)
            d.after_ingest(report)
        d.publish_totals()
        d.evaluate_alerts()

    def _reopen_ledger(self) -> None:
        """Worker thread: the ledger again, under the new time zone."""
        d = self._daemon
        if d.ledger is not None:
            d.ledger.close()
        config = d.config
        d.ledger = Ledger(config.ledger_path, config.tz, config.timezone_name, threaded=True)
