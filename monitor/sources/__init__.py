"""Format adapters, one module per format, and the registry that names them.

The registry imports an adapter module only when its format is used, so a command that
reads one format does not pay for parsing code of the others.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the config needs the names only, not the adapter contract's imports
    from monitor.sources.base import Format

# format name -> "module:attribute". The names are a contract: users write them in
# config.toml (`format = "codex"`), so renaming one breaks their configs.
_REGISTRY: dict[str, str] = {
    "claude-code": "monitor.sources.claude_code:FORMAT",
    "codex": "monitor.sources.codex:FORMAT",
    "gemini-cli": "monitor.sources.gemini_cli:FORMAT",
    "gemini-cli-json": "monitor.sources.gemini_cli:JSON_FORMAT",
    "qwen-code": "monitor.sources.qwen_code:FORMAT",
    "amp": "monitor.sources.amp:FORMAT",
    "copilot-cli": "monitor.sources.copilot_cli:FORMAT",
    "pi": "monitor.sources.pi:FORMAT",
    "openclaw": "monitor.sources.openclaw:FORMAT",
    "droid": "monitor.sources.droid:FORMAT",
    "kimi": "monitor.sources.kimi:FORMAT",
    "opencode": "monitor.sources.opencode:FORMAT",
    "kilo": "monitor.sources.kilo:FORMAT",
    "goose": "monitor.sources.goose:FORMAT",
    "hermes": "monitor.sources.hermes:FORMAT",
    "studio-tokens": "monitor.sources.studio:FORMAT",
    "haiku-costs": "monitor.sources.haiku:FORMAT",
    "openai-tracker": "monitor.sources.openai_tracker:FORMAT",
    "image-describer-log": "monitor.sources.image_describer:LOG_FORMAT",
    "image-describer-workspace": "monitor.sources.image_describer:WORKSPACE_FORMAT",
    "qc-usage-log": "monitor.sources.qc:FORMAT",
    "jsonl": "monitor.sources.mapped:JSONL_FORMAT",
    "csv": "monitor.sources.mapped:CSV_FORMAT",
    "spool": "monitor.sources.spool:FORMAT",
}

FORMAT_NAMES: tuple[str, ...] = tuple(_REGISTRY)


class UnknownFormat(KeyError):
    pass


def get_format(name: str) -> Format:
    try:
        target = _REGISTRY[name]
    except KeyError:
        raise UnknownFormat(name) from None
    from monitor.sources.base import Format

    module_name, attr = target.split(":")
    fmt = getattr(importlib.import_module(module_name), attr)
    assert isinstance(fmt, Format)
    return fmt
