"""Where the agent CLIs keep their logs by default, honouring their environment variables.

Kept apart from the adapters so that loading the config (which every command does) does
not import parsing code and its dependencies.
"""

from __future__ import annotations

import os
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
    """`$CODEX_HOME/sessions/**/rollout-*.jsonl`, else under `~/.codex`."""
    env = os.environ if env is None else env
    home = env.get("CODEX_HOME", "").strip().rstrip("/") or "~/.codex"
    return [f"{home}/sessions/**/rollout-*.jsonl"]


DEFAULT_PATHS: dict[str, Callable[[Mapping[str, str] | None], list[str]]] = {
    "claude-code": claude_code_paths,
    "codex": codex_paths,
}
