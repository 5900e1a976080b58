"""Format adapters, one module per format, and the registry that names them.

The registry imports an adapter module only when its format is used, so a command that
reads one format does not pay for parsing code of the others.
"""

from __future__ import annotations

import importlib

from monitor.sources.base import Format

# format name -> "module:attribute". The names are a contract: users write them in
# config.toml (`format = "codex"`), so renaming one breaks their configs.
_REGISTRY: dict[str, str] = {
    "claude-code": "monitor.sources.claude_code:FORMAT",
    "codex": "monitor.sources.codex:FORMAT",
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
    module_name, attr = target.split(":")
    fmt = getattr(importlib.import_module(module_name), attr)
    assert isinstance(fmt, Format)
    return fmt
