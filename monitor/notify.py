"""Apprise delivery: one target at a time, every URL redacted wherever it is shown.

Owns turning `[alerts] urls` / `apprise_config` into delivery targets, sending a
title and body to each target separately (so a target that is down is retried alone:
Apprise's `async_notify` is falsy as soon as one of several targets fails), and
keeping secrets out of every log line and error text:
- `redact(url)` keeps the scheme and a real host name, and masks credentials, path
  segments (Telegram, Slack and Discord carry their tokens there), query values and a
  host that is really a token (`tgram://123:ABC@…` → `tgram://****/****`);
- Apprise logs whole URLs at DEBUG, so its logger (and urllib3's, which logs request
  paths such as `/bot<token>/sendMessage`) is kept at INFO or above, and a filter on
  Apprise's logger masks every secret part of the configured URLs in what it logs.

Apprise costs ~0.1 s to import: it is imported on first use here, never at module
import time, so `status` and `report` never pay for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import unquote

from monitor.events import utc
from monitor.rules.base import PREFIX, Severity

if TYPE_CHECKING:
    from types import ModuleType

    from monitor.config import AlertsConfig, Config

log = logging.getLogger("llm_monitor.notify")

MASK: Final = "****"
APP_ID: Final = "llm-monitor"
_QUIET_LOGGERS: Final = ("apprise", "urllib3")
_MIN_SECRET: Final = 3


# ---------------------------------------------------------------- redaction


def _public_host(hostport: str) -> str | None:
    """`hostport` when it names a host (a dotted name, an IP, localhost), else None."""
    if hostport.startswith("["):
        return hostport
    host, _, port = hostport.partition(":")
    if port and not port.isdigit():
        return None
    if host == "localhost" or ("." in host and all(host.split("."))):
        return hostport
    return None


def redact(url: str) -> str:
    """An Apprise URL safe to print: scheme and host kept, every secret part masked.

    `tgram://123456:ABC/4567` → `tgram://****/****`; `ntfy://u:p@ntfy.sh/topic` →
    `ntfy://****@ntfy.sh/****`; `json://127.0.0.1:8080/hook?token=x` →
    `json://127.0.0.1:8080/****?token=****`.
    """
    scheme, sep, rest = url.strip().partition("://")
    if not sep or not scheme or not scheme.replace("+", "").replace("-", "").isalnum():
        return MASK
    rest = rest.partition("#")[0]
    rest, _, query = rest.partition("?")
    netloc, slash, path = rest.partition("/")
    _, at, hostport = netloc.rpartition("@")
    out = f"{scheme.lower()}://"
    if at:
        out += f"{MASK}@"
    if hostport:
        out += _public_host(hostport) or MASK
    if path.strip("/"):
        out += f"/{MASK}"
    elif slash:
        out += "/"
    keys = [k for k, _, _ in (p.partition("=") for p in query.split("&")) if k]
    if keys:
        out += "?" + "&".join(f"{k}={MASK}" for k in keys)
    return out


def secrets_of(url: str) -> set[str]:
    """Every part of `url` that `redact` masks (for scrubbing free text)."""
    _, sep, rest = url.strip().partition("://")
    if not sep:
        return {url.strip()} if len(url.strip()) >= _MIN_SECRET else set()
    rest, _, fragment = rest.partition("#")
    rest, _, query = rest.partition("?")
    netloc, _, path = rest.partition("/")
    userinfo, _, hostport = netloc.rpartition("@")
    parts = [*userinfo.split(":"), fragment, *path.split("/")]
    parts += [v for _, _, v in (p.partition("=") for p in query.split("&"))]
    if _public_host(hostport) is None:
        parts += [hostport, *hostport.split(":")]
    found = set()
    for p in parts:
        for variant in (p, unquote(p)):
            if len(variant) >= _MIN_SECRET:
                found.add(variant)
    return found


_SECRETS: set[str] = set()


def scrub(text: str, secrets: Iterable[str] | None = None) -> str:
    """`text` with every known secret (longest first) replaced by the mask."""
    for s in sorted(_SECRETS if secrets is None else secrets, key=len, reverse=True):
        if s in text:
            text = text.replace(s, MASK)
    return text


class _ScrubFilter(logging.Filter):
    """Masks configured secrets in Apprise's own log records."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _SECRETS:
            message = record.getMessage()
            cleaned = scrub(message)
            if cleaned != message:
                record.msg, record.args = cleaned, ()
        return True


_FILTER: Final = _ScrubFilter()


def quiet_apprise_logs() -> None:
    """Keep Apprise (and urllib3) at INFO or above: at DEBUG they log tokens."""
    for name in _QUIET_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level < logging.INFO:
            logger.setLevel(logging.INFO)
    apprise_logger = logging.getLogger("apprise")
    if _FILTER not in apprise_logger.filters:
        apprise_logger.addFilter(_FILTER)


def _apprise() -> ModuleType:
    """Import Apprise on first use, with quiet logs and the `desktop://` plugin."""
    quiet_apprise_logs()
    import apprise

    from monitor import desktop

    quiet_apprise_logs()
    desktop.register()
    return apprise


# ---------------------------------------------------------------- delivery


@dataclass(frozen=True, slots=True)
class Outcome:
    """One target's result; `error` is already scrubbed of secrets."""

    ok: bool
    error: str = ""


@dataclass(frozen=True, slots=True)
class Target:
    label: str
    """The redacted URL, unique among the targets (a suffix tells twins apart)."""
    apprise: Any
    """An `apprise.Apprise` holding this one service."""


def _unique(label: str, taken: Collection[str]) -> str:
    if label not in taken:
        return label
    n = 2
    while f"{label} ({n})" in taken:
        n += 1
    return f"{label} ({n})"


class Notifier:
    """The configured targets; `deliver` sends to each and reports each one's result."""

    def __init__(
        self, targets: Sequence[Target] = (), problems: Sequence[tuple[str, str]] = ()
    ) -> None:
        self.targets = tuple(targets)
        self.problems = tuple(problems)
        """(redacted URL, what is wrong) for each URL that could not be loaded."""

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(t.label for t in self.targets)

    @classmethod
    def from_config(cls, alerts: AlertsConfig) -> Notifier:
        """Load every URL and the config file; report the bad ones (redacted) and go on."""
        if not alerts.urls and alerts.apprise_config is None:
            return cls()  # nothing to load: do not pay for importing Apprise
        from monitor.desktop import rewrite_url

        for url in alerts.urls:
            _SECRETS.update(secrets_of(url))
        if alerts.apprise_config is not None:
            _SECRETS.update(_secrets_in_file(alerts.apprise_config))
        apprise = _apprise()
        asset = apprise.AppriseAsset(app_id=APP_ID, app_desc="LLM usage monitor")
        targets: list[Target] = []
        problems: list[tuple[str, str]] = []
        taken: set[str] = set()

        def add(service: Any, label: str) -> None:
            label = _unique(label, taken)
            taken.add(label)
            one = apprise.Apprise(asset=asset)
            one.add(service)
            targets.append(Target(label, one))

        for url in alerts.urls:
            service = apprise.Apprise.instantiate(rewrite_url(url), asset=asset)
            if service is None:
                label = _unique(redact(url), taken)
                taken.add(label)
                problems.append(
                    (
                        label,
                        "not a usable Apprise URL (unknown scheme, malformed, or its plugin "
                        "is unavailable here)",
                    )
                )
                log.error("notification target %s: not a usable Apprise URL; skipped", label)
            else:
                add(service, redact(url))
        if alerts.apprise_config is not None:
            path = str(alerts.apprise_config)
            config = apprise.AppriseConfig(asset=asset)
            loaded: list[Any] = []
            if config.add(path):
                holder = apprise.Apprise(asset=asset)
                holder.add(config)
                loaded = list(holder)
            if not loaded:
                problems.append((path, "no usable notification URL in this Apprise config file"))
                log.error("apprise_config %s: no usable notification URL; skipped", path)
            for service in loaded:
                full = str(service.url())
                _SECRETS.update(secrets_of(full))
                add(service, redact(full))
        for t in targets:
            log.info("notification target: %s", t.label)
        return cls(targets, problems)

    async def deliver(
        self, title: str, body: str, severity: Severity, only: Collection[str] | None = None
    ) -> dict[str, Outcome]:
        """Send to every target (or those labelled in `only`), all at once; never raises."""
        chosen = [t for t in self.targets if only is None or t.label in only]
        if not chosen:
            return {}
        apprise = _apprise()
        notify_type = {
            "info": apprise.NotifyType.INFO,
            "warning": apprise.NotifyType.WARNING,
            "failure": apprise.NotifyType.FAILURE,
        }[severity]
        outcomes = await asyncio.gather(
            *(_send(t, title, body, notify_type) for t in chosen), return_exceptions=True
        )
        out: dict[str, Outcome] = {}
        for t, result in zip(chosen, outcomes, strict=True):
            if isinstance(result, BaseException):
                result = Outcome(False, scrub(f"{type(result).__name__}: {result}"))
            out[t.label] = result
        return out


def _secrets_in_file(path: Path) -> set[str]:
    """Secrets of every URL-looking word of an Apprise config file (before Apprise logs them)."""
    try:
        text = path.read_text("utf-8", errors="replace")
    except OSError:
        return set()
    found: set[str] = set()
    for word in text.split():
        if "://" in word:
            found |= secrets_of(word.strip("\"',[]"))
    return found


async def _send(target: Target, title: str, body: str, notify_type: Any) -> Outcome:
    try:
        result = await target.apprise.async_notify(body=body, title=title, notify_type=notify_type)
    except Exception as exc:  # a plugin bug must not stop the other targets
        return Outcome(False, scrub(f"{type(exc).__name__}: {exc}"))
    if result:
        return Outcome(True)
    return Outcome(False, scrub(_why(result)) or "delivery failed")


def _why(result: Any) -> str:
    """Apprise 2's per-service log lines at WARNING or above (Apprise 1 returns a bool)."""
    messages: list[str] = []
    try:
        for service in result:
            for entry in service.logs():
                if entry.level in ("WARNING", "ERROR", "CRITICAL") and entry.message:
                    messages.append(str(entry.message))
    except TypeError:
        return ""
    return "; ".join(dict.fromkeys(messages))


# ---------------------------------------------------------------- notify-test


async def send_test(notifier: Notifier, now: datetime, tz: tzinfo) -> list[tuple[str, bool, str]]:
    """A test message to every target: (redacted URL, ok, error) each, bad URLs included."""
    local = utc(now).astimezone(tz)
    title = f"{PREFIX} test notification"
    body = (
        f"This is a test from llm-monitor, sent {local:%Y-%m-%d %H:%M:%S %Z}. "
        "Budget alerts will arrive here."
    )
    results = await notifier.deliver(title, body, "info")
    rows = [(label, o.ok, o.error) for label, o in results.items()]
    rows += [(label, False, problem) for label, problem in notifier.problems]
    return rows


def notify_test(config: Config) -> list[tuple[str, bool, str]]:
    """`llm-monitor notify-test`: no targets configured → an empty list."""
    notifier = Notifier.from_config(config.alerts)
    return asyncio.run(send_test(notifier, datetime.now(UTC), config.tz))


def render_test_results(rows: Sequence[tuple[str, bool, str]]) -> str:
    if not rows:
        return "No notification targets: set [alerts] urls or apprise_config in the config."
    lines = []
    for label, ok, error in rows:
        lines.append(f"{'ok    ' if ok else 'FAILED'}  {label}" + (f"  ({error})" if error else ""))
    return "\n".join(lines)


__all__ = [
    "Notifier",
    "Outcome",
    "Target",
    "notify_test",
    "quiet_apprise_logs",
    "redact",
    "render_test_results",
    "scrub",
    "secrets_of",
    "send_test",
]
