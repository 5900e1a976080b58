"""Plan limits: the 5-hour window and the weekly cap, as the tools report them.

For people on a flat plan (Claude Pro/Max, ChatGPT Plus/Pro) dollars are notional; what
runs out is a window. Codex writes its windows on every `token_count` event
(`payload.rate_limits`: `primary` / `secondary` with `used_percent`, `window_minutes`,
`resets_at`), and Claude Code hands them to its statusLine command (`rate_limits.five_hour`
/ `seven_day` with `used_percentage`, `resets_at`). A `LimitSnapshot` is one such reading;
a window's state is its latest snapshot, shown as reset once `resets_at` has passed until
a new snapshot arrives.

Pure: no clock (callers pass `now`), no I/O. Reading a snapshot out of a record raises
`BadLimit` for a field that is missing or out of range, so the adapter reports the record
as bad — never a crash, never a 0 % window.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Literal

if TYPE_CHECKING:
    from monitor.blocks import Estimate

Basis = Literal["reported", "estimated"]
FIVE_HOURS: Final = 300
WEEK: Final = 10080


_ONE_SHORT: Final = {FIVE_HOURS - 1: FIVE_HOURS, WEEK - 1: WEEK}


class BadLimit(ValueError):
    """A limit snapshot with a missing or out-of-range field."""


@dataclass(frozen=True, slots=True)
class LimitSnapshot:
    tool: str
    window_minutes: int
    used_percent: float
    resets_at: datetime
    observed_at: datetime
    plan: str | None = None
    basis: Basis = "reported"
    estimate: Estimate | None = None
    """For an estimated window: the active block and the limit it is measured against."""

    @property
    def window(self) -> str:
        return window_name(self.window_minutes)

    def key(self) -> str:
        """Identity for exactly-once storage: one reading of one window at one moment."""
        return (
            f"{self.tool}:{self.window_minutes}:{int(self.resets_at.timestamp())}:"
            f"{int(self.observed_at.timestamp() * 1000)}:{self.used_percent:g}"
        )


def estimated(e: Estimate) -> LimitSnapshot:
    """The 5-hour window estimated from a source's calls, as a snapshot like a reported one:
    observed at the block's last call (the same whoever computes it), resetting at its end."""
    return LimitSnapshot(
        tool=e.source,
        window_minutes=FIVE_HOURS,
        used_percent=e.used_percent,
        resets_at=e.block.end,
        observed_at=e.block.last,
        basis="estimated",
        estimate=e,
    )


def current_windows(snapshots: Iterable[LimitSnapshot], minutes: int, now: datetime) -> set[str]:
    """Tools with a reported window of `minutes` that has not reset yet."""
    return {
        s.tool
        for s in snapshots
        if s.basis == "reported" and s.window_minutes == minutes and now < s.resets_at
    }


def window_name(minutes: int) -> str:
    """300 → "5h", 10080 → "7d", anything else "<N>m"."""
    return {FIVE_HOURS: "5h", WEEK: "7d"}.get(minutes, f"{minutes}m")


def window_minutes(name: str) -> int:
    """The inverse of `window_name` ("5h", "7d", "90m")."""
    if name == "5h":
        return FIVE_HOURS
    if name == "7d":
        return WEEK
    if name.endswith("m") and name[:-1].isdigit():
        return int(name[:-1])
    raise ValueError(f"not a window: {name!r} (5h, 7d or <minutes>m)")


@dataclass(frozen=True, slots=True)
class WindowState:
    """What a user sees of one window at `now`."""

    snapshot: LimitSnapshot
    used_percent: float
    """The snapshot's, or 0 once its window has reset (until a new snapshot arrives)."""
    reset: bool
    time_left: timedelta


def window_states(snapshots: Iterable[LimitSnapshot], now: datetime) -> list[WindowState]:
    """The latest snapshot per (tool, window), as of `now`, ordered by tool and window size."""
    latest: dict[tuple[str, int], LimitSnapshot] = {}
    for s in snapshots:
        have = latest.get((s.tool, s.window_minutes))
        if have is None or (s.observed_at, s.resets_at) >= (have.observed_at, have.resets_at):
            latest[(s.tool, s.window_minutes)] = s
    out = []
    for (_tool, _minutes), s in sorted(latest.items()):
        reset = now >= s.resets_at
        out.append(
            WindowState(
                snapshot=s,
                used_percent=0.0 if reset else s.used_percent,
                reset=reset,
                time_left=max(s.resets_at - now, timedelta(0)),
            )
        )
    return out


def _percent(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadLimit(f"{name}: {value!r} is not a percentage")
    if not 0 <= value <= 1000:
        raise BadLimit(f"{name}: {value!r} is out of range (0 to 1000 %)")
    return float(value)


def _epoch(value: Any, name: str) -> datetime:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadLimit(f"{name}: {value!r} is not a time (epoch seconds)")
    if not 1_577_836_800 <= value <= 4_102_444_800:  # 2020-01-01 … 2100-01-01
        raise BadLimit(f"{name}: {value!r} is out of range")
    return datetime.fromtimestamp(value, UTC)


def _minutes(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 525_600:
        raise BadLimit(f"{name}: {value!r} is not a window length in minutes")
    return value


def reading(
    tool: str,
    window_minutes: Any,
    used_percent: Any,
    resets_at: datetime | Any,
    observed_at: datetime,
    where: str,
    plan: Any = None,
) -> LimitSnapshot:
    """One checked snapshot from raw record values (BadLimit names `where` and the field);
    `resets_at` is epoch seconds unless already a datetime."""
    minutes = _minutes(window_minutes, f"{where}.window_minutes")
    if not isinstance(resets_at, datetime):
        resets_at = _epoch(resets_at, f"{where}.resets_at")
    return LimitSnapshot(
        tool=tool,
        # Older Codex CLIs wrote the windows a minute short (299, 10079).
        window_minutes=_ONE_SHORT.get(minutes, minutes),
        used_percent=_percent(used_percent, f"{where}.used_percent"),
        resets_at=resets_at,
        observed_at=observed_at,
        plan=plan if isinstance(plan, str) and plan else None,
    )


def codex_limits(
    rate_limits: Mapping[str, Any], observed_at: datetime, tool: str = "codex"
) -> list[LimitSnapshot]:
    """Snapshots from a Codex `token_count` payload's `rate_limits`.

    `window_minutes` decides the window (primary is not always the 5-hour one). A window
    whose every value is zero is Codex's placeholder before the first real reading: no
    snapshot, not a 0 % window. `resets_at` is epoch seconds; older CLIs wrote
    `resets_in_seconds` relative to the event instead.
    """
    plan = rate_limits.get("plan_type")
    out = []
    for side in ("primary", "secondary"):
        raw = rate_limits.get(side)
        if raw is None:
            continue
        if not isinstance(raw, Mapping):
            raise BadLimit(f"rate_limits.{side}: {raw!r} is not an object")
        if not any(raw.get(k) for k in ("used_percent", "window_minutes", "resets_at")):
            continue
        where = f"rate_limits.{side}"
        if raw.get("resets_at") is None and raw.get("resets_in_seconds") is not None:
            secs = raw["resets_in_seconds"]
            if isinstance(secs, bool) or not isinstance(secs, int | float) or secs < 0:
                raise BadLimit(f"{where}.resets_in_seconds: {secs!r} is not a duration")
            resets: datetime | Any = observed_at + timedelta(seconds=secs)
        else:
            resets = raw.get("resets_at")
        out.append(
            reading(
                tool,
                raw.get("window_minutes"),
                raw.get("used_percent"),
                resets,
                observed_at,
                where,
                plan,
            )
        )
    return out


_CLAUDE_WINDOWS: Final = (("five_hour", FIVE_HOURS), ("seven_day", WEEK))


def claude_limits(
    rate_limits: Mapping[str, Any], observed_at: datetime, tool: str = "claude-code"
) -> list[LimitSnapshot]:
    """Snapshots from the `rate_limits` Claude Code passes its statusLine command.

    `five_hour` and `seven_day` carry `used_percentage` and `resets_at` (epoch seconds);
    a missing or null window (API-key users, older versions) is no snapshot.
    """
    out = []
    for name, minutes in _CLAUDE_WINDOWS:
        raw = rate_limits.get(name)
        if raw is None:
            continue
        if not isinstance(raw, Mapping):
            raise BadLimit(f"rate_limits.{name}: {raw!r} is not an object")
        out.append(
            reading(
                tool, minutes, raw.get("used_percentage"), raw.get("resets_at"), observed_at, name
            )
        )
    return out
