"""The TUI's own client of the control actor (the TUI may import only `protocol`).

The wire is the control actor's: one msgpack frame (protocol.codec) per message on a DEALER
socket connected to the ROUTER at ipc://<runtime_dir>/control.ctl. Requests carry an id the reply
echoes; `Push`es (live events) arrive on the same socket once the connection has sent `Subscribe`.

`ControlLink` adds what a long-running UI needs on top of request/reply:
- a liveness probe (`GetStatus` every `probe_interval` seconds, whose answer also feeds the
  dashboard's master panel and top bar);
- a visible connection state: "connecting", "connected", "unreachable" (`on_state`);
- reconnection by itself: after a timeout the socket is replaced (a late reply can never be read
  as another request's answer), and when control answers again, or answers with another pid
  (it restarted between two probes and forgot our subscription), the link subscribes again and
  asks the UI to resynchronise (`on_state(..., resync=True)`).
"""
from __future__ import annotations

import asyncio
import itertools
from typing import Any, Callable, Final, Literal

import msgspec
import zmq
import zmq.asyncio

from protocol.codec import decode_control_server_msg, encode
from protocol.errors import ErrorCode, ProtocolError
from protocol.messages import ControlRequest, ControlResult, Error, GetStatus, Ok, Push, StatusResult, Subscribe

LinkState = Literal["connecting", "connected", "unreachable"]
DEFAULT_TIMEOUT: Final = 5.0
DEFAULT_PROBE_INTERVAL: Final = 2.0


class RequestFailed(Exception):
    """Control answered with an `Error` (code: protocol.errors.ErrorCode), or did not answer."""

    def __init__(self, code: int, reason: str) -> None:
        try:
            name = ErrorCode(code).name
        except ValueError:
            name = str(code)
        super().__init__(f"{name}: {reason}")
        self.code = code
        self.reason = reason


class ControlUnreachable(RequestFailed):
    def __init__(self, reason: str) -> None:
        super().__init__(ErrorCode.UNAVAILABLE, reason)


class ControlLink:
    """asyncio DEALER client with correlation by id, timeouts, a probe and reconnection."""

    def __init__(
        self,
        endpoint: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        probe_interval: float = DEFAULT_PROBE_INTERVAL,
        ctx: zmq.asyncio.Context | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.probe_interval = probe_interval
        self.state: LinkState = "connecting"
        self.detail = ""
        self.bad_messages = 0
        self.control_pid: int | None = None
        self._ctx = ctx or zmq.asyncio.Context.instance()
        self._sock: zmq.asyncio.Socket | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[Ok | Error]] = {}
        self._ids = itertools.count(1)
        self._on_push: Callable[[Push], Any] = lambda push: None
        self._subscribed = False

    # -------------------------------------------------------------------------------- socket
    def _open(self) -> zmq.asyncio.Socket:
        if self._sock is None:
            sock = self._ctx.socket(zmq.DEALER)
            sock.setsockopt(zmq.LINGER, 0)
            sock.setsockopt(zmq.IMMEDIATE, 1)  # never queue a request for a control that is not there
            sock.setsockopt(zmq.RECONNECT_IVL, 100)
            sock.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)
            sock.connect(self.endpoint)
            self._sock = sock
            self._reader = asyncio.get_running_loop().create_task(self._read(sock))
        return self._sock

    async def _close_socket(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            try:
                await reader
            except (asyncio.CancelledError, zmq.ZMQError):
                pass
        if self._sock is not None:
            self._sock.close(0)
            self._sock = None
        pending, self._pending = self._pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(ControlUnreachable("connection reset"))
        self._subscribed = False

    async def close(self) -> None:
        await self._close_socket()

    async def _read(self, sock: zmq.asyncio.Socket) -> None:
        while True:
            frames = await sock.recv_multipart()
            try:
                msg = decode_control_server_msg(frames[-1])
            except ProtocolError:
                self.bad_messages += 1
                continue
            if isinstance(msg, Push):
                try:
                    self._on_push(msg)
                except Exception:  # noqa: BLE001 - one bad push handler never stops the link
                    self.bad_messages += 1
                continue
            fut = self._pending.pop(msg.id, None)
            if fut is not None and not fut.done():
                fut.set_result(msg)

    # -------------------------------------------------------------------------------- requests
    async def request(self, msg: ControlRequest, timeout: float | None = None) -> ControlResult:
        """Send `msg` with a fresh id; the `ControlResult` of the `Ok`, else RequestFailed."""
        wait = self.timeout if timeout is None else timeout
        sock = self._open()
        request_id = next(self._ids)
        fut: asyncio.Future[Ok | Error] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = fut
        try:
            if not await sock.poll(int(wait * 1000), zmq.POLLOUT):
                raise ControlUnreachable(f"control not reachable at {self.endpoint}")
            await sock.send(encode(msgspec.structs.replace(msg, id=request_id)), zmq.NOBLOCK)
            try:
                reply = await asyncio.wait_for(fut, wait)
            except asyncio.TimeoutError:
                await self._close_socket()  # a late reply must not answer the next request
                raise ControlUnreachable(f"no reply from control within {wait:g}s") from None
        except zmq.ZMQError as exc:
            await self._close_socket()
            raise ControlUnreachable(f"control socket: {exc.strerror}") from None
        finally:
            self._pending.pop(request_id, None)
        if isinstance(reply, Error):
            raise RequestFailed(reply.code, reply.reason)
        return reply.result

    # -------------------------------------------------------------------------------- the loop
    async def run(
        self,
        on_push: Callable[[Push], Any],
        on_state: Callable[[LinkState, str, bool], Any],
        on_status: Callable[[StatusResult], Any],
    ) -> None:
        """Probe forever: `on_status` with every status, `on_state(state, detail, resync)` when the
        connection state changes (resync: the UI must reload everything), pushes to `on_push`."""
        self._on_push = on_push
        try:
            while True:
                await self.probe(on_state, on_status)
                await asyncio.sleep(self.probe_interval)
        finally:
            await self._close_socket()

    async def probe(
        self, on_state: Callable[[LinkState, str, bool], Any], on_status: Callable[[StatusResult], Any]
    ) -> None:
        try:
            status = await self.request(GetStatus(id=0))
            if not isinstance(status, StatusResult):
                raise RequestFailed(ErrorCode.BAD_MESSAGE, f"GetStatus answered {type(status).__name__}")
            pid = next((a.pid for a in status.actors if a.name == "control"), None)
            restarted = self.control_pid is not None and pid is not None and pid != self.control_pid
            self.control_pid = pid if pid is not None else self.control_pid
            resync = self.state != "connected" or restarted or not self._subscribed
            if resync:
                await self.request(Subscribe(id=0))  # every kind
                self._subscribed = True
            if self.state != "connected" or resync:
                self._set_state("connected", "", on_state, resync)
            on_status(status)
        except RequestFailed as exc:
            self._subscribed = False
            if self.state != "unreachable" or self.detail != exc.reason:
                self._set_state("unreachable", exc.reason, on_state, False)

    def _set_state(self, state: LinkState, detail: str, on_state: Callable[[LinkState, str, bool], Any],
                   resync: bool) -> None:
        self.state = state
        self.detail = detail
        on_state(state, detail, resync)
