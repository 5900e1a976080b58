"""`status`: today / week / month spend, forecasts, budgets, unpriced models, sources.

- `document`: the status document, pure (no SQL, no I/O);
- `from_ledger`: its numbers read from the ledger when no daemon answers;
- `text`: its rendering for people.

Imports stay light (no genai-prices, textual, apprise): `status` must answer in tens of
milliseconds.
"""

from monitor.periods import period_label
from monitor.status.document import budget_entry, build_status, sources_entries
from monitor.status.from_ledger import (
    budget_entries,
    ledger_alerts,
    status_from_ledger,
    totals_from_ledger,
)
from monitor.status.text import render_status

__all__ = [
    "budget_entries",
    "budget_entry",
    "build_status",
    "ledger_alerts",
    "period_label",
    "render_status",
    "sources_entries",
    "status_from_ledger",
    "totals_from_ledger",
]
