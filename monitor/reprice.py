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
STAMP_KEY: Final = "prices_stamp"


def prices_stamp(pricer: Pricer, sources: Sequence[SourceConfig]) -> str:
    """What the stored prices depend on: price data version, overrides, cost policies."""
    import json
    from importlib.metadata import version

    return json.dumps(
        {
            "genai-prices": version("genai-prices"),
            "overrides": {k: repr(v) for k, v in sorted(pricer.overrides.items())},
            # "auto" is the default: a new source must not force a pass over every event.
            "policies": sorted((s.name, s.cost) for s in sources if s.cost != "auto"),
        },
        sort_keys=True,
    )


def reprice_ledger(
    ledger: Ledger, pricer: Pricer, sources: Sequence[SourceConfig], *, force: bool = True
) -> tuple[int, int]:
    """Re-price every event, a page at a time; returns (changed, seen).

    Without `force`, only when the prices stamp differs from the one stored by the last
    repricing (the daemon's start-up: a full pass over a big ledger costs seconds).
    """
    stamp = prices_stamp(pricer, sources)
    if not force and ledger.meta(STAMP_KEY) == stamp:
        return 0, 0
    policies = {s.name: s.cost for s in sources}
    changed = seen = 0
    for page in ledger.event_pages(CHUNK):
        changes: list[tuple[UsageEvent, UsageEvent]] = []
        for event in page:
            seen += 1
            old = dataclasses.replace(event)
            if pricer.reprice(event, policies.get(event.source, "auto")):
                changes.append((old, event))
        if changes:
            changed += ledger.rewrite_costs(changes)
    ledger.set_meta(STAMP_KEY, stamp)
    return changed, seen
