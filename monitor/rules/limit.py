"""Plan-window warnings: a tool's 5-hour window or weekly cap nearly spent.

Every window a tool reports warns at the `[[limits]]` fractions (default 80 % and 95 %)
unless its entry says `enabled = false`. What counts as one alert: ("limit",
"<tool> <window>", the window instance = its `resets_at`, threshold), so the next
window re-arms it. As with budgets, a jump over several thresholds sends only the
highest, and a lower one never follows it. Quiet hours hold the warnings below 95 %.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final

from monitor.config import LimitConfig
from monitor.config.schema import LIMIT_WARN_AT
from monitor.limits import window_states
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
            title = f"{PREFIX} limit '{rule}' at {percent_text(top)} % (resets {local:%H:%M})"
            plan = f" ({snap.plan} plan)" if snap.plan else ""
            body = (
                f"{snap.tool}'s {snap.window} window{plan} is {snap.used_percent:g} % used, "
                f"as the tool reported at {snap.observed_at.astimezone(s.tz):%H:%M}.\n"
                f"It resets at {local:%Y-%m-%d %H:%M %Z}."
            )
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
