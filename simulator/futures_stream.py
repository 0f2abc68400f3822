"""USD-M futures user-data streams: listenKeys and the stream WebSocket.

- ``POST /fapi/v1/listenKey`` creates a key (or returns the account's active key, extended);
  ``PUT`` extends it (-1125 when it does not exist); ``DELETE`` closes it and its streams.
- A key expires ``listen_key_ttl`` seconds (default 3600) after its last keepalive: every stream on
  it receives ``{"e":"listenKeyExpired","E":"<ms>","listenKey":...}`` and no further events (the
  connection stays open, as on Binance). A connection is closed ``max_connection_age`` seconds
  (default 86400) after it opened. Both come from the ``[futures]`` table of the config
  (``listen_key_ttl``, ``max_connection_age``) and can be changed at run time.
- Endpoints: ``/ws/<listenKey>`` and ``/private/ws/<listenKey>`` (raw events), and the combined
  form ``/private/stream`` (``{"method":"SUBSCRIBE","params":[listenKey],"id":1}``, events as
  ``{"stream": listenKey, "data": {...}}``) which is what Binance's
  ``binance-sdk-derivatives-trading-usds-futures`` websocket_streams module connects to.
  ``/market/stream`` and ``/public/stream`` accept the same SUBSCRIBE frames and deliver nothing
  (the SDK opens them too); ``/stream?streams=<listenKey>`` works like ``/private/stream``.
- Faults: ``sim.faults.drop_user_data()`` closes the connections, ``expire_listen_keys()`` expires
  keys now, stalls and ``stream`` latency hold events back (``faults.stream_gate``).
"""
from __future__ import annotations

import asyncio
import logging
import secrets
import time
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import WSMsgType, web

from simulator import errors

if TYPE_CHECKING:
    from simulator.core import Sim

log = logging.getLogger("simulator.futures_stream")

MARKET = "futures"
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def listen_key_missing() -> errors.BinanceError:
    return errors.BinanceError(errors.INVALID_LISTEN_KEY, "This listenKey does not exist.")


def text_frame(payload: bytes) -> bytes:
    """One unmasked, final TEXT frame from the server (RFC 6455 section 5.2)."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65536:
        return bytes((0x81, 126)) + n.to_bytes(2, "big") + payload
    return bytes((0x81, 127)) + n.to_bytes(8, "big") + payload


class ListenKey:
    __slots__ = ("key", "account_id", "expires_at", "conns")

    def __init__(self, key: str, account_id: str, expires_at: float) -> None:
        self.key = key
        self.account_id = account_id
        self.expires_at = expires_at  # time.monotonic() deadline
        self.conns: set[StreamConn] = set()


class StreamConn:
    """One stream connection following one listenKey; a `Sink` of the user-data hub."""

    market = MARKET

    def __init__(self, streams: "FuturesStreams", ws: web.WebSocketResponse, combined: bool) -> None:
        self.streams = streams
        self.ws = ws
        self.combined = combined
        self.account_id = ""
        self.listen_key: ListenKey | None = None
        self.opened_at = time.monotonic()
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.closed = False
        self.sender: asyncio.Task[None] | None = None
        self.transport: asyncio.Transport | None = None  # the request's, for batched writes

    def push(self, event: dict[str, Any]) -> None:
        if not self.closed:
            self.queue.put_nowait(event)

    def attach(self, lk: ListenKey) -> None:
        if self.listen_key is not None:
            self.detach()
        self.listen_key = lk
        self.account_id = lk.account_id
        lk.conns.add(self)
        self.streams.sim.hub.subscribe(self)

    def detach(self) -> None:
        """Stop receiving account events (the connection itself stays open)."""
        if self.listen_key is not None:
            self.listen_key.conns.discard(self)
            self.streams.sim.hub.unsubscribe(self)

    def _payload(self, event: dict[str, Any]) -> bytes:
        if self.combined:
            key = self.listen_key.key if self.listen_key else event.get("listenKey", "")
            return orjson.dumps({"stream": key, "data": event})
        return orjson.dumps(event)

    async def send_loop(self) -> None:
        faults = self.streams.sim.faults
        queue = self.queue
        while True:
            event = await queue.get()
            await faults.stream_gate(self.account_id or None)
            if self.closed:
                return
            batch = [event]
            # Events queued meanwhile (an order's NEW, TRADE and ACCOUNT_UPDATE) leave in ONE socket
            # write when no stall or stream latency applies: each write to a loopback socket costs a
            # wake-up of the reader, which dominated the simulator's time per order.
            if not queue.empty() and not faults.latency.get("stream") and faults.stall_left(self.account_id or None) <= 0:
                while not queue.empty():
                    batch.append(queue.get_nowait())
            try:
                transport = self.transport
                if len(batch) > 1 and transport is not None and not self.ws.compress and not transport.is_closing():
                    transport.write(b"".join(text_frame(self._payload(e)) for e in batch))
                else:
                    for e in batch:
                        await self.ws.send_str(self._payload(e).decode())
            except (ConnectionError, RuntimeError):
                return

    def close(self, code: int = 1000, message: bytes = b"") -> None:
        if self.closed:
            return
        self.closed = True
        self.detach()
        asyncio.get_running_loop().create_task(self.ws.close(code=code, message=message))


class FuturesStreams:
    """listenKeys of all accounts and the stream connections that follow them."""

    def __init__(self, sim: "Sim", listen_key_ttl: float = 3600.0, max_connection_age: float = 86400.0) -> None:
        self.sim = sim
        self.listen_key_ttl = listen_key_ttl
        self.max_connection_age = max_connection_age
        self.keys: dict[str, ListenKey] = {}
        self.by_account: dict[str, ListenKey] = {}
        self.conns: set[StreamConn] = set()
        self._task: asyncio.Task[None] | None = None
        sim.faults.drop_hooks.append(self.drop)
        sim.faults.expire_hooks.append(self.expire)

    # -- listenKey life cycle (REST / WS-API handlers call these) -----------------------------------
    def create(self, account_id: str) -> str:
        lk = self.by_account.get(account_id)
        if lk is None:
            key = "".join(secrets.choice(_ALPHABET) for _ in range(64))
            lk = ListenKey(key, account_id, 0.0)
            self.keys[key] = lk
            self.by_account[account_id] = lk
        lk.expires_at = time.monotonic() + self.listen_key_ttl
        return lk.key

    def keepalive(self, account_id: str, key: str | None = None) -> str:
        lk = self.by_account.get(account_id)
        if lk is None or (key and key != lk.key):
            raise listen_key_missing()
        lk.expires_at = time.monotonic() + self.listen_key_ttl
        return lk.key

    def close_key(self, account_id: str, key: str | None = None) -> None:
        lk = self.by_account.get(account_id)
        if lk is None or (key and key != lk.key):
            return
        self._forget(lk)
        for conn in list(lk.conns):
            conn.close(1000, b"listenKey closed")

    def _forget(self, lk: ListenKey) -> None:
        self.keys.pop(lk.key, None)
        if self.by_account.get(lk.account_id) is lk:
            del self.by_account[lk.account_id]

    # -- fault hooks ----------------------------------------------------------------------------------
    def expire(self, listen_key: str | None = None, account_id: str | None = None) -> int:
        """Expire keys now (all, one key, or one account's): streams get listenKeyExpired."""
        count = 0
        for lk in list(self.keys.values()):
            if listen_key not in (None, lk.key) or account_id not in (None, lk.account_id):
                continue
            self._expire_key(lk)
            count += 1
        return count

    def _expire_key(self, lk: ListenKey) -> None:
        self._forget(lk)
        event = {"e": "listenKeyExpired", "E": str(now_ms()), "listenKey": lk.key}
        for conn in list(lk.conns):
            conn.push(event)
            conn.detach()

    def drop(self, account_id: str | None = None) -> int:
        count = 0
        for conn in list(self.conns):
            if conn.closed or (account_id is not None and conn.account_id != account_id):
                continue
            conn.close(1001, b"dropped by simulator")
            count += 1
        return count

    # -- housekeeping ---------------------------------------------------------------------------------
    def sweep(self) -> None:
        """Expire overdue keys and close connections past their maximum age."""
        now = time.monotonic()
        for lk in list(self.keys.values()):
            if lk.expires_at <= now:
                self._expire_key(lk)
        for conn in list(self.conns):
            if not conn.closed and now - conn.opened_at >= self.max_connection_age:
                conn.close(1000, b"connection age limit")

    async def sweep_loop(self) -> None:
        while True:
            interval = max(0.02, min(1.0, self.listen_key_ttl / 20, self.max_connection_age / 20))
            await asyncio.sleep(interval)
            try:
                self.sweep()
            except Exception:  # noqa: BLE001 - housekeeping never dies
                log.exception("listenKey sweep failed")

    async def start(self, app: web.Application) -> None:
        self._task = asyncio.get_running_loop().create_task(self.sweep_loop())

    async def stop(self, app: web.Application) -> None:
        if self._task is not None:
            self._task.cancel()
        for conn in list(self.conns):
            conn.close(1001, b"server shutdown")

    # -- WebSocket handlers ---------------------------------------------------------------------------
    async def handle_raw(self, request: web.Request) -> web.StreamResponse:
        """``/ws/<listenKey>`` and ``/private/ws/<listenKey>``."""
        key = request.match_info.get("listen_key", "")
        lk = self.keys.get(key)
        if lk is None:
            return web.json_response(listen_key_missing().body(), status=400)
        ws = web.WebSocketResponse(heartbeat=30.0)
        await ws.prepare(request)
        conn = StreamConn(self, ws, combined=False)
        conn.transport = request.transport  # type: ignore[assignment]
        conn.attach(lk)
        return await self._serve(conn, subscribable=False)

    async def handle_combined(self, request: web.Request) -> web.StreamResponse:
        """``/private/stream`` (and ``/stream``, ``/market/stream``, ``/public/stream``): SUBSCRIBE frames."""
        ws = web.WebSocketResponse(heartbeat=30.0)
        await ws.prepare(request)
        conn = StreamConn(self, ws, combined=True)
        conn.transport = request.transport  # type: ignore[assignment]
        names = [s for s in request.query.get("streams", "").split("/") if s]
        for name in names:
            lk = self.keys.get(name)
            if lk is not None:
                conn.attach(lk)
        return await self._serve(conn, subscribable=True)

    async def _serve(self, conn: StreamConn, subscribable: bool) -> web.WebSocketResponse:
        self.conns.add(conn)
        conn.sender = asyncio.get_running_loop().create_task(conn.send_loop())
        try:
            async for msg in conn.ws:
                if msg.type == WSMsgType.TEXT:
                    await self._on_text(conn, msg.data, subscribable)
                elif msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
        except (ConnectionError, RuntimeError, asyncio.CancelledError):
            pass
        finally:
            conn.closed = True
            conn.detach()
            self.conns.discard(conn)
            if conn.sender is not None:
                conn.sender.cancel()
        return conn.ws

    async def _on_text(self, conn: StreamConn, text: str, subscribable: bool) -> None:
        """Binance's stream control frames: SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS."""
        try:
            msg = orjson.loads(text)
        except orjson.JSONDecodeError:
            await conn.ws.send_str(orjson.dumps({"error": {"code": 3, "msg": "Invalid JSON"}}).decode())
            return
        if not isinstance(msg, dict):
            await conn.ws.send_str(orjson.dumps({"error": {"code": 3, "msg": "Invalid JSON"}}).decode())
            return
        method, req_id, params = msg.get("method"), msg.get("id"), msg.get("params") or []
        if method == "SUBSCRIBE" and isinstance(params, list):
            if subscribable:
                for name in params:
                    lk = self.keys.get(str(name))
                    if lk is not None:
                        conn.attach(lk)
            reply: dict[str, Any] = {"result": None, "id": req_id}
        elif method == "UNSUBSCRIBE":
            if conn.listen_key is not None and conn.listen_key.key in [str(p) for p in params]:
                conn.detach()
                conn.listen_key = None
            reply = {"result": None, "id": req_id}
        elif method == "LIST_SUBSCRIPTIONS":
            reply = {"result": [conn.listen_key.key] if conn.listen_key else [], "id": req_id}
        else:
            reply = {"error": {"code": 2, "msg": f"Invalid request: unknown method {method!r}"}, "id": req_id}
        await conn.ws.send_str(orjson.dumps(reply).decode())

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/ws/{listen_key}", self.handle_raw)
        app.router.add_get("/private/ws/{listen_key}", self.handle_raw)
        for path in ("/private/stream", "/market/stream", "/public/stream", "/stream"):
            app.router.add_get(path, self.handle_combined)
