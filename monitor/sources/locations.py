"""Where the agent CLIs keep their logs by default, honouring their environment variables.

Kept apart from the adapters so that loading the config (which every command does) does
not import parsing code and its dependencies.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping


def claude_code_paths(env: Mapping[str, str] | None = None) -> list[str]:
    """Each dir of `$CLAUDE_CONFIG_DIR` (comma-separated), else both homes Claude Code uses.

    Some Claude Code versions keep their data under `$XDG_CONFIG_HOME/claude` instead of
    `~/.claude`; ccusage reads both, and so do we (keys make an overlap harmless).
    """
    env = os.environ if env is None else env
    dirs = [d.strip().rstrip("/") for d in env.get("CLAUDE_CONFIG_DIR", "").split(",") if d.strip()]
    if dirs:
        return [f"{d}/projects/**/*.jsonl" for d in dirs]
    xdg = env.get("XDG_CONFIG_HOME", "").strip().rstrip("/") or "~/.config"
    return ["~/.claude/projects/**/*.jsonl", f"{xdg}/claude/projects/**/*.jsonl"]


def codex_paths(env: Mapping[str, str] | None = None) -> list[str]:
    """`$CODEX_HOME/sessions/**/rollout-*.jsonl` and `$CODEX_HOME/archived_sessions/` (where
    Codex moves an archived session's rollout: one source, so the cursor follows the
    rename), else under `~/.codex`."""
    env = os.environ if env is None else env
    home = env.get("CODEX_HOME", "").strip().rstrip("/") or "~/.codex"
    return [
        f"{home}/sessions/**/rollout-*.jsonl",
        f"{home}/archived_sessions/**/rollout-*.jsonl",
    ]


def _dir(env: Mapping[str, str], name: str) -> str:
    return env.get(name, "").strip().rstrip("/")


def _dirs(env: Mapping[str, str], name: str) -> list[str]:
    """The directories a comma-separated variable lists (as ccusage reads its `*_DATA_DIR`)."""
    return [d.strip().rstrip("/") for d in env.get(name, "").split(",") if d.strip()]


def gemini_cli_paths(env: Mapping[str, str] | None = None) -> list[str]:
    """Every project's `chats/**/*.jsonl` (subagents nest under their parent session) in
    each dir of ccusage's `$GEMINI_DATA_DIR`, else in `$GEMINI_CLI_HOME/.gemini/tmp` (Gemini
    CLI's home override), else in `~/.gemini/tmp`."""
    env = os.environ if env is None else env
    tmps = _dirs(env, "GEMINI_DATA_DIR") or [f"{_dir(env, 'GEMINI_CLI_HOME') or '~'}/.gemini/tmp"]
    return [f"{tmp}/*/chats/**/*.jsonl" for tmp in tmps]


def gemini_cli_json_paths(env: Mapping[str, str] | None = None) -> list[str]:
    """The session documents Gemini CLI wrote before JSONL, `chats/session-*.json`,
    beside today's recordings (`gemini_cli_paths`)."""
    return [glob.replace("**/*.jsonl", "session-*.json") for glob in gemini_cli_paths(env)]


def qwen_code_paths(env: Mapping[str, str] | None = None) -> list[str]:
    """`projects/*/chats/*.jsonl` in each dir of ccusage's `$QWEN_DATA_DIR`, else in Qwen
    Code's runtime dir: `$QWEN_RUNTIME_DIR`, else `$QWEN_HOME`, else `~/.qwen`."""
    env = os.environ if env is None else env
    roots = _dirs(env, "QWEN_DATA_DIR") or [
        _dir(env, "QWEN_RUNTIME_DIR") or _dir(env, "QWEN_HOME") or "~/.qwen"
    ]
    return [f"{root}/projects/*/chats/*.jsonl" for root in roots]


def amp_paths(env: Mapping[str, str] | None = None) -> list[str]:
    """`threads/*.json` in each dir of ccusage's `$AMP_DATA_DIR`, else in Amp's own:
    `<data home>/amp`, the data home being `$AMP_DATA_HOME`, else `$XDG_DATA_HOME` (Linux
    only, as Amp reads it), else `~/.local/share`."""
    env = os.environ if env is None else env
    xdg = _dir(env, "XDG_DATA_HOME") if sys.platform.startswith("linux") else ""
    dirs = _dirs(env, "AMP_DATA_DIR") or [
        f"{_dir(env, 'AMP_DATA_HOME') or xdg or '~/.local/share'}/amp"
    ]
    return [f"{d}/threads/*.json" for d in dirs]


def copilot_cli_paths(env: Mapping[str, str] | None = None) -> list[str]:
    """`session-state/*/events.jsonl` in `$COPILOT_HOME` (Copilot CLI's) and in ccusage's
    `$COPILOT_CONFIG_DIR`; with neither, in `~/.copilot` and, when `$XDG_CONFIG_HOME` is
    set, in `$XDG_CONFIG_HOME/.copilot` (where versions before 1.0 kept it)."""
    env = os.environ if env is None else env
    homes = [d for d in (_dir(env, "COPILOT_HOME"), _dir(env, "COPILOT_CONFIG_DIR")) if d]
    if not homes:
        xdg = _dir(env, "XDG_CONFIG_HOME")
        homes = ["~/.copilot", f"{xdg}/.copilot"] if xdg else ["~/.copilot"]
    return [f"{home}/session-state/*/events.jsonl" for home in dict.fromkeys(homes)]


def pi_paths(env: Mapping[str, str] | None = None) -> list[str]:
    """`**/*.jsonl` in each sessions dir of ccusage's `$PI_AGENT_DIR` (comma-separated),
    else in pi's own `$PI_CODING_AGENT_DIR/sessions` (default `~/.pi/agent`) and in
    oh-my-pi's `$OMP_CODING_AGENT_DIR/sessions` (`~/.omp/agent`), a pi fork writing the
    same files."""
    env = os.environ if env is None else env
    dirs = _dirs(env, "PI_AGENT_DIR") or [
        f"{_dir(env, 'PI_CODING_AGENT_DIR') or '~/.pi/agent'}/sessions",
        f"{_dir(env, 'OMP_CODING_AGENT_DIR') or '~/.omp/agent'}/sessions",
    ]
    return [f"{d}/**/*.jsonl" for d in dirs]


_OPENCLAW_STATE_DIRS = (".openclaw", ".clawdbot", ".moltbot", ".moldbot")
# A live transcript, and the copies OpenClaw renames it to on /reset and on delete
# (`<session>.jsonl.deleted.<time>`); the compressed archives (`….zst`) are not JSONL.
_OPENCLAW_TRANSCRIPTS = ("*.jsonl", "*.jsonl.reset.*[0-9Z]", "*.jsonl.deleted.*[0-9Z]")


def openclaw_paths(env: Mapping[str, str] | None = None) -> list[str]:
    """`agents/*/sessions/` transcripts in each root of ccusage's `$OPENCLAW_DIR`
    (comma-separated), else in OpenClaw's state dir `$OPENCLAW_STATE_DIR` (legacy
    `$CLAWDBOT_STATE_DIR`), else in `.openclaw` and its former names `.clawdbot`,
    `.moltbot`, `.moldbot` under `$OPENCLAW_HOME` (default `~`)."""
    env = os.environ if env is None else env
    roots = _dirs(env, "OPENCLAW_DIR")
    if not roots:
        state = _dir(env, "OPENCLAW_STATE_DIR") or _dir(env, "CLAWDBOT_STATE_DIR")
        home = _dir(env, "OPENCLAW_HOME") or "~"
        roots = [state] if state else [f"{home}/{name}" for name in _OPENCLAW_STATE_DIRS]
    return [f"{root}/agents/*/sessions/{name}" for root in roots for name in _OPENCLAW_TRANSCRIPTS]


def droid_paths(env: Mapping[str, str] | None = None) -> list[str]:
    """`**/*.settings.json` (a session's, at the top or in a folder per project) in each
    dir of ccusage's `$DROID_SESSIONS_DIR` (comma-separated), else in `~/.factory/sessions`."""
    env = os.environ if env is None else env
    dirs = _dirs(env, "DROID_SESSIONS_DIR") or ["~/.factory/sessions"]
    return [f"{d}/**/*.settings.json" for d in dirs]


def kimi_paths(env: Mapping[str, str] | None = None) -> list[str]:
    """`sessions/**/wire.jsonl` in each root of ccusage's `$KIMI_DATA_DIR`
    (comma-separated), else in Kimi CLI's `$KIMI_SHARE_DIR` (default `~/.kimi`) and Kimi
    Code's `$KIMI_CODE_HOME` (default `~/.kimi-code`)."""
    env = os.environ if env is None else env
    roots = _dirs(env, "KIMI_DATA_DIR") or [
        _dir(env, "KIMI_SHARE_DIR") or "~/.kimi",
        _dir(env, "KIMI_CODE_HOME") or "~/.kimi-code",
    ]
    return [f"{root}/sessions/**/wire.jsonl" for root in roots]


def _data_home(env: Mapping[str, str]) -> str:
    """`$XDG_DATA_HOME`, else `~/.local/share` (xdg-basedir's and etcetera's choice)."""
    return _dir(env, "XDG_DATA_HOME") or "~/.local/share"


def _db_file(env: Mapping[str, str], name: str, data_dir: str) -> str | None:
    """The database a `$…_DB` override names: absolute, or relative to the data dir."""
    db = _dir(env, name)
    if not db or db == ":memory:":
        return None
    return db if db.startswith(("/", "~")) else f"{data_dir}/{db}"


def opencode_paths(env: Mapping[str, str] | None = None) -> list[str]:
    """In each dir of `$OPENCODE_DATA_DIR` (comma-separated, as ccusage reads it), else in
    `$XDG_DATA_HOME/opencode` (default `~/.local/share/opencode`): the database
    `opencode.db` and the preview channels' `opencode-*.db` (or `$OPENCODE_DB`), and the
    `storage/message/<session>/<message>.json` files older versions wrote."""
    env = os.environ if env is None else env
    dirs = _dirs(env, "OPENCODE_DATA_DIR") or [f"{_data_home(env)}/opencode"]
    out: list[str] = []
    for d in dirs:
        db = _db_file(env, "OPENCODE_DB", d)
        out += [db] if db else [f"{d}/opencode.db", f"{d}/opencode-*.db"]
        out.append(f"{d}/storage/message/*/*.json")
    return out


def kilo_paths(env: Mapping[str, str] | None = None) -> list[str]:
    """`kilo.db` and the preview channels' `kilo-*.db` (or `$KILO_DB`) in each dir of
    `$KILO_DATA_DIR` (comma-separated, as ccusage reads it), else in `$XDG_DATA_HOME/kilo`
    (default `~/.local/share/kilo`)."""
    env = os.environ if env is None else env
    out: list[str] = []
    for d in _dirs(env, "KILO_DATA_DIR") or [f"{_data_home(env)}/kilo"]:
        db = _db_file(env, "KILO_DB", d)
        out += [db] if db else [f"{d}/kilo.db", f"{d}/kilo-*.db"]
    return out


def goose_paths(env: Mapping[str, str] | None = None) -> list[str]:
    """`$GOOSE_PATH_ROOT/data/sessions/sessions.db`, else Goose's data dir
    `$XDG_DATA_HOME/goose` (default `~/.local/share/goose`)`/sessions/sessions.db`."""
    env = os.environ if env is None else env
    root = _dir(env, "GOOSE_PATH_ROOT")
    data = f"{root}/data" if root else f"{_data_home(env)}/goose"
    return [f"{data}/sessions/sessions.db"]


def hermes_paths(env: Mapping[str, str] | None = None) -> list[str]:
    """`state.db` in each dir of `$HERMES_HOME` (comma-separated, as ccusage reads it),
    else in `~/.hermes` and in each of its profiles (`~/.hermes/profiles/<name>`)."""
    env = os.environ if env is None else env
    homes = _dirs(env, "HERMES_HOME")
    if homes:
        return [f"{h}/state.db" for h in homes]
    return ["~/.hermes/state.db", "~/.hermes/profiles/*/state.db"]


DEFAULT_PATHS: dict[str, Callable[[Mapping[str, str] | None], list[str]]] = {
    "claude-code": claude_code_paths,
    "codex": codex_paths,
    "gemini-cli": gemini_cli_paths,
    "gemini-cli-json": gemini_cli_json_paths,
    "qwen-code": qwen_code_paths,
    "amp": amp_paths,
    "copilot-cli": copilot_cli_paths,
    "pi": pi_paths,
    "openclaw": openclaw_paths,
    "droid": droid_paths,
    "kimi": kimi_paths,
    "opencode": opencode_paths,
    "kilo": kilo_paths,
    "goose": goose_paths,
    "hermes": hermes_paths,
}
