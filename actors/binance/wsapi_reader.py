"""The WS API client's connection side: the reader task that routes each frame (replies to their
request's Future, events to their subscription), reconnects with backoff, logs on again and runs the
connect hooks; waiting for the connection, and failing what was in flight when it went.
"""

from __future__ import annotations

import asyncio
import logging

import msgspec
import orjson

from .errors import AuthError, BinanceAPIError, ClockSkew, NotSent, StatusUnknown, classify_payload
from .websocket import WebSocket, ws_connect
from .wsapi_frames import _ENVELOPE, _EVENT_TYPE_SHUTDOWN, _Envelope

log = logging.getLogger("actors.binance.wsapi")  # the client's own logger


class _WsApiReader:
    """The part of `WsApiClient` (wsapi.py) named in this module's docstring; `WsApiClient` inherits it."""

    # -- internals: reader -------------------------------------------------------------------
    def _dispatch(self, data: bytes) -> None:
        try:
            env = _ENVELOPE.decode(data)
        except (msgspec.DecodeError, msgspec.ValidationError):
            self.bad_frames += 1
            return
        if len(env.event):
            self._route_event(env)
            return
        if len(env.rateLimits):
            self._rate_limits_raw = bytes(env.rateLimits)
        rid = env.id
        fut = self._pending.get(rid) if type(rid) is int else None
        if fut is None:
            if rid is None and env.status >= 400:
                self._unsolicited_error(env)
            else:
                self.late_replies += 1
            return
        hook = self._reply_hooks.pop(rid, None)  # type: ignore[arg-type]
        if hook is not None:
            try:
                hook(env)
            except Exception:  # noqa: BLE001 - a hook must not kill the reader
                self.handler_errors += 1
        if not fut.done():
            fut.set_result(env)

    def _route_event(self, env: _Envelope) -> None:
        raw = bytes(env.event)
        sub = env.subscriptionId
        handler = self._subscribers.get(sub) if sub is not None else None
        try:
            if handler is not None:
                handler(raw)
            elif self.on_event is not None:
                self.on_event(sub, raw)
            else:
                self.unrouted_events += 1
        except Exception:  # noqa: BLE001 - one bad event never kills the connection
            self.handler_errors += 1
            log.exception("user data handler failed")
        if sub is None and _EVENT_TYPE_SHUTDOWN in raw:
            # serverShutdown: reconnect now rather than be cut off later.
            asyncio.get_running_loop().create_task(self.reconnect())

    def _unsolicited_error(self, env: _Envelope) -> None:
        try:
            body = orjson.loads(bytes(env.error)) if len(env.error) else {}
        except orjson.JSONDecodeError:
            body = {}
        exc = classify_payload(env.status, body.get("code"), body.get("msg"))
        self.last_error = exc
        if isinstance(exc, AuthError):
            # API key revoked during the session (web-socket-api.md "Session Authentication").
            self.logged_on = False
            asyncio.get_running_loop().create_task(self.reconnect())

    async def _run(self) -> None:
        backoff = self._backoff_initial
        self._state("connecting")
        while not self._closing:
            try:
                ws = await ws_connect(
                    self.url, self._dispatch, heartbeat=self.heartbeat, timeout=self.connect_timeout, max_size=16 * 1024 * 1024
                )
            except (TimeoutError, OSError) as exc:
                self.last_error = exc
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self._backoff_max)
                continue
            self._ws = ws
            # Requests in flight learn at once that their connection is gone.
            ws.closed.add_done_callback(self._connection_gone)
            try:
                await self._on_connected(ws)
                backoff = self._backoff_initial
                await ws.closed
            except AuthError as exc:
                self._fatal = exc
                self.last_error = exc
                self._state("failed")
                self._closing = True
            except (TimeoutError, BinanceAPIError, OSError) as exc:
                self.last_error = exc
            finally:
                self._ready.clear()
                self.logged_on = False
                self._subscribers.clear()
                self._ws = None
                self.handler_errors += ws.handler_errors
                ws.handler_errors = 0
                await ws.close(timeout=1.0)
                self._fail_pending(StatusUnknown(0, 0, "connection lost before the reply"))
            if self._closing:
                break
            self._state("disconnected")
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._backoff_max)

    def _connection_gone(self, _: asyncio.Future[None]) -> None:
        self._ready.clear()
        self._fail_pending(StatusUnknown(0, 0, "connection lost before the reply"))

    async def _on_connected(self, ws: WebSocket) -> None:
        reconnected = self._connected_once
        self._setting_up = True
        try:
            if self.use_logon:
                try:
                    await self.logon()
                except ClockSkew:
                    await self.sync_time()
                    await self.logon()
        finally:
            self._setting_up = False
        self._ready.set()
        self._connected_once = True
        if reconnected:
            self.reconnects += 1
        self._state("reconnected" if reconnected else "connected")
        for hook in list(self._connect_hooks):
            try:
                await hook(reconnected)
            except BinanceAPIError as exc:
                self.last_error = exc
                await ws.close()  # try again on a fresh connection
                return

    def _state(self, state: str) -> None:
        if self.on_state is not None:
            try:
                self.on_state(state)
            except Exception:  # noqa: BLE001
                self.handler_errors += 1

    async def _wait_ready(self, timeout: float) -> None:
        if self._ready.is_set():
            return
        if self._fatal is not None:
            raise self._fatal
        run = self._run_task
        if run is None:
            raise NotSent(0, 0, "not connected (call connect() first)")
        waiter = asyncio.ensure_future(self._ready.wait())
        try:
            await asyncio.wait((waiter, run), timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if self._ready.is_set():
            return
        if self._fatal is not None:
            raise self._fatal
        raise NotSent(0, 0, f"not connected within {timeout}s")

    def _fail_pending(self, exc: BinanceAPIError) -> None:
        pending, self._pending = self._pending, {}
        self._reply_hooks.clear()
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(type(exc)(exc.http_status, exc.code, exc.msg))
                fut.exception()  # mark retrieved: the waiter may already be gone
