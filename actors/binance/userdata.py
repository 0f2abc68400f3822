"""User data streams: USD-M futures (listenKey), spot and cross margin (WebSocket API).

Every stream reports its state through `on_state(state)`:
- "connecting": before the first connection;
- "connected": the first subscription/connection is live;
- "disconnected": events may be missing from now on (buffer nothing yet, stop trusting state);
- "reconnected": live again after a gap: the actor must rebuild its state from REST (buffering the
  events that arrive meanwhile, then draining them) because events during the gap are lost.
Events are handed over raw (`on_event(bytes)`, one event JSON object) for `wire.decode_user_event`.

Futures (usdm/private_websocket_api.md "User Data Streams Connect", and the USD-M "Important WebSocket
Change Notice — Base URL Split & Migration" of 2026-03-06): POST /fapi/v1/listenKey, connect in ws mode
of the `/private` route, `{stream_base}/private/ws?listenKey=<key>&events=ORDER_TRADE_UPDATE/...`
(`endpoints.futures_user_stream_url`; the events named are `endpoints.FUTURES_USER_EVENTS`, raw events
arrive, as on the retired `/ws/<listenKey>`), PUT every 30 min (validity 60 min; -1125 means the key is
gone: make a new one), `listenKeyExpired` -> new key and reconnect; 24 h connection limit -> reconnect.
A stall (no frame and no pong) is caught by the WebSocket heartbeat.

Spot: `userDataStream.subscribe` after Ed25519 logon, else `userDataStream.subscribe.signature`.
Margin: POST /sapi/v1/userListenToken (validity up to 24 h), `userDataStream.subscribe.listenToken`,
renewed before expiry with a new token and a new subscription; `eventStreamTerminated` ->
resubscribe.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from .endpoints import FUTURES_USER_EVENTS, futures_user_stream_url
from .errors import BinanceAPIError
from .rest import RestClient
from .websocket import WebSocket, ws_connect
from .wsapi import WsApiClient

__all__ = ["FuturesUserStream", "SpotUserStream", "MarginUserStream", "StateCallback", "RawEventCallback"]

log = logging.getLogger(__name__)

RawEventCallback = Callable[[bytes], None]
StateCallback = Callable[[str], None]

_LISTEN_KEY_EXPIRED = b'"listenKeyExpired"'
_STREAM_TERMINATED = b'"eventStreamTerminated"'
_LISTEN_KEY_MISSING = -1125  # "This listenKey does not exist."


class _StateMixin:
    on_state: StateCallback
    state: str = "idle"
    handler_errors: int = 0

    def _set_state(self, state: str) -> None:
        self.state = state
        try:
            self.on_state(state)
        except Exception:  # noqa: BLE001 - a callback must not kill the stream
            self.handler_errors += 1
            log.exception("on_state callback failed")

    def _deliver(self, on_event: RawEventCallback, raw: bytes) -> None:
        try:
            on_event(raw)
        except Exception:  # noqa: BLE001
            self.handler_errors += 1
            log.exception("on_event callback failed")


class FuturesUserStream(_StateMixin):
    """USD-M futures user data over a listenKey stream, with keepalive and reconnects."""

    def __init__(
        self,
        rest: RestClient,
        stream_base: str,
        on_event: RawEventCallback,
        on_state: StateCallback,
        *,
        keepalive_interval: float = 30 * 60,
        heartbeat: float | None = 30.0,
        events: Iterable[str] = FUTURES_USER_EVENTS,
        backoff_initial: float = 0.2,
        backoff_max: float = 10.0,
        listen_key_path: str = "/fapi/v1/listenKey",
    ) -> None:
        self.rest = rest
        self.stream_base = stream_base.rstrip("/")
        self.on_event = on_event
        self.on_state = on_state
        self.keepalive_interval = keepalive_interval
        self.heartbeat = heartbeat
        self.events = tuple(events)
        futures_user_stream_url(self.stream_base, "probe", self.events)  # bad event names fail here, not later
        self.listen_key_path = listen_key_path
        self.listen_key: str | None = None
        self.keepalives = 0  # successful PUTs
        self.reconnects = 0
        self.last_error: BaseException | None = None
        self._backoff_initial = backoff_initial
        self._backoff_max = backoff_max
        self._task: asyncio.Task[None] | None = None
        self._ws: WebSocket | None = None
        self._renew = False  # next connection needs a fresh listenKey
        self._closing = False
        self._connected_once = False

    def __repr__(self) -> str:
        return f"FuturesUserStream({self.stream_base!r}, state={self.state!r})"

    async def start(self) -> None:
        """Start the stream task (returns at once; watch `on_state`)."""
        if self._task is None or self._task.done():
            self._closing = False
            self._task = asyncio.get_running_loop().create_task(self._run(), name="futures user stream")

    async def stop(self, *, close_listen_key: bool = False) -> None:
        """Stop. `close_listen_key` DELETEs the key (only if no other process uses this account's key)."""
        self._closing = True
        ws = self._ws
        if ws is not None:
            await ws.close()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None
        if close_listen_key and self.listen_key:
            try:
                await self.rest.api_key_only("DELETE", self.listen_key_path)
            except BinanceAPIError as exc:
                self.last_error = exc

    async def reconnect(self, *, new_key: bool = False) -> None:
        """Drop the connection (the task reconnects); `new_key` forces a fresh listenKey."""
        self._renew = self._renew or new_key
        ws = self._ws
        if ws is not None:
            await ws.close()

    # -- internals ---------------------------------------------------------------------------
    async def _listen_key(self) -> str:
        reply = await self.rest.api_key_only("POST", self.listen_key_path)
        key = reply["listenKey"]
        if not isinstance(key, str) or not key:
            raise ValueError("listenKey reply without a key")
        return key

    async def _run(self) -> None:
        backoff = self._backoff_initial
        self._set_state("connecting")
        while not self._closing:
            try:
                self.listen_key = await self._listen_key()
                self._renew = False
                url = futures_user_stream_url(self.stream_base, self.listen_key, self.events)
                ws = await ws_connect(url, self._on_frame, heartbeat=self.heartbeat)
            except (TimeoutError, BinanceAPIError, OSError, ValueError, KeyError) as exc:
                self.last_error = exc
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._backoff_max)
                continue
            self._ws = ws
            if self._renew:  # listenKeyExpired came with the upgrade reply
                ws.abort()
            backoff = self._backoff_initial
            if self._connected_once:
                self.reconnects += 1
                self._set_state("reconnected")
            else:
                self._connected_once = True
                self._set_state("connected")
            keepalive = asyncio.get_running_loop().create_task(self._keepalive(ws))
            try:
                await ws.closed
            finally:
                keepalive.cancel()
                self._ws = None
                await ws.close(timeout=1.0)
            if self._closing:
                break
            self._set_state("disconnected")
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._backoff_max)

    def _on_frame(self, data: bytes) -> None:
        self._deliver(self.on_event, data)
        if _LISTEN_KEY_EXPIRED in data:
            # "No more user data event will be updated ... until a new valid listenKey used."
            self._renew = True
            ws = self._ws
            if ws is not None:
                ws.abort()

    async def _keepalive(self, ws: WebSocket) -> None:
        while not ws.closed.done():
            await asyncio.sleep(self.keepalive_interval)
            try:
                await self.rest.api_key_only("PUT", self.listen_key_path)
                self.keepalives += 1
            except BinanceAPIError as exc:
                self.last_error = exc
                if exc.code == _LISTEN_KEY_MISSING:
                    self._renew = True
                    await ws.close()
                    return


class SpotUserStream(_StateMixin):
    """Spot user data over a WebSocket API subscription (shares the order connection if you like)."""

    def __init__(self, ws: WsApiClient, on_event: RawEventCallback, on_state: StateCallback) -> None:
        self.ws = ws
        self.on_event = on_event
        self.on_state = on_state
        self.subscription_id: int | None = None
        self.resubscribes = 0
        self.last_error: BaseException | None = None
        self._user_on_state = ws.on_state
        self._started = False
        self._lock = asyncio.Lock()

    async def start(self) -> None:
        """Connect the WebSocket API client if needed and subscribe. Raises if the first subscribe fails."""
        if self._started:
            return
        self._started = True
        self._chain_state()
        self.ws.add_connect_hook(self._on_connect)
        self._set_state("connecting")
        await self.ws.connect()
        if self.subscription_id is None:
            await self._subscribe()
            self._set_state("connected")

    async def stop(self) -> None:
        self.ws.remove_connect_hook(self._on_connect)
        self.ws.on_state = self._user_on_state
        if self.subscription_id is not None and self.ws.connected:
            try:
                await self.ws.unsubscribe(self.subscription_id)
            except BinanceAPIError as exc:
                self.last_error = exc
        self.subscription_id = None
        self._started = False

    async def _subscribe_once(self) -> int:
        return await self.ws.subscribe_user_data(self._handle)

    async def _subscribe(self) -> None:
        async with self._lock:
            self.subscription_id = await self._subscribe_once()

    def _handle(self, raw: bytes) -> None:
        self._deliver(self.on_event, raw)
        if _STREAM_TERMINATED in raw:
            asyncio.get_running_loop().create_task(self._resubscribe())

    async def _resubscribe(self) -> None:
        self._set_state("disconnected")
        self.subscription_id = None
        try:
            await self._subscribe()
        except BinanceAPIError as exc:
            self.last_error = exc
            await self.ws.reconnect()  # the connect hook tries again
            return
        self.resubscribes += 1
        self._set_state("reconnected")

    async def _on_connect(self, reconnected: bool) -> None:
        if not reconnected or not self._started:
            return  # the first subscription is made by start()
        self.subscription_id = None
        await self._subscribe()  # errors make the client reconnect and call us again
        self.resubscribes += 1
        self._set_state("reconnected")

    def _chain_state(self) -> None:
        previous = self._user_on_state

        def on_ws_state(state: str) -> None:
            if previous is not None:
                previous(state)
            if state == "disconnected" and self.subscription_id is not None:
                self.subscription_id = None
                self._set_state("disconnected")

        self.ws.on_state = on_ws_state


class MarginUserStream(SpotUserStream):
    """Cross margin user data: listenToken from REST, subscribed over the WebSocket API, renewed."""

    def __init__(
        self,
        rest: RestClient,
        ws: WsApiClient,
        on_event: RawEventCallback,
        on_state: StateCallback,
        *,
        validity_ms: int | None = None,
        renew_margin: float = 0.1,
        signed_token_request: bool = False,
        token_path: str = "/sapi/v1/userListenToken",
    ) -> None:
        super().__init__(ws, on_event, on_state)
        self.rest = rest
        self.validity_ms = validity_ms
        self.renew_margin = renew_margin
        self.signed_token_request = signed_token_request
        self.token_path = token_path
        self.expiration_ms: int | None = None
        self.renewals = 0
        self._renew_task: asyncio.Task[None] | None = None

    async def stop(self) -> None:
        if self._renew_task is not None:
            self._renew_task.cancel()
            self._renew_task = None
        await super().stop()

    async def _token(self) -> tuple[str, int]:
        params: dict[str, Any] = {}
        if self.validity_ms is not None:
            params["validity"] = self.validity_ms
        if self.signed_token_request:
            reply = await self.rest.signed("POST", self.token_path, params)
        else:
            reply = await self.rest.api_key_only("POST", self.token_path, params)
        return str(reply["token"]), int(reply["expirationTime"])

    async def _subscribe_once(self) -> int:
        token, expiration = await self._token()
        sub = await self.ws.subscribe_listen_token(token, self._handle)
        self.expiration_ms = expiration
        self._schedule_renewal()
        return sub

    def _schedule_renewal(self) -> None:
        if self._renew_task is not None and not self._renew_task.done():
            if self._renew_task is not asyncio.current_task():
                self._renew_task.cancel()
        if self.expiration_ms is None:
            return
        remaining = self.expiration_ms / 1000.0 - time.time()
        delay = max(0.05, remaining * (1.0 - self.renew_margin))
        self._renew_task = asyncio.get_running_loop().create_task(self._renew_after(delay))

    async def _renew_after(self, delay: float) -> None:
        await asyncio.sleep(delay)
        old = self.subscription_id
        try:
            async with self._lock:
                token, expiration = await self._token()
                # "call userDataStream.subscribe.listenToken again with the new token before the
                # current subscription expires": the subscription continues seamlessly.
                self.subscription_id = await self.ws.subscribe_listen_token(token, self._handle)
                self.expiration_ms = expiration
        except (BinanceAPIError, KeyError, ValueError) as exc:
            self.last_error = exc
            self._renew_task = None
            self._schedule_retry()
            return
        self.renewals += 1
        if old is not None and old != self.subscription_id:
            try:
                await self.ws.unsubscribe(old)
            except BinanceAPIError as exc:
                self.last_error = exc
        self._renew_task = None
        self._schedule_renewal()

    def _schedule_retry(self) -> None:
        self._renew_task = asyncio.get_running_loop().create_task(self._renew_after(1.0))
