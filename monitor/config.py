"""Load and validate the configuration; write the budgets file beside it.

Where the config comes from (first that applies): an explicit path (`--config`);
`$LLM_MONITOR_CONFIG`; `$XDG_CONFIG_HOME/llm-monitor/config.toml` (XDG default
`~/.config`) when that file exists; else the embedded default (`default_config.toml`,
byte-identical to the repository's commented `config.toml`). An explicit path or
`$LLM_MONITOR_CONFIG` naming a missing file is an error, not a silent fallback.

The user's config file is never rewritten. `budget set/rm` write `budgets.toml` beside
it (beside `$XDG_CONFIG_HOME/llm-monitor/config.toml` when the embedded default is in
use; it is read from there too, so budgets set without a config file still apply). Its
`[[budgets]]` replace the config's budgets of the same name or are appended; its
top-level `removed = ["name", …]` deletes the config's budgets of those names. A
tombstone list (rather than half-empty `[[budgets]]` entries flagged `removed`) keeps
every `[[budgets]]` entry a complete, validated budget.

Resolution rules:
- `~` and `$VARS` are expanded in every path; a relative path is relative to the
  config file's directory (for the embedded default: the current directory).
- `[monitor] state_dir` absent or "" → `$XDG_STATE_HOME/llm-monitor`, else
  `~/.local/state/llm-monitor`; an explicit value is used as written.
- `socket` "" → `$XDG_RUNTIME_DIR/llm-monitor.sock`, else `<state_dir>/llm-monitor.sock`.
- `timezone = "local"` → the system zone: `$TZ`, else the IANA name `/etc/localtime`
  links to (or `/etc/timezone` names), else whatever offset the C library reports.
- A config file replaces the embedded default entirely: only its sources are watched,
  plus the spool source (`spool`, `<state_dir>/spool/*.jsonl`), which is always present.
- A source without `paths` takes its format's default globs when they are absolute
  (claude-code and codex, honouring `$CLAUDE_CONFIG_DIR` / `$CODEX_HOME` from the process
  environment). A relative default (`**/run_*/tokens.jsonl`) only says what the files
  look like; such a source must name its `paths`.

Every mistake is a `ConfigError` naming the file, the dotted key and what was expected;
unknown keys are errors too (a typo must not silently do nothing), except inside a
source table, where extra keys are the adapter's options.

Import cost matters (`status` and `report` import this module and must start fast):
only the standard library and `monitor.sources`' registry (which imports no adapter)
at import time; an adapter module is imported only to ask for its default paths, and
tomli-w only when writing.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor.globs import Glob
from monitor.sources import FORMAT_NAMES

_T = TypeVar("_T")
_V = TypeVar("_V")

CostMode = Literal["auto", "reported", "priced"]
Period = Literal["day", "week", "month"]

COST_MODES: Final[tuple[str, ...]] = ("auto", "reported", "priced")
PERIODS: Final[tuple[str, ...]] = ("day", "week", "month")
SCOPE_KEYS: Final[tuple[str, ...]] = ("source", "provider", "model", "operation")
DEFAULT_WARN_AT: Final[tuple[Decimal, ...]] = (Decimal("0.5"), Decimal("0.8"), Decimal("1.0"))
MAPPED_FIELDS: Final[tuple[str, ...]] = (
    "ts", "model", "provider", "operation", "input_tokens", "output_tokens",
    "cache_read_tokens", "cache_write_tokens", "reasoning_tokens", "calls", "cost", "key",
)  # fmt: skip
PRICE_KEYS: Final[tuple[str, ...]] = (
    "input_per_mtok", "output_per_mtok", "cache_read_per_mtok", "cache_write_per_mtok",
)  # fmt: skip

APP: Final = "llm-monitor"
EMBEDDED: Final = "<embedded default config>"
BUDGETS_FILE: Final = "budgets.toml"
DEFAULT_METRICS_HOST: Final = "127.0.0.1"

_SOURCE_COMMON: Final = frozenset(
    {"name", "format", "paths", "timezone", "cost", "expect_every", "enabled"}
)
_DURATION: Final = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_DURATION_ALL: Final = re.compile(r"\s*(?:\d+(?:\.\d+)?\s*[smhdw]\s*)+")
_DURATION_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_VAR: Final = re.compile(r"\$(\w+)|\$\{(\w+)\}")
_CLOCK: Final = re.compile(r"(\d{1,2}):(\d{2})")
_TOML_POS: Final = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


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
    file_budgets: tuple[BudgetConfig, ...] = ()
    """The budgets as the config file itself has them, before budgets.toml."""

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


# ---------------------------------------------------------------- locating the file


def default_config_text() -> str:
    """The embedded default config (what `init` starts from)."""
    return resources.files("monitor").joinpath("default_config.toml").read_text("utf-8")


def user_config_path(env: Mapping[str, str] | None = None) -> Path:
    """`$XDG_CONFIG_HOME/llm-monitor/config.toml` (XDG default `~/.config`)."""
    env = os.environ if env is None else env
    return _xdg_dir(env, "XDG_CONFIG_HOME", ".config") / APP / "config.toml"


def find_config(
    path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Path | None:
    """The config file `load_config` would read; None means the embedded default."""
    env = os.environ if env is None else env
    if path is not None and os.fspath(path) != "":
        return Path(_expand(os.fspath(path), env)).absolute()
    if env.get("LLM_MONITOR_CONFIG"):
        return Path(_expand(env["LLM_MONITOR_CONFIG"], env)).absolute()
    user = user_config_path(env)
    return user if user.is_file() else None


def load_config(
    path: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None
) -> Config:
    env = os.environ if env is None else env
    file = find_config(path, env)
    if file is None:
        data = _parse_toml(default_config_text(), EMBEDDED)
        budgets_path = user_config_path(env).parent / BUDGETS_FILE
        return _build(data, None, Path.cwd(), budgets_path, env)
    shown = _show_path(file, env)
    try:
        text = file.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(shown, None, "no such file") from None
    except UnicodeDecodeError as e:
        raise ConfigError(shown, None, f"not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise ConfigError(shown, None, f"cannot read: {e.strerror or e}") from None
    return _build(_parse_toml(text, shown), file, file.parent, file.parent / BUDGETS_FILE, env)


def _parse_toml(text: str, shown: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        msg = str(e)
        pos = _TOML_POS.search(msg)
        if pos:
            line, col = pos.groups()
            problem = "invalid TOML: " + msg[: pos.start()]
            raise ConfigError(f"{shown}:{line}:{col}", None, problem) from None
        raise ConfigError(shown, None, "invalid TOML: " + msg) from None


# ---------------------------------------------------------------- building Config


@dataclass(slots=True)
class _Ctx:
    file: str
    base: Path
    env: Mapping[str, str]

    def error(self, key: str | None, problem: str) -> ConfigError:
        return ConfigError(self.file, key, problem)

    def path(self, raw: str) -> Path:
        p = Path(_expand(raw, self.env))
        return Path(os.path.normpath(p if p.is_absolute() else self.base / p))


def _build(
    data: dict[str, Any], file: Path | None, base: Path, budgets_path: Path, env: Mapping[str, str]
) -> Config:
    ctx = _Ctx(EMBEDDED if file is None else _show_path(file, env), base, env)
    _no_unknown(ctx, "", data, {"monitor", "sources", "budgets", "alerts", "prices", "metrics"})
    mon = _table(ctx, "monitor", data.get("monitor", {}))
    _no_unknown(
        ctx, "monitor", mon, {"timezone", "state_dir", "socket", "calls_since", "future_tolerance"}
    )
    tz_name, tz = _timezone(ctx, "monitor.timezone", mon.get("timezone", "local"))
    raw_state = _str(ctx, "monitor.state_dir", mon.get("state_dir", ""))
    state_dir = (
        ctx.path(raw_state) if raw_state else _xdg_dir(env, "XDG_STATE_HOME", ".local/state") / APP
    )
    raw_socket = _str(ctx, "monitor.socket", mon.get("socket", ""))
    if raw_socket:
        socket_path = ctx.path(raw_socket)
    elif os.path.isabs(env.get("XDG_RUNTIME_DIR", "")):
        socket_path = Path(env["XDG_RUNTIME_DIR"]) / f"{APP}.sock"
    else:
        socket_path = state_dir / f"{APP}.sock"

    since_text = _str(ctx, "monitor.calls_since", mon.get("calls_since", "2020-01-01"))
    try:
        calls_since = datetime.combine(date.fromisoformat(since_text), time(0), UTC)
    except ValueError:
        raise ctx.error(
            "monitor.calls_since", f"expected a date YYYY-MM-DD, got {since_text!r}"
        ) from None
    future = _duration(ctx, "monitor.future_tolerance", mon.get("future_tolerance", "1d"))
    sources = _sources(
        ctx, data.get("sources", []), tz_name, tz, state_dir, CallTimes(calls_since, future)
    )
    file_budgets = _budgets(ctx, data.get("budgets", []))
    budgets = _merge_budgets_file(file_budgets, budgets_path, env)
    return Config(
        path=file,
        timezone_name=tz_name,
        tz=tz,
        state_dir=state_dir,
        socket_path=socket_path,
        sources=sources,
        budgets=budgets,
        alerts=_alerts(ctx, data.get("alerts", {})),
        prices=_prices(ctx, data.get("prices", {})),
        metrics=_metrics(ctx, data.get("metrics", {})),
        budgets_path=budgets_path,
        file_budgets=file_budgets,
    )


def _sources(
    ctx: _Ctx, raw: object, tz_name: str, tz: tzinfo, state_dir: Path, times: CallTimes
) -> tuple[SourceConfig, ...]:
    out: list[SourceConfig] = []
    seen: set[str] = set()
    for i, table in enumerate(_array_of_tables(ctx, "sources", raw)):
        name = table.get("name")
        where = f"sources[{i}]" if not isinstance(name, str) else f'sources[{i}] ("{name}")'
        if name is None:
            raise ctx.error(where, "missing `name` (every source needs a unique name)")
        if not isinstance(name, str) or not name.strip():
            raise ctx.error(f"{where}.name", f"expected a non-empty string, got {_show(name)}")
        if name in seen:
            raise ctx.error(f"{where}.name", f'duplicate source name "{name}"')
        seen.add(name)
        fmt = table.get("format")
        if fmt is None:
            raise ctx.error(where, f"missing `format` (one of {', '.join(FORMAT_NAMES)})")
        if fmt not in FORMAT_NAMES:
            raise ctx.error(
                f"{where}.format", f"expected one of {', '.join(FORMAT_NAMES)}, got {_show(fmt)}"
            )
        if name == "spool" and fmt != "spool":
            raise ctx.error(
                f"{where}.format",
                'the name "spool" is reserved for the spool source (format "spool")',
            )
        paths = _source_paths(ctx, where, table, fmt, state_dir)
        s_tz_name, s_tz = tz_name, tz
        if "timezone" in table:
            s_tz_name, s_tz = _timezone(ctx, f"{where}.timezone", table["timezone"])
        cost = table.get("cost", "auto")
        if cost not in COST_MODES:
            raise ctx.error(
                f"{where}.cost", f'expected "auto", "reported" or "priced", got {_show(cost)}'
            )
        expect = table.get("expect_every", "")
        expect_every = _duration(ctx, f"{where}.expect_every", expect) if expect != "" else None
        enabled = _bool(ctx, f"{where}.enabled", table.get("enabled", True))
        options = {k: v for k, v in table.items() if k not in _SOURCE_COMMON}
        options = _mapped_options(ctx, where, options)
        out.append(
            SourceConfig(
                name=name,
                format=fmt,
                paths=paths,
                timezone=s_tz,
                timezone_name=s_tz_name,
                cost=cost,
                expect_every=expect_every,
                enabled=enabled,
                options=options,
                call_times=times,
            )
        )
    spool_glob = str(state_dir / "spool" / "*.jsonl")
    if not any(s.name == "spool" or (s.format == "spool" and spool_glob in s.paths) for s in out):
        out.append(SourceConfig("spool", "spool", (spool_glob,), tz, tz_name, call_times=times))
    return tuple(out)


def _source_paths(
    ctx: _Ctx, where: str, table: Mapping[str, Any], fmt: str, state_dir: Path
) -> tuple[str, ...]:
    raw = table.get("paths")
    if raw is None:
        if fmt == "spool":
            return (str(state_dir / "spool" / "*.jsonl"),)
        from monitor.sources.locations import DEFAULT_PATHS

        if fmt in DEFAULT_PATHS:
            defaults = DEFAULT_PATHS[fmt](ctx.env)
        else:
            from monitor.sources import get_format  # for the hint only: imports the adapter

            default_paths = get_format(fmt).default_paths
            defaults = default_paths() if default_paths else []
        # A relative default ("**/run_*/tokens.jsonl") says what the files look like, not
        # where they are: resolved against the cwd it could crawl all of $HOME.
        located = [p for p in defaults if os.path.isabs(_expand(p, ctx.env))]
        if not located:
            hint = f" (its files look like {', '.join(defaults)})" if defaults else ""
            raise ctx.error(where, f'missing `paths`: format "{fmt}" has no default location{hint}')
        return tuple(str(ctx.path(p)) for p in located)
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(p, str) and p for p in raw):
        raise ctx.error(f"{where}.paths", f"expected a list of glob strings, got {_show(raw)}")
    if not raw:
        raise ctx.error(
            f"{where}.paths", "expected at least one glob (omit `paths` for the format's default)"
        )
    return tuple(str(ctx.path(p)) for p in raw)


def _mapped_options(ctx: _Ctx, where: str, options: dict[str, Any]) -> dict[str, Any]:
    """Validate the mapped formats' documented options; other keys pass to the adapter.

    `fields` and `defaults` come out flat: `tags.project = "…"` (which TOML nests as a
    `tags` table) becomes the key "tags.project", so adapters see one spelling.
    """
    allowed = ", ".join((*MAPPED_FIELDS, "tags.NAME"))
    for opt in ("fields", "defaults"):
        if opt not in options:
            continue
        flat = _flatten_tags(_table(ctx, f"{where}.{opt}", options[opt]))
        options[opt] = flat
        for k, v in flat.items():
            if k not in MAPPED_FIELDS and not (k.startswith("tags.") and len(k) > 5):
                raise ctx.error(
                    f"{where}.{opt}.{k}", f"unknown event field (expected one of {allowed})"
                )
            if opt == "fields" and not (isinstance(v, str) and v):
                raise ctx.error(
                    f"{where}.fields.{k}", f"expected a field path or column name, got {_show(v)}"
                )
            if opt == "defaults" and not isinstance(v, str | int | float | bool):
                raise ctx.error(
                    f"{where}.defaults.{k}", f"expected a constant value, got {_show(v)}"
                )
    if "input_includes_cache" in options:
        _bool(ctx, f"{where}.input_includes_cache", options["input_includes_cache"])
    return options


def _flatten_tags(table: Mapping[str, Any]) -> dict[str, Any]:
    """`tags.project = "x"` in TOML nests as {"tags": {"project": "x"}}: flatten it back."""
    out: dict[str, Any] = {}
    for k, v in table.items():
        if k == "tags" and isinstance(v, dict):
            out.update({f"tags.{tk}": tv for tk, tv in v.items()})
        else:
            out[k] = v
    return out


def _budgets(ctx: _Ctx, raw: object) -> tuple[BudgetConfig, ...]:
    out: list[BudgetConfig] = []
    seen: set[str] = set()
    for i, table in enumerate(_array_of_tables(ctx, "budgets", raw)):
        name = table.get("name")
        b = _budget(
            ctx, f'budgets[{i}] ("{name}")' if isinstance(name, str) else f"budgets[{i}]", table
        )
        if b.name in seen:
            raise ctx.error(f'budgets[{i}] ("{b.name}").name', f'duplicate budget name "{b.name}"')
        seen.add(b.name)
        out.append(b)
    return tuple(out)


def _budget(ctx: _Ctx, where: str, table: Mapping[str, Any]) -> BudgetConfig:
    """One budget; `where` prefixes the keys in errors ("" for command-line values)."""

    def key(k: str) -> str:
        return f"{where}.{k}" if where else k

    name = table.get("name")
    _no_unknown(ctx, where, table, {"name", "period", "limit", "warn_at", "forecast", "scope"})
    for required in ("name", "period", "limit"):
        if required not in table:
            raise ctx.error(where or required, f"missing `{required}`")
    if not isinstance(name, str) or not name.strip():
        raise ctx.error(key("name"), f"expected a non-empty string, got {_show(name)}")
    period = table["period"]
    if period not in PERIODS:
        raise ctx.error(key("period"), f'expected "day", "week" or "month", got {_show(period)}')
    limit = _money(ctx, key("limit"), table["limit"])
    warn_at = DEFAULT_WARN_AT
    if "warn_at" in table:
        raw = table["warn_at"]
        if not isinstance(raw, list):
            raise ctx.error(
                key("warn_at"), f"expected a list of fractions of the limit, got {_show(raw)}"
            )
        fractions = set()
        for j, x in enumerate(raw):
            d = _decimal(x)
            if d is None or d <= 0:
                raise ctx.error(
                    key(f"warn_at[{j}]"), f"expected a fraction > 0 (0.8 = 80 %), got {_show(x)}"
                )
            fractions.add(d)
        warn_at = tuple(sorted(fractions))
    forecast = _bool(ctx, key("forecast"), table.get("forecast", True))
    scope_raw = _table(ctx, key("scope"), table.get("scope", {}))
    scope: dict[str, str] = {}
    for k, v in scope_raw.items():
        if k == "tag" and isinstance(v, dict):
            items = [(f"tag.{tk}", tv) for tk, tv in v.items()]
        else:
            items = [(k, v)]
        for k2, value in items:
            if k2 not in SCOPE_KEYS and not (k2.startswith("tag.") and len(k2) > 4):
                raise ctx.error(
                    key(f"scope.{k2}"),
                    "unknown scope key (expected source, provider, model, operation or tag.KEY)",
                )
            if not isinstance(value, str):
                raise ctx.error(key(f"scope.{k2}"), f"expected a string, got {_show(value)}")
            scope[k2] = value
    return BudgetConfig(name, period, limit, warn_at, forecast, scope)


def _merge_budgets_file(
    base: tuple[BudgetConfig, ...], path: Path, env: Mapping[str, str]
) -> tuple[BudgetConfig, ...]:
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return base
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(_show_path(path, env), None, f"cannot read: {e}") from None
    shown = _show_path(path, env)
    data = _parse_toml(text, shown)
    ctx = _Ctx(shown, path.parent, env)
    _no_unknown(ctx, "", data, {"budgets", "removed"})
    removed = data.get("removed", [])
    if not isinstance(removed, list) or not all(isinstance(n, str) for n in removed):
        raise ctx.error("removed", f"expected a list of budget names, got {_show(removed)}")
    overrides = {b.name: b for b in _budgets(ctx, data.get("budgets", []))}
    return _apply_budget_changes(base, set(removed), overrides)


def _apply_budget_changes(
    base: Iterable[BudgetConfig], removed: set[str], overrides: Mapping[str, BudgetConfig]
) -> tuple[BudgetConfig, ...]:
    out = [overrides.get(b.name, b) for b in base if b.name not in removed or b.name in overrides]
    have = {b.name for b in out}
    out.extend(b for name, b in overrides.items() if name not in have)
    return tuple(out)


def _alerts(ctx: _Ctx, raw: object) -> AlertsConfig:
    table = _table(ctx, "alerts", raw)
    _no_unknown(
        ctx,
        "alerts",
        table,
        {"urls", "apprise_config", "quiet_hours", "spike", "retry_max_seconds"},
    )
    urls = table.get("urls", [])
    if isinstance(urls, str):
        urls = [urls] if urls else []
    if not isinstance(urls, list):
        raise ctx.error(
            "alerts.urls", f"expected a list of Apprise URLs, got a {type(urls).__name__}"
        )
    for i, u in enumerate(urls):
        if not isinstance(u, str) or not u:
            # Never echo the values: Apprise URLs carry tokens.
            raise ctx.error(
                f"alerts.urls[{i}]",
                f"expected a non-empty string of Apprise URLs, got a {type(u).__name__}",
            )
    raw_cfg = _str(ctx, "alerts.apprise_config", table.get("apprise_config", ""))
    quiet = _str(ctx, "alerts.quiet_hours", table.get("quiet_hours", ""))
    spike = _table(ctx, "alerts.spike", table.get("spike", {}))
    _no_unknown(ctx, "alerts.spike", spike, {"call_cost", "hourly"})
    retry = table.get("retry_max_seconds", 30.0)
    if (
        isinstance(retry, bool)
        or not isinstance(retry, int | float)
        or not 0 < retry < float("inf")
    ):
        raise ctx.error(
            "alerts.retry_max_seconds", f"expected a number of seconds > 0, got {_show(retry)}"
        )
    return AlertsConfig(
        urls=tuple(urls),
        apprise_config=ctx.path(raw_cfg) if raw_cfg else None,
        quiet_hours=_parsed(ctx, "alerts.quiet_hours", parse_quiet_hours, quiet) if quiet else None,
        spike_call_cost=_money(ctx, "alerts.spike.call_cost", spike.get("call_cost", 0)),
        spike_hourly=_money(ctx, "alerts.spike.hourly", spike.get("hourly", 0)),
        retry_max_seconds=float(retry),
    )


def _prices(ctx: _Ctx, raw: object) -> dict[str, PriceOverride]:
    out: dict[str, PriceOverride] = {}
    for model, entry in _table(ctx, "prices", raw).items():
        where = f'prices."{model}"'
        table = _table(ctx, where, entry)
        _no_unknown(ctx, where, table, set(PRICE_KEYS))
        if not table:
            raise ctx.error(where, f"expected at least one of {', '.join(PRICE_KEYS)}")
        out[model] = PriceOverride(**{k: _money(ctx, f"{where}.{k}", v) for k, v in table.items()})
    return out


def _metrics(ctx: _Ctx, raw: object) -> MetricsConfig:
    table = _table(ctx, "metrics", raw)
    _no_unknown(ctx, "metrics", table, {"listen"})
    listen = table.get("listen", "")
    if listen == "":
        return MetricsConfig()
    return MetricsConfig(_parsed(ctx, "metrics.listen", parse_listen, listen))


# ---------------------------------------------------------------- value parsers


def parse_quiet_hours(value: str) -> tuple[time, time]:
    """ "22:00-07:00" → (22:00, 07:00); the end may be before the start (spans midnight)."""
    parts = value.split("-")
    times = [_clock(p.strip()) for p in parts] if len(parts) == 2 else []
    if len(times) != 2 or times[0] is None or times[1] is None or times[0] == times[1]:
        raise ValueError(f'expected "HH:MM-HH:MM" (e.g. "22:00-07:00"), got {_show(value)}')
    return times[0], times[1]


def parse_duration(value: str) -> timedelta:
    """ "2h", "30m", "1d", "1h30m", "90s", "1w" → timedelta (> 0); ValueError otherwise."""
    total = sum(float(n) * _DURATION_UNITS[unit] for n, unit in _DURATION.findall(value))
    if not _DURATION_ALL.fullmatch(value) or total <= 0:
        raise ValueError(f'expected a duration such as "30m", "2h" or "1d", got {_show(value)}')
    return timedelta(seconds=total)


def parse_listen(value: object) -> tuple[str, int]:
    """ "9464" or 9464 → ("127.0.0.1", 9464); "host:port"; "[::1]:9464"."""
    host, port_text = DEFAULT_METRICS_HOST, ""
    if isinstance(value, int) and not isinstance(value, bool):
        port_text = str(value)
    elif isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            h, _, rest = text[1:].partition("]")
            host, port_text = h, rest[1:] if rest.startswith(":") else ""
        elif ":" in text:
            h, _, port_text = text.rpartition(":")
            host = h or DEFAULT_METRICS_HOST
        else:
            port_text = text
    if not (port_text.isdigit() and 0 < int(port_text) < 65536 and host):
        example = '"127.0.0.1:9464"'
        raise ValueError(
            f"expected host:port or a port number (e.g. {example}), got {_show(value)}"
        )
    return host, int(port_text)


def resolve_timezone(name: str, env: Mapping[str, str] | None = None) -> tuple[str, tzinfo]:
    """ "local" or an IANA name → (printable name, tzinfo); ValueError for an unknown zone."""
    env = os.environ if env is None else env
    if name == "local":
        return _local_timezone(env)
    try:
        return name, ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        hint = '(use "local" or an IANA name such as "Europe/Berlin")'
        raise ValueError(f"unknown time zone {_show(name)} {hint}") from None


def _local_timezone(env: Mapping[str, str]) -> tuple[str, tzinfo]:
    tz_env = env.get("TZ", "").lstrip(":")
    if tz_env:
        if os.path.isabs(tz_env):
            zone = _zone_from_file(tz_env)
            if zone:
                return zone
        else:
            try:
                return tz_env, ZoneInfo(tz_env)
            except (ZoneInfoNotFoundError, ValueError):
                pass
    zone = _zone_from_file("/etc/localtime")
    if zone:
        return zone
    local = datetime.now().astimezone().tzinfo
    assert local is not None
    return local.tzname(None) or "local", local


def _zone_from_file(path: str) -> tuple[str, tzinfo] | None:
    """An IANA name for a zone file (from its symlink target, or /etc/timezone)."""
    try:
        target = os.path.realpath(path)
    except OSError:
        return None
    _, marker, key = target.partition("/zoneinfo/")
    candidates = [key] if marker else []
    if path == "/etc/localtime":
        try:
            candidates.append(Path("/etc/timezone").read_text().strip())
        except OSError:
            pass
    for key in candidates:
        try:
            return key, ZoneInfo(key)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    try:
        with open(path, "rb") as f:
            return "localtime", ZoneInfo.from_file(f, key="localtime")
    except (OSError, ValueError):
        return None


def _clock(text: str) -> time | None:
    m = _CLOCK.fullmatch(text)
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        return None
    return time(int(m.group(1)), int(m.group(2)))


def _timezone(ctx: _Ctx, key: str, value: object) -> tuple[str, tzinfo]:
    if not isinstance(value, str) or not value:
        raise ctx.error(key, f'expected "local" or an IANA time zone name, got {_show(value)}')
    try:
        return resolve_timezone(value, ctx.env)
    except ValueError as e:
        raise ctx.error(key, str(e)) from None


def _duration(ctx: _Ctx, key: str, value: object) -> timedelta:
    if not isinstance(value, str):
        raise ctx.error(key, f'expected a duration such as "30m", "2h" or "1d", got {_show(value)}')
    return _parsed(ctx, key, parse_duration, value)


def _parsed(ctx: _Ctx, key: str, parse: Callable[[_V], _T], value: _V) -> _T:
    try:
        return parse(value)
    except ValueError as e:
        raise ctx.error(key, str(e)) from None


def _decimal(value: object) -> Decimal | None:
    """A TOML number (or decimal string) as an exact Decimal; floats go through their repr."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        return None
    try:
        d = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


def _money(ctx: _Ctx, key: str, value: object) -> Decimal:
    d = _decimal(value)
    if d is None or d < 0:
        raise ctx.error(key, f"expected a number ≥ 0, got {_show(value)}")
    return d


def _bool(ctx: _Ctx, key: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ctx.error(key, f"expected true or false, got {_show(value)}")
    return value


def _str(ctx: _Ctx, key: str, value: object) -> str:
    if not isinstance(value, str):
        raise ctx.error(key, f"expected a string, got {_show(value)}")
    return value


def _table(ctx: _Ctx, key: str, value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ctx.error(key, f"expected a table, got {_show(value)}")
    return value


def _array_of_tables(ctx: _Ctx, key: str, value: object) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise ctx.error(key, f"expected an array of tables ([[{key}]]), got {_show(value)}")
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise ctx.error(f"{key}[{i}]", f"expected a table, got {_show(item)}")
    return value


def _no_unknown(ctx: _Ctx, where: str, table: Mapping[str, Any], known: set[str]) -> None:
    for k in table:
        if k not in known:
            key = f"{where}.{k}" if where else k
            raise ctx.error(key, f"unknown key (expected one of {', '.join(sorted(known))})")


def _show(value: object) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)


def _expand(raw: str, env: Mapping[str, str]) -> str:
    """`~` then `$VAR` / `${VAR}` from `env`; unknown variables stay as written."""
    if raw == "~" or raw.startswith("~/"):
        home = env.get("HOME") or os.path.expanduser("~")
        raw = home + raw[1:]
    elif raw.startswith("~"):
        raw = os.path.expanduser(raw)
    return _VAR.sub(lambda m: env.get(m.group(1) or m.group(2), m.group(0)), raw)


def _xdg_dir(env: Mapping[str, str], var: str, fallback: str) -> Path:
    value = env.get(var, "")
    if value and os.path.isabs(value):  # the XDG spec: relative values are invalid
        return Path(value)
    return Path(_expand("~", env)) / fallback


def _show_path(path: Path, env: Mapping[str, str]) -> str:
    home = _expand("~", env).rstrip("/")
    text = str(path)
    if home and (text == home or text.startswith(home + "/")):
        return "~" + text[len(home) :]
    return text


# ---------------------------------------------------------------- writing budgets


def write_budgets(config: Config, budgets: Sequence[BudgetConfig]) -> Path:
    """Make `budgets` the effective budgets by writing budgets.toml; never touches config.toml.

    Only what differs from the config file's own `[[budgets]]` is written (changed and
    new budgets, and the names to remove), so budgets left alone keep following edits
    of config.toml. Atomic: a temporary file in the same directory, then `os.replace`.
    """
    import tomli_w  # only writers pay for it

    names = [b.name for b in budgets]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate budget names: {names}")
    path = config.budgets_path or user_config_path().parent / BUDGETS_FILE
    own = {b.name: b for b in config.file_budgets}
    wanted = {b.name for b in budgets}
    doc: dict[str, Any] = {}
    removed = [name for name in own if name not in wanted]
    if removed:
        doc["removed"] = removed
    changed = [b for b in budgets if own.get(b.name) != b]
    if changed:
        doc["budgets"] = [_budget_to_toml(b) for b in changed]
    header = (
        "# Written by `llm-monitor budget set/rm`; merged over the [[budgets]] of\n"
        "# config.toml by name: an entry here replaces the one of the same name or adds\n"
        "# one, `removed` deletes config.toml's budgets of those names.\n\n"
    )
    _atomic_write(path, header + tomli_w.dumps(doc))
    return path


def set_budget(config: Config, budget: BudgetConfig) -> Path:
    """Add `budget`, or replace the budget of the same name in place."""
    current = list(config.budgets)
    for i, b in enumerate(current):
        if b.name == budget.name:
            current[i] = budget
            break
    else:
        current.append(budget)
    return write_budgets(config, current)


def remove_budget(config: Config, name: str) -> Path:
    """Remove the budget `name`; KeyError when there is none."""
    if not any(b.name == name for b in config.budgets):
        raise KeyError(name)
    return write_budgets(config, [b for b in config.budgets if b.name != name])


def make_budget(
    name: str,
    period: str,
    limit: object,
    *,
    warn_at: Sequence[object] | None = None,
    forecast: bool = True,
    scope: Mapping[str, str] | None = None,
) -> BudgetConfig:
    """A validated budget from loose values (what `budget set` parses from argv)."""
    table: dict[str, Any] = {"name": name, "period": period, "limit": limit, "forecast": forecast}
    if warn_at is not None:
        table["warn_at"] = list(warn_at)
    if scope:
        table["scope"] = dict(scope)
    return _budget(_Ctx("budget", Path.cwd(), os.environ), "", table)


def _budget_to_toml(b: BudgetConfig) -> dict[str, Any]:
    out: dict[str, Any] = {"name": b.name, "period": b.period, "limit": b.limit}
    if b.warn_at != DEFAULT_WARN_AT:
        out["warn_at"] = list(b.warn_at)
    if not b.forecast:
        out["forecast"] = False
    if b.scope:
        out["scope"] = dict(b.scope)
    return out


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o644
    import tempfile  # only when writing budgets.toml

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


__all__ = [
    "AlertsConfig",
    "BudgetConfig",
    "Config",
    "ConfigError",
    "MetricsConfig",
    "PriceOverride",
    "SourceConfig",
    "default_config_text",
    "find_config",
    "load_config",
    "make_budget",
    "parse_duration",
    "parse_listen",
    "parse_quiet_hours",
    "remove_budget",
    "resolve_timezone",
    "set_budget",
    "user_config_path",
    "write_budgets",
]
