"""`llm-monitor service install | uninstall`: the daemon as a systemd user service.

The unit is rendered here, once (`render_unit`); the repository's
systemd/llm-monitor.service is the same text for `~/.local/bin/llm-monitor`, a test
keeps the two equal. `install` writes it for the llm-monitor that is running (its
absolute path, or this interpreter with `-m monitor.cli`), with `--config` when one was
chosen, into `$XDG_CONFIG_HOME/systemd/user/`, then has systemd reload, enable and
start it; `uninstall` undoes that. `systemctl` is the edge of the outside world: when
it is missing or fails (a container, no user session bus) the error names the step and
the commands to run by hand, and the command exits 1.

Paths written into the unit are escaped for it: `%` is a specifier, `$` a variable in
an Exec line, and a word with a space is quoted.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import site
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from monitor.config.locations import xdg_dir

if TYPE_CHECKING:
    from monitor.config import Config

UNIT: Final = "llm-monitor.service"
SYSTEMCTL_TIMEOUT: Final = 60.0
SCRIPT: Final = "llm-monitor"
_TMP_DIRS: Final = (Path("/tmp"), Path("/var/tmp"))

HEADER: Final = """\
# llm-monitor as a systemd user service, written by `llm-monitor service install`
# (`llm-monitor service uninstall` removes it). Keep it running after you log out:
#   loginctl enable-linger "$USER"
# Logs: journalctl --user -u llm-monitor -f      Reload config: systemctl --user reload llm-monitor
"""

_BODY: Final = """\
[Unit]
Description=llm-monitor: LLM API usage and cost monitor
Documentation=https://github.com/llm-monitor/llm-monitor#readme
After=default.target

[Service]
Type=notify
NotifyAccess=main
# The state dir must exist before the sandbox makes it writable ('+': outside the sandbox).
ExecStartPre=+/bin/mkdir -p {state_dir}
ExecStart={exec_start}
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=5
WatchdogSec=60
TimeoutStopSec=20
{environment}
# Hardening: the daemon only reads the watched logs and writes its state dir.
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=read-only
ReadWritePaths={read_write}
{private_tmp}
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectControlGroups=yes
RestrictSUIDSGID=yes
LockPersonality=yes
RestrictNamespaces=yes
SystemCallArchitectures=native
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6

[Install]
WantedBy=default.target
"""


class ServiceError(Exception):
    """A step that did not happen; the message says which and what to do by hand."""


# -- the unit --------------------------------------------------------------------------------


def render_unit(
    exec_start: str,
    state_dir: str,
    read_write: Sequence[str],
    environment: Sequence[str] = (),
    header: str = HEADER,
    *,
    private_tmp: bool = True,
) -> str:
    """The unit file from values already written as systemd words (specifiers allowed)."""
    return header + _BODY.format(
        exec_start=exec_start,
        state_dir=state_dir,
        read_write=" ".join(read_write),
        environment="".join(f"Environment={e}\n" for e in environment),
        private_tmp="PrivateTmp=yes"
        if private_tmp
        else "# No PrivateTmp: the state dir or the socket is in a temporary directory.",
    )


@dataclass(frozen=True, slots=True)
class Target:
    """What the unit runs and the paths it must be able to write."""

    argv: tuple[str, ...]
    """The llm-monitor command, without `daemon`: a script, or python -m monitor.cli."""
    config: Path | None
    state_dir: Path
    socket_path: Path
    pythonpath: Path | None = None
    """Where `monitor` is importable from, when `argv` runs it as a module."""


def unit_for(target: Target) -> str:
    """The unit that runs `target`'s daemon, every path escaped for systemd."""
    argv = [*target.argv, "daemon"]
    if target.config is not None:
        argv += ["--config", str(target.config)]
    state = _path_word(target.state_dir)
    read_write = [state, "%t"]  # %t: $XDG_RUNTIME_DIR, the default socket's home
    sock_dir = target.socket_path.parent
    if not sock_dir.is_relative_to(target.state_dir):
        # "-": no failure to start when the directory does not exist (yet).
        read_write.append(_quote("-" + _specifiers(str(sock_dir))))
    environment = []
    if target.pythonpath is not None:
        environment.append(_quote(f"PYTHONPATH={_specifiers(str(target.pythonpath))}"))
    # A private /tmp would hide a state dir or socket kept there from every client.
    in_tmp = any(p.is_relative_to(t) for p in (target.state_dir, sock_dir) for t in _TMP_DIRS)
    return render_unit(
        " ".join(_exec_word(a) for a in argv),
        _exec_word(str(target.state_dir)),
        read_write,
        environment,
        private_tmp=not in_tmp,
    )


def _specifiers(text: str) -> str:
    return text.replace("%", "%%")


def _quote(word: str) -> str:
    """Double quotes (with C escapes) around a word that needs them."""
    if word and not any(c.isspace() or c in "\"'\\;" for c in word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _exec_word(word: str) -> str:
    return _quote(_specifiers(word).replace("$", "$$"))


def _path_word(path: Path) -> str:
    return _quote(_specifiers(str(path)))


def running_command(
    argv0: str | None = None, python: str | None = None
) -> tuple[tuple[str, ...], Path | None]:
    """How systemd should start this llm-monitor, and the PYTHONPATH that needs, if any.

    The `llm-monitor` script this process runs as (its absolute path, symlinks kept: a
    pipx link outlives upgrades), else this interpreter with `-m monitor.cli` — plus, when
    `monitor` was not imported from a site-packages directory (a checkout), that directory
    as PYTHONPATH: systemd starts the daemon elsewhere than the current directory.
    """
    argv0 = sys.argv[0] if argv0 is None else argv0
    if Path(argv0).name == SCRIPT and os.path.isfile(argv0) and os.access(argv0, os.X_OK):
        return (os.path.abspath(argv0),), None
    here = Path(__file__).resolve().parent.parent
    site_dirs = {Path(p).resolve() for p in (*site.getsitepackages(), site.getusersitepackages())}
    return (python or sys.executable, "-m", "monitor.cli"), None if here in site_dirs else here


def unit_path(env: Mapping[str, str] | None = None) -> Path:
    """`$XDG_CONFIG_HOME/systemd/user/llm-monitor.service` (XDG default `~/.config`)."""
    env = os.environ if env is None else env
    return xdg_dir(env, "XDG_CONFIG_HOME", ".config") / "systemd" / "user" / UNIT


# -- install and uninstall ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Installed:
    path: Path
    changed: bool
    """False when the same unit was there already."""
    ran: tuple[str, ...]
    """The systemctl commands run, as shell lines."""
    occupied: str | None
    """Who serves the socket outside systemd (then the unit is enabled, not started)."""


def target_for(config: Config, config_file: Path | None) -> Target:
    argv, pythonpath = running_command()
    return Target(argv, config_file, config.state_dir, config.socket_path, pythonpath)


def occupant(socket_path: Path) -> str | None:
    """Who serves `socket_path` if not this unit, in words; None when nobody (or the unit
    itself) does. A second daemon would be refused, and systemd would restart it over and
    over, so the unit is then enabled without being started."""
    from monitor.stop import StopError, identify, systemd_unit_of

    try:
        found = identify(socket_path)
    except StopError:
        return "a process that is not an llm-monitor daemon"
    if found is None or systemd_unit_of(found.pid) == UNIT:
        return None
    return f"an llm-monitor daemon not run by systemd (pid {found.pid})"


def install(text: str, path: Path, *, occupied: str | None = None) -> Installed:
    """Write the unit (atomically), reload systemd, enable and start it — or, when
    `occupied` (see `occupant`), only enable it."""
    old = _read(path)
    changed = old != text
    if changed:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(text)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
            raise ServiceError(f"cannot write {path}: {exc.strerror or exc}") from None
    steps: list[list[str]] = [["daemon-reload"]]
    if changed and old is not None:
        steps.append(["try-restart", UNIT])  # a running unit picks up the new file
    steps.append(["enable", UNIT] if occupied else ["enable", "--now", UNIT])
    manual = [["daemon-reload"], ["enable", "--now", UNIT]]
    intro = f"wrote {path}" if changed else f"{path} is up to date"
    ran = _systemctl(steps, manual, intro)
    return Installed(path, changed, ran, occupied)


def describe(done: Installed) -> str:
    """What `service install` did, for people."""
    lines = [f"wrote {done.path}" if done.changed else f"{done.path} is up to date"]
    lines += [f"ran: {r}" for r in done.ran]
    if done.occupied:
        lines.append(
            f"{UNIT} is enabled but not started: {done.occupied} serves the socket. "
            "Hand over with: llm-monitor stop && systemctl --user start llm-monitor"
        )
    else:
        lines.append(
            f"{UNIT} is enabled and running: systemctl --user status llm-monitor; "
            "logs: journalctl --user -u llm-monitor -f"
        )
    lines.append('To keep it running after you log out: loginctl enable-linger "$USER"')
    return "\n".join(lines)


def uninstall(path: Path) -> tuple[str, ...] | None:
    """Stop and disable the unit, remove its file, reload systemd; None when not installed.

    The file stays when systemd could not disable it: removed under a running or enabled
    unit it would leave a dangling link and a service nobody can name.
    """
    if not path.exists():
        return None
    manual = [["disable", "--now", UNIT], ["rm", str(path)], ["daemon-reload"]]
    ran = _systemctl([["disable", "--now", UNIT]], manual, f"kept {path}")
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        raise ServiceError(f"{UNIT} is disabled, but {path} stays: {exc.strerror or exc}") from None
    return ran + _systemctl([["daemon-reload"]], [["daemon-reload"]], f"removed {path}")


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        raise ServiceError(f"cannot read {path}: {exc.strerror or exc}") from None


def _line(args: Sequence[str]) -> str:
    if args and args[0] == "rm":
        return shlex.join(args)
    return shlex.join(["systemctl", "--user", *args])


def _systemctl(steps: list[list[str]], manual: list[list[str]], intro: str) -> tuple[str, ...]:
    """Run `systemctl --user STEP` for each step; ServiceError naming the manual commands
    at the first that cannot run or fails."""
    by_hand = "\n".join("  " + _line(m) for m in manual)
    exe = shutil.which("systemctl")
    if exe is None:
        raise ServiceError(
            f"{intro}; there is no systemctl here (no systemd?). Where systemd runs, "
            f"do it by hand:\n{by_hand}\n"
            "Without systemd, run the daemon with `llm-monitor daemon` or `llm-monitor run`."
        )
    ran: list[str] = []
    for step in steps:
        try:
            done = subprocess.run(
                [exe, "--user", *step],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=SYSTEMCTL_TIMEOUT,
                check=False,
            )
            why = (done.stderr or done.stdout).strip() or f"exit status {done.returncode}"
            ok = done.returncode == 0
        except subprocess.TimeoutExpired:
            ok, why = False, f"no answer within {SYSTEMCTL_TIMEOUT:g} s"
        except OSError as exc:
            ok, why = False, str(exc.strerror or exc)
        if not ok:
            raise ServiceError(
                f"{intro}; `{_line(step)}` failed: {why}\n"
                "No systemd user session here (a container, or a login without one)? "
                f"Where there is one, do it by hand:\n{by_hand}"
            )
        ran.append(_line(step))
    return tuple(ran)


__all__ = [
    "HEADER",
    "UNIT",
    "Installed",
    "ServiceError",
    "Target",
    "describe",
    "install",
    "occupant",
    "render_unit",
    "running_command",
    "target_for",
    "uninstall",
    "unit_for",
    "unit_path",
]
