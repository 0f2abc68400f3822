"""WsApiClient, SpotUserStream and MarginUserStream against a tiny WebSocket API server on 127.0.0.1:0.

The server checks signatures with its own implementation of web-socket-api.md "SIGNED request
example" (sorted params, unencoded) and of session.logon (Ed25519).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from actors.binance import wire
from actors.binance.errors import AuthError, NotSent, OrderNotFound, Rejected, StatusUnknown
from actors.binance.rest import RestClient
from actors.binance.signing import make_signer
from actors.binance.userdata import MarginUserStream, SpotUserStream
from actors.binance.wsapi import WsApiClient
from tests.helpers.wait import aeventually

API_KEY = "ws-api-key-0123456789"
SECRET = "ws-secret-abcdefghijklmnopqrstuvwxyz"
RATE_LIMITS = [{"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 50, "count": 3}]


def payload_of(params: dict[str, Any]) -> str:
    """Independent re-implementation of the documented WebSocket API signature payload."""
    parts = []
    for k in sorted(params):
        if k == "signature":
            continue
        v = params[k]
        parts.append(f"{k}={'true' if v is True else 'false' if v is False else v}")
    return "&".join(parts)


class FakeWsApi:
    def __init__(self) -> None:
        self.ed25519_public: ed25519.Ed25519PublicKey | None = None
        self.sockets: list[web.WebSocketResponse] = []
        self.received: list[dict[str, Any]] = []
        self.logons = 0
        self.held: list[tuple[web.WebSocketResponse, dict[str, Any]]] = []
        self.hold_count = 0  # hold this many order.place replies, then answer them in reverse
        self.silent_ids: set[str] = set()  # newClientOrderIds never answered
        self.next_sub = 0
        self.listen_tokens: list[str] = []
        self.token_validity_ms = 24 * 3600 * 1000
        self.token_posts = 0
        self.subscribe_calls = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/ws-api/v3", self.ws_handler)
        app.router.add_post("/sapi/v1/userListenToken", self.listen_token)
        return app

    async def listen_token(self, request: web.Request) -> web.Response:
        if request.headers.get("X-MBX-APIKEY") != API_KEY:
            return web.json_response({"code": -2015, "msg": "Invalid API-key"}, status=401)
        self.token_posts += 1
        token = f"token-{self.token_posts}"
        self.listen_tokens.append(token)
        return web.json_response({"token": token, "expirationTime": int(time.time() * 1000) + self.token_validity_ms})

    async def kick(self) -> None:
        for ws in list(self.sockets):
            await ws.close()

    async def push(self, message: dict[str, Any]) -> None:
        for ws in list(self.sockets):
            if not ws.closed:
                await ws.send_str(json.dumps(message))

    def _check_signature(self, session: dict[str, Any], params: dict[str, Any]) -> dict[str, Any] | None:
        if "signature" not in params:
            if session.get("logged_on"):
                return None
            return {"code": -1102, "msg": "Mandatory parameter 'signature' was not sent."}
        if params.get("apiKey") != API_KEY:
            return {"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}
        payload = payload_of(params).encode()
        if self.ed25519_public is not None:
            try:
                self.ed25519_public.verify(base64.b64decode(params["signature"]), payload)
                return None
            except Exception:
                return {"code": -1022, "msg": "Signature for this request is not valid."}
        expected = hmac.new(SECRET.encode(), payload, hashlib.sha256).hexdigest()
        return None if hmac.compare_digest(expected, params["signature"]) else {"code": -1022, "msg": "bad signature"}

    async def ws_handler(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        session: dict[str, Any] = {"logged_on": False}
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            req = json.loads(msg.data)
            self.received.append(req)
            await self.handle(ws, session, req)
        self.sockets.remove(ws)
        return ws

    async def reply(self, ws: web.WebSocketResponse, rid: Any, result: Any = None, error: dict | None = None, status: int = 200) -> None:
        body: dict[str, Any] = {"id": rid, "status": status}
        if error is not None:
            body["error"] = error
        else:
            body["result"] = result
        body["rateLimits"] = RATE_LIMITS
        await ws.send_str(json.dumps(body))

    async def handle(self, ws: web.WebSocketResponse, session: dict[str, Any], req: dict[str, Any]) -> None:
        rid, method, params = req["id"], req["method"], req.get("params", {})
        if method == "time":
            await self.reply(ws, rid, {"serverTime": int(time.time() * 1000)})
            return
        if method in ("session.logon", "order.place", "order.status", "userDataStream.subscribe.signature"):
            err = self._check_signature(session, params)
            if err is not None:
                await self.reply(ws, rid, error=err, status=400 if err["code"] != -2015 else 401)
                return
        if method == "session.logon":
            if self.ed25519_public is None:
                await self.reply(ws, rid, error={"code": -4056, "msg": "HMAC_SHA256 API key is not supported."}, status=400)
                return
            session["logged_on"] = True
            self.logons += 1
            await self.reply(ws, rid, {"apiKey": API_KEY, "authorizedSince": 1, "connectedSince": 1, "serverTime": 1})
        elif method == "order.place":
            cid = params.get("newClientOrderId", "")
            if cid in self.silent_ids:
                return
            if cid == "late":  # answered only after the client gave up (its timeout is shorter)

                async def answer_later() -> None:
                    await asyncio.sleep(0.5)  # the fake server answers late on purpose (not a poll: behaviour under test)
                    await self.reply(ws, rid, {"symbol": params["symbol"], "orderId": 1, "clientOrderId": cid})

                asyncio.ensure_future(answer_later())
                return
            if cid == "reject":
                await self.reply(
                    ws, rid, status=400, error={"code": -2010, "msg": "Account has insufficient balance for requested action."}
                )
                return
            if cid == "unknown":
                await self.reply(ws, rid, error={"code": -1007, "msg": "Timeout waiting for response from backend server."}, status=400)
                return
            result = {
                "symbol": params["symbol"],
                "orderId": len(self.received),
                "orderListId": -1,
                "clientOrderId": cid,
                "transactTime": 1,
                "origQty": params.get("quantity"),
                "executedQty": params.get("quantity"),
                "status": "FILLED",
            }
            if self.hold_count:
                self.held.append((ws, {"rid": rid, "result": result}))
                if len(self.held) == self.hold_count:
                    for hws, item in reversed(self.held):
                        await self.reply(hws, item["rid"], item["result"])
                    self.held.clear()
                return
            await self.reply(ws, rid, result)
        elif method == "order.status":
            await self.reply(ws, rid, error={"code": -2013, "msg": "Order does not exist."}, status=400)
        elif method in ("userDataStream.subscribe.signature", "userDataStream.subscribe", "userDataStream.subscribe.listenToken"):
            if method == "userDataStream.subscribe" and not session["logged_on"]:
                await self.reply(ws, rid, error={"code": -2015, "msg": "not logged on"}, status=401)
                return
            if method == "userDataStream.subscribe.listenToken" and params.get("listenToken") not in self.listen_tokens:
                await self.reply(ws, rid, error={"code": -1209, "msg": "Invalid listenToken."}, status=400)
                return
            self.subscribe_calls += 1
            sub = self.next_sub
            self.next_sub += 1
            await self.reply(ws, rid, {"subscriptionId": sub})
            # An event right behind the reply: the client must already route it.
            await ws.send_str(
                json.dumps(
                    {
                        "subscriptionId": sub,
                        "event": {"e": "outboundAccountPosition", "E": 1, "u": 1, "B": [{"a": "BTC", "f": "1.0", "l": "0"}]},
                    }
                )
            )
        elif method == "userDataStream.unsubscribe":
            await self.reply(ws, rid, {})
        else:
            await self.reply(ws, rid, error={"code": -1020, "msg": "This operation is not supported."}, status=400)


@pytest.fixture
async def server() -> AsyncIterator[tuple[FakeWsApi, str]]:
    fake = FakeWsApi()
    runner = web.AppRunner(fake.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield fake, f"127.0.0.1:{port}"
    await fake.kick()
    await runner.cleanup()


def hmac_client(addr: str, **kw: Any) -> WsApiClient:
    return WsApiClient(f"ws://{addr}/ws-api/v3", make_signer("HMAC", API_KEY, SECRET), backoff_initial=0.01, **kw)


def ed25519_setup(fake: FakeWsApi) -> str:
    key = ed25519.Ed25519PrivateKey.generate()
    fake.ed25519_public = key.public_key()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": Decimal("0.001"), "newClientOrderId": "c1"}


async def test_place_order_signed_with_hmac(server: tuple[FakeWsApi, str]) -> None:
    fake, addr = server
    async with hmac_client(addr) as client:
        result = await client.place_order(ORDER)
    assert result["clientOrderId"] == "c1" and result["origQty"] == "0.001"
    sent = fake.received[-1]["params"]
    assert sent["quantity"] == "0.001" and isinstance(sent["timestamp"], int) and sent["apiKey"] == API_KEY


async def test_typed_result_and_rate_limits(server: tuple[FakeWsApi, str]) -> None:
    _, addr = server
    async with hmac_client(addr) as client:
        order = await client.place_order(ORDER, result_type=wire.BinanceSpotOrder)
        assert isinstance(order, wire.BinanceSpotOrder) and order.executedQty == Decimal("0.001")
        assert client.rate_limits[0].count == 3 and client.rate_limits[0].rateLimitType == "ORDERS"


async def test_concurrent_requests_are_correlated_by_id(server: tuple[FakeWsApi, str]) -> None:
    fake, addr = server
    fake.hold_count = 3  # the server answers the three orders in reverse order
    async with hmac_client(addr) as client:
        results = await asyncio.gather(*(client.place_order({**ORDER, "newClientOrderId": f"c{i}"}) for i in range(3)))
    assert [r["clientOrderId"] for r in results] == ["c0", "c1", "c2"]


async def test_no_reply_is_status_unknown_and_a_late_reply_is_ignored(server: tuple[FakeWsApi, str]) -> None:
    _, addr = server
    async with hmac_client(addr) as client:
        with pytest.raises(StatusUnknown, match="no reply"):
            await client.place_order({**ORDER, "newClientOrderId": "late"}, timeout=0.1)
        assert client._pending == {}

        async def late_reply_seen() -> bool:
            return client.late_replies == 1

        await aeventually(late_reply_seen, timeout=5)
        assert (await client.place_order(ORDER))["clientOrderId"] == "c1"  # the connection still works


async def test_error_replies_are_classified(server: tuple[FakeWsApi, str]) -> None:
    _, addr = server
    async with hmac_client(addr) as client:
        with pytest.raises(Rejected) as info:
            await client.place_order({**ORDER, "newClientOrderId": "reject"})
        assert info.value.code == -2010 and info.value.http_status == 400
        with pytest.raises(StatusUnknown):
            await client.place_order({**ORDER, "newClientOrderId": "unknown"})
        with pytest.raises(OrderNotFound):
            await client.order_status("BTCUSDT", orig_client_order_id="nope")


async def test_wrong_secret_is_an_auth_error(server: tuple[FakeWsApi, str]) -> None:
    _, addr = server
    client = WsApiClient(f"ws://{addr}/ws-api/v3", make_signer("HMAC", API_KEY, "wrong"))
    async with client:
        with pytest.raises(AuthError):
            await client.place_order(ORDER)


async def test_ed25519_logon_then_unsigned_requests(server: tuple[FakeWsApi, str]) -> None:
    fake, addr = server
    pem = ed25519_setup(fake)
    async with WsApiClient(f"ws://{addr}/ws-api/v3", make_signer("ED25519", API_KEY, pem)) as client:
        assert client.logged_on and fake.logons == 1
        await client.place_order(ORDER)
    sent = fake.received[-1]["params"]
    assert "signature" not in sent and "apiKey" not in sent and "timestamp" in sent


async def test_request_before_connect_is_not_sent() -> None:
    client = WsApiClient("ws://127.0.0.1:9/ws-api/v3", make_signer("HMAC", API_KEY, SECRET))
    with pytest.raises(NotSent):
        await client.place_order(ORDER)
    await client.close()


async def test_reconnect_relogon_and_in_flight_request_is_status_unknown(server: tuple[FakeWsApi, str]) -> None:
    fake, addr = server
    pem = ed25519_setup(fake)
    fake.silent_ids.add("in-flight")
    states: list[str] = []
    hooks: list[bool] = []

    async def hook(reconnected: bool) -> None:
        hooks.append(reconnected)

    client = WsApiClient(f"ws://{addr}/ws-api/v3", make_signer("ED25519", API_KEY, pem), on_state=states.append, backoff_initial=0.01)
    client.add_connect_hook(hook)
    async with client:
        pending = asyncio.ensure_future(client.place_order({**ORDER, "newClientOrderId": "in-flight"}, timeout=5))

        async def sent() -> bool:
            return any(r["params"].get("newClientOrderId") == "in-flight" for r in fake.received if "params" in r)

        await aeventually(sent, timeout=5)
        await fake.kick()
        with pytest.raises(StatusUnknown, match="connection lost"):
            await pending

        async def relogged() -> bool:
            return fake.logons == 2 and client.connected

        await aeventually(relogged, timeout=5)
        assert (await client.place_order(ORDER))["status"] == "FILLED"
    assert hooks == [False, True]
    assert states[:2] == ["connecting", "connected"] and "disconnected" in states and "reconnected" in states


async def test_server_shutdown_event_makes_the_client_reconnect(server: tuple[FakeWsApi, str]) -> None:
    fake, addr = server
    async with hmac_client(addr) as client:
        await fake.push({"event": {"e": "serverShutdown", "E": 1770123456789}})

        async def reconnected() -> bool:
            return client.reconnects == 1 and client.connected

        await aeventually(reconnected, timeout=5)


async def test_pushed_events_go_to_the_subscription_handler(server: tuple[FakeWsApi, str]) -> None:
    fake, addr = server
    got: list[bytes] = []
    others: list[tuple[int | None, bytes]] = []
    async with hmac_client(addr, on_event=lambda sub, raw: others.append((sub, raw))) as client:
        sub = await client.subscribe_user_data(got.append)
        assert sub == 0
        assert len(got) == 1 and wire.decode_user_event(got[0]).e == "outboundAccountPosition"  # the event right behind the reply
        await fake.push({"subscriptionId": 0, "event": {"e": "balanceUpdate", "E": 1, "a": "BTC", "d": "1", "T": 1}})
        await fake.push({"subscriptionId": 99, "event": {"e": "balanceUpdate", "E": 2, "a": "BTC", "d": "1", "T": 1}})

        async def delivered() -> bool:
            return len(got) == 2 and len(others) == 1

        await aeventually(delivered, timeout=5)
    assert others[0][0] == 99
    assert [r["method"] for r in fake.received] == ["userDataStream.subscribe.signature"]


async def test_bad_frames_and_failing_handlers_do_not_kill_the_reader(server: tuple[FakeWsApi, str]) -> None:
    fake, addr = server

    def boom(raw: bytes) -> None:
        raise RuntimeError("handler bug")

    async with hmac_client(addr) as client:
        await client.subscribe_user_data(boom)
        for ws in fake.sockets:
            await ws.send_str("this is not json")
        assert (await client.place_order(ORDER))["status"] == "FILLED"
        assert client.bad_frames == 1 and client.handler_errors >= 1


async def test_spot_user_stream_subscribes_and_resubscribes(server: tuple[FakeWsApi, str]) -> None:
    fake, addr = server
    events: list[bytes] = []
    states: list[str] = []
    client = hmac_client(addr)
    stream = SpotUserStream(client, events.append, states.append)
    try:
        await stream.start()
        assert states == ["connecting", "connected"] and stream.subscription_id == 0 and len(events) == 1

        # The subscription ends (eventStreamTerminated): resubscribe, signal "reconnected".
        await fake.push({"subscriptionId": 0, "event": {"e": "eventStreamTerminated", "E": 1}})

        async def resubscribed() -> bool:
            return stream.resubscribes == 1 and states[-1] == "reconnected"

        await aeventually(resubscribed, timeout=5)
        assert stream.subscription_id == 1

        # The connection drops: the connect hook resubscribes.
        await fake.kick()

        async def after_drop() -> bool:
            return stream.resubscribes == 2 and states[-1] == "reconnected" and client.connected

        await aeventually(after_drop, timeout=5)
        assert "disconnected" in states
    finally:
        await stream.stop()
        await client.close()


async def test_spot_user_stream_uses_logon_subscription_with_ed25519(server: tuple[FakeWsApi, str]) -> None:
    fake, addr = server
    pem = ed25519_setup(fake)
    client = WsApiClient(f"ws://{addr}/ws-api/v3", make_signer("ED25519", API_KEY, pem))
    stream = SpotUserStream(client, lambda raw: None, lambda s: None)
    try:
        await stream.start()
        assert any(r["method"] == "userDataStream.subscribe" for r in fake.received)
    finally:
        await stream.stop()
        await client.close()


async def test_margin_user_stream_token_subscription_and_renewal(server: tuple[FakeWsApi, str]) -> None:
    fake, addr = server
    fake.token_validity_ms = 400  # renew well before the (short) expiry
    events: list[bytes] = []
    states: list[str] = []
    rest = RestClient(f"http://{addr}", make_signer("HMAC", API_KEY, SECRET))
    client = hmac_client(addr)
    stream = MarginUserStream(rest, client, events.append, states.append, renew_margin=0.5)
    try:
        await stream.start()
        assert states[-1] == "connected" and len(events) == 1
        assert any(r["method"] == "userDataStream.subscribe.listenToken" and r["params"]["listenToken"] == "token-1" for r in fake.received)

        async def renewed() -> bool:
            return stream.renewals >= 1 and fake.token_posts >= 2

        await aeventually(renewed, timeout=5)
        assert any(r.get("params", {}).get("listenToken") == "token-2" for r in fake.received)
    finally:
        await stream.stop()
        await client.close()
        await rest.close()
