"""Apprise delivery for real (a local HTTP receiver), URL redaction, the desktop plugin."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor.config import AlertsConfig
from monitor.desktop import native_enabled, rewrite_url
from monitor.notify import Notifier, redact, render_test_results, scrub, secrets_of, send_test
from tests.http_receiver import Receiver

TG_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
TELEGRAM = f"tgram://{TG_TOKEN}/-100987654/"
SLACK = "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ/#general"
DISCORD = "discord://4174216298/JHMHI8qBe7bk2ZwO5U711o3dV_js"
NTFY = "ntfys://alice:s3cretpw@ntfy.example.com/budget-topic-x7"
MAILTO = "mailto://me:app-password-42@gmail.com?to=boss@example.com"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (TELEGRAM, "tgram://****/****"),
        (SLACK, "slack://****/****"),
        (DISCORD, "discord://****/****"),
        (NTFY, "ntfys://****@ntfy.example.com/****"),
        ("ntfy://my-secret-topic", "ntfy://****"),
        (MAILTO, "mailto://****@gmail.com?to=****"),
        ("json://127.0.0.1:8080/hook?token=abc123", "json://127.0.0.1:8080/****?token=****"),
        ("json://localhost:9000/", "json://localhost:9000/"),
        ("desktop://", "desktop://"),
        ("not a url with s3cret", "****"),
    ],
)
def test_redact_keeps_scheme_and_host_and_masks_every_secret(url: str, shown: str) -> None:
    assert redact(url) == shown


@pytest.mark.parametrize("url", [TELEGRAM, SLACK, DISCORD, NTFY, MAILTO])
def test_scrub_masks_every_secret_part_of_a_url_in_free_text(url: str) -> None:
    text = f"could not send to {url}: HTTP 401 at /bot{TG_TOKEN}/sendMessage"
    cleaned = scrub(text, secrets_of(url))
    for secret in ("AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", "TIiajkdnlazkcOXrIdevi7FQ",
                   "JHMHI8qBe7bk2ZwO5U711o3dV_js", "s3cretpw", "app-password-42"):  # fmt: skip
        if secret in url:
            assert secret not in cleaned


async def test_each_target_gets_its_own_result_and_a_bad_url_is_reported_redacted(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    down = Receiver().start()
    down.stop()  # its port now refuses connections
    bad = "tgram://s3cret-bot-token/12345"  # Apprise logs this one verbatim at ERROR
    caplog.set_level(logging.DEBUG)
    notifier = Notifier.from_config(AlertsConfig(urls=(receiver.url, bad, down.url)))
    assert notifier.labels == (receiver.url, down.url)
    assert notifier.problems[0][0] == "tgram://****/****"
    results = await notifier.deliver("llm-monitor: test one", "body", "warning")
    assert {label: o.ok for label, o in results.items()} == {receiver.url: True, down.url: False}
    assert "127.0.0.1" in results[down.url].error
    [message] = receiver.wait_for(1)
    assert (message["title"], message["message"], message["type"]) == (
        "llm-monitor: test one", "body", "warning",
    )  # fmt: skip
    only = await notifier.deliver("again", "body", "failure", only={down.url})
    assert list(only) == [down.url] and len(receiver.messages) == 1
    assert "Telegram" in caplog.text and "s3cret-bot-token" not in caplog.text
    assert logging.getLogger("apprise").getEffectiveLevel() >= logging.INFO


async def test_notify_test_reports_each_target(receiver: Receiver) -> None:
    notifier = Notifier.from_config(AlertsConfig(urls=(receiver.url, "nosuchscheme://x/y")))
    rows = await send_test(notifier, datetime(2026, 11, 23, 12, tzinfo=UTC), ZoneInfo("UTC"))
    assert [(label, ok) for label, ok, _ in rows] == [
        (receiver.url, True), ("nosuchscheme://****/****", False),
    ]  # fmt: skip
    [message] = receiver.wait_for(1)
    assert message["title"] == "llm-monitor: test notification"
    assert message["type"] == "info"
    text = render_test_results(rows).splitlines()
    assert text[0] == f"ok      {receiver.url}"
    assert text[1].startswith("FAILED  nosuchscheme://****/****  (not a usable Apprise URL")


async def test_apprise_config_file_targets_are_loaded_and_redacted(
    receiver: Receiver, tmp_path: Path
) -> None:
    path = tmp_path / "apprise.yml"
    path.write_text(f"urls:\n  - {receiver.url}\n")
    notifier = Notifier.from_config(AlertsConfig(apprise_config=path))
    assert len(notifier.targets) == 1 and notifier.labels[0].startswith("json://127.0.0.1:")
    results = await notifier.deliver("from a config file", "body", "info")
    assert [o.ok for o in results.values()] == [True]
    missing = Notifier.from_config(AlertsConfig(apprise_config=tmp_path / "nope.yml"))
    assert missing.targets == () and missing.problems[0][0] == str(tmp_path / "nope.yml")


# ---------------------------------------------------------------- desktop


@pytest.fixture
def fake_notify_send(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in `notify-send` on PATH that writes its arguments, one per line."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    record = tmp_path / "notify-send.args"
    script = bin_dir / "notify-send"
    script.write_text(f'#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done >> "{record}"\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    return record


@pytest.mark.e2e
async def test_desktop_target_runs_notify_send_with_title_body_and_urgency(
    fake_notify_send: Path,
) -> None:
    notifier = Notifier.from_config(AlertsConfig(urls=("desktop://",)))
    results = await notifier.deliver("llm-monitor: budget 'm' at 100 %", "-body-", "failure")
    assert [o.ok for o in results.values()] == [True]
    assert fake_notify_send.read_text().splitlines() == [
        "--app-name=llm-monitor", "--urgency=critical", "--", "llm-monitor: budget 'm' at 100 %",
        "-body-",
    ]  # fmt: skip
    await notifier.deliver("warn", "b", "warning")
    assert "--urgency=normal" in fake_notify_send.read_text().splitlines()


async def test_desktop_target_fails_cleanly_without_notify_send(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    notifier = Notifier.from_config(AlertsConfig(urls=("desktop://",)))
    results = await notifier.deliver("t", "b", "warning")
    assert [o.ok for o in results.values()] == [False]


def test_native_desktop_urls_become_desktop_only_when_their_plugin_is_disabled() -> None:
    assert rewrite_url("dbus://", lambda schema: False) == "desktop://"
    assert rewrite_url("gnome://?urgency=high", lambda schema: False) == "desktop://?urgency=high"
    assert rewrite_url("glib://", lambda schema: True) == "glib://"
    assert rewrite_url("json://localhost/", lambda schema: False) == "json://localhost/"


@pytest.mark.e2e
async def test_dbus_url_falls_back_to_notify_send_without_dbus_python(
    fake_notify_send: Path,
) -> None:
    if native_enabled("dbus"):
        pytest.skip("dbus-python is installed: Apprise's own plugin serves dbus://")
    notifier = Notifier.from_config(AlertsConfig(urls=("dbus://",)))
    assert notifier.labels == ("dbus://",) and notifier.problems == ()
    results = await notifier.deliver("title", "body", "warning")
    assert results["dbus://"].ok
    assert fake_notify_send.read_text().splitlines()[-2:] == ["title", "body"]
