"""Kilo (the Kilo Code CLI): `~/.local/share/kilo/kilo.db`.

Kilo is a fork of OpenCode and keeps OpenCode's schema: the `message` and `part` tables,
the same message JSON (`role`, `modelID`, `providerID`, `time`, `cost`, `tokens`) and the
same step-finish parts. Everything in opencode.py applies; only the keys differ:
`kilo:<message id>`, so a message is never mistaken for an OpenCode one. Preview
channels write `kilo-<channel>.db`; `$KILO_DB` names another database.
"""

from __future__ import annotations

from monitor.sources.locations import kilo_paths
from monitor.sources.opencode import format_for

FORMAT = format_for("kilo", kilo_paths)
parse = FORMAT.parse
