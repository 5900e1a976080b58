"""The JSON documents that cross programs, as types: status, snapshot, event, alert, hello.

The daemon writes them; `llm-monitor status --json`, `budget list` and the dashboard read
them, over the socket (`monitor.api`) or from the ledger when no daemon runs. Each
document is a `TypedDict`, so mypy checks every writer and every reader against one
definition: a key renamed here fails type-checking wherever the old name is still used.

They describe, they do not validate: a document decoded from the socket is whatever the
other process sent (a daemon of another version may lack a key). Readers that must not
fail on such a document use `.get()` and give the result its type (`cost: str | None =
doc.get("cost_usd")`), so a key unknown to the document still fails type-checking — mypy
types `.get()` of an unknown key as `object`.

Money is a decimal string, never a float: six places ("0.675000", `events.usd_json`),
except the chart series and breakdown rows, which carry the Decimal as it is ("0.6750").
Times are ISO 8601 strings in UTC unless a field says otherwise (dates are local).
TypedDicts rather than msgspec Structs: the documents are plain dicts on both ends
already, encoding stays byte-for-byte what it was, and `status` does not pay for
importing msgspec.

Types only, plus `status_part`; nothing of ours but `events` and `periods` (both pure).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Literal, NotRequired, TypedDict, cast, get_args

from monitor.events import CostBasis
from monitor.periods import Period

PeriodKey = Literal["today", "week", "month"]
"""The key each period has in the status document (`periods.DOC_KEYS` maps a Period to it)."""
PERIOD_KEYS: Final[tuple[PeriodKey, ...]] = get_args(PeriodKey)


# -- the status document: `llm-monitor status --json` ---------------------------------------


class PeriodDoc(TypedDict):
    """Spend in the current day, week or month, and where it is heading."""

    cost_usd: str
    calls: int
    unpriced_calls: int
    """Calls counted whose cost is unknown (no price for their model)."""
    forecast_usd: str
    forecast_low_usd: str
    forecast_high_usd: str


class BurnRate(TypedDict):
    per_hour_usd: str
    """Spend of the last 60 minutes."""
    per_day_usd: str
    """Mean daily spend of the last 7 complete days."""


class BudgetAlert(TypedDict):
    """An alert decided for a budget in its current period."""

    threshold: float | Literal["forecast"]
    delivered: bool


class BudgetEntry(TypedDict):
    """One budget and how it stands (the dashboard's gauges, `budget list`)."""

    name: str
    period: Period
    limit_usd: str
    spent_usd: str
    fraction: float | None
    """spent / limit, rounded to 4 places; None for a zero limit."""
    forecast_usd: str
    forecast_low_usd: str
    forecast_high_usd: str
    runs_out_on: str | None
    """The local date (ISO) the forecast crosses the limit, if it does this period."""
    scope: dict[str, str]
    warn_at: list[float]
    alerts: list[BudgetAlert]


class UnpricedModel(TypedDict):
    """A model whose calls were counted without a price."""

    provider: str
    model: str
    calls: int


class SourceEntry(TypedDict):
    """One configured source and what the ledger holds of it."""

    name: str
    format: str
    enabled: bool
    files: int
    events: int
    errors: int
    """Records that could not be read (bad records)."""
    last_event: str | None


class LimitEntry(TypedDict):
    """One plan window: `status --json`'s `limits`."""

    tool: str
    window: str
    """"5h", "7d", or "<N>m"."""
    window_minutes: int
    used_percent: float
    """0 once the window has reset (its `resets_at` passed) until a new snapshot arrives."""
    resets_at: str
    observed_at: str
    basis: str
    """"reported" (the tool said so) or "estimated"."""
    plan: NotRequired[str]
    estimate: NotRequired[EstimateEntry]
    """An estimated window's block, burn rate and projection (not once it has reset)."""


class EstimateEntry(TypedDict):
    """The active 5-hour block behind an estimated window."""

    block_start: str
    tokens: int
    cost_usd: str
    unpriced_calls: int
    limit_tokens: int | None
    limit_usd: str | None
    limit_from: str
    """"configured" (`[[limits]]`) or "learned" (P90 of the completed blocks)."""
    burn_tokens_per_minute: float
    burn_usd_per_hour: str
    projected_tokens: int
    projected_cost_usd: str
    projected_percent: float
    """Use at the block's end if calls go on at the burn rate."""
    learned_from_blocks: NotRequired[int]


class BackfillEntry(TypedDict):
    """`monitor.progress.Progress.entry()`: the backfill's progress."""

    percent: float
    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int
    calls: int
    eta_seconds: float | None
    today_final: bool
    """Today's files are all in (read first): today's totals are final."""
    recent_final: bool
    """This month's, this week's and today's files are all in: those totals are final."""


class StatusDoc(TypedDict):
    """`status --json`: the spend now, as the daemon keeps it or as the ledger has it."""

    now: str
    timezone: str
    daemon: bool
    """Answered by a running daemon (True) or read from the ledger (False)."""
    state: NotRequired[str]
    """The daemon's state ("backfilling", "ready", …); absent when read from the ledger."""
    backfill: NotRequired[BackfillEntry]
    """How far the first backfill has come, while the state is "backfilling"."""
    today: PeriodDoc
    week: PeriodDoc
    month: PeriodDoc
    burn_rate: BurnRate
    budgets: list[BudgetEntry]
    unpriced: list[UnpricedModel]
    sources: list[SourceEntry]
    limits: list[LimitEntry]
    """Plan windows (the 5-hour window, the weekly cap), latest snapshot each."""


# -- the socket's documents -------------------------------------------------------------------


class EventPayload(TypedDict):
    """One call (`events.event_payload`): the `event` message, a snapshot's `recent`."""

    key: str
    ts: str
    source: str
    provider: str
    model: str
    operation: str | None
    input_tokens: int
    """All prompt tokens; the cache reads and writes below are parts of it."""
    cache_read_tokens: int
    cache_write_tokens: int
    cache_write_1h_tokens: int
    """Of the cache writes, those kept for an hour."""
    output_tokens: int
    """All completion tokens; the reasoning tokens are part of it."""
    reasoning_tokens: int
    calls: int
    """More than 1 for a summary record standing for several calls."""
    cost_usd: str | None
    """None while the call is unpriced."""
    cost_basis: CostBasis
    reported_cost_usd: str | None
    priced_cost_usd: str | None
    tags: dict[str, str]
    origin: str
    flags: int


class AlertPayload(TypedDict):
    """One alert decided (`AlertRow.payload`): the `alert` message, a snapshot's `alerts`."""

    id: int
    kind: str
    rule: str
    period: str
    threshold: str
    severity: str
    title: str
    body: str
    created: str
    hold_until: str | None
    delivered: str | None
    """When every target confirmed it; None until then."""
    attempts: int
    last_error: str | None


class SeriesDoc(TypedDict):
    """Money series for the dashboard's charts, oldest first (decimal strings)."""

    hourly_usd: list[str]
    """24 rolling 60-minute windows; the last one is the burn rate per hour."""
    daily_usd: list[str]
    """The days of the current month so far."""


class BreakdownRow(TypedDict):
    """Spend of one value of a dimension (a model, a source, …) in one period."""

    key: str | None
    """The value; None for calls without one (an operation most often)."""
    cost_usd: str
    calls: int
    input_tokens: int
    output_tokens: int
    unpriced_calls: int


Breakdown = dict[str, dict[str, list[BreakdownRow]]]
"""Period key ("today", "week", "month") → dimension ("model", "source", …) → top rows."""


class SnapshotDoc(StatusDoc):
    """The `snapshot` message: the status document and what the dashboard draws besides.

    A `totals` message carries the same document without `recent`. A snapshot request is
    the empty `Snapshot()`.
    """

    series: SeriesDoc
    breakdown: Breakdown
    recent: NotRequired[list[EventPayload]]
    """The latest calls, newest first."""
    alerts: list[AlertPayload]
    """The latest alerts decided, newest first."""


class DaemonInfo(TypedDict, total=False):
    """Who answers a `hello`: the daemon writes every key, test and replay daemons a few;
    the server adds `pid` when the daemon's callback leaves it out."""

    pid: int
    state: str
    started: str
    config: str
    ledger: str


SNAPSHOT_EXTRAS: Final = frozenset({"type", "series", "breakdown", "recent", "alerts"})
"""What a snapshot (or totals) message carries beyond the status document."""


def status_part(doc: Mapping[str, Any]) -> StatusDoc:
    """The status document inside a decoded snapshot or totals message (`status --json`)."""
    return cast(StatusDoc, {k: v for k, v in doc.items() if k not in SNAPSHOT_EXTRAS})
