"""Client of the control actor's ROUTER socket (DEALER): request -> reply correlated by id, timeout,
reconnect; live `Push`es for subscribed connections.

    async with AsyncControlClient(Endpoints(runtime_dir).control) as client:
        status = await client.request(GetStatus(id=0))        # id is assigned by the client
        await client.request(Subscribe(id=0, kinds=("failed",)))
        push = await client.pushes.get()

    with ControlClient(endpoint, timeout=5) as client:        # blocking, for the CLI
        result = client.request(ListSlaves(id=0))

`request` returns the `ControlResult` of an `Ok` and raises `ControlError` (with the protocol
ErrorCode) for an `Error`, `ControlTimeout` when no reply came in time, `ControlUnavailable` when
the control actor is not running.

The wire: one frame per message (msgpack body, protocol.codec), no empty delimiter frame.
"""
from __future__ import annotations

import asyncio
import itertools
import socket
import time
from pathlib import Path
from typing import Any, Final

import msgspec
import zmq
import zmq.asyncio

from protocol.codec import decode_control_server_msg, encode
from protocol.errors import ErrorCode, ProtocolError
from protocol.messages import ControlRequest, ControlResult, Error, Ok, Push, Subscribe, Unsubscribe

DEFAULT_TIMEOUT: Final = 5.0
RECONNECT_AFTER_TIMEOUTS: Final = 2


class ControlError(Exception):
    """The control actor answered with an Error (or could not be reached)."""

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
    return Path(endpoint[len("ipc://"):]) if endpoint.startswith("ipc://") else None


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


def _with_id(msg: ControlRequest, request_id: int) -> ControlRequest:
    return msgspec.structs.replace(msg, id=request_id)


def _result(reply: Ok | Error) -> ControlResult:
    if isinstance(reply, Error):
        raise ControlError(reply.code, reply.reason)
    return reply.result


def _dealer(ctx: zmq.Context[Any], endpoint: str) -> zmq.Socket[Any]:
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.IMMEDIATE, 1)  # never queue a request for a peer that is not connected
    sock.connect(endpoint)
    return sock


class AsyncControlClient:
    """asyncio DEALER client. Replies are matched to requests by id; pushes go to `pushes`."""

    def __init__(
        self, endpoint: str, *, timeout: float = DEFAULT_TIMEOUT, ctx: zmq.asyncio.Context | None = None,
        max_pushes: int = 10_000,
    ) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self._ctx = ctx or zmq.asyncio.Context.instance()
        self._sock: zmq.asyncio.Socket | None = None
        self._reader: asyncio.Task[None] | None = None
        self._pending: dict[int, asyncio.Future[Ok | Error]] = {}
        self._ids = itertools.count(int(time.time() * 1000) % 1_000_000_000 * 1000 + 1)
        self._timeouts = 0
        self._subscription: tuple[str, ...] | None = None
        self.pushes: asyncio.Queue[Push] = asyncio.Queue(max_pushes)
        self.dropped_pushes = 0
        self.bad_messages = 0

    async def __aenter__(self) -> "AsyncControlClient":
        self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def connect(self) -> None:
        if self._sock is not None:
            return
        self._sock = _dealer(self._ctx, self.endpoint)  # type: ignore[assignment]
        self._reader = asyncio.get_running_loop().create_task(self._read(self._sock))  # type: ignore[arg-type]

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            try:
                await self._reader
            except (asyncio.CancelledError, Exception):
                pass
            self._reader = None
        if self._sock is not None:
            self._sock.close(0)
            self._sock = None
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(ControlUnavailable("client closed"))
        self._pending.clear()

    async def reconnect(self) -> None:
        """Drop the connection and open a new one (and subscribe again if we were subscribed)."""
        subscription = self._subscription
        await self.close()
        self.connect()
        if subscription is not None:
            await self.request(Subscribe(id=0, kinds=subscription))

    async def _read(self, sock: zmq.asyncio.Socket) -> None:
        while True:
            frames = await sock.recv_multipart()
            try:
                msg = decode_control_server_msg(frames[-1])
            except ProtocolError:
                self.bad_messages += 1
                continue
            if isinstance(msg, Push):
                if self.pushes.full():
                    self.pushes.get_nowait()
                    self.dropped_pushes += 1
                self.pushes.put_nowait(msg)
                continue
            fut = self._pending.pop(msg.id, None)
            if fut is not None and not fut.done():
                fut.set_result(msg)

    async def request(self, msg: ControlRequest, timeout: float | None = None) -> ControlResult:
        """Send `msg` (its id replaced by a fresh one) and return the result of the Ok reply."""
        self.connect()
        assert self._sock is not None
        request_id = next(self._ids)
        msg = _with_id(msg, request_id)
        fut: asyncio.Future[Ok | Error] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = fut
        wait = self.timeout if timeout is None else timeout
        try:
            try:
                await asyncio.wait_for(self._sock.send(encode(msg)), wait)
                reply = await asyncio.wait_for(fut, wait)
            except asyncio.TimeoutError:
                self._timeouts += 1
                if self._timeouts >= RECONNECT_AFTER_TIMEOUTS:
                    self._timeouts = 0
                    await self._reset_socket()
                raise ControlTimeout(f"no reply from control within {wait}s") from None
        finally:
            self._pending.pop(request_id, None)
        self._timeouts = 0
        if isinstance(msg, Subscribe) and isinstance(reply, Ok):
            self._subscription = msg.kinds
        elif isinstance(msg, Unsubscribe):
            self._subscription = None
        return _result(reply)

    async def _reset_socket(self) -> None:
        pending, self._pending = self._pending, {}
        await self.close()
        self._pending = pending
        self.connect()


class ControlClient:
    """Blocking DEALER client (the CLI). One request at a time."""

    def __init__(self, endpoint: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        self._ctx = zmq.Context.instance()
        self._sock: zmq.Socket[Any] | None = None
        self._ids = itertools.count(int(time.time() * 1000) % 1_000_000_000 * 1000 + 1)

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
        sock.send(encode(_with_id(msg, request_id)))
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not sock.poll(int(left * 1000), zmq.POLLIN):
                self.close()  # a late reply must not be read as the answer to the next request
                raise ControlTimeout(f"no reply from control within {wait}s")
            frames = sock.recv_multipart()
            try:
                reply = decode_control_server_msg(frames[-1])
            except ProtocolError:
                continue
            if isinstance(reply, Push) or reply.id != request_id:
                continue
            return _result(reply)
