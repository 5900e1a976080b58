"""llm-monitor: every LLM API call your tools make, counted once, priced, and watched live.

`import monitor` stays cheap: submodules are imported by whoever needs them.
"""

from __future__ import annotations

# Not `from typing import TYPE_CHECKING`: typing and datetime alone would double the
# import time of this package (mypy knows the constant by its name).
TYPE_CHECKING = False
if TYPE_CHECKING:
    import os
    from collections.abc import Mapping
    from datetime import datetime
    from typing import TypeVar

    _R = TypeVar("_R")

__version__ = "0.1.0"


def track(
    response: _R,
    *,
    source: str | None = None,
    operation: str | None = None,
    tags: Mapping[str, object] | None = None,
    model: str | None = None,
    provider: str | None = None,
    ts: datetime | None = None,
    config: str | os.PathLike[str] | None = None,
    strict: bool = False,
) -> _R:
    """Record one LLM API call from its OpenAI, Anthropic or Gemini SDK response.

    Appends a usage record to the spool, which the daemon ingests and prices; returns
    `response`. See `monitor.tracking` (imported here only on the first call, so that
    `import monitor` stays cheap; it is a function, not a submodule, so that the
    submodule cannot shadow it).
    """
    from monitor.tracking import track as _track

    return _track(
        response,
        source=source,
        operation=operation,
        tags=tags,
        model=model,
        provider=provider,
        ts=ts,
        config=config,
        strict=strict,
    )
