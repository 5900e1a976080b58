"""The alert rules: one module per kind of alert, and `RULES`, the registry the alert
service iterates.

Each entry makes one rule (a class, called once per alert service, so a rule with a
memory — `HealthWatch` — has its own per service). A rule is anything with
`decide(situation) -> Iterable[Decision]` (`monitor.rules.base.Rule`): it reads the
`Situation` (now, config, totals, the events just applied, source counters, the keys
already decided) and returns the alerts due that are not known yet. The service
applies quiet hours, records every new decision in the ledger before any delivery is
tried, then delivers.

Adding a rule: a module here with the rule class, one line in `RULES`, its config keys
(if any) in `monitor.config`, and its tests. Nothing else changes: the service, the
store and the daemon treat every kind alike.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from monitor.rules.base import Decision, Rule, Situation
from monitor.rules.budget import BudgetRule
from monitor.rules.digest import DigestRule
from monitor.rules.drift import DriftRule
from monitor.rules.forecast import ForecastRule
from monitor.rules.health import HealthWatch
from monitor.rules.limit import LimitRule
from monitor.rules.spike import SpikeRule

RULES: Final[tuple[Callable[[], Rule], ...]] = (
    BudgetRule,  # [[budgets]] warn_at thresholds
    ForecastRule,  # [[budgets]] forecast over the limit
    SpikeRule,  # [alerts] spike: one call, the last hour
    HealthWatch,  # parse errors jumping, [[sources]] expect_every
    LimitRule,  # plan windows the tools report, [[limits]]
    DigestRule,  # [digest] daily / weekly summaries, once per period
    DriftRule,  # tools' reported costs more than 10 % off prices, per source/model/day
)

__all__ = ["RULES", "Decision", "Rule", "Situation"]
