"""Plan-window warnings: a tool's 5-hour window or weekly cap nearly spent.

Every window a tool reports warns at the `[[limits]]` fractions (default 80 % and 95 %)
unless its entry says `enabled = false`. What counts as one alert: ("limit",
"<tool> <window>", the window instance = its `resets_at`, threshold), so the next
window re-arms it. As with budgets, a jump over several thresholds sends only the
highest, and a lower one never follows it. Quiet hours hold the warnings below 95 %.
An estimated window (`monitor.blocks`) warns the same way when `[[limits]]` sizes it;
one measured against a learned limit is only shown — a guess about the plan should not
wake anyone.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from monitor.config import LimitConfig
from monitor.config.schema import LIMIT_WARN_AT
from monitor.limits import LimitSnapshot, window_states
from monitor.rules.base import (
    PREFIX,
    Decision,
    Severity,
    Situation,
    percent_text,
    threshold_text,
)

_URGENT: Final = Decimal("0.95")


class LimitRule:
    """The registered rule: the latest snapshot of each reported window."""

    def decide(self, s: Situation) -> list[Decision]:
        configured = {(c.tool, c.window): c for c in s.config.limits}
        out = []
        for state in window_states(s.limits, s.now):
            if state.reset:
                continue  # a new window: nothing to warn about until it is reported
            snap = state.snapshot
            if snap.estimate is not None and snap.estimate.limit.learned_from:
                continue  # a learned limit is a guess about the plan: shown, never alerted
            entry = configured.get((snap.tool, snap.window)) or LimitConfig(
                snap.tool, snap.window, LIMIT_WARN_AT
            )
            if not entry.enabled:
                continue
            used = Decimal(str(snap.used_percent)) / 100
            crossed = [t for t in entry.warn_at if used >= t]
            if not crossed:
                continue
            top = max(crossed)
            rule = f"{snap.tool} {snap.window}"
            instance = snap.resets_at.isoformat()
            if any(
                ("limit", rule, instance, threshold_text(t)) in s.known
                for t in entry.warn_at
                if t >= top
            ):
                continue
            local = snap.resets_at.astimezone(s.tz)
            guess = "estimated, " if snap.basis == "estimated" else ""
            title = (
                f"{PREFIX} limit '{rule}' at {percent_text(top)} % ({guess}resets {local:%H:%M})"
            )
            body = f"{_how_used(snap, s)}\nIt resets at {local:%Y-%m-%d %H:%M %Z}."
            severity: Severity = "failure" if top >= 1 else "warning"
            out.append(
                Decision(
                    "limit",
                    rule,
                    instance,
                    threshold_text(top),
                    severity,
                    title,
                    body,
                    quiet_exempt=top >= _URGENT,
                )
            )
        return out


def _how_used(snap: LimitSnapshot, s: Situation) -> str:
    seen = snap.observed_at.astimezone(s.tz)
    e = snap.estimate
    if e is None:
        plan = f" ({snap.plan} plan)" if snap.plan else ""
        return (
            f"{snap.tool}'s {snap.window} window{plan} is {snap.used_percent:g} % used, "
            f"as the tool reported at {seen:%H:%M}."
        )
    size = " and ".join(
        part
        for part in (
            f"{e.limit.tokens:,} tokens" if e.limit.tokens else "",
            f"${e.limit.cost}" if e.limit.cost else "",
        )
        if part
    )
    return (
        f"{snap.tool}'s 5-hour block since {e.block.start.astimezone(s.tz):%H:%M} has used "
        f"{e.block.tokens:,} tokens (${e.block.cost:.2f}) of the configured {size}: "
        f"{snap.used_percent:g} %, estimated from its calls up to {seen:%H:%M}."
    )
