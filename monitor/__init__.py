"""llm-monitor: every LLM API call your tools make, counted once, priced, and watched live.

`import monitor` stays cheap: submodules are imported by whoever needs them.
"""

from __future__ import annotations

__version__ = "0.1.0"
