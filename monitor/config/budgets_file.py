"""`budgets.toml`: the budgets `budget set/rm` write, merged over the config's own.

The user's config file is never rewritten: its comments and layout are theirs. Instead
`budgets.toml` beside it (see `locations.budgets_path_for`) holds only the difference:
its `[[budgets]]` replace the config's budgets of the same name or are appended; its
top-level `removed = ["name", …]` deletes the config's budgets of those names. A
tombstone list (rather than half-empty `[[budgets]]` entries flagged `removed`) keeps
every `[[budgets]]` entry a complete, validated budget, and budgets left alone keep
following edits of config.toml.

Written atomically (temporary file, fsync, `os.replace`, fsync of the directory): the
daemon reloads when the file changes and must never read half of it. tomli-w and
tempfile are imported only when writing, so `status` and `report` do not pay for them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from monitor.config.locations import budgets_path_for, show_path
from monitor.config.schema import DEFAULT_WARN_AT, BudgetConfig, Config, ConfigError
from monitor.config.validate import Checker, no_unknown, parse_toml, read_budget, read_budgets
from monitor.config.values import show

_HEADER = (
    "# Written by `llm-monitor budget set/rm`; merged over the [[budgets]] of\n"
    "# config.toml by name: an entry here replaces the one of the same name or adds\n"
    "# one, `removed` deletes config.toml's budgets of those names.\n\n"
)


def budgets_file_of(config: Config) -> Path:
    """Where `config`'s budgets.toml is (a hand-built Config has none: the user's)."""
    return config.budgets_path or budgets_path_for(None)


def merge_budgets_file(
    base: tuple[BudgetConfig, ...], path: Path, env: Mapping[str, str]
) -> tuple[BudgetConfig, ...]:
    """The effective budgets: `base` (the config file's) with budgets.toml applied."""
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return base
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(show_path(path, env), None, f"cannot read: {e}") from None
    shown = show_path(path, env)
    data = parse_toml(text, shown)
    ctx = Checker(shown, path.parent, env)
    no_unknown(ctx, "", data, {"budgets", "removed"})
    removed = data.get("removed", [])
    if not isinstance(removed, list) or not all(isinstance(n, str) for n in removed):
        raise ctx.error("removed", f"expected a list of budget names, got {show(removed)}")
    overrides = {b.name: b for b in read_budgets(ctx, data.get("budgets", []))}
    return _apply_budget_changes(base, set(removed), overrides)


def _apply_budget_changes(
    base: Iterable[BudgetConfig], removed: set[str], overrides: Mapping[str, BudgetConfig]
) -> tuple[BudgetConfig, ...]:
    out = [overrides.get(b.name, b) for b in base if b.name not in removed or b.name in overrides]
    have = {b.name for b in out}
    out.extend(b for name, b in overrides.items() if name not in have)
    return tuple(out)


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
    path = budgets_file_of(config)
    own = {b.name: b for b in config.file_budgets}
    wanted = {b.name for b in budgets}
    doc: dict[str, Any] = {}
    removed = [name for name in own if name not in wanted]
    if removed:
        doc["removed"] = removed
    changed = [b for b in budgets if own.get(b.name) != b]
    if changed:
        doc["budgets"] = [_budget_to_toml(b) for b in changed]
    _atomic_write(path, _HEADER + tomli_w.dumps(doc))
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
    return read_budget(Checker("budget", Path.cwd(), os.environ), "", table)


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
