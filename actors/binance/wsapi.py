"""A thin asyncio client of Binance's WebSocket API (spot+margin /ws-api/v3, USD-M /ws-fapi/v1).

One connection, opened (and, for Ed25519 keys, authenticated with `session.logon`) in advance.
Requests are JSON text frames `{"id","method","params"}`; replies are correlated by `id` with a
Future per request. User data events arrive as `{"subscriptionId":N,"event":{...}}` and are routed
to the handler registered for N (the raw inner event bytes, for `wire.decode_user_event`).

Signing (web-socket-api.md "SIGNED request example"): `apiKey` + `timestamp` (+ `recvWindow`) are
added, all params except `signature` sorted by name, `k=v&...` unencoded, signed. After
`session.logon` only `timestamp` is needed.

Failure semantics (errors.py): no reply within the request timeout, or the connection lost while a
request was in flight -> `StatusUnknown` (the order MAY have executed); not connected when asked ->
`NotSent`. The connection is re-established with backoff; after a reconnect the session is logged
on again and the connect hooks run (user data streams re-subscribe there).

Hot path: ids are ints, params are a dict serialized once by orjson and sent as a TEXT frame from
bytes; replies are parsed once into an envelope with raw (unparsed) `result`/`event` slices.
No logging on the hot path.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import orjson

from .errors import ClockSkew, NotSent
from .params import Params, ws_params, ws_payload
from .signing import Signer
from .transport import TransportError
from .websocket import WebSocket
from .wire import BinanceRateLimit, decoder
from .wsapi_frames import _RATE_LIMITS, ConnectHook, EventHandler, _Envelope, _error_of, _expire, _order_ref
from .wsapi_reader import _WsApiReader

__all__ = ["WsApiClient", "EventHandler", "ConnectHook"]

log = logging.getLogger(__name__)


class WsApiClient(_WsApiReader):
    """Binance WebSocket API connection with request/reply correlation and reconnects."""

    def __init__(
        self,
        url: str,
        signer: Signer | None = None,
        *,
        on_event: Callable[[int | None, bytes], None] | None = None,
        on_state: Callable[[str], None] | None = None,
        request_timeout: float = 10.0,
        connect_timeout: float = 10.0,
        heartbeat: float | None = 30.0,
        recv_window: int | None = None,
        logon: bool | None = None,
        backoff_initial: float = 0.1,
        backoff_max: float = 5.0,
    ) -> None:
        self.url = url
        self.signer = signer
        self.request_timeout = request_timeout
        self.connect_timeout = connect_timeout
        self.heartbeat = heartbeat
        self.recv_window = recv_window
        self.time_offset_ms = 0
        self.use_logon = signer is not None and signer.supports_logon if logon is None else logon
        if self.use_logon and (signer is None or not signer.supports_logon):
            raise ValueError("session.logon needs an Ed25519 key")
        self.on_event = on_event
        self.on_state = on_state
        self.logged_on = False
        self.late_replies = 0  # replies that came after their request timed out
        self.bad_frames = 0  # frames we could not parse
        self.handler_errors = 0  # exceptions raised by event handlers
        self.unrouted_events = 0  # events with no handler
        self.reconnects = 0
        self.last_error: BaseException | None = None
        self._ws: WebSocket | None = None
        self._ready = asyncio.Event()
        self._pending: dict[int, asyncio.Future[_Envelope]] = {}
        self._reply_hooks: dict[int, Callable[[_Envelope], None]] = {}
        self._subscribers: dict[int, EventHandler] = {}
        self._connect_hooks: list[ConnectHook] = []
        self._next_id = 1
        self._run_task: asyncio.Task[None] | None = None
        self._closing = False
        self._fatal: BaseException | None = None
        self._rate_limits_raw: bytes = b""
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._connected_once = False
        self._setting_up = False  # True while logon / set-up requests run on a new connection

    def __repr__(self) -> str:
        return f"WsApiClient({self.url!r}, signer={self.signer!r}, connected={self.connected})"

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._ready.is_set()

    @property
    def rate_limits(self) -> list[BinanceRateLimit]:
        """The `rateLimits` of the last reply that carried them."""
        return _RATE_LIMITS.decode(self._rate_limits_raw) if self._rate_limits_raw else []

    def add_connect_hook(self, hook: ConnectHook) -> None:
        """`await hook(reconnected)` after every (re)connection and logon."""
        self._connect_hooks.append(hook)

    def remove_connect_hook(self, hook: ConnectHook) -> None:
        if hook in self._connect_hooks:
            self._connect_hooks.remove(hook)

    async def connect(self) -> None:
        """Start the connection task (once) and wait until connected (and logged on)."""
        if self._fatal is not None:
            raise self._fatal
        if self._run_task is None or self._run_task.done():
            self._closing = False
            self._run_task = asyncio.get_running_loop().create_task(self._run(), name=f"wsapi {self.url}")
        await self._wait_ready(self.connect_timeout)

    async def close(self) -> None:
        self._closing = True
        ws = self._ws
        if ws is not None:
            await ws.close()
        if self._run_task is not None:
            self._run_task.cancel()
            try:
                await self._run_task
            except (asyncio.CancelledError, Exception):
                pass
            self._run_task = None
        self._fail_pending(NotSent(0, 0, "client closed"))

    async def __aenter__(self) -> "WsApiClient":
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def reconnect(self) -> None:
        """Drop the current connection; the connection task opens a new one."""
        ws = self._ws
        if ws is not None:
            await ws.close()

    # -- requests ----------------------------------------------------------------------------
    def now_ms(self) -> int:
        return int(time.time() * 1000) + self.time_offset_ms

    async def request(
        self, method: str, params: Params = None, *, signed: bool = True, timeout: float | None = None, result_type: Any = None
    ) -> Any:
        """Send one request and return its `result` (a dict/list, or `result_type` if given).

        Raises the classified `BinanceAPIError` on an error reply; `StatusUnknown` on timeout or a
        connection lost in flight; `NotSent` when not connected within the timeout.
        On -1021 (clock skew) a signed request is retried once after a time sync.
        """
        try:
            env = await self._call(method, params, signed, timeout)
        except ClockSkew:
            if not signed:
                raise
            await self.sync_time()
            env = await self._call(method, params, signed, timeout)
        return self._result(env, result_type)

    async def place_order(self, params: Params, *, timeout: float | None = None, result_type: Any = None) -> Any:
        """`order.place` (spot and USD-M: the same params as the REST order endpoint).

        Python bools are sent as JSON booleans; USD-M documents `reduceOnly` / `closePosition` as
        STRING "true"/"false" (the official SDK sends strings): pass strings there."""
        return await self.request("order.place", params, timeout=timeout, result_type=result_type)

    async def order_status(
        self,
        symbol: str,
        *,
        order_id: int | None = None,
        orig_client_order_id: str | None = None,
        timeout: float | None = None,
        result_type: Any = None,
    ) -> Any:
        """`order.status` by orderId or origClientOrderId (raises `OrderNotFound` on -2013)."""
        return await self.request(
            "order.status", _order_ref(symbol, order_id, orig_client_order_id), timeout=timeout, result_type=result_type
        )

    async def cancel_order(
        self,
        symbol: str,
        *,
        order_id: int | None = None,
        orig_client_order_id: str | None = None,
        timeout: float | None = None,
        result_type: Any = None,
    ) -> Any:
        """`order.cancel` by orderId or origClientOrderId."""
        return await self.request(
            "order.cancel", _order_ref(symbol, order_id, orig_client_order_id), timeout=timeout, result_type=result_type
        )

    async def sync_time(self) -> int:
        """`time` request; keeps and returns the server time offset in ms."""
        t0 = time.time()
        env = await self._call("time", None, False, None)
        t1 = time.time()
        server = int(orjson.loads(bytes(env.result))["serverTime"])
        self.time_offset_ms = server - int((t0 + t1) * 500)
        return self.time_offset_ms

    async def logon(self) -> dict[str, Any]:
        """`session.logon` (Ed25519 keys only): afterwards requests need no apiKey/signature."""
        if self.signer is None or not self.signer.supports_logon:
            raise ValueError("session.logon needs an Ed25519 key")
        self.logged_on = False
        env = await self._call("session.logon", None, True, None)
        self.logged_on = True
        return self._result(env, None)

    # -- user data subscriptions -------------------------------------------------------------
    async def subscribe_user_data(self, handler: EventHandler) -> int:
        """Subscribe to this key's user data: `userDataStream.subscribe` when logged on,
        else `userDataStream.subscribe.signature`. Returns the subscriptionId."""
        if self.logged_on:
            return await self._subscribe("userDataStream.subscribe", None, False, handler)
        return await self._subscribe("userDataStream.subscribe.signature", None, True, handler)

    async def subscribe_listen_token(self, token: str, handler: EventHandler) -> int:
        """`userDataStream.subscribe.listenToken` (margin, token from POST /sapi/v1/userListenToken)."""
        return await self._subscribe("userDataStream.subscribe.listenToken", {"listenToken": token}, False, handler)

    async def unsubscribe(self, subscription_id: int | None = None) -> None:
        """`userDataStream.unsubscribe` (all subscriptions if `subscription_id` is None)."""
        params = None if subscription_id is None else {"subscriptionId": subscription_id}
        await self.request("userDataStream.unsubscribe", params, signed=False)
        if subscription_id is None:
            self._subscribers.clear()
        else:
            self._subscribers.pop(subscription_id, None)

    async def _subscribe(self, method: str, params: Params, signed: bool, handler: EventHandler) -> int:
        def register(env: _Envelope) -> None:
            # Runs in the reader before any later frame is processed, so no event is missed.
            if env.status < 400 and len(env.result):
                sub = orjson.loads(bytes(env.result)).get("subscriptionId")
                if isinstance(sub, int):
                    self._subscribers[sub] = handler

        env = await self._call(method, params, signed, None, register)
        result = self._result(env, None)
        return int(result["subscriptionId"])

    # -- internals: request path -------------------------------------------------------------
    async def _call(
        self, method: str, params: Params, signed: bool, timeout: float | None, reply_hook: Callable[[_Envelope], None] | None = None
    ) -> _Envelope:
        ws = self._ws
        if ws is None or not (self._ready.is_set() or self._setting_up):
            await self._wait_ready(self.request_timeout if timeout is None else timeout)
            ws = self._ws
            if ws is None:
                raise NotSent(0, 0, f"not connected: {method}")
        p = ws_params(params) if params is not None else {}
        if signed:
            self._sign(p)
        rid = self._next_id
        self._next_id = rid + 1
        if p:
            data = orjson.dumps({"id": rid, "method": method, "params": p})
        else:
            data = orjson.dumps({"id": rid, "method": method})
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[_Envelope] = loop.create_future()
        self._pending[rid] = fut
        if reply_hook is not None:
            self._reply_hooks[rid] = reply_hook
        try:
            ws.send_text(data)
        except (TransportError, RuntimeError) as exc:
            self._pending.pop(rid, None)
            self._reply_hooks.pop(rid, None)
            raise NotSent(0, 0, f"send failed for {method}: {type(exc).__name__}") from None
        wait = self.request_timeout if timeout is None else timeout
        handle = loop.call_later(wait, _expire, fut, method, wait)
        try:
            env = await fut
        finally:
            handle.cancel()
            self._pending.pop(rid, None)
            self._reply_hooks.pop(rid, None)
        if env.status >= 400 or len(env.error):
            raise _error_of(env)
        return env

    def _sign(self, p: dict[str, Any]) -> None:
        signer = self.signer
        if signer is None:
            raise ValueError("this WsApiClient has no API key (signer=None)")
        p["timestamp"] = int(time.time() * 1000) + self.time_offset_ms
        if self.recv_window is not None:
            p["recvWindow"] = self.recv_window
        if not self.logged_on:
            p["apiKey"] = signer.api_key
            p["signature"] = signer.sign(ws_payload(p))

    @staticmethod
    def _result(env: _Envelope, result_type: Any) -> Any:
        raw = env.result
        if not len(raw):
            return None
        if result_type is not None:
            return decoder(result_type).decode(raw)
        return orjson.loads(bytes(raw))
