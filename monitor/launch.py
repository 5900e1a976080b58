"""What `llm-monitor dash`, `run` and `demo` do: start what is missing, then the dashboard.

The daemon always runs as its own process (`python -m monitor.cli daemon`), detached in
its own session, so closing the dashboard — or the terminal — leaves it running; the
dashboard only ever talks to it over the socket. Textual is imported only when a
dashboard is really opened.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Final

from monitor.api import ApiError, daemon_answers, request_sync

if TYPE_CHECKING:
    from monitor.config import Config

START_TIMEOUT: Final = 10.0
LOG_FILE: Final = "daemon.log"
STDERR_FILE: Final = "daemon.stderr"
LOG_MAX_BYTES: Final = 5 * 1024 * 1024
SYSTEMD_UNIT: Final = "llm-monitor.service"


_STARTED: list[subprocess.Popen[bytes]] = []
"""Daemons started by `ensure_daemon`: they outlive this process on purpose, so they are
never waited for; holding them here keeps Popen from warning that they still run."""


class LaunchError(Exception):
    """The daemon could not be started or did not answer in time."""


# -- the daemon -------------------------------------------------------------------------------


def daemon_command(config_path: str | os.PathLike[str] | None, log_file: Path) -> list[str]:
    argv = [sys.executable, "-m", "monitor.cli", "daemon", "--log-file", str(log_file)]
    if config_path is not None:
        argv += ["--config", os.fspath(config_path)]
    return argv


def start_daemon(
    config_path: str | os.PathLike[str] | None, state_dir: Path
) -> subprocess.Popen[bytes]:
    """Start a detached daemon; its log goes to `<state_dir>/daemon.log`.

    The daemon rotates that file itself (`--log-file`); its stderr — only what happens
    before logging is set up, such as a traceback at start — goes to `daemon.stderr`,
    truncated at each start so it never grows.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    argv = daemon_command(config_path, state_dir / LOG_FILE)
    with (state_dir / STDERR_FILE).open("wb") as err:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=err,
            start_new_session=True,
            close_fds=True,
        )


def wait_until_answering(
    socket_path: Path, proc: subprocess.Popen[bytes] | None, timeout: float = START_TIMEOUT
) -> None:
    """Poll the socket until the daemon answers; LaunchError if it exits or never does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if daemon_answers(socket_path):
            return
        if proc is not None and proc.poll() is not None:
            raise LaunchError(f"the daemon exited with status {proc.returncode} at start")
        time.sleep(0.05)
    raise LaunchError(f"the daemon did not answer on {socket_path} within {timeout:g} s")


def ensure_daemon(config_path: str | None, timeout: float = START_TIMEOUT) -> Path:
    """The socket of a running daemon: the one that answers, or one started now."""
    from monitor.config import load_config

    config = load_config(config_path)
    if daemon_answers(config.socket_path):
        return config.socket_path
    proc = start_daemon(config_path, config.state_dir)
    _STARTED.append(proc)
    try:
        wait_until_answering(config.socket_path, proc, timeout)
    except LaunchError as exc:
        raise LaunchError(f"{exc}; see {_log_hint(config.state_dir)}") from None
    return config.socket_path


def _log_hint(state_dir: Path) -> str:
    names = [n for n in (STDERR_FILE, LOG_FILE) if (state_dir / n).exists()]
    return " and ".join(str(state_dir / n) for n in names) or str(state_dir)


def _log_tail(state_dir: Path, lines: int = 20) -> str:
    """The end of the daemon's logs, for a demo whose directory is about to go."""
    out = []
    for name in (STDERR_FILE, LOG_FILE):
        try:
            text = (state_dir / name).read_text("utf-8", "replace")
        except OSError:
            continue
        out.extend(text.splitlines()[-lines:])
    return "\n".join(out)


def stop_daemon(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM (the daemon drains and exits 0); SIGKILL if it does not within `timeout`."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def daemon_pid(socket_path: Path) -> int | None:
    try:
        reply = request_sync(socket_path, {"type": "hello", "version": 1}, timeout=2.0)
    except ApiError:
        return None
    pid = (reply.get("daemon") or {}).get("pid")
    return pid if isinstance(pid, int) else None


# -- is there anything to watch? ------------------------------------------------------------


def usage_files_exist(config: Config) -> bool:
    """Whether any configured source (or the spool) has at least one file to read."""
    for source in config.sources:
        if source.enabled and any(next(g.walk(), None) for g in source.globs()):
            return True
    return config.spool_dir.is_dir() and any(config.spool_dir.glob("*.jsonl"))


def nothing_to_watch(config: Config) -> bool:
    from monitor.ledger.reads import has_events

    return not usage_files_exist(config) and not has_events(config.ledger_path)


def _offer_demo() -> bool:
    hint = (
        "No usage files were found for the configured sources, and the ledger is empty.\n"
        "Point [[sources]] at your tools' files (`llm-monitor init` lists what it finds),\n"
        "or see the dashboard on simulated usage with `llm-monitor demo`."
    )
    print(hint, file=sys.stderr)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return False
    try:
        answer = input("Start the demo now? [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def _systemd_unit_installed() -> bool:
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return (Path(config_home) / "systemd/user" / SYSTEMD_UNIT).exists()


def stop_hint(pid: int | None) -> str:
    how = ["`llm-monitor stop`"]
    if _systemd_unit_installed():
        how.append("`systemctl --user stop llm-monitor` when systemd runs it")
    who = f" (pid {pid})" if pid else ""
    return f"The llm-monitor daemon keeps running{who}. To stop it: " + " or ".join(how) + "."


# -- the commands ----------------------------------------------------------------------------


def run_dash(socket_path: Path, config_path: str | None = None) -> int:
    """`llm-monitor dash`: the dashboard on the running daemon (1 if none answers)."""
    if not daemon_answers(socket_path):
        print(
            f"llm-monitor: no daemon answers on {socket_path}. "
            "Start one with `llm-monitor run` (daemon and dashboard) or `llm-monitor daemon`.",
            file=sys.stderr,
        )
        return 1
    return _dashboard(socket_path)


def _dashboard(socket_path: Path) -> int:
    from monitor.tui.app import Dashboard
    from monitor.tui.feed import socket_connector

    app = Dashboard(socket_connector(socket_path), socket_label=str(socket_path))
    app.run()
    return app.return_code or 0


def run_all(config_path: str | None) -> int:
    """`llm-monitor run`: the daemon (started if none answers), then the dashboard."""
    from monitor.config import load_config

    config = load_config(config_path)
    if not daemon_answers(config.socket_path) and nothing_to_watch(config):
        if _offer_demo():
            return run_demo()
    try:
        socket_path = ensure_daemon(config_path)
    except LaunchError as exc:
        print(f"llm-monitor: {exc}", file=sys.stderr)
        return 1
    code = _dashboard(socket_path)
    print(stop_hint(daemon_pid(socket_path)))
    return code


def run_demo(rate: float | None = None) -> int:
    """`llm-monitor demo`: a daemon on a temporary directory, the simulator, the dashboard.

    Everything lives in the temporary directory and goes away at the end: the daemon is
    stopped with SIGTERM and the directory removed.
    """
    import asyncio

    from monitor.config import load_config
    from monitor.demo import DEMO_RATE, Simulator, make_demo_root, write_demo_config
    from monitor.tui.app import Dashboard
    from monitor.tui.feed import socket_connector

    root = make_demo_root()
    proc: subprocess.Popen[bytes] | None = None
    sim = Simulator(root, rate or DEMO_RATE)
    try:
        config_path = write_demo_config(root)
        config = load_config(config_path)
        proc = start_daemon(config_path, config.state_dir)
        wait_until_answering(config.socket_path, proc)
        app = Dashboard(socket_connector(config.socket_path), socket_label="the demo daemon")

        async def main() -> None:
            stop = asyncio.Event()
            writer = asyncio.create_task(sim.run(stop))
            try:
                await app.run_async()
            finally:
                stop.set()
                await writer

        asyncio.run(main())
        code = app.return_code or 0
    except LaunchError as exc:
        print(f"llm-monitor: demo: {exc}", file=sys.stderr)
        print(_log_tail(root / "state"), file=sys.stderr)
        code = 1
    finally:
        if proc is not None:
            stop_daemon(proc)
        shutil.rmtree(root, ignore_errors=True)
    print(f"Demo over: {sim.steps:,} simulated calls; its daemon stopped, {root} removed.")
    return code
