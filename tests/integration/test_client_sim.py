"""Our exchange client against the real simulator (in this test's loop, tests/helpers/sim.py).

Spot and USD-M orders are placed, queried and cancelled over REST and the WebSocket API, with
HMAC, Ed25519 (session.logon) and RSA keys; user data arrives over each stream type.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from actors.binance import wire
from actors.binance.endpoints import Endpoints
from actors.binance.errors import OrderNotFound, Rejected
from actors.binance.rest import RestClient
from actors.binance.signing import Signer, make_signer
from actors.binance.userdata import FuturesUserStream, MarginUserStream, SpotUserStream
from actors.binance.wsapi import WsApiClient
from tests.helpers.sim import InProcessSim, SimKey
from tests.helpers.wait import aeventually


def signer_of(key: SimKey) -> Signer:
    return make_signer(key.type, key.api_key, key.secret if key.type == "HMAC" else key.private_key or "")


def cid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def sim() -> AsyncIterator[InProcessSim]:
    async with InProcessSim() as s:
        yield s


@pytest.fixture
def endpoints(sim: InProcessSim) -> Endpoints:
    return Endpoints.local(sim.http_url)


async def test_spot_rest_place_query_cancel(sim: InProcessSim, endpoints: Endpoints) -> None:
    async with RestClient(endpoints.spot_rest, signer_of(sim.key("slave01", "HMAC"))) as rest:
        await rest.sync_time("/api/v3/time")
        market_id = cid("mkt")
        reply = await rest.signed(
            "POST",
            "/api/v3/order",
            {
                "symbol": "BTCUSDT",
                "side": "BUY",
                "type": "MARKET",
                "quantity": Decimal("0.00100"),
                "newClientOrderId": market_id,
                "newOrderRespType": "FULL",
            },
        )
        order = wire.convert(reply, wire.BinanceSpotOrder)
        assert order.clientOrderId == market_id and order.status == "FILLED"
        assert order.executedQty == Decimal("0.001") and sum(f.qty for f in order.fills) == Decimal("0.001")

        queried = wire.convert(
            await rest.signed("GET", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": market_id}), wire.BinanceSpotOrder
        )
        assert queried.orderId == order.orderId and queried.status == "FILLED"

        limit_id = cid("lim")
        await rest.signed(
            "POST",
            "/api/v3/order",
            {
                "symbol": "BTCUSDT",
                "side": "BUY",
                "type": "LIMIT",
                "timeInForce": "GTC",
                "quantity": Decimal("0.001"),
                "price": Decimal("30000.00"),
                "newClientOrderId": limit_id,
            },
        )
        cancelled = await rest.signed("DELETE", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": limit_id})
        assert cancelled["status"] == "CANCELED"
        with pytest.raises(OrderNotFound):
            await rest.signed("GET", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": cid("none")})
        assert rest.used_weight  # X-MBX-USED-WEIGHT-1M seen


async def test_spot_rest_with_an_rsa_key(sim: InProcessSim, endpoints: Endpoints) -> None:
    key = next(k for keys in sim.keys.values() for k in keys if k.type == "RSA")
    async with RestClient(endpoints.spot_rest, signer_of(key)) as rest:
        account = wire.convert(await rest.signed("GET", "/api/v3/account"), wire.BinanceSpotAccount)
        assert any(b.asset == "USDT" for b in account.balances)


async def test_spot_ws_api_hmac_place_status_cancel(sim: InProcessSim, endpoints: Endpoints) -> None:
    async with WsApiClient(endpoints.spot_ws_api, signer_of(sim.key("slave01", "HMAC"))) as ws:
        assert not ws.logged_on
        order_id = cid("ws")
        placed = await ws.place_order(
            {
                "symbol": "BTCUSDT",
                "side": "BUY",
                "type": "LIMIT",
                "timeInForce": "GTC",
                "quantity": Decimal("0.001"),
                "price": Decimal("30000.00"),
                "newClientOrderId": order_id,
            },
            result_type=wire.BinanceSpotOrder,
        )
        assert placed.clientOrderId == order_id and placed.status == "NEW"
        status = await ws.order_status("BTCUSDT", orig_client_order_id=order_id, result_type=wire.BinanceSpotOrder)
        assert status.orderId == placed.orderId
        cancelled = await ws.cancel_order("BTCUSDT", order_id=placed.orderId)
        assert cancelled["status"] == "CANCELED"
        with pytest.raises(OrderNotFound):
            await ws.order_status("BTCUSDT", orig_client_order_id=cid("none"))
        assert ws.rate_limits


async def test_spot_ws_api_ed25519_logon_and_user_data(sim: InProcessSim, endpoints: Endpoints) -> None:
    events: list[object] = []
    states: list[str] = []
    ws = WsApiClient(endpoints.spot_ws_api, signer_of(sim.key("slave02", "ED25519")))
    stream = SpotUserStream(ws, lambda raw: events.append(wire.decode_user_event(raw)), states.append)
    try:
        await stream.start()
        assert ws.logged_on and states[-1] == "connected"
        order_id = cid("ed")
        placed = await ws.place_order(
            {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": Decimal("0.001"), "newClientOrderId": order_id}
        )
        assert placed["status"] == "FILLED"

        async def filled_report() -> bool:
            return any(isinstance(e, wire.BinanceExecutionReport) and e.c == order_id and e.X == "FILLED" for e in events)

        await aeventually(filled_report, timeout=5)
    finally:
        await stream.stop()
        await ws.close()


async def test_spot_rejection_is_definite(sim: InProcessSim, endpoints: Endpoints) -> None:
    async with WsApiClient(endpoints.spot_ws_api, signer_of(sim.key("slave01", "HMAC"))) as ws:
        with pytest.raises(Rejected) as info:
            await ws.place_order({"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": Decimal("1000")})
        assert not info.value.may_have_executed


async def test_futures_rest_and_user_stream(sim: InProcessSim, endpoints: Endpoints) -> None:
    events: list[object] = []
    states: list[str] = []
    async with RestClient(endpoints.futures_rest, signer_of(sim.key("slave01", "HMAC"))) as rest:
        await rest.sync_time("/fapi/v1/time")
        stream = FuturesUserStream(rest, endpoints.futures_stream, lambda raw: events.append(wire.decode_user_event(raw)), states.append)
        await stream.start()
        try:

            async def connected() -> bool:
                return states[-1:] == ["connected"]

            await aeventually(connected, timeout=5)
            order_id = cid("fut")
            reply = await rest.signed(
                "POST",
                "/fapi/v1/order",
                {
                    "symbol": "BTCUSDT",
                    "side": "BUY",
                    "type": "MARKET",
                    "quantity": Decimal("0.002"),
                    "newClientOrderId": order_id,
                    "newOrderRespType": "RESULT",
                },
            )
            order = wire.convert(reply, wire.BinanceFuturesOrder)
            assert order.clientOrderId == order_id and order.status == "FILLED"
            queried = wire.convert(
                await rest.signed("GET", "/fapi/v1/order", {"symbol": "BTCUSDT", "origClientOrderId": order_id}), wire.BinanceFuturesOrder
            )
            assert queried.executedQty == Decimal("0.002")

            async def trade_event() -> bool:
                return any(isinstance(e, wire.BinanceFuturesOrderTradeUpdate) and e.o.c == order_id and e.o.x == "TRADE" for e in events)

            await aeventually(trade_event, timeout=5)
            positions = wire.convert(
                await rest.signed("GET", "/fapi/v3/positionRisk", {"symbol": "BTCUSDT"}), list[wire.BinanceFuturesPositionRisk]
            )
            assert sum(p.positionAmt for p in positions) == Decimal("0.002")
        finally:
            await stream.stop()


async def test_futures_ws_api_place_status_cancel(sim: InProcessSim, endpoints: Endpoints) -> None:
    async with WsApiClient(endpoints.futures_ws_api, signer_of(sim.key("slave02", "ED25519"))) as ws:
        assert ws.logged_on
        order_id = cid("fws")
        placed = await ws.place_order(
            {
                "symbol": "BTCUSDT",
                "side": "BUY",
                "type": "LIMIT",
                "timeInForce": "GTC",
                "quantity": Decimal("0.002"),
                "price": Decimal("60000.0"),
                "newClientOrderId": order_id,
            },
            result_type=wire.BinanceFuturesOrder,
        )
        assert placed.status == "NEW"
        status = await ws.order_status("BTCUSDT", orig_client_order_id=order_id, result_type=wire.BinanceFuturesOrder)
        assert status.orderId == placed.orderId
        cancelled = await ws.cancel_order("BTCUSDT", orig_client_order_id=order_id, result_type=wire.BinanceFuturesOrder)
        assert cancelled.status == "CANCELED"


async def test_margin_user_stream_over_listen_token(sim: InProcessSim, endpoints: Endpoints) -> None:
    events: list[object] = []
    states: list[str] = []
    signer = signer_of(sim.key("slave01", "HMAC"))
    async with RestClient(endpoints.spot_rest, signer) as rest:
        ws = WsApiClient(endpoints.spot_ws_api, signer)
        stream = MarginUserStream(rest, ws, lambda raw: events.append(wire.decode_user_event(raw)), states.append)
        try:
            await stream.start()
            assert states[-1] == "connected" and stream.expiration_ms
            order_id = cid("mrg")
            reply = await rest.signed(
                "POST",
                "/sapi/v1/margin/order",
                {
                    "symbol": "BTCUSDT",
                    "side": "BUY",
                    "type": "MARKET",
                    "quantity": Decimal("0.001"),
                    "newClientOrderId": order_id,
                    "sideEffectType": "MARGIN_BUY",
                },
            )
            assert wire.convert(reply, wire.BinanceSpotOrder).clientOrderId == order_id

            async def report() -> bool:
                return any(isinstance(e, wire.BinanceExecutionReport) and e.c == order_id for e in events)

            await aeventually(report, timeout=5)
            account = wire.convert(await rest.signed("GET", "/sapi/v1/margin/account"), wire.BinanceMarginAccount)
            assert any(a.asset == "BTC" and a.free > 0 for a in account.userAssets)
        finally:
            await stream.stop()
            await ws.close()
