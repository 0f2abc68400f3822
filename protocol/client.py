"""The one client of the control actor's ROUTER socket (a DEALER), used by the CLI and the TUI:
request -> reply correlated by id, timeouts, reconnection, live `Push`es once subscribed.

    async with AsyncControlClient(endpoint) as client:            # the TUI, tests
        status = await client.request(GetStatus(id=0))             # the id is assigned here
        await client.request(Subscribe(id=0, kinds=("failed",)))
        push = await client.pushes.get()                           # or on_push=callback

    with ControlClient(endpoint, timeout=5) as client:             # blocking: the CLI
        result = client.request(ListSlaves(id=0))

`request` returns the `ControlResult` of an `Ok` and raises `ControlError` (its `code` a
protocol ErrorCode) for an `Error`; `ControlTimeout` when no reply came in time,
`ControlUnavailable` when the control actor cannot be reached.

The wire: one frame per message (msgpack body, protocol.codec), no empty delimiter frame. A reply
that arrives after its request timed out is dropped (ids never repeat), and after a timeout the
socket is replaced, so the control actor sees a new connection: it has forgotten the old one's
subscription, hence `subscribed` turns False and `reconnect()` subscribes again.

This module imports zmq, unlike the rest of `protocol` (msgspec and the standard library only):
it is the protocol's other half, and the TUI may import nothing of ours but `protocol`.
"""

from __future__ import annotations

import asyncio
import itertools
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import msgspec
import zmq
import zmq.asyncio

from .codec import decode_control_server_msg, encode
from .control_api import ControlRequest, ControlResult, Ok, Push, Subscribe, Unsubscribe
from .errors import ErrorCode, ProtocolError
from .messages import Error

DEFAULT_TIMEOUT: Final = 5.0
RECONNECT_AFTER_TIMEOUTS: Final = 2


class ControlError(Exception):
    """The control actor answered with an Error (or could not be reached, or did not answer)."""

    def __init__(self, code: int, reason: str) -> None:
        try:
            name = ErrorCode(code).name
        except ValueError:
            name = str(code)
        super().__init__(f"{name}: {reason}")
        self.code = code
        self.reason = reason


class ControlTimeout(ControlError):
    def __init__(self, reason: str) -> None:
        super().__init__(ErrorCode.TIMEOUT, reason)


class ControlUnavailable(ControlError):
    def __init__(self, reason: str) -> None:
        super().__init__(ErrorCode.UNAVAILABLE, reason)


def ipc_path(endpoint: str) -> Path | None:
    return Path(endpoint[len("ipc://") :]) if endpoint.startswith("ipc://") else None


def control_running(endpoint: str) -> bool:
    """Is something accepting connections on this ipc:// endpoint right now? (tcp: assumed yes)"""
    path = ipc_path(endpoint)
    if path is None:
        return True
    if not path.exists():
        return False
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1.0)
    try:
        probe.connect(str(path))
    except OSError:  # refused: a stale socket file left by a dead control actor
        return False
    finally:
        probe.close()
    return True


def _first_id() -> int:
    # ids differ across runs too, so a reply meant for an earlier process is never taken for ours
    return int(time.time() * 1000) % 1_000_000_000 * 1000 + 1


def _result(reply: Ok | Error) -> ControlResult:
    if isinstance(reply, Error):
        raise ControlError(reply.code, reply.reason)
    return reply.result


def _dealer(ctx: zmq.Context[Any], endpoint: str) -> zmq.Socket[Any]:
    sock: zmq.Socket[Any] = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.IMMEDIATE, 1)  # never queue a request for a peer that is not connected
    sock.setsockopt(zmq.RECONNECT_IVL, 100)
    sock.setsockopt(zmq.RECONNECT_IVL_MAX, 1000)
    sock.connect(endpoint)
    return sock


class AsyncControlClient:
    """asyncio DEALER client. Replies are matched to requests by id; pushes go to `on_push` when
    given, else to the bounded queue `pushes` (the oldest dropped when full). The socket is
    replaced after `reset_after` timeouts in a row (1: after every one)."""

    def __init__(
        self,
        endpoint: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        ctx: zmq.asyncio.Context | None = None,
        max_pushes: int = 10_000,
        on_push: Callable[[Push], Any] | None = None,
        reset_after: int = RECONNECT_AFTER_TIMEOUTS,
    ) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self.on_push = on_push
        self.reset_after = max(1, reset_after)
        self._ctx = ctx or zmq.asyncio.Context.instance()
        self._sock: zmq.asyncio.Socket | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[Ok | Error]] = {}
        self._ids = itertools.count(_first_id())
        self._timeouts = 0
        self._kinds: tuple[str, ...] | None = None  # what we subscribed to (kept across resets)
        self.subscribed = False  # the current connection is subscribed
        self.pushes: asyncio.Queue[Push] = asyncio.Queue(max_pushes)
        self.dropped_pushes = 0
        self.bad_messages = 0

    async def __aenter__(self) -> "AsyncControlClient":
        self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def connect(self) -> zmq.asyncio.Socket:
        if self._sock is None:
            self._sock = _dealer(self._ctx, self.endpoint)  # type: ignore[assignment]
            self._reader = asyncio.get_running_loop().create_task(self._read(self._sock))  # type: ignore[arg-type]
        assert self._sock is not None
        return self._sock

    async def close(self) -> None:
        """Close the connection; requests waiting on it fail with ControlUnavailable."""
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.cancel()
            try:
                await reader
            except (asyncio.CancelledError, Exception):  # noqa: BLE001 - closing
                pass
        if self._sock is not None:
            self._sock.close(0)
            self._sock = None
        pending, self._pending = self._pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(ControlUnavailable("connection reset"))
        self.subscribed = False

    async def reconnect(self) -> None:
        """A new connection, subscribed again to what the old one was."""
        kinds = self._kinds
        await self.close()
        self.connect()
        if kinds is not None:
            await self.request(Subscribe(id=0, kinds=kinds))

    async def _read(self, sock: zmq.asyncio.Socket) -> None:
        while True:
            frames = await sock.recv_multipart()
            try:
                msg = decode_control_server_msg(frames[-1])
            except ProtocolError:
                self.bad_messages += 1
                continue
            if isinstance(msg, Push):
                self._push(msg)
                continue
            fut = self._pending.pop(msg.id, None)
            if fut is not None and not fut.done():
                fut.set_result(msg)

    def _push(self, msg: Push) -> None:
        if self.on_push is not None:
            try:
                self.on_push(msg)
            except Exception:  # noqa: BLE001 - one bad push handler never stops the client
                self.bad_messages += 1
            return
        if self.pushes.full():
            self.pushes.get_nowait()
            self.dropped_pushes += 1
        self.pushes.put_nowait(msg)

    async def request(self, msg: ControlRequest, timeout: float | None = None) -> ControlResult:
        """Send `msg` (its id replaced by a fresh one) and return the result of the Ok reply."""
        wait = self.timeout if timeout is None else timeout
        sock = self.connect()
        request_id = next(self._ids)
        fut: asyncio.Future[Ok | Error] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = fut
        try:
            # pyzmq's stub of the asyncio poll lacks `flags`, which it takes
            if not await sock.poll(int(wait * 1000), zmq.POLLOUT):  # type: ignore[call-arg]
                raise ControlUnavailable(f"control not reachable at {self.endpoint}")
            await sock.send(encode(msgspec.structs.replace(msg, id=request_id)), zmq.NOBLOCK)
            try:
                reply = await asyncio.wait_for(fut, wait)
            except TimeoutError:
                self._timeouts += 1
                if self._timeouts >= self.reset_after:
                    self._timeouts = 0
                    self._pending.pop(request_id, None)
                    await self.close()
                raise ControlTimeout(f"no reply from control within {wait:g}s") from None
        except zmq.ZMQError as exc:
            self._pending.pop(request_id, None)
            await self.close()
            raise ControlUnavailable(f"control socket: {exc.strerror}") from None
        finally:
            self._pending.pop(request_id, None)
        self._timeouts = 0
        if isinstance(msg, Subscribe) and isinstance(reply, Ok):
            self._kinds, self.subscribed = msg.kinds, True
        elif isinstance(msg, Unsubscribe) and isinstance(reply, Ok):
            self._kinds, self.subscribed = None, False
        return _result(reply)


class ControlClient:
    """Blocking DEALER client (the CLI). One request at a time."""

    def __init__(self, endpoint: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self._ctx: zmq.Context[Any] = zmq.Context.instance()
        self._sock: zmq.Socket[Any] | None = None
        self._ids = itertools.count(_first_id())

    def __enter__(self) -> "ControlClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close(0)
            self._sock = None

    def _socket(self) -> zmq.Socket[Any]:
        if self._sock is None:
            self._sock = _dealer(self._ctx, self.endpoint)
        return self._sock

    def request(self, msg: ControlRequest, timeout: float | None = None) -> ControlResult:
        wait = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + wait
        sock = self._socket()
        request_id = next(self._ids)
        if not sock.poll(int(wait * 1000), zmq.POLLOUT):
            self.close()
            raise ControlUnavailable(f"control actor not reachable at {self.endpoint}")
        sock.send(encode(msgspec.structs.replace(msg, id=request_id)))
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not sock.poll(int(left * 1000), zmq.POLLIN):
                self.close()  # a late reply must not be read as the answer to the next request
                raise ControlTimeout(f"no reply from control within {wait:g}s")
            frames = sock.recv_multipart()
            try:
                reply = decode_control_server_msg(frames[-1])
            except ProtocolError:
                continue
            if isinstance(reply, Push) or reply.id != request_id:
                continue
            return _result(reply)


__all__ = ["AsyncControlClient", "ControlClient", "ControlError", "ControlTimeout", "ControlUnavailable", "control_running", "ipc_path"]
