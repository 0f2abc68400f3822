"""The simulator keeps a bounded past ([history]): requests, trades and closed orders beyond the
configured sizes are forgotten everywhere, open orders never; what is kept still answers."""

from __future__ import annotations

from typing import Any

import pytest

from simulator.config import HistoryConfig
from tests.helpers.sim import InProcessSim
from tests.integration.test_sim_rest import request, signed

SIZES = HistoryConfig(requests=6, trades=5, orders=4)


@pytest.fixture
async def sim():  # type: ignore[no-untyped-def]
    async with InProcessSim(overrides={"history": SIZES}) as running:
        yield running


async def call(sim: InProcessSim, method: str, path: str, query: str) -> tuple[int, Any]:
    key = sim.key("slave01")
    status, body, _ = await request(sim, method, path, signed(key.secret or "", query), key.api_key)
    return status, body


@pytest.mark.parametrize("market", ["spot", "margin"])
async def test_spot_and_margin_forget_old_closed_orders_and_trades_but_not_open_orders(sim: InProcessSim, market: str) -> None:
    path = "/api/v3/order" if market == "spot" else "/sapi/v1/margin/order"
    status, resting = await call(
        sim, "POST", path, "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.01&price=1000&newClientOrderId=rest1"
    )
    assert status == 200, resting
    ids = []
    for i in range(30):
        status, body = await call(sim, "POST", path, f"symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001&newClientOrderId=m{i}")
        assert status == 200, body
        ids.append(body["orderId"])

    _, first = await call(sim, "GET", path, f"symbol=BTCUSDT&orderId={ids[0]}")
    _, first_by_client = await call(sim, "GET", path, "symbol=BTCUSDT&origClientOrderId=m0")
    _, last = await call(sim, "GET", path, "symbol=BTCUSDT&origClientOrderId=m29")
    _, still_open = await call(sim, "GET", path, "symbol=BTCUSDT&origClientOrderId=rest1")
    my_trades = "/api/v3/myTrades" if market == "spot" else "/sapi/v1/margin/myTrades"
    _, trades = await call(sim, "GET", my_trades, "symbol=BTCUSDT")
    orders = await sim.aadmin("GET", f"/_sim/orders?account=slave01&market={market}")
    admin_trades = await sim.aadmin("GET", f"/_sim/trades?account=slave01&market={market}")

    assert first["code"] == -2013 and first_by_client["code"] == -2013  # forgotten, like Binance's old orders
    assert last["orderId"] == ids[-1] and last["status"] == "FILLED"
    assert still_open["orderId"] == resting["orderId"] and still_open["status"] == "NEW"
    assert [t["orderId"] for t in trades] == ids[-5:]
    assert [t["orderId"] for t in admin_trades] == ids[-5:]
    closed = [o["orderId"] for o in orders if o["status"] == "FILLED"]
    assert resting["orderId"] in [o["orderId"] for o in orders]
    assert 4 <= len(closed) <= 4 + 2 and closed == ids[-len(closed) :]  # + slack, + the order filled last
    book = sim.sim.markets[market].accounts["slave01"]  # type: ignore[attr-defined]
    assert set(book.by_client) <= {o.client_order_id for o in book.by_id.values()}


async def test_futures_forget_old_orders_their_arrivals_and_fills_and_still_list_open_orders(sim: InProcessSim) -> None:
    ids = []
    for i in range(30):
        status, body = await call(
            sim,
            "POST",
            "/fapi/v1/order",
            f"symbol=BTCUSDT&side={'BUY' if i % 2 else 'SELL'}&type=MARKET&quantity=0.002&newClientOrderId=f{i}",
        )
        assert status == 200, body
        ids.append(body["orderId"])
    status, resting = await call(
        sim, "POST", "/fapi/v1/order", "symbol=BTCUSDT&side=BUY&type=LIMIT&timeInForce=GTC&quantity=0.002&price=60000&newClientOrderId=rest"
    )
    assert status == 200, resting

    _, first = await call(sim, "GET", "/fapi/v1/order", "symbol=BTCUSDT&origClientOrderId=f0")
    _, last = await call(sim, "GET", "/fapi/v1/order", "symbol=BTCUSDT&origClientOrderId=f29")
    _, open_orders = await call(sim, "GET", "/fapi/v1/openOrders", "symbol=BTCUSDT")
    trades = await sim.aadmin("GET", "/_sim/trades?market=futures")
    health = await sim.aadmin("GET", "/_sim/health")

    assert first["code"] == -2013 and last["orderId"] == ids[-1]
    assert [o["orderId"] for o in open_orders] == [resting["orderId"]]
    assert [t["orderId"] for t in trades] == ids[-5:] and all(t["arrivalNs"] > 0 for t in trades)
    svc = sim.sim.futures  # type: ignore[attr-defined]
    fa = svc.engine.accounts["slave01"]
    assert len(fa.orders) <= 4 + 1 + 1 and resting["orderId"] in fa.orders
    assert set(svc.arrivals) == set(fa.orders)  # an arrival stamp goes with its order
    assert fa.live_seen == len(fa.orders)
    assert health["history"]["requests"] == {"size": 6, "held": 6, "dropped": 25}
    assert health["history"]["trades"]["dropped"] == 25 and health["history"]["orders"]["size"] == 4


async def test_the_request_log_keeps_the_newest(sim: InProcessSim) -> None:
    for i in range(10):
        await call(sim, "POST", "/api/v3/order", f"symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001&newClientOrderId=r{i}")
    log = await sim.aadmin("GET", "/_sim/requests?account=slave01")
    assert [r["params"]["newClientOrderId"] for r in log] == [f"r{i}" for i in range(4, 10)]
