"""`llm-monitor statusline` on the command line: the command, and its arguments read
without argparse.

Claude Code runs the command every few hundred milliseconds: argparse alone costs 17 ms
to import and the whole parser ~30 ms to build, so `main` reads this command's few
arguments here and never imports argparse for them (docs/architecture.md).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final, cast

from monitor.cli_common import EXIT_OK, config_of

if TYPE_CHECKING:
    import argparse

    from monitor.config import Config

STATUSLINE_FORMATS: Final = ("text", "tmux", "waybar", "json")


def cmd_statusline(args: argparse.Namespace) -> int:
    """Claude Code's statusLine command: one line, exit 0, whatever happens."""
    import os

    from monitor.statusline import statusline

    try:
        raw = b"" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.buffer.read()
    except Exception:  # a closed, captured or odd stdin is empty input
        raw = b""
    try:
        config: Config | None = config_of(args)
    except Exception:
        config = None
    color = not os.environ.get("NO_COLOR") and args.format == "text"
    try:
        line = statusline(raw, config, args.format, color=color)
    except Exception:
        line = "llm-monitor"
    print(line)
    return EXIT_OK


def statusline_args(argv: Sequence[str]) -> argparse.Namespace | None:
    """`statusline`'s few arguments read without argparse; None for anything else, which
    then goes through argparse and its messages."""
    from types import SimpleNamespace

    opts: dict[str, Any] = {"config": None, "verbose": False, "format": "text"}
    args = iter(argv)
    for arg in args:
        name, eq, value = arg.partition("=")
        if arg == "statusline":
            continue
        if arg in ("-v", "--verbose"):
            opts["verbose"] = True
        elif name in ("--config", "--format"):
            value = value if eq else next(args, "")
            if not value or (name == "--format" and value not in STATUSLINE_FORMATS):
                return None
            opts[name[2:]] = value
        else:
            return None
    args = SimpleNamespace(command="statusline", func=cmd_statusline, **opts)
    return cast("argparse.Namespace", args)
