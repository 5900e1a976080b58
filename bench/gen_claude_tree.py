"""Deterministic generator of a realistic Claude Code usage tree, with its ground truth.

Writes `<out>/projects/<project-dir>/<session-uuid>.jsonl` (plus nested
`<session-uuid>/subagents/agent-<id>.jsonl` files) in the line shapes Claude Code 2.x
writes, and `<out>/truth.json`: what a correct reader must count, per UTC day, per model
and overall.

What makes the tree realistic where it matters for a reader's speed and correctness:
- Lines are compact JSON (Claude Code writes `JSON.stringify`), so byte pre-filters such
  as `"usage":{` behave as on real data; text sizes follow the real mix of prompts,
  thinking, tool calls and (large, duplicated into `toolUseResult`) tool results.
- Claude Code writes one assistant message once per content block while it streams:
  the copies share `message.id`, `requestId`, input and cache counts, and carry a
  growing `output_tokens`; the last copy is the complete one. The truth counts each
  message once with its final (largest) usage — what ccusage 20.x keeps too (it keeps
  the copy with the largest token total). Copies of one message never straddle a UTC
  midnight, so "day of the first copy" and "day of the kept copy" agree.
- `<synthetic>` lines (API-error placeholders, zero usage, no `requestId`) and lines
  without usage (prompts, tool results, summaries, snapshots, system lines) must not
  count.

The calls fall in `[end - days, end)`: `end` is a UTC date (the window ends at its
midnight) or a UTC hour "YYYY-MM-DDTHH" (at that hour's start), by default the current
UTC hour, so today holds calls up to it, as a working user's tree does. No line's
timestamp and no file's mtime (its last line's time) is at or after `end`: the monitor
rejects calls in the future. `days` counts whole days back from `end`, so an end at
an hour after 00 touches `days + 1` UTC dates, the first and the last partly (truth.json's
`days` are UTC dates: the last one is `end`'s date, so far).

Every file is generated from its own seeded RNG, so the tree is byte-identical whatever
the number of worker processes. The bytes depend on the window's instants, not on how
`end` is spelled: "2026-11-01" and "2026-11-01T00" give the same tree.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import random
import re
import shutil
import sys
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import msgspec

DEFAULT_MESSAGES: Final = 200_000
DEFAULT_FILES: Final = 22_000
DEFAULT_DAYS: Final = 90
GENERATOR_VERSION: Final = 1

# Share of sessions per main model; subagents use haiku more often (the Explore agent).
MODELS: Final[tuple[tuple[str, float], ...]] = (
    ("claude-sonnet-4-5-20250929", 0.55),
    ("claude-opus-4-1-20250805", 0.15),
    ("claude-haiku-4-5-20251001", 0.12),
    ("claude-sonnet-4-20250514", 0.18),
)
_LONG_CONTEXT_MODELS: Final = frozenset({"claude-sonnet-4-5-20250929", "claude-sonnet-4-20250514"})
VERSIONS: Final = ("2.0.8", "2.0.14", "2.0.22", "2.0.28", "2.0.31", "2.0.37", "2.0.42", "2.0.50")

# Streamed copies per message: P(1), P(2), P(3), P(4).
_COPY_WEIGHTS: Final = (0.64, 0.22, 0.10, 0.04)
_SUBAGENT_SHARE: Final = 0.3
_SYNTHETIC_RATE: Final = 0.003
_SYSTEM_RATE: Final = 0.01
_END_TURN_RATE: Final = 0.15
_UNCACHED_RATE: Final = 0.03

# Text sizes, tuned so the default tree has Claude Code's bytes per line (~840).
_CHARS_PER_TOKEN: Final = 0.5
_TOOL_RESULT_MEDIAN: Final = 40

_MS_DAY: Final = 86_400_000
_END_RE: Final = re.compile(r"\d{4}-\d{2}-\d{2}(T\d{2})?")
# Upper bound of one message's time step (a prompt's think time, a midnight skip and
# the streamed copies), used to place every session inside the window.
_MAX_STEP_MS: Final = 340_000

_PROJECT_NAMES: Final = tuple(
    """api-gateway billing web-frontend infra data-pipeline mobile-app ml-experiments docs
    auth-service search llm-monitor dotfiles scraper analytics notebooks cli-tools payments
    design-system backend game-engine compiler blog chatbot etl-jobs k8s-config""".split()
)
_BRANCHES: Final = ("main", "main", "main", "dev", "feature/refactor", "fix/flaky-test", "")
_TOOLS: Final = ("Bash", "Read", "Edit", "Grep", "Glob", "Write", "TodoWrite", "Task")
_ALNUM: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_B64: Final = _ALNUM + "+/"

# Prose, code, escapes and non-ASCII, so parsers meet what real transcripts hold.
_WORDS: Final = tuple(
    """the a to of and in is that for it this we with function return value file test
    error config should now let me check update the parser handle case where data import
    from def class self None True False if else for while await async const export type
    interface string number => { } ( ) [ ] == != += -> :: // "key" 'value' src/main.py
    tests/test_api.py package.json README.md npm run build pytest -q git diff status
    commit PASSED FAILED assert response request user session cache token über naïve →
    — ✓ résumé 日本 ok 42 3.14 0x1f \\n path/to/module.ts SELECT FROM WHERE id = 1;
    TODO: FIXME Error: Traceback line 12,""".split()
) + ("\t", "\n", "\n", "\n    ", "\n        ")


@dataclass(frozen=True, slots=True)
class TreeParams:
    """Everything the tree's bytes depend on (so equal params → identical tree)."""

    messages: int = DEFAULT_MESSAGES
    files: int = DEFAULT_FILES
    days: int = DEFAULT_DAYS
    end: str = ""  # UTC "YYYY-MM-DD" or "YYYY-MM-DDTHH"; the window is [end - days, end)
    seed: int = 1
    costs: bool = True

    def scaled(self, scale: float) -> TreeParams:
        return TreeParams(
            messages=max(1, round(self.messages * scale)),
            files=max(1, round(self.files * scale)),
            days=self.days,
            end=self.end,
            seed=self.seed,
            costs=self.costs,
        )

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "generator_version": GENERATOR_VERSION}


@dataclass(frozen=True, slots=True)
class FileSpec:
    """One file of the plan: where it goes and what conversation it holds."""

    index: int
    relpath: str
    session_id: str
    cwd: str
    branch: str
    agent_id: str | None
    messages: int
    start_ms: int
    model: str
    long_context: bool
    one_hour_cache: bool


@dataclass(slots=True)
class Partial:
    """What one or more files contributed: tree statistics and truth sums."""

    files: int = 0
    subagent_files: int = 0
    bytes: int = 0
    lines: int = 0
    assistant_lines: int = 0
    usage_bytes: int = 0
    duplicate_lines: int = 0
    synthetic_lines: int = 0
    no_usage_lines: int = 0
    last_ms: int = 0  # the latest line's time (epoch ms): checked to be before `end`
    # (day, model) → [messages, input, output, cache_creation, cache_read, cache_creation_1h]
    sums: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    costs: dict[tuple[str, str], Decimal] = field(default_factory=dict)

    def merge(self, other: Partial) -> None:
        self.files += other.files
        self.subagent_files += other.subagent_files
        self.bytes += other.bytes
        self.lines += other.lines
        self.assistant_lines += other.assistant_lines
        self.usage_bytes += other.usage_bytes
        self.duplicate_lines += other.duplicate_lines
        self.synthetic_lines += other.synthetic_lines
        self.no_usage_lines += other.no_usage_lines
        self.last_ms = max(self.last_ms, other.last_ms)
        for key, values in other.sums.items():
            mine = self.sums.setdefault(key, [0] * len(values))
            for i, v in enumerate(values):
                mine[i] += v
        for key, cost in other.costs.items():
            self.costs[key] = self.costs.get(key, Decimal(0)) + cost


TOKEN_FIELDS: Final = (
    "messages",
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_read_input_tokens",
    "cache_creation_1h_input_tokens",
)


# ---------------------------------------------------------------------------- plan


def parse_end(text: str) -> datetime:
    """The instant a window ends: a UTC date "YYYY-MM-DD" (its midnight) or a UTC hour
    "YYYY-MM-DDTHH" (that hour's start). ValueError for anything else."""
    if not _END_RE.fullmatch(text):
        raise ValueError(f"not a UTC date YYYY-MM-DD or hour YYYY-MM-DDTHH: {text!r}")
    d = date.fromisoformat(text[:10])
    return datetime(d.year, d.month, d.day, int(text[11:] or 0), tzinfo=UTC)


def end_arg(text: str) -> str:
    """argparse type of `--end`: checked, kept as written (it is part of the params);
    "" (the default: the current hour) as it is."""
    if not text:
        return text
    try:
        parse_end(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def _end_ms(end: str) -> int:
    return int(parse_end(end).timestamp() * 1000)


def resolve_end(params: TreeParams) -> TreeParams:
    """Pin an empty `end` to the current UTC hour ("YYYY-MM-DDTHH"), so the params name
    one exact tree, and that tree has calls earlier today, as a user who is working has
    (the window ends at the hour's start: nothing in it is later than now). So the
    default tree is regenerated at most once an hour. A given `end` is kept as it is: a
    plain date still ends the window at that date's midnight."""
    if params.end:
        return params
    hour = datetime.now(UTC).strftime("%Y-%m-%dT%H")
    return TreeParams(params.messages, params.files, params.days, hour, params.seed, params.costs)


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _rand_id(rng: random.Random, n: int) -> str:
    return "".join(rng.choices(_ALNUM, k=n))


def _allocate(total: int, weights: list[float]) -> list[int]:
    """Split `total` over the weights, at least 1 each, summing exactly to `total`."""
    n = len(weights)
    rest = total - n
    wsum = sum(weights)
    shares = [w / wsum * rest for w in weights]
    counts = [1 + int(s) for s in shares]
    short = total - sum(counts)
    by_remainder = sorted(range(n), key=lambda i: (int(shares[i]) - shares[i], i))
    for i in by_remainder[:short]:
        counts[i] += 1
    return counts


def plan_tree(params: TreeParams) -> list[FileSpec]:
    """The files of the tree, each with its conversation's size, start and model."""
    params = resolve_end(params)
    if params.messages < params.files:
        raise ValueError("need at least one assistant message per file")
    rng = random.Random(f"plan:{params.seed}")
    end_ms = _end_ms(params.end)
    window_ms = params.days * _MS_DAY
    start_ms = end_ms - window_ms

    n_projects = min(len(_PROJECT_NAMES) * 4, max(min(3, params.files), params.files // 500))
    projects: list[tuple[str, str]] = []
    for i in range(n_projects):
        name = _PROJECT_NAMES[i % len(_PROJECT_NAMES)]
        if i >= len(_PROJECT_NAMES):
            name = f"{name}-{i // len(_PROJECT_NAMES) + 1}"
        cwd = f"/home/dev/src/{name}"
        projects.append((cwd, cwd.replace("/", "-").replace(".", "-")))
    project_weights = [1.0 / (i + 1) ** 0.8 for i in range(n_projects)]

    n_sub = round(params.files * _SUBAGENT_SHARE) if params.files > 1 else 0
    n_main = params.files - n_sub
    weights = [rng.lognormvariate(0.0, 1.1) for _ in range(n_main)]
    weights += [0.6 * rng.lognormvariate(0.0, 0.9) for _ in range(n_sub)]
    counts = _allocate(params.messages, weights)
    if max(counts) * _MAX_STEP_MS > window_ms:
        raise ValueError("too many messages per file for the time window; raise --days")

    specs: list[FileSpec] = []
    for i in range(n_main):
        cwd, project_dir = rng.choices(projects, project_weights)[0]
        session_id = _uuid(rng)
        n = counts[i]
        model = rng.choices([m for m, _ in MODELS], [w for _, w in MODELS])[0]
        specs.append(
            FileSpec(
                index=i,
                relpath=f"projects/{project_dir}/{session_id}.jsonl",
                session_id=session_id,
                cwd=cwd,
                branch=rng.choice(_BRANCHES),
                agent_id=None,
                messages=n,
                start_ms=start_ms + rng.randrange(window_ms - n * _MAX_STEP_MS + 1),
                model=model,
                long_context=model in _LONG_CONTEXT_MODELS and rng.random() < 0.02,
                one_hour_cache=rng.random() < 0.2,
            )
        )
    main_weights = [float(s.messages) for s in specs]
    for j in range(n_sub):
        i = n_main + j
        parent = rng.choices(specs[:n_main], main_weights)[0]
        n = counts[i]
        agent_id = f"{rng.getrandbits(32):08x}"
        offset = rng.randrange(parent.messages * 30_000 + 1)
        latest = end_ms - n * _MAX_STEP_MS
        model = "claude-haiku-4-5-20251001" if rng.random() < 0.4 else parent.model
        project_dir = parent.relpath.split("/")[1]
        specs.append(
            FileSpec(
                index=i,
                relpath=f"projects/{project_dir}/{parent.session_id}/subagents/agent-{agent_id}.jsonl",
                session_id=parent.session_id,
                cwd=parent.cwd,
                branch=parent.branch,
                agent_id=agent_id,
                messages=n,
                start_ms=min(parent.start_ms + offset, latest),
                model=model,
                long_context=False,
                one_hour_cache=parent.one_hour_cache,
            )
        )
    return specs


# ----------------------------------------------------------------------- file content


class _Text:
    """Slices of one pre-built text corpus: realistic bytes (code, prose, escapes,
    non-ASCII) without paying for random text per line. The corpus never contains
    `:null`, which ccusage would read as a forbidden null field."""

    def __init__(self) -> None:
        rng = random.Random("corpus")
        self.corpus = " ".join(rng.choices(_WORDS, k=400_000))
        self.b64 = "".join(rng.choices(_B64, k=200_000))

    def take(self, rng: random.Random, n: int) -> str:
        n = max(1, min(n, len(self.corpus) - 1))
        start = rng.randrange(len(self.corpus) - n)
        return self.corpus[start : start + n]

    def signature(self, rng: random.Random, n: int) -> str:
        start = rng.randrange(len(self.b64) - n)
        return self.b64[start : start + n]


_TEXT: _Text | None = None


def _text() -> _Text:
    global _TEXT
    if _TEXT is None:
        _TEXT = _Text()
    return _TEXT


def _iso(ms: int) -> str:
    dt = datetime.fromtimestamp(ms // 1000, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def _lognorm_int(rng: random.Random, median: float, sigma: float, lo: int, hi: int) -> int:
    return max(lo, min(hi, int(rng.lognormvariate(math.log(median), sigma))))


class _Session:
    """Writes one file's lines in order, tracking the conversation's cached context."""

    def __init__(self, spec: FileSpec, costs: bool) -> None:
        self.spec = spec
        self.rng = random.Random(f"file:{spec.index}:{spec.session_id}:{spec.agent_id}")
        self.text = _text()
        self.now = spec.start_ms
        self.parent: str | None = None
        self.version = VERSIONS[(spec.start_ms // _MS_DAY // 12) % len(VERSIONS)]
        self.context = 0
        self.limit = 380_000 if spec.long_context else 160_000
        self.out: list[bytes] = []
        self.part = Partial(files=1, subagent_files=int(spec.agent_id is not None))
        self.costs = costs
        self.pending_tools: list[tuple[str, str]] = []
        self.encoder = msgspec.json.Encoder()

    # -- envelope

    def _envelope(self, kind: str) -> dict[str, Any]:
        s = self.spec
        env: dict[str, Any] = {
            "parentUuid": self.parent,
            "isSidechain": s.agent_id is not None,
            "userType": "external",
            "cwd": s.cwd,
            "sessionId": s.session_id,
            "version": self.version,
            "gitBranch": s.branch,
        }
        if s.agent_id is not None:
            env["agentId"] = s.agent_id
        env["type"] = kind
        return env

    def _emit(self, obj: dict[str, Any], *, usage: bool = False) -> None:
        line = self.encoder.encode(obj) + b"\n"
        self.out.append(line)
        self.part.lines += 1
        self.part.bytes += len(line)
        if usage:
            self.part.usage_bytes += len(line)
        else:
            self.part.no_usage_lines += 1

    def _finish_line(self, env: dict[str, Any]) -> dict[str, Any]:
        u = _uuid(self.rng)
        env["uuid"] = u
        env["timestamp"] = _iso(self.now)
        self.parent = u
        return env

    # -- non-usage lines

    def summary(self) -> None:
        self._emit(
            {
                "type": "summary",
                "summary": self.text.take(self.rng, 40).strip() or "Session",
                "leafUuid": _uuid(self.rng),
            }
        )

    def prompt(self) -> None:
        rng = self.rng
        if rng.random() < 0.25 and self.spec.agent_id is None:
            self._emit(
                {
                    "type": "file-history-snapshot",
                    "messageId": _uuid(rng),
                    "snapshot": {
                        "messageId": _uuid(rng),
                        "trackedFileBackups": {},
                        "timestamp": _iso(self.now),
                    },
                    "isSnapshotUpdate": False,
                }
            )
        env = self._envelope("user")
        env["message"] = {
            "role": "user",
            "content": self.text.take(rng, _lognorm_int(rng, 45, 1.3, 5, 20_000)),
        }
        if self.spec.agent_id is None:
            env["thinkingMetadata"] = {"level": "high", "disabled": False, "triggers": []}
        self._emit(self._finish_line(env))
        self.context += _lognorm_int(rng, 60, 1.2, 3, 6000)

    def tool_results(self) -> None:
        rng = self.rng
        for tool_id, name in self.pending_tools:
            self.now += rng.randint(300, 15_000)
            size = _lognorm_int(rng, _TOOL_RESULT_MEDIAN, 1.3, 10, 60_000)
            body = self.text.take(rng, size)
            env = self._envelope("user")
            env["message"] = {
                "role": "user",
                "content": [
                    {
                        "tool_use_id": tool_id,
                        "type": "tool_result",
                        "content": body,
                        "is_error": False,
                    }
                ],
            }
            self._finish_line(env)
            if name == "Read":
                env["toolUseResult"] = {
                    "type": "text",
                    "file": {
                        "filePath": f"{self.spec.cwd}/src/module_{rng.randrange(200)}.py",
                        "content": body,
                        "numLines": body.count("\n") + 1,
                        "startLine": 1,
                        "totalLines": body.count("\n") + 1,
                    },
                }
            elif name == "Bash":
                env["toolUseResult"] = {
                    "stdout": body,
                    "stderr": "",
                    "interrupted": False,
                    "isImage": False,
                }
            else:
                env["toolUseResult"] = {
                    "type": "update",
                    "filePath": f"{self.spec.cwd}/src/app.py",
                    "content": body[: len(body) // 3],
                }
            self._emit(env)
            self.context += size // 4
        self.pending_tools = []

    def system(self) -> None:
        env = self._envelope("system")
        env["subtype"] = "informational"
        env["content"] = self.text.take(self.rng, 80)
        env["isMeta"] = False
        env["level"] = "info"
        self._emit(self._finish_line(env))

    def synthetic(self) -> None:
        """An API-error placeholder: an assistant line with usage that is no API call."""
        env = self._envelope("assistant")
        env["message"] = {
            "id": _uuid(self.rng),
            "container": None,
            "model": "<synthetic>",
            "role": "assistant",
            "stop_reason": "stop_sequence",
            "stop_sequence": "",
            "type": "message",
            "usage": {
                "input_tokens": 0,
                "output_tokens": 0,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "server_tool_use": {"web_search_requests": 0},
                "service_tier": None,
                "cache_creation": {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 0},
            },
            "content": [
                {
                    "type": "text",
                    "text": 'API Error: 529 {"type":"error","error":'
                    '{"type":"overloaded_error","message":"Overloaded"}}',
                }
            ],
        }
        env["isApiErrorMessage"] = True
        self._emit(self._finish_line(env), usage=True)
        self.part.synthetic_lines += 1

    # -- the API call

    def _usage(self, first: bool) -> tuple[int, int, int, int]:
        """(input, cache_creation, cache_read, cache_creation_1h) of one call."""
        rng = self.rng
        if first:
            base = rng.randint(12_000, 24_000)
            cached_sys = rng.random() < 0.6
            cache_read = rng.randint(9_000, 12_000) if cached_sys else 0
            cache_creation = base - cache_read + self.context
            self.context = base + self.context
        elif self.context > self.limit:
            cache_read = 0
            cache_creation = rng.randint(15_000, 45_000)
            self.context = cache_creation
        else:
            delta = rng.randint(150, 3_000)
            cache_read = self.context
            cache_creation = delta
            self.context += delta
        input_tokens = rng.randint(1, 12)
        if rng.random() < _UNCACHED_RATE:
            input_tokens = _lognorm_int(rng, 2_500, 1.3, 20, 60_000)
            cache_creation = 0
        if self.spec.one_hour_cache:
            one_hour = cache_creation if rng.random() < 0.85 else cache_creation // 2
        else:
            one_hour = 0
        return input_tokens, cache_creation, cache_read, one_hour

    def call(self, first: bool) -> None:
        rng = self.rng
        s = self.spec
        model = s.model if rng.random() < 0.96 else rng.choice(MODELS)[0]
        inp, cc, cr, cc1h = self._usage(first)
        end_turn = rng.random() < _END_TURN_RATE
        copies = rng.choices((1, 2, 3, 4), _COPY_WEIGHTS)[0]
        if end_turn:
            kinds = (["thinking", "text", "text", "text"])[:copies]
            kinds[-1] = "text"
        else:
            kinds = {
                1: ["tool_use"],
                2: [rng.choice(("thinking", "text")), "tool_use"],
                3: ["thinking", "text", "tool_use"],
                4: ["thinking", "text", "tool_use", "tool_use"],
            }[copies]
        output = _lognorm_int(rng, 420 if end_turn else 160, 1.1, 1, 32_000)
        partials = sorted(rng.randint(1, 30) for _ in range(copies - 1))
        if partials and output < partials[-1]:
            output = partials[-1]
        outputs = partials + [output]

        # Keep all copies inside one UTC day (see the module docstring).
        span = copies * 4_000
        if (self.now // _MS_DAY) != ((self.now + span) // _MS_DAY):
            self.now = (self.now // _MS_DAY + 1) * _MS_DAY + rng.randint(50, 5_000)

        msg_id = "msg_01" + _rand_id(rng, 22)
        request_id = "req_011C" + _rand_id(rng, 20)
        chars_per_block = max(20, int(output * _CHARS_PER_TOKEN / copies))
        for k, (kind, out_tokens) in enumerate(zip(kinds, outputs, strict=True)):
            last = k == copies - 1
            block: dict[str, Any]
            if kind == "thinking":
                block = {
                    "type": "thinking",
                    "thinking": self.text.take(rng, chars_per_block),
                    "signature": self.text.signature(rng, rng.randint(100, 400)),
                }
            elif kind == "text":
                block = {"type": "text", "text": self.text.take(rng, chars_per_block)}
            else:
                tool = rng.choice(_TOOLS)
                tool_id = "toolu_01" + _rand_id(rng, 22)
                self.pending_tools.append((tool_id, tool))
                block = {
                    "type": "tool_use",
                    "id": tool_id,
                    "name": tool,
                    "input": {
                        "command": self.text.take(rng, min(chars_per_block, 4_000)),
                        "description": self.text.take(rng, rng.randint(12, 40)),
                    },
                }
            env = self._envelope("assistant")
            env["message"] = {
                "model": model,
                "id": msg_id,
                "type": "message",
                "role": "assistant",
                "content": [block],
                "stop_reason": ("end_turn" if end_turn else "tool_use") if last else None,
                "stop_sequence": None,
                "usage": {
                    "input_tokens": inp,
                    "cache_creation_input_tokens": cc,
                    "cache_read_input_tokens": cr,
                    "cache_creation": {
                        "ephemeral_5m_input_tokens": cc - cc1h,
                        "ephemeral_1h_input_tokens": cc1h,
                    },
                    "output_tokens": out_tokens,
                    "service_tier": "standard",
                },
            }
            env["requestId"] = request_id
            self._emit(self._finish_line(env), usage=True)
            final_ms = self.now
            self.part.assistant_lines += 1
            if k:
                self.part.duplicate_lines += 1
            self.now += rng.randint(200, 3_900)

        day = _iso(final_ms)[:10]
        sums = self.part.sums.setdefault((day, model), [0] * len(TOKEN_FIELDS))
        sums[0] += 1
        sums[1] += inp
        sums[2] += output
        sums[3] += cc
        sums[4] += cr
        sums[5] += cc1h
        if self.costs:
            cost = _price(model, inp, output, cc, cr, cc1h, final_ms)
            self.part.costs[(day, model)] = self.part.costs.get((day, model), Decimal(0)) + cost
        self.context += output
        if end_turn:
            self.pending_tools = []

    def run(self) -> None:
        rng = self.rng
        s = self.spec
        if s.agent_id is None and rng.random() < 0.3:
            for _ in range(rng.randint(1, 3)):
                self.summary()
        self.prompt()
        for i in range(s.messages):
            if i:
                if self.pending_tools:
                    self.now += rng.randint(1_000, 20_000)
                    self.tool_results()
                else:
                    self.now += rng.randint(10_000, 290_000)
                    self.prompt()
            if rng.random() < _SYSTEM_RATE:
                self.system()
            if rng.random() < _SYNTHETIC_RATE:
                self.synthetic()
            self.call(first=i == 0)
        if self.pending_tools:
            self.tool_results()


def _price(model: str, inp: int, out: int, cc: int, cr: int, cc1h: int, ts_ms: int) -> Decimal:
    """genai-prices' own answer for one call: slow (~60–150 µs) but authoritative."""
    from genai_prices import Usage, calc_price

    usage = Usage(
        input_tokens=inp + cc + cr,
        cache_write_tokens=cc,
        cache_write_1h_tokens=cc1h,
        cache_read_tokens=cr,
        output_tokens=out,
    )
    when = datetime.fromtimestamp(ts_ms / 1000, UTC)
    price = calc_price(usage, model, provider_id="anthropic", genai_request_timestamp=when)
    return price.total_price


def write_file(root: Path, spec: FileSpec, costs: bool) -> Partial:
    """Generate one file of the plan under `root` and return what it contributed."""
    session = _Session(spec, costs)
    session.run()
    path = root / spec.relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(b"".join(session.out))
    last = last_time(session.out)
    if last is not None:
        # As Claude Code leaves it: last written when its last line was. A backfill that
        # goes newest first (issue 13) sees the tree a real user has.
        os.utime(path, (last, last))
        session.part.last_ms = round(last * 1000)
    return session.part


def last_time(lines: Sequence[bytes]) -> float | None:
    """The epoch seconds of the last line that has a `timestamp`."""
    for line in reversed(lines):
        at = line.find(b'"timestamp":"')
        if at >= 0:
            text = line[at + 13 : line.index(b'"', at + 13)].decode()
            return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    return None


# --------------------------------------------------------------------------- workers

_WORKER_ROOT: Path | None = None
_WORKER_COSTS = True


def _init_worker(root: str, costs: bool) -> None:
    global _WORKER_ROOT, _WORKER_COSTS
    _WORKER_ROOT = Path(root)
    _WORKER_COSTS = costs
    _text()


def _write_chunk(specs: list[FileSpec]) -> Partial:
    assert _WORKER_ROOT is not None
    total = Partial()
    for spec in specs:
        total.merge(write_file(_WORKER_ROOT, spec, _WORKER_COSTS))
    return total


def _chunks(specs: list[FileSpec], size: int) -> Iterator[list[FileSpec]]:
    # Interleave big and small files so both workers finish together.
    ordered = sorted(specs, key=lambda s: -s.messages)
    for i in range(0, len(ordered), size):
        yield ordered[i : i + size]


def _truth_block(values: Iterable[int], cost: Decimal | None) -> dict[str, Any]:
    block: dict[str, Any] = dict(zip(TOKEN_FIELDS, values, strict=True))
    if cost is not None:
        block["cost_usd"] = str(cost)
    return block


def build_truth(params: TreeParams, part: Partial) -> dict[str, Any]:
    """truth.json's content: sums per UTC day, per model and overall (+ tree stats)."""
    days: dict[str, list[int]] = {}
    models: dict[str, list[int]] = {}
    day_cost: dict[str, Decimal] = {}
    model_cost: dict[str, Decimal] = {}
    for (day, model), values in part.sums.items():
        for target, key in ((days, day), (models, model)):
            acc = target.setdefault(key, [0] * len(TOKEN_FIELDS))
            for i, v in enumerate(values):
                acc[i] += v
    for (day, model), cost in part.costs.items():
        day_cost[day] = day_cost.get(day, Decimal(0)) + cost
        model_cost[model] = model_cost.get(model, Decimal(0)) + cost
    total = [sum(v[i] for v in days.values()) for i in range(len(TOKEN_FIELDS))]
    with_costs = params.costs
    return {
        "params": params.as_dict(),
        "tree": {
            "files": part.files,
            "subagent_files": part.subagent_files,
            "bytes": part.bytes,
            "lines": part.lines,
            "assistant_lines": part.assistant_lines,
            "usage_line_bytes": part.usage_bytes,
            "duplicate_lines": part.duplicate_lines,
            "synthetic_lines": part.synthetic_lines,
            "no_usage_lines": part.no_usage_lines,
        },
        "total": _truth_block(total, sum(day_cost.values(), Decimal(0)) if with_costs else None),
        "days": {
            d: _truth_block(days[d], day_cost.get(d, Decimal(0)) if with_costs else None)
            for d in sorted(days)
        },
        "models": {
            m: _truth_block(models[m], model_cost.get(m, Decimal(0)) if with_costs else None)
            for m in sorted(models)
        },
    }


def generate_tree(out: Path, params: TreeParams, jobs: int | None = None) -> dict[str, Any]:
    """Write the tree under `out` (replacing `out/projects`) and `out/truth.json`."""
    params = resolve_end(params)
    specs = plan_tree(params)
    projects = out / "projects"
    if projects.exists():
        shutil.rmtree(projects)
    out.mkdir(parents=True, exist_ok=True)
    (out / "truth.json").unlink(missing_ok=True)
    jobs = jobs or os.cpu_count() or 1
    if params.costs:
        import genai_prices  # noqa: F401  (once here, not once per forked worker)
    total = Partial()
    if jobs <= 1:
        _init_worker(str(out), params.costs)
        for chunk in _chunks(specs, 64):
            total.merge(_write_chunk(chunk))
    else:
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(jobs, _init_worker, (str(out), params.costs)) as pool:
            for part in pool.imap_unordered(_write_chunk, _chunks(specs, 64)):
                total.merge(part)
    end_ms = _end_ms(params.end)
    if total.last_ms >= end_ms:  # the plan's time bound (_MAX_STEP_MS) was broken
        raise AssertionError(f"a line at {_iso(total.last_ms)} is not before end {params.end}")
    truth = build_truth(params, total)
    (out / "truth.json").write_text(json.dumps(truth, indent=1) + "\n")
    return truth


def load_truth(out: Path) -> dict[str, Any] | None:
    try:
        data: dict[str, Any] = json.loads((out / "truth.json").read_text())
    except (OSError, ValueError):
        return None
    return data


def params_from_args(args: argparse.Namespace) -> TreeParams:
    base = TreeParams(
        days=args.days, end=args.end or "", seed=args.seed, costs=not args.no_costs
    ).scaled(args.scale)
    return TreeParams(
        messages=args.messages or base.messages,
        files=args.files or base.files,
        days=base.days,
        end=base.end,
        seed=base.seed,
        costs=base.costs,
    )


END_HELP: Final = (
    "UTC date YYYY-MM-DD (the window ends at its midnight) or hour YYYY-MM-DDTHH (at that "
    "hour's start); default: the current UTC hour, so today holds calls up to it"
)


def add_tree_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scale",
        type=float,
        default=1.0,
        help="multiply the default size (200k messages, 22k files)",
    )
    parser.add_argument("--messages", type=int, default=0, help="unique assistant messages")
    parser.add_argument("--files", type=int, default=0, help="JSONL files")
    parser.add_argument("--days", type=int, default=DEFAULT_DAYS)
    parser.add_argument("--end", type=end_arg, default="", help=END_HELP)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--no-costs", action="store_true", help="skip pricing the truth with genai-prices (faster)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("bench/out/tree"))
    parser.add_argument("--jobs", type=int, default=0, help="worker processes (default: cores)")
    add_tree_args(parser)
    args = parser.parse_args(argv)
    params = params_from_args(args)
    t0 = time.perf_counter()
    truth = generate_tree(args.out, params, args.jobs or None)
    elapsed = time.perf_counter() - t0
    tree = truth["tree"]
    print(
        f"wrote {tree['files']} files, {tree['lines']} lines, {tree['bytes'] / 1e6:.1f} MB, "
        f"{truth['total']['messages']} messages in {elapsed:.1f} s → {args.out}",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
