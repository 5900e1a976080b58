"""The socket API on real Unix sockets: protocol, server, clients, back-pressure."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from monitor.api import (
    PROTOCOL_VERSION,
    AlertMsg,
    AlreadyRunning,
    ApiError,
    ApiServer,
    AsyncClient,
    DaemonUnavailable,
    ErrorMsg,
    EventMsg,
    Hello,
    Message,
    ProtocolError,
    Resync,
    Snapshot,
    Subscribe,
    Subscribed,
    TotalsMsg,
    daemon_answers,
    from_json,
    request_sync,
)

DEADLINE = 5.0


class FakeDaemon:
    """The daemon's side of the contract: state that changes before each publish."""

    def __init__(self) -> None:
        self.seq = -1

    def snapshot(self) -> dict[str, Any]:
        return {"totals": {"today": Decimal("1.5")}, "seq": self.seq, "status": "ready"}

    def hello_info(self) -> dict[str, Any]:
        return {"name": "llm-monitor", "version": "test"}

    def publish_next(self, server: ApiServer, pad: str = "") -> None:
        self.seq += 1
        server.publish(EventMsg({"seq": self.seq, "pad": pad}))


@pytest.fixture
def sock_path(tmp_path: Path) -> Path:
    return tmp_path / "run" / "llm-monitor.sock"


@pytest.fixture
def daemon() -> FakeDaemon:
    return FakeDaemon()


@pytest.fixture
async def server(sock_path: Path, daemon: FakeDaemon) -> AsyncIterator[ApiServer]:
    async with ApiServer(sock_path, daemon.snapshot, daemon.hello_info) as srv:
        yield srv


async def wait_until(cond: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


async def raw_exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, line: bytes
) -> dict[str, Any]:
    writer.write(line)
    await writer.drain()
    reply: dict[str, Any] = json.loads(await asyncio.wait_for(reader.readline(), DEADLINE))
    return reply


async def take(stream: AsyncIterator[Message], n: int) -> list[Message]:
    async def collect() -> list[Message]:
        return [await anext(stream) for _ in range(n)]

    return await asyncio.wait_for(collect(), DEADLINE)


# --- protocol messages


@pytest.mark.parametrize(
    "msg",
    [
        Hello(),
        Hello(PROTOCOL_VERSION, {"pid": 42, "name": "llm-monitor"}),
        Snapshot(),
        Snapshot({"totals": {"today": "1.000000"}, "recent": [], "status": "backfilling"}),
        Subscribe(),
        Subscribed(),
        Resync(),
        EventMsg({"key": "k1", "cost": "0.000150"}),
        TotalsMsg({"today": "3.250000"}),
        AlertMsg({"budget": "daily", "level": "warn"}),
        ErrorMsg("bad request"),
    ],
)
def test_every_message_round_trips_through_one_line(msg: Message) -> None:
    line = msg.to_json()
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert json.loads(line)["type"] == msg.type
    assert from_json(line) == msg


def test_decimals_and_datetimes_encode_as_exact_strings() -> None:
    event = EventMsg(
        {
            "cost": Decimal("0.1"),
            "ts": datetime(2025, 3, 1, 12, 0, tzinfo=timezone(timedelta(hours=2))),
            "naive": datetime(2025, 3, 1, 12, 0),
        }
    )
    obj = json.loads(event.to_json())
    assert obj["cost"] == "0.100000"
    assert datetime.fromisoformat(obj["ts"]) == datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
    assert obj["naive"] == "2025-03-01T12:00:00+00:00"


def test_payload_cannot_override_the_message_type() -> None:
    assert json.loads(EventMsg({"type": "alert", "seq": 1}).to_json())["type"] == "event"


def test_unencodable_payload_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="cannot encode"):
        EventMsg({"x": object()}).to_json()


@pytest.mark.parametrize(
    "line",
    [
        b"not json\n",
        b"[1, 2]\n",
        b'{"no": "type"}\n',
        b'{"type": 7}\n',
        b'{"type": "bogus"}\n',
        b'{"type": "hello"}\n',
        b'{"type": "hello", "version": true}\n',
        b'{"type": "error", "error": 3}\n',
        b"\xff\xfe\n",
        b"[" * 100_000 + b"]" * 100_000,
    ],
)
def test_malformed_or_unknown_lines_raise_protocol_error(line: bytes) -> None:
    with pytest.raises(ProtocolError):
        from_json(line)


# --- server: socket file, single instance


async def test_socket_is_private_to_its_owner(server: ApiServer, sock_path: Path) -> None:
    assert stat.S_ISSOCK(os.stat(sock_path).st_mode)
    assert stat.S_IMODE(os.stat(sock_path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(sock_path.parent).st_mode) == 0o700


async def test_stale_socket_file_is_replaced(sock_path: Path, daemon: FakeDaemon) -> None:
    sock_path.parent.mkdir(mode=0o700)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dead:
        dead.bind(str(sock_path))  # bound, never listening: what a crashed daemon leaves
    assert sock_path.exists() and not daemon_answers(sock_path)
    async with ApiServer(sock_path, daemon.snapshot, daemon.hello_info):
        async with AsyncClient() as client:
            await client.connect(sock_path)
            assert (await client.snapshot())["status"] == "ready"


async def test_second_server_on_the_same_path_raises_already_running(
    server: ApiServer, sock_path: Path, daemon: FakeDaemon
) -> None:
    second = ApiServer(sock_path, daemon.snapshot, daemon.hello_info)
    with pytest.raises(
        AlreadyRunning, match=rf"running on .*llm-monitor.sock \(pid {os.getpid()}\)"
    ):
        await second.start()
    assert daemon_answers(sock_path)
    async with AsyncClient() as client:
        await client.connect(sock_path)
        assert (await client.hello()).daemon == {**daemon.hello_info(), "pid": os.getpid()}


async def test_foreign_listener_on_the_path_is_not_stolen(
    sock_path: Path, daemon: FakeDaemon
) -> None:
    sock_path.parent.mkdir(mode=0o700)

    def hang_up(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.close()

    foreign = await asyncio.start_unix_server(hang_up, str(sock_path))
    async with foreign:
        with pytest.raises(AlreadyRunning, match="another llm-monitor daemon is running"):
            await ApiServer(sock_path, daemon.snapshot, daemon.hello_info).start()
        assert daemon_answers(sock_path)


async def test_regular_file_at_the_socket_path_is_left_alone(
    sock_path: Path, daemon: FakeDaemon
) -> None:
    sock_path.parent.mkdir(mode=0o700)
    sock_path.write_text("precious")
    with pytest.raises(ApiError, match="not a socket"):
        await ApiServer(sock_path, daemon.snapshot, daemon.hello_info).start()
    assert sock_path.read_text() == "precious"


async def test_stop_disconnects_clients_and_removes_the_socket_file(
    sock_path: Path, daemon: FakeDaemon
) -> None:
    server = ApiServer(sock_path, daemon.snapshot, daemon.hello_info)
    await server.start()
    client = await AsyncClient().connect(sock_path)
    stream = client.subscribe()
    await take(stream, 1)
    await server.stop()
    assert not sock_path.exists()
    assert server.client_count == 0
    with pytest.raises(DaemonUnavailable):
        await take(stream, 1)
    await client.close()
    # The lock is released: a new server can take over the path.
    async with ApiServer(sock_path, daemon.snapshot, daemon.hello_info):
        assert daemon_answers(sock_path)


async def test_stop_does_not_wait_forever_for_a_client_that_never_reads(
    sock_path: Path, daemon: FakeDaemon
) -> None:
    server = ApiServer(sock_path, daemon.snapshot, daemon.hello_info)
    await server.start()
    _, writer = await asyncio.open_unix_connection(str(sock_path), limit=1024)
    writer.write(b'{"type":"subscribe"}\n')
    await writer.drain()
    await wait_until(lambda: server.client_count == 1, "the client to connect")
    for _ in range(300):
        daemon.publish_next(server, pad="x" * 4096)
        await asyncio.sleep(0)
    await asyncio.wait_for(server.stop(grace=0.2), DEADLINE)
    assert not sock_path.exists()
    writer.close()


# --- server: requests


async def test_hello_and_snapshot_round_trip(server: ApiServer, sock_path: Path) -> None:
    async with AsyncClient() as client:
        await client.connect(sock_path)
        hello = await client.hello()
        snapshot = await client.snapshot()
    assert hello.version == PROTOCOL_VERSION
    assert hello.daemon is not None and hello.daemon["pid"] == os.getpid()
    assert snapshot == {"totals": {"today": "1.500000"}, "seq": -1, "status": "ready"}


async def test_bad_requests_get_errors_and_the_connection_stays_usable(
    server: ApiServer, sock_path: Path
) -> None:
    reader, writer = await asyncio.open_unix_connection(str(sock_path))
    for bad, says in [
        (b"{oops\n", "malformed JSON"),
        (b'{"type":"launch"}\n', "unknown message type 'launch'"),
        (b'{"type":"event","seq":1}\n', "'event' is not a request"),
        (b"[]\n", "expected a JSON object"),
    ]:
        reply = await raw_exchange(reader, writer, bad)
        assert reply["type"] == "error" and says in reply["error"]
    reply = await raw_exchange(reader, writer, b'{"type":"snapshot"}\n')
    assert reply["type"] == "snapshot" and reply["status"] == "ready"
    writer.close()


async def test_oversized_request_is_refused_without_dropping_the_connection(
    server: ApiServer, sock_path: Path
) -> None:
    reader, writer = await asyncio.open_unix_connection(str(sock_path))
    huge = b'{"type":"snapshot","junk":"' + b"x" * (1024 * 1024) + b'"}\n'
    reply = await raw_exchange(reader, writer, huge)
    assert reply["type"] == "error" and "longer than" in reply["error"]
    reply = await raw_exchange(reader, writer, b'{"type":"hello","version":1}\n')
    assert reply["type"] == "hello"
    writer.close()


async def test_last_request_without_newline_is_still_answered(
    server: ApiServer, sock_path: Path
) -> None:
    reader, writer = await asyncio.open_unix_connection(str(sock_path))
    writer.write(b'{"type":"snapshot"}')
    writer.write_eof()
    reply = json.loads(await asyncio.wait_for(reader.readline(), DEADLINE))
    assert reply["type"] == "snapshot"
    assert await asyncio.wait_for(reader.read(), DEADLINE) == b""
    writer.close()


async def test_several_clients_are_served_at_once(server: ApiServer, sock_path: Path) -> None:
    clients = [await AsyncClient().connect(sock_path) for _ in range(5)]
    await wait_until(lambda: server.client_count == 5, "five clients")
    snapshots = await asyncio.gather(*(c.snapshot() for c in clients))
    assert all(s["status"] == "ready" for s in snapshots)
    for c in clients:
        await c.close()
    await wait_until(lambda: server.client_count == 0, "the clients to be cleaned up")


async def test_failing_snapshot_is_an_error_reply_not_a_crash(sock_path: Path) -> None:
    def broken() -> dict[str, Any]:
        raise RuntimeError("ledger busy")

    async with ApiServer(sock_path, broken, dict), AsyncClient() as client:
        await client.connect(sock_path)
        with pytest.raises(ProtocolError, match="ledger busy"):
            await client.snapshot()
        assert (await client.hello()).version == PROTOCOL_VERSION


# --- server: the stream


async def test_subscribers_receive_published_messages_in_order(
    server: ApiServer, sock_path: Path, daemon: FakeDaemon
) -> None:
    a = await AsyncClient().connect(sock_path)
    b = await AsyncClient().connect(sock_path)
    stream_a, stream_b = a.subscribe(), b.subscribe()
    for stream in (stream_a, stream_b):
        (first,) = await take(stream, 1)
        assert isinstance(first, Snapshot) and first.payload["seq"] == -1
    for _ in range(200):
        daemon.publish_next(server)
    server.publish(TotalsMsg({"today": Decimal("2")}))
    server.publish(AlertMsg({"budget": "daily"}))
    for stream in (stream_a, stream_b):
        got = await take(stream, 202)
        assert [m.payload["seq"] for m in got[:200] if isinstance(m, EventMsg)] == list(range(200))
        assert got[200] == TotalsMsg({"today": "2.000000"})
        assert got[201] == AlertMsg({"budget": "daily"})
    await a.close()
    await b.close()


async def test_unsubscribed_clients_get_no_stream(
    server: ApiServer, sock_path: Path, daemon: FakeDaemon
) -> None:
    reader, writer = await asyncio.open_unix_connection(str(sock_path))
    await wait_until(lambda: server.client_count == 1, "the client to connect")
    daemon.publish_next(server)
    reply = await raw_exchange(reader, writer, b'{"type":"snapshot"}\n')
    assert reply["type"] == "snapshot"
    writer.close()


async def test_slow_subscriber_is_resynced_without_stalling_others(
    server: ApiServer, sock_path: Path, daemon: FakeDaemon
) -> None:
    loop = asyncio.get_running_loop()
    slow = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    slow.setblocking(False)
    await loop.sock_connect(slow, str(sock_path))
    await loop.sock_sendall(slow, b'{"type":"subscribe"}\n')
    fast = await AsyncClient().connect(sock_path)
    fast_stream = fast.subscribe()
    await take(fast_stream, 1)
    await wait_until(lambda: server.client_count == 2, "both subscribers")

    n = 3000
    fast_seqs: list[int] = []

    async def read_fast() -> None:
        while len(fast_seqs) < n:
            msg = await anext(fast_stream)
            assert isinstance(msg, EventMsg), msg
            fast_seqs.append(msg.payload["seq"])

    reader_task = asyncio.create_task(read_fast())
    for _ in range(n):
        daemon.publish_next(server, pad="x" * 2048)
        await asyncio.sleep(0)
    await asyncio.wait_for(reader_task, DEADLINE)
    assert fast_seqs == list(range(n))

    # Now the slow one reads: what it got before falling behind, then resync + snapshot,
    # then exactly the events published after that snapshot, up to the last.
    buf = b""
    lines: list[dict[str, Any]] = []
    deadline = time.monotonic() + DEADLINE
    while not lines or lines[-1].get("seq") != n - 1:
        assert time.monotonic() < deadline, "the slow client never caught up"
        buf += await asyncio.wait_for(loop.sock_recv(slow, 1 << 16), DEADLINE)
        *complete, buf = buf.split(b"\n")
        lines.extend(json.loads(line) for line in complete)
    slow.close()

    types = [line["type"] for line in lines]
    assert types[:2] == ["subscribed", "snapshot"]
    assert "resync" in types
    last_resync = len(types) - 1 - types[::-1].index("resync")
    snapshot = lines[last_resync + 1]
    assert snapshot["type"] == "snapshot"
    after = [line["seq"] for line in lines[last_resync + 2 :]]
    assert after == list(range(snapshot["seq"] + 1, n))
    before = [line["seq"] for line in lines[2:] if line["type"] == "event"]
    assert before == sorted(before) and len(before) < n
    await fast.close()


async def test_resubscribing_never_repeats_an_event(
    server: ApiServer, sock_path: Path, daemon: FakeDaemon
) -> None:
    reader, writer = await asyncio.open_unix_connection(str(sock_path))

    async def read() -> tuple[str, int | None]:
        line = json.loads(await asyncio.wait_for(reader.readline(), DEADLINE))
        return line["type"], line.get("seq")

    writer.write(b'{"type":"subscribe"}\n')
    assert [await read(), await read()] == [("subscribed", None), ("snapshot", -1)]
    daemon.publish_next(server)
    writer.write(b'{"type":"subscribe"}\n')
    got = [await read()]
    while got[-1][0] != "snapshot":
        got.append(await read())
    # Event 0 went out before the new snapshot or was folded into it, never both.
    assert got in (
        [("event", 0), ("subscribed", None), ("snapshot", 0)],
        [("subscribed", None), ("snapshot", 0)],
    )
    daemon.publish_next(server)
    assert await read() == ("event", 1)
    writer.close()


async def test_departed_subscriber_is_cleaned_up(
    server: ApiServer, sock_path: Path, daemon: FakeDaemon
) -> None:
    reader, writer = await asyncio.open_unix_connection(str(sock_path))
    assert (await raw_exchange(reader, writer, b'{"type":"subscribe"}\n'))["type"] == "subscribed"
    writer.close()
    await wait_until(lambda: server.client_count == 0, "the departed client to be dropped")
    daemon.publish_next(server)


# --- clients


async def test_async_client_raises_daemon_unavailable_when_nothing_answers(
    sock_path: Path,
) -> None:
    with pytest.raises(DaemonUnavailable, match="no llm-monitor daemon answers"):
        await AsyncClient().connect(sock_path)


async def test_subscribed_connection_refuses_further_requests(
    server: ApiServer, sock_path: Path
) -> None:
    async with AsyncClient() as client:
        await client.connect(sock_path)
        await take(client.subscribe(), 1)
        with pytest.raises(ApiError, match="subscribed"):
            await client.snapshot()


async def test_request_sync_answers_from_a_running_server(
    server: ApiServer, sock_path: Path
) -> None:
    def ask(request: dict[str, Any]) -> Awaitable[dict[str, Any]]:
        return asyncio.to_thread(request_sync, sock_path, request, 2.0)

    assert (await ask({"type": "snapshot"}))["totals"] == {"today": "1.500000"}
    assert (await ask({"type": "hello", "version": 1}))["daemon"]["pid"] == os.getpid()
    with pytest.raises(ProtocolError, match="unknown message type"):
        await ask({"type": "nope"})


def test_request_sync_raises_daemon_unavailable_when_nothing_listens(sock_path: Path) -> None:
    with pytest.raises(DaemonUnavailable):
        request_sync(sock_path, {"type": "snapshot"})


def test_request_sync_times_out_on_a_daemon_that_never_answers(tmp_path: Path) -> None:
    path = tmp_path / "hung.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as hung:
        hung.bind(str(path))
        hung.listen()
        started = time.monotonic()
        with pytest.raises(DaemonUnavailable, match="did not answer within 0.2 s"):
            request_sync(path, {"type": "snapshot"}, timeout=0.2)
        assert time.monotonic() - started < 2.0


async def test_daemon_answers_only_when_a_daemon_listens(
    sock_path: Path, daemon: FakeDaemon, tmp_path: Path
) -> None:
    assert not daemon_answers(sock_path)
    stale = tmp_path / "stale.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dead:
        dead.bind(str(stale))
    assert not daemon_answers(stale)
    async with ApiServer(sock_path, daemon.snapshot, daemon.hello_info):
        assert daemon_answers(sock_path)


@pytest.mark.e2e
def test_importing_the_api_does_not_load_asyncio() -> None:
    code = "import sys, monitor.api; sys.exit('asyncio' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], timeout=30).returncode == 0


# --- the wire documents


def test_the_documents_period_keys_are_the_periods_doc_keys() -> None:
    from monitor.periods import DOC_KEYS
    from monitor.wire import PERIOD_KEYS

    assert tuple(DOC_KEYS.values()) == PERIOD_KEYS == ("today", "week", "month")


def test_event_payload_writes_exactly_the_keys_of_its_wire_type() -> None:
    from monitor.events import UsageEvent, event_payload
    from monitor.wire import EventPayload

    e = UsageEvent("k", datetime(2026, 11, 23, tzinfo=UTC), "studio", "openai", "gpt-4o")
    assert set(event_payload(e)) == set(EventPayload.__annotations__)


def test_status_part_of_a_snapshot_reply_drops_what_status_does_not_show() -> None:
    from monitor.wire import status_part

    reply = {"type": "snapshot", "now": "t", "today": {}, "series": {}, "breakdown": {}}
    reply |= {"recent": [], "alerts": [], "budgets": []}
    assert list(status_part(reply)) == ["now", "today", "budgets"]
