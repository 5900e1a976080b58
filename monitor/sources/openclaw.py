"""OpenClaw (formerly clawdbot, moltbot) agent transcripts:
`~/.openclaw/agents/<agent>/sessions/<session>.jsonl` (`$OPENCLAW_STATE_DIR`, or
`.openclaw` and its legacy names under `$OPENCLAW_HOME`; ccusage's `$OPENCLAW_DIR`).

OpenClaw runs pi's agent and SessionManager, so its transcripts are pi's session
entries, read by pi.py's `parse_sessions`: tokens, reported cost (`usage.cost.total`),
content keys (`openclaw:<timestamp>:<digest>`) and bad values as described there.
What is OpenClaw's own:
- replies often carry no model: `model_change` entries (`provider`, `modelId`) and
  `custom` entries of customType `model-snapshot` (`data.provider`, `data.modelId`) set
  the model of the replies after them, kept in state so a file read in chunks reads as
  a whole one;
- `delivery-mirror` replies (provider "openclaw") echo a message delivered to a channel,
  with all-zero usage: no call, skipped;
- on /reset and on delete OpenClaw renames a transcript to `<session>.jsonl.reset.<time>`
  or `.jsonl.deleted.<time>`. The default paths read those too (history the daemon did
  not see while it ran), and the content keys make the renamed copy count once;
- `<session>.trajectory.jsonl` (timings of each run) matches `*.jsonl` but holds no
  message entries: nothing of it is counted;
- tags: `agent` (the `agents/<agent>/` directory), `session` (the header's id, else the
  file name before `.jsonl`), `project` (the header's cwd).
"""

from __future__ import annotations

from typing import Final

from monitor.sources.base import Format, ParseContext, ParseResult, State
from monitor.sources.locations import openclaw_paths as default_paths
from monitor.sources.pi import Family, parse_sessions


def _path_tags(path: str) -> dict[str, str]:
    """`…/agents/<agent>/sessions/<session>.jsonl[.reset.<time>]` → agent and session."""
    parts = path.split("/")
    tags: dict[str, str] = {}
    session = parts[-1].split(".jsonl", 1)[0]
    if session:
        tags["session"] = session
    if len(parts) >= 4 and parts[-2] == "sessions" and parts[-4] == "agents" and parts[-3]:
        tags["agent"] = parts[-3]
    return tags


OPENCLAW: Final = Family("openclaw", _path_tags)


def parse(ctx: ParseContext, state: State, data: bytes) -> ParseResult:
    return parse_sessions(OPENCLAW, ctx, state, data)


FORMAT = Format(name="openclaw", kind="lines", parse=parse, default_paths=default_paths)
