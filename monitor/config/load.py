"""`load_config`: find the config, read it, validate it, merge budgets.toml over it.

A config file replaces the embedded default entirely: only its sources are watched, plus
the spool source (`<state_dir>/spool/*.jsonl`), which is always present. The result is
one frozen `Config`; a reload builds a new one and compares.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from monitor.config.budgets_file import merge_budgets_file
from monitor.config.locations import (
    EMBEDDED,
    budgets_path_for,
    default_config_text,
    find_config,
    show_path,
    user_config_path,
)
from monitor.config.schema import Config, ConfigError
from monitor.config.validate import (
    TOP_LEVEL,
    Checker,
    no_unknown,
    parse_toml,
    read_alerts,
    read_budgets,
    read_digest,
    read_limits,
    read_metrics,
    read_monitor,
    read_prices,
    read_sources,
)


def load_config(
    path: str | os.PathLike[str] | None = None, *, env: Mapping[str, str] | None = None
) -> Config:
    """The effective config (lookup order: `locations`); ConfigError names file and key."""
    env = os.environ if env is None else env
    file = find_config(path, env)
    budgets_path = budgets_path_for(file, env)
    if file is None:
        data = parse_toml(default_config_text(), EMBEDDED)
        return _build(data, None, Path.cwd(), budgets_path, env)
    shown = show_path(file, env)
    try:
        text = file.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(shown, None, "no such file") from None
    except UnicodeDecodeError as e:
        raise ConfigError(shown, None, f"not UTF-8 text ({e.reason} at byte {e.start})") from None
    except OSError as e:
        raise ConfigError(shown, None, f"cannot read: {e.strerror or e}") from None
    return _build(parse_toml(text, shown), file, file.parent, budgets_path, env)


def _build(
    data: dict[str, Any], file: Path | None, base: Path, budgets_path: Path, env: Mapping[str, str]
) -> Config:
    # Sections are checked in the order config.toml documents them: a file with several
    # mistakes always reports the same one first.
    ctx = Checker(EMBEDDED if file is None else show_path(file, env), base, env)
    no_unknown(ctx, "", data, TOP_LEVEL)
    mon = read_monitor(ctx, data.get("monitor", {}))
    sources = read_sources(ctx, data.get("sources", []), mon)
    file_budgets = read_budgets(ctx, data.get("budgets", []))
    budgets = merge_budgets_file(file_budgets, budgets_path, env)
    return Config(
        path=file,
        timezone_name=mon.timezone_name,
        tz=mon.tz,
        state_dir=mon.state_dir,
        socket_path=mon.socket_path,
        sources=sources,
        budgets=budgets,
        alerts=read_alerts(ctx, data.get("alerts", {})),
        digest=read_digest(ctx, data.get("digest", {})),
        limits=read_limits(ctx, data.get("limits", [])),
        prices=read_prices(ctx, data.get("prices", {})),
        metrics=read_metrics(ctx, data.get("metrics", {})),
        budgets_path=budgets_path,
        file_budgets=file_budgets,
    )


def config_stamp(config_path: str | Path | None, config: Config) -> tuple[Any, ...]:
    """What a daemon's reload watches: the config file (or where one would be created)
    and the budgets.toml that `budget set/rm` write — also beside an embedded default."""
    path = find_config(config_path) or user_config_path()
    stamps: list[Any] = []
    if path is not None:
        for p in (path, config.budgets_path or path.parent / "budgets.toml"):
            try:
                st = p.stat()
                stamps.append((str(p), st.st_mtime_ns, st.st_size, st.st_ino))
            except OSError:
                stamps.append((str(p), None))
    return tuple(stamps)
