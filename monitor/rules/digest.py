"""Digests: once a day or once a week, what the period that just ended cost.

`[digest] daily = "08:00"` sends, from 08:00 on, the digest of *yesterday* (the local
calendar day that ended at the last midnight); `weekly = "mon 08:00"` sends, from Monday
08:00 on, the digest of *last week* (the ISO week, Monday to Sunday, that ended at the
last Sunday midnight, whatever the configured day). Times are wall-clock times in
`[monitor] timezone`: on a DST day a digest goes out when the local clock shows its time
(a time the clock skips is passed when it jumps; a time it repeats counts the first
time), and the day covered is the local day, 23 or 25 hours long.

Once per period: the key is ("digest", "daily" | "weekly", the covered period's label
"2026-11-20" | "2026-W47", ""), recorded in the alerts table before any delivery like
every alert, so a restart, a reload or a new evaluation round never sends it again.

Caught up, never stale: a digest is due from its time to the end of the day (daily) or
the ISO week (weekly) it is sent in. A daemon that was down or asleep at 08:00 sends it
once when it comes back that same day (week); back only on a later day (week), that
digest is skipped for good, and the next one covers the period that has just ended then.
A period without calls still has its digest ($0.00): silence would look like a monitor
that stopped.

Quiet hours hold a digest like a warning (it is information and never worth waking
anyone): one due inside them goes out when they end, still once.

What it says: the covered period's spend and calls against the period before; its top 3
models, sources and values of each tracked tag (the tags budgets are scoped by, the only
ones the running totals split by); the models whose calls had no price; every budget —
one of the digest's own period by how the covered period ended, the others as they
stand now with their forecast and the day they run out; every plan window with its use
and reset (an estimated one with where it ends at the current pace).

Pure like every rule: the time is `Situation.now`, the numbers are the running totals.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import TYPE_CHECKING, Final, Literal

from monitor.events import usd_text, usd_true_text, utc
from monitor.forecast import runs_out_on
from monitor.limits import window_states
from monitor.periods import Period, local_day, local_midnight, period_days, period_label
from monitor.rules.base import PREFIX, Decision, Situation, percent_text

if TYPE_CHECKING:
    from monitor.config import BudgetConfig
    from monitor.config.schema import DigestConfig
    from monitor.totals import Breakdown, PeriodTotals

log = logging.getLogger("llm_monitor.rules")

KIND: Final = "digest"
TOP_N: Final = 3
_DAY_NAMES: Final = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday",
                     "Sunday")  # fmt: skip


@dataclass(frozen=True, slots=True)
class DueDigest:
    """A digest whose time has come: which one, and the period it covers."""

    rule: Literal["daily", "weekly"]
    kind: Period
    first: date
    """The covered period's first local date."""

    @property
    def label(self) -> str:
        return period_label(self.kind, self.first)

    @property
    def previous(self) -> date:
        """The first local date of the period before the covered one."""
        return self.first - timedelta(days=1 if self.kind == "day" else 7)


def due_digests(digest: DigestConfig, now: datetime, tz: tzinfo) -> list[DueDigest]:
    """The digests due at `now`: their time has passed in the current day (daily) or ISO
    week (weekly). Only the period that has just ended is ever named: a period whose
    digest time went by in an earlier day or week is never caught up."""
    local = utc(now).astimezone(tz)
    today, clock = local.date(), local.time()
    out: list[DueDigest] = []
    if digest.daily is not None and clock >= digest.daily:
        out.append(DueDigest("daily", "day", today - timedelta(days=1)))
    if digest.weekly is not None and (today.weekday(), clock) >= digest.weekly:
        monday = today - timedelta(days=today.weekday())
        out.append(DueDigest("weekly", "week", monday - timedelta(days=7)))
    return out


class DigestRule:
    """The registered rule: `[digest]` daily and weekly, each once per period."""

    def decide(self, s: Situation) -> list[Decision]:
        out = []
        for due in due_digests(s.config.digest, s.now, s.tz):
            if (KIND, due.rule, due.label, "") not in s.known:
                out.append(digest_decision(due, s))
        return out


def digest_decision(due: DueDigest, s: Situation) -> Decision:
    """The digest of `due`'s period as a notification (severity info, quiet hours hold it)."""
    start = local_midnight(due.first, s.tz)
    period = s.totals.summary(start).period(due.kind)
    before = s.totals.spent(due.kind, local_midnight(due.previous, s.tz))
    word = due.kind
    title = (
        f"{PREFIX} digest {due.label} — {usd_text(period.cost)} ({word} before {usd_text(before)})"
    )
    change = ""
    if before > 0:
        fraction = (period.cost - before) / before
        change = f" ({'+' if fraction >= 0 else ''}{percent_text(fraction)} %)"
    lines = [
        f"{_name(due)} ({s.config.timezone_name}): {usd_text(period.cost)} in "
        f"{_calls(period.calls)}; "
        f"the {word} before {usd_text(before)}{change}."
    ]
    lines += _top_lines(period)
    unpriced = sorted(
        ((model, u.unpriced_calls) for model, u in period.by.get("model", ()) if u.unpriced_calls),
        key=lambda row: (-row[1], row[0] or ""),
    )
    if unpriced:
        lines.append(
            "Unpriced models (their calls are not in the totals): "
            + ", ".join(f"{m or 'unknown'} ({_calls(n)})" for m, n in unpriced)
        )
    budgets = [line for b in s.config.budgets if (line := _budget_line(b, due, s)) is not None]
    if budgets:
        lines += ["Budgets:", *budgets]
    windows = _window_lines(s)
    if windows:
        lines += ["Plan windows:", *windows]
    return Decision(KIND, due.rule, due.label, "", "info", title, "\n".join(lines))


# ---------------------------------------------------------------- the body


def _calls(n: int) -> str:
    return f"{n:,} call{'' if n == 1 else 's'}"


def _name(due: DueDigest) -> str:
    if due.kind == "day":
        return f"{_DAY_NAMES[due.first.weekday()]} {due.first.isoformat()}"
    last = period_days(due.kind, due.first)[1] - timedelta(days=1)
    return f"Week {due.label}, {due.first.isoformat()} to {last.isoformat()}"


def _top_lines(period: PeriodTotals) -> list[str]:
    """Top models, sources and tracked tags' values by cost in the covered period."""
    dims = [("model", "Top models"), ("source", "Top sources")]
    dims += [(dim, f"Top tag {dim[4:]}") for dim in period.by if dim.startswith("tag.")]
    out = []
    for dim, heading in dims:
        text = _top(period.by.get(dim, ()), untagged=dim.startswith("tag."))
        if text:
            out.append(f"{heading}: {text}")
    return out


def _top(rows: Breakdown, *, untagged: bool) -> str:
    """ "a $8.00, b $3.40, c $1.00 and 2 more": the rows are sorted by cost already."""
    costly = [(v, u.cost) for v, u in rows if u.cost > 0 and (v is not None or untagged)]
    shown = ", ".join(
        f"{v if v is not None else 'untagged'} {usd_text(c)}" for v, c in costly[:TOP_N]
    )
    more = len(costly) - TOP_N
    return shown + (f" and {more} more" if more > 0 else "")


def _budget_line(b: BudgetConfig, due: DueDigest, s: Situation) -> str | None:
    """A budget of the digest's period: how the covered period ended; another: now, with
    its forecast and run-out day. None (logged) for a scope the totals cannot answer."""
    scope = dict(b.scope) or None
    try:
        if b.period == due.kind:
            spent = s.totals.spent(b.period, local_midnight(due.first, s.tz), scope)
            over = " — over the limit" if spent > b.limit else ""
            return f"- {b.name}: {_of(spent, b.limit)} in {due.label}{over}."
        spent = s.totals.spent(b.period, s.now, scope)
        fc = s.totals.forecast(b.period, s.now, scope)
    except ValueError as exc:
        log.error("digest: budget %s: %s", b.name, exc)
        return None
    label = period_label(b.period, local_day(s.now, s.tz))
    if spent >= b.limit:
        end = "the limit is reached"
    else:
        out_on = runs_out_on(b.limit, fc, s.now, s.tz)
        end = f"runs out on {out_on.isoformat()}" if out_on else f"lasts the {b.period}"
    return (
        f"- {b.name}: {_of(spent, b.limit)} so far in {label}; forecast "
        f"{usd_text(fc.expected)} ({usd_text(fc.low)}–{usd_text(fc.high)}); {end}."
    )


def _of(spent: Decimal, limit: Decimal) -> str:
    pct = f" ({percent_text(spent / limit)} %)" if limit > 0 else ""
    return f"{usd_true_text(spent)} of {usd_true_text(limit)}{pct}"


def _window_lines(s: Situation) -> list[str]:
    """Each plan window: use and reset; an estimated one with where it ends at this pace."""
    out = []
    for state in window_states(s.limits, s.now):
        snap = state.snapshot
        name = f"{snap.tool} {snap.window}"
        resets = _when(snap.resets_at, s)
        if state.reset:
            out.append(f"- {name}: reset at {resets}, no reading since.")
            continue
        e = snap.estimate
        how = ""
        if e is not None:
            from monitor.blocks import project

            p = project(e.block, s.now)
            learned = ", learned limit" if e.limit.learned_from else ""
            how = (
                f" (estimated{learned}; {e.limit.percent(p.tokens_at_end, p.cost_at_end):g} % "
                "by then at this pace)"
            )
        elif snap.plan:
            how = f" ({snap.plan} plan)"
        out.append(f"- {name}: {snap.used_percent:g} % used, resets {resets}{how}.")
    return out


def _when(ts: datetime, s: Situation) -> str:
    local = utc(ts).astimezone(s.tz)
    same_day = local.date() == local_day(s.now, s.tz)
    return f"{local:%H:%M}" if same_day else f"{local:%Y-%m-%d %H:%M}"


__all__ = ["KIND", "DigestRule", "DueDigest", "digest_decision", "due_digests"]
