"""Every admin fault of the simulator, shown through a client (binance-connector or a raw WebSocket)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from typing import Any

import aiohttp
import orjson
import pytest
import requests
from binance.error import ClientError, ServerError
from binance.spot import Spot

from tests.helpers.sim import InProcessSim, SimKey, SimProcess


def connector(sim: Any, key: SimKey, **kw: Any) -> Spot:
    return Spot(api_key=key.api_key, api_secret=key.secret, base_url=sim.http_url, **kw)


def ws_params(key: SimKey, **params: Any) -> dict[str, Any]:
    """Per-request HMAC signature of the WebSocket API (params sorted by name)."""
    assert key.secret is not None
    params = {**params, "apiKey": key.api_key, "timestamp": int(time.time() * 1000)}
    payload = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    params["signature"] = hmac.new(key.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    return params


async def ws_call(ws: aiohttp.ClientWebSocketResponse, req_id: Any, method: str, params: dict[str, Any]) -> dict:
    await ws.send_str(orjson.dumps({"id": req_id, "method": method, "params": params}).decode())
    while True:
        msg = orjson.loads((await ws.receive(timeout=10)).data)
        if msg.get("id") == req_id:
            return msg


async def next_event(ws: aiohttp.ClientWebSocketResponse, timeout: float) -> dict:
    while True:
        msg = orjson.loads((await ws.receive(timeout=timeout)).data)
        if "event" in msg:
            return msg


# -- latency ------------------------------------------------------------------------------------------


def test_rest_latency_makes_a_short_client_timeout_fire(sim: SimProcess) -> None:
    key = sim.key("slave01")
    sim.admin("POST", "/_sim/faults/latency", {"transport": "rest", "seconds": 2})

    with pytest.raises(requests.exceptions.Timeout):
        connector(sim, key, timeout=0.5).account()
    sim.admin("POST", "/_sim/faults/latency", {"transport": "rest", "seconds": 0})

    assert connector(sim, key, timeout=5).account()["accountType"] == "SPOT"


async def test_wsapi_latency_delays_replies(sim: SimProcess) -> None:
    sim.admin("POST", "/_sim/faults/latency", {"transport": "wsapi", "seconds": 1.5})
    async with aiohttp.ClientSession() as session, session.ws_connect(sim.ws_api_url) as ws:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(ws_call(ws, 1, "time", {}), timeout=0.3)
        late = orjson.loads((await ws.receive(timeout=10)).data)

    assert late["id"] == 1 and late["status"] == 200


async def test_stream_latency_and_stall_hold_events_back(sim: SimProcess) -> None:
    sim.set_price("BTCUSDT", "50000")
    key = sim.key("slave01")
    async with aiohttp.ClientSession() as session, session.ws_connect(sim.ws_api_url) as ws:
        sub = await ws_call(ws, "s", "userDataStream.subscribe.signature", ws_params(key))
        assert sub["status"] == 200
        sim.admin("POST", "/_sim/faults/stall", {"seconds": 1.5, "account": "slave01"})
        placed = await ws_call(ws, "o", "order.place", ws_params(key, symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001"))
        with pytest.raises(asyncio.TimeoutError):
            await next_event(ws, timeout=0.3)  # stalled: the order reply came, its events did not
        held = await next_event(ws, timeout=10)
        rest = [await next_event(ws, timeout=10), await next_event(ws, timeout=10)]  # TRADE, balances
        sim.admin("POST", "/_sim/faults/latency", {"transport": "stream", "seconds": 1.5})
        await ws_call(ws, "o2", "order.place", ws_params(key, symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.001"))
        with pytest.raises(asyncio.TimeoutError):
            await next_event(ws, timeout=0.3)
        delayed = await next_event(ws, timeout=10)

    assert placed["status"] == 200
    assert held["event"]["e"] == "executionReport" and held["event"]["x"] == "NEW"
    assert [e["event"]["e"] for e in rest] == ["executionReport", "outboundAccountPosition"]
    assert delayed["event"]["e"] == "executionReport" and delayed["event"]["S"] == "SELL"


# -- order faults ------------------------------------------------------------------------------------


def test_order_5xx_not_executed(sim: SimProcess) -> None:
    sim.set_price("BTCUSDT", "50000")
    spot = connector(sim, sim.key("slave01"))
    sim.admin("POST", "/_sim/faults/orders", {"count": 1, "kind": "5xx", "http_status": 503, "executed": False})

    with pytest.raises(ServerError) as exc:
        spot.new_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001", newClientOrderId="f-1")
    with pytest.raises(ClientError) as missing:
        spot.get_order(symbol="BTCUSDT", origClientOrderId="f-1")

    assert exc.value.status_code == 503
    assert missing.value.error_code == -2013
    # the fault was used up: the retry goes through
    assert spot.new_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001", newClientOrderId="f-1")["status"] == "FILLED"


def test_order_timeout_executed_anyway(sim: SimProcess) -> None:
    sim.set_price("BTCUSDT", "50000")
    spot = connector(sim, sim.key("slave01"))
    sim.admin("POST", "/_sim/faults/orders", {"count": 1, "kind": "timeout", "executed": True})

    with pytest.raises(ClientError) as exc:
        spot.new_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001", newClientOrderId="f-2")
    found = spot.get_order(symbol="BTCUSDT", origClientOrderId="f-2")
    log = sim.admin("GET", "/_sim/requests?account=slave01")

    assert exc.value.error_code == -1007 and exc.value.status_code == 408
    assert found["status"] == "FILLED"
    assert log[-1]["fault"] == "timeout:executed" and log[-1]["orderId"] == found["orderId"]


def test_order_fault_for_one_key_only(sim: SimProcess) -> None:
    sim.set_price("BTCUSDT", "50000")
    victim = sim.key("slave01")
    sim.admin("POST", "/_sim/faults/orders", {"count": 2, "kind": "5xx", "api_key": victim.api_key})

    other = connector(sim, sim.key("master", "HMAC")).new_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")
    with pytest.raises(ServerError):
        connector(sim, victim).new_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")

    assert other["status"] == "FILLED"
    assert sim.admin("GET", "/_sim/faults")["orderFaults"][0]["remaining"] == 1


async def test_wsapi_order_timeout_not_executed(sim: SimProcess) -> None:
    sim.set_price("BTCUSDT", "50000")
    key = sim.key("slave01")
    sim.admin("POST", "/_sim/faults/orders", {"count": 1, "kind": "timeout", "executed": False})
    async with aiohttp.ClientSession() as session, session.ws_connect(sim.ws_api_url) as ws:
        reply = await ws_call(
            ws, 7, "order.place", ws_params(key, symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001", newClientOrderId="w-1")
        )
        status = await ws_call(ws, 8, "order.status", ws_params(key, symbol="BTCUSDT", origClientOrderId="w-1"))

    assert reply["status"] == 408 and reply["error"]["code"] == -1007
    assert status["error"]["code"] == -2013


@pytest.mark.parametrize("recv_window, executed", [(5000, True), (1000, False)])
async def test_wsapi_order_timeout_executed_late_only_within_recv_window(sim: SimProcess, recv_window: int, executed: bool) -> None:
    sim.set_price("BTCUSDT", "50000")
    key = sim.key("slave01")
    cid = f"late-{recv_window}"
    sim.admin("POST", "/_sim/faults/orders", {"count": 1, "kind": "timeout", "executed": True, "delay_s": 1.5})
    async with aiohttp.ClientSession() as session, session.ws_connect(sim.ws_api_url) as ws:
        reply = await ws_call(
            ws,
            1,
            "order.place",
            ws_params(key, symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001", newClientOrderId=cid, recvWindow=recv_window),
        )
        before = await ws_call(ws, 2, "order.status", ws_params(key, symbol="BTCUSDT", origClientOrderId=cid))
        deadline = time.monotonic() + 10
        while True:  # the late execution lands (or is dropped) 1.5 s after the answer
            log = [r for r in sim.admin("GET", "/_sim/requests") if r["clientOrderId"] == cid or r["params"].get("newClientOrderId") == cid]
            if log and (log[-1]["orderId"] is not None or log[-1]["errorCode"] == -1021):
                break
            assert time.monotonic() < deadline, log
            await asyncio.sleep(0.05)
        after = await ws_call(ws, 3, "order.status", ws_params(key, symbol="BTCUSDT", origClientOrderId=cid))

    assert reply["error"]["code"] == -1007 and before["error"]["code"] == -2013
    if executed:  # still within recvWindow when it reached the matching engine
        assert after["result"]["status"] == "FILLED"
    else:  # 1.5 s after its timestamp, outside a 1 s recvWindow: dropped
        assert after["error"]["code"] == -2013 and log[-1]["errorCode"] == -1021


def test_late_execution_needs_executed(sim: SimProcess) -> None:
    with pytest.raises(AssertionError) as err:
        sim.admin("POST", "/_sim/faults/orders", {"count": 1, "kind": "timeout", "executed": False, "delay_s": 2})
    assert "delay_s" in str(err.value)


# -- rate faults and the real limiter ------------------------------------------------------------------


def test_injected_429_and_418(sim: SimProcess) -> None:
    spot = connector(sim, sim.key("slave01"))
    sim.admin("POST", "/_sim/faults/rate", {"count": 1, "status": 429, "retry_after": 7})
    sim.admin("POST", "/_sim/faults/rate", {"count": 1, "status": 418, "retry_after": 9})

    with pytest.raises(ClientError) as too_many:
        spot.account()
    with pytest.raises(ClientError) as banned:
        spot.account()

    assert too_many.value.status_code == 429 and too_many.value.error_code == -1003
    assert too_many.value.header["Retry-After"] == "7"
    assert banned.value.status_code == 418 and banned.value.header["Retry-After"] == "9"
    assert spot.account()["accountType"] == "SPOT"


async def test_weight_limit_429_then_418_ban() -> None:
    async with InProcessSim() as sim:
        limiter = sim.sim.limiters["spot"]
        limiter.config.weight[0].limit = 3
        limiter.config.ban_after = 2
        statuses = []
        async with aiohttp.ClientSession() as session:
            for _ in range(6):
                async with session.get(sim.http_url + "/api/v3/time") as resp:
                    statuses.append((resp.status, resp.headers.get("X-MBX-USED-WEIGHT-1M"), resp.headers.get("Retry-After")))

    assert [s for s, _, _ in statuses] == [200, 200, 200, 429, 429, 418]
    assert statuses[2][1] == "3" and statuses[3][2] is not None and statuses[5][2] is not None


async def test_order_count_limit() -> None:
    async with InProcessSim() as sim:
        sim.sim.limiters["spot"].config.orders[0].limit = 1
        sim.sim.prices.set_price("BTCUSDT", __import__("decimal").Decimal("50000"))
        spot = connector(sim, sim.key("slave01"), show_header=True)
        first = await asyncio.to_thread(spot.new_order, symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")
        with pytest.raises(ClientError) as exc:
            await asyncio.to_thread(spot.new_order, symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")

    assert first["header"]["X-MBX-ORDER-COUNT-10S"] == "1"
    assert exc.value.status_code == 429 and exc.value.error_code == -1015


# -- connections, listen tokens, keys ---------------------------------------------------------------------


async def test_drop_user_data_connections(sim: SimProcess) -> None:
    key = sim.key("slave01")
    async with aiohttp.ClientSession() as session, session.ws_connect(sim.ws_api_url) as ws:
        assert (await ws_call(ws, 1, "userDataStream.subscribe.signature", ws_params(key)))["status"] == 200
        closed = await asyncio.to_thread(sim.admin, "POST", "/_sim/faults/drop-user-data", {})
        msg = await ws.receive(timeout=10)

    assert closed == {"closed": 1}
    assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)


async def test_expire_listen_token_ends_the_margin_subscription(sim: SimProcess) -> None:
    key = sim.key("slave01")
    async with aiohttp.ClientSession() as session:
        async with session.post(sim.http_url + "/sapi/v1/userListenToken", headers={"X-MBX-APIKEY": key.api_key}) as resp:
            token = orjson.loads(await resp.read())["token"]
        async with session.ws_connect(sim.ws_api_url) as ws:
            sub = await ws_call(ws, 1, "userDataStream.subscribe.listenToken", {"listenToken": token})
            expired = await asyncio.to_thread(sim.admin, "POST", "/_sim/faults/expire-listen-key", {"listen_key": token})
            event = await next_event(ws, timeout=10)
            again = await ws_call(ws, 2, "userDataStream.subscribe.listenToken", {"listenToken": token})

    assert expired["expired"] >= 1
    assert event == {"subscriptionId": sub["result"]["subscriptionId"], "event": {"e": "eventStreamTerminated", "E": event["event"]["E"]}}
    assert again["error"]["code"] == -1209


async def test_revoked_key_ends_the_ws_session(sim: SimProcess) -> None:
    key = sim.key("slave02", "ED25519")
    import base64

    from cryptography.hazmat.primitives import serialization

    private = serialization.load_pem_private_key(key.private_key.encode(), None)  # type: ignore[union-attr]
    params = {"apiKey": key.api_key, "timestamp": int(time.time() * 1000)}
    payload = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
    params["signature"] = base64.b64encode(private.sign(payload.encode())).decode()  # type: ignore[union-attr]
    async with aiohttp.ClientSession() as session, session.ws_connect(sim.ws_api_url) as ws:
        logon = await ws_call(ws, 1, "session.logon", params)
        before = await ws_call(ws, 2, "account.status", {"timestamp": int(time.time() * 1000)})
        await asyncio.to_thread(sim.admin, "POST", "/_sim/keys/revoke", {"api_key": key.api_key})
        after = await ws_call(ws, 3, "account.status", {"timestamp": int(time.time() * 1000)})
        status = await ws_call(ws, 4, "session.status", {})

    assert logon["status"] == 200 and logon["result"]["apiKey"] == key.api_key
    assert before["status"] == 200
    assert after["status"] == 401 and after["error"]["code"] == -2015
    assert status["result"]["apiKey"] is None


def test_set_permissions(sim: SimProcess) -> None:
    key = sim.key("slave01")
    spot = connector(sim, key)
    sim.admin(
        "POST",
        "/_sim/keys/permissions",
        {"api_key": key.api_key, "permissions": {"enableWithdrawals": True, "enableSpotAndMarginTrading": False}},
    )

    perms = spot.api_key_permissions()
    with pytest.raises(ClientError) as exc:
        spot.new_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.001")

    assert perms["enableWithdrawals"] is True and perms["enableSpotAndMarginTrading"] is False
    assert exc.value.status_code == 401 and exc.value.error_code == -2015
