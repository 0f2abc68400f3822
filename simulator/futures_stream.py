"""USD-M futures user-data streams: listenKeys and the stream WebSocket.

- ``POST /fapi/v1/listenKey`` creates a key (or returns the account's active key, extended);
  ``PUT`` extends it (-1125 when it does not exist); ``DELETE`` closes it and its streams.
- A key expires ``listen_key_ttl`` seconds (default 3600) after its last keepalive: every stream on
  it receives ``{"e":"listenKeyExpired","E":"<ms>","listenKey":...}`` and no further events (the
  connection stays open, as on Binance). A connection is closed ``max_connection_age`` seconds
  (default 86400) after it opened. Both come from the ``[futures]`` table of the config
  (``listen_key_ttl``, ``max_connection_age``) and can be changed at run time.
- Routes, as Binance documents them since the 2026 URL split (USD-M "Important WebSocket Change
  Notice — Base URL Split & Migration", 2026-03-06; legacy URLs retired 2026-04-23):
  - ws mode ``/private/ws?listenKey=<k>&events=ORDER_TRADE_UPDATE/ACCOUNT_UPDATE``: raw events;
  - stream mode ``/private/stream?listenKey=<k1>&events=...&listenKey=<k2>&events=...``: events
    wrapped as ``{"stream": <listenKey>, "data": {...}}``;
  - SUBSCRIBE on either (``{"method":"SUBSCRIBE","params":[<listenKey>],"id":1}`` -> ``{"result":null,"id":1}``),
    what ``binance-sdk-derivatives-trading-usds-futures``'s ``user_data()`` does on ``/private/stream``;
    UNSUBSCRIBE, LIST_SUBSCRIPTIONS, SET/GET_PROPERTY ``combined`` and Binance's error frames
    (``simulator/stream_control.py``).
  The ``events`` filter is honoured: an event type not named is not delivered (listenKeyExpired
  too). A listenKey given in the URL without ``events`` receives nothing (Binance documents no
  default; the connection stays open and the simulator logs a warning); a bare listenKey in
  SUBSCRIBE receives every event (the official SDK relies on it). An unknown event name or listenKey
  refuses the connection (HTTP 400). ``/market`` and ``/public`` (ws and stream mode) accept the same
  frames and deliver nothing (the SDK opens them too). The retired ``/ws/...``, ``/stream`` and the
  undocumented ``/private/ws/<listenKey>`` answer HTTP 404 naming the documented forms.
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
from simulator.stream_control import QueryError, control_reply, parse_private_query

if TYPE_CHECKING:
    from simulator.core import Sim

log = logging.getLogger("simulator.futures_stream")

MARKET = "futures"
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


RETIRED = (
    "this stream URL was retired on 2026-04-23 (USD-M 'Important WebSocket Change Notice'): user data is "
    "at /private/ws?listenKey=<listenKey>&events=ORDER_TRADE_UPDATE/ACCOUNT_UPDATE/..., "
    "/private/stream?listenKey=<k1>&events=...&listenKey=<k2>&events=..., or SUBSCRIBE on /private/stream"
)


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
    __slots__ = ("key", "account_id", "expires_at", "follows")

    def __init__(self, key: str, account_id: str, expires_at: float) -> None:
        self.key = key
        self.account_id = account_id
        self.expires_at = expires_at  # time.monotonic() deadline
        self.follows: set[Follow] = set()


class Follow:
    """One listenKey followed by one connection, with its `events` filter: a `Sink` of the hub."""

    __slots__ = ("conn", "lk", "events", "account_id")
    market = MARKET

    def __init__(self, conn: "StreamConn", lk: ListenKey, events: frozenset[str] | None) -> None:
        self.conn = conn
        self.lk = lk
        self.events = events  # None: every event (a bare listenKey in SUBSCRIBE)
        self.account_id = lk.account_id

    def push(self, event: dict[str, Any]) -> None:
        if self.events is None or event.get("e") in self.events:
            self.conn.push(self.lk.key, self.account_id, event)


class StreamConn:
    """One stream connection; it follows any number of listenKeys (`Follow`s)."""

    def __init__(self, streams: "FuturesStreams", ws: web.WebSocketResponse, combined: bool, private: bool) -> None:
        self.streams = streams
        self.ws = ws
        self.combined = combined  # stream mode: {"stream": <listenKey>, "data": <event>}
        self.private = private  # the /private route (the only one that carries user data)
        self.follows: dict[str, Follow] = {}
        self.silent: list[str] = []  # listenKeys given without events (nothing named, nothing delivered)
        self.other: list[str] = []  # market/public stream names SUBSCRIBEd (the simulator sends none)
        self.opened_at = time.monotonic()
        self.queue: asyncio.Queue[tuple[str, str, dict[str, Any]]] = asyncio.Queue()
        self.closed = False
        self.sender: asyncio.Task[None] | None = None
        self.transport: asyncio.Transport | None = None  # the request's, for batched writes

    def follows_account(self, account_id: str) -> bool:
        return any(f.account_id == account_id for f in self.follows.values())

    def push(self, key: str, account_id: str, event: dict[str, Any]) -> None:
        if not self.closed:
            self.queue.put_nowait((key, account_id, event))

    def follow(self, lk: ListenKey, events: frozenset[str] | None) -> None:
        self.unfollow(lk.key)
        f = self.follows[lk.key] = Follow(self, lk, events)
        lk.follows.add(f)
        self.streams.sim.hub.subscribe(f)

    def unfollow(self, key: str) -> None:
        """Stop receiving one listenKey's events (the connection itself stays open)."""
        f = self.follows.pop(key, None)
        if f is not None:
            f.lk.follows.discard(f)
            self.streams.sim.hub.unsubscribe(f)

    def detach(self) -> None:
        for key in list(self.follows):
            self.unfollow(key)

    # -- the control frames' view (stream_control.Subscriptions) -----------------------------------------
    def subscribe(self, names: list[str]) -> str | None:
        keys = [n for n in names if "@" not in n]
        found = [self.streams.keys.get(k) for k in keys] if self.private else []
        if self.private and any(lk is None for lk in found):
            return "Invalid request: invalid stream"  # not a live listenKey (nothing subscribed)
        for lk in found:
            assert lk is not None
            self.follow(lk, None)  # a bare listenKey: all its events (what the official SDK sends)
        self.other += [n for n in names if n not in self.other and (not self.private or "@" in n)]
        return None

    def unsubscribe(self, names: list[str]) -> None:
        for name in names:
            self.unfollow(name)
            if name in self.other:
                self.other.remove(name)
            if name in self.silent:
                self.silent.remove(name)

    def names(self) -> list[str]:
        return [*self.follows, *self.silent, *self.other]

    # -- sending -----------------------------------------------------------------------------------------
    def _payload(self, key: str, event: dict[str, Any]) -> bytes:
        if self.combined:
            return orjson.dumps({"stream": key, "data": event})
        return orjson.dumps(event)

    async def send_loop(self) -> None:
        faults = self.streams.sim.faults
        queue = self.queue
        while True:
            item = await queue.get()
            account = item[1] or None
            await faults.stream_gate(account)
            if self.closed:
                return
            batch = [item]
            # Events queued meanwhile (an order's NEW, TRADE and ACCOUNT_UPDATE) leave in ONE socket
            # write when no stall or stream latency applies: each write to a loopback socket costs a
            # wake-up of the reader, which dominated the simulator's time per order.
            if not queue.empty() and not faults.latency.get("stream") and faults.stall_left(account) <= 0:
                while not queue.empty():
                    batch.append(queue.get_nowait())
            try:
                transport = self.transport
                if len(batch) > 1 and transport is not None and not self.ws.compress and not transport.is_closing():
                    transport.write(b"".join(text_frame(self._payload(k, e)) for k, _, e in batch))
                else:
                    for k, _, e in batch:
                        await self.ws.send_str(self._payload(k, e).decode())
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
        for f in list(lk.follows):
            f.conn.unfollow(lk.key)
            if not f.conn.follows:
                f.conn.close(1000, b"listenKey closed")

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
        for f in list(lk.follows):
            f.push(event)  # through its events filter, like every other event
            f.conn.unfollow(lk.key)

    def drop(self, account_id: str | None = None) -> int:
        count = 0
        for conn in list(self.conns):
            if conn.closed or (account_id is not None and not conn.follows_account(account_id)):
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
    async def handle_private(self, request: web.Request) -> web.StreamResponse:
        """``/private/ws`` (ws mode: raw events) and ``/private/stream`` (stream mode: wrapped)."""
        try:
            pairs = parse_private_query(request.query.items())
        except QueryError as exc:
            return web.json_response({"code": errors.INVALID_PARAMETER, "msg": str(exc)}, status=400)
        found = [(self.keys.get(key), events) for key, events in pairs]
        if any(lk is None for lk, _ in found):
            return web.json_response(listen_key_missing().body(), status=400)
        conn = await self._open(request, combined=request.path.endswith("/stream"), private=True)
        for lk, events in found:
            assert lk is not None
            if events is None:
                # Binance documents every listenKey of these forms with its events and no default:
                # no event named, none delivered (the connection stays open: say so in our log)
                log.warning("a %s connection gave a listenKey without events: it receives nothing", request.path)
                conn.silent.append(lk.key)
            else:
                conn.follow(lk, events)
        return await self._serve(conn)

    async def handle_routed(self, request: web.Request) -> web.StreamResponse:
        """``/market`` and ``/public`` (ws and stream mode): SUBSCRIBE frames answered, nothing sent."""
        conn = await self._open(request, combined=request.path.endswith("/stream"), private=False)
        conn.other += [s for s in request.query.get("streams", "").split("/") if s]
        return await self._serve(conn)

    async def handle_retired(self, request: web.Request) -> web.StreamResponse:
        """The legacy ``/ws/...`` and ``/stream`` (retired 2026-04-23) and the undocumented
        ``/private/ws/<listenKey>``: refused, so no client relies on a form live Binance no longer serves."""
        return web.Response(status=404, text=RETIRED)

    async def _open(self, request: web.Request, combined: bool, private: bool) -> StreamConn:
        ws = web.WebSocketResponse(heartbeat=30.0)
        await ws.prepare(request)
        conn = StreamConn(self, ws, combined=combined, private=private)
        conn.transport = request.transport  # type: ignore[assignment]
        return conn

    async def _serve(self, conn: StreamConn) -> web.WebSocketResponse:
        self.conns.add(conn)
        conn.sender = asyncio.get_running_loop().create_task(conn.send_loop())
        try:
            async for msg in conn.ws:
                if msg.type == WSMsgType.TEXT:
                    await self._on_text(conn, msg.data)
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

    async def _on_text(self, conn: StreamConn, text: str) -> None:
        """Binance's stream control frames (SUBSCRIBE, UNSUBSCRIBE, LIST_SUBSCRIPTIONS, *_PROPERTY)."""
        try:
            msg: Any = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            reply: dict[str, Any] = {"error": {"code": 3, "msg": f"Invalid JSON: {exc}"}, "id": None}
        else:
            reply = control_reply(conn, msg)
        await conn.ws.send_str(orjson.dumps(reply).decode())

    def add_routes(self, app: web.Application) -> None:
        for path in ("/private/ws", "/private/stream"):
            app.router.add_get(path, self.handle_private)
        for path in ("/market/ws", "/market/stream", "/public/ws", "/public/stream"):
            app.router.add_get(path, self.handle_routed)
        for path in ("/ws/{tail:.*}", "/stream", "/private/ws/{tail:.*}"):
            app.router.add_get(path, self.handle_retired)
