"""FuturesUserStream against a tiny listenKey server on 127.0.0.1:0 (usdm "User Data Streams Connect").

The fake serves only the ws mode of the `/private` route (`/private/ws?listenKey=<key>&events=...`, the
USD-M "Important WebSocket Change Notice" of 2026-03-06), so a client using any other form fails here.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from actors.binance import wire
from actors.binance.rest import RestClient
from actors.binance.signing import make_signer
from actors.binance.userdata import FuturesUserStream
from tests.helpers.wait import aeventually

API_KEY = "futures-key"
FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
ORDER_UPDATE = (FIXTURES / "userdata_futures_order_trade_update.json").read_text()


class FakeFutures:
    def __init__(self) -> None:
        self.posts = 0
        self.puts = 0
        self.keys: list[str] = []
        self.connected_keys: list[str] = []
        self.connected_events: list[list[str]] = []
        self.sockets: list[web.WebSocketResponse] = []
        self.put_error: dict[str, Any] | None = None
        self.answer_pings = [True]  # per connection, in order; the last value repeats

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/fapi/v1/listenKey", self.listen_key)
        app.router.add_get("/private/ws", self.stream)
        return app

    async def listen_key(self, request: web.Request) -> web.Response:
        if request.headers.get("X-MBX-APIKEY") != API_KEY or request.query_string:
            return web.json_response({"code": -2015, "msg": "Invalid API-key"}, status=401)
        if request.method == "POST":
            self.posts += 1
            self.keys.append(f"key{self.posts}")
            return web.json_response({"listenKey": self.keys[-1]})
        if request.method == "PUT":
            self.puts += 1
            if self.put_error is not None:
                return web.json_response(self.put_error, status=400)
            return web.json_response({"listenKey": self.keys[-1]})
        return web.json_response({})

    async def stream(self, request: web.Request) -> web.WebSocketResponse:
        key = request.query.get("listenKey", "")
        index = len(self.connected_keys)
        ws = web.WebSocketResponse(autoping=self.answer_pings[min(index, len(self.answer_pings) - 1)])
        await ws.prepare(request)
        if key not in self.keys:
            await ws.close()
            return ws
        self.connected_keys.append(key)
        self.connected_events.append(request.query.get("events", "").split("/"))
        self.sockets.append(ws)
        async for _ in ws:
            pass
        self.sockets.remove(ws)
        return ws

    async def push(self, text: str) -> None:
        for ws in list(self.sockets):
            await ws.send_str(text)

    async def kick(self) -> None:
        for ws in list(self.sockets):
            await ws.close()


@pytest.fixture
async def futures() -> AsyncIterator[tuple[FakeFutures, str]]:
    fake = FakeFutures()
    runner = web.AppRunner(fake.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield fake, f"127.0.0.1:{port}"
    await fake.kick()
    await runner.cleanup()


class Recorder:
    def __init__(self) -> None:
        self.events: list[bytes] = []
        self.states: list[str] = []


@pytest.fixture
async def stream(futures: tuple[FakeFutures, str]) -> AsyncIterator[tuple[FuturesUserStream, Recorder]]:
    _, addr = futures
    rec = Recorder()
    rest = RestClient(f"http://{addr}", make_signer("HMAC", API_KEY, "secret"))
    s = FuturesUserStream(rest, f"ws://{addr}", rec.events.append, rec.states.append, keepalive_interval=3600, backoff_initial=0.01)
    yield s, rec
    await s.stop()
    await rest.close()


async def until(check: Any, what: str = "") -> None:
    async def probe() -> bool:
        return bool(check())

    await aeventually(probe, timeout=5, what=what)


async def test_connects_with_a_listen_key_and_forwards_events(
    futures: tuple[FakeFutures, str], stream: tuple[FuturesUserStream, Recorder]
) -> None:
    fake, _ = futures
    s, rec = stream
    await s.start()
    await until(lambda: rec.states == ["connecting", "connected"] and fake.sockets, "connected")
    assert fake.connected_keys == ["key1"] and s.listen_key == "key1"
    # every event the actors consume is asked for (an event not named is not delivered)
    assert fake.connected_events == [["ORDER_TRADE_UPDATE", "ACCOUNT_UPDATE", "ACCOUNT_CONFIG_UPDATE", "ALGO_UPDATE", "listenKeyExpired"]]
    await fake.push(ORDER_UPDATE)
    await until(lambda: rec.events, "event")
    event = wire.decode_user_event(rec.events[0])
    assert isinstance(event, wire.BinanceFuturesOrderTradeUpdate) and event.o.i == 8886774


async def test_keepalive_put_is_sent(futures: tuple[FakeFutures, str], stream: tuple[FuturesUserStream, Recorder]) -> None:
    fake, _ = futures
    s, _ = stream
    s.keepalive_interval = 0.05
    await s.start()
    await until(lambda: fake.puts >= 2 and s.keepalives >= 2, "two keepalives")
    assert fake.posts == 1  # keepalive does not create keys


async def test_listen_key_expired_means_a_new_key_and_reconnected(
    futures: tuple[FakeFutures, str], stream: tuple[FuturesUserStream, Recorder]
) -> None:
    fake, _ = futures
    s, rec = stream
    await s.start()
    await until(lambda: fake.sockets, "connected")
    await fake.push(json.dumps({"e": "listenKeyExpired", "E": "1736996475556", "listenKey": "key1"}))
    await until(lambda: rec.states[-1:] == ["reconnected"] and fake.connected_keys == ["key1", "key2"], "new key")
    assert rec.states == ["connecting", "connected", "disconnected", "reconnected"]
    assert isinstance(wire.decode_user_event(rec.events[0]), wire.BinanceListenKeyExpired)
    assert fake.connected_events[0] == fake.connected_events[1]  # a reconnect asks for the same events


async def test_dropped_connection_reconnects(futures: tuple[FakeFutures, str], stream: tuple[FuturesUserStream, Recorder]) -> None:
    fake, _ = futures
    s, rec = stream
    await s.start()
    await until(lambda: fake.sockets, "connected")
    await fake.kick()
    await until(lambda: rec.states[-1:] == ["reconnected"] and fake.sockets, "reconnected")
    assert s.reconnects == 1 and fake.posts == 2


async def test_a_stalled_connection_is_detected_by_the_heartbeat(futures: tuple[FakeFutures, str]) -> None:
    fake, addr = futures
    fake.answer_pings = [False, True]  # the first connection goes silent: no pong to our pings
    states: list[str] = []
    rest = RestClient(f"http://{addr}", make_signer("HMAC", API_KEY, "secret"))
    s = FuturesUserStream(rest, f"ws://{addr}", lambda raw: None, states.append, heartbeat=0.1, backoff_initial=0.01)
    try:
        await s.start()
        await until(lambda: states[-1:] == ["reconnected"] and len(fake.connected_keys) == 2, "reconnect after stall")
        assert states == ["connecting", "connected", "disconnected", "reconnected"]
    finally:
        await s.stop()
        await rest.close()


async def test_keepalive_on_a_missing_key_reconnects_with_a_new_key(
    futures: tuple[FakeFutures, str], stream: tuple[FuturesUserStream, Recorder]
) -> None:
    fake, _ = futures
    s, rec = stream
    fake.put_error = {"code": -1125, "msg": "This listenKey does not exist."}
    s.keepalive_interval = 0.05
    await s.start()
    await until(lambda: "reconnected" in rec.states and len(fake.connected_keys) >= 2, "new key after -1125")
    assert fake.connected_keys[1] == "key2"


async def test_a_failing_callback_does_not_stop_the_stream(futures: tuple[FakeFutures, str]) -> None:
    fake, addr = futures
    seen: list[bytes] = []

    def on_event(raw: bytes) -> None:
        seen.append(raw)
        raise RuntimeError("actor bug")

    rest = RestClient(f"http://{addr}", make_signer("HMAC", API_KEY, "secret"))
    s = FuturesUserStream(rest, f"ws://{addr}", on_event, lambda state: None)
    try:
        await s.start()
        await until(lambda: fake.sockets, "connected")
        await fake.push(ORDER_UPDATE)
        await fake.push(ORDER_UPDATE)
        await until(lambda: len(seen) == 2, "both events")
        assert s.handler_errors == 2 and s.state == "connected"
    finally:
        await s.stop()
        await rest.close()


async def test_stop_can_close_the_listen_key(futures: tuple[FakeFutures, str]) -> None:
    fake, addr = futures
    deleted: list[str] = []
    rest = RestClient(f"http://{addr}", make_signer("HMAC", API_KEY, "secret"))
    s = FuturesUserStream(rest, f"ws://{addr}", lambda raw: None, lambda state: None)
    await s.start()
    await until(lambda: fake.sockets, "connected")
    original = rest.api_key_only

    async def spy(method: str, path: str, params: Any = None) -> Any:
        deleted.append(method)
        return await original(method, path, params)

    rest.api_key_only = spy  # type: ignore[method-assign]
    await s.stop(close_listen_key=True)
    await rest.close()
    assert deleted == ["DELETE"]


async def test_events_can_be_narrowed_and_bad_names_are_refused(futures: tuple[FakeFutures, str]) -> None:
    fake, addr = futures
    rest = RestClient(f"http://{addr}", make_signer("HMAC", API_KEY, "secret"))
    try:
        with pytest.raises(ValueError, match="ORDER TRADE"):
            FuturesUserStream(rest, f"ws://{addr}", lambda raw: None, lambda state: None, events=["ORDER TRADE"])
        s = FuturesUserStream(rest, f"ws://{addr}", lambda raw: None, lambda state: None, events=("ORDER_TRADE_UPDATE", "listenKeyExpired"))
        await s.start()
        await until(lambda: fake.sockets, "connected")
        assert fake.connected_events == [["ORDER_TRADE_UPDATE", "listenKeyExpired"]]
        await s.stop()
    finally:
        await rest.close()
