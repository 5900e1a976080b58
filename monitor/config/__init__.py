"""The configuration: what to watch, where state lives, budgets, alerts, prices, metrics.

One concern per module; import everything from here (`from monitor.config import …`):

- `schema`       the frozen dataclasses (`Config`, `SourceConfig`, `BudgetConfig`, …),
                 the vocabularies (`COST_MODES`, `PERIODS`, …) and `ConfigError`;
- `locations`    where the config, budgets.toml, the state and the socket are by default
                 (`--config`, `$LLM_MONITOR_CONFIG`, XDG, the embedded default);
- `values`       the small value languages: durations, quiet hours, listen addresses,
                 time zones (`"local"` included);
- `validate`     TOML tables → dataclasses, every mistake naming file, key and expectation;
- `load`         `load_config`: find, read, validate, merge budgets.toml; `config_stamp`;
- `budgets_file` budgets.toml: merged over the config's budgets, written atomically by
                 `budget set/rm` (the user's config.toml is never rewritten).

Import cost matters (`status` and `report` import this package and must start fast):
only the standard library and `monitor.sources`' registry (which imports no adapter) at
import time; an adapter module is imported only to ask for its default paths, and
tomli-w only when writing.
"""

from __future__ import annotations

from monitor.config.budgets_file import (
    budgets_file_of,
    make_budget,
    merge_budgets_file,
    remove_budget,
    set_budget,
    write_budgets,
)
from monitor.config.load import config_stamp, load_config
from monitor.config.locations import (
    APP,
    BUDGETS_FILE,
    EMBEDDED,
    budgets_path_for,
    default_config_text,
    find_config,
    user_config_path,
)
from monitor.config.schema import (
    COST_MODES,
    DEFAULT_WARN_AT,
    MAPPED_FIELDS,
    PRICE_KEYS,
    SCOPE_KEYS,
    AlertsConfig,
    BudgetConfig,
    CallTimes,
    Config,
    ConfigError,
    CostMode,
    LimitConfig,
    MetricsConfig,
    PriceOverride,
    SourceConfig,
)
from monitor.config.values import (
    DEFAULT_METRICS_HOST,
    parse_duration,
    parse_listen,
    parse_quiet_hours,
    resolve_timezone,
)
from monitor.periods import PERIODS, Period

__all__ = [
    "LimitConfig",
    "APP",
    "BUDGETS_FILE",
    "COST_MODES",
    "DEFAULT_METRICS_HOST",
    "DEFAULT_WARN_AT",
    "EMBEDDED",
    "MAPPED_FIELDS",
    "PERIODS",
    "PRICE_KEYS",
    "SCOPE_KEYS",
    "AlertsConfig",
    "BudgetConfig",
    "CallTimes",
    "Config",
    "ConfigError",
    "CostMode",
    "MetricsConfig",
    "Period",
    "PriceOverride",
    "SourceConfig",
    "budgets_file_of",
    "budgets_path_for",
    "default_config_text",
    "find_config",
    "config_stamp",
    "load_config",
    "make_budget",
    "merge_budgets_file",
    "parse_duration",
    "parse_listen",
    "parse_quiet_hours",
    "remove_budget",
    "resolve_timezone",
    "set_budget",
    "user_config_path",
    "write_budgets",
]
