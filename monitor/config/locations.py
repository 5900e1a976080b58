"""Where the config, the budgets file, the state and the socket live by default.

The config file is the first that applies: an explicit path (`--config`);
`$LLM_MONITOR_CONFIG`; `$XDG_CONFIG_HOME/llm-monitor/config.toml` (XDG default
`~/.config`) when that file exists; else the embedded default (`default_config.toml`,
byte-identical to the repository's commented `config.toml`). An explicit path or
`$LLM_MONITOR_CONFIG` naming a missing file is an error, not a silent fallback.

`budgets.toml` sits beside the config file; with the embedded default, beside where the
user config would be, so budgets set without a config file still apply.

- `~` and `$VARS` are expanded in every path (from the given environment, so tests and
  the daemon's reload see the same answer).
- `[monitor] state_dir` absent or "" → `$XDG_STATE_HOME/llm-monitor`, else
  `~/.local/state/llm-monitor`.
- `socket` "" → `$XDG_RUNTIME_DIR/llm-monitor.sock`, else `<state_dir>/llm-monitor.sock`.

Only answers questions about paths: nothing here reads or validates a config.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Final

APP: Final = "llm-monitor"
EMBEDDED: Final = "<embedded default config>"
"""How errors name the embedded default, which has no path."""
BUDGETS_FILE: Final = "budgets.toml"

_VAR: Final = re.compile(r"\$(\w+)|\$\{(\w+)\}")


def default_config_text() -> str:
    """The embedded default config (what `init` starts from)."""
    # Beside this package, installed as package data; `importlib.resources` would cost
    # 13 ms of import time in every command, the status bar's included.
    return (Path(__file__).parent.parent / "default_config.toml").read_text("utf-8")


def user_config_path(env: Mapping[str, str] | None = None) -> Path:
    """`$XDG_CONFIG_HOME/llm-monitor/config.toml` (XDG default `~/.config`)."""
    env = os.environ if env is None else env
    return xdg_dir(env, "XDG_CONFIG_HOME", ".config") / APP / "config.toml"


def find_config(
    path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None
) -> Path | None:
    """The config file `load_config` would read; None means the embedded default."""
    env = os.environ if env is None else env
    if path is not None and os.fspath(path) != "":
        return Path(expand(os.fspath(path), env)).absolute()
    if env.get("LLM_MONITOR_CONFIG"):
        return Path(expand(env["LLM_MONITOR_CONFIG"], env)).absolute()
    user = user_config_path(env)
    return user if user.is_file() else None


def budgets_path_for(config_file: Path | None, env: Mapping[str, str] | None = None) -> Path:
    """The budgets.toml that goes with `config_file` (None: the embedded default)."""
    if config_file is None:
        return user_config_path(env).parent / BUDGETS_FILE
    return config_file.parent / BUDGETS_FILE


def default_state_dir(env: Mapping[str, str]) -> Path:
    return xdg_dir(env, "XDG_STATE_HOME", ".local/state") / APP


def default_socket_path(state_dir: Path, env: Mapping[str, str]) -> Path:
    # $XDG_RUNTIME_DIR is per login session and cleaned at logout: the right home for a
    # socket; without it the socket lives with the state it serves.
    if os.path.isabs(env.get("XDG_RUNTIME_DIR", "")):
        return Path(env["XDG_RUNTIME_DIR"]) / f"{APP}.sock"
    return state_dir / f"{APP}.sock"


def expand(raw: str, env: Mapping[str, str]) -> str:
    """`~` then `$VAR` / `${VAR}` from `env`; unknown variables stay as written."""
    if raw == "~" or raw.startswith("~/"):
        home = env.get("HOME") or os.path.expanduser("~")
        raw = home + raw[1:]
    elif raw.startswith("~"):
        raw = os.path.expanduser(raw)
    return _VAR.sub(lambda m: env.get(m.group(1) or m.group(2), m.group(0)), raw)


def xdg_dir(env: Mapping[str, str], var: str, fallback: str) -> Path:
    value = env.get(var, "")
    if value and os.path.isabs(value):  # the XDG spec: relative values are invalid
        return Path(value)
    return Path(expand("~", env)) / fallback


def show_path(path: Path, env: Mapping[str, str]) -> str:
    """A path as errors print it: `~/…` inside the home directory."""
    home = expand("~", env).rstrip("/")
    text = str(path)
    if home and (text == home or text.startswith(home + "/")):
        return "~" + text[len(home) :]
    return text
