"""`llm-monitor demo`'s simulator: every supported usage format, written live into one directory.

It plays the tools the monitor knows — Claude Code and Codex sessions, a Studio run, the
novel pipeline's Haiku cost file, an OpenAI app's token tracker, the image describer's
log and workspace, the QC back-end's usage log and the spool — each writing its own file
shape (the ones in `examples/`) the way the tool does: appending lines, or rewriting a
JSON document whole. Timestamps are "now" (the injectable clock), zone-less ones in
local time as those tools write them.

`write_demo_config` writes the matching config: one source per format, the state dir
and socket inside the demo directory (never the user's daemon), and a small daily budget
that the simulated spend crosses at 50, 80 and 100 % within about a minute, so the gauges
move and alerts go out through whatever `[alerts] urls` the user configured.

No asyncio at import; nothing of the daemon or the dashboard.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from monitor.spool_writer import append_record

if TYPE_CHECKING:
    import asyncio

DEMO_RATE: Final = 3.0
"""Simulated calls per second."""
DEMO_LIMIT: Final = Decimal("2.50")
"""USD per day for the demo budget: at DEMO_RATE the spend passes it in well under a minute."""
STATE_DIR: Final = "state"

FORMATS: Final[tuple[tuple[str, float], ...]] = (
    ("claude-code", 0.28),
    ("codex", 0.14),
    ("studio-tokens", 0.12),
    ("qc-usage-log", 0.08),
    ("image-describer-log", 0.10),
    ("image-describer-workspace", 0.05),
    ("openai-tracker", 0.08),
    ("haiku-costs", 0.04),
    ("spool", 0.11),
)
"""Each format and its share of the simulated calls."""

SOURCES: Final[tuple[tuple[str, str, str], ...]] = (
    ("claude-code", "claude-code", "claude/projects/**/*.jsonl"),
    ("codex", "codex", "codex/sessions/**/rollout-*.jsonl"),
    ("studio", "studio-tokens", "studio/output/**/run_*/tokens.jsonl"),
    ("novel", "haiku-costs", "novel/**/.costs/haiku_usage.json"),
    ("assistant", "openai-tracker", "assistant/**/token_usage.json"),
    ("image-describer", "image-describer-log", "photos/Descriptions/wf_*/logs/*.log"),
    ("image-workspace", "image-describer-workspace", "photos/Descriptions/*/workspace.json"),
    ("qc", "qc-usage-log", "qc/logs/usage*.jsonl"),
)
"""(source name, format, glob under the demo root); the spool needs no entry."""

_CLAUDE_MODELS: Final = (
    ("claude-sonnet-4-5-20250929", 0.6),
    ("claude-haiku-4-5-20251001", 0.3),
    ("claude-opus-4-1-20250805", 0.1),
)
_STUDIO_OPS: Final = ("advocate", "contrarian", "synthesizer", "judge")
_STUDIO_MODELS: Final = ("gpt-4o", "gpt-4o-mini", "claude-sonnet-4-5")
_TRACKER_OPS: Final = (
    ("Notification Generation", "gpt-4o-mini"),
    ("Title Generation", "gpt-3.5-turbo"),
    ("Custom Operation", "gpt-4o"),
)
_DESCRIBERS: Final = (
    ("OpenAI", "gpt-4o"),
    ("OpenAI", "gpt-4o-mini"),
    ("Claude", "claude-sonnet-4-5"),
)
_WORKSPACE_MODELS: Final = (("openai", "gpt-4o-mini"), ("claude", "claude-sonnet-4-5"))
_SPOOL_CALLS: Final = (
    ("gpt-4o-mini", "openai", "summarize"),
    ("claude-haiku-4-5", "anthropic", "classify"),
    ("gemini-2.5-flash", "google", "extract"),
    ("acme-summarizer-v2", "acme", "summarize"),  # a private model: shows up as unpriced
)
_QC_CLIENTS: Final = (("diageo", "diageo_key_visual"), ("brandco", "brandco_packaging"))
_PROJECTS: Final = ("/home/demo/webapp", "/home/demo/api-server")


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _local(ts: datetime) -> datetime:
    """The naive local wall-clock time the seed tools write."""
    return ts.astimezone().replace(tzinfo=None)


def _iso_z(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _append(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(text)


def _rewrite(path: Path, doc: Any) -> None:
    """Replace a JSON document atomically, as a careful tool would (a torn write is retried
    by the monitor anyway)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


@dataclass
class _Codex:
    path: Path
    totals: list[int] = field(default_factory=lambda: [0, 0, 0, 0])


class Simulator:
    """Writes one simulated API call per `step()`, in a format picked at random.

    `rate` is calls per second for `run()`; `seed` makes the sequence repeatable; `clock`
    gives "now" (tests drive it by hand).
    """

    def __init__(
        self,
        root: Path,
        rate: float = DEMO_RATE,
        seed: int | None = None,
        *,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.root = Path(root)
        self.rate = rate
        self.clock = clock
        self.rng = random.Random(seed)
        self.steps = 0
        self.counts: dict[str, int] = {}
        started = _local(clock())
        stamp = started.strftime("%Y%m%d_%H%M%S")
        self._claude_session = (
            self.root
            / "claude/projects/-home-demo-webapp"
            / (str(uuid.UUID(int=self.rng.getrandbits(128))) + ".jsonl")
        )
        self._cwd = _PROJECTS[0]
        self._codex_session: _Codex | None = None
        self._studio = self.root / f"studio/output/tech/run_tech_{stamp}/tokens.jsonl"
        self._studio_iteration = 1
        self._haiku = self.root / "novel/.costs/haiku_usage.json"
        self._haiku_doc: dict[str, Any] = {"sessions": []}
        self._tracker = self.root / "assistant/token_usage.json"
        self._tracker_doc: dict[str, Any] = {"start_time": started.isoformat(), "calls": []}
        wf = f"wf_openai_gpt-4o_narrative_{started:%Y%m%d}"
        self._describer_log = (
            self.root / f"photos/Descriptions/{wf}/logs/image_describer_{started:%Y%m%d}.log"
        )
        self._workspace = self.root / "photos/Descriptions/MyPhotos/workspace.json"
        self._workspace_doc: dict[str, Any] = {
            "version": "1.0",
            "directory_path": "/home/demo/Pictures/MyPhotos",
            "image_descriptions": {},
        }
        self._image = 1000
        self._qc = self.root / "qc/logs/usage.jsonl"
        self._spool = self.root / STATE_DIR / "spool"

    # -- driving ---------------------------------------------------------------------------

    def step(self) -> str:
        """Write one call; returns the format written."""
        fmt = self.rng.choices([f for f, _ in FORMATS], weights=[w for _, w in FORMATS])[0]
        now = self.clock()
        getattr(self, "_write_" + fmt.replace("-", "_"))(now)
        self.steps += 1
        self.counts[fmt] = self.counts.get(fmt, 0) + 1
        return fmt

    async def run(self, stop: asyncio.Event) -> None:
        """Write calls at about `rate` per second (Poisson arrivals) until `stop` is set."""
        import asyncio

        while not stop.is_set():
            self.step()
            try:  # not wait_for, which in Python 3.11 can swallow a cancellation
                async with asyncio.timeout(self.rng.expovariate(self.rate)):
                    await stop.wait()
            except TimeoutError:
                pass

    # -- the formats -------------------------------------------------------------------------

    def _tokens(self, low: int, high: int) -> int:
        return int(self.rng.uniform(low, high))

    def _write_claude_code(self, now: datetime) -> None:
        model = self.rng.choices([m for m, _ in _CLAUDE_MODELS], [w for _, w in _CLAUDE_MODELS])[0]
        if self.rng.random() < 0.05:
            self._claude_session = self._claude_session.with_name(
                str(uuid.UUID(int=self.rng.getrandbits(128))) + ".jsonl"
            )
        msg_id = f"msg_{self.rng.getrandbits(64):016x}"
        request_id = f"req_{self.rng.getrandbits(64):016x}"
        output = self._tokens(50, 1500)
        usage: dict[str, Any] = {
            "input_tokens": self._tokens(3, 40),
            "cache_creation_input_tokens": self._tokens(0, 4000),
            "cache_read_input_tokens": self._tokens(8000, 60000),
            "output_tokens": output,
            "service_tier": "standard",
        }
        line = {
            "parentUuid": str(uuid.UUID(int=self.rng.getrandbits(128))),
            "isSidechain": False,
            "userType": "external",
            "cwd": self._cwd,
            "sessionId": self._claude_session.stem,
            "version": "2.0.14",
            "gitBranch": "main",
            "type": "assistant",
            "message": {
                "id": msg_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [{"type": "text", "text": "…"}],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": usage,
            },
            "requestId": request_id,
            "uuid": str(uuid.UUID(int=self.rng.getrandbits(128))),
            "timestamp": _iso_z(now),
        }
        text = json.dumps(line) + "\n"
        if self.rng.random() < 0.2:
            # Claude Code writes a message again while it streams, with a growing usage.
            first = json.loads(text)
            first["message"]["usage"]["output_tokens"] = max(1, output // 4)
            text = json.dumps(first) + "\n" + text
        _append(self._claude_session, text)

    def _write_codex(self, now: datetime) -> None:
        if self._codex_session is None or self.rng.random() < 0.05:
            session = uuid.UUID(int=self.rng.getrandbits(128))
            local = _local(now)
            path = self.root / (
                f"codex/sessions/{local:%Y/%m/%d}/rollout-{local:%Y-%m-%dT%H-%M-%S}-{session}.jsonl"
            )
            meta = {
                "timestamp": _iso_z(now),
                "type": "session_meta",
                "payload": {
                    "id": str(session),
                    "timestamp": _iso_z(now),
                    "cwd": _PROJECTS[1],
                    "originator": "codex_cli_rs",
                    "cli_version": "0.58.0",
                    "source": "cli",
                    "model_provider": "openai",
                },
            }
            context = {
                "timestamp": _iso_z(now),
                "type": "turn_context",
                "payload": {
                    "cwd": _PROJECTS[1],
                    "approval_policy": "on-request",
                    "model": self.rng.choice(("gpt-5-codex", "gpt-5")),
                    "effort": "medium",
                    "summary": "auto",
                },
            }
            _append(path, json.dumps(meta) + "\n" + json.dumps(context) + "\n")
            self._codex_session = _Codex(path)
        c = self._codex_session
        delta = [self._tokens(4000, 30000), 0, self._tokens(100, 2000), 0]
        delta[1] = int(delta[0] * self.rng.uniform(0.3, 0.9))
        delta[3] = int(delta[2] * self.rng.uniform(0.2, 0.7))
        c.totals = [a + b for a, b in zip(c.totals, delta, strict=True)]
        names = ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_output_tokens")

        def usage(values: list[int]) -> dict[str, int]:
            d = dict(zip(names, values, strict=True))
            d["total_tokens"] = values[0] + values[2]
            return d

        line = {
            "timestamp": _iso_z(now),
            "type": "event_msg",
            "payload": {
                "type": "token_count",
                "info": {
                    "total_token_usage": usage(c.totals),
                    "last_token_usage": usage(delta),
                    "model_context_window": 272000,
                },
                "rate_limits": {
                    "primary": {
                        "used_percent": min(100.0, 4.0 + self.steps * 0.25),
                        "window_minutes": 300,
                        "resets_at": int(now.timestamp()) // 18000 * 18000 + 18000,
                    },
                    "secondary": {
                        "used_percent": 21.0,
                        "window_minutes": 10080,
                        "resets_at": int(now.timestamp()) // 604800 * 604800 + 604800,
                    },
                    "plan_type": "plus",
                },
            },
        }
        _append(c.path, json.dumps(line) + "\n")

    def _write_studio_tokens(self, now: datetime) -> None:
        op = _STUDIO_OPS[self.steps % len(_STUDIO_OPS)]
        if op == "advocate":
            self._studio_iteration += 1
        inp, out = self._tokens(1000, 4000), self._tokens(500, 1800)
        record = {
            "timestamp": _local(now).isoformat(timespec="seconds"),
            "operation": op,
            "iteration": self._studio_iteration,
            "input_tokens": inp,
            "output_tokens": out,
            "total_tokens": inp + out,
            "model": self.rng.choice(_STUDIO_MODELS),
            "cost_usd": None,
        }
        _append(self._studio, json.dumps(record) + "\n")

    def _write_haiku_costs(self, now: datetime) -> None:
        calls = self._tokens(5, 40)
        inp, out = calls * self._tokens(400, 900), calls * self._tokens(80, 200)
        cost = Decimal(inp) * Decimal("0.8") / 1_000_000 + Decimal(out) * 4 / 1_000_000
        n = len(self._haiku_doc["sessions"]) + 1
        self._haiku_doc["sessions"].append(
            {
                "timestamp": _local(now).isoformat(timespec="seconds"),
                "session_name": f"generate_images_chapters_{n}",
                "input_tokens": inp,
                "output_tokens": out,
                "api_calls": calls,
                "cost_usd": float(round(cost, 4)),
            }
        )
        sessions = self._haiku_doc["sessions"]
        self._haiku_doc["total_input_tokens"] = sum(s["input_tokens"] for s in sessions)
        self._haiku_doc["total_output_tokens"] = sum(s["output_tokens"] for s in sessions)
        _rewrite(self._haiku, self._haiku_doc)

    def _write_openai_tracker(self, now: datetime) -> None:
        op, model = self.rng.choice(_TRACKER_OPS)
        prompt, completion = self._tokens(30, 400), self._tokens(10, 200)
        calls = self._tracker_doc["calls"]
        calls.append(
            {
                "timestamp": _local(now).isoformat(timespec="microseconds"),
                "operation": op,
                "model": model,
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
            }
        )
        del calls[:-200]  # the tracker keeps a bounded history
        self._tracker_doc["calls_count"] = self._tracker_doc.get("calls_count", 0) + 1
        _rewrite(self._tracker, self._tracker_doc)

    def _write_image_describer_log(self, now: datetime) -> None:
        provider, model = self.rng.choice(_DESCRIBERS)
        self._image += 1
        image = f"IMG_{self._image}.jpg"
        prompt, completion = self._tokens(2000, 3500), self._tokens(300, 900)
        stamp = _local(now).strftime("%Y-%m-%d %H:%M:%S,%f")[:-3]
        lines = [
            f"Processing: {image}",
            f"Generated description for {image} (Provider: {provider}, Model: {model})",
            f"Token usage: {prompt + completion:,} total ({prompt:,} prompt + "
            f"{completion:,} completion)",
            f"Successfully processed: {image}",
        ]
        _append(self._describer_log, "".join(f"INFO - {m} - ({stamp})\n" for m in lines))

    def _write_image_describer_workspace(self, now: datetime) -> None:
        provider, model = self.rng.choice(_WORKSPACE_MODELS)
        self._image += 1
        prompt, completion = self._tokens(700, 7000), self._tokens(100, 1200)
        descriptions = self._workspace_doc["image_descriptions"]
        descriptions[f"IMG_{self._image}.jpg"] = [
            {
                "id": str(int(now.timestamp() * 1000)) + f"{self._image:04d}",
                "text": "A demo description.",
                "model": model,
                "provider": provider,
                "prompt_style": "narrative",
                "created": _local(now).isoformat(timespec="seconds"),
                "total_tokens": prompt + completion,
                "prompt_tokens": prompt,
                "completion_tokens": completion,
            }
        ]
        self._workspace_doc["image_files"] = sorted(descriptions)
        _rewrite(self._workspace, self._workspace_doc)

    def _write_qc_usage_log(self, now: datetime) -> None:
        client, profile = self.rng.choice(_QC_CLIENTS)
        local = _local(now)
        session = local.strftime("%Y%m%d_%H%M%S") + f"_{self.steps}"
        common = {
            "session_id": session,
            "client": client,
            "profile": profile,
            "user_email": f"qa@{client}.example",
        }
        by_provider = {}
        for name in ("OpenAI", "Gemini"):
            p, c = self._tokens(3000, 8000), self._tokens(500, 1500)
            by_provider[name] = {"total_tokens": p + c, "prompt_tokens": p, "completion_tokens": c}
        complete = {
            "event": "analysis_complete",
            "timestamp": local.isoformat(timespec="seconds"),
            **common,
            "checks_completed": self._tokens(5, 12),
            "overall_score": round(self.rng.uniform(70, 98), 1),
            "token_usage": {
                "total_tokens": sum(v["total_tokens"] for v in by_provider.values()),
                "by_provider": by_provider,
            },
        }
        start = {"event": "analysis_start", "timestamp": complete["timestamp"], **common}
        _append(self._qc, json.dumps(start) + "\n" + json.dumps(complete) + "\n")

    def _write_spool(self, now: datetime) -> None:
        model, provider, op = self.rng.choices(_SPOOL_CALLS, weights=(4, 3, 3, 1))[0]
        append_record(
            self._spool,
            {
                "ts": now,
                "source": "nightly-eval",
                "model": model,
                "provider": provider,
                "operation": op,
                "input_tokens": self._tokens(500, 6000),
                "output_tokens": self._tokens(50, 600),
                "tags": {"run": "demo", "dataset": "support-tickets"},
            },
        )


# -- the config ------------------------------------------------------------------------------


def _toml_str(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def user_alert_targets() -> tuple[tuple[str, ...], Path | None]:
    """The notification targets of the user's own config (none if it has none or is bad)."""
    from monitor.config import ConfigError, load_config

    try:
        alerts = load_config().alerts
    except (ConfigError, OSError):
        return (), None
    return alerts.urls, alerts.apprise_config


def demo_config_text(
    root: Path,
    *,
    limit: Decimal = DEMO_LIMIT,
    urls: tuple[str, ...] = (),
    apprise_config: Path | None = None,
) -> str:
    root = Path(root).absolute()
    state = root / STATE_DIR
    lines = [
        "# llm-monitor demo: written by `llm-monitor demo`, removed when it ends.",
        "[monitor]",
        'timezone = "local"',
        f"state_dir = {_toml_str(str(state))}",
        f"socket = {_toml_str(str(state / 'llm-monitor.sock'))}",
        "",
    ]
    for name, fmt, glob in SOURCES:
        lines += [
            "[[sources]]",
            f"name = {_toml_str(name)}",
            f"format = {_toml_str(fmt)}",
            f"paths = [{_toml_str(str(root / glob))}]",
            "",
        ]
    lines += [
        "[[budgets]]",
        'name = "demo-daily"',
        'period = "day"',
        f"limit = {limit}",
        "warn_at = [0.5, 0.8, 1.0]",
        "forecast = true",
        "",
        "[alerts]",
        f"urls = [{', '.join(_toml_str(u) for u in urls)}]",
    ]
    if apprise_config is not None:
        lines.append(f"apprise_config = {_toml_str(str(apprise_config))}")
    return "\n".join(lines) + "\n"


def write_demo_config(
    root: Path,
    *,
    limit: Decimal = DEMO_LIMIT,
    copy_user_alerts: bool = True,
) -> Path:
    """Write `<root>/config.toml` for the demo; alert targets copied from the user's config."""
    urls, apprise_config = user_alert_targets() if copy_user_alerts else ((), None)
    root = Path(root)
    (root / STATE_DIR / "spool").mkdir(parents=True, exist_ok=True)
    path = root / "config.toml"
    path.write_text(
        demo_config_text(root, limit=limit, urls=urls, apprise_config=apprise_config),
        encoding="utf-8",
    )
    return path


def make_demo_root() -> Path:
    """A fresh private directory; short, so the socket path inside stays under 107 bytes."""
    return Path(tempfile.mkdtemp(prefix="llm-monitor-demo-"))
