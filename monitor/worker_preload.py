"""What the parsing workers' fork server loads once, before it forks them.

A worker would otherwise spend ~0.3 s of CPU of its own importing the pipeline and
reading the price tables — time taken from the main process on a 2-core machine, while it
lists the tree at the start of a backfill. Forked from a server that holds them, the
workers share them from its memory. Only imported by that server (`parallel.Pool`).
"""

from __future__ import annotations

from genai_prices.data_snapshot import get_snapshot

import monitor.parallel  # noqa: F401  (the workers' entry points and the adapters' deps)
import monitor.price_tables  # noqa: F401  (what a Pricer loads with its first price)

get_snapshot()
