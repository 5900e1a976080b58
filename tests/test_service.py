"""`llm-monitor service install | uninstall`: the systemd user unit, rendered and installed.

The unit is a pure function of what it runs, tested on plain values. Installing runs
`llm-monitor service …` in this process against a temporary $XDG_CONFIG_HOME, with a
stand-in `systemctl` first on $PATH that records its arguments (systemd is the edge of
the outside world); those tests start that script, so they are marked e2e.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from monitor.cli import main
from monitor.service import UNIT, Target, render_unit, running_command, unit_for, unit_path
from tests.test_stop_e2e import hello_from, listener

REPO = Path(__file__).resolve().parent.parent
HOME = Path("/home/ada")


def lines(text: str) -> list[str]:
    return text.splitlines()


BASE = Target(
    argv=("/home/ada/.local/bin/llm-monitor",),
    config=HOME / ".config/llm-monitor/work.toml",
    state_dir=HOME / ".local/state/llm-monitor",
    socket_path=Path("/run/user/1000/llm-monitor.sock"),
)


def target(**changes: Any) -> Target:
    return replace(BASE, **changes)


# -- the unit, pure ------------------------------------------------------------------------------


def test_the_unit_runs_the_daemon_of_the_given_executable_with_its_config() -> None:
    unit = lines(unit_for(target()))
    exec_start = "ExecStart=/home/ada/.local/bin/llm-monitor daemon --config "
    assert exec_start + "/home/ada/.config/llm-monitor/work.toml" in unit
    assert "Type=notify" in unit and "NotifyAccess=main" in unit
    assert "ExecStartPre=+/bin/mkdir -p /home/ada/.local/state/llm-monitor" in unit
    assert "ReadWritePaths=/home/ada/.local/state/llm-monitor %t -/run/user/1000" in unit
    assert "ExecReload=/bin/kill -HUP $MAINPID" in unit
    assert "PrivateTmp=yes" in unit and "WantedBy=default.target" in unit
    assert not any(line.startswith("Environment=") for line in unit)


def test_without_a_config_the_daemon_finds_its_own() -> None:
    unit = lines(unit_for(target(config=None)))
    assert "ExecStart=/home/ada/.local/bin/llm-monitor daemon" in unit


def test_a_python_module_command_carries_where_monitor_is_importable() -> None:
    module = ("/opt/venv/bin/python", "-m", "monitor.cli")
    unit = unit_for(target(argv=module, config=None, pythonpath=Path("/src/llm monitor")))
    assert "ExecStart=/opt/venv/bin/python -m monitor.cli daemon\n" in unit
    assert 'Environment="PYTHONPATH=/src/llm monitor"\n' in unit


def test_paths_are_escaped_for_systemd() -> None:
    # `%` is a specifier everywhere, `$` a variable in Exec lines, a space splits words.
    config, state = Path("/home/ada/My Configs/100%$HOME.toml"), Path("/srv/state 50%")
    unit = lines(unit_for(target(config=config, state_dir=state)))
    assert (
        'ExecStart=/home/ada/.local/bin/llm-monitor daemon --config "/home/ada/My Configs/'
        '100%%$$HOME.toml"'
    ) in unit
    assert 'ExecStartPre=+/bin/mkdir -p "/srv/state 50%%"' in unit
    assert 'ReadWritePaths="/srv/state 50%%" %t -/run/user/1000' in unit


def test_a_socket_inside_the_state_dir_needs_no_path_of_its_own() -> None:
    unit = lines(unit_for(target(socket_path=HOME / ".local/state/llm-monitor/d.sock")))
    assert "ReadWritePaths=/home/ada/.local/state/llm-monitor %t" in unit


def test_a_state_dir_in_tmp_is_not_hidden_behind_a_private_tmp() -> None:
    unit = lines(unit_for(target(state_dir=Path("/tmp/lm/state"))))
    assert "PrivateTmp=yes" not in unit
    assert "ReadWritePaths=/tmp/lm/state %t -/run/user/1000" in unit


def test_the_repositorys_unit_is_the_rendered_one() -> None:
    checked_in = (REPO / "systemd" / "llm-monitor.service").read_text()
    header, _, _ = checked_in.partition("[Unit]\n")
    rendered = render_unit(
        "%h/.local/bin/llm-monitor daemon",
        "%h/.local/state/llm-monitor",
        ["%h/.local/state/llm-monitor", "%t"],
        header=header,
    )
    assert checked_in == rendered


def test_the_llm_monitor_script_that_runs_is_the_executable(tmp_path: Path) -> None:
    real = tmp_path / "venv" / "bin" / "llm-monitor"
    real.parent.mkdir(parents=True)
    real.write_text("#!/bin/sh\n")
    real.chmod(0o755)
    link = tmp_path / "bin" / "llm-monitor"  # pipx's link: kept, it outlives upgrades
    link.parent.mkdir()
    link.symlink_to(real)
    assert running_command(str(link)) == ((str(link),), None)


def test_otherwise_this_interpreter_runs_the_module(tmp_path: Path) -> None:
    argv, pythonpath = running_command(str(REPO / "monitor" / "cli.py"), python="/py/bin/python")
    assert argv == ("/py/bin/python", "-m", "monitor.cli")
    assert pythonpath is None or (pythonpath / "monitor" / "cli.py").is_file()


def test_the_unit_goes_to_xdg_config_home() -> None:
    assert unit_path({"XDG_CONFIG_HOME": "/x/cfg", "HOME": "/h"}) == Path(
        "/x/cfg/systemd/user/llm-monitor.service"
    )
    assert unit_path({"HOME": "/h"}) == Path("/h/.config/systemd/user/llm-monitor.service")


# -- install and uninstall through the CLI --------------------------------------------------------


class World:
    def __init__(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.config_home = tmp_path / "xdg"
        self.bin = tmp_path / "bin"
        self.bin.mkdir()
        self.log = tmp_path / "systemctl.log"
        self.socket = tmp_path / "d.sock"
        self.config = tmp_path / "config.toml"
        self.write_config(self.socket)
        monkeypatch.setenv("XDG_CONFIG_HOME", str(self.config_home))
        monkeypatch.setenv("PATH", str(self.bin))
        monkeypatch.delenv("LLM_MONITOR_CONFIG", raising=False)

    def write_config(self, socket: Path) -> None:
        self.config.write_text(
            f'[monitor]\nstate_dir = "{self.config.parent / "state"}"\nsocket = "{socket}"\n'
        )

    @property
    def unit(self) -> Path:
        return self.config_home / "systemd" / "user" / UNIT

    def systemctl(self, fail: str | None = None) -> None:
        """A `systemctl` that records its arguments; `fail`: the verb it fails on, as
        systemctl does without a user session bus."""
        fails = (
            f'case "$*" in *{fail}*) echo "Failed to connect to bus: No medium found" >&2; '
            "exit 1;; esac\n"
            if fail
            else ""
        )
        script = self.bin / "systemctl"
        script.write_text(f'#!/bin/sh\necho "$*" >> "{self.log}"\n{fails}exit 0\n')
        script.chmod(0o755)

    def calls(self) -> list[str]:
        return self.log.read_text().splitlines() if self.log.exists() else []

    def run(self, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
        code = main([*argv, "--config", str(self.config)])
        out, err = capsys.readouterr()
        return code, out, err


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> World:
    return World(tmp_path, monkeypatch)


def test_print_writes_nothing_and_runs_no_systemctl(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.systemctl()
    code, out, err = world.run(capsys, "service", "install", "--print")
    assert (code, err) == (0, "")
    assert f"daemon --config {world.config}\n" in out and "Type=notify" in out
    assert not world.unit.exists() and not world.config_home.exists()
    assert world.calls() == []  # and the e2e guard would have failed a started process


def _target(world: World) -> Target:
    argv, pythonpath = running_command()
    return Target(argv, world.config, world.config.parent / "state", world.socket, pythonpath)


@pytest.mark.e2e
def test_install_writes_the_unit_then_reloads_enables_and_starts_it(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.systemctl()
    code, out, err = world.run(capsys, "service", "install")
    assert (code, err) == (0, "")
    assert world.unit.read_text() == unit_for(_target(world))
    assert oct(world.unit.stat().st_mode & 0o777) == "0o644"
    assert world.calls() == ["--user daemon-reload", f"--user enable --now {UNIT}"]
    assert f"wrote {world.unit}\n" in out and "is enabled and running" in out
    assert "loginctl enable-linger" in out


@pytest.mark.e2e
def test_installing_again_keeps_an_unchanged_unit_and_restarts_a_changed_one(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.systemctl()
    assert world.run(capsys, "service", "install")[0] == 0
    world.log.unlink()

    code, out, _ = world.run(capsys, "service", "install")
    assert code == 0 and f"{world.unit} is up to date" in out
    assert world.calls() == ["--user daemon-reload", f"--user enable --now {UNIT}"]
    world.log.unlink()

    world.write_config(world.config.parent / "run" / "d.sock")
    assert world.run(capsys, "service", "install")[0] == 0
    assert f" -{world.config.parent / 'run'}\n" in world.unit.read_text()  # its socket's dir
    assert world.calls() == [
        "--user daemon-reload",
        f"--user try-restart {UNIT}",  # a running unit picks the new file up
        f"--user enable --now {UNIT}",
    ]


@pytest.mark.e2e
def test_uninstall_disables_removes_and_reloads_and_a_second_finds_nothing(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.systemctl()
    assert world.run(capsys, "service", "install")[0] == 0
    world.log.unlink()

    code, out, err = world.run(capsys, "service", "uninstall")
    assert (code, err) == (0, "")
    assert not world.unit.exists()
    assert world.calls() == [f"--user disable --now {UNIT}", "--user daemon-reload"]
    assert f"removed {world.unit}" in out
    world.log.unlink()

    code, out, _ = world.run(capsys, "service", "uninstall")
    assert (code, out) == (0, f"{UNIT} is not installed (no {world.unit})\n")
    assert world.calls() == []


def test_without_systemctl_install_says_what_to_run_and_fails(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = world.run(capsys, "service", "install")  # $PATH has no systemctl
    assert code == 1 and "Traceback" not in err
    assert f"wrote {world.unit}; there is no systemctl here" in err
    assert "  systemctl --user daemon-reload\n" in err
    assert f"  systemctl --user enable --now {UNIT}\n" in err
    assert world.unit.exists()  # written: ready for the commands above


def test_an_unwritable_unit_directory_is_an_error_not_a_traceback(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.config_home.write_text("")  # a file where the directory should be
    code, _, err = world.run(capsys, "service", "install")
    assert code == 1 and "Traceback" not in err
    assert f"llm-monitor: cannot write {world.unit}: " in err


@pytest.mark.e2e
@pytest.mark.parametrize("fail", ["daemon-reload", "enable"])
def test_a_failing_systemctl_is_reported_with_the_manual_commands(
    world: World, capsys: pytest.CaptureFixture[str], fail: str
) -> None:
    world.systemctl(fail=fail)
    code, _, err = world.run(capsys, "service", "install")
    assert code == 1 and "Traceback" not in err
    assert "failed: Failed to connect to bus: No medium found" in err
    assert f"  systemctl --user enable --now {UNIT}" in err


@pytest.mark.e2e
def test_uninstall_keeps_the_file_when_systemd_cannot_disable_the_unit(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.unit.parent.mkdir(parents=True)
    world.unit.write_text("[Unit]\n")
    world.systemctl(fail="disable")
    code, _, err = world.run(capsys, "service", "uninstall")
    assert code == 1 and "Traceback" not in err
    assert world.unit.exists()
    assert f"  rm {world.unit}\n" in err


@pytest.mark.e2e
def test_a_daemon_already_serving_the_socket_is_not_doubled(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    # One started by `llm-monitor run`: a second one under systemd would be refused and
    # restarted for ever, so the unit is enabled, not started.
    world.systemctl()
    with listener(hello_from(os.getpid())) as served:
        world.write_config(served.path)
        code, out, err = world.run(capsys, "service", "install")
    assert (code, err) == (0, "")
    assert world.calls() == ["--user daemon-reload", f"--user enable {UNIT}"]
    assert f"not run by systemd (pid {os.getpid()})" in out
    assert "llm-monitor stop && systemctl --user start llm-monitor" in out
