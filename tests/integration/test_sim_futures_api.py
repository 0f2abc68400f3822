"""USD-M futures through the wire: REST, WebSocket API, listenKey streams and faults.

The simulator runs in a background thread on 127.0.0.1:0 (`FuturesSim`), so blocking clients
(Binance's SDK uses `requests`) and async clients (aiohttp) can both talk to it. Price walk off:
prices move only when a test sets them through the admin API.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import threading
import time
import urllib.parse
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from simulator.app import SIM_KEY, create_app
from simulator.config import parse_config
from tests.helpers.wait import aeventually

HMAC_KEY, HMAC_SECRET = "fut-hmac-key", "fut-hmac-secret-0123456789"
ED_KEY = "fut-ed25519-key"


class FuturesSim:
    """A simulator on 127.0.0.1:<free port>, served from its own thread and event loop."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._runner: web.AppRunner | None = None
        self.thread = threading.Thread(target=self._run, args=(doc,), daemon=True)
        self.thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("simulator did not start")

    def _run(self, doc: dict[str, Any]) -> None:
        asyncio.set_event_loop(self.loop)

        async def start() -> None:
            app = create_app(parse_config(doc))
            self.sim = app[SIM_KEY]
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0)
            await site.start()
            self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
            self._ready.set()

        self.loop.run_until_complete(start())
        self.loop.run_forever()

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def call(self, fn: Any, *args: Any) -> Any:
        """Run `fn(*args)` on the simulator's loop (its state is single-threaded) and return the result."""

        async def run() -> Any:
            return fn(*args)

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def set_price(self, symbol: str, price: str) -> None:
        self.call(self.sim.prices.set_price, symbol, Decimal(price))

    def close(self) -> None:
        async def stop() -> None:
            if self._runner is not None:
                await self._runner.cleanup()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def ed25519_pair() -> tuple[Ed25519PrivateKey, str, str]:
    priv = Ed25519PrivateKey.generate()
    pem = priv.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    pub = priv.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return priv, pem, pub


def sim_doc(ed_public_pem: str, **futures: Any) -> dict[str, Any]:
    return {
        "simulator": {"tick_interval": 0, "paused": True},
        "futures": futures,
        "accounts": [
            {
                "id": "master",
                "futures": {"USDT": "100000"},
                "keys": [
                    {"api_key": HMAC_KEY, "type": "HMAC", "secret": HMAC_SECRET},
                    {"api_key": ED_KEY, "type": "ED25519", "public_key": ed_public_pem},
                ],
            }
        ],
    }


@pytest.fixture(scope="module")
def ed_key() -> tuple[Ed25519PrivateKey, str, str]:
    return ed25519_pair()


@pytest.fixture
def fsim(ed_key: tuple[Ed25519PrivateKey, str, str]) -> Iterator[FuturesSim]:
    sim = FuturesSim(sim_doc(ed_key[2], listen_key_ttl=3600, max_connection_age=86400))
    yield sim
    sim.close()


# -- a tiny signed REST client (aiohttp) -------------------------------------------------------------


def sign(params: dict[str, Any]) -> str:
    query = urllib.parse.urlencode({**params, "timestamp": int(time.time() * 1000)})
    signature = hmac.new(HMAC_SECRET.encode(), query.encode(), hashlib.sha256).hexdigest()
    return f"{query}&signature={signature}"


async def rest(
    session: aiohttp.ClientSession, fsim: FuturesSim, method: str, path: str, signed: bool = True, **params: Any
) -> tuple[int, Any, dict[str, str]]:
    query = sign(params) if signed else urllib.parse.urlencode(params)
    async with session.request(method, f"{fsim.http}{path}?{query}", headers={"X-MBX-APIKEY": HMAC_KEY}) as resp:
        body = await resp.read()
        return resp.status, (orjson.loads(body) if body else None), dict(resp.headers)


class Stream:
    """A raw listenKey stream connection collecting events."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []
        self.closed = asyncio.Event()
        self.task = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                self.events.append(orjson.loads(msg.data))
        self.closed.set()

    def of(self, etype: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("e") == etype]


ALL_EVENTS = "ORDER_TRADE_UPDATE/ACCOUNT_UPDATE/ACCOUNT_CONFIG_UPDATE/ALGO_UPDATE/listenKeyExpired"


async def open_stream(session: aiohttp.ClientSession, fsim: FuturesSim, key: str, events: str = ALL_EVENTS) -> Stream:
    """ws mode of the /private route (raw events); see test_sim_futures_stream.py for the other forms."""
    return Stream(await session.ws_connect(f"{fsim.ws}/private/ws?listenKey={key}&events={events}"))


async def market_buy(session: aiohttp.ClientSession, fsim: FuturesSim, qty: str = "0.010", **extra: Any):
    return await rest(session, fsim, "POST", "/fapi/v1/order", symbol="BTCUSDT", side="BUY", type="MARKET", quantity=qty, **extra)


# -- tests -------------------------------------------------------------------------------------------


async def test_order_events_reach_the_listen_key_stream(fsim: FuturesSim) -> None:
    async with aiohttp.ClientSession() as s:
        status, body, _ = await rest(s, fsim, "POST", "/fapi/v1/listenKey", signed=False)
        assert status == 200 and len(body["listenKey"]) == 64
        stream = await open_stream(s, fsim, body["listenKey"])
        combined = Stream(await s.ws_connect(f"{fsim.ws}/private/stream?listenKey={body['listenKey']}&events={ALL_EVENTS}"))
        status, order, headers = await market_buy(s, fsim, newClientOrderId="evt-1")
        assert status == 200 and order["status"] == "NEW"  # ACK is the default response type
        assert headers["X-MBX-ORDER-COUNT-10S"] == "1" and headers["X-MBX-ORDER-COUNT-1M"] == "1"
        await aeventually(lambda: _async_true(sum(e["data"]["e"] == "ACCOUNT_UPDATE" for e in combined.events) == 1))
        assert {e["stream"] for e in combined.events} == {body["listenKey"]}
        combined.events = [e["data"] for e in combined.events]
        for st in (stream, combined):
            await aeventually(lambda st=st: _async_true(len(st.of("ACCOUNT_UPDATE")) == 1))
            new, trade = st.of("ORDER_TRADE_UPDATE")
            assert (new["o"]["x"], trade["o"]["x"], trade["o"]["X"]) == ("NEW", "TRADE", "FILLED")
            assert trade["o"]["c"] == "evt-1" and trade["o"]["L"] == "65000"
            (acct,) = st.of("ACCOUNT_UPDATE")
            assert acct["a"]["m"] == "ORDER"
            assert acct["a"]["P"][0]["pa"] == "0.010" and acct["a"]["P"][0]["ps"] == "BOTH"
        status, queried, _ = await rest(s, fsim, "GET", "/fapi/v1/order", symbol="BTCUSDT", origClientOrderId="evt-1")
        assert queried["status"] == "FILLED" and queried["avgPrice"] == "65000"


async def _async_true(value: bool) -> bool:
    assert value
    return True


async def test_leverage_change_emits_account_config_update(fsim: FuturesSim) -> None:
    async with aiohttp.ClientSession() as s:
        _, body, _ = await rest(s, fsim, "POST", "/fapi/v1/listenKey", signed=False)
        stream = await open_stream(s, fsim, body["listenKey"])
        status, resp, _ = await rest(s, fsim, "POST", "/fapi/v1/leverage", symbol="ETHUSDT", leverage=7)
        assert status == 200 and resp["leverage"] == 7
        await aeventually(lambda: _async_true(bool(stream.of("ACCOUNT_CONFIG_UPDATE"))))
        assert stream.of("ACCOUNT_CONFIG_UPDATE")[0]["ac"] == {"s": "ETHUSDT", "l": 7}
        status, resp, _ = await rest(s, fsim, "POST", "/fapi/v1/leverage", symbol="ETHUSDT", leverage=200)
        assert status == 400 and resp["code"] == -4028


async def test_listen_key_expires_without_keepalive_and_keepalive_extends_it(ed_key) -> None:
    fsim = FuturesSim(sim_doc(ed_key[2], listen_key_ttl=1.0, max_connection_age=86400))
    try:
        async with aiohttp.ClientSession() as s:
            _, body, _ = await rest(s, fsim, "POST", "/fapi/v1/listenKey", signed=False)
            key = body["listenKey"]
            stream = await open_stream(s, fsim, key)
            # keepalives keep it alive past several TTLs
            deadline = time.monotonic() + 2.5
            while time.monotonic() < deadline:  # keepalive every 0.1 s, the TTL is 1 s
                status, resp, _ = await rest(s, fsim, "PUT", "/fapi/v1/listenKey", signed=False)
                assert status == 200 and resp == {"listenKey": key}
                await asyncio.sleep(0.1)  # keepalive cadence under test (poll-style loop with a deadline)
            assert not stream.of("listenKeyExpired")
            # then it lapses: the expiry event, with E as a string as Binance sends it
            await aeventually(lambda: _async_true(bool(stream.of("listenKeyExpired"))), timeout=5)
            (expired,) = stream.of("listenKeyExpired")
            assert expired["listenKey"] == key and isinstance(expired["E"], str)
            status, resp, _ = await rest(s, fsim, "PUT", "/fapi/v1/listenKey", signed=False)
            assert status == 400 and resp["code"] == -1125
            # no more events on the expired key's connection; a new key works
            await market_buy(s, fsim)
            _, body, _ = await rest(s, fsim, "POST", "/fapi/v1/listenKey", signed=False)
            assert body["listenKey"] != key
            fresh = await open_stream(s, fsim, body["listenKey"])
            await market_buy(s, fsim)
            await aeventually(lambda: _async_true(len(fresh.of("ORDER_TRADE_UPDATE")) == 2))
            assert not stream.of("ORDER_TRADE_UPDATE")
    finally:
        fsim.close()


async def test_connection_closed_after_its_maximum_age(ed_key) -> None:
    fsim = FuturesSim(sim_doc(ed_key[2], listen_key_ttl=3600, max_connection_age=0.5))
    try:
        async with aiohttp.ClientSession() as s:
            _, body, _ = await rest(s, fsim, "POST", "/fapi/v1/listenKey", signed=False)
            stream = await open_stream(s, fsim, body["listenKey"])
            await asyncio.wait_for(stream.closed.wait(), 5)
            assert stream.ws.closed
    finally:
        fsim.close()


async def test_admin_faults_drop_expire_and_stall_streams(fsim: FuturesSim) -> None:
    async with aiohttp.ClientSession() as s:
        _, body, _ = await rest(s, fsim, "POST", "/fapi/v1/listenKey", signed=False)
        key = body["listenKey"]
        stream = await open_stream(s, fsim, key)

        # stall: events are held back for the stall, then delivered in order
        async with s.post(f"{fsim.http}/_sim/faults/stall", json={"seconds": 2.0, "account": "master"}) as r:
            assert r.status == 200
        await market_buy(s, fsim)
        await asyncio.sleep(0.3)  # within the stall: nothing may arrive (what is checked, not a wait for luck)
        assert stream.events == []
        await aeventually(lambda: _async_true(len(stream.events) == 3))
        assert [e["e"] for e in stream.events] == ["ORDER_TRADE_UPDATE", "ORDER_TRADE_UPDATE", "ACCOUNT_UPDATE"]

        # expire now: listenKeyExpired, keepalive answers -1125
        async with s.post(f"{fsim.http}/_sim/faults/expire-listen-key", json={"account": "master"}) as r:
            assert (await r.json())["expired"] == 1
        await aeventually(lambda: _async_true(bool(stream.of("listenKeyExpired"))))
        status, resp, _ = await rest(s, fsim, "PUT", "/fapi/v1/listenKey", signed=False)
        assert resp["code"] == -1125

        # drop: every user-data connection of the account is closed
        _, body, _ = await rest(s, fsim, "POST", "/fapi/v1/listenKey", signed=False)
        second = await open_stream(s, fsim, body["listenKey"])
        async with s.post(f"{fsim.http}/_sim/faults/drop-user-data", json={"account": "master"}) as r:
            assert (await r.json())["closed"] >= 1
        await asyncio.wait_for(second.closed.wait(), 5)


@pytest.mark.parametrize("executed", [True, False])
@pytest.mark.parametrize("kind", ["timeout", "5xx"])
async def test_order_faults_status_unknown(fsim: FuturesSim, kind: str, executed: bool) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.post(
            f"{fsim.http}/_sim/faults/orders", json={"count": 1, "kind": kind, "executed": executed, "market": "futures"}
        ) as r:
            assert r.status == 200
        status, body, _ = await market_buy(s, fsim, newClientOrderId="retry-me")
        if kind == "timeout":
            assert body["code"] == -1007 and status == 408
        else:
            assert 500 <= status <= 599
        # what a careful client does: query by client id before re-sending
        status, found, _ = await rest(s, fsim, "GET", "/fapi/v1/order", symbol="BTCUSDT", origClientOrderId="retry-me")
        if executed:
            assert status == 200 and found["status"] == "FILLED"
        else:
            assert status == 400 and found["code"] == -2013
        # the fault was for one request only
        status, again, _ = await market_buy(s, fsim, newClientOrderId="retry-me")
        assert status == 200
        _, positions, _ = await rest(s, fsim, "GET", "/fapi/v3/positionRisk", symbol="BTCUSDT")
        assert positions[0]["positionAmt"] == ("0.020" if executed else "0.010")


async def test_rest_latency_fault_applies_to_futures(fsim: FuturesSim) -> None:
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{fsim.http}/_sim/faults/latency", json={"transport": "rest", "seconds": 1.5}) as r:
            assert r.status == 200
        # a lower bound only: the answer cannot come before the injected latency
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(rest(s, fsim, "GET", "/fapi/v1/time", signed=False), 0.3)
        async with s.post(f"{fsim.http}/_sim/faults/clear", json={}) as r:
            assert r.status == 200
        status, body, _ = await rest(s, fsim, "GET", "/fapi/v1/time", signed=False)
        assert status == 200 and body["serverTime"] > 0


async def test_resting_limit_fills_partially_per_step_as_maker(fsim: FuturesSim) -> None:
    async with aiohttp.ClientSession() as s:
        # BTC liquidity is 0.5 per price step: a 1.2 BTC bid fills 0.5, 0.5, 0.2
        status, order, _ = await rest(
            s,
            fsim,
            "POST",
            "/fapi/v1/order",
            symbol="BTCUSDT",
            side="BUY",
            type="LIMIT",
            timeInForce="GTC",
            quantity="1.200",
            price="64000",
        )
        assert status == 200 and order["status"] == "NEW"
        _, opened, _ = await rest(s, fsim, "GET", "/fapi/v1/openOrders", symbol="BTCUSDT")
        assert [o["orderId"] for o in opened] == [order["orderId"]]
        fsim.set_price("BTCUSDT", "63990")
        _, got, _ = await rest(s, fsim, "GET", "/fapi/v1/order", symbol="BTCUSDT", orderId=order["orderId"])
        assert (got["status"], got["executedQty"]) == ("PARTIALLY_FILLED", "0.500")
        fsim.set_price("BTCUSDT", "63980")
        fsim.set_price("BTCUSDT", "63970")
        _, got, _ = await rest(s, fsim, "GET", "/fapi/v1/order", symbol="BTCUSDT", orderId=order["orderId"])
        assert (got["status"], got["executedQty"], got["avgPrice"]) == ("FILLED", "1.200", "64000")
        _, acct, _ = await rest(s, fsim, "GET", "/fapi/v3/account")
        # maker fee 0.0002 on 1.2 * 64000 = 15.36
        assert Decimal(acct["totalWalletBalance"]) == Decimal("100000") - Decimal("1.2") * 64000 * Decimal("0.0002")


async def test_ws_api_order_place_status_cancel_with_session_logon(fsim: FuturesSim, ed_key) -> None:
    priv = ed_key[0]
    async with aiohttp.ClientSession() as s:
        async with s.ws_connect(f"{fsim.ws}/ws-fapi/v1") as ws:
            ts = int(time.time() * 1000)
            payload = f"apiKey={ED_KEY}&timestamp={ts}"
            sig = base64.b64encode(priv.sign(payload.encode())).decode()
            await ws.send_json({"id": "logon", "method": "session.logon", "params": {"apiKey": ED_KEY, "timestamp": ts, "signature": sig}})
            reply = await ws.receive_json()
            assert reply["status"] == 200 and reply["result"]["apiKey"] == ED_KEY
            await ws.send_json(
                {
                    "id": 1,
                    "method": "order.place",
                    "params": {
                        "symbol": "BTCUSDT",
                        "side": "SELL",
                        "type": "LIMIT",
                        "timeInForce": "GTC",
                        "quantity": "0.010",
                        "price": "66000",
                        "newClientOrderId": "ws-1",
                        "timestamp": int(time.time() * 1000),
                    },
                }
            )
            placed = await ws.receive_json()
            assert placed["status"] == 200 and placed["result"]["status"] == "NEW"
            assert {r["rateLimitType"] for r in placed["rateLimits"]} == {"ORDERS", "REQUEST_WEIGHT"}
            await ws.send_json(
                {
                    "id": 2,
                    "method": "order.status",
                    "params": {"symbol": "BTCUSDT", "origClientOrderId": "ws-1", "timestamp": int(time.time() * 1000)},
                }
            )
            status = await ws.receive_json()
            assert status["result"]["orderId"] == placed["result"]["orderId"]
            # a per-request HMAC signature works on the same connection
            params = {"apiKey": HMAC_KEY, "symbol": "BTCUSDT", "orderId": placed["result"]["orderId"], "timestamp": int(time.time() * 1000)}
            payload = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
            params["signature"] = hmac.new(HMAC_SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest()
            await ws.send_json({"id": 3, "method": "order.cancel", "params": params})
            canceled = await ws.receive_json()
            assert canceled["status"] == 200 and canceled["result"]["status"] == "CANCELED"
            await ws.send_json(
                {
                    "id": 4,
                    "method": "order.cancel",
                    "params": {"symbol": "BTCUSDT", "orderId": placed["result"]["orderId"], "timestamp": int(time.time() * 1000)},
                }
            )
            again = await ws.receive_json()
            assert again["status"] == 400 and again["error"]["code"] == -2011


async def test_ws_api_order_fault_answers_minus_1007(fsim: FuturesSim, ed_key) -> None:
    priv = ed_key[0]
    async with aiohttp.ClientSession() as s:
        async with s.post(
            f"{fsim.http}/_sim/faults/orders", json={"count": 1, "kind": "timeout", "executed": True, "market": "futures"}
        ) as r:
            assert r.status == 200
        async with s.ws_connect(f"{fsim.ws}/ws-fapi/v1") as ws:
            params = {
                "apiKey": ED_KEY,
                "symbol": "BTCUSDT",
                "side": "BUY",
                "type": "MARKET",
                "quantity": "0.010",
                "newClientOrderId": "ws-unknown",
                "timestamp": int(time.time() * 1000),
            }
            payload = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
            params["signature"] = base64.b64encode(priv.sign(payload.encode())).decode()
            await ws.send_json({"id": 9, "method": "order.place", "params": params})
            reply = await ws.receive_json()
            assert reply["error"]["code"] == -1007
        _, found, _ = await rest(s, fsim, "GET", "/fapi/v1/order", symbol="BTCUSDT", origClientOrderId="ws-unknown")
        assert found["status"] == "FILLED"


async def test_stream_latency_delays_events(fsim: FuturesSim) -> None:
    async with aiohttp.ClientSession() as s:
        _, body, _ = await rest(s, fsim, "POST", "/fapi/v1/listenKey", signed=False)
        stream = await open_stream(s, fsim, body["listenKey"])
        async with s.post(f"{fsim.http}/_sim/faults/latency", json={"transport": "stream", "seconds": 0.6}) as r:
            assert r.status == 200
        await market_buy(s, fsim)
        await asyncio.sleep(0.2)  # a lower bound: nothing can arrive before the injected latency
        assert stream.events == []
        await aeventually(lambda: _async_true(len(stream.events) == 3), timeout=15)
