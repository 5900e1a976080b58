"""llm-monitor: every LLM API call your tools make, counted once, priced, and watched live.

`import monitor` stays cheap: submodules are imported by whoever needs them. The one
name it offers beyond the version, `monitor.track` (see `monitor.tracking`), is looked
up on first use, so a script that never tracks never imports the tracking code.
"""

from __future__ import annotations

# Not `from typing import TYPE_CHECKING`: typing and datetime alone would double the
# import time of this package (mypy knows the constant by its name).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from monitor.tracking import track as track

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    """`monitor.track`, imported on first use (PEP 562), then kept as a plain attribute."""
    if name != "track":
        raise AttributeError(f"module 'monitor' has no attribute {name!r}")
    from monitor.tracking import track

    globals()["track"] = track
    return track
