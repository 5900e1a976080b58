"""The demo simulator: what it writes is what the real adapters read, and its budget moves.

Driven by a hand-turned clock (a simulated minute takes a fraction of a second) and read
back through the same path `scan` and the daemon use: the demo config, `Ingestor`, a
ledger, real prices.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from monitor.config import load_config
from monitor.demo import DEMO_LIMIT, DEMO_RATE, FORMATS, SOURCES, Simulator, write_demo_config
from monitor.globs import Glob
from monitor.ingest import Ingestor
from monitor.ledger import Ledger
from monitor.pricing import Pricer

START = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def demo_world(root: Path) -> tuple[Simulator, Clock, Ledger, Ingestor]:
    config = load_config(write_demo_config(root, copy_user_alerts=False))
    clock = Clock()
    sim = Simulator(root, seed=7, clock=clock)
    ledger = Ledger(config.ledger_path, config.tz, config.timezone_name)
    return sim, clock, ledger, Ingestor(config.sources, ledger, Pricer(config.prices))


def spent(ledger: Ledger) -> Decimal:
    return sum((e.cost or Decimal(0) for e in ledger.iter_events()), Decimal(0))


def test_every_format_written_is_read_by_its_adapter_without_errors(tmp_path: Path) -> None:
    sim, clock, ledger, ingestor = demo_world(tmp_path)
    errors = 0
    for _ in range(400):
        sim.step()
        clock.tick(1 / DEMO_RATE)
        if sim.steps % 50 == 0:
            errors += ingestor.scan().errors
    report = ingestor.scan()
    assert errors + report.errors == 0
    assert set(sim.counts) == {f for f, _ in FORMATS}
    by_source: dict[str, int] = {}
    for e in ledger.iter_events():
        by_source[e.source] = by_source.get(e.source, 0) + 1
    assert {name for name, _, _ in SOURCES} <= set(by_source)
    assert "nightly-eval" in by_source  # the spool's records name their own source
    # Whole-file formats are re-read after every rewrite; each call is counted once.
    assert sum(by_source.values()) >= sim.steps
    ledger.close()


def test_demo_budget_crosses_50_80_and_100_percent_within_a_simulated_minute(
    tmp_path: Path,
) -> None:
    sim, clock, ledger, ingestor = demo_world(tmp_path)
    crossed: dict[float, float] = {}
    for second in range(1, 61):
        for _ in range(int(DEMO_RATE)):
            sim.step()
            clock.tick(1 / DEMO_RATE)
        ingestor.scan()
        fraction = spent(ledger) / DEMO_LIMIT
        for threshold in (0.5, 0.8, 1.0):
            if fraction >= Decimal(str(threshold)):
                crossed.setdefault(threshold, second)
    ledger.close()
    assert set(crossed) == {0.5, 0.8, 1.0}
    assert 5 <= crossed[0.5] < crossed[0.8] < crossed[1.0] <= 60, crossed


def test_demo_config_keeps_state_socket_and_files_inside_its_directory(tmp_path: Path) -> None:
    config = load_config(write_demo_config(tmp_path, copy_user_alerts=False))
    root = str(tmp_path.absolute())
    assert str(config.state_dir).startswith(root) and str(config.socket_path).startswith(root)
    assert [s.format for s in config.sources if s.format != "spool"] == [f for _, f, _ in SOURCES]
    assert all(p.startswith(root) for s in config.sources for p in s.paths)
    (budget,) = config.budgets
    assert (budget.name, budget.period, budget.limit) == ("demo-daily", "day", DEMO_LIMIT)
    assert config.alerts.urls == ()


def test_demo_copies_the_users_alert_targets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = tmp_path / "user.toml"
    user.write_text('[alerts]\nurls = ["json://127.0.0.1:9/hook"]\n')
    monkeypatch.setenv("LLM_MONITOR_CONFIG", str(user))
    demo = tmp_path / "demo"
    demo.mkdir()
    assert load_config(write_demo_config(demo)).alerts.urls == ("json://127.0.0.1:9/hook",)


def test_simulated_files_match_the_default_globs_of_their_formats(tmp_path: Path) -> None:
    sim, clock, ledger, _ = demo_world(tmp_path)
    for _ in range(200):
        sim.step()
        clock.tick(0.1)
    ledger.close()
    for name, _, glob in SOURCES:
        assert next(Glob(str(tmp_path / glob)).walk(), None), f"{name} wrote no file"


async def test_run_writes_until_stopped(tmp_path: Path) -> None:
    sim = Simulator(tmp_path, rate=200.0, seed=1)
    stop = asyncio.Event()
    task = asyncio.create_task(sim.run(stop))
    while sim.steps < 5:
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 2.0)
    steps = sim.steps
    await asyncio.sleep(0.05)
    assert sim.steps == steps > 0
