"""Which events a question is about: the `Selection`, and reading it from what people type.

Kept apart from `monitor.ledger.query` because reading a selection is about text, not
SQL: `--since`/`--until`, `--where` and the comma-separated selections of `compare` and
`estimate --like` all become a `Selection` here, checked, before any table is chosen.
The query turns it into WHERE clauses; this module never touches the database.

Ranges: `since` is inclusive, `until` is inclusive when it is a date (`--since
2026-11-01 --until 2026-11-30` is all of November) and exclusive when it is a datetime
(an instant, as in `ts < until`); a naive datetime is read in the caller's time zone.
A bound may also be a relative date (`today`, `7d`, `last-week`, …: whole local days,
`monitor.periods.relative_days`), resolved against the caller's `today`.

Its value type is a NamedTuple for the reason `monitor.ledger.query` gives: import time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Final, NamedTuple

from monitor.periods import RELATIVE_WORDS, relative_days

Bound = date | datetime | None

COLUMNS: Final = ("provider", "model", "source", "operation")
"""The event fields a selection filters on besides tags (and the query groups by)."""


class Selection(NamedTuple):
    """Which events: a range, sources (any of), and field filters (all of)."""

    since: Bound = None
    until: Bound = None
    sources: tuple[str, ...] = ()
    where: tuple[tuple[str, str], ...] = ()
    """(field, value) with field one of COLUMNS or `tag.KEY`."""
    label: str = ""
    """How the user wrote it, for display."""

    @property
    def needs_events(self) -> bool:
        """No rollup can answer it, whatever the grouping: an instant, or two tag names."""
        return self.has_instant or len(self.tag_names) > 1

    @property
    def has_instant(self) -> bool:
        return isinstance(self.since, datetime) or isinstance(self.until, datetime)

    @property
    def tag_names(self) -> set[str]:
        """The tags its filters name."""
        return {f[4:] for f, _ in self.where if f.startswith("tag.")}


def where_field(key: str) -> str:
    """A `--where` key → its canonical field (`tag:K` and `tag.K` both mean tag K)."""
    if key in COLUMNS:
        return key
    if key.startswith(("tag.", "tag:")):
        return "tag." + tag_key(key[4:])
    raise ValueError(f"unknown filter {key!r}: use source, provider, model, operation or tag.KEY")


def tag_key(key: str) -> str:
    """A tag name, checked: the query quotes it in a JSON path."""
    # A double quote would end the quoted JSON path label early.
    if not key or '"' in key:
        raise ValueError(f"bad tag name {key!r}")
    return key


_PROBE: Final = date(2000, 1, 1)
"""Any day: tells whether a text is a relative date when no `today` was given."""
_WORDS: Final = ", ".join(RELATIVE_WORDS)
_DATE_FORMS: Final = f"use YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS][+HH:MM] or {_WORDS}"


def parse_bound(text: str, *, today: date | None = None, end: bool = False) -> date | datetime:
    """The one reading of a range bound, for `--since`/`--until` and selections alike.

    `2026-11-01` → a whole day; `2026-11-01T12:00` (or with a space, seconds, a
    fraction, `Z` or an offset such as `+01:00`) → an instant; a relative date
    (`today`, `yesterday`, `7d`, `this-week`, `last-week`, `this-month`, `last-month`)
    → its first local day counted from `today`, or with `end` its last.
    """
    text = text.strip()
    days = relative_days(text, _PROBE if today is None else today)
    if days is not None:
        if today is None:  # a caller's bug: words need the local date they count from
            raise ValueError(f"relative date {text!r} without today's date")
        return days[1] if end else days[0]
    try:
        if "T" in text or "t" in text or " " in text:
            return datetime.fromisoformat(text)
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"bad date {text!r}: {_DATE_FORMS}") from None


def _bound(value: str | Bound, today: date | None, *, end: bool = False) -> Bound:
    return parse_bound(value, today=today, end=end) if isinstance(value, str) else value


def parse_selection(text: str, *, today: date | None = None) -> Selection:
    """A selection as `compare` and `estimate --like` take it, comma-separated parts:

    `source=studio`, `provider=…`, `model=…`, `operation=…`, `tag.KEY=V` (or, shorter,
    any other `KEY=V`, e.g. `run=run_tech_baseline`), a range `2026-11-01..2026-11-15`
    (either end may be left open; both ends inclusive for dates) or one day `2026-11-05`.
    Either end, or the one day, may be a relative date counted from `today`
    (`last-week` alone is that whole week, `30d..` the last 30 days).
    Repeated `source=` parts mean any of them.
    """
    since: Bound = None
    until: Bound = None
    sources: list[str] = []
    where: dict[str, str] = {}
    has_range = False
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        if "=" in part:
            key, value = (s.strip() for s in part.split("=", 1))
            if key == "source":
                sources.append(value)
                continue
            if key in COLUMNS or key[:4] in ("tag.", "tag:"):
                field = where_field(key)
            else:
                field = "tag." + tag_key(key)  # `run=X` is short for `tag.run=X`
            if field in where:
                raise ValueError(f"{key!r} given twice in selection {text!r}")
            where[field] = value
            continue
        if has_range:
            raise ValueError(f"more than one date range in selection {text!r}")
        has_range = True
        if ".." in part:
            lo, hi = part.split("..", 1)
            since = parse_bound(lo, today=today) if lo.strip() else None
            until = parse_bound(hi, today=today, end=True) if hi.strip() else None
        else:
            since = parse_bound(part, today=today)
            until = parse_bound(part, today=today, end=True)
    if not (sources or where or has_range):
        raise ValueError(f"empty selection {text!r}")
    return Selection(since, until, tuple(sources), tuple(where.items()), text.strip())


def selection(
    *,
    since: str | Bound = None,
    until: str | Bound = None,
    sources: Sequence[str] = (),
    where: Mapping[str, str] | None = None,
    label: str = "",
    today: date | None = None,
) -> Selection:
    """A Selection from CLI-shaped options: `--since`/`--until` as typed (text, read by
    `parse_bound`; a relative date counted from `today`, as a start its first day, as an
    end its last) or already parsed, `--where` keys checked here. Text must not reach
    the Selection: SQL would skip it as neither day nor instant, and output would crash."""
    items = tuple((where_field(k), v) for k, v in (where or {}).items())
    return Selection(
        _bound(since, today), _bound(until, today, end=True), tuple(sources), items, label
    )
