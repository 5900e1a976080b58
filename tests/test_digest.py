"""Digests on fixed totals and a fixed clock: when one is due (its time, catch-up the same
day or week, never a stale one, ISO-week and year boundaries, DST days in Berlin), what
it says, that it is decided once and held by quiet hours like a warning, and how
`[digest]` is read from a config file."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import UTC, date, datetime, time
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor.alert_store import AlertStore
from monitor.alerts import AlertService
from monitor.config import AlertsConfig, BudgetConfig, Config, ConfigError, load_config
from monitor.config.schema import DigestConfig
from monitor.events import UsageEvent
from monitor.ledger import Ledger
from monitor.limits import LimitSnapshot
from monitor.notify import Outcome
from monitor.rules import RULES
from monitor.rules.base import AlertKey, Decision, Severity, Situation, apply_quiet_hours
from monitor.rules.digest import DigestRule, DueDigest, due_digests
from monitor.totals import Totals
from tests.factories import usage_event

BERLIN = ZoneInfo("Europe/Berlin")
DAILY = DigestConfig(daily=time(8))
WEEKLY = DigestConfig(weekly=(0, time(8)))  # "mon 08:00"


def berlin(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def config(
    digest: DigestConfig,
    *,
    budgets: Iterable[BudgetConfig] = (),
    alerts: AlertsConfig | None = None,
    state_dir: Path = Path("/nonexistent"),
) -> Config:
    return Config(
        path=None,
        timezone_name="Europe/Berlin",
        tz=BERLIN,
        state_dir=state_dir,
        socket_path=state_dir / "d.sock",
        sources=(),
        budgets=tuple(budgets),
        alerts=alerts or AlertsConfig(),
        digest=digest,
    )


def totals_with(*events: UsageEvent, tags: Iterable[str] = ()) -> Totals:
    totals = Totals(BERLIN, tracked_tags=tags)
    for e in events:
        totals.add(e)
    return totals


def situation(
    now: datetime,
    cfg: Config,
    totals: Totals | None = None,
    known: Collection[AlertKey] = (),
    limits: Iterable[LimitSnapshot] = (),
) -> Situation:
    return Situation(
        now=now.astimezone(UTC),
        config=cfg,
        totals=totals if totals is not None else Totals(BERLIN),
        known=set(known),
        limits=tuple(limits),
    )


def due(digest: DigestConfig, now: datetime) -> list[tuple[str, str]]:
    return [(d.rule, d.label) for d in due_digests(digest, now, BERLIN)]


def decide(now: datetime, cfg: Config, known: Collection[AlertKey] = ()) -> list[Decision]:
    return DigestRule().decide(situation(now, cfg, known=known))


# ---------------------------------------------------------------- when a digest is due


def test_daily_digest_is_due_from_its_time_and_covers_yesterday() -> None:
    assert due(DAILY, berlin("2026-11-21 07:59:59")) == []
    assert due(DAILY, berlin("2026-11-21 08:00")) == [("daily", "2026-11-20")]
    assert due(DigestConfig(), berlin("2026-11-21 12:00")) == []  # both off by default


def test_a_missed_daily_digest_is_caught_up_once_the_same_day() -> None:
    # The daemon was down (or the laptop asleep) at 08:00: back at 23:59, still sent.
    [d] = decide(berlin("2026-11-21 23:59"), config(DAILY))
    assert (d.kind, d.rule, d.period, d.threshold) == ("digest", "daily", "2026-11-20", "")
    # Decided once: the next round (or a restarted daemon: the store knows the key) is silent.
    assert decide(berlin("2026-11-21 23:59:30"), config(DAILY), {d.key}) == []


def test_no_stale_daily_digest_the_next_day() -> None:
    # Down from before 08:00 on the 21st until 07:30 on the 22nd: the digest of the 20th
    # is never sent, and nothing is due before 08:00.
    assert decide(berlin("2026-11-22 07:30"), config(DAILY)) == []
    # From 08:00 only the day that has just ended (the 21st) has its digest.
    assert [d.period for d in decide(berlin("2026-11-22 08:00"), config(DAILY))] == ["2026-11-21"]


def test_weekly_digest_covers_last_iso_week_and_is_caught_up_until_sunday() -> None:
    # 2026-11-23 is the Monday of 2026-W48; the week that just ended is 2026-W47.
    assert due(WEEKLY, berlin("2026-11-23 07:59")) == []
    assert due(WEEKLY, berlin("2026-11-23 08:00")) == [("weekly", "2026-W47")]
    assert due(WEEKLY, berlin("2026-11-29 23:59:59")) == [("weekly", "2026-W47")]
    # The next Monday before 08:00: W47's digest is stale, W48's not due yet.
    assert due(WEEKLY, berlin("2026-11-30 07:59")) == []
    assert due(WEEKLY, berlin("2026-11-30 08:00")) == [("weekly", "2026-W48")]


def test_weekly_digest_on_another_day_still_covers_the_last_complete_iso_week() -> None:
    wednesday_evening = DigestConfig(weekly=(2, time(18)))
    assert due(wednesday_evening, berlin("2026-11-24 23:00")) == []  # Tuesday
    assert due(wednesday_evening, berlin("2026-11-25 17:59")) == []
    assert due(wednesday_evening, berlin("2026-11-25 18:00")) == [("weekly", "2026-W47")]
    assert due(wednesday_evening, berlin("2026-11-29 12:00")) == [("weekly", "2026-W47")]


def test_weekly_digest_across_the_new_year_names_the_iso_week() -> None:
    # 2026-01-05 is a Monday; ISO week 2026-W01 ran from Monday 2025-12-29 to 2026-01-04.
    [d] = due_digests(WEEKLY, berlin("2026-01-05 09:00"), BERLIN)
    assert (d.label, d.first, d.previous) == ("2026-W01", date(2025, 12, 29), date(2025, 12, 22))
    # And 2025-12-29's digest covers 2025-W52.
    assert due(WEEKLY, berlin("2025-12-29 08:00")) == [("weekly", "2025-W52")]


def test_daily_and_weekly_are_due_together_on_monday() -> None:
    both = DigestConfig(daily=time(8), weekly=(0, time(8)))
    assert due(both, berlin("2026-11-23 08:00")) == [
        ("daily", "2026-11-22"),
        ("weekly", "2026-W47"),
    ]


def test_dst_spring_forward_in_berlin_goes_by_the_local_wall_clock() -> None:
    # 2026-03-29: at 02:00 CET the clocks jump to 03:00 CEST. 08:00 that day is 06:00 UTC,
    # one hour earlier in UTC than the day before.
    assert due(DAILY, utc("2026-03-28 06:59")) == []
    assert due(DAILY, utc("2026-03-28 07:00")) == [("daily", "2026-03-27")]
    assert due(DAILY, utc("2026-03-29 05:59")) == []
    assert due(DAILY, utc("2026-03-29 06:00")) == [("daily", "2026-03-28")]
    # A time the clock skips is passed when it jumps: 02:30 comes with 03:00 CEST.
    skipped = DigestConfig(daily=time(2, 30))
    assert due(skipped, utc("2026-03-29 00:59")) == []
    assert due(skipped, utc("2026-03-29 01:00")) == [("daily", "2026-03-28")]


def test_dst_fall_back_in_berlin_sends_a_repeated_time_once() -> None:
    # 2026-10-25: 02:00–03:00 happens twice (CEST, then CET).
    repeated = config(DigestConfig(daily=time(2, 30)))
    assert decide(utc("2026-10-25 00:29"), repeated) == []
    [first] = decide(utc("2026-10-25 00:30"), repeated)  # 02:30 CEST
    assert first.period == "2026-10-24"
    assert decide(utc("2026-10-25 01:30"), repeated, {first.key}) == []  # 02:30 CET again


def test_the_digest_of_a_dst_day_counts_its_23_local_hours() -> None:
    totals = totals_with(
        usage_event(utc("2026-03-28 22:59"), "1", model="before"),  # 23:59 CET on the 28th
        usage_event(utc("2026-03-28 23:00"), "2", model="first"),  # 00:00 CET on the 29th
        usage_event(utc("2026-03-29 21:59"), "3", model="last"),  # 23:59 CEST on the 29th
        usage_event(utc("2026-03-29 22:00"), "4", model="after"),  # 00:00 CEST on the 30th
    )
    [d] = DigestRule().decide(situation(berlin("2026-03-30 08:00"), config(DAILY), totals))
    assert d.title == "llm-monitor: digest 2026-03-29 — $5.00 (day before $1.00)"
    assert d.body.splitlines()[:2] == [
        "Sunday 2026-03-29 (Europe/Berlin): $5.00 in 2 calls; the day before $1.00 (+400 %).",
        "Top models: last $3.00, first $2.00",
    ]


# ---------------------------------------------------------------- what it says


def test_daily_digest_says_spend_tops_unpriced_models_budgets_and_plan_windows() -> None:
    day_before = usage_event(berlin("2026-11-19 15:00"), "9.80", model="gpt-5")
    calls = [
        usage_event(berlin("2026-11-20 09:00"), "8.00", model="claude-sonnet-4-5",
                    source="claude-code", tags={"project": "webapp"}),
        usage_event(berlin("2026-11-20 10:00"), "3.40", model="gpt-5", tags={"project": "api"}),
        usage_event(berlin("2026-11-20 11:00"), "1.00", model="o3"),
        *(usage_event(berlin("2026-11-20 12:00"), None, model="acme-1") for _ in range(3)),
    ]  # fmt: skip
    totals = totals_with(day_before, *calls, tags=["project"])
    budgets = [
        BudgetConfig("daily", "day", Decimal(10)),
        BudgetConfig("monthly", "month", Decimal(50)),
    ]
    now = berlin("2026-11-21 08:00")
    windows = [
        LimitSnapshot("codex", 300, 42.0, berlin("2026-11-21 11:05"), now, plan="pro"),
        LimitSnapshot("codex", 10080, 60.0, berlin("2026-11-20 10:00"), berlin("2026-11-19 09:00")),
    ]
    [d] = DigestRule().decide(situation(now, config(DAILY, budgets=budgets), totals, (), windows))
    assert d.title == "llm-monitor: digest 2026-11-20 — $12.40 (day before $9.80)"
    assert (d.severity, d.quiet_exempt) == ("info", False)
    assert d.body.splitlines() == [
        "Friday 2026-11-20 (Europe/Berlin): $12.40 in 6 calls; the day before $9.80 (+26.5 %).",
        "Top models: claude-sonnet-4-5 $8.00, gpt-5 $3.40, o3 $1.00",
        "Top sources: claude-code $8.00, studio $4.40",
        "Top tag project: webapp $8.00, api $3.40, untagged $1.00",
        "Unpriced models (their calls are not in the totals): acme-1 (3 calls)",
        "Budgets:",
        "- daily: $12.40 of $10.00 (124 %) in 2026-11-20 — over the limit.",
        # Month so far $22.20 at a rate of $11.10 a day (mean of the 19th and 20th, sample
        # sd $1.84) over 9 2/3 days left: $129.50 ($111.73–$147.27); $50 on the 23rd.
        "- monthly: $22.20 of $50.00 (44.4 %) so far in 2026-11; forecast $129.50 "
        "($111.73–$147.27); runs out on 2026-11-23.",
        "Plan windows:",
        "- codex 5h: 42 % used, resets 11:05 (pro plan).",
        "- codex 7d: reset at 2026-11-20 10:00, no reading since.",
    ]


def test_weekly_digest_compares_with_the_week_before_and_lists_more_than_three() -> None:
    totals = totals_with(
        usage_event(berlin("2026-11-12 10:00"), "40"),  # W46
        *(usage_event(berlin(f"2026-11-{16 + i} 10:00"), str(10 - i), model=f"m{i}")
          for i in range(5)),  # W47: $10 + $9 + $8 + $7 + $6
        usage_event(berlin("2026-11-23 07:00"), "100"),  # W48: not in the digest
    )  # fmt: skip
    [d] = DigestRule().decide(situation(berlin("2026-11-23 08:00"), config(WEEKLY), totals))
    assert d.title == "llm-monitor: digest 2026-W47 — $40.00 (week before $40.00)"
    assert d.body.splitlines()[:3] == [
        "Week 2026-W47, 2026-11-16 to 2026-11-22 (Europe/Berlin): $40.00 in 5 calls; "
        "the week before $40.00 (+0 %).",
        "Top models: m0 $10.00, m1 $9.00, m2 $8.00 and 2 more",
        "Top sources: studio $40.00",
    ]


def test_a_period_without_calls_still_has_its_digest() -> None:
    [d] = decide(berlin("2026-11-21 08:00"), config(DAILY))
    assert d.title == "llm-monitor: digest 2026-11-20 — $0.00 (day before $0.00)"
    assert d.body == "Friday 2026-11-20 (Europe/Berlin): $0.00 in 0 calls; the day before $0.00."


def test_quiet_hours_hold_a_digest_until_they_end() -> None:
    [d] = decide(berlin("2026-11-21 08:00"), config(DAILY))
    [held] = apply_quiet_hours([d], (time(22), time(9)), utc("2026-11-21 07:00"), BERLIN)
    assert held.hold_until == berlin("2026-11-21 09:00")


def test_the_registry_has_the_digest_rule() -> None:
    assert DigestRule in RULES
    assert DueDigest("daily", "day", date(2026, 11, 20)).previous == date(2026, 11, 19)


# ---------------------------------------------------------------- decided, stored, delivered


class Sent:
    """A notifier that accepts everything and remembers what it was given."""

    labels = ("json://fake/",)

    def __init__(self) -> None:
        self.sent: list[tuple[str, Severity]] = []

    async def deliver(
        self, title: str, body: str, severity: Severity, only: Collection[str] | None = None
    ) -> dict[str, Outcome]:
        self.sent.append((title, severity))
        return {label: Outcome(True) for label in self.labels}


async def test_a_digest_is_stored_before_delivery_once_and_not_again_after_a_restart(
    tmp_path: Path,
) -> None:
    cfg = config(DAILY, state_dir=tmp_path)
    Ledger(cfg.ledger_path, cfg.tz, cfg.timezone_name).close()  # migrates
    totals = totals_with(usage_event(berlin("2026-11-20 10:00"), "2.50"))
    notifier = Sent()
    store = AlertStore.open(cfg.ledger_path)
    try:
        service = AlertService(cfg, store, notifier, lambda: totals, rules=(DigestRule,))
        [row] = await service.evaluate(berlin("2026-11-21 08:01"))
        assert (row.kind, row.rule, row.period, row.severity) == (
            "digest", "daily", "2026-11-20", "info",
        )  # fmt: skip
        assert await service.evaluate(berlin("2026-11-21 09:00")) == []
        assert await service.deliver_due() is None
        assert notifier.sent == [("llm-monitor: digest 2026-11-20 — $2.50 (day before $0.00)",
                                  "info")]  # fmt: skip
        await service.aclose()
    finally:
        store.close()
    store = AlertStore.open(cfg.ledger_path)  # a restart: a new store and service
    try:
        service = AlertService(cfg, store, notifier, lambda: totals, rules=(DigestRule,))
        assert await service.evaluate(berlin("2026-11-21 10:00")) == []
        assert await service.deliver_due() is None
        assert len(notifier.sent) == 1
        await service.aclose()
    finally:
        store.close()


async def test_a_digest_due_in_quiet_hours_is_recorded_held(tmp_path: Path) -> None:
    quiet = AlertsConfig(quiet_hours=(time(22), time(9)))
    cfg = config(DAILY, alerts=quiet, state_dir=tmp_path)
    Ledger(cfg.ledger_path, cfg.tz, cfg.timezone_name).close()
    store = AlertStore.open(cfg.ledger_path)
    try:
        service = AlertService(cfg, store, Sent(), lambda: Totals(BERLIN), rules=(DigestRule,))
        [row] = await service.evaluate(berlin("2026-11-21 08:00"))
        assert row.hold_until == berlin("2026-11-21 09:00")
        await service.aclose()
    finally:
        store.close()


# ---------------------------------------------------------------- [digest] in the config


def load(tmp_path: Path, text: str) -> Config:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return load_config(path, env={"HOME": str(tmp_path)})


def test_digest_times_are_read_from_the_config(tmp_path: Path) -> None:
    cfg = load(tmp_path, '[digest]\ndaily = "07:30"\nweekly = "Friday 17:45"\n')
    assert cfg.digest == DigestConfig(daily=time(7, 30), weekly=(4, time(17, 45)))
    assert load(tmp_path, '[digest]\nweekly = "sun 9:05"\n').digest.weekly == (6, time(9, 5))
    assert load(tmp_path, "[digest]\ndaily = 08:00:00\n").digest.daily == time(8)  # TOML time
    assert load(tmp_path, '[digest]\ndaily = ""\nweekly = ""\n').digest == DigestConfig()
    assert load(tmp_path, "").digest == DigestConfig()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('daily = "8am"', 'digest.daily: expected "HH:MM" (e.g. "08:00"), got "8am"'),
        ('daily = "24:00"', 'digest.daily: expected "HH:MM" (e.g. "08:00"), got "24:00"'),
        ("daily = 8", 'digest.daily: expected "HH:MM" (e.g. "08:00"), got 8'),
        ("daily = 08:00:30", 'digest.daily: expected "HH:MM" (e.g. "08:00"), got 08:00:30'),
        (
            'weekly = "monday"',
            'digest.weekly: expected "DAY HH:MM" with DAY one of mon, tue, wed, thu, fri, '
            'sat, sun (e.g. "mon 08:00"), got "monday"',
        ),
        (
            'weekly = "someday 08:00"',
            'digest.weekly: expected "DAY HH:MM" with DAY one of mon, tue, wed, thu, fri, '
            'sat, sun (e.g. "mon 08:00"), got "someday 08:00"',
        ),
        ('monthly = "1 08:00"', "digest.monthly: unknown key (expected one of daily, weekly)"),
    ],
)
def test_a_bad_digest_setting_names_the_key_and_what_was_expected(
    tmp_path: Path, table: str, message: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load(tmp_path, f"[digest]\n{table}\n")
    assert str(err.value) == f"~/config.toml: {message}"
