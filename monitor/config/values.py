"""Parsers for the config's small value languages: durations, quiet hours, listen
addresses and time zones. Each takes the text a user wrote and returns the value or
raises ValueError with a message that shows what was expected; `validate` adds the file
and the key. Pure apart from `resolve_timezone("local")`, which asks the system.

`timezone = "local"` is the system zone: `$TZ`, else the IANA name `/etc/localtime`
links to (or `/etc/timezone` names), else whatever offset the C library reports. An
IANA name is preferred to a bare offset so days follow daylight-saving changes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import datetime, time, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_METRICS_HOST: Final = "127.0.0.1"

_DURATION: Final = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_DURATION_ALL: Final = re.compile(r"\s*(?:\d+(?:\.\d+)?\s*[smhdw]\s*)+")
_DURATION_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_CLOCK: Final = re.compile(r"(\d{1,2}):(\d{2})")


def parse_quiet_hours(value: str) -> tuple[time, time]:
    """ "22:00-07:00" → (22:00, 07:00); the end may be before the start (spans midnight)."""
    parts = value.split("-")
    times = [_clock(p.strip()) for p in parts] if len(parts) == 2 else []
    if len(times) != 2 or times[0] is None or times[1] is None or times[0] == times[1]:
        raise ValueError(f'expected "HH:MM-HH:MM" (e.g. "22:00-07:00"), got {show(value)}')
    return times[0], times[1]


def parse_duration(value: str) -> timedelta:
    """ "2h", "30m", "1d", "1h30m", "90s", "1w" → timedelta (> 0); ValueError otherwise."""
    total = sum(float(n) * _DURATION_UNITS[unit] for n, unit in _DURATION.findall(value))
    if not _DURATION_ALL.fullmatch(value) or total <= 0:
        raise ValueError(f'expected a duration such as "30m", "2h" or "1d", got {show(value)}')
    return timedelta(seconds=total)


def parse_listen(value: object) -> tuple[str, int]:
    """ "9464" or 9464 → ("127.0.0.1", 9464); "host:port"; "[::1]:9464"."""
    host, port_text = DEFAULT_METRICS_HOST, ""
    if isinstance(value, int) and not isinstance(value, bool):
        port_text = str(value)
    elif isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            h, _, rest = text[1:].partition("]")
            host, port_text = h, rest[1:] if rest.startswith(":") else ""
        elif ":" in text:
            h, _, port_text = text.rpartition(":")
            host = h or DEFAULT_METRICS_HOST
        else:
            port_text = text
    if not (port_text.isdigit() and 0 < int(port_text) < 65536 and host):
        example = '"127.0.0.1:9464"'
        raise ValueError(f"expected host:port or a port number (e.g. {example}), got {show(value)}")
    return host, int(port_text)


def parse_decimal(value: object) -> Decimal | None:
    """A TOML number (or decimal string) as an exact Decimal; floats go through their repr."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        return None
    try:
        d = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


def resolve_timezone(name: str, env: Mapping[str, str] | None = None) -> tuple[str, tzinfo]:
    """ "local" or an IANA name → (printable name, tzinfo); ValueError for an unknown zone."""
    env = os.environ if env is None else env
    if name == "local":
        return _local_timezone(env)
    try:
        return name, ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        hint = '(use "local" or an IANA name such as "Europe/Berlin")'
        raise ValueError(f"unknown time zone {show(name)} {hint}") from None


def _local_timezone(env: Mapping[str, str]) -> tuple[str, tzinfo]:
    tz_env = env.get("TZ", "").lstrip(":")
    if tz_env:
        if os.path.isabs(tz_env):
            zone = _zone_from_file(tz_env)
            if zone:
                return zone
        else:
            try:
                return tz_env, ZoneInfo(tz_env)
            except (ZoneInfoNotFoundError, ValueError):
                pass
    zone = _zone_from_file("/etc/localtime")
    if zone:
        return zone
    local = datetime.now().astimezone().tzinfo
    assert local is not None
    return local.tzname(None) or "local", local


def _zone_from_file(path: str) -> tuple[str, tzinfo] | None:
    """An IANA name for a zone file (from its symlink target, or /etc/timezone)."""
    try:
        target = os.path.realpath(path)
    except OSError:
        return None
    _, marker, key = target.partition("/zoneinfo/")
    candidates = [key] if marker else []
    if path == "/etc/localtime":
        try:
            candidates.append(Path("/etc/timezone").read_text().strip())
        except OSError:
            pass
    for key in candidates:
        try:
            return key, ZoneInfo(key)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    try:
        with open(path, "rb") as f:
            return "localtime", ZoneInfo.from_file(f, key="localtime")
    except (OSError, ValueError):
        return None


def _clock(text: str) -> time | None:
    m = _CLOCK.fullmatch(text)
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        return None
    return time(int(m.group(1)), int(m.group(2)))


def show(value: object) -> str:
    """A value as an error message quotes it: strings quoted, tables not dumped."""
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "[" + ", ".join(show(v) for v in value) + "]"
    return str(value)
