"""Re-pricing stored events after prices changed (an override added, price data updated).

Only what came from prices moves: an event whose cost the tool reported keeps that cost
(its `priced_cost` is refreshed, so drift from current prices stays visible).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from monitor.events import UsageEvent

if TYPE_CHECKING:
    from monitor.config import SourceConfig
    from monitor.ledger import Ledger
    from monitor.pricing import Pricer

CHUNK: Final = 20_000


def reprice_ledger(
    ledger: Ledger, pricer: Pricer, sources: Sequence[SourceConfig]
) -> tuple[int, int]:
    """Re-price every event; returns (changed, seen)."""
    policies = {s.name: s.cost for s in sources}
    changes: list[tuple[UsageEvent, UsageEvent]] = []
    changed = seen = 0
    for event in list(ledger.iter_events()):
        seen += 1
        old = dataclasses.replace(event)
        if pricer.reprice(event, policies.get(event.source, "auto")):
            changes.append((old, event))
        if len(changes) >= CHUNK:
            changed += ledger.rewrite_costs(changes)
            changes = []
    if changes:
        changed += ledger.rewrite_costs(changes)
    return changed, seen
