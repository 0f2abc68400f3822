"""The hot-path changes the benchmark led to: reports batched per ZeroMQ wake-up, the SUB drain that
asks ZMQ_EVENTS instead of catching zmq.Again, the simulator's batched stream frames, its read-time
arrival stamps and its open-order index. Behaviour only: speed is measured by scripts/bench."""

from __future__ import annotations

import asyncio
import gc
from decimal import Decimal

import aiohttp
import orjson
import zmq

from actors.base import ZmqReader, settle_gc
from actors.slave.reporter import Reporter
from protocol import codec
from protocol.messages import Heartbeat
from simulator.futures_model import FuturesAccount, FuturesOrder
from simulator.futures_stream import text_frame
from tests.helpers.sim import InProcessSim
from tests.helpers.wait import aeventually


def _pair(name: str) -> tuple[zmq.Socket, zmq.Socket]:
    ctx = zmq.Context.instance()
    pull = ctx.socket(zmq.PULL)
    pull.bind(f"inproc://{name}")
    push = ctx.socket(zmq.PUSH)
    push.connect(f"inproc://{name}")
    return push, pull


def _until(cond):
    async def check():
        assert cond()
        return True

    return check


def _hb(seq: int) -> Heartbeat:
    return Heartbeat(market="usdm", epoch=1, seq=seq, t_ns=seq, connected=True, last_event_ms=0)


async def test_reports_in_the_loop_leave_together_at_the_end_of_the_pass_in_order():
    push, pull = _pair("reports-batched")
    reporter = Reporter(push)
    try:
        for seq in (1, 2, 3):
            reporter(_hb(seq))
        assert reporter.sent == 0 and pull.poll(0) == 0  # nothing yet: they leave together

        await aeventually(_until(lambda: reporter.sent == 3), timeout=2)

        got = [codec.decode_master_event(pull.recv()) for _ in range(3)]
        assert [m.seq for m in got] == [1, 2, 3]
    finally:
        push.close(0)
        pull.close(0)


async def test_flush_sends_pending_reports_at_once():
    push, pull = _pair("reports-flush")
    reporter = Reporter(push)
    try:
        reporter(_hb(7))
        reporter.flush()

        assert reporter.sent == 1 and codec.decode_master_event(pull.recv(zmq.NOBLOCK)).seq == 7
    finally:
        push.close(0)
        pull.close(0)


def test_reports_outside_a_loop_are_sent_at_once():
    push, pull = _pair("reports-sync")
    try:
        Reporter(push)(_hb(1))

        assert pull.poll(1000) and codec.decode_master_event(pull.recv()).seq == 1
    finally:
        push.close(0)
        pull.close(0)


async def test_zmq_reader_drains_everything_already_queued_and_what_comes_later():
    push, pull = _pair("drain")
    got: list[bytes] = []
    for i in range(5):
        push.send(b"m%d" % i)
    reader = ZmqReader(pull, lambda frames: got.append(frames[0]), "test")
    try:
        reader.start()
        await aeventually(_until(lambda: len(got) == 5), timeout=2)
        push.send(b"late")

        await aeventually(_until(lambda: got[-1] == b"late"), timeout=2)
        assert got == [b"m0", b"m1", b"m2", b"m3", b"m4", b"late"] and reader.errors == 0
    finally:
        reader.stop()
        push.close(0)
        pull.close(0)


def test_settle_gc_freezes_what_exists_and_keeps_collecting_cycles():
    before = gc.get_threshold()
    try:
        settle_gc(young_threshold=5000)

        assert gc.get_freeze_count() > 0 and gc.get_threshold()[0] == 5000
        a: list = []
        a.append(a)
        del a
        assert gc.collect() >= 1  # cycles made after the freeze are still found
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)


def test_text_frame_headers_for_each_length_form():
    assert text_frame(b"hi") == b"\x81\x02hi"
    mid = text_frame(b"x" * 300)
    assert mid[:4] == b"\x81\x7e\x01\x2c" and len(mid) == 4 + 300
    big = text_frame(b"y" * 70_000)
    assert big[:2] == b"\x81\x7f" and int.from_bytes(big[2:10], "big") == 70_000


def _order(oid: int, symbol: str = "BTCUSDT") -> FuturesOrder:
    return FuturesOrder(
        order_id=oid,
        symbol=symbol,
        client_order_id=f"c{oid}",
        side="BUY",
        position_side="BOTH",
        type="LIMIT",
        time_in_force="GTC",
        orig_qty=Decimal(1),
        price=Decimal(1),
        reduce_only=False,
        time=0,
        update_time=0,
    )


def test_open_orders_forget_closed_ones_and_see_orders_stored_directly():
    acct = FuturesAccount(account_id="a")
    o1, o2, o3 = _order(1), _order(2, "ETHUSDT"), _order(3)
    acct.add_order(o1)
    acct.add_order(o2)
    assert [o.order_id for o in acct.open_orders()] == [1, 2]

    o1.status = "FILLED"
    acct.orders[3] = o3  # stored without add_order()

    assert [o.order_id for o in acct.open_orders()] == [2, 3]
    assert [o.order_id for o in acct.open_orders("BTCUSDT")] == [3]


async def test_simulator_stamps_ws_requests_when_read(monkeypatch):
    import simulator.wsapi as wsapi

    used: list[int | None] = []
    original = wsapi.ArrivalStamps.pop

    def pop(self: wsapi.ArrivalStamps, text: str) -> int | None:
        stamp = original(self, text)
        used.append(stamp)
        return stamp

    monkeypatch.setattr(wsapi.ArrivalStamps, "pop", pop)
    async with InProcessSim() as sim:
        async with aiohttp.ClientSession() as session, session.ws_connect(sim.ws_fapi_url) as ws:
            for i in range(3):
                await ws.send_str(orjson.dumps({"id": i, "method": "ping"}).decode())
                reply = orjson.loads((await asyncio.wait_for(ws.receive(), 5)).data)
                assert reply["id"] == i

    assert len(used) == 3 and all(isinstance(t, int) and t > 0 for t in used)
