"""master-usdm against the simulator: the actor runs as a subprocess (as under supervisord), the test
subscribes to its PUB socket, asks its ROUTER for snapshots and trades the master account over REST."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from decimal import Decimal

import pytest
import zmq

from protocol.errors import ErrorCode
from protocol.messages import AccountConfigChanged, Error, Heartbeat, MasterFill, PositionSnapshot, SnapshotReply
from tests.helpers.secrets import scan_for_secrets, secret_needles
from tests.helpers.sim import SimProcess
from tests.helpers.wait import eventually
from tests.integration.test_master_helpers import Deployment, Subscriber, request_snapshot, rest_client, seqs_gapless

pytestmark = pytest.mark.timeout(90)
D = Decimal


@pytest.fixture
def zctx() -> Iterator[zmq.Context]:
    ctx = zmq.Context()
    yield ctx
    ctx.term()


@pytest.fixture
def deploy(sim: SimProcess) -> Iterator[Deployment]:
    d = Deployment(sim, "usdm")
    yield d
    d.close()


@pytest.fixture
def sub(zctx: zmq.Context, deploy: Deployment) -> Iterator[Subscriber]:
    s = Subscriber(zctx, deploy.endpoints, "usdm")
    yield s
    s.close()


async def order(
    sim: SimProcess, side: str, qty: str, position_side: str | None = None, key_type: str = "HMAC", symbol: str = "BTCUSDT"
) -> dict:
    params = {"symbol": symbol, "side": side, "type": "MARKET", "quantity": qty}
    if position_side:
        params["positionSide"] = position_side
    async with rest_client(sim, sim.key("master", key_type)) as rest:
        return await rest.signed("POST", "/fapi/v1/order", params)


async def fapi(sim: SimProcess, method: str, path: str, params: dict) -> dict:
    async with rest_client(sim, sim.key("master", "ED25519")) as rest:
        return await rest.signed(method, path, params)


def started(deploy: Deployment, sub: Subscriber) -> PositionSnapshot:
    try:
        return sub.wait_for(PositionSnapshot, lambda s: s.reason == "start", what="start snapshot")
    except AssertionError:
        raise AssertionError(f"no start snapshot; master log:\n{deploy.log()}") from None


def fill_of(sub: Subscriber, order_id: int) -> MasterFill:
    return sub.wait_for(MasterFill, lambda f: f.order_id == order_id, what=f"fill of order {order_id}")


async def test_one_way_start_fills_flip_heartbeat_and_snapshot_request(
    sim: SimProcess, deploy: Deployment, sub: Subscriber, zctx: zmq.Context
) -> None:
    deploy.start_master()
    start = started(deploy, sub)
    hb = sub.wait_for(Heartbeat, lambda h: h.connected and h.epoch == start.epoch, what="connected heartbeat")

    buy = await order(sim, "BUY", "0.010")
    fill_buy = fill_of(sub, buy["orderId"])
    sell = await order(sim, "SELL", "0.030")  # flips +0.010 -> -0.020 in one fill
    fill_sell = fill_of(sub, sell["orderId"])
    reply = request_snapshot(zctx, deploy.endpoints, "usdm", request_id=41)

    assert start.seq == 1 and start.position_mode == "one_way" and start.positions == ()
    assert start.equity == D("100000")
    assert hb.seq >= 1
    assert (fill_buy.position_side, fill_buy.side, fill_buy.qty) == ("BOTH", "BUY", D("0.010"))
    assert (fill_buy.position_before, fill_buy.position_after) == (D(0), D("0.010"))
    assert (fill_sell.position_before, fill_sell.position_after) == (D("0.010"), D("-0.020"))
    assert fill_sell.seq == fill_buy.seq + 1 and fill_buy.epoch == start.epoch
    assert fill_buy.leverage == 20 and fill_buy.margin_type == "CROSSED"
    assert fill_buy.equity > 0 and fill_buy.t_master_pub_ns >= fill_buy.t_master_recv_ns > 0
    assert isinstance(reply, SnapshotReply) and reply.id == 41
    snap = reply.snapshot
    assert (snap.reason, snap.seq, snap.epoch) == ("request", fill_sell.seq, start.epoch)
    assert [(p.symbol, p.position_side, p.qty) for p in snap.positions] == [("BTCUSDT", "BOTH", D("-0.020"))]
    fills = sub.fills()
    assert sorted(f.trade_id for f in fills) == sorted({f.trade_id for f in fills})  # each fill once
    assert len(fills) == 2 and seqs_gapless(sub.events)
    secret = deploy.key.secret or ""
    assert not scan_for_secrets([deploy.log_path], secret_needles(secret, "master secret")), deploy.log()
    deploy.assert_clean_log()


async def test_hedge_mode_fills_carry_long_and_short_sizes(sim: SimProcess, deploy: Deployment, sub: Subscriber) -> None:
    await fapi(sim, "POST", "/fapi/v1/positionSide/dual", {"dualSidePosition": "true"})
    deploy.start_master()
    start = started(deploy, sub)

    long_open = fill_of(sub, (await order(sim, "BUY", "0.020", "LONG"))["orderId"])
    short_open = fill_of(sub, (await order(sim, "SELL", "0.010", "SHORT"))["orderId"])
    long_part = fill_of(sub, (await order(sim, "SELL", "0.005", "LONG"))["orderId"])
    short_close = fill_of(sub, (await order(sim, "BUY", "0.010", "SHORT"))["orderId"])

    assert start.position_mode == "hedge"
    assert (long_open.position_side, long_open.position_before, long_open.position_after) == ("LONG", 0, D("0.020"))
    assert (short_open.position_side, short_open.position_before, short_open.position_after) == ("SHORT", 0, D("0.010"))
    assert (long_part.position_before, long_part.position_after) == (D("0.020"), D("0.015"))
    assert (short_close.position_side, short_close.position_before, short_close.position_after) == ("SHORT", D("0.010"), D(0))
    assert short_close.reduce_only is True
    deploy.assert_clean_log()


async def test_leverage_and_position_mode_changes_are_published(sim: SimProcess, deploy: Deployment, sub: Subscriber) -> None:
    deploy.start_master()
    started(deploy, sub)

    await fapi(sim, "POST", "/fapi/v1/leverage", {"symbol": "ETHUSDT", "leverage": 7})
    lev = sub.wait_for(AccountConfigChanged, lambda c: c.leverage is not None, what="leverage change")
    await fapi(sim, "POST", "/fapi/v1/positionSide/dual", {"dualSidePosition": "true"})
    mode = sub.wait_for(AccountConfigChanged, lambda c: c.position_mode is not None, what="position mode change")
    fill = fill_of(sub, (await order(sim, "BUY", "0.1", "LONG", symbol="ETHUSDT"))["orderId"])

    assert (lev.symbol, lev.leverage) == ("ETHUSDT", 7)
    assert (mode.symbol, mode.position_mode) == (None, "hedge")
    assert fill.leverage == 7 and fill.position_side == "LONG"
    assert len([c for c in sub.configs() if c.leverage is not None]) == 1  # event + poll: published once


async def test_bad_snapshot_requests_get_errors_and_the_master_survives(
    sim: SimProcess, deploy: Deployment, sub: Subscriber, zctx: zmq.Context
) -> None:
    deploy.start_master()
    started(deploy, sub)

    garbage = request_snapshot(zctx, deploy.endpoints, "usdm", body=b"\xc1not msgpack")
    wrong = request_snapshot(zctx, deploy.endpoints, "usdm", body=b"\x82\xa1t\xa7snapreq\xa2id\x05")  # no market
    other_market = request_snapshot(zctx, deploy.endpoints, "usdm", body=(b"\x83\xa1t\xa7snapreq\xa2id\x09\xa6market\xa4spot"))
    good = request_snapshot(zctx, deploy.endpoints, "usdm", request_id=3)

    assert isinstance(garbage, Error) and garbage.code == ErrorCode.BAD_MESSAGE
    assert isinstance(wrong, Error) and (wrong.id, wrong.code) == (5, ErrorCode.BAD_MESSAGE)
    assert isinstance(other_market, Error) and (other_market.id, other_market.code) == (9, ErrorCode.WRONG_MARKET)
    assert isinstance(good, SnapshotReply) and good.id == 3


async def test_fill_during_stream_outage_shows_in_the_reconnect_snapshot(sim: SimProcess, deploy: Deployment, sub: Subscriber) -> None:
    deploy.start_master()
    start = started(deploy, sub)
    fill_of(sub, (await order(sim, "BUY", "0.010"))["orderId"])
    actor_key = deploy.key.api_key

    # The actor's key is refused while its stream is down, so it cannot reconnect before we trade.
    await sim.aadmin("POST", "/_sim/keys/revoke", {"api_key": actor_key, "revoked": True})
    await sim.aadmin("POST", "/_sim/faults/drop-user-data", {"account": "master"})
    sub.wait_for(Heartbeat, lambda h: not h.connected, what="heartbeat saying the stream is down")
    during = await order(sim, "BUY", "0.005", key_type="ED25519")
    await sim.aadmin("POST", "/_sim/keys/revoke", {"api_key": actor_key, "revoked": False})
    snap = sub.wait_for(PositionSnapshot, lambda s: s.reason == "reconnect", timeout=30, what="reconnect snapshot")
    after = fill_of(sub, (await order(sim, "SELL", "0.015"))["orderId"])

    assert snap.epoch == start.epoch
    assert [(p.symbol, p.qty) for p in snap.positions] == [("BTCUSDT", D("0.015"))]
    assert not [f for f in sub.fills() if f.order_id == during["orderId"]]  # lost with the stream: in the snapshot
    assert (after.position_before, after.position_after) == (D("0.015"), D(0))
    assert after.seq == snap.seq + 1
    deploy.assert_clean_log()
    assert sub.wait_for(Heartbeat, lambda h: h.connected and h.seq >= after.seq)


async def test_kill_and_restart_starts_a_new_epoch_from_rest(sim: SimProcess, deploy: Deployment, sub: Subscriber) -> None:
    first = deploy.start_master()
    start = started(deploy, sub)
    fill_of(sub, (await order(sim, "SELL", "0.004"))["orderId"])

    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    deploy.start_master()
    restart = sub.wait_for(
        PositionSnapshot, lambda s: s.reason == "start" and s.epoch != start.epoch, what="start snapshot of the new epoch"
    )
    fill = fill_of(sub, (await order(sim, "BUY", "0.004"))["orderId"])

    assert restart.seq == 1
    assert [(p.symbol, p.qty) for p in restart.positions] == [("BTCUSDT", D("-0.004"))]
    assert (fill.epoch, fill.seq) == (restart.epoch, 2)
    assert (fill.position_before, fill.position_after) == (D("-0.004"), D(0))
    eventually(lambda: deploy.procs[-1].poll() is None)
