"""RestClient against a tiny Binance-like aiohttp server on 127.0.0.1:0.

The server verifies signatures with its own implementation of the documented algorithm (not the
client's code), keeps a clock that is off from ours, and answers errors on demand.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import socket
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from urllib.parse import parse_qsl

import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from actors.binance import wire
from actors.binance.errors import AuthError, ClockSkew, NotSent, OrderNotFound, RateLimited, Rejected, StatusUnknown
from actors.binance.rest import RestClient
from actors.binance.signing import make_signer

API_KEY = "test-api-key-0123456789"
SECRET = "test-secret-abcdefghijklmnopqrstuvwxyz"


class FakeExchange:
    """Just enough of /api/v3 and /fapi/v1 to exercise the client."""

    def __init__(self, skew_ms: int = 0) -> None:
        self.skew_ms = skew_ms  # server clock = our clock + skew
        self.requests: list[web.Request] = []
        self.queries: list[str] = []
        self.ed25519_public: ed25519.Ed25519PublicKey | None = None
        self.fail_next: list[tuple[int, bytes, dict[str, str]]] = []
        self.time_calls = 0
        self.release = asyncio.Event()  # set at teardown: frees the stalled handlers

    def now(self) -> int:
        return int(time.time() * 1000) + self.skew_ms

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/api/v3/time", self.server_time)
        app.router.add_get("/fapi/v1/time", self.server_time)
        app.router.add_route("*", "/api/v3/order", self.order)
        app.router.add_route("*", "/fapi/v1/listenKey", self.listen_key)
        app.router.add_get("/api/v3/slow", self.slow)
        app.router.add_get("/api/v3/garbage", self.garbage)
        return app

    async def server_time(self, request: web.Request) -> web.Response:
        self.time_calls += 1
        return web.json_response({"serverTime": self.now()})

    def _verify(self, request: web.Request) -> dict[str, str] | web.Response:
        qs = request.query_string
        if request.headers.get("X-MBX-APIKEY") != API_KEY:
            return web.json_response({"code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}, status=401)
        payload, sep, sig = qs.rpartition("&signature=")
        if not sep:
            return web.json_response({"code": -1102, "msg": "Mandatory parameter 'signature' was not sent."}, status=400)
        sig = dict(parse_qsl("s=" + sig))["s"]
        if self.ed25519_public is not None:
            try:
                self.ed25519_public.verify(base64.b64decode(sig), payload.encode())
                ok = True
            except Exception:
                ok = False
        else:
            ok = hmac.compare_digest(hmac.new(SECRET.encode(), payload.encode(), hashlib.sha256).hexdigest(), sig.lower())
        if not ok:
            return web.json_response({"code": -1022, "msg": "Signature for this request is not valid."}, status=400)
        params = dict(parse_qsl(payload))
        ts, window = int(params["timestamp"]), int(params.get("recvWindow", 5000))
        server = self.now()
        if not (ts < server + 1000 and server - ts <= window):
            return web.json_response({"code": -1021, "msg": "Timestamp for this request is outside of the recvWindow."}, status=400)
        return params

    async def order(self, request: web.Request) -> web.Response:
        self.requests.append(request)
        self.queries.append(request.query_string)
        if self.fail_next:
            status, body, headers = self.fail_next.pop(0)
            return web.Response(status=status, body=body, headers=headers, content_type="application/json")
        checked = self._verify(request)
        if isinstance(checked, web.Response):
            return checked
        if request.method == "GET" and checked.get("origClientOrderId") == "missing":
            return web.json_response({"code": -2013, "msg": "Order does not exist."}, status=400)
        reply = {
            "symbol": checked["symbol"],
            "orderId": 28,
            "orderListId": -1,
            "clientOrderId": checked.get("newClientOrderId", "x"),
            "transactTime": self.now(),
            "price": "0.00000000",
            "origQty": checked.get("quantity", "0"),
            "executedQty": checked.get("quantity", "0"),
            "status": "FILLED",
            "type": "MARKET",
            "side": checked.get("side", "BUY"),
            "fills": [],
        }
        headers = {"X-MBX-USED-WEIGHT-1M": "7", "X-MBX-ORDER-COUNT-10S": "1", "X-MBX-ORDER-COUNT-1D": "42"}
        return web.json_response(reply, headers=headers)

    async def listen_key(self, request: web.Request) -> web.Response:
        self.requests.append(request)
        self.queries.append(request.query_string)
        if request.headers.get("X-MBX-APIKEY") != API_KEY:
            return web.json_response({"code": -2015, "msg": "Invalid API-key"}, status=401)
        return web.json_response({"listenKey": "LK1"}, headers={"X-MBX-USED-WEIGHT-1M": "2"})

    async def slow(self, request: web.Request) -> web.Response:
        await self.release.wait()  # stall until the test ends
        return web.json_response({})

    async def garbage(self, request: web.Request) -> web.Response:
        return web.Response(body=b"<html>not json", content_type="text/html")


@pytest.fixture
async def exchange() -> AsyncIterator[tuple[FakeExchange, str]]:
    fake = FakeExchange(skew_ms=0)
    runner = web.AppRunner(fake.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield fake, f"http://127.0.0.1:{port}"
    fake.release.set()
    await runner.cleanup()


@pytest.fixture
async def client(exchange: tuple[FakeExchange, str]) -> AsyncIterator[RestClient]:
    _, base = exchange
    rest = RestClient(base, make_signer("HMAC", API_KEY, SECRET), timeout=2.0)
    yield rest
    await rest.close()


ORDER = {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": Decimal("0.00100"), "newClientOrderId": "cid-1"}


async def test_signed_order_is_verified_by_the_server(exchange: tuple[FakeExchange, str], client: RestClient) -> None:
    fake, _ = exchange
    reply = await client.signed("POST", "/api/v3/order", ORDER)
    assert reply["clientOrderId"] == "cid-1" and reply["origQty"] == "0.00100"
    query = fake.queries[-1]
    assert query.startswith("symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.00100&newClientOrderId=cid-1&recvWindow=5000&timestamp=")
    assert fake.requests[-1].method == "POST" and not await fake.requests[-1].read()  # params in the query only


async def test_typed_decoding_of_a_reply(client: RestClient) -> None:
    reply = await client.signed("POST", "/api/v3/order", ORDER)
    order = wire.convert(reply, wire.BinanceSpotOrder)
    assert order.executedQty == Decimal("0.00100") and order.status == "FILLED"


async def test_header_weight_and_order_counts_are_tracked(client: RestClient) -> None:
    await client.signed("POST", "/api/v3/order", ORDER)
    assert client.used_weight == {"1m": 7}
    assert client.order_count == {"10s": 1, "1d": 42}


async def test_sync_time_keeps_the_server_offset(exchange: tuple[FakeExchange, str], client: RestClient) -> None:
    fake, _ = exchange
    fake.skew_ms = 3_600_000
    offset = await client.sync_time("/api/v3/time")
    assert abs(offset - 3_600_000) < 1000 and client.time_offset_ms == offset


async def test_clock_skew_resyncs_once_and_retries(exchange: tuple[FakeExchange, str], client: RestClient) -> None:
    fake, _ = exchange
    fake.skew_ms = -120_000  # server is two minutes behind us: our timestamps look "ahead"
    reply = await client.signed("POST", "/api/v3/order", ORDER)
    assert reply["status"] == "FILLED"
    assert fake.time_calls == 1 and len(fake.queries) == 2
    assert abs(client.time_offset_ms + 120_000) < 1000


async def test_persistent_clock_skew_raises_after_one_retry(exchange: tuple[FakeExchange, str], client: RestClient) -> None:
    fake, _ = exchange
    body = b'{"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."}'
    fake.fail_next = [(400, body, {}), (400, body, {})]
    with pytest.raises(ClockSkew):
        await client.signed("POST", "/api/v3/order", ORDER)
    assert len(fake.queries) == 2


async def test_429_with_retry_after_is_rate_limited(exchange: tuple[FakeExchange, str], client: RestClient) -> None:
    fake, _ = exchange
    fake.fail_next = [(429, b'{"code":-1003,"msg":"Too much request weight used"}', {"Retry-After": "5"})]
    with pytest.raises(RateLimited) as info:
        await client.signed("POST", "/api/v3/order", ORDER)
    assert info.value.retry_after == 5.0 and not info.value.banned and info.value.http_status == 429


@pytest.mark.parametrize("status", [500, 502, 504])
async def test_5xx_is_status_unknown(exchange: tuple[FakeExchange, str], client: RestClient, status: int) -> None:
    fake, _ = exchange
    fake.fail_next = [(status, b'{"code":-1000,"msg":"An unknown error occurred"}', {})]
    with pytest.raises(StatusUnknown) as info:
        await client.signed("POST", "/api/v3/order", ORDER)
    assert info.value.may_have_executed


async def test_business_rejection_and_order_not_found(client: RestClient, exchange: tuple[FakeExchange, str]) -> None:
    fake, _ = exchange
    fake.fail_next = [(400, b'{"code":-2010,"msg":"Account has insufficient balance for requested action."}', {})]
    with pytest.raises(Rejected) as info:
        await client.signed("POST", "/api/v3/order", ORDER)
    assert info.value.code == -2010 and not info.value.may_have_executed
    with pytest.raises(OrderNotFound):
        await client.signed("GET", "/api/v3/order", {"symbol": "BTCUSDT", "origClientOrderId": "missing"})


async def test_wrong_secret_is_an_auth_error(exchange: tuple[FakeExchange, str]) -> None:
    _, base = exchange
    rest = RestClient(base, make_signer("HMAC", API_KEY, "wrong-secret"))
    try:
        with pytest.raises(AuthError) as info:
            await rest.signed("POST", "/api/v3/order", ORDER)
        assert info.value.code == -1022
        assert "wrong-secret" not in str(info.value) and "signature=" not in str(info.value)
    finally:
        await rest.close()


async def test_ed25519_signed_request(exchange: tuple[FakeExchange, str]) -> None:
    fake, base = exchange
    key = ed25519.Ed25519PrivateKey.generate()
    fake.ed25519_public = key.public_key()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    rest = RestClient(base, make_signer("ED25519", API_KEY, pem.decode()))
    try:
        reply = await rest.signed("POST", "/api/v3/order", ORDER)
        assert reply["status"] == "FILLED"
        assert "%2B" in fake.queries[-1] or "%2F" in fake.queries[-1] or "%3D" in fake.queries[-1]
    finally:
        await rest.close()


async def test_api_key_only_sends_the_header_and_no_signature(exchange: tuple[FakeExchange, str], client: RestClient) -> None:
    fake, _ = exchange
    reply = await client.api_key_only("POST", "/fapi/v1/listenKey")
    assert reply == {"listenKey": "LK1"}
    assert fake.queries[-1] == "" and fake.requests[-1].headers["X-MBX-APIKEY"] == API_KEY


async def test_timeout_is_status_unknown(exchange: tuple[FakeExchange, str]) -> None:
    _, base = exchange
    rest = RestClient(base, None, timeout=0.3)
    try:
        with pytest.raises(StatusUnknown, match="no reply"):
            await rest.public("GET", "/api/v3/slow")
    finally:
        await rest.close()


async def test_unparseable_success_body_is_status_unknown(client: RestClient) -> None:
    with pytest.raises(StatusUnknown, match="unparseable"):
        await client.public("GET", "/api/v3/garbage")


async def test_connection_refused_is_not_sent() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rest = RestClient(f"http://127.0.0.1:{port}", None, timeout=2.0)
    try:
        with pytest.raises(NotSent):
            await rest.public("GET", "/api/v3/time")
    finally:
        await rest.close()


async def test_signed_without_signer_is_a_clear_error() -> None:
    rest = RestClient("http://127.0.0.1:1")
    with pytest.raises(ValueError, match="no API key"):
        await rest.signed("GET", "/api/v3/account")
    await rest.close()


async def test_keep_alive_reuses_one_connection(exchange: tuple[FakeExchange, str], client: RestClient) -> None:
    fake, _ = exchange
    for _ in range(5):
        await client.signed("POST", "/api/v3/order", ORDER)
    peers = {r.transport.get_extra_info("peername") for r in fake.requests if r.transport is not None}
    assert len(peers) == 1
