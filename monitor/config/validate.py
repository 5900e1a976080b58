"""Turn parsed TOML tables into the schema's dataclasses, or say exactly what is wrong.

Every mistake is a `ConfigError` naming the file, the dotted key and what was expected;
unknown keys are errors too (a typo must not silently do nothing), except inside a
source table, where extra keys are the adapter's options. A relative path is relative to
the config file's directory (for the embedded default: the current directory).

A source without `paths` takes its format's default globs when they are absolute
(claude-code and codex, honouring `$CLAUDE_CONFIG_DIR` / `$CODEX_HOME` from the process
environment). A relative default (`**/run_*/tokens.jsonl`) only says what the files look
like; such a source must name its `paths`.

Reads no file (that is `load`'s and `budgets_file`'s job) and imports no adapter except
to ask a format without a known location for its default paths.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any, Final, TypeVar

from monitor.config.locations import default_socket_path, default_state_dir, expand
from monitor.config.schema import (
    COST_MODES,
    DEFAULT_WARN_AT,
    LIMIT_WARN_AT,
    MAPPED_FIELDS,
    PRICE_KEYS,
    SCOPE_KEYS,
    WEEKDAYS,
    AlertsConfig,
    BudgetConfig,
    CallTimes,
    ConfigError,
    DigestConfig,
    LimitConfig,
    MetricsConfig,
    PriceOverride,
    SourceConfig,
)
from monitor.config.values import (
    _clock,
    parse_decimal,
    parse_duration,
    parse_listen,
    parse_quiet_hours,
    resolve_timezone,
    show,
)
from monitor.periods import PERIODS
from monitor.sources import FORMAT_NAMES

_T = TypeVar("_T")
_V = TypeVar("_V")

TOP_LEVEL: Final = frozenset(
    {"monitor", "sources", "budgets", "limits", "alerts", "digest", "prices", "metrics"}
)
_MONITOR_KEYS: Final = frozenset(
    {"timezone", "state_dir", "socket", "calls_since", "future_tolerance"}
)
_SOURCE_COMMON: Final = frozenset(
    {"name", "format", "paths", "timezone", "cost", "expect_every", "enabled"}
)
_TOML_POS: Final = re.compile(r"\s*\(at line (\d+), column (\d+)\)$")


@dataclass(slots=True)
class Checker:
    """Where values come from: the file errors name, and what relative paths start at."""

    file: str
    base: Path
    env: Mapping[str, str]

    def error(self, key: str | None, problem: str) -> ConfigError:
        return ConfigError(self.file, key, problem)

    def path(self, raw: str) -> Path:
        p = Path(expand(raw, self.env))
        return Path(os.path.normpath(p if p.is_absolute() else self.base / p))


def parse_toml(text: str, shown: str) -> dict[str, Any]:
    """TOML text → tables; a syntax error names `file:line:column` like a compiler."""
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


# ---------------------------------------------------------------- [monitor]


@dataclass(frozen=True, slots=True)
class MonitorTable:
    """`[monitor]` resolved: what the other sections and `Config` need of it."""

    timezone_name: str
    tz: tzinfo
    state_dir: Path
    socket_path: Path
    call_times: CallTimes


def read_monitor(ctx: Checker, raw: object) -> MonitorTable:
    mon = _table(ctx, "monitor", raw)
    no_unknown(ctx, "monitor", mon, _MONITOR_KEYS)
    tz_name, tz = _timezone(ctx, "monitor.timezone", mon.get("timezone", "local"))
    raw_state = _str(ctx, "monitor.state_dir", mon.get("state_dir", ""))
    # An explicit state_dir is used as written (relative to the config file).
    state_dir = ctx.path(raw_state) if raw_state else default_state_dir(ctx.env)
    raw_socket = _str(ctx, "monitor.socket", mon.get("socket", ""))
    socket_path = ctx.path(raw_socket) if raw_socket else default_socket_path(state_dir, ctx.env)
    since_text = _str(ctx, "monitor.calls_since", mon.get("calls_since", "2020-01-01"))
    try:
        calls_since = datetime.combine(date.fromisoformat(since_text), time(0), UTC)
    except ValueError:
        raise ctx.error(
            "monitor.calls_since", f"expected a date YYYY-MM-DD, got {since_text!r}"
        ) from None
    future = _duration(ctx, "monitor.future_tolerance", mon.get("future_tolerance", "1d"))
    return MonitorTable(tz_name, tz, state_dir, socket_path, CallTimes(calls_since, future))


# ---------------------------------------------------------------- [[sources]]


def read_sources(ctx: Checker, raw: object, mon: MonitorTable) -> tuple[SourceConfig, ...]:
    """The sources as written, plus the spool source, which is always watched."""
    tz_name, tz, state_dir, times = mon.timezone_name, mon.tz, mon.state_dir, mon.call_times
    out: list[SourceConfig] = []
    seen: set[str] = set()
    for i, table in enumerate(_array_of_tables(ctx, "sources", raw)):
        name = table.get("name")
        where = f"sources[{i}]" if not isinstance(name, str) else f'sources[{i}] ("{name}")'
        if name is None:
            raise ctx.error(where, "missing `name` (every source needs a unique name)")
        if not isinstance(name, str) or not name.strip():
            raise ctx.error(f"{where}.name", f"expected a non-empty string, got {show(name)}")
        if name in seen:
            raise ctx.error(f"{where}.name", f'duplicate source name "{name}"')
        seen.add(name)
        fmt = table.get("format")
        if fmt is None:
            raise ctx.error(where, f"missing `format` (one of {', '.join(FORMAT_NAMES)})")
        if fmt not in FORMAT_NAMES:
            raise ctx.error(
                f"{where}.format", f"expected one of {', '.join(FORMAT_NAMES)}, got {show(fmt)}"
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
                f"{where}.cost", f'expected "auto", "reported" or "priced", got {show(cost)}'
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
    ctx: Checker, where: str, table: Mapping[str, Any], fmt: str, state_dir: Path
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
        located = [p for p in defaults if os.path.isabs(expand(p, ctx.env))]
        if not located:
            hint = f" (its files look like {', '.join(defaults)})" if defaults else ""
            raise ctx.error(where, f'missing `paths`: format "{fmt}" has no default location{hint}')
        return tuple(str(ctx.path(p)) for p in located)
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(p, str) and p for p in raw):
        raise ctx.error(f"{where}.paths", f"expected a list of glob strings, got {show(raw)}")
    if not raw:
        raise ctx.error(
            f"{where}.paths", "expected at least one glob (omit `paths` for the format's default)"
        )
    return tuple(str(ctx.path(p)) for p in raw)


def _mapped_options(ctx: Checker, where: str, options: dict[str, Any]) -> dict[str, Any]:
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
                    f"{where}.fields.{k}", f"expected a field path or column name, got {show(v)}"
                )
            if opt == "defaults" and not isinstance(v, str | int | float | bool):
                raise ctx.error(
                    f"{where}.defaults.{k}", f"expected a constant value, got {show(v)}"
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


# ---------------------------------------------------------------- [[budgets]]


def read_budgets(ctx: Checker, raw: object) -> tuple[BudgetConfig, ...]:
    """`[[budgets]]` of config.toml or budgets.toml; names must be unique."""
    out: list[BudgetConfig] = []
    seen: set[str] = set()
    for i, table in enumerate(_array_of_tables(ctx, "budgets", raw)):
        name = table.get("name")
        b = read_budget(
            ctx, f'budgets[{i}] ("{name}")' if isinstance(name, str) else f"budgets[{i}]", table
        )
        if b.name in seen:
            raise ctx.error(f'budgets[{i}] ("{b.name}").name', f'duplicate budget name "{b.name}"')
        seen.add(b.name)
        out.append(b)
    return tuple(out)


def read_budget(ctx: Checker, where: str, table: Mapping[str, Any]) -> BudgetConfig:
    """One budget; `where` prefixes the keys in errors ("" for command-line values)."""

    def key(k: str) -> str:
        return f"{where}.{k}" if where else k

    name = table.get("name")
    no_unknown(ctx, where, table, {"name", "period", "limit", "warn_at", "forecast", "scope"})
    for required in ("name", "period", "limit"):
        if required not in table:
            raise ctx.error(where or required, f"missing `{required}`")
    if not isinstance(name, str) or not name.strip():
        raise ctx.error(key("name"), f"expected a non-empty string, got {show(name)}")
    period = table["period"]
    if period not in PERIODS:
        raise ctx.error(key("period"), f'expected "day", "week" or "month", got {show(period)}')
    limit = _money(ctx, key("limit"), table["limit"])
    warn_at = _warn_at(ctx, key("warn_at"), table.get("warn_at"), DEFAULT_WARN_AT)
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
                raise ctx.error(key(f"scope.{k2}"), f"expected a string, got {show(value)}")
            scope[k2] = value
    return BudgetConfig(name, period, limit, warn_at, forecast, scope)


# ---------------------------------------------------------------- [alerts], [prices], [metrics]


def _warn_at(
    ctx: Checker, key: str, raw: object, default: tuple[Decimal, ...]
) -> tuple[Decimal, ...]:
    """A `warn_at` list of fractions (0.8 = 80 %), sorted; `default` when absent."""
    if raw is None:
        return default
    if not isinstance(raw, list):
        raise ctx.error(key, f"expected a list of fractions of the limit, got {show(raw)}")
    fractions = set()
    for j, x in enumerate(raw):
        d = parse_decimal(x)
        if d is None or d <= 0:
            raise ctx.error(f"{key}[{j}]", f"expected a fraction > 0 (0.8 = 80 %), got {show(x)}")
        fractions.add(d)
    return tuple(sorted(fractions))


def read_limits(ctx: Checker, raw: object) -> tuple[LimitConfig, ...]:
    """`[[limits]]`: how a tool's plan window warns (`warn_at`, or `enabled = false`)."""
    out: list[LimitConfig] = []
    for i, table in enumerate(_array_of_tables(ctx, "limits", raw)):
        where = f"limits[{i}]"
        no_unknown(ctx, where, table, {"tool", "window", "warn_at", "enabled", "tokens", "cost"})
        tool = table.get("tool")
        if not isinstance(tool, str) or not tool.strip():
            raise ctx.error(f"{where}.tool", f"expected a tool name (codex, …), got {show(tool)}")
        window = table.get("window")
        if window not in ("5h", "7d"):
            raise ctx.error(f"{where}.window", f'expected "5h" or "7d", got {show(window)}')
        tokens = table.get("tokens")
        if tokens is not None and (
            isinstance(tokens, bool) or not isinstance(tokens, int) or tokens <= 0
        ):
            raise ctx.error(f"{where}.tokens", f"expected a whole number > 0, got {show(tokens)}")
        cost = None if "cost" not in table else _money(ctx, f"{where}.cost", table["cost"])
        if cost is not None and cost == 0:
            raise ctx.error(f"{where}.cost", "expected an amount > 0 (USD)")
        if window != "5h" and (tokens is not None or cost is not None):
            raise ctx.error(
                f"{where}.window", "`tokens` and `cost` size the estimated 5-hour window only"
            )
        out.append(
            LimitConfig(
                tool=tool,
                window=window,
                warn_at=_warn_at(ctx, f"{where}.warn_at", table.get("warn_at"), LIMIT_WARN_AT),
                enabled=_bool(ctx, f"{where}.enabled", table.get("enabled", True)),
                tokens=tokens,
                cost=cost,
            )
        )
    return tuple(out)


def read_alerts(ctx: Checker, raw: object) -> AlertsConfig:
    table = _table(ctx, "alerts", raw)
    no_unknown(
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
    no_unknown(ctx, "alerts.spike", spike, {"call_cost", "hourly"})
    retry = table.get("retry_max_seconds", 30.0)
    if (
        isinstance(retry, bool)
        or not isinstance(retry, int | float)
        or not 0 < retry < float("inf")
    ):
        raise ctx.error(
            "alerts.retry_max_seconds", f"expected a number of seconds > 0, got {show(retry)}"
        )
    return AlertsConfig(
        urls=tuple(urls),
        apprise_config=ctx.path(raw_cfg) if raw_cfg else None,
        quiet_hours=_parsed(ctx, "alerts.quiet_hours", parse_quiet_hours, quiet) if quiet else None,
        spike_call_cost=_money(ctx, "alerts.spike.call_cost", spike.get("call_cost", 0)),
        spike_hourly=_money(ctx, "alerts.spike.hourly", spike.get("hourly", 0)),
        retry_max_seconds=float(retry),
    )


_FULL_DAYS: Final = (
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday",
)  # fmt: skip


def read_digest(ctx: Checker, raw: object) -> DigestConfig:
    """`[digest]`: `daily = "HH:MM"`, `weekly = "DAY HH:MM"`; absent or "" = off.

    A TOML local time (`daily = 08:00:00`, unquoted) is taken as well.
    """
    table = _table(ctx, "digest", raw)
    no_unknown(ctx, "digest", table, {"daily", "weekly"})
    daily_raw = table.get("daily", "")
    daily = _clock_of(daily_raw)
    if daily is None and daily_raw != "":
        raise ctx.error("digest.daily", f'expected "HH:MM" (e.g. "08:00"), got {show(daily_raw)}')
    weekly_raw = table.get("weekly", "")
    weekly = _weekly(weekly_raw)
    if weekly is None and weekly_raw != "":
        raise ctx.error(
            "digest.weekly",
            f'expected "DAY HH:MM" with DAY one of {", ".join(WEEKDAYS)} '
            f'(e.g. "mon 08:00"), got {show(weekly_raw)}',
        )
    return DigestConfig(daily=daily, weekly=weekly)


def _clock_of(value: object) -> time | None:
    """ "08:00" or a TOML local time of whole minutes → 08:00; None otherwise."""
    if isinstance(value, time):
        whole = value.tzinfo is None and value.second == 0 and value.microsecond == 0
        return value if whole else None
    return _clock(value.strip()) if isinstance(value, str) else None


def _weekly(value: object) -> tuple[int, time] | None:
    """ "mon 08:00" (or "Monday 08:00") → (0, 08:00); None when it is not that."""
    if not isinstance(value, str):
        return None
    day, _, at = value.strip().partition(" ")
    clock = _clock(at.strip())
    for i, (short, full) in enumerate(zip(WEEKDAYS, _FULL_DAYS, strict=True)):
        if day.lower() in (short, full) and clock is not None:
            return i, clock
    return None


def read_prices(ctx: Checker, raw: object) -> dict[str, PriceOverride]:
    out: dict[str, PriceOverride] = {}
    for model, entry in _table(ctx, "prices", raw).items():
        where = f'prices."{model}"'
        table = _table(ctx, where, entry)
        no_unknown(ctx, where, table, set(PRICE_KEYS))
        if not table:
            raise ctx.error(where, f"expected at least one of {', '.join(PRICE_KEYS)}")
        out[model] = PriceOverride(**{k: _money(ctx, f"{where}.{k}", v) for k, v in table.items()})
    return out


def read_metrics(ctx: Checker, raw: object) -> MetricsConfig:
    table = _table(ctx, "metrics", raw)
    no_unknown(ctx, "metrics", table, {"listen"})
    listen = table.get("listen", "")
    if listen == "":
        return MetricsConfig()
    return MetricsConfig(_parsed(ctx, "metrics.listen", parse_listen, listen))


# ---------------------------------------------------------------- typed readers


def no_unknown(
    ctx: Checker, where: str, table: Mapping[str, Any], known: set[str] | frozenset[str]
) -> None:
    for k in table:
        if k not in known:
            key = f"{where}.{k}" if where else k
            raise ctx.error(key, f"unknown key (expected one of {', '.join(sorted(known))})")


def _timezone(ctx: Checker, key: str, value: object) -> tuple[str, tzinfo]:
    if not isinstance(value, str) or not value:
        raise ctx.error(key, f'expected "local" or an IANA time zone name, got {show(value)}')
    try:
        return resolve_timezone(value, ctx.env)
    except ValueError as e:
        raise ctx.error(key, str(e)) from None


def _duration(ctx: Checker, key: str, value: object) -> timedelta:
    if not isinstance(value, str):
        raise ctx.error(key, f'expected a duration such as "30m", "2h" or "1d", got {show(value)}')
    return _parsed(ctx, key, parse_duration, value)


def _parsed(ctx: Checker, key: str, parse: Callable[[_V], _T], value: _V) -> _T:
    try:
        return parse(value)
    except ValueError as e:
        raise ctx.error(key, str(e)) from None


def _money(ctx: Checker, key: str, value: object) -> Decimal:
    d = parse_decimal(value)
    if d is None or d < 0:
        raise ctx.error(key, f"expected a number ≥ 0, got {show(value)}")
    return d


def _bool(ctx: Checker, key: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ctx.error(key, f"expected true or false, got {show(value)}")
    return value


def _str(ctx: Checker, key: str, value: object) -> str:
    if not isinstance(value, str):
        raise ctx.error(key, f"expected a string, got {show(value)}")
    return value


def _table(ctx: Checker, key: str, value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ctx.error(key, f"expected a table, got {show(value)}")
    return value


def _array_of_tables(ctx: Checker, key: str, value: object) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise ctx.error(key, f"expected an array of tables ([[{key}]]), got {show(value)}")
    for i, item in enumerate(value):
        if not isinstance(item, dict):
            raise ctx.error(f"{key}[{i}]", f"expected a table, got {show(item)}")
    return value
