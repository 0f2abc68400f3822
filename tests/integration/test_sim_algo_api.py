"""The simulator's USD-M Algo Service over the wire: REST, WebSocket API and the user-data stream.

Oracles: the official SDK's algo models (reply and ALGO_UPDATE field names), the Postman collection's
algo requests (parameters), the 2025-11-06 change log (statuses, no modification). The simulator
runs on 127.0.0.1:0 with the price walk off; a stop is triggered deterministically with the admin
call `POST /_sim/price {"symbol": "BTCUSDT", "price": "64000"}`. State is checked after every step.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import aiohttp
import orjson
import pytest

from tests.helpers.wait import aeventually
from tests.integration.test_sim_futures_api import ED_KEY, HMAC_KEY, HMAC_SECRET, FuturesSim, Stream, ed25519_pair, sim_doc

F_KEY, F_SECRET = "fut-follower-key", "fut-follower-secret-0123456789"
EVENTS = "ORDER_TRADE_UPDATE/ACCOUNT_UPDATE/ALGO_UPDATE"
NEW_FIELDS = {
    "algoId", "clientAlgoId", "algoType", "orderType", "symbol", "side", "positionSide", "timeInForce", "quantity",
    "algoStatus", "triggerPrice", "price", "icebergQuantity", "selfTradePreventionMode", "workingType", "priceMatch",
    "closePosition", "priceProtect", "reduceOnly", "activatePrice", "callbackRate", "createTime", "updateTime",
    "triggerTime", "goodTillDate",
}  # fmt: skip  # rest_api/models/new_algo_order_response.py
ALGO_UPDATE_FIELDS = {
    "caid", "aid", "at", "o", "s", "S", "ps", "f", "q", "X", "ai", "ap", "aq", "act", "tp", "p", "V", "wt", "pm",
    "cp", "pP", "R", "tt", "gtd", "rm", "ia",
}  # fmt: skip  # websocket_streams/models/algo_update_o.py
SL = {"algoType": "CONDITIONAL", "symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET", "quantity": "0.010", "triggerPrice": "64000"}


@pytest.fixture(scope="module")
def ed_key() -> Any:
    return ed25519_pair()


@pytest.fixture
def fsim(ed_key: Any) -> Iterator[FuturesSim]:
    doc = sim_doc(ed_key[2])
    doc["accounts"].append(
        {"id": "follower", "futures": {"USDT": "50000"}, "keys": [{"api_key": F_KEY, "type": "HMAC", "secret": F_SECRET}]}
    )
    sim = FuturesSim(doc)
    yield sim
    sim.close()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


class Client:
    """One account's signed REST calls and its user-data stream."""

    def __init__(self, session: aiohttp.ClientSession, fsim: FuturesSim, key: str, secret: str) -> None:
        self.session, self.fsim, self.key, self.secret = session, fsim, key, secret

    async def call(self, method: str, path: str, signed: bool = True, **params: Any) -> tuple[int, Any]:
        query = urllib.parse.urlencode({**params, "timestamp": int(time.time() * 1000)} if signed else params)
        if signed:
            query += "&signature=" + hmac.new(self.secret.encode(), query.encode(), hashlib.sha256).hexdigest()
        async with self.session.request(method, f"{self.fsim.http}{path}?{query}", headers={"X-MBX-APIKEY": self.key}) as resp:
            body = await resp.read()
            return resp.status, orjson.loads(body) if body else None

    async def ok(self, method: str, path: str, **params: Any) -> Any:
        status, body = await self.call(method, path, **params)
        assert status == 200, body
        return body

    async def stream(self, events: str = EVENTS) -> Stream:
        key = (await self.ok("POST", "/fapi/v1/listenKey", signed=False))["listenKey"]
        return Stream(await self.session.ws_connect(f"{self.fsim.ws}/private/ws?listenKey={key}&events={events}"))

    async def position(self) -> Decimal:
        (row,) = await self.ok("GET", "/fapi/v2/positionRisk", symbol="BTCUSDT")
        return Decimal(row["positionAmt"])

    async def open_algos(self) -> list[dict[str, Any]]:
        return await self.ok("GET", "/fapi/v1/openAlgoOrders", symbol="BTCUSDT")


async def set_price(session: aiohttp.ClientSession, fsim: FuturesSim, price: str) -> None:
    async with session.post(f"{fsim.http}/_sim/price", json={"symbol": "BTCUSDT", "price": price}) as r:
        assert r.status == 200


def kinds(stream: Stream) -> list[str]:
    """Each event as ALGO:<X>, ORDER:<x> or its type."""
    out = []
    for e in stream.events:
        if e["e"] == "ALGO_UPDATE":
            out.append("ALGO:" + e["o"]["X"])
        elif e["e"] == "ORDER_TRADE_UPDATE":
            out.append("ORDER:" + e["o"]["x"])
        else:
            out.append(e["e"])
    return out


async def until(check: Any, timeout: float = 10) -> None:
    async def probe() -> bool:
        assert check()
        return True

    await aeventually(probe, timeout=timeout)


async def test_place_query_list_cancel_over_rest(fsim: FuturesSim, session: aiohttp.ClientSession) -> None:
    master = Client(session, fsim, HMAC_KEY, HMAC_SECRET)
    stream = await master.stream()
    # the classic endpoint still refuses conditional types
    status, body = await master.call("POST", "/fapi/v1/order", **{k: v for k, v in SL.items() if k != "algoType"})
    assert status == 400 and body["code"] == -4120

    placed = await master.ok("POST", "/fapi/v1/algoOrder", **SL, clientAlgoId="sl-1")
    assert set(placed) == NEW_FIELDS
    assert (placed["algoStatus"], placed["orderType"], placed["algoType"], placed["clientAlgoId"]) == (
        "NEW",
        "STOP_MARKET",
        "CONDITIONAL",
        "sl-1",
    )
    assert (placed["quantity"], placed["triggerPrice"], placed["price"], placed["workingType"]) == (
        "0.010",
        "64000.00",
        "0",
        "CONTRACT_PRICE",
    )
    assert placed["activatePrice"] == "" and placed["callbackRate"] == "" and placed["triggerTime"] == 0
    await until(lambda: kinds(stream) == ["ALGO:NEW"])
    (new,) = stream.events
    assert set(new) == {"e", "T", "E", "o"} and set(new["o"]) == ALGO_UPDATE_FIELDS
    assert (new["o"]["aid"], new["o"]["caid"], new["o"]["ai"], new["o"]["tp"], new["o"]["q"]) == (
        placed["algoId"],
        "sl-1",
        "",
        "64000.00",
        "0.010",
    )
    assert await master.ok("GET", "/fapi/v1/openOrders", symbol="BTCUSDT") == []  # not in the matching engine

    by_client = await master.ok("GET", "/fapi/v1/algoOrder", clientAlgoId="sl-1")
    assert by_client["algoId"] == placed["algoId"] and by_client["actualOrderId"] == "" and by_client["actualPrice"] == "0"
    assert [o["algoId"] for o in await master.open_algos()] == [placed["algoId"]]
    assert [o["algoId"] for o in await master.ok("GET", "/fapi/v1/openAlgoOrders")] == [placed["algoId"]]
    status, body = await master.call("POST", "/fapi/v1/algoOrder", **SL, clientAlgoId="sl-1")
    assert status == 400 and body["code"] == -4116
    status, body = await master.call("POST", "/fapi/v1/algoOrder", **{**SL, "triggerPrice": "65100"})
    assert status == 400 and body == {"code": -2021, "msg": "Order would immediately trigger."}
    status, body = await master.call("GET", "/fapi/v1/algoOrder")
    assert status == 400 and body["code"] == -1102

    canceled = await master.ok("DELETE", "/fapi/v1/algoOrder", algoId=placed["algoId"])
    assert canceled == {"algoId": placed["algoId"], "clientAlgoId": "sl-1", "code": "200", "msg": "success"}
    await until(lambda: kinds(stream) == ["ALGO:NEW", "ALGO:CANCELED"])
    assert await master.open_algos() == []
    status, body = await master.call("DELETE", "/fapi/v1/algoOrder", algoId=placed["algoId"])
    assert status == 400 and body["code"] == -2011

    second = await master.ok("POST", "/fapi/v1/algoOrder", **SL)
    assert second["clientAlgoId"] and second["algoId"] > placed["algoId"]
    done = await master.ok("DELETE", "/fapi/v1/algoOpenOrders", symbol="BTCUSDT")
    assert done == {"code": 200, "msg": "The operation of cancel all open order is done."}
    history = await master.ok("GET", "/fapi/v1/allAlgoOrders", symbol="BTCUSDT")
    assert [(o["algoId"], o["algoStatus"]) for o in history] == [(placed["algoId"], "CANCELED"), (second["algoId"], "CANCELED")]
    assert [o["algoId"] for o in await master.ok("GET", "/fapi/v1/allAlgoOrders", symbol="BTCUSDT", algoId=second["algoId"])] == [
        second["algoId"]
    ]
    await set_price(session, fsim, "60000")  # canceled orders never trigger
    assert await master.position() == 0


async def test_a_stop_triggers_for_master_and_follower_on_the_same_price(fsim: FuturesSim, session: aiohttp.ClientSession) -> None:
    clients = {"master": Client(session, fsim, HMAC_KEY, HMAC_SECRET), "follower": Client(session, fsim, F_KEY, F_SECRET)}
    streams = {name: await c.stream() for name, c in clients.items()}
    algos = {}
    for name, c in clients.items():
        await c.ok("POST", "/fapi/v1/order", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010")
        assert await c.position() == Decimal("0.010")
        algos[name] = await c.ok("POST", "/fapi/v1/algoOrder", **SL, reduceOnly="true", clientAlgoId=f"sl-{name}")
        assert algos[name]["reduceOnly"] is True
    for stream in streams.values():
        await until(lambda stream=stream: kinds(stream) == ["ORDER:NEW", "ORDER:TRADE", "ACCOUNT_UPDATE", "ALGO:NEW"])

    await set_price(session, fsim, "64000.10")  # above the trigger: nothing happens
    for c in clients.values():
        assert [o["algoStatus"] for o in await c.open_algos()] == ["NEW"]
        assert await c.position() == Decimal("0.010")

    await set_price(session, fsim, "64000")
    for name, c in clients.items():
        stream = streams[name]
        await until(lambda stream=stream: "ALGO:FINISHED" in kinds(stream))
        assert kinds(stream)[4:] == ["ALGO:TRIGGERING", "ALGO:TRIGGERED", "ORDER:NEW", "ORDER:TRADE", "ACCOUNT_UPDATE", "ALGO:FINISHED"]
        algo_events = [e["o"] for e in stream.events if e["e"] == "ALGO_UPDATE"]
        triggering, triggered, finished = algo_events[1:]
        assert triggering["ai"] == "" and triggering["tt"] > 0
        actual = int(triggered["ai"])
        assert triggered["act"] == "MARKET" and triggered["aq"] == "0.000"
        new_order, trade = [e["o"] for e in stream.events if e["e"] == "ORDER_TRADE_UPDATE"][2:]
        assert new_order["i"] == trade["i"] == actual and trade["X"] == "FILLED"
        assert (trade["o"], trade["ot"], trade["c"], trade["R"]) == ("MARKET", "STOP_MARKET", f"sl-{name}", True)
        assert finished["ai"] == str(actual) and finished["aq"] == "0.010" and Decimal(finished["ap"]) == Decimal(trade["L"])
        assert await c.position() == 0
        assert await c.open_algos() == []
        query = await c.ok("GET", "/fapi/v1/algoOrder", algoId=algos[name]["algoId"])
        assert (query["algoStatus"], query["actualOrderId"], query["actualType"], query["actualQty"]) == (
            "FINISHED",
            str(actual),
            "MARKET",
            "0.010",
        )
        order = await c.ok("GET", "/fapi/v1/order", symbol="BTCUSDT", orderId=actual)
        assert (order["status"], order["origType"], order["clientOrderId"], order["reduceOnly"]) == (
            "FILLED",
            "STOP_MARKET",
            f"sl-{name}",
            True,
        )


async def test_reduce_only_with_no_position_is_rejected_when_it_triggers(fsim: FuturesSim, session: aiohttp.ClientSession) -> None:
    master = Client(session, fsim, HMAC_KEY, HMAC_SECRET)
    stream = await master.stream()
    await master.ok("POST", "/fapi/v1/order", symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.010")
    no_qty = {k: v for k, v in SL.items() if k != "quantity"}
    placed = await master.ok("POST", "/fapi/v1/algoOrder", **no_qty, closePosition="true")
    assert placed["closePosition"] is True and placed["quantity"] == "0.000"
    await master.ok("POST", "/fapi/v1/order", symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.010", reduceOnly="true")
    assert await master.position() == 0
    assert [o["algoId"] for o in await master.open_algos()] == [placed["algoId"]]  # closing does not cancel it
    await set_price(session, fsim, "63000")
    await until(lambda: "ALGO:REJECTED" in kinds(stream))
    rejected = [e["o"] for e in stream.events if e["e"] == "ALGO_UPDATE"][-1]
    assert rejected["rm"] == "ReduceOnly Order is rejected." and rejected["ai"] == ""
    assert [k for k in kinds(stream) if k.startswith("ALGO")] == ["ALGO:NEW", "ALGO:TRIGGERING", "ALGO:REJECTED"]
    assert await master.position() == 0 and await master.open_algos() == []


async def test_the_events_filter_applies_to_algo_update(fsim: FuturesSim, session: aiohttp.ClientSession) -> None:
    master = Client(session, fsim, HMAC_KEY, HMAC_SECRET)
    only_algo = await master.stream("ALGO_UPDATE")
    no_algo = await master.stream("ORDER_TRADE_UPDATE/ACCOUNT_CONFIG_UPDATE")
    await master.ok("POST", "/fapi/v1/algoOrder", **SL)
    await master.ok("POST", "/fapi/v1/leverage", symbol="BTCUSDT", leverage=7)  # the sentinel on no_algo
    await until(lambda: kinds(no_algo) == ["ACCOUNT_CONFIG_UPDATE"])
    await until(lambda: kinds(only_algo) == ["ALGO:NEW"])


async def ws_send(ws: aiohttp.ClientWebSocketResponse, rid: Any, method: str, params: dict[str, Any]) -> dict[str, Any]:
    await ws.send_json({"id": rid, "method": method, "params": {**params, "timestamp": int(time.time() * 1000)}})
    while True:
        reply = await ws.receive_json()
        if reply.get("id") == rid:
            return reply


async def test_ws_api_algo_order_place_and_cancel(fsim: FuturesSim, session: aiohttp.ClientSession, ed_key: Any) -> None:
    master = Client(session, fsim, HMAC_KEY, HMAC_SECRET)
    stream = await master.stream()
    async with session.ws_connect(f"{fsim.ws}/ws-fapi/v1") as ws:
        ts = int(time.time() * 1000)
        sig = base64.b64encode(ed_key[0].sign(f"apiKey={ED_KEY}&timestamp={ts}".encode())).decode()
        await ws.send_json({"id": "logon", "method": "session.logon", "params": {"apiKey": ED_KEY, "timestamp": ts, "signature": sig}})
        assert (await ws.receive_json())["status"] == 200
        tp = {**SL, "side": "BUY", "type": "TAKE_PROFIT", "price": "63000", "triggerPrice": "63000.5", "clientAlgoId": "ws-tp"}
        placed = await ws_send(ws, 1, "algoOrder.place", tp)
        assert placed["status"] == 200 and set(placed["result"]) == NEW_FIELDS, placed
        assert (placed["result"]["orderType"], placed["result"]["price"], placed["result"]["timeInForce"]) == (
            "TAKE_PROFIT",
            "63000.00",
            "GTC",
        )
        assert {r["rateLimitType"] for r in placed["rateLimits"]} == {"ORDERS", "REQUEST_WEIGHT"}
        bad = await ws_send(ws, 2, "algoOrder.place", {**tp, "clientAlgoId": "ws-2", "callbackRate": "1"})
        assert bad["status"] == 400 and bad["error"]["code"] == -1106
        canceled = await ws_send(ws, 3, "algoOrder.cancel", {"clientAlgoId": "ws-tp"})
        assert canceled["status"] == 200
        assert canceled["result"] == {"algoId": placed["result"]["algoId"], "clientAlgoId": "ws-tp", "code": "200", "msg": "success"}
        again = await ws_send(ws, 4, "algoOrder.cancel", {"algoId": placed["result"]["algoId"]})
        assert again["status"] == 400 and again["error"]["code"] == -2011
        # a second one triggers as a LIMIT order at its price, which fills at once (63000 >= 62900)
        await ws_send(ws, 5, "algoOrder.place", {**tp, "clientAlgoId": "ws-tp-2"})
    await until(lambda: kinds(stream) == ["ALGO:NEW", "ALGO:CANCELED", "ALGO:NEW"])
    await set_price(session, fsim, "62900")
    await until(lambda: "ALGO:FINISHED" in kinds(stream))
    assert kinds(stream)[3:] == ["ALGO:TRIGGERING", "ALGO:TRIGGERED", "ORDER:NEW", "ORDER:TRADE", "ACCOUNT_UPDATE", "ALGO:FINISHED"]
    trade = [e["o"] for e in stream.events if e["e"] == "ORDER_TRADE_UPDATE"][-1]
    assert (trade["o"], trade["ot"], trade["c"], trade["X"]) == ("LIMIT", "TAKE_PROFIT", "ws-tp-2", "FILLED")
    assert Decimal(trade["L"]) <= Decimal("63000")
    assert await master.position() == Decimal("0.010")
