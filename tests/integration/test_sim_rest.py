"""Raw HTTP against the simulator: bad input gets Binance's own answer, never a 500; headers; admin."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import aiohttp
import orjson
import pytest

from tests.helpers.sim import InProcessSim


def signed(secret: str, query: str) -> str:
    query = f"{query}&timestamp={int(time.time() * 1000)}" if query else f"timestamp={int(time.time() * 1000)}"
    return query + "&signature=" + hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()


async def request(
    sim: InProcessSim, method: str, path: str, query: str = "", key: str | None = None, body: str | None = None
) -> tuple[int, Any, Any]:
    headers = {"X-MBX-APIKEY": key} if key else {}
    if body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    async with aiohttp.ClientSession() as session:
        async with session.request(method, f"{sim.http_url}{path}?{query}", headers=headers, data=body) as resp:
            return resp.status, orjson.loads(await resp.read()), resp.headers


@pytest.fixture
async def sim():  # type: ignore[no-untyped-def]
    async with InProcessSim() as running:
        yield running


BAD_ORDERS = [
    ("symbol=BTCUSDT&side=BUY", -1102, "Mandatory parameter 'type' was not sent, was empty/null, or malformed."),
    ("symbol=BTCUSDT&side=UP&type=MARKET&quantity=1", -1117, "Invalid side."),
    ("symbol=BTCUSDT&side=BUY&type=FANCY&quantity=1", -1116, "Invalid orderType."),
    ("symbol=NOPE&side=BUY&type=MARKET&quantity=1", -1121, "Invalid symbol."),
    ("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=abc", -1100, None),
    ("symbol=BTCUSDT&side=BUY&type=MARKET", -1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!"),
    ("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001&timeInForce=GTC", -1106, "Parameter 'timeInForce' sent when not required."),
    ("symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=0.001&price=50000&timeInForce=XYZ", -1115, "Invalid timeInForce."),
    ("symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=0.001&price=50000.001&timeInForce=GTC", -1013, "Filter failure: PRICE_FILTER"),
    ("symbol=BTCUSDT&side=BUY&type=LIMIT_MAKER&quantity=0.001&price=99999", -2010, "Order would immediately match and take."),
    ("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001&newOrderRespType=ALL", -1130, None),
]


@pytest.mark.parametrize("query,code,msg", BAD_ORDERS)
async def test_bad_orders_get_binance_errors(sim: InProcessSim, query: str, code: int, msg: str | None) -> None:
    key = sim.key("slave01")

    status, body, _ = await request(sim, "POST", "/api/v3/order", signed(key.secret or "", query), key.api_key)

    assert status == 400
    assert body["code"] == code
    if msg is not None:
        assert body["msg"] == msg


async def test_auth_errors(sim: InProcessSim) -> None:
    key = sim.key("slave01")
    no_key = await request(sim, "GET", "/api/v3/account", signed(key.secret or "", ""))
    unknown_key = await request(sim, "GET", "/api/v3/account", signed(key.secret or "", ""), "nobody")
    no_sig = await request(sim, "GET", "/api/v3/account", f"timestamp={int(time.time() * 1000)}", key.api_key)
    no_ts = await request(sim, "GET", "/api/v3/account", "", key.api_key)
    old = await request(
        sim, "GET", "/api/v3/account", signed(key.secret or "", f"recvWindow=1000&timestamp={int(time.time() * 1000) - 5000}"), key.api_key
    )

    assert (no_key[0], no_key[1]["code"]) == (401, -2014)
    assert (unknown_key[0], unknown_key[1]["code"]) == (401, -2015)
    assert (no_sig[0], no_sig[1]["code"]) == (400, -1102)
    assert (no_ts[0], no_ts[1]["code"]) == (400, -1102)
    assert old[1]["code"] in (-1021, -1101)  # two timestamps: Binance rejects one way or the other


async def test_signature_over_query_and_body(sim: InProcessSim) -> None:
    key = sim.key("slave01")
    sim.sim.prices.set_price("BTCUSDT", __import__("decimal").Decimal("50000"))
    query = "symbol=BTCUSDT&side=BUY"
    body = f"type=MARKET&quantity=0.001&timestamp={int(time.time() * 1000)}"
    sig = hmac.new((key.secret or "").encode(), (query + body).encode(), hashlib.sha256).hexdigest()

    status, placed, headers = await request(sim, "POST", "/api/v3/order", query, key.api_key, body=f"{body}&signature={sig}")

    assert status == 200 and placed["status"] == "FILLED"
    assert headers["X-MBX-USED-WEIGHT-1M"] and headers["X-MBX-ORDER-COUNT-10S"] == "1"


async def test_public_endpoints_and_garbage(sim: InProcessSim) -> None:
    ping = await request(sim, "GET", "/api/v3/ping")
    price = await request(sim, "GET", "/api/v3/ticker/price", "symbol=ETHUSDT")
    prices = await request(sim, "GET", "/api/v3/ticker/price")
    bad_symbols = await request(sim, "GET", "/api/v3/exchangeInfo", "symbols=notjson")
    dup = await request(sim, "GET", "/api/v3/ticker/price", "symbol=A&symbol=B")

    assert ping[:2] == (200, {})
    assert price[1] == {"symbol": "ETHUSDT", "price": "3200.00000000"}
    assert {p["symbol"] for p in prices[1]} >= {"BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT", "DOGEUSDT"}
    assert bad_symbols[1]["code"] == -1135
    assert dup[1]["code"] == -1101


async def test_wsapi_garbage_never_kills_the_connection(sim: InProcessSim) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(sim.ws_api_url) as ws:
        await ws.send_str("{not json")
        garbage = orjson.loads((await ws.receive(timeout=5)).data)
        await ws.send_str(orjson.dumps({"id": 2, "method": "no.such"}).decode())
        unknown = orjson.loads((await ws.receive(timeout=5)).data)
        await ws.send_str(orjson.dumps({"id": 3, "method": "order.place", "params": {"symbol": "BTCUSDT"}}).decode())
        unauth = orjson.loads((await ws.receive(timeout=5)).data)
        await ws.send_str(orjson.dumps({"id": 4, "method": "v3/time"}).decode())
        ok = orjson.loads((await ws.receive(timeout=5)).data)

    assert garbage["id"] is None and garbage["status"] == 400 and garbage["error"]["code"] == -1135
    assert unknown["id"] == 2 and unknown["status"] == 400
    assert unauth["error"]["code"] == -1102
    assert ok["status"] == 200 and "serverTime" in ok["result"]


async def test_admin_orders_carry_arrival_ns_and_bad_admin_input(sim: InProcessSim) -> None:
    key = sim.key("slave01")
    before = time.monotonic_ns()
    await request(sim, "POST", "/api/v3/order", signed(key.secret or "", "symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001"), key.api_key)
    orders = await sim.aadmin("GET", "/_sim/orders?account=slave01")
    trades = await sim.aadmin("GET", "/_sim/trades?account=slave01")
    async with aiohttp.ClientSession() as session:
        async with session.post(sim.http_url + "/_sim/price", data=b'{"symbol": "BTCUSDT"}') as resp:
            bad = (resp.status, orjson.loads(await resp.read()))

    assert len(orders) == 1 and before <= orders[0]["arrivalNs"] <= time.monotonic_ns()
    assert trades[0]["orderId"] == orders[0]["orderId"] and trades[0]["arrivalNs"] == orders[0]["arrivalNs"]
    assert bad == (400, {"error": "missing field 'price'"})


async def test_admin_balance_change_sends_balance_update(sim: InProcessSim) -> None:
    key = sim.key("slave01")
    ts = int(time.time() * 1000)
    payload = f"apiKey={key.api_key}&timestamp={ts}"
    sig = hmac.new((key.secret or "").encode(), payload.encode(), hashlib.sha256).hexdigest()
    async with aiohttp.ClientSession() as session, session.ws_connect(sim.ws_api_url) as ws:
        await ws.send_str(
            orjson.dumps(
                {
                    "id": 1,
                    "method": "userDataStream.subscribe.signature",
                    "params": {"apiKey": key.api_key, "timestamp": ts, "signature": sig},
                }
            ).decode()
        )
        sub = orjson.loads((await ws.receive(timeout=5)).data)
        await sim.aadmin("POST", "/_sim/balances", {"account": "slave01", "asset": "USDT", "free": "10100"})
        update = orjson.loads((await ws.receive(timeout=5)).data)
        position = orjson.loads((await ws.receive(timeout=5)).data)

    assert sub["result"] == {"subscriptionId": 0}
    assert update["event"]["e"] == "balanceUpdate" and update["event"]["d"] == "100.00000000"
    assert position["event"]["B"] == [{"a": "USDT", "f": "10100.00000000", "l": "0.00000000"}]
