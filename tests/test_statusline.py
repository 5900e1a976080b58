"""`llm-monitor statusline`, fed real-shaped Claude Code JSON: one line, exit 0, always."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import pytest

from monitor.cli import main

RESETS = int(time.time()) + 2 * 3600 + 600


def claude_input(**overrides: Any) -> bytes:
    doc: dict[str, Any] = {
        "hook_event_name": "Status",
        "session_id": "0b9e8d7c-6a5f-4e3d-8c2b-1a0f9e8d7c6b",
        "model": {"id": "claude-opus-4-5-20251101", "display_name": "Opus 4.5"},
        "workspace": {"current_dir": "/home/u/p", "project_dir": "/home/u/p"},
        "version": "2.1.80",
        "cost": {"total_cost_usd": 1.234, "total_duration_ms": 45000},
        "rate_limits": {
            "five_hour": {"used_percentage": 83, "resets_at": RESETS},
            "seven_day": {"used_percentage": 20, "resets_at": RESETS + 300_000},
        },
    }
    doc.update(overrides)
    return json.dumps(doc).encode()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f'[monitor]\ntimezone = "UTC"\nstate_dir = "{tmp_path / "state"}"\n'
        f'socket = "{tmp_path / "d.sock"}"\n'
    )
    return path


def run(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    stdin: bytes,
    *args: str,
) -> tuple[int, str]:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    code = main(["statusline", *args])
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return code, out.out


def test_one_line_with_model_session_cost_and_both_windows(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    code, out = run(capsys, monkeypatch, claude_input(), "--config", str(config))
    assert code == 0 and out.count("\n") == 1
    assert out.startswith("Opus 4.5 | session $1.23 | 5h 83% (2h")
    assert out.rstrip().endswith("| 7d 20%")


def test_windows_are_spooled_once_and_reach_status_after_a_scan(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for _ in range(3):  # Claude Code runs it every few hundred milliseconds
        run(capsys, monkeypatch, claude_input(), "--config", str(config))
    spool = config.parent / "state" / "spool" / "statusline.jsonl"
    assert len(spool.read_text().splitlines()) == 2
    assert main(["scan", "--config", str(config)]) == 0
    capsys.readouterr()
    assert main(["status", "--json", "--config", str(config)]) == 0
    limits = json.loads(capsys.readouterr().out)["limits"]
    assert {(w["tool"], w["window"], w["used_percent"]) for w in limits} == {
        ("claude-code", "5h", 83.0),
        ("claude-code", "7d", 20.0),
    }


@pytest.mark.parametrize(
    "stdin",
    [
        b"",
        b"garbage",
        b"[1, 2]",
        claude_input(rate_limits=None),
        claude_input(rate_limits={"five_hour": {"used_percentage": "lots", "resets_at": 1}}),
        claude_input(model=7, cost="free"),
    ],
    ids=["empty", "garbage", "not-an-object", "no-windows", "broken-windows", "odd-types"],
)
def test_bad_or_missing_input_still_gives_one_line_and_exit_0(
    config: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    stdin: bytes,
) -> None:
    code, out = run(capsys, monkeypatch, stdin, "--config", str(config))
    assert code == 0 and out.count("\n") == 1 and out.strip()
    assert " 0%" not in out  # a broken window is not shown as an empty one


def test_waybar_and_json_formats(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, out = run(capsys, monkeypatch, claude_input(), "--config", str(config), "--format", "waybar")
    bar = json.loads(out)
    assert (bar["class"], bar["percentage"]) == ("warn", 83)
    assert "5h 83%" in bar["text"] and "\n" in bar["tooltip"]
    _, out = run(capsys, monkeypatch, claude_input(), "--config", str(config), "--format", "tmux")
    assert "#[fg=yellow]5h 83%" in out


def test_colour_marks_the_level_unless_no_color(
    config: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_COLOR", raising=False)
    _, out = run(capsys, monkeypatch, claude_input(), "--config", str(config))
    assert "\x1b[33m5h 83%" in out
    monkeypatch.setenv("NO_COLOR", "1")
    _, out = run(capsys, monkeypatch, claude_input(), "--config", str(config))
    assert "\x1b[" not in out


@pytest.mark.parametrize(
    "argv",
    [
        ["statusline"],
        ["statusline", "--format", "tmux"],
        ["statusline", "--format=waybar", "-v"],
        ["--config", "/x/c.toml", "statusline", "--format", "json"],
        ["statusline", "--config=/x/c.toml"],
    ],
)
def test_the_status_bar_reads_its_arguments_without_argparse_as_argparse_would(
    argv: list[str],
) -> None:
    from monitor.cli import _statusline_args, build_parser

    keys = ("config", "verbose", "format", "func")
    fast = vars(_statusline_args(argv))
    slow = vars(build_parser().parse_args(argv))
    assert {k: fast[k] for k in keys} == {
        k: slow.get(k, None if k == "config" else False) for k in keys
    }


def test_anything_else_on_the_status_bar_line_goes_to_argparse() -> None:
    from monitor.cli import _statusline_args

    assert _statusline_args(["statusline", "--format", "bogus"]) is None
    assert _statusline_args(["statusline", "--json"]) is None
    assert _statusline_args(["statusline", "--config"]) is None
