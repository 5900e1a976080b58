"""`llm-monitor stop`: the daemon on the configured socket shuts down, and we wait for it.

Which process gets the signal is decided by two witnesses that must agree: the pid the
daemon states in its `hello` reply, and the pid the kernel gives for the socket's
listener (`SO_PEERCRED`, on the same connection). Anything else that listens there —
another program, a daemon in another pid namespace, one that does not answer `hello` —
is never signalled. The pid is then pinned with a pidfd and the daemon identified once
more, so a pid recycled after the daemon exited can never receive the signal.

SIGTERM is the daemon's graceful shutdown (daemon.py): the commit in flight finishes,
the backfill child is stopped, the socket removed and the writer lock released. `stop`
returns once the process has exited (an unreaped zombie has exited: its descriptors,
the lock's included, are closed) and nothing answers on the socket.

Exit codes (cli.py): 0 when the daemon stopped or none was running, so scripts can
"ensure stopped"; 1 when it could not be identified or signalled, or did not exit in time.
"""

from __future__ import annotations

import os
import select
import signal
import socket
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from monitor.api.client import listener_at
from monitor.api.framing import PROTOCOL_VERSION, ApiError, decode, encode

STOP_TIMEOUT: Final = 30.0
"""Default seconds to wait for the daemon to exit (systemd's unit gives it 20)."""
HELLO_TIMEOUT: Final = 5.0
POLL: Final = 0.05
_HELLO_MAX: Final = 64 * 1024
_UCRED: Final = struct.Struct("3i")
"""struct ucred: pid, uid, gid."""


class StopError(Exception):
    """The daemon could not be identified, signalled or seen to exit; the message says why."""


@dataclass(frozen=True, slots=True)
class Daemon:
    """The daemon that answers on a socket, its pid confirmed by the kernel."""

    pid: int
    info: dict[str, Any]
    """Its hello's `daemon` object (pid, state, started, config, ledger)."""


@dataclass(frozen=True, slots=True)
class Stopped:
    pid: int | None
    """The daemon that stopped; None when none was running."""
    unit: str | None = None
    """The systemd unit that ran it, if one did."""


def identify(socket_path: Path, timeout: float = HELLO_TIMEOUT) -> Daemon | None:
    """The llm-monitor daemon answering on `socket_path`; None when nothing listens there.

    StopError when something listens but cannot be confirmed as our daemon.
    """
    try:
        if listener_at(socket_path) is not True:
            return None
    except OSError as exc:
        raise StopError(f"cannot reach {socket_path}: {exc.strerror or exc}") from None
    peer_pid = 0
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(socket_path))
            peer_pid, peer_uid, _ = _peer(sock)
            sock.sendall(encode({"type": "hello", "version": PROTOCOL_VERSION}))
            reply = decode(_read_line(sock))
    except (FileNotFoundError, ConnectionRefusedError):
        return None  # it went away between the two looks
    except PermissionError:
        raise StopError(
            f"cannot connect to {socket_path}: permission denied (a daemon of another user?)"
        ) from None
    except TimeoutError:
        who = f" (pid {peer_pid})" if peer_pid else ""
        raise StopError(
            f"something listens on {socket_path}{who} but did not answer hello within "
            f"{timeout:g} s; it is not signalled. If it is a hung llm-monitor daemon, "
            f"stop it with `kill {peer_pid or '<pid>'}`."
        ) from None
    except (OSError, ApiError) as exc:
        raise StopError(
            f"{socket_path} does not answer like an llm-monitor daemon: {exc}"
        ) from None
    daemon = reply.get("daemon")
    if reply.get("type") != "hello" or not isinstance(daemon, dict):
        daemon = {}
    said = daemon.get("pid")
    if not isinstance(said, int) or isinstance(said, bool) or said <= 0:
        raise StopError(
            f"{socket_path} does not answer like an llm-monitor daemon (no pid in its hello); "
            "nothing was signalled"
        )
    if said != peer_pid:
        # E.g. a daemon in another pid namespace (a container) shares the socket: its pid
        # means nothing here, and signalling it would hit an unrelated process.
        raise StopError(
            f"the daemon on {socket_path} says it is pid {said}, but the kernel says the "
            f"socket belongs to pid {peer_pid or 'unknown'} (another pid namespace?); "
            "nothing was signalled. Stop it where it runs."
        )
    if peer_uid != os.getuid():
        raise StopError(
            f"the daemon on {socket_path} (pid {said}) belongs to uid {peer_uid}, not to you"
        )
    return Daemon(said, dict(daemon))


def stop_daemon(
    socket_path: Path, timeout: float = STOP_TIMEOUT, *, hello_timeout: float = HELLO_TIMEOUT
) -> Stopped:
    """SIGTERM to the daemon on `socket_path`, then wait until it has exited and the socket
    is silent. Stopped(None) when none runs; StopError for everything that is not a stop."""
    found = identify(socket_path, hello_timeout)
    if found is None:
        return Stopped(None)
    pidfd = _pidfd(found.pid)
    try:
        # With the pid pinned, ask again: the process behind `pidfd` is the one answering
        # now, not a newcomer that inherited the pid of a daemon that exited meanwhile.
        again = identify(socket_path, hello_timeout)
        if again is None:
            return Stopped(None)
        if again.pid != found.pid:
            raise StopError(
                f"the daemon on {socket_path} changed while stopping it (pid {found.pid}, "
                f"then {again.pid}); run `llm-monitor stop` again"
            )
        unit = systemd_unit_of(found.pid)
        _terminate(found.pid, pidfd)
        deadline = time.monotonic() + timeout
        while not _exited(found.pid, pidfd, min(POLL, max(0.0, deadline - time.monotonic()))):
            if time.monotonic() >= deadline:
                raise StopError(
                    f"the daemon (pid {found.pid}) did not exit within {timeout:g} s of "
                    "SIGTERM; it may still be finishing a commit. Run `llm-monitor stop` "
                    f"again to wait longer, or force it with `kill -KILL {found.pid}` (what "
                    "was not committed is read again at the next start)."
                )
    finally:
        if pidfd is not None:
            os.close(pidfd)
    _no_successor(socket_path, found.pid, unit, hello_timeout)
    return Stopped(found.pid, unit)


def systemd_unit_of(pid: int) -> str | None:
    """The systemd service whose cgroup holds `pid` (`llm-monitor.service`), if any."""
    try:
        text = Path(f"/proc/{pid}/cgroup").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        leaf = line.rpartition("/")[2]
        if leaf.endswith(".service") and not leaf.startswith("user@"):
            return leaf
    return None


# -- the process -----------------------------------------------------------------------------


def _pidfd(pid: int) -> int | None:
    """A pidfd for `pid` (Linux ≥ 5.3), or None where there is none (then the pid is used)."""
    try:
        return os.pidfd_open(pid)
    except ProcessLookupError:
        raise StopError(f"the daemon (pid {pid}) is gone; run `llm-monitor stop` again") from None
    except (AttributeError, OSError):
        return None


def _terminate(pid: int, pidfd: int | None) -> None:
    try:
        if pidfd is not None:
            signal.pidfd_send_signal(pidfd, signal.SIGTERM)
        else:
            os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass  # it exited on its own meanwhile: waiting finds it gone
    except PermissionError:
        raise StopError(f"not allowed to signal the daemon (pid {pid})") from None


def _exited(pid: int, pidfd: int | None, wait: float) -> bool:
    """Whether the process has exited, waiting up to `wait` seconds for it."""
    if pidfd is not None:
        # A pidfd turns readable when its process exits (a zombie counts).
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        return bool(poller.poll(int(wait * 1000)))
    gone = _gone(pid)
    if not gone and wait > 0:
        time.sleep(wait)
    return gone


def _gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        return False
    # A zombie has exited and closed its descriptors; only its parent's wait is missing.
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


def _no_successor(socket_path: Path, pid: int, unit: str | None, hello_timeout: float) -> None:
    """After the exit nothing may answer: its listening socket died with it, so whatever
    answers now is another daemon (a service manager restarting it, say)."""
    try:
        successor = identify(socket_path, hello_timeout)
    except StopError as exc:
        raise StopError(f"the daemon (pid {pid}) stopped, but {exc}") from None
    if successor is None:
        return
    how = f"; {unit} restarts it: use `systemctl --user stop {unit}`" if unit else ""
    raise StopError(
        f"the daemon (pid {pid}) stopped, but another now answers on {socket_path} "
        f"(pid {successor.pid}){how}"
    )


# -- the socket --------------------------------------------------------------------------------


def _peer(sock: socket.socket) -> tuple[int, int, int]:
    """(pid, uid, gid) of the process that listens at the other end, as the kernel saw it."""
    opt = getattr(socket, "SO_PEERCRED", None)
    if opt is None:
        raise StopError(
            "this system cannot tell which process serves a Unix socket (no SO_PEERCRED); "
            "stop the daemon with `kill <pid>` (the pid is in `llm-monitor status`)"
        )
    pid, uid, gid = _UCRED.unpack(sock.getsockopt(socket.SOL_SOCKET, opt, _UCRED.size))
    return pid, uid, gid


def _read_line(sock: socket.socket) -> bytes:
    data = b""
    while b"\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ApiError("the connection closed before a reply")
        data += chunk
        if len(data) > _HELLO_MAX:
            raise ApiError(f"a hello reply longer than {_HELLO_MAX} bytes")
    return data.partition(b"\n")[0] + b"\n"


__all__ = ["STOP_TIMEOUT", "Daemon", "StopError", "Stopped", "identify", "stop_daemon"]
