"""Alerts end to end: decisions stored in a real ledger file before a real Apprise
delivery to a local HTTP receiver; restarts, a receiver that is down, quiet hours; a
ledger locked by another writer delays the record (and the delivery), never the loop;
a rule added to the registry is decided, stored and delivered like the built-in ones."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor.alert_store import AlertStore
from monitor.alerts import NO_TARGETS, AlertService
from monitor.budget_cmd import budget_set
from monitor.config import Config, load_config
from monitor.events import UsageEvent
from monitor.ledger import Applied, Ledger
from monitor.limits import LimitSnapshot
from monitor.notify import Notifier, Outcome
from monitor.rules import RULES
from monitor.rules.base import Decision, Situation
from monitor.status import ledger_alerts
from monitor.totals import Totals
from tests.factories import until, usage_event
from tests.http_receiver import Receiver

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


def call(ts: datetime, cost: str, **fields: object) -> UsageEvent:
    return usage_event(
        ts, cost, **{"provider": "anthropic", "model": "claude-sonnet-4-5", **fields}
    )


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class StoredFirst:
    """A notifier that takes every alert and notes, as each arrives, whether the ledger
    already holds it (read on a connection of its own)."""

    labels = ("json://fake/",)

    def __init__(self, ledger_path: Path) -> None:
        self.ledger_path = ledger_path
        self.sent: list[tuple[str, bool]] = []

    def stored(self, title: str) -> bool:
        with contextlib.closing(sqlite3.connect(self.ledger_path)) as db:
            return bool(db.execute("SELECT 1 FROM alerts WHERE title = ?", (title,)).fetchone())

    async def deliver(
        self, title: str, body: str, severity: str, only: object = None
    ) -> dict[str, Outcome]:
        self.sent.append((title, self.stored(title)))
        return {label: Outcome(True) for label in self.labels}


def write_config(tmp_path: Path, urls: list[str], extra: str = "") -> Config:
    quoted = ", ".join(f'"{u}"' for u in urls)
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[monitor]
timezone = "Europe/Berlin"
state_dir = "state"

[[budgets]]
name = "monthly"
period = "month"
limit = 50.0
forecast = false

[alerts]
urls = [{quoted}]
retry_max_seconds = 0.05
{extra}
"""
    )
    return load_config(path, env={"HOME": str(tmp_path)})


class Rig:
    """A ledger file, running totals and an alert service over them."""

    def __init__(self, config: Config, clock: Callable[[], datetime] | None = None) -> None:
        self.config = config
        Ledger(config.ledger_path, config.tz, config.timezone_name).close()  # migrates
        self.totals = Totals(config.tz)
        self.limits: list[LimitSnapshot] = []
        self.store = AlertStore.open(config.ledger_path)
        self.service = self._service(clock)

    def _service(self, clock: Callable[[], datetime] | None) -> AlertService:
        extra = {"clock": clock} if clock is not None else {}
        return AlertService(
            self.config,
            self.store,
            Notifier.from_config(self.config.alerts),
            lambda: self.totals,
            limits_provider=lambda: self.limits,
            retry_base=0.01,
            **extra,  # type: ignore[arg-type]
        )

    def restart(self, clock: Callable[[], datetime] | None = None) -> None:
        """A new store and service over the same ledger file (the totals are rebuilt)."""
        self.store.close()
        self.store = AlertStore.open(self.config.ledger_path)
        self.service = self._service(clock)

    def spend(self, ts: datetime, cost: str, **fields: object) -> list[Applied]:
        e = call(ts, cost, **fields)
        self.totals.add(e)
        return [Applied(e)]

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[AlertService]:
        stop = asyncio.Event()
        task = asyncio.create_task(self.service.run(stop))
        try:
            yield self.service
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=5)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


NOW = berlin("2026-11-20 12:00")
AT = berlin("2026-11-20 11:00")


async def test_crossing_50_80_100_sends_three_notifications_and_a_restart_sends_none_again(
    tmp_path: Path, receiver: Receiver
) -> None:
    rig = Rig(write_config(tmp_path, [receiver.url]))
    async with rig.running() as service:
        for n, cost in enumerate(("25", "15", "10"), start=1):
            rows = await service.evaluate(NOW, rig.spend(AT, cost))
            assert len(rows) == 1 and rows[0].payload()["kind"] == "budget"
            await receiver.arrived(n)
            assert await service.evaluate(NOW) == []
    assert [(m["title"], m["type"]) for m in receiver.messages] == [
        ("llm-monitor: budget 'monthly' at 50 % ($25.00 of $50.00)", "warning"),
        ("llm-monitor: budget 'monthly' at 80 % ($40.00 of $50.00)", "warning"),
        ("llm-monitor: budget 'monthly' at 100 % ($50.00 of $50.00)", "failure"),
    ]
    assert "Top models: claude-sonnet-4-5 $50.00" in receiver.messages[2]["message"]

    rig.restart()
    async with rig.running() as service:
        assert await service.evaluate(NOW) == []
        # A spike decided after the restart proves the delivery loop ran its rounds.
        rig.config = write_config(tmp_path, [receiver.url], "spike = { call_cost = 5.0 }")
        service.reconfigure(rig.config)
        assert len(await service.evaluate(NOW, rig.spend(NOW - timedelta(minutes=1), "6"))) == 1
        await receiver.arrived(4)
    assert receiver.titles()[3] == (
        "llm-monitor: spike $6.00 in one call to claude-sonnet-4-5 (over $5.00)"
    )
    assert len(receiver.messages) == 4
    assert ledger_alerts(rig.store.reader, "monthly", "2026-11") == [
        {"threshold": 0.5, "delivered": True},
        {"threshold": 0.8, "delivered": True},
        {"threshold": 1.0, "delivered": True},
    ]


async def test_target_down_when_a_threshold_is_crossed_gets_it_once_when_back(
    tmp_path: Path, receiver: Receiver
) -> None:
    rig = Rig(write_config(tmp_path, [receiver.url]))
    receiver.stop()
    async with rig.running() as service:
        [row] = await service.evaluate(NOW, rig.spend(AT, "30"))
        await until(lambda: rig.store.pending()[0].attempts >= 3, 5, "retries")
        [pending] = rig.store.pending()
        assert pending.last_error is not None and "127.0.0.1" in pending.last_error
        receiver.start()
        await receiver.arrived(1)
        await until(lambda: rig.store.pending() == [], 5, "every alert delivered")
        await service.evaluate(NOW, rig.spend(AT, "15"))
        await receiver.arrived(2)
    assert receiver.titles() == [
        "llm-monitor: budget 'monthly' at 50 % ($30.00 of $50.00)",
        "llm-monitor: budget 'monthly' at 80 % ($45.00 of $50.00)",
    ]
    [first] = [r for r in rig.store.recent() if r.id == row.id]
    assert first.delivered is not None and first.attempts >= 4


async def test_a_failing_target_is_retried_alone(tmp_path: Path, receiver: Receiver) -> None:
    other = Receiver().start()
    other.stop()
    rig = Rig(write_config(tmp_path, [receiver.url, other.url]))
    async with rig.running() as service:
        await service.evaluate(NOW, rig.spend(AT, "30"))
        await receiver.arrived(1)
        await until(lambda: rig.store.pending()[0].attempts >= 3, 5, "retries")
        other.start()
        await other.arrived(1)
        await until(lambda: rig.store.pending() == [], 5, "every alert delivered")
        await service.evaluate(NOW, rig.spend(AT, "15"))
        await other.arrived(2)
        await receiver.arrived(2)
    other.stop()
    assert receiver.titles() == other.titles()
    assert len(receiver.messages) == 2


async def test_after_a_restart_an_alert_goes_only_to_the_target_that_missed_it(
    tmp_path: Path, receiver: Receiver
) -> None:
    other = Receiver().start()
    other.stop()
    rig = Rig(write_config(tmp_path, [receiver.url, other.url]))
    async with rig.running() as service:
        [row] = await service.evaluate(NOW, rig.spend(AT, "30"))
        await receiver.arrived(1)
        await until(lambda: rig.store.pending()[0].attempts >= 2, 5, "retries")
    [pending] = rig.store.pending()
    assert pending.sent_to == {receiver.url}
    other.start()
    try:
        rig.restart()
        async with rig.running():
            await other.arrived(1)
            await until(lambda: rig.store.pending() == [], 5, "every alert delivered")
    finally:
        other.stop()
    assert receiver.titles() == other.titles() == [row.title]
    [done] = rig.store.recent(1)
    assert done.sent_to == {receiver.url, other.url} and done.delivered is not None


async def test_an_alert_decided_but_not_delivered_goes_out_after_a_restart(
    tmp_path: Path, receiver: Receiver
) -> None:
    rig = Rig(write_config(tmp_path, [receiver.url]))
    [row] = await rig.service.evaluate(NOW, rig.spend(AT, "26"))  # decided; the process dies here
    rig.restart()
    assert await rig.service.evaluate(NOW) == []
    async with rig.running() as service:
        await receiver.arrived(1)
        await service.evaluate(NOW, rig.spend(AT, "20"))
        await receiver.arrived(2)
    assert receiver.titles() == [
        row.title,
        "llm-monitor: budget 'monthly' at 80 % ($46.00 of $50.00)",
    ]


async def test_quiet_hours_hold_a_warning_and_let_the_full_budget_alert_through(
    tmp_path: Path, receiver: Receiver
) -> None:
    night = berlin("2026-11-20 23:30")
    clock = Clock(night.astimezone(UTC))
    config = write_config(tmp_path, [receiver.url], 'quiet_hours = "22:00-07:00"')
    rig = Rig(config, clock)
    async with rig.running() as service:
        [warning] = await service.evaluate(night, rig.spend(berlin("2026-11-20 23:00"), "40"))
        assert warning.hold_until == berlin("2026-11-21 07:00")
        [failure] = await service.evaluate(night, rig.spend(berlin("2026-11-20 23:10"), "15"))
        await receiver.arrived(1)
        assert receiver.titles() == [failure.title]
        clock.now = berlin("2026-11-21 07:00").astimezone(UTC)
        await service.deliver_due()  # the loop sleeps by the real clock: a round now
        await receiver.arrived(2)
    assert receiver.titles() == [failure.title, warning.title]
    assert warning.title == "llm-monitor: budget 'monthly' at 80 % ($40.00 of $50.00)"


async def test_period_rollover_rearms_and_budget_set_takes_effect_live(
    tmp_path: Path, receiver: Receiver
) -> None:
    rig = Rig(write_config(tmp_path, [receiver.url]))
    async with rig.running() as service:
        await service.evaluate(NOW, rig.spend(AT, "30"))
        await receiver.arrived(1)
        december = berlin("2026-12-01 10:00")
        await service.evaluate(december, rig.spend(berlin("2026-12-01 09:00"), "26"))
        await receiver.arrived(2)
        budget_set(rig.config, "monthly", limit="30")  # $26 of $30: 87 %
        assert await service.evaluate(december) == []
        rig.config = load_config(tmp_path / "config.toml", env={"HOME": str(tmp_path)})
        service.reconfigure(rig.config)
        await service.evaluate(december)
        await receiver.arrived(3)
    assert receiver.titles() == [
        "llm-monitor: budget 'monthly' at 50 % ($30.00 of $50.00)",
        "llm-monitor: budget 'monthly' at 50 % ($26.00 of $50.00)",
        "llm-monitor: budget 'monthly' at 80 % ($26.00 of $30.00)",
    ]


async def test_a_source_gone_silent_alerts_once(tmp_path: Path, receiver: Receiver) -> None:
    config = write_config(tmp_path, [receiver.url])
    stats = {"spool": {"events": 3, "errors": 0, "last_event": berlin("2026-11-20 06:00")}}
    rig = Rig(config)
    rig.config = config = _with_expect_every(config, timedelta(hours=2))
    rig.service = AlertService(
        config,
        rig.store,
        Notifier.from_config(config.alerts),
        lambda: rig.totals,
        sources_provider=lambda: stats,
    )
    async with rig.running() as service:
        [row] = await service.evaluate(NOW)
        assert row.title == "llm-monitor: health source 'spool' silent for 6h (expected every 2h)"
        assert await service.evaluate(NOW + timedelta(hours=1)) == []
        await receiver.arrived(1)


def _with_expect_every(config: Config, every: timedelta) -> Config:
    from dataclasses import replace

    return replace(config, sources=tuple(replace(s, expect_every=every) for s in config.sources))


async def test_without_targets_alerts_are_recorded_and_marked_done(tmp_path: Path) -> None:
    rig = Rig(write_config(tmp_path, []))
    async with rig.running() as service:
        [row] = await service.evaluate(NOW, rig.spend(AT, "30"))
        await until(lambda: rig.store.pending() == [], 5, "every alert delivered")
    [done] = rig.store.recent()
    assert done.id == row.id and done.last_error == NO_TARGETS


FIFTY = "llm-monitor: budget 'monthly' at 50 % ($30.00 of $50.00)"


async def test_an_alert_is_in_the_ledger_before_it_is_delivered_or_announced(
    tmp_path: Path,
) -> None:
    rig = Rig(write_config(tmp_path, []), Clock(NOW))
    rig.service.notifier = notifier = StoredFirst(rig.config.ledger_path)
    announced: list[tuple[str, bool]] = []
    rig.service.on_alert = lambda row: announced.append((row.title, notifier.stored(row.title)))
    async with rig.running() as service:
        service.request(rig.spend(AT, "30"))
        await until(lambda: len(notifier.sent) == 1, 5, "the delivery")
    assert notifier.sent == [(FIFTY, True)]
    assert announced == [(FIFTY, True)]


async def test_a_locked_ledger_holds_back_the_record_and_the_delivery_never_the_loop(
    tmp_path: Path,
) -> None:
    rig = Rig(write_config(tmp_path, []), Clock(NOW))
    rig.service.notifier = notifier = StoredFirst(rig.config.ledger_path)
    ingest = sqlite3.connect(rig.config.ledger_path, isolation_level=None)
    try:
        ingest.execute("BEGIN IMMEDIATE")  # a commit in flight holds the write lock
        async with rig.running() as service:
            service.request(rig.spend(AT, "30"))
            worst = 0.0
            for _ in range(30):
                started = time.monotonic()
                await asyncio.sleep(0.01)
                worst = max(worst, time.monotonic() - started)
            # The store waits up to 10 s for the lock; the loop must not wait with it.
            assert worst < 2.0
            assert rig.store.keys() == set() and notifier.sent == []
            ingest.execute("COMMIT")
            await until(lambda: len(notifier.sent) == 1, 5, "the delivery")
    finally:
        ingest.close()
    assert notifier.sent == [(FIFTY, True)]


async def test_a_ledger_locked_past_the_busy_timeout_while_delivering_is_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = Rig(write_config(tmp_path, []), Clock(NOW))
    rig.service.notifier = notifier = StoredFirst(rig.config.ledger_path)
    real = rig.store.mark_delivered
    failures = iter([sqlite3.OperationalError("database is locked")])

    def mark_delivered(*args: object) -> None:
        exc = next(failures, None)
        if exc is not None:
            raise exc
        real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(rig.store, "mark_delivered", mark_delivered)
    async with rig.running() as service:
        await service.evaluate(NOW, rig.spend(AT, "30"))
        await until(lambda: rig.store.pending() == [], 5, "the delivery written")
    # The target's confirmation was written before the failure: it is not sent again.
    assert notifier.sent == [(FIFTY, True)]


class EveryDay:
    """A rule that is no built-in: one alert a local day."""

    def decide(self, s: Situation) -> list[Decision]:
        day = s.now.astimezone(s.tz).date().isoformat()
        if ("daily", "", day, "") in s.known:
            return []
        return [Decision("daily", "", day, "", "info", f"llm-monitor: day {day}", "b")]


async def test_a_rule_is_one_registration_decided_recorded_and_delivered_like_the_rest(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path, [])
    Ledger(config.ledger_path, config.tz, config.timezone_name).close()
    store = AlertStore.open(config.ledger_path)
    notifier = StoredFirst(config.ledger_path)
    service = AlertService(
        config, store, notifier, lambda: Totals(config.tz), Clock(NOW), rules=(*RULES, EveryDay)
    )
    try:
        [row] = await service.evaluate(NOW)
        assert (row.kind, row.period, row.severity) == ("daily", "2026-11-20", "info")
        assert await service.evaluate(NOW) == []
        assert await service.deliver_due() is None
        assert notifier.sent == [("llm-monitor: day 2026-11-20", True)]
    finally:
        await service.aclose()
        store.close()


def decision(period: str = "2026-11", threshold: str = "0.5") -> Decision:
    return Decision("budget", "monthly", period, threshold, "warning", "t", "b")


def test_store_keeps_one_row_per_budget_period_and_threshold(tmp_path: Path) -> None:
    with Ledger(tmp_path / "ledger.sqlite3", BERLIN, "Europe/Berlin") as ledger:
        store = AlertStore(ledger.db)
        assert len(store.record([decision(), decision("2026-11", "0.8")], NOW)) == 2
        assert store.record([decision()], NOW) == []
        [december] = store.record([decision("2026-12"), decision()], NOW)
        assert december.period == "2026-12"
        store.mark_failed(december.id, "json://127.0.0.1:9/: down")
        store.mark_delivered(december.id, NOW)
        assert [r.period for r in store.pending()] == ["2026-11", "2026-11"]
        assert store.keys() == {
            ("budget", "monthly", p, t)
            for p, t in (("2026-11", "0.5"), ("2026-11", "0.8"), ("2026-12", "0.5"))
        }
        row = store.recent(1)[0]
        assert (row.attempts, row.delivered, row.last_error) == (2, NOW, None)


def test_targets_that_confirmed_an_alert_are_stored_once_each(tmp_path: Path) -> None:
    with Ledger(tmp_path / "ledger.sqlite3", BERLIN, "Europe/Berlin") as ledger:
        store = AlertStore(ledger.db)
        [row] = store.record([decision()], NOW)
        assert row.sent_to == frozenset()
        store.mark_sent_to(row.id, {"json://b/"})
        store.mark_sent_to(row.id, {"json://a/", "json://b/"})
        store.mark_sent_to(row.id, set())
        [pending] = store.pending()
        assert pending.sent_to == {"json://a/", "json://b/"}
        stored = ledger.db.execute("SELECT sent_to FROM alerts").fetchone()
        assert stored == ('["json://a/","json://b/"]',)


async def test_a_delivery_round_leaves_held_alerts_until_their_hold_ends(tmp_path: Path) -> None:
    clock = Clock(NOW)
    rig = Rig(write_config(tmp_path, []), clock)
    rig.service.notifier = notifier = StoredFirst(rig.config.ledger_path)
    held = Decision("forecast", "monthly", "2026-11", "forecast", "warning", "held", "b",
                    hold_until=berlin("2026-11-21 07:00"))  # fmt: skip
    rig.store.record([held, decision()], NOW)
    assert await rig.service.deliver_due() == berlin("2026-11-21 07:00")
    assert [title for title, _ in notifier.sent] == ["t"]
    clock.now = berlin("2026-11-21 07:00")
    assert await rig.service.deliver_due() is None
    assert [title for title, _ in notifier.sent] == ["t", "held"]


@pytest.mark.e2e
def test_deciding_and_storing_alerts_never_imports_apprise() -> None:
    import subprocess
    import sys

    code = (
        "import sys, monitor.alerts, monitor.rules, monitor.budget_cmd, monitor.notify\n"
        "from monitor.config import AlertsConfig\n"
        "monitor.notify.Notifier.from_config(AlertsConfig())\n"
        "print('apprise' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


async def test_plan_window_warnings_reach_apprise_once_across_a_restart_and_rearm_next_window(
    tmp_path: Path, receiver: Receiver
) -> None:
    rig = Rig(write_config(tmp_path, [receiver.url]))
    first_reset = berlin("2026-11-20 14:05").astimezone(UTC)
    seen = NOW.astimezone(UTC)

    def reported(pct: float, resets: datetime) -> list[LimitSnapshot]:
        return [LimitSnapshot("codex", 300, pct, resets, seen, "plus")]

    rig.limits = reported(82.0, first_reset)
    async with rig.running() as service:
        assert len(await service.evaluate(NOW)) == 1
        await receiver.arrived(1)
    rig.restart()
    async with rig.running() as service:
        assert await service.evaluate(NOW) == []  # decided before the restart: not again
        rig.limits = reported(96.0, first_reset)
        assert len(await service.evaluate(NOW)) == 1
        await receiver.arrived(2)
        rig.limits = reported(12.0, first_reset + timedelta(hours=5))
        assert await service.evaluate(NOW) == []
        rig.limits = reported(85.0, first_reset + timedelta(hours=5))
        assert len(await service.evaluate(NOW)) == 1
        await receiver.arrived(3)
    assert [(m["title"], m["type"]) for m in receiver.messages] == [
        ("llm-monitor: limit 'codex 5h' at 80 % (resets 14:05)", "warning"),
        ("llm-monitor: limit 'codex 5h' at 95 % (resets 14:05)", "warning"),
        ("llm-monitor: limit 'codex 5h' at 80 % (resets 19:05)", "warning"),
    ]
