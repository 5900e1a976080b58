"""Kilo (the Kilo Code CLI): `~/.local/share/kilo/kilo.db`.

Kilo is a fork of OpenCode and keeps OpenCode's schema: the `message` and `part` tables,
the same message JSON (`role`, `modelID`, `providerID`, `time`, `cost`, `tokens`) and the
same step-finish parts. Everything in opencode.py applies; only the keys differ:
`kilo:<message id>`, so a message is never mistaken for an OpenCode one. Preview
channels write `kilo-<channel>.db`; `$KILO_DB` names another database.
"""

from __future__ import annotations

from monitor.sources.base import ParseContext, ParseResult, State
from monitor.sources.locations import kilo_paths
from monitor.sources.opencode import MESSAGES, STEPS, parse_for
from monitor.sources.sqlite_db import DatabaseFormat


def parse(ctx: ParseContext, state: State, data: bytes) -> ParseResult:
    return parse_for("kilo", ctx, state, data)


FORMAT = DatabaseFormat(
    name="kilo",
    kind="document",
    parse=parse,
    default_paths=kilo_paths,
    queries=(MESSAGES, STEPS),
    documents=True,
)
