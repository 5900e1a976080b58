"""What a loaded configuration is: frozen dataclasses and the vocabularies they use.

Nothing here reads a file or validates a value; `load` and `validate` build these, and
the rest of the program only reads them. Every type is frozen so a reload can compare
the old and the new config field by field (`config.sources != old.sources`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from monitor.events import COST_POLICIES, DIMENSIONS, CostPolicy
from monitor.globs import Glob
from monitor.periods import Period

CostMode = CostPolicy
COST_MODES: Final = COST_POLICIES
"""How a source's calls are costed: `CostPolicy`, defined once in events.py."""
SCOPE_KEYS: Final = DIMENSIONS
DEFAULT_WARN_AT: Final[tuple[Decimal, ...]] = (Decimal("0.5"), Decimal("0.8"), Decimal("1.0"))
MAPPED_FIELDS: Final[tuple[str, ...]] = (
    "ts", "model", "provider", "operation", "input_tokens", "output_tokens",
    "cache_read_tokens", "cache_write_tokens", "reasoning_tokens", "calls", "cost", "key",
)  # fmt: skip
PRICE_KEYS: Final[tuple[str, ...]] = (
    "input_per_mtok", "output_per_mtok", "cache_read_per_mtok", "cache_write_per_mtok",
)  # fmt: skip


class ConfigError(Exception):
    """A config problem, phrased as `<file>: <dotted key>: <what was expected>`."""

    def __init__(self, file: str, key: str | None, problem: str) -> None:
        self.file = file
        self.key = key
        self.problem = problem
        super().__init__(f"{file}: {key}: {problem}" if key else f"{file}: {problem}")


@dataclass(frozen=True, slots=True)
class CallTimes:
    """The range a call's time must fall in, else its record is bad (a clock or a file
    gone wrong: year 1970, year 9999)."""

    since: datetime = datetime(2020, 1, 1, tzinfo=UTC)
    future: timedelta = timedelta(days=1)
    """How far past now a call may be dated (clock skew between machines)."""


@dataclass(frozen=True, slots=True)
class SourceConfig:
    name: str
    format: str
    paths: tuple[str, ...]
    """Absolute globs (`~`, `$VARS` expanded); `**` matches zero or more directories."""
    timezone: tzinfo
    """Zone for timestamps the source writes without one."""
    timezone_name: str
    cost: CostMode = "auto"
    expect_every: timedelta | None = None
    """A health alert fires when the source stays silent longer than this."""
    enabled: bool = True
    options: Mapping[str, Any] = field(default_factory=dict)
    """Every other key of the source's table: the adapter's options (`fields`, …)."""
    call_times: CallTimes = field(default_factory=lambda: CallTimes())
    """`[monitor] calls_since` / `future_tolerance`: a call dated outside is a bad record."""

    def globs(self) -> tuple[Glob, ...]:
        return tuple(Glob(p) for p in self.paths)


@dataclass(frozen=True, slots=True)
class BudgetConfig:
    name: str
    period: Period
    limit: Decimal
    """USD, ≥ 0."""
    warn_at: tuple[Decimal, ...] = DEFAULT_WARN_AT
    """Fractions of `limit`, each > 0, ascending, no repeats."""
    forecast: bool = True
    scope: Mapping[str, str] = field(default_factory=dict)
    """Keys `source`, `provider`, `model`, `operation`, `tag.KEY`; empty = everything."""


@dataclass(frozen=True, slots=True)
class AlertsConfig:
    urls: tuple[str, ...] = ()
    apprise_config: Path | None = None
    quiet_hours: tuple[time, time] | None = None
    """(start, end) local wall-clock times; end < start spans midnight."""
    spike_call_cost: Decimal = Decimal(0)
    """One call costing more than this alerts; 0 = off."""
    spike_hourly: Decimal = Decimal(0)
    """Spend over this in any 60 minutes alerts; 0 = off."""
    retry_max_seconds: float = 30.0
    """Longest pause between delivery retries while a target is down."""


WEEKDAYS: Final[tuple[str, ...]] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""`[digest] weekly` day names (or the full names), Monday = 0 as `date.weekday()` counts."""


@dataclass(frozen=True, slots=True)
class DigestConfig:
    """`[digest]`: when the summaries of the day and of the ISO week that just ended go out."""

    daily: time | None = None
    """Local wall-clock time of the daily digest (it covers yesterday); None = off."""
    weekly: tuple[int, time] | None = None
    """(weekday, Monday = 0; local wall-clock time) of the weekly digest (it covers the last
    complete ISO week); None = off."""


@dataclass(frozen=True, slots=True)
class PriceOverride:
    """USD per million tokens; None = no override for that kind of token."""

    input_per_mtok: Decimal | None = None
    output_per_mtok: Decimal | None = None
    cache_read_per_mtok: Decimal | None = None
    cache_write_per_mtok: Decimal | None = None


@dataclass(frozen=True, slots=True)
class MetricsConfig:
    listen: tuple[str, int] | None = None
    """(host, port) of the Prometheus endpoint; None = off."""


LIMIT_WARN_AT: Final[tuple[Decimal, ...]] = (Decimal("0.8"), Decimal("0.95"))
"""Every plan window a tool reports warns at these fractions unless `[[limits]]` says."""


@dataclass(frozen=True, slots=True)
class LimitConfig:
    """`[[limits]]`: how one tool's plan window warns."""

    tool: str
    """A tool as it reports its windows (`codex`, `claude-code`), or a source's name or format
    for the estimated window."""
    window: str
    """"5h" or "7d"."""
    warn_at: tuple[Decimal, ...] = LIMIT_WARN_AT
    enabled: bool = True
    tokens: int | None = None
    """The estimated 5-hour window's size in tokens (input + output), where no tool reports it."""
    cost: Decimal | None = None
    """The estimated 5-hour window's size in USD; with `tokens` too, the nearer one counts."""


@dataclass(frozen=True, slots=True)
class Config:
    path: Path | None
    """The config file read; None for the embedded default."""
    timezone_name: str
    tz: tzinfo
    state_dir: Path
    socket_path: Path
    sources: tuple[SourceConfig, ...]
    budgets: tuple[BudgetConfig, ...]
    """The effective budgets: the config's, with budgets.toml merged over them."""
    alerts: AlertsConfig = AlertsConfig()
    prices: Mapping[str, PriceOverride] = field(default_factory=dict)
    metrics: MetricsConfig = MetricsConfig()
    budgets_path: Path | None = None
    """Where `budget set/rm` write (and where budgets are merged from)."""
    limits: tuple[LimitConfig, ...] = ()
    """`[[limits]]`; a window without an entry warns at `LIMIT_WARN_AT`."""
    file_budgets: tuple[BudgetConfig, ...] = ()
    """The budgets as the config file itself has them, before budgets.toml."""
    digest: DigestConfig = DigestConfig()
    """`[digest]`: the daily and weekly summaries; both off by default."""

    @property
    def ledger_path(self) -> Path:
        return self.state_dir / "ledger.sqlite3"

    @property
    def spool_dir(self) -> Path:
        return self.state_dir / "spool"

    def source(self, name: str) -> SourceConfig:
        for s in self.sources:
            if s.name == name:
                return s
        raise KeyError(name)

    def budget(self, name: str) -> BudgetConfig:
        for b in self.budgets:
            if b.name == name:
                return b
        raise KeyError(name)
