"""`llm-monitor statusline` on the command line: the command, and its arguments read
without argparse.

Claude Code runs the command every few hundred milliseconds: argparse alone costs 17 ms
to import and the whole parser ~30 ms to build, so `main` reads this command's few
arguments here and never imports argparse for them (docs/architecture.md).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from monitor.cli_common import EXIT_OK, config_of, quick_args

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
    """`statusline`'s few arguments read without argparse (`quick_args`); None for
    anything else, which then goes through argparse and its messages."""
    return quick_args(argv, "statusline", cmd_statusline, choices={"format": STATUSLINE_FORMATS})
