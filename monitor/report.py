"""`report`: usage per group from the ledger, and how it looks as text, JSON and CSV.

Text is for people (aligned columns, thousands separators, `$1,234.57`); JSON and CSV
are for programs and follow the documented shapes (docs/architecture.md) key for key, money as
6-place decimal strings. The numbers come from `monitor.ledger.query`, read-only; the
cells and tables are `monitor.text_table`'s, shared with `compare` (`monitor.compare`)
and `estimate` (`monitor.estimate`).

Price drift: every report row carries `reported_cost_usd` and `priced_cost_usd`, both
over exactly the calls whose tool reported a cost (null when none did; the priced side
also when some of those calls have no price). `report --drift` keeps the rows where both
are known and differ, adds `drift_usd` (reported - priced) and `drift_pct` (of priced),
and totals the rows it shows.

This module never imports genai-prices (nor anything heavy): `report` answers in tens
of milliseconds.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Final, Literal

from monitor.events import usd_json, usd_text, usd_true_text
from monitor.ledger.query import QueryResult, Totals
from monitor.ledger.selection import Bound
from monitor.percent import pct, pct_json
from monitor.text_table import PRICE_HINT, calls_text, cost_cell, int_text, signed_usd, table

Format = Literal["text", "json", "csv"]

FIELDS: Final = (
    "calls",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost_usd",
    "unpriced_calls",
    "reported_cost_usd",
    "priced_cost_usd",
)
DRIFT_FIELDS: Final = ("drift_usd", "drift_pct")
"""What `report --drift` adds to each row, after `FIELDS`."""


def _fields(t: Totals) -> dict[str, Any]:
    return {
        "calls": t.calls,
        "input_tokens": t.input_tokens,
        "output_tokens": t.output_tokens,
        "cache_read_tokens": t.cache_read_tokens,
        "cache_write_tokens": t.cache_write_tokens,
        "cost_usd": usd_json(t.cost),
        "unpriced_calls": t.unpriced_calls,
        "reported_cost_usd": usd_json(t.reported_cost),
        "priced_cost_usd": usd_json(t.priced_cost),
    }


def _drift_fields(t: Totals) -> dict[str, Any]:
    return {**_fields(t), "drift_usd": usd_json(drift(t)), "drift_pct": pct_json(drift_pct(t))}


def drift(t: Totals) -> Decimal | None:
    """What the tools reported minus what prices say, over the calls whose tool reported a
    cost (positive: the tools charged more); None when either side is unknown."""
    reported, priced = t.reported_cost, t.priced_cost
    return None if reported is None or priced is None else reported - priced


def drift_pct(t: Totals) -> Decimal | None:
    """`drift` as a percentage of the priced side, to 0.1; None when that is $0."""
    difference = drift(t)
    return None if difference is None or t.priced_cost is None else pct(difference, t.priced_cost)


def only_drift(result: QueryResult) -> QueryResult:
    """The rows whose reported and priced costs are both known and differ; the total is
    theirs (so the shown rows add up to it)."""
    rows = tuple(r for r in result.rows if drift(r.totals))
    total = Totals(*map(sum, zip(*(r.totals for r in rows), strict=True))) if rows else Totals()
    return result._replace(rows=rows, total=total, unpriced=())


def _iso(bound: Bound) -> str | None:
    return None if bound is None else bound.isoformat()


def report_json(result: QueryResult, *, with_drift: bool = False) -> dict[str, Any]:
    """The documented shape; `with_drift` adds `DRIFT_FIELDS` to each row and the total
    (the rows are as given: `only_drift` chooses them)."""
    fields = _drift_fields if with_drift else _fields
    return {
        "since": _iso(result.since),
        "until": _iso(result.until),
        "group_by": list(result.group_by),
        "rows": [
            {"key": dict(zip(result.group_by, row.key, strict=True)), **fields(row.totals)}
            for row in result.rows
        ],
        "total": fields(result.total),
    }


def _report_json_text(doc: dict[str, Any]) -> str:
    """One row per line: readable, and every piece goes through the C encoder (json's
    `indent` falls back to the pure-Python one, 10x slower on a long report)."""
    head = json.dumps({k: doc[k] for k in ("since", "until", "group_by")})[:-1]
    rows = ",\n  ".join(json.dumps(row) for row in doc["rows"])
    body = f"[\n  {rows}\n ]" if rows else "[]"
    return f'{head},\n "rows": {body},\n "total": {json.dumps(doc["total"])}}}\n'


def render_report(result: QueryResult, fmt: Format, *, only_drifting: bool = False) -> str:
    """`report`'s output; `only_drifting` (`--drift`): the rows whose tools' reported
    costs differ from prices, with the difference (`only_drift`)."""
    shown = only_drift(result) if only_drifting else result
    if fmt == "json":
        return _report_json_text(report_json(shown, with_drift=only_drifting))
    if fmt == "csv":
        return _report_csv(shown, with_drift=only_drifting)
    if only_drifting:
        return _drift_text(shown, result.total)
    return _report_text(result)


def _report_csv(result: QueryResult, *, with_drift: bool = False) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*result.group_by, *FIELDS, *(DRIFT_FIELDS if with_drift else ())])
    fields = _drift_fields if with_drift else _fields
    for row in result.rows:
        # csv writes None (an unknown cost) as an empty cell.
        writer.writerow([*("" if k is None else k for k in row.key), *fields(row.totals).values()])
    return out.getvalue()


def _title(what: str, result: QueryResult) -> str:
    """The first line: what, by which groupings, over which range."""
    by = f" by {', '.join(result.group_by)}" if result.group_by else ""
    return f"{what}{by}, {_range_text(result.since, result.until)}"


def _range_text(since: Bound, until: Bound) -> str:
    if since is None and until is None:
        return "all time"
    parts = []
    if since is not None:
        parts.append(f"from {_bound_text(since)}")
    if until is not None:
        word = "before" if isinstance(until, datetime) else "through"
        parts.append(f"{word} {_bound_text(until)}")
    return " ".join(parts)


def _bound_text(bound: date) -> str:
    if isinstance(bound, datetime):
        return bound.isoformat(sep=" ", timespec="minutes")
    return bound.isoformat()


def _key_cell(value: str | None) -> str:
    return "(none)" if value is None else value


def _grouped_table(
    result: QueryResult, header: list[str], numbers: Callable[[Totals], list[str]]
) -> list[str]:
    """One line per row (its key, then `numbers`) and the total; ungrouped, the total alone."""
    groups = result.group_by
    body = [[*map(_key_cell, r.key), *numbers(r.totals)] for r in result.rows]
    label = ["TOTAL", *[""] * (len(groups) - 1)] if groups else []
    total = [*label, *numbers(result.total)]
    header = [*groups, *header]
    if not groups:
        header, body, total = ["", *header], [], ["TOTAL", *total]
    return table(header, body, total, left=max(1, len(groups)))


def _report_text(result: QueryResult) -> str:
    lines = [_title("Usage", result)]
    if not result.rows:
        lines.append("No usage recorded for this selection.")
        return "\n".join(lines) + "\n"
    show_unpriced = result.total.unpriced_calls > 0
    show_reported = result.total.reported_events > 0
    header = ["calls", "input", "output", "cache read", "cache write", "cost"]
    if show_reported:
        header += ["reported", "priced"]
    if show_unpriced:
        header.append("unpriced")

    def numbers(t: Totals) -> list[str]:
        cells = [
            int_text(t.calls),
            int_text(t.input_tokens),
            int_text(t.output_tokens),
            int_text(t.cache_read_tokens),
            int_text(t.cache_write_tokens),
            cost_cell(t),
        ]
        if show_reported:
            cells += _reported_cells(t, usd_text)
        return [*cells, int_text(t.unpriced_calls)] if show_unpriced else cells

    lines += _grouped_table(result, header, numbers)
    if result.unpriced:
        n = result.total.unpriced_calls
        models = ", ".join(
            f"{u.model} ({u.provider}, {int_text(u.calls)})" for u in result.unpriced
        )
        lines.append("")
        lines.append(f"{calls_text(n)} unpriced, not in the cost: {models}")
        lines.append(PRICE_HINT)
    return "\n".join(lines) + "\n"


def _reported_cells(t: Totals, money: Callable[[Decimal], str]) -> list[str]:
    """The reported and the priced cost: "-" where no tool reported a cost, "unpriced"
    where some of those calls have no price."""
    reported, priced = t.reported_cost, t.priced_cost
    if reported is None:
        return ["-", "-"]
    return [money(reported), "unpriced" if priced is None else money(priced)]


def _precise(amount: Decimal) -> str:
    """Drift is often cents of cents: sub-dollar amounts keep their digits ($0.336)."""
    return usd_true_text(amount)


def _drift_text(shown: QueryResult, whole: Totals) -> str:
    """`report --drift` for people: the differing rows, reported against priced."""
    lines = [_title("Price drift", shown)]
    if not shown.rows:
        if not whole.reported_events:
            lines.append("No tool reported a cost for this selection.")
        else:
            lines.append("No drift: the reported costs equal prices wherever both are known.")
        return "\n".join(lines) + "\n"
    lines.append("Calls whose tool reported a cost: what it reported, what prices say.")

    def numbers(t: Totals) -> list[str]:
        difference, percent = drift(t), drift_pct(t)
        return [
            *_reported_cells(t, _precise),
            "n/a" if difference is None else signed_usd(difference, _precise),
            "n/a" if percent is None else f"{percent:+}%",
        ]

    lines += _grouped_table(shown, ["reported", "priced", "difference", "%"], numbers)
    return "\n".join(lines) + "\n"
