"""The simulator writes the user-data events a request caused before its reply, in one write per
stream connection (`UserDataHub.flush` -> `StreamConn.flush_now`), unless a fault holds them back or
the connection's sender already holds one (then the sender keeps them, in order)."""
from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace
from typing import Any

import orjson

from simulator.faults import FaultInjector as Faults
from simulator.futures_stream import StreamConn
from simulator.userdata import UserDataHub


class FakeTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closing = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closing


def frames(data: bytes) -> list[dict[str, Any]]:
    """Decode unmasked server TEXT frames (payloads under 64 KiB)."""
    out, i = [], 0
    while i < len(data):
        assert data[i] == 0x81
        n = data[i + 1]
        i += 2
        if n == 126:
            n = int.from_bytes(data[i:i + 2], "big")
            i += 2
        out.append(orjson.loads(data[i:i + n]))
        i += n
    return out


def make_conn(account: str = "s1") -> tuple[StreamConn, UserDataHub, Faults, FakeTransport]:
    hub, faults = UserDataHub(), Faults()
    sim = SimpleNamespace(hub=hub, faults=faults)
    streams = SimpleNamespace(sim=sim)
    conn = StreamConn(streams, SimpleNamespace(compress=0), combined=False)  # type: ignore[arg-type]
    conn.account_id = account
    transport = FakeTransport()
    conn.transport = transport  # type: ignore[assignment]
    return conn, hub, faults, transport


def order_events(n: int = 3) -> list[dict[str, Any]]:
    return [{"e": "ORDER_TRADE_UPDATE", "i": i} for i in range(n - 1)] + [{"e": "ACCOUNT_UPDATE", "i": n - 1}]


async def test_flush_writes_the_queued_events_in_one_write_in_order() -> None:
    conn, hub, _faults, transport = make_conn()
    for e in order_events():
        conn.push(e)
    hub.flush()
    assert len(transport.writes) == 1
    assert [f["i"] for f in frames(transport.writes[0])] == [0, 1, 2]
    assert conn.queue.empty()
    hub.flush()  # nothing new: no write
    assert len(transport.writes) == 1


async def test_a_stall_or_stream_latency_leaves_the_events_to_the_sender() -> None:
    conn, hub, faults, transport = make_conn()
    faults.stalls["s1"] = time.monotonic() + 5
    for e in order_events():
        conn.push(e)
    hub.flush()
    assert transport.writes == [] and conn.queue.qsize() == 3

    conn2, hub2, faults2, transport2 = make_conn()
    faults2.latency["stream"] = 0.2
    conn2.push({"e": "ACCOUNT_UPDATE"})
    hub2.flush()
    assert transport2.writes == [] and conn2.queue.qsize() == 1


async def test_events_stay_behind_one_the_sender_holds() -> None:
    """The sender took event 0 and waits (a stall ends, say): a flush must not overtake it."""
    conn, hub, _faults, transport = make_conn()
    conn.holding = True
    for e in order_events():
        conn.push(e)
    hub.flush()
    assert transport.writes == [] and conn.queue.qsize() == 3


async def test_a_closed_or_closing_connection_is_not_written() -> None:
    conn, hub, _faults, transport = make_conn()
    transport.closing = True
    conn.push({"e": "ACCOUNT_UPDATE"})
    hub.flush()
    assert transport.writes == []


async def test_the_sender_and_flush_together_deliver_each_event_once_in_order() -> None:
    conn, hub, _faults, transport = make_conn()
    sender = asyncio.get_running_loop().create_task(conn.send_loop())
    try:
        for e in order_events():
            conn.push(e)
        hub.flush()  # before the sender runs
        for e in order_events(2):
            conn.push({**e, "i": e["i"] + 10})
        deadline = time.monotonic() + 5
        while sum(len(frames(w)) for w in transport.writes) < 5 and time.monotonic() < deadline:
            await asyncio.sleep(0.001)
        got = [f["i"] for w in transport.writes for f in frames(w)]
        assert got == [0, 1, 2, 10, 11]
    finally:
        sender.cancel()


async def test_marks_of_events_sent_without_a_request_do_not_pile_up() -> None:
    conn, hub, _faults, transport = make_conn()
    for i in range(3000):  # e.g. price-tick fills, each sent by the sender before the next
        conn.push({"e": "ACCOUNT_UPDATE", "i": i})
        while not conn.queue.empty():
            conn.queue.get_nowait()
    assert len(hub._dirty) <= 1025
