"""Budget alerts through the real daemon to a real Apprise target (a local HTTP receiver).

`budget set` from the CLI while the daemon runs, spend crossing 50 / 80 / 100 %, exactly
three notifications with the documented titles, and none again after a restart; another
writer holding the ledger's lock delays an alert's record (and so its delivery), never
the socket.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
import tomli_w

from tests.daemon_harness import Source, Workspace, append, studio_line, wait_for, workspace
from tests.http_receiver import Receiver


def _studio_with_receiver(ws: Workspace, receiver: Receiver) -> Path:
    run = ws.root / "output" / "tech" / "run_1"
    run.mkdir(parents=True)
    sources = [Source("studio", "studio-tokens", (f"{ws.root}/**/run_*/tokens.jsonl",))]
    ws.config_path.write_text(
        ws.config_text(sources)
        + tomli_w.dumps({"alerts": {"urls": [receiver.url], "retry_max_seconds": 0.2}})
    )
    return run / "tokens.jsonl"


@pytest.mark.e2e
def test_budget_set_live_then_thresholds_notify_once_across_a_restart(tmp_path: Path) -> None:
    receiver = Receiver().start()
    try:
        with workspace(tmp_path) as ws:
            tokens = _studio_with_receiver(ws, receiver)
            daemon = ws.start()

            result = ws.cli("budget", "set", "daily", "--limit", "1.00", "--period", "day",
                            "--no-forecast")  # fmt: skip
            assert result.returncode == 0, result.stderr

            def budget_live() -> bool:
                return any(b["name"] == "daily" for b in daemon.snapshot()["budgets"])

            wait_for(budget_live, 10, "the daemon to pick up budgets.toml")

            # Each record reports $0.0125 by default; cost_usd makes the steps exact.
            append(tokens, studio_line("advocate", 100, 10, cost_usd=0.55))
            receiver.wait_for(1, timeout=10)
            append(tokens, studio_line("contrarian", 100, 10, cost_usd=0.30))
            receiver.wait_for(2, timeout=10)
            append(tokens, studio_line("integrator", 100, 10, cost_usd=0.20))
            receiver.wait_for(3, timeout=10)
            assert receiver.titles() == [
                "llm-monitor: budget 'daily' at 50 % ($0.55 of $1.00)",
                "llm-monitor: budget 'daily' at 80 % ($0.85 of $1.00)",
                "llm-monitor: budget 'daily' at 100 % ($1.05 of $1.00)",
            ]

            def delivered() -> list[bool]:
                [entry] = [b for b in daemon.snapshot()["budgets"] if b["name"] == "daily"]
                return [a["delivered"] for a in entry["alerts"]]

            wait_for(lambda: delivered() == [True, True, True], 10, "deliveries recorded")

            assert daemon.stop() == 0
            again = ws.start()
            append(tokens, studio_line("advocate", 100, 10, cost_usd=0.01))
            wait_for(lambda: again.snapshot()["today"]["calls"] == 4, 10, "the fourth call counted")
            assert len(receiver.titles()) == 3  # nothing re-sent after the restart
    finally:
        receiver.stop()


@pytest.mark.e2e
def test_a_locked_ledger_holds_back_the_alert_never_the_socket(tmp_path: Path) -> None:
    receiver = Receiver().start()
    try:
        with workspace(tmp_path) as ws:
            tokens = _studio_with_receiver(ws, receiver)
            daemon = ws.start()
            append(tokens, studio_line("advocate", 100, 10, cost_usd=0.55))
            wait_for(lambda: daemon.snapshot()["today"]["calls"] == 1, 10, "the call counted")

            def alerts() -> list[dict[str, object]] | None:
                entries = [b for b in daemon.snapshot()["budgets"] if b["name"] == "daily"]
                return entries[0]["alerts"] if entries else None

            other = sqlite3.connect(ws.ledger, isolation_level=None)
            try:
                other.execute("BEGIN IMMEDIATE")  # another writer holds the ledger's lock
                result = ws.cli("budget", "set", "daily", "--limit", "1.00", "--period", "day",
                                "--no-forecast")  # fmt: skip
                assert result.returncode == 0, result.stderr
                # The reload decides "at 50 %" at once; its record waits for the lock.
                wait_for(lambda: alerts() is not None, 10, "the daemon to reload budgets.toml")
                held_until = time.monotonic() + 1.0
                while time.monotonic() < held_until:
                    started = time.monotonic()
                    assert alerts() == []  # not recorded yet, and the socket answers
                    assert time.monotonic() - started < 2.0  # the busy timeout is 10 s
                assert receiver.titles() == []  # never delivered before it is recorded
            finally:
                other.execute("COMMIT")
                other.close()
            receiver.wait_for(1, timeout=10)
            assert receiver.titles() == ["llm-monitor: budget 'daily' at 50 % ($0.55 of $1.00)"]
            wait_for(
                lambda: alerts() == [{"threshold": 0.5, "delivered": True}],
                10,
                "the delivery recorded",
            )
    finally:
        receiver.stop()


@pytest.mark.e2e
def test_a_price_override_added_on_reload_prices_stored_unpriced_calls(tmp_path: Path) -> None:
    import signal

    with workspace(tmp_path) as ws:
        run = ws.root / "output" / "tech" / "run_1"
        run.mkdir(parents=True)
        sources = [Source("studio", "studio-tokens", (f"{ws.root}/**/run_*/tokens.jsonl",))]
        ws.config_path.write_text(ws.config_text(sources))
        append(run / "tokens.jsonl", studio_line("x", 1_000_000, 0, model="acme-1", cost_usd=None))
        daemon = ws.start()
        assert daemon.snapshot()["unpriced"] == [
            {"provider": "unknown", "model": "acme-1", "calls": 1}
        ]
        ws.config_path.write_text(
            ws.config_text(sources) + tomli_w.dumps({"prices": {"acme-1": {"input_per_mtok": 2.5,
                                                                           "output_per_mtok": 10}}})
        )  # fmt: skip
        daemon.send(signal.SIGHUP)
        wait_for(
            lambda: daemon.snapshot()["today"]["cost_usd"] == "2.500000",
            10,
            "the stored call priced at the new override",
        )
        assert daemon.snapshot()["unpriced"] == []
