"""Prometheus exposition of the daemon's totals, budgets and health (opt-in).

Off unless `[metrics] listen` is set: `maybe_start` returns None and opens no port.
On, it serves `/metrics` from a thread (prometheus_client's WSGI app, our own server
thread so that `stop()` returns in ~50 ms instead of the stock 0.5 s) on the
configured address, 127.0.0.1 by default, from a registry of its own (never the global
one, so tests and a second daemon in one process cannot collide).

Counters are totals ever, not since start-up. A Prometheus counter that restarts at 0
reads as a reset, and `increase()` then counts the whole history again; so the usage
counters are seeded from the ledger's `daily` rollup (`seed_from_ledger`) and are not
exposed at all until then — a scrape before seeding sees the series missing, which
Prometheus treats as a gap, not as a drop to 0. After seeding, `observe` moves them by
what each commit stored: a larger streamed copy of a stored call adds only the
difference (see ledger.py).

The sums are exact integers (cost in nano-dollars, tokens, calls) kept by this module,
and a custom collector yields them; `prometheus_client.Counter` can neither be set nor
hold a Decimal. Float appears only in the exposition.

Labels stay bounded: source, provider and model — never session, project or any other
tag. Models beyond `model_cap` distinct names are folded into model="other"; seeding
names the costliest models first, so the fold keeps the ones that matter.

Known limit: re-pricing (`llm-monitor reprice`, or the daemon's start-up reprice after a
price change) can lower a stored cost; a restart then exposes a smaller cost counter,
which Prometheus reads as a reset. Seed after the start-up reprice so at least a price
change and the restart that applies it make one step, not two.

Threads: `observe`/`set_budgets` run on the daemon's loop thread, scrapes on the HTTP
server's threads; one lock guards the sums.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any, Final
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, ProcessCollector, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from monitor import __version__
from monitor.events import NANO, UsageEvent, to_nano

if TYPE_CHECKING:
    from monitor.config import Config
    from monitor.ingest import IngestReport
    from monitor.ledger import Applied, Ledger

log = logging.getLogger("llm_monitor.metrics")

MODEL_CAP: Final = 200
"""Distinct model label values kept before folding the rest into "other"."""
OTHER: Final = "other"
STATES: Final = ("starting", "backfilling", "ready", "stopping")
TOKEN_KINDS: Final = ("input", "output", "cache_read", "cache_write")

_POLL: Final = 0.05
"""Seconds the server thread waits between checks for `stop()` (the daemon's exit waits)."""
_SOURCE_COUNTERS: Final = (
    ("llm_monitor_events", "Usage events stored in the ledger, per source (total ever)"),
    ("llm_monitor_parse_errors", "Bad records skipped, per source (total ever)"),
)
"""The health counters per source (name, help): events stored, bad records skipped."""
_USAGE_LABELS: Final = ("source", "provider", "model")
_BUDGET_LABELS: Final = ("budget", "period")


@dataclass(slots=True)
class _Sums:
    """Exact running sums of one (source, provider, model) label set."""

    cost_nano: int = 0
    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0
    calls: int = 0
    unpriced_calls: int = 0

    def add(self, e: UsageEvent, sign: int) -> None:
        if e.cost is None:
            self.unpriced_calls += sign * e.calls
        else:
            self.cost_nano += sign * to_nano(e.cost)
        self.input += sign * e.input_tokens
        self.output += sign * e.output_tokens
        self.cache_read += sign * e.cache_read_tokens
        self.cache_write += sign * e.cache_write_tokens
        self.calls += sign * e.calls


def _usd(nano: int) -> float:
    return float(Decimal(nano) / NANO)


def _money(text: object) -> float | None:
    if text is None:
        return None
    try:
        return float(Decimal(str(text)))
    except ArithmeticError:
        return None


class Metrics:
    """Everything `/metrics` shows; fed by the daemon, served from a thread."""

    def __init__(
        self,
        *,
        model_cap: int = MODEL_CAP,
        state: Callable[[], str] | None = None,
        process_metrics: bool = True,
    ) -> None:
        """`state`: asked at each scrape for the daemon's state (starting, ready, …)."""
        self.model_cap = model_cap
        self.state = state
        self.registry = CollectorRegistry(auto_describe=False)
        self._lock = threading.Lock()
        self._seeded = False
        self._usage: dict[tuple[str, str, str], _Sums] = {}
        self._models: set[str] = set()
        self._events: dict[str, int] = {}
        self._errors: dict[str, int] = {}
        self._last_event: dict[str, float] = {}
        self._budgets: list[dict[str, Any]] = []
        self._limits: list[dict[str, Any]] = []
        self._started = time.time()
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.registry.register(_Collector(self))
        if process_metrics:
            ProcessCollector(namespace="llm_monitor", registry=self.registry)

    # -- feeding ------------------------------------------------------------------------

    def seed_from_ledger(self, ledger: Ledger | sqlite3.Connection) -> None:
        """Start from the ledger's totals ever (replacing whatever was summed before).

        Reads the `daily` rollup grouped by (source, provider, model) — a few thousand
        rows at most — and the per-source stats. Costliest models first, so the model
        cap folds the long tail, not the big spenders.
        """
        from monitor.ledger.reads import source_stats, usage_by_model

        db: sqlite3.Connection = ledger if isinstance(ledger, sqlite3.Connection) else ledger.db
        usage = usage_by_model(db)
        stats = source_stats(db)
        with self._lock:
            self._usage.clear()
            self._models.clear()
            for row in usage:
                key = (row.source, row.provider, self._model_label(row.model))
                acc = self._usage.get(key)
                if acc is None:
                    acc = self._usage[key] = _Sums()
                s = row.sums
                acc.cost_nano += s.cost_nano
                acc.input += s.input_tokens
                acc.output += s.output_tokens
                acc.cache_read += s.cache_read_tokens
                acc.cache_write += s.cache_write_tokens
                acc.calls += s.calls
                acc.unpriced_calls += s.unpriced_calls
            self._events = {st.source: st.events for st in stats}
            self._errors = {st.source: st.errors for st in stats}
            self._last_event = {
                st.source: st.last_event.timestamp() for st in stats if st.last_event is not None
            }
            self._seeded = True

    def mark_seeded(self) -> None:
        """Expose the usage counters without a ledger to seed from (a fresh install, tests)."""
        with self._lock:
            self._seeded = True

    def observe(self, applied: Iterable[Applied]) -> None:
        """What one ledger commit stored: new events add, larger copies add the difference."""
        with self._lock:
            for a in applied:
                e = a.event
                self._sums(e).add(e, 1)
                if a.previous is None:
                    self._events[e.source] = self._events.get(e.source, 0) + 1
                else:
                    self._sums(a.previous).add(a.previous, -1)
                ts = e.ts.timestamp()
                if ts > self._last_event.get(e.source, float("-inf")):
                    self._last_event[e.source] = ts

    def observe_errors(self, counts: Mapping[str, int]) -> None:
        """Bad records skipped, per source name."""
        with self._lock:
            for source, n in counts.items():
                if n:
                    self._errors[source] = self._errors.get(source, 0) + n

    def observe_report(self, report: IngestReport) -> None:
        """The bad-record counts of one ingest round (`Ingestor.scan`/`ingest_paths`)."""
        self.observe_errors({name: c.errors for name, c in report.sources.items()})

    def set_budgets(self, entries: Sequence[Mapping[str, Any]]) -> None:
        """The daemon's budget entries (`monitor.status.budget_entry` shape); replaces all."""
        with self._lock:
            self._budgets = [dict(e) for e in entries]

    def set_limits(self, entries: Sequence[Mapping[str, Any]]) -> None:
        """The status document's plan windows (`limits`); replaces all."""
        with self._lock:
            self._limits = [dict(e) for e in entries]

    def _model_label(self, model: str) -> str:
        if model in self._models:
            return model
        if len(self._models) < self.model_cap:
            self._models.add(model)
            return model
        return OTHER

    def _sums(self, e: UsageEvent) -> _Sums:
        key = (e.source, e.provider, self._model_label(e.model))
        acc = self._usage.get(key)
        if acc is None:
            acc = self._usage[key] = _Sums()
        return acc

    # -- serving ------------------------------------------------------------------------

    @property
    def address(self) -> tuple[str, int] | None:
        """(host, port) actually bound while serving (port 0 asks the OS for one)."""
        if self._server is None:
            return None
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self, host: str = "127.0.0.1", port: int = 9464) -> None:
        """Serve `/metrics` on host:port from a daemon thread (OSError if the port is taken)."""
        if self._server is not None:
            raise RuntimeError("metrics endpoint already started")
        family, addr = _best_family(host, port)
        server_class = type("_Server", (_ThreadingWSGIServer,), {"address_family": family})
        app = make_wsgi_app(self.registry)
        server: WSGIServer = make_server(
            addr, port, app, server_class, handler_class=_SilentHandler
        )
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": _POLL},
            name="llm-monitor-metrics", daemon=True,
        )  # fmt: skip
        thread.start()
        self._server, self._thread = server, thread

    def stop(self) -> None:
        """Stop serving and release the port; idempotent."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    # -- exposition (scrape thread) -------------------------------------------------------

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            seeded = self._seeded
            usage = [(k, _copy(v)) for k, v in self._usage.items()]
            events = dict(self._events)
            errors = dict(self._errors)
            last = dict(self._last_event)
            budgets = list(self._budgets)
            limits = list(self._limits)
        if seeded:
            yield from _usage_families(usage)
        yield from _budget_families(budgets)
        yield from _limit_families(limits)
        yield from self._health_families(events, errors, last)

    def _health_families(
        self, events: dict[str, int], errors: dict[str, int], last: dict[str, float]
    ) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "llm_monitor_up", "1 while the llm-monitor daemon serves metrics", value=1
        )
        yield up
        info = GaugeMetricFamily(
            "llm_monitor_build_info", "llm-monitor version", labels=["version"]
        )
        info.add_metric([__version__], 1)
        yield info
        yield GaugeMetricFamily(
            "llm_monitor_start_time_seconds",
            "When this daemon started (Unix time)",
            value=self._started,
        )
        current = self.state() if self.state is not None else "ready"
        state = GaugeMetricFamily(
            "llm_monitor_state", "1 for the daemon's current state", labels=["state"]
        )
        for name in sorted({*STATES, current}):
            state.add_metric([name], 1 if name == current else 0)
        yield state
        sources = sorted({*events, *errors})
        for (name, documentation), counts in zip(_SOURCE_COUNTERS, (events, errors), strict=True):
            counter = CounterMetricFamily(name, documentation, labels=["source"])
            for source in sources:
                counter.add_metric([source], counts.get(source, 0))
            yield counter
        newest = GaugeMetricFamily(
            "llm_monitor_last_event_timestamp_seconds",
            "Timestamp of the newest usage event per source (Unix time)",
            labels=["source"],
        )
        for source, ts in sorted(last.items()):
            newest.add_metric([source], ts)
        yield newest


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _SilentHandler(WSGIRequestHandler):
    """Scrapes every 15 s would flood the daemon's log."""

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _best_family(host: str, port: int) -> tuple[socket.AddressFamily, str]:
    """IPv4 or IPv6, whichever `host` is ("::1" needs AF_INET6)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, _, _, _, sockaddr = infos[0]
    return family, str(sockaddr[0])


class _Collector:
    """Registered in the Metrics' own registry; prometheus_client calls `collect`."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        return self._metrics.collect()


def _copy(s: _Sums) -> _Sums:
    return _Sums(
        s.cost_nano, s.input, s.output, s.cache_read, s.cache_write, s.calls, s.unpriced_calls
    )


def _usage_families(usage: Sequence[tuple[tuple[str, str, str], _Sums]]) -> Iterator[Metric]:
    cost = CounterMetricFamily(
        "llm_cost_usd", "Cost of LLM API calls in USD (total ever)", labels=list(_USAGE_LABELS)
    )
    tokens = CounterMetricFamily(
        "llm_tokens",
        "Tokens of LLM API calls (total ever); cache_read and cache_write are part of input",
        labels=[*_USAGE_LABELS, "kind"],
    )
    calls = CounterMetricFamily(
        "llm_calls", "LLM API calls (total ever)", labels=list(_USAGE_LABELS)
    )
    unpriced = CounterMetricFamily(
        "llm_unpriced_calls",
        "LLM API calls whose cost is unknown (no price for the model)",
        labels=list(_USAGE_LABELS),
    )
    for labels, s in sorted(usage):
        values = list(labels)
        cost.add_metric(values, _usd(s.cost_nano))
        for kind, n in zip(
            TOKEN_KINDS, (s.input, s.output, s.cache_read, s.cache_write), strict=True
        ):
            tokens.add_metric([*values, kind], n)
        calls.add_metric(values, s.calls)
        unpriced.add_metric(values, s.unpriced_calls)
    yield from (cost, tokens, calls, unpriced)


def _budget_families(budgets: Sequence[Mapping[str, Any]]) -> Iterator[Metric]:
    families = {
        "spent_usd": GaugeMetricFamily(
            "llm_budget_spent_usd", "Spent in the budget's current period (USD)",
            labels=list(_BUDGET_LABELS),
        ),
        "limit_usd": GaugeMetricFamily(
            "llm_budget_limit_usd", "The budget's limit per period (USD)",
            labels=list(_BUDGET_LABELS),
        ),
        "forecast_usd": GaugeMetricFamily(
            "llm_budget_forecast_usd", "Forecast spend by the end of the period (USD)",
            labels=list(_BUDGET_LABELS),
        ),
    }  # fmt: skip
    fraction = GaugeMetricFamily(
        "llm_budget_fraction", "Spent / limit in the current period", labels=list(_BUDGET_LABELS)
    )
    for b in budgets:
        labels = [str(b.get("name", "")), str(b.get("period", ""))]
        for field, family in families.items():
            value = _money(b.get(field))
            if value is not None:
                family.add_metric(labels, value)
        frac = b.get("fraction")
        if isinstance(frac, int | float) and not isinstance(frac, bool):
            fraction.add_metric(labels, float(frac))
    yield from families.values()
    yield fraction


def _limit_families(limits: Sequence[Mapping[str, Any]]) -> Iterator[Metric]:
    labels = ["tool", "window", "basis"]
    used = GaugeMetricFamily(
        "llm_limit_used_ratio", "Share of a plan window used (1 = spent)", labels=labels
    )
    resets = GaugeMetricFamily(
        "llm_limit_resets_at_seconds", "When a plan window resets (Unix time)", labels=labels
    )
    for w in limits:
        key = [str(w.get("tool", "")), str(w.get("window", "")), str(w.get("basis", ""))]
        pct = w.get("used_percent")
        if isinstance(pct, int | float) and not isinstance(pct, bool):
            used.add_metric(key, float(pct) / 100)
        with contextlib.suppress(TypeError, ValueError):
            resets.add_metric(key, datetime.fromisoformat(str(w["resets_at"])).timestamp())
    yield used
    yield resets


def maybe_start(
    config: Config,
    ledger: Ledger | sqlite3.Connection | None = None,
    *,
    state: Callable[[], str] | None = None,
) -> Metrics | None:
    """The daemon's one call: None, and no port opened, unless `[metrics] listen` is set.

    Otherwise a Metrics seeded from `ledger` (exposed only once seeded) and serving. A
    port that cannot be bound is logged as an error and gives None: the daemon keeps
    counting and alerting (and Prometheus reports the target down).
    """
    listen = config.metrics.listen
    if listen is None:
        return None
    metrics = Metrics(state=state)
    if ledger is not None:
        metrics.seed_from_ledger(ledger)
    else:
        metrics.mark_seeded()
    try:
        metrics.start(*listen)
    except OSError as exc:
        log.error("metrics: cannot listen on %s:%d: %s", *listen, exc.strerror or exc)
        return None
    log.info("metrics: serving http://%s:%d/metrics", *(metrics.address or listen))
    return metrics


__all__ = ["MODEL_CAP", "Metrics", "maybe_start"]
