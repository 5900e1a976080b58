"""Desktop notifications on a stock Linux desktop: a `desktop://` Apprise plugin.

Apprise's own `dbus://`, `glib://` and `gnome://` need PyGObject or dbus-python, which a
plain virtualenv lacks. `notify-send` (libnotify, on every desktop install) talks to the
same notification daemon, so this module registers a small custom Apprise plugin,
`desktop://`, that runs it. A custom plugin cannot take over a schema Apprise already
owns, so `rewrite_url` maps `dbus://`, `kde://`, `qt://`, `glib://`, `gio://` and
`gnome://` to `desktop://` when the native plugin is disabled on this system.

Imported only from `monitor.notify`, after Apprise (never at `status`/`report` time).
"""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Callable
from typing import Any, Final

log = logging.getLogger("llm_monitor.notify")

SCHEMA: Final = "desktop"
NATIVE_SCHEMAS: Final = ("dbus", "kde", "qt", "glib", "gio", "gnome")
APP_NAME: Final = "llm-monitor"
TIMEOUT: Final = 10.0
_URGENCY: Final = {"failure": "critical", "warning": "normal", "success": "low", "info": "low"}


def send(body: str, title: str, notify_type: object, *args: Any, **kwargs: Any) -> bool:
    """Show one notification with `notify-send`; False (and a log line) when it cannot."""
    exe = shutil.which("notify-send")
    if exe is None:
        log.warning("desktop://: notify-send not found (install libnotify-bin or libnotify)")
        return False
    urgency = _URGENCY.get(str(getattr(notify_type, "value", notify_type)), "normal")
    argv = [exe, f"--app-name={APP_NAME}", f"--urgency={urgency}", "--", title or APP_NAME, body]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("desktop://: notify-send failed: %s", exc)
        return False
    if done.returncode != 0:
        log.warning(
            "desktop://: notify-send exited with %d: %s",
            done.returncode,
            done.stderr.strip()[:200],
        )
        return False
    return True


def register() -> None:
    """Register `desktop://` with Apprise (idempotent)."""
    from apprise.decorators import notify
    from apprise.manager_plugins import NotificationManager

    if SCHEMA not in NotificationManager():  # type: ignore[no-untyped-call]
        notify(on=SCHEMA, name="Desktop (notify-send)")(send)  # type: ignore[no-untyped-call]


def native_enabled(schema: str) -> bool:
    """Whether Apprise's own plugin for `schema` is usable here."""
    from apprise.manager_plugins import NotificationManager

    manager = NotificationManager()  # type: ignore[no-untyped-call]
    return schema in manager and bool(manager[schema].enabled)


def rewrite_url(url: str, enabled: Callable[[str], bool] = native_enabled) -> str:
    """`dbus://…` (and kin) → `desktop://` when the native plugin is disabled."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in NATIVE_SCHEMAS or enabled(scheme.lower()):
        return url
    _, q, query = rest.partition("?")
    return f"{SCHEMA}://" + (f"?{query}" if q and query else "")


__all__ = ["NATIVE_SCHEMAS", "SCHEMA", "native_enabled", "register", "rewrite_url", "send"]
