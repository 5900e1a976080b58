"""The daily digest through the real daemon to a real Apprise `json://` target.

The digest time is set to an hour ago in a zone where it is now midday (so the test is
never near a local midnight): the digest of yesterday is due the moment the daemon is
ready — the catch-up of a digest whose time passed while no daemon ran. It is delivered
once, and a restarted daemon does not send it again. No clock is mocked in the daemon.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import tomli_w

from tests.daemon_harness import Source, append, studio_line, wait_for, workspace
from tests.http_receiver import Receiver

_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def zone_at_midday(now: datetime) -> str:
    """A fixed-offset zone in which `now` falls between 12:00 and 12:59."""
    offset = 12 - now.hour  # -11 … +12: every one exists as Etc/GMT∓N
    if offset == 0:
        return "UTC"
    return f"Etc/GMT{'-' if offset > 0 else '+'}{abs(offset)}"  # POSIX signs are inverted


def at(day: date, zone: ZoneInfo) -> str:
    return datetime.combine(day, time(10), tzinfo=zone).astimezone(UTC).isoformat()


def digests(snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    return [a for a in snapshot["alerts"] if a["kind"] == "digest"]


@pytest.mark.e2e
def test_a_digest_due_at_start_up_is_delivered_once_and_not_again_after_a_restart(
    tmp_path: Path,
) -> None:
    now = datetime.now(UTC)
    zone_name = zone_at_midday(now)
    zone = ZoneInfo(zone_name)
    local = now.astimezone(zone)
    yesterday = local.date() - timedelta(days=1)
    receiver = Receiver().start()
    try:
        with workspace(tmp_path) as ws:
            tokens = ws.root / "output" / "tech" / "run_1" / "tokens.jsonl"
            stamp = {"timestamp": at(yesterday - timedelta(days=1), zone)}
            append(tokens, studio_line("advocate", 100, 10, cost_usd=0.30, **stamp))
            stamp = {"timestamp": at(yesterday, zone)}
            append(tokens, studio_line("contrarian", 100, 10, cost_usd=0.55, **stamp))
            append(tokens, studio_line("x", 100, 10, model="acme-1", cost_usd=None, **stamp))
            source = Source("studio", "studio-tokens", (f"{ws.root}/**/run_*/tokens.jsonl",))
            config = {
                "monitor": {
                    "timezone": zone_name,
                    "state_dir": str(ws.state_dir),
                    "socket": str(ws.socket),
                },
                "sources": [source.table()],
                # Scoped by a tag, so the totals track it and the digest lists its values.
                "budgets": [{"name": "tech", "period": "day", "limit": 1.0, "forecast": False,
                             "scope": {"tag.phase": "tech"}}],
                "alerts": {"urls": [receiver.url], "retry_max_seconds": 0.2},
                # An hour ago today: passed, so due at once (the catch-up path).
                "digest": {"daily": f"{local.hour - 1:02d}:{local.minute:02d}"},
            }  # fmt: skip
            ws.config_path.write_text(tomli_w.dumps(config))

            daemon = ws.start()
            [message] = receiver.wait_for(1, timeout=15)
            assert message["title"] == (
                f"llm-monitor: digest {yesterday.isoformat()} — $0.55 (day before $0.30)"
            )
            assert message["type"] == "info"
            assert message["message"].splitlines() == [
                f"{_DAY_NAMES[yesterday.weekday()]} {yesterday.isoformat()} ({zone_name}): "
                "$0.55 in 2 calls; the day before $0.30 (+83.3 %).",
                "Top models: gpt-4o $0.55",
                "Top sources: studio $0.55",
                "Top tag phase: tech $0.55",
                "Unpriced models (their calls are not in the totals): acme-1 (1 call)",
                "Budgets:",
                f"- tech: $0.55 of $1.00 (55 %) in {yesterday.isoformat()}.",
            ]
            wait_for(
                lambda: [d["delivered"] is not None for d in digests(daemon.snapshot())] == [True],
                10,
                "the digest's delivery recorded",
            )
            # Later rounds of the same run decide it no more: a budget alert decided after
            # it (a round of its own) is the only new notification.
            append(tokens, studio_line("integrator", 100, 10, cost_usd=0.55))
            receiver.wait_for(2, timeout=10)

            assert daemon.stop() == 0
            again = ws.start()
            append(tokens, studio_line("advocate", 100, 10, cost_usd=0.30))
            receiver.wait_for(3, timeout=10)
            assert receiver.titles()[1:] == [
                "llm-monitor: budget 'tech' at 50 % ($0.55 of $1.00)",
                "llm-monitor: budget 'tech' at 80 % ($0.85 of $1.00)",
            ]
            wait_for(
                lambda: all(a["delivered"] for a in again.snapshot()["alerts"]),
                10,
                "every alert decided after the restart delivered",
            )
            assert len(receiver.titles()) == 3  # the digest once, in all
            assert len(digests(again.snapshot())) == 1
    finally:
        receiver.stop()
