"""The measures: what the ledger counts and sums, defined once.

`MEASURES` is the one list. Every SQL text that names a measure is generated from it —
the events columns and their INSERT/UPDATE, the `daily` and `daily_tags` columns, their
upserts and their rebuild from the events, the `SUM(...)` of every report — and what
those selects return is read back by name as `Sums`, never by position.

Adding a measure (say `audio_tokens`, a `sum` of the event field of that name; `count`,
`cost` and `unpriced` name one measure each):
1. a `Measure` here, and its `Sums` field when it is rolled up (the two are checked
   against each other at import);
2. a migration in `monitor/ledger/schema.py`:
   `ALTER TABLE events ADD COLUMN audio_tokens INTEGER NOT NULL DEFAULT 0`, the same for
   `daily` and `daily_tags` when it is rolled up, and `rebuild_rollups=True`;
3. the `UsageEvent` field of the same name, after its other counts, that adapters fill in.
Nothing else names it in SQL.

Price drift: four measures compare, over the calls whose tool reported a cost, what the
tool said (`reported_nano`) with what the prices say (`reported_priced_nano`); they read
the events' `reported_nano` and `priced_nano` columns. `reported_events` tells a row
where no tool reported a cost (both sides unknown) from one where they sum to $0, and
`reported_unpriced_events` one where some of those calls have no price (the priced
side unknown: unpriced is never $0).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final, Literal, NamedTuple

from monitor.events import from_nano

Derive = Literal[
    "count",
    "sum",
    "cost",
    "unpriced",
    "reported_count",
    "reported",
    "reported_priced",
    "reported_unpriced",
]


class Measure(NamedTuple):
    name: str
    """Its column in `events` (kinds `sum`, `cost`) and in the rollups."""
    derive: Derive
    """What one event adds: `count` 1; `sum` its column of the same name; `cost` its
    cost in nano-dollars, NULL (unpriced) adding 0; `unpriced` its calls when it has no
    cost, so an unpriced call is counted, never a $0 one."""
    rolled_up: bool = True
    """Kept in `daily` and `daily_tags` (else only on each event)."""


MEASURES: Final[tuple[Measure, ...]] = (
    Measure("events", "count"),
    Measure("calls", "sum"),
    Measure("input_tokens", "sum"),
    Measure("output_tokens", "sum"),
    Measure("cache_read_tokens", "sum"),
    Measure("cache_write_tokens", "sum"),
    Measure("cache_write_1h_tokens", "sum", rolled_up=False),
    Measure("reasoning_tokens", "sum"),
    Measure("cost_nano", "cost"),
    Measure("unpriced_calls", "unpriced"),
    Measure("reported_events", "reported_count"),
    Measure("reported_nano", "reported"),
    Measure("reported_priced_nano", "reported_priced"),
    Measure("reported_unpriced_events", "reported_unpriced"),
)


class Sums(NamedTuple):
    """The rolled-up measures over a set of events, as every read returns them.

    Money stays integer nano-dollars until it is shown.
    """

    events: int = 0
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    cost_nano: int = 0
    unpriced_calls: int = 0
    reported_events: int = 0
    reported_nano: int = 0
    reported_priced_nano: int = 0
    reported_unpriced_events: int = 0

    @property
    def cost(self) -> Decimal:
        """Cost of the priced calls; unpriced calls add nothing (see `unpriced_calls`)."""
        return from_nano(self.cost_nano)

    @property
    def reported_cost(self) -> Decimal | None:
        """What the tools reported for the calls they reported a cost for; None when
        none did."""
        return from_nano(self.reported_nano) if self.reported_events else None

    @property
    def priced_cost(self) -> Decimal | None:
        """What the prices say those same calls cost; None when no tool reported a cost
        or some of those calls have no price."""
        if not self.reported_events or self.reported_unpriced_events:
            return None
        return from_nano(self.reported_priced_nano)

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


ROLLED_UP: Final = tuple(m for m in MEASURES if m.rolled_up)
ROLLUP_COLUMNS: Final = tuple(m.name for m in ROLLED_UP)
EVENT_COUNTS: Final = tuple(m.name for m in MEASURES if m.derive == "sum")
"""The count columns every event stores (tokens, calls), in `MEASURES` order."""
COST: Final = next(m.name for m in MEASURES if m.derive == "cost")
CALLS: Final = "calls"
REPORTED: Final = "reported_nano"
"""The events column of the cost the tool reported (NULL: it reported none)."""
PRICED: Final = "priced_nano"
"""The events column of the cost computed from prices (NULL: no price known)."""

if Sums._fields != ROLLUP_COLUMNS:  # pragma: no cover - caught by any import
    raise RuntimeError(f"Sums fields {Sums._fields} differ from the rolled-up {ROLLUP_COLUMNS}")


_OF_EVENTS: Final[dict[Derive, str]] = {
    "count": "COUNT(*)",
    "sum": "SUM({name})",
    "cost": f"COALESCE(SUM({COST}), 0)",
    "unpriced": f"SUM(CASE WHEN {COST} IS NULL THEN {CALLS} ELSE 0 END)",
    "reported_count": f"COUNT({REPORTED})",
    "reported": f"COALESCE(SUM({REPORTED}), 0)",
    "reported_priced": f"COALESCE(SUM(CASE WHEN {REPORTED} IS NOT NULL THEN {PRICED} END), 0)",
    "reported_unpriced": f"COUNT(CASE WHEN {REPORTED} IS NOT NULL AND {PRICED} IS NULL THEN 1 END)",
}
"""Each kind of measure aggregated over `events` rows (`{name}`: the measure's column)."""


def _of_events(m: Measure) -> str:
    """The SQL of `m` over `events` rows (a new kind of measure: its line in `_OF_EVENTS`)."""
    return _OF_EVENTS[m.derive].format(name=m.name)


def sums_of_events(prefix: str = "") -> str:
    """`COUNT(*), SUM(calls), …`: the rolled-up measures aggregated over `events` rows
    (`prefix` names each, e.g. `AS events` with prefix " AS ")."""
    if not prefix:
        return ", ".join(_of_events(m) for m in ROLLED_UP)
    return ", ".join(f"{_of_events(m)}{prefix}{m.name}" for m in ROLLED_UP)


def sums_of_rollup(table: str = "") -> str:
    """`SUM(events), SUM(calls), …`: the rolled-up measures summed over rollup rows
    (`table`: a qualifier such as "g.")."""
    return ", ".join(f"SUM({table}{name})" for name in ROLLUP_COLUMNS)


def add_excluded(columns: tuple[str, ...] = ROLLUP_COLUMNS) -> str:
    """The DO UPDATE of a rollup upsert: each measure grows by the incoming row's."""
    return ",\n    ".join(f"{c} = {c} + excluded.{c}" for c in columns)
