"""master-spot and master-margin against the simulator (actor as a subprocess, test as subscriber).

Simulator facts used (simulator/README.md): market orders fill at once at the price (slippage 0 in
sim-test.toml), the commission (0.1 %) is taken from the asset received; margin MARGIN_BUY borrows
the shortfall, AUTO_REPAY repays the received asset's debt. Master balances: spot USDT 100000,
BTC 2, ETH 20; margin USDT 50000, BTC 1.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
import zmq

from protocol.messages import Heartbeat, MasterFill, PositionSnapshot, SnapshotReply
from tests.helpers.sim import SimProcess
from tests.integration.test_master_helpers import Deployment, Subscriber, request_snapshot, rest_client, seqs_gapless

pytestmark = pytest.mark.timeout(90)
D = Decimal
FEE = D("0.001")


@pytest.fixture
def zctx() -> Iterator[zmq.Context]:
    ctx = zmq.Context()
    yield ctx
    ctx.term()


def deployment(sim: SimProcess, market: str) -> Iterator[Deployment]:
    d = Deployment(sim, market)
    yield d
    d.close()


@pytest.fixture
def spot(sim: SimProcess) -> Iterator[Deployment]:
    yield from deployment(sim, "spot")


@pytest.fixture
def margin(sim: SimProcess) -> Iterator[Deployment]:
    yield from deployment(sim, "margin")


async def place(sim: SimProcess, path: str, side: str, qty: str, symbol: str = "BTCUSDT", key_type: str = "HMAC", **extra: str) -> dict:
    params = {"symbol": symbol, "side": side, "type": "MARKET", "quantity": qty, **extra}
    async with rest_client(sim, sim.key("master", key_type)) as rest:
        return await rest.signed("POST", path, params)


def start_and_wait(d: Deployment, sub: Subscriber) -> PositionSnapshot:
    d.start_master()
    try:
        return sub.wait_for(PositionSnapshot, lambda s: s.reason == "start", what="start snapshot")
    except AssertionError:
        raise AssertionError(f"no start snapshot; master log:\n{d.log()}") from None


def fill_of(sub: Subscriber, order_id: int) -> MasterFill:
    return sub.wait_for(MasterFill, lambda f: f.order_id == order_id, what=f"fill of order {order_id}")


def holding(snap: PositionSnapshot, asset: str) -> Decimal:
    return sum((h.free + h.locked for h in snap.holdings if h.asset == asset), D(0))


@pytest.mark.parametrize("key_type", ["HMAC", "ED25519"])  # subscribe.signature / session.logon + subscribe
async def test_spot_fills_follow_the_base_holding_net_of_base_commission(sim: SimProcess, zctx: zmq.Context, key_type: str) -> None:
    spot = Deployment(sim, "spot", key_type=key_type)
    sub = Subscriber(zctx, spot.endpoints, "spot")
    try:
        start = start_and_wait(spot, sub)
        price = D(str(sim.admin("GET", "/_sim/prices")["prices"]["BTCUSDT"]))
        buy = fill_of(sub, (await place(sim, "/api/v3/order", "BUY", "0.01"))["orderId"])
        sell = fill_of(sub, (await place(sim, "/api/v3/order", "SELL", "0.5"))["orderId"])
        reply = request_snapshot(zctx, spot.endpoints, "spot", request_id=11)
        hb = sub.wait_for(Heartbeat, lambda h: h.connected and h.seq == sell.seq)
        spot.assert_clean_log()
    finally:
        sub.close()
        spot.close()

    assert (holding(start, "BTC"), holding(start, "USDT")) == (D(2), D(100000))
    assert ("BTCUSDT", D(2)) in [(p.symbol, p.qty) for p in start.positions]
    assert start.equity == D(100000) + 2 * price + 20 * D(str(sim.admin("GET", "/_sim/prices")["prices"]["ETHUSDT"]))
    assert (buy.side, buy.position_side, buy.qty, buy.price) == ("BUY", "BOTH", D("0.01"), price)
    assert (buy.position_before, buy.position_after) == (D(2), D(2) + D("0.01") * (1 - FEE))
    assert (sell.position_before, sell.position_after) == (buy.position_after, buy.position_after - D("0.5"))
    assert isinstance(reply, SnapshotReply) and reply.snapshot.seq == sell.seq
    assert holding(reply.snapshot, "BTC") == sell.position_after
    assert holding(reply.snapshot, "USDT") == D(100000) - D("0.01") * price + D("0.5") * price * (1 - FEE)
    assert hb.epoch == start.epoch and seqs_gapless(sub.events)


async def test_spot_reconnect_rebuilds_and_publishes_a_snapshot(sim: SimProcess, spot: Deployment, zctx: zmq.Context) -> None:
    sub = Subscriber(zctx, spot.endpoints, "spot")
    try:
        start_and_wait(spot, sub)
        await sim.aadmin("POST", "/_sim/keys/revoke", {"api_key": spot.key.api_key, "revoked": True})
        await sim.aadmin("POST", "/_sim/faults/drop-user-data", {"account": "master"})
        sub.wait_for(Heartbeat, lambda h: not h.connected, what="heartbeat saying the stream is down")
        during = await place(sim, "/api/v3/order", "SELL", "1", key_type="ED25519")
        await sim.aadmin("POST", "/_sim/keys/revoke", {"api_key": spot.key.api_key, "revoked": False})
        snap = sub.wait_for(PositionSnapshot, lambda s: s.reason == "reconnect", timeout=30, what="reconnect snapshot")
        after = fill_of(sub, (await place(sim, "/api/v3/order", "SELL", "0.5"))["orderId"])
    finally:
        sub.close()

    assert holding(snap, "BTC") == D(1)
    assert not [e for e in sub.events if isinstance(e, MasterFill) and e.order_id == during["orderId"]]
    assert (after.position_before, after.position_after) == (D(1), D("0.5"))


async def test_margin_short_and_cover_publish_net_positions_loans_and_side_effects(
    sim: SimProcess, margin: Deployment, zctx: zmq.Context
) -> None:
    sub = Subscriber(zctx, margin.endpoints, "margin")
    try:
        start = start_and_wait(margin, sub)
        # Sell 1.5 BTC holding 1: the 0.5 shortfall is borrowed (MARGIN_BUY).
        short = fill_of(sub, (await place(sim, "/sapi/v1/margin/order", "SELL", "1.5", sideEffectType="MARGIN_BUY"))["orderId"])
        # Buy back 0.5 with AUTO_REPAY: the received BTC (net of fee) repays the loan.
        cover = fill_of(sub, (await place(sim, "/sapi/v1/margin/order", "BUY", "0.5", sideEffectType="AUTO_REPAY"))["orderId"])
        account = sim.admin("GET", "/_sim/accounts?account=master")
        reply = request_snapshot(zctx, margin.endpoints, "margin", request_id=5)
    finally:
        sub.close()

    btc = account["margin"]["BTC"]
    exact_net = D(str(btc["netAsset"]))
    assert ("BTCUSDT", D(1)) in [(p.symbol, p.qty) for p in start.positions]
    assert (short.position_before, short.position_after) == (D(1), D("-0.5"))
    assert (short.side_effect, short.borrowed_before, short.borrowed_after) == ("MARGIN_BUY", D(0), D("0.5"))
    assert (cover.position_before, cover.position_after) == (D("-0.5"), D("-0.5") + D("0.5") * (1 - FEE))
    assert cover.position_after == exact_net
    assert cover.side_effect == "AUTO_REPAY" and cover.borrowed_before == D("0.5")
    assert isinstance(reply, SnapshotReply)
    snap_btc = [h for h in reply.snapshot.holdings if h.asset == "BTC"]
    assert [p.qty for p in reply.snapshot.positions if p.symbol == "BTCUSDT"] == [exact_net]
    assert snap_btc and snap_btc[0].borrowed == D(str(btc["borrowed"]))  # REST-corrected if the estimate was off
    margin.assert_clean_log()
