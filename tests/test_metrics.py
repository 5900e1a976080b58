"""The Prometheus endpoint, scraped over real HTTP, fed by a real ingest into a real ledger."""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from prometheus_client.parser import text_string_to_metric_families

from monitor.config import MetricsConfig, SourceConfig, load_config
from monitor.events import UsageEvent
from monitor.ingest import Ingestor
from monitor.ledger import Applied, Ledger
from monitor.metrics import Metrics, maybe_start
from monitor.pricing import Pricer
from monitor.spool_writer import append_record
from monitor.status import budget_entry

UTC_ZONE = ZoneInfo("UTC")
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(metrics: Metrics) -> Samples:
    assert metrics.address is not None
    host, port = metrics.address
    with urllib.request.urlopen(f"http://{host}:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def usage_only(samples: Samples) -> Samples:
    return {
        k: v
        for k, v in samples.items()
        if k[0].startswith(("llm_cost", "llm_tokens", "llm_calls", "llm_unpriced"))
        or k[0] in ("llm_monitor_events_total", "llm_monitor_parse_errors_total")
    }


def labels(**kw: str) -> frozenset[tuple[str, str]]:
    return frozenset(kw.items())


@pytest.fixture
def spool(tmp_path: Path) -> Path:
    d = tmp_path / "spool"
    d.mkdir()
    return d


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger(tmp_path / "ledger.sqlite3", UTC_ZONE, "UTC") as led:
        yield led


@pytest.fixture
def served() -> Iterator[list[Metrics]]:
    """Metrics started by a test, stopped afterwards whatever happens."""
    started: list[Metrics] = []
    yield started
    for m in started:
        m.stop()


def serve(metrics: Metrics, served: list[Metrics]) -> Metrics:
    metrics.start("127.0.0.1", 0)
    served.append(metrics)
    return metrics


def ingest(spool: Path, ledger: Ledger, metrics: Metrics) -> None:
    source = SourceConfig("spool", "spool", (f"{spool}/*.jsonl",), UTC_ZONE, "UTC")
    ingestor = Ingestor([source], ledger, Pricer(), on_commit=metrics.observe)
    metrics.observe_report(ingestor.scan())


def write_usage(spool: Path) -> None:
    ts = "2026-11-20T10:00:00Z"
    append_record(spool, {"ts": ts, "model": "gpt-4o", "input_tokens": 1000, "output_tokens": 500})
    append_record(
        spool,
        {
            "ts": ts,
            "model": "claude-sonnet-4-20250514",
            "provider": "anthropic",
            "input_tokens": 3000,
            "output_tokens": 200,
            "cache_read_tokens": 2000,
            "cache_write_tokens": 500,
            "source": "scripts",
        },
    )
    append_record(spool, {"ts": ts, "model": "my-local-model", "input_tokens": 10, "calls": 3})


def test_scrape_shows_exact_totals_of_ingested_calls(
    spool: Path, ledger: Ledger, served: list[Metrics]
) -> None:
    write_usage(spool)
    metrics = serve(Metrics(), served)
    metrics.mark_seeded()
    ingest(spool, ledger, metrics)
    s = scrape(metrics)

    gpt = labels(source="spool", provider="openai", model="gpt-4o")
    # gpt-4o: 1000 × $2.50/MTok + 500 × $10/MTok
    assert s[("llm_cost_usd_total", gpt)] == pytest.approx(0.0075)
    assert s[("llm_calls_total", gpt)] == 1
    assert s[("llm_tokens_total", gpt | {("kind", "input")})] == 1000
    assert s[("llm_tokens_total", gpt | {("kind", "output")})] == 500
    claude = labels(source="scripts", provider="anthropic", model="claude-sonnet-4-20250514")
    assert s[("llm_tokens_total", claude | {("kind", "cache_read")})] == 2000
    assert s[("llm_tokens_total", claude | {("kind", "cache_write")})] == 500
    local = labels(source="spool", provider="unknown", model="my-local-model")
    assert s[("llm_calls_total", local)] == 3
    assert s[("llm_unpriced_calls_total", local)] == 3
    assert s[("llm_cost_usd_total", local)] == 0
    assert s[("llm_monitor_events_total", labels(source="spool"))] == 2
    assert s[("llm_monitor_events_total", labels(source="scripts"))] == 1
    assert s[("llm_monitor_last_event_timestamp_seconds", labels(source="spool"))] == (
        datetime(2026, 11, 20, 10, tzinfo=UTC).timestamp()
    )
    ledger_cost = ledger.db.execute("SELECT SUM(cost_nano) FROM events").fetchone()[0]
    scraped_cost = sum(v for (name, _), v in s.items() if name == "llm_cost_usd_total")
    assert scraped_cost == pytest.approx(ledger_cost / 1e9)


def test_restart_seeded_from_ledger_shows_the_same_totals(
    spool: Path, ledger: Ledger, served: list[Metrics]
) -> None:
    write_usage(spool)
    (spool / "broken.jsonl").write_text('{"ts": "2026-11-20T10:00:00Z"}\nnot json\n')
    before = serve(Metrics(), served)
    before.mark_seeded()
    ingest(spool, ledger, before)
    first = usage_only(scrape(before))
    assert first[("llm_monitor_parse_errors_total", labels(source="spool"))] == 2
    before.stop()

    after = serve(Metrics(), served)
    after.seed_from_ledger(ledger)
    assert usage_only(scrape(after)) == first


def test_streamed_larger_copy_adds_only_the_difference(
    spool: Path, ledger: Ledger, served: list[Metrics]
) -> None:
    metrics = serve(Metrics(), served)
    metrics.mark_seeded()
    call = {"id": "msg_1", "ts": "2026-11-20T10:00:00Z", "model": "gpt-4o", "input_tokens": 100}
    append_record(spool, {**call, "output_tokens": 10})
    ingest(spool, ledger, metrics)
    append_record(spool, {**call, "output_tokens": 50})
    ingest(spool, ledger, metrics)
    gpt = labels(source="spool", provider="openai", model="gpt-4o")
    s = scrape(metrics)
    assert s[("llm_tokens_total", gpt | {("kind", "output")})] == 50
    assert s[("llm_calls_total", gpt)] == 1
    assert s[("llm_monitor_events_total", labels(source="spool"))] == 1
    assert s[("llm_cost_usd_total", gpt)] == pytest.approx(100 * 2.5e-6 + 50 * 10e-6)


def test_usage_counters_are_hidden_until_seeded(served: list[Metrics]) -> None:
    # A restart that exposed 0 before seeding would read as a counter reset to Prometheus.
    metrics = serve(Metrics(), served)
    event = UsageEvent("k", datetime(2026, 11, 20, tzinfo=UTC), "s", "openai", "gpt-4o")
    metrics.observe([Applied(event)])
    s = scrape(metrics)
    assert not any(name.startswith("llm_calls") for name, _ in s)
    assert s[("llm_monitor_up", frozenset())] == 1


def test_models_beyond_the_cap_fold_into_other() -> None:
    metrics = Metrics(model_cap=2, process_metrics=False)
    metrics.mark_seeded()
    ts = datetime(2026, 11, 20, tzinfo=UTC)
    metrics.observe(
        [
            Applied(UsageEvent(f"k{i}", ts, "s", "openai", model, calls=1))
            for i, model in enumerate(["a", "b", "c", "d", "a"])
        ]
    )
    calls = {
        s.labels["model"]: s.value
        for family in metrics.registry.collect()
        for s in family.samples
        if s.name == "llm_calls_total"
    }
    assert calls == {"a": 2, "b": 1, "other": 2}


def test_budget_gauges_follow_the_daemon_entries(served: list[Metrics]) -> None:
    from monitor.config import make_budget
    from monitor.forecast import Forecast

    budget = make_budget("team", "month", 50)
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    fc = Forecast(
        "month", Decimal("20.5"), Decimal("61.2"), Decimal(55), Decimal(70), Decimal(2),
        Decimal("10.5"), 7,
    )  # fmt: skip
    metrics = serve(Metrics(state=lambda: "backfilling"), served)
    metrics.set_budgets([budget_entry(budget, Decimal("20.5"), fc, now, UTC_ZONE)])
    s = scrape(metrics)
    team = labels(budget="team", period="month")
    assert s[("llm_budget_spent_usd", team)] == 20.5
    assert s[("llm_budget_limit_usd", team)] == 50
    assert s[("llm_budget_forecast_usd", team)] == 61.2
    assert s[("llm_budget_fraction", team)] == 0.41
    assert s[("llm_monitor_state", labels(state="backfilling"))] == 1
    assert s[("llm_monitor_state", labels(state="ready"))] == 0
    metrics.set_budgets([])
    assert not any(name.startswith("llm_budget") for name, _ in scrape(metrics))


def test_plan_windows_are_gauges_of_the_share_used_and_the_reset_time(
    served: list[Metrics],
) -> None:
    from monitor.limits import LimitSnapshot
    from monitor.status.document import limit_entry

    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    resets = datetime(2026, 11, 20, 14, 5, tzinfo=UTC)
    metrics = serve(Metrics(state=lambda: "ready"), served)
    metrics.set_limits([limit_entry(LimitSnapshot("codex", 300, 82.5, resets, now, "plus"), now)])
    s = scrape(metrics)
    key = labels(tool="codex", window="5h", basis="reported")
    assert s[("llm_limit_used_ratio", key)] == 0.825
    assert s[("llm_limit_resets_at_seconds", key)] == resets.timestamp()


def test_metrics_are_off_and_no_port_opens_by_default(tmp_path: Path, ledger: Ledger) -> None:
    config_file = tmp_path / "config.toml"
    config_file.write_text(f'[monitor]\nstate_dir = "{tmp_path}/state"\n')
    assert load_config(config_file).metrics.listen is None
    assert maybe_start(load_config(config_file), ledger) is None
    embedded = load_config(env={"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)})
    assert embedded.metrics.listen is None


def test_maybe_start_serves_when_listen_is_set_and_stop_frees_the_port(
    tmp_path: Path, spool: Path, ledger: Ledger
) -> None:
    write_usage(spool)
    ingest(spool, ledger, Metrics(process_metrics=False))
    config_file = tmp_path / "config.toml"
    config_file.write_text(f'[monitor]\nstate_dir = "{tmp_path}/state"\n')
    config = dataclasses.replace(load_config(config_file), metrics=MetricsConfig(("127.0.0.1", 0)))
    metrics = maybe_start(config, ledger)
    assert metrics is not None
    try:
        host, port = metrics.address or ("", 0)
        assert host == "127.0.0.1"
        assert scrape(metrics)[("llm_monitor_events_total", labels(source="spool"))] == 2
    finally:
        metrics.stop()
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2)
    metrics.stop()


def test_a_taken_port_is_logged_and_the_daemon_goes_on(
    tmp_path: Path, ledger: Ledger, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config_file = tmp_path / "config.toml"
        config_file.write_text(f'[metrics]\nlisten = "127.0.0.1:{port}"\n')
        with caplog.at_level(logging.ERROR, logger="llm_monitor.metrics"):
            assert maybe_start(load_config(config_file), ledger) is None
    assert f"cannot listen on 127.0.0.1:{port}" in caplog.text


# -- the real daemon ---------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def listening_tcp_ports(pid: int) -> set[int]:
    """TCP ports process `pid` listens on (Linux /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # 0A: LISTEN
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def scrape_url(url: str) -> Samples | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            text = resp.read().decode()
    except OSError:
        return None
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


@pytest.mark.e2e
@pytest.mark.skipif(not Path("/proc/self/net/tcp").exists(), reason="needs Linux /proc")
@pytest.mark.timeout(45)
def test_daemon_opens_no_port_by_default(tmp_path: Path) -> None:
    from tests.daemon_harness import Source, workspace

    with workspace(tmp_path) as ws:
        ws.write_config([Source("studio", "studio-tokens", (f"{ws.root}/**/tokens.jsonl",))])
        daemon = ws.start()
        assert listening_tcp_ports(daemon.pid) == set()


@pytest.mark.e2e
@pytest.mark.timeout(45)
def test_running_daemon_serves_counters_that_survive_a_restart(tmp_path: Path) -> None:
    from tests.daemon_harness import Source, append, studio_line, wait_for, workspace

    port = free_port()
    url = f"http://127.0.0.1:{port}/metrics"
    studio = labels(source="studio", provider="openai", model="gpt-4o")
    with workspace(tmp_path) as ws:
        source = Source("studio", "studio-tokens", (f"{ws.root}/**/run_*/tokens.jsonl",))
        ws.config_path.write_text(
            ws.config_text([source]) + f'\n[metrics]\nlisten = "127.0.0.1:{port}"\n'
        )
        first = ws.start()
        run = ws.root / "output" / "tech" / "run_1" / "tokens.jsonl"
        for i in range(5):
            append(run, studio_line("advocate", 1000 + i, 100))

        def five_calls() -> Samples | None:
            s = scrape_url(url)
            return s if s and s.get(("llm_calls_total", studio)) == 5 else None

        live = wait_for(five_calls, 6, "5 calls on the metrics endpoint")
        assert live[("llm_tokens_total", studio | {("kind", "input")})] == 5010
        assert live[("llm_cost_usd_total", studio)] == pytest.approx(5 * 0.0125)
        assert first.stop() == 0

        ws.start()
        after = wait_for(lambda: scrape_url(url), 10, "the metrics endpoint after a restart")
        assert usage_only(after) == usage_only(live)
