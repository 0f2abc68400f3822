"""Helpers of the tests in tests/unit/transport/ (split from test_transport.py): raw asyncio servers
that write exact bytes, frame builders."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import operator
import random
import socket
import ssl
import struct
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from actors.binance.websocket import WebSocket, ws_connect
from tests.helpers.wait import aeventually

WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


# -- helpers -----------------------------------------------------------------------------------
async def until(pred: Callable[[], Any], timeout: float = 5.0, what: str = "") -> Any:
    """Poll a plain predicate with a deadline."""

    async def check() -> Any:
        return pred()

    return await aeventually(check, timeout=timeout, interval=0.005, what=what)


@dataclass
class Request:
    conn: int  # index of the server connection that carried it
    method: str
    target: str
    headers: dict[str, str]


@dataclass
class Frame:
    fin: bool
    rsv: int
    opcode: int
    masked: bool
    length_code: int  # the 7-bit length field: <126, 126 (16-bit) or 127 (64-bit)
    payload: bytes  # unmasked


def unmask(payload: bytes, key: bytes) -> bytes:
    """RFC 6455 5.3, written independently of the code under test."""
    return bytes(map(operator.xor, payload, itertools.cycle(key)))


def sframe(
    opcode: int, payload: bytes = b"", *, fin: bool = True, rsv: int = 0, mask_key: bytes | None = None, length_form: int | None = None
) -> bytes:
    """A server-to-client frame; `length_form` forces 7 / 16 / 64-bit length encoding."""
    n = len(payload)
    form = length_form or (7 if n < 126 else 16 if n < 65536 else 64)
    b0 = (0x80 if fin else 0) | rsv | opcode
    mbit = 0x80 if mask_key else 0
    if form == 7:
        head = bytes((b0, mbit | n))
    elif form == 16:
        head = bytes((b0, mbit | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((b0, mbit | 127)) + n.to_bytes(8, "big")
    if mask_key:
        return head + mask_key + unmask(payload, mask_key)
    return head + payload


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return code.to_bytes(2, "big") + reason


class SrvConn:
    """One accepted connection, seen from the server side."""

    def __init__(self, server: "RawServer", index: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.server = server
        self.index = index
        self.reader = reader
        self.writer = writer
        self.frames: list[Frame] = []
        self.eof = False

    async def read_request(self) -> Request | None:
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            self.eof = True
            return None
        lines = head[:-4].decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ")
        assert version == "HTTP/1.1"
        headers: dict[str, str] = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        req = Request(self.index, method, target, headers)
        self.server.requests.append(req)
        return req

    async def write(self, *parts: bytes) -> None:
        for part in parts:
            self.writer.write(part)
            await self.writer.drain()

    async def accept_ws(
        self, *, status: bytes = b"101 Switching Protocols", accept: str | None = None, extra: bytes = b"", then: bytes = b""
    ) -> Request:
        """Read the upgrade request and answer it (`then`: bytes sent in the same write)."""
        req = await self.read_request()
        assert req is not None, "no upgrade request"
        if accept is None:
            accept = base64.b64encode(hashlib.sha1(req.headers["sec-websocket-key"].encode() + WS_GUID).digest()).decode()
        head = (
            b"HTTP/1.1 " + status + b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + accept.encode() + b"\r\n" + extra + b"\r\n"
        )
        await self.write(head + then)
        return req

    async def read_frame(self) -> Frame | None:
        """The next client frame (also kept in `frames`), or None at EOF."""
        try:
            b0, b1 = await self.reader.readexactly(2)
            n = b1 & 0x7F
            if n == 126:
                n = int.from_bytes(await self.reader.readexactly(2), "big")
            elif n == 127:
                n = int.from_bytes(await self.reader.readexactly(8), "big")
            key = await self.reader.readexactly(4) if b1 & 0x80 else b""
            payload = await self.reader.readexactly(n)
        except (asyncio.IncompleteReadError, ConnectionError):
            self.eof = True
            return None
        frame = Frame(bool(b0 & 0x80), b0 & 0x70, b0 & 0x0F, bool(key), b1 & 0x7F, unmask(payload, key) if key else payload)
        self.frames.append(frame)
        return frame

    async def read_frames_until_eof(self, *, answer_pings: bool = False) -> None:
        while (frame := await self.read_frame()) is not None:
            if answer_pings and frame.opcode == 0x9:
                await self.write(sframe(0xA, frame.payload))

    def opcodes(self) -> list[int]:
        return [f.opcode for f in self.frames]


Handler = Callable[[SrvConn], Awaitable[None]]


class RawServer:
    """`asyncio.start_server` on 127.0.0.1:0 running `handler` for every connection."""

    def __init__(self, handler: Handler, ssl_ctx: ssl.SSLContext | None = None) -> None:
        self.handler = handler
        self.ssl_ctx = ssl_ctx
        self.conns: list[SrvConn] = []
        self.requests: list[Request] = []
        self.port = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> "RawServer":
        self._server = await asyncio.start_server(self._on_conn, "127.0.0.1", 0, ssl=self.ssl_ctx)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _on_conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        conn = SrvConn(self, len(self.conns), reader, writer)
        self.conns.append(conn)
        try:
            await self.handler(conn)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        except asyncio.CancelledError:  # stop(): end quietly (asyncio.streams logs a cancelled callback task)
            pass
        finally:
            writer.close()
            self._tasks.discard(task)

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def targets(self) -> list[tuple[int, str, str]]:
        return [(r.conn, r.method, r.target) for r in self.requests]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()


def ok(body: bytes = b"ok", extra: bytes = b"") -> bytes:
    return b"HTTP/1.1 200 OK\r\nContent-Length: " + str(len(body)).encode() + b"\r\n" + extra + b"\r\n" + body


# Reply script for `http_server`: bytes (or a list of writes), or one of these actions.
CLOSE = "close"  # close the connection without answering


HANG = "hang"  # never answer


def http_server(respond: Callable[[SrvConn, Request, int], Any]) -> Handler:
    """A keep-alive server: for every request on a connection, `respond(conn, request, n)` (n: index
    of the request on that connection) returns the bytes to send, a list of writes, CLOSE or HANG;
    a reply that is a tuple `(data, CLOSE)` sends then closes."""

    async def handler(conn: SrvConn) -> None:
        n = 0
        while (req := await conn.read_request()) is not None:
            reply = respond(conn, req, n)
            n += 1
            close_after = False
            if isinstance(reply, tuple):
                reply, close_after = reply[0], reply[1] == CLOSE
            if reply == CLOSE:
                return
            if reply == HANG:
                await asyncio.Event().wait()
            await conn.write(*(reply if isinstance(reply, list) else [reply]))
            if close_after:
                return

    return handler


def reset(conn: SrvConn) -> None:
    """Drop the connection with a TCP RST (SO_LINGER 0) instead of a FIN."""
    sock = conn.writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.writer.transport.abort()


# -- WebSocket: upgrade --------------------------------------------------------------------------
class Inbox(list[bytes]):
    """An `on_message` callback that keeps what it gets."""

    def __call__(self, data: bytes) -> None:
        self.append(data)


def ws_server(script: Callable[[SrvConn], Awaitable[None]], **accept: Any) -> Handler:
    async def handler(conn: SrvConn) -> None:
        await conn.accept_ws(**accept)
        await script(conn)

    return handler


async def until_eof(conn: SrvConn) -> None:
    await conn.read_frames_until_eof()


# -- WebSocket: framing --------------------------------------------------------------------------
async def ws_pair(
    serve: Any, cleanup: list[Any], script: Callable[[SrvConn], Awaitable[None]], **kw: Any
) -> tuple[RawServer, WebSocket, Inbox]:
    server = await serve(ws_server(script))
    inbox = Inbox()
    kw.setdefault("heartbeat", None)
    ws = await ws_connect(server.ws + "/ws", inbox, **kw)
    cleanup.append(ws)
    return server, ws, inbox


# -- TLS -----------------------------------------------------------------------------------------
@dataclass
class Cert:
    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.cert, self.key)
        return ctx

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


async def echo_ws(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse(max_msg_size=1 << 20)
    await ws.prepare(request)
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            await ws.send_str(msg.data)
        elif msg.type == WSMsgType.BINARY:
            await ws.send_bytes(msg.data)
    return ws


BYE_CODES = web.AppKey("bye_codes", list)  # close codes aiohttp got back on /bye


async def bye_ws(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    await ws.send_str("bye")
    await ws.close(code=4000, message=b"done")  # waits for the client's close frame
    request.app[BYE_CODES].append(ws.close_code)
    return ws


async def hello(request: web.Request) -> web.Response:
    return web.json_response({"path": request.path_qs})


# -- Interop with aiohttp ------------------------------------------------------------------------
def random_text(rng: random.Random, size: int) -> bytes:
    """`size` bytes of printable ASCII (valid UTF-8: aiohttp checks text messages)."""
    return base64.b64encode(rng.randbytes(size * 3 // 4 + 3))[:size]
