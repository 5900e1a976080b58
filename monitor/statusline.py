"""`llm-monitor statusline`: one line for Claude Code's status bar (and tmux, waybar).

Claude Code runs its statusLine command every few hundred milliseconds with a JSON
document on stdin (model, session cost, and for Pro/Max subscribers `rate_limits` with
the 5-hour and weekly windows). This command:
- spools the windows' snapshot for tool `claude-code`, only when it changed since the
  last run (a small state file remembers it), so the ledger learns the real windows;
- asks the daemon for today's spend, budgets and other tools' windows (a short socket
  request), or reads the ledger read-only when no daemon answers — it never scans;
- prints ONE line. It must never break the status bar: empty or garbage input, a daemon
  that is down, a missing ledger — each still gives a line and exit 0, never a traceback.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Final

from monitor.limits import BadLimit, LimitSnapshot, claude_limits, window_states

if TYPE_CHECKING:
    from monitor.config import Config

FORMATS: Final = ("text", "tmux", "waybar", "json")
MAX_STDIN: Final = 1 << 20
_STATE_FILE: Final = "statusline.last"
_SPOOL_FILE: Final = "statusline.jsonl"
_ANSI: Final = {"ok": "\x1b[32m", "warn": "\x1b[33m", "crit": "\x1b[31m"}
_TMUX: Final = {"ok": "#[fg=green]", "warn": "#[fg=yellow]", "crit": "#[fg=red]"}


def read_input(raw: bytes) -> dict[str, Any]:
    """Claude Code's JSON document, or {} for anything that is not a JSON object."""
    try:
        doc = json.loads(raw[:MAX_STDIN] or b"{}")
    except (ValueError, UnicodeDecodeError):
        return {}
    return doc if isinstance(doc, dict) else {}


def input_windows(doc: Mapping[str, Any], now: datetime) -> list[LimitSnapshot]:
    raw = doc.get("rate_limits")
    if not isinstance(raw, Mapping):
        return []
    try:
        return claude_limits(raw, now)
    except BadLimit:
        return []  # a broken window is not shown as 0 %: it is not shown


def spool_if_changed(config: Config, windows: Sequence[LimitSnapshot]) -> bool:
    """Append the windows to the spool unless they equal the last ones spooled."""
    if not windows:
        return False
    marker = json.dumps(
        [[w.window_minutes, w.used_percent, int(w.resets_at.timestamp())] for w in windows]
    )
    state = config.state_dir / _STATE_FILE
    try:
        if state.read_text() == marker:
            return False
    except OSError:
        pass
    from monitor.sources.spool import encode_limit  # only when something changed

    config.spool_dir.mkdir(parents=True, exist_ok=True)
    with open(config.spool_dir / _SPOOL_FILE, "ab") as fh:
        fh.write(b"".join(encode_limit(w) for w in windows))
    tmp = state.with_name(state.name + ".tmp")
    tmp.write_text(marker)
    os.replace(tmp, state)
    return True


def daemon_or_ledger_status(config: Config, now: datetime) -> Mapping[str, Any] | None:
    """The status document from the daemon (a short wait), else from the ledger read-only."""
    if config.socket_path.exists():  # else no daemon runs: spare loading its client
        from monitor.api.client import status_sync
        from monitor.api.framing import ApiError

        try:
            return status_sync(config.socket_path, timeout=0.3)
        except ApiError:
            pass
    if not config.ledger_path.exists():
        return None
    try:
        return _from_ledger(config, now)
    except Exception:  # a status bar shows what it can
        return None


def _from_ledger(config: Config, now: datetime) -> dict[str, Any]:
    """Today's spend and the plan windows, read straight from the ledger (read-only): the
    two cheap reads a status bar needs, not the whole status document."""
    import sqlite3

    from monitor.events import from_nano, usd_json
    from monitor.ledger.limits import latest
    from monitor.ledger.reads import daily_cost
    from monitor.status.document import limit_entry

    today = now.astimezone(config.tz).date()
    db = sqlite3.connect(f"file:{config.ledger_path}?mode=ro", uri=True)
    try:
        spent = sum(daily_cost(db, {}, today, today + timedelta(days=1)).values())
        windows = [limit_entry(s, now) for s in latest(db)]
    finally:
        db.close()
    return {"today": {"cost_usd": usd_json(from_nano(spent))}, "limits": windows}


def _level(percent: float) -> str:
    return "crit" if percent >= 95 else "warn" if percent >= 80 else "ok"


def _left(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"


def _usd(value: Any) -> str | None:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return f"${amount:,.2f}"


def compose(
    doc: Mapping[str, Any],
    status: Mapping[str, Any] | None,
    windows: Sequence[LimitSnapshot],
    now: datetime,
) -> dict[str, Any]:
    """The parts of the line, format-independent: text pieces, the worst level, and %."""
    parts: list[tuple[str, str]] = []
    model = doc.get("model")
    name = model.get("display_name") or model.get("id") if isinstance(model, Mapping) else None
    if isinstance(name, str) and name:
        parts.append((name, "ok"))
    cost = doc.get("cost")
    session = _usd(cost.get("total_cost_usd")) if isinstance(cost, Mapping) else None
    if session:
        parts.append((f"session {session}", "ok"))
    worst, top = "ok", 0.0
    if status is not None:
        today = status.get("today")
        spent = _usd(today.get("cost_usd")) if isinstance(today, Mapping) else None
        if spent:
            parts.append((f"today {spent}", "ok"))
        if not windows:
            known = (_snapshot_of(w) for w in status.get("limits") or ())
            windows = [w for w in known if w is not None]
    for state in window_states([w for w in windows if w.tool == "claude-code"] or windows, now):
        pct = state.used_percent
        text = f"{state.snapshot.window} {pct:.0f}%"
        if state.snapshot.window == "5h":
            text += f" ({_left(state.time_left)})"
        parts.append((text, _level(pct)))
        top = max(top, pct)
    if status is not None:
        fractions = [
            float(b["fraction"])
            for b in status.get("budgets") or ()
            if isinstance(b, Mapping) and b.get("fraction") is not None
        ]
        if fractions:
            pct = max(fractions) * 100
            parts.append((f"budget {pct:.0f}%", _level(pct)))
            top = max(top, pct)
    for _, level in parts:
        if level == "crit" or (level == "warn" and worst == "ok"):
            worst = level
    if not parts:
        parts.append(("llm-monitor", "ok"))
    return {"parts": parts, "level": worst, "percentage": round(top)}


def _snapshot_of(entry: Any) -> LimitSnapshot | None:
    try:
        return LimitSnapshot(
            tool=str(entry["tool"]),
            window_minutes=int(entry["window_minutes"]),
            used_percent=float(entry["used_percent"]),
            resets_at=datetime.fromisoformat(entry["resets_at"]),
            observed_at=datetime.fromisoformat(entry["observed_at"]),
            plan=entry.get("plan"),
        )
    except (KeyError, TypeError, ValueError):
        return None


def render(line: Mapping[str, Any], fmt: str, *, color: bool) -> str:
    parts: list[tuple[str, str]] = line["parts"]
    if fmt == "json":
        return json.dumps(
            {
                "text": " | ".join(t for t, _ in parts),
                "level": line["level"],
                "percentage": line["percentage"],
                "parts": [{"text": t, "level": lvl} for t, lvl in parts],
            }
        )
    if fmt == "waybar":
        text = " | ".join(t for t, _ in parts)
        return json.dumps(
            {
                "text": text,
                "tooltip": "\n".join(t for t, _ in parts),
                "class": line["level"],
                "percentage": line["percentage"],
            }
        )
    if fmt == "tmux":
        return " | ".join(f"{_TMUX[lvl]}{t}#[default]" for t, lvl in parts)
    if color:
        return " | ".join(f"{_ANSI[lvl]}{t}\x1b[0m" if lvl != "ok" else t for t, lvl in parts)
    return " | ".join(t for t, _ in parts)


def statusline(raw: bytes, config: Config | None, fmt: str, *, color: bool) -> str:
    """The whole command, as a function of its input: never raises."""
    now = datetime.now(UTC)
    doc = read_input(raw)
    windows = input_windows(doc, now)
    status = None
    if config is not None:
        try:
            spool_if_changed(config, windows)
        except OSError:
            pass
        status = daemon_or_ledger_status(config, now)
    return render(compose(doc, status, windows, now), fmt, color=color)
