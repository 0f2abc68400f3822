"""The master actor's shell (actors/master.py, actors/master_pub.py) with a scripted exchange side:
sequencing, buffering during a REST rebuild, draining, snapshot requests. No simulator, no network."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
import zmq

from actors.base import Endpoints
from actors.binance.signing import make_signer
from actors.binance.wire import BinanceFuturesAccount, BinanceFuturesPositionRisk, convert
from actors.master import shell as master_mod
from actors.master.publisher import Publisher
from actors.master.shell import MasterActor
from actors.master.usdm import UsdmAdapter, UsdmRest
from protocol.codec import decode_snapshot_reply, encode, unpack_master_event
from protocol.errors import ErrorCode
from protocol.messages import Error, Heartbeat, MasterFill, PositionSnapshot, SnapshotReply, SnapshotRequest
from tests.helpers.wait import aeventually

D = Decimal


def rest_state(amt: str = "0", update: int = 0, dual: bool = False) -> UsdmRest:
    """REST as Binance answers it: positionRisk v2 lists BOTH in one-way mode, LONG and SHORT in
    hedge mode (the master reads the mode from it)."""
    sides = [("LONG", amt), ("SHORT", "0")] if dual else [("BOTH", amt)]
    risks = [
        convert(
            {"symbol": "BTCUSDT", "positionSide": ps, "positionAmt": a, "leverage": "10", "marginType": "cross", "updateTime": update},
            BinanceFuturesPositionRisk,
        )
        for ps, a in sides
    ]
    account = convert(
        {"totalWalletBalance": "500", "totalMarginBalance": "500", "assets": [{"asset": "USDT", "walletBalance": "500"}]},
        BinanceFuturesAccount,
    )
    return UsdmRest(dual, risks, account)


def trade_event(side: str, qty: str, t: int, trade_id: int, order_id: int = 1) -> bytes:
    return orjson.dumps(
        {
            "e": "ORDER_TRADE_UPDATE",
            "E": t,
            "T": t,
            "o": {
                "s": "BTCUSDT",
                "c": "c",
                "S": side,
                "o": "MARKET",
                "q": qty,
                "p": "0",
                "x": "TRADE",
                "X": "FILLED",
                "i": order_id,
                "l": qty,
                "z": qty,
                "L": "60000",
                "T": t,
                "t": trade_id,
                "ps": "BOTH",
            },
        }
    )


class ScriptedUsdm(UsdmAdapter):
    """The real USD-M adapter with REST and the stream replaced by the test."""

    def __init__(self) -> None:
        super().__init__(_endpoints(), make_signer("HMAC", "apikey123", "secret123"))
        self.replies: asyncio.Queue[UsdmRest] = asyncio.Queue()
        self.fetches = 0

    async def start_stream(self, on_event: Any, on_state: Any) -> None:
        self.on_event, self.on_state = on_event, on_state

    async def fetch(self) -> UsdmRest:
        self.fetches += 1
        return await self.replies.get()

    async def poll(self, full: bool) -> None:
        return None


def _endpoints() -> Any:
    from actors.binance.endpoints import Endpoints as Exchange

    return Exchange.local("http://127.0.0.1:9")


@pytest.fixture
async def setup(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[tuple[MasterActor, ScriptedUsdm, zmq.Socket, zmq.Context]]:
    monkeypatch.setattr(master_mod, "JOIN_GRACE_S", 0.0)
    runtime = Path(tempfile.mkdtemp(prefix="msh-"))
    ctx = zmq.Context()
    adapter = ScriptedUsdm()
    actor = MasterActor("usdm", adapter, Endpoints(runtime), connect_wait_s=60, poll_s=60, ctx=ctx)
    actor.bind()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"master.usdm.")
    sub.connect(actor.endpoints.master_pub("usdm"))
    stop = asyncio.Event()
    task = asyncio.get_running_loop().create_task(actor.run(stop))
    await aeventually(_heartbeat_seen(sub), what="subscription live")
    yield actor, adapter, sub, ctx
    stop.set()
    await task
    sub.close(0)
    ctx.term()
    shutil.rmtree(runtime, ignore_errors=True)


def _heartbeat_seen(sub: zmq.Socket) -> Any:
    async def check() -> bool:
        return any(isinstance(e, Heartbeat) for e in drain(sub))

    return check


def drain(sub: zmq.Socket) -> list[Any]:
    out = []
    while True:
        try:
            out.append(unpack_master_event(sub.recv_multipart(zmq.NOBLOCK)))
        except zmq.Again:
            return out


async def collect(sub: zmq.Socket, kinds: tuple[type, ...], count: int) -> list[Any]:
    got: list[Any] = []

    async def check() -> bool:
        got.extend(e for e in drain(sub) if isinstance(e, kinds))
        return len(got) >= count

    await aeventually(check, timeout=5, what=f"{count} events")
    return got


async def test_events_during_a_rebuild_are_buffered_then_only_newer_ones_applied(setup: Any) -> None:
    actor, adapter, sub, _ = setup
    adapter.on_state("connected")
    await until(lambda: adapter.fetches == 1)
    # While REST is being read: one trade REST already contains (T <= updateTime), one newer.
    adapter.on_event(trade_event("BUY", "1", t=1000, trade_id=1))
    adapter.on_event(trade_event("BUY", "0.5", t=1001, trade_id=2))
    adapter.on_event(trade_event("BUY", "0.5", t=1001, trade_id=2))  # duplicate delivery

    adapter.replies.put_nowait(rest_state(amt="1", update=1000))
    snap, fill = await collect(sub, (PositionSnapshot, MasterFill), 2)

    assert isinstance(snap, PositionSnapshot) and (snap.reason, snap.seq) == ("start", 1)
    assert [(p.qty, p.leverage) for p in snap.positions] == [(D(1), 10)]
    assert isinstance(fill, MasterFill) and (fill.seq, fill.trade_id) == (2, 2)
    assert (fill.position_before, fill.position_after, fill.equity) == (D(1), D("1.5"), D(500))
    assert actor.duplicates == 2 and not drain(sub)[1:]


async def test_reconnect_rebuilds_and_numbers_continue_in_the_same_epoch(setup: Any) -> None:
    actor, adapter, sub, _ = setup
    adapter.on_state("connected")
    adapter.replies.put_nowait(rest_state())
    start, first = await _start_then_fill(adapter, sub)

    adapter.on_state("disconnected")
    adapter.on_state("reconnected")
    adapter.on_event(trade_event("SELL", "2", t=3000, trade_id=8, order_id=2))  # buffered
    adapter.replies.put_nowait(rest_state(amt="1", update=2500))  # REST saw a fill we never got
    snap, fill = await collect(sub, (PositionSnapshot, MasterFill), 2)

    assert (snap.reason, snap.seq, snap.epoch) == ("reconnect", first.seq + 1, start.epoch)
    assert [p.qty for p in snap.positions] == [D(1)]
    assert (fill.seq, fill.position_before, fill.position_after) == (snap.seq + 1, D(1), D(-1))


async def _start_then_fill(adapter: ScriptedUsdm, sub: zmq.Socket) -> tuple[PositionSnapshot, MasterFill]:
    (start,) = await collect(sub, (PositionSnapshot,), 1)
    adapter.on_event(trade_event("BUY", "0.25", t=2000, trade_id=5))
    (fill,) = await collect(sub, (MasterFill,), 1)
    return start, fill


async def test_snapshot_requests_before_and_after_state(setup: Any) -> None:
    actor, adapter, sub, ctx = setup
    dealer = ctx.socket(zmq.DEALER)
    dealer.connect(actor.endpoints.master_snapshot("usdm"))

    async def ask(body: bytes) -> Any:
        dealer.send(body)
        await until(lambda: dealer.poll(0))
        return decode_snapshot_reply(dealer.recv())

    early = await ask(encode(SnapshotRequest(id=1, market="usdm")))
    adapter.on_state("connected")
    adapter.replies.put_nowait(rest_state(amt="-3", update=1))
    await collect(sub, (PositionSnapshot,), 1)
    late = await ask(encode(SnapshotRequest(id=2, market="usdm")))
    junk = await ask(b"\x00\x01garbage")
    dealer.close(0)

    assert isinstance(early, Error) and (early.id, early.code) == (1, ErrorCode.NOT_READY)
    assert isinstance(late, SnapshotReply) and late.snapshot.seq == 1 and late.snapshot.reason == "request"
    assert [p.qty for p in late.snapshot.positions] == [D(-3)]
    assert isinstance(junk, Error) and junk.code == ErrorCode.BAD_MESSAGE
    assert actor.router is not None and actor.router.errors == 1


async def test_malformed_event_is_counted_and_the_stream_goes_on(setup: Any) -> None:
    actor, adapter, sub, _ = setup
    adapter.on_state("connected")
    adapter.replies.put_nowait(rest_state())
    await collect(sub, (PositionSnapshot,), 1)

    adapter.on_event(b'{"e":"ORDER_TRADE_UPDATE","E":1,"T":1,"o":{"s":"BTCUSDT"}}')
    adapter.on_event(b"not json")
    adapter.on_event(trade_event("BUY", "1", t=5, trade_id=1))
    (fill,) = await collect(sub, (MasterFill,), 1)

    assert actor.bad_events == 2 and fill.position_after == D(1)


async def test_a_fill_of_a_symbol_the_protocol_cannot_carry_is_not_published(setup: Any) -> None:
    actor, adapter, sub, _ = setup
    adapter.on_state("connected")
    adapter.replies.put_nowait(rest_state())
    await collect(sub, (PositionSnapshot,), 1)

    adapter.on_event(trade_event("BUY", "1", t=5, trade_id=1).replace(b"BTCUSDT", b"BTCUSDT_250627"))
    adapter.on_event(trade_event("BUY", "1", t=6, trade_id=2))
    (fill,) = await collect(sub, (MasterFill,), 1)

    assert (fill.symbol, fill.seq) == ("BTCUSDT", 2) and actor.handler_errors == 1


class PolledUsdm(ScriptedUsdm):
    """REST polls answered from `self.rest_view` (the real poll logic runs)."""

    rest_view = rest_state()

    async def poll(self, full: bool) -> Any:
        return await UsdmAdapter.poll(self, full)

    async def _mode(self) -> bool:
        return self.rest_view.dual

    async def _risks(self) -> list[BinanceFuturesPositionRisk]:
        return self.rest_view.risks

    async def _account(self) -> BinanceFuturesAccount:
        return self.rest_view.account


async def test_poll_corrects_drift_only_when_two_polls_agree_and_reports_config() -> None:
    adapter = PolledUsdm()
    actor = MasterActor("usdm", adapter, Endpoints(Path(tempfile.mkdtemp(prefix="msh-"))), ctx=zmq.Context())
    actor.bind()
    try:
        actor._rebuild_and_drain(rest_state())
        adapter.rest_view = rest_state(amt="2", update=7)

        actor._carry_out(adapter.apply(await adapter.poll(full=False)))
        first = adapter.state.position("BTCUSDT")
        actor._carry_out(adapter.apply(await adapter.poll(full=False)))
        adapter.rest_view = rest_state(amt="2", update=7, dual=True)
        actor._carry_out(adapter.apply(await adapter.poll(full=False)))

        assert first == 0 and adapter.state.position("BTCUSDT") == D(2)
        assert adapter.corrections == 1 and actor.snapshots_published == 2  # start + correction
        assert adapter.state.position_mode == "hedge" and actor.seq == 3
    finally:
        await actor.close()
        actor.ctx.term()
        shutil.rmtree(actor.endpoints.dir, ignore_errors=True)


def test_publisher_does_not_consume_a_number_when_building_fails() -> None:
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PUB)
    try:
        pub = Publisher(sock, "usdm", epoch=5)
        with pytest.raises(ValueError):
            pub.publish(lambda seq: (_ for _ in ()).throw(ValueError("bad")))
        msg = pub.publish(lambda seq: PositionSnapshot(market="usdm", epoch=5, seq=seq, equity=D(1), reason="periodic", t_ns=1))
        assert (msg.seq, pub.seq) == (1, 1)
    finally:
        sock.close(0)
        ctx.term()


async def until(predicate: Any) -> None:
    async def check() -> bool:
        return bool(predicate())

    await aeventually(check, timeout=5)
