"""actors/binance/transport.py, httpclient.py, websocket.py against servers started here on 127.0.0.1, port 0.

Raw `asyncio.start_server` servers write exact bytes (we control framing, chunking, TCP writes and
when a connection closes); an aiohttp server is the independent, real implementation for interop
and TLS. Waiting is always a poll with a deadline (tests/helpers/wait.py), never a sleep for luck.
"""
from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import ipaddress
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

import orjson
import pytest
from aiohttp import WSMsgType, web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from actors.binance import transport
from actors.binance.httpclient import HttpClient
from actors.binance.rest import RestClient, _path_of
from actors.binance.transport import ConnectFailed, ConnectionLost, HandshakeFailed, ProtocolError, TransportError, split_url
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


def sframe(opcode: int, payload: bytes = b"", *, fin: bool = True, rsv: int = 0,
           mask_key: bytes | None = None, length_form: int | None = None) -> bytes:
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

    def __init__(self, server: "RawServer", index: int, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
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

    async def accept_ws(self, *, status: bytes = b"101 Switching Protocols", accept: str | None = None,
                        extra: bytes = b"", then: bytes = b"") -> Request:
        """Read the upgrade request and answer it (`then`: bytes sent in the same write)."""
        req = await self.read_request()
        assert req is not None, "no upgrade request"
        if accept is None:
            accept = base64.b64encode(hashlib.sha1(req.headers["sec-websocket-key"].encode() + WS_GUID)
                                      .digest()).decode()
        head = (b"HTTP/1.1 " + status + b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: " + accept.encode() + b"\r\n" + extra + b"\r\n")
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
        frame = Frame(bool(b0 & 0x80), b0 & 0x70, b0 & 0x0F, bool(key), b1 & 0x7F,
                      unmask(payload, key) if key else payload)
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


@pytest.fixture
async def serve() -> Any:
    """`await serve(handler)` -> a started RawServer, stopped after the test."""
    servers: list[RawServer] = []

    async def start(handler: Handler, ssl_ctx: ssl.SSLContext | None = None) -> RawServer:
        server = await RawServer(handler, ssl_ctx).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


@pytest.fixture
async def cleanup() -> Any:
    """A list: HttpClient / WebSocket / RestClient objects put there are closed after the test."""
    objs: list[Any] = []
    yield objs
    for obj in objs:
        if isinstance(obj, WebSocket):
            obj.abort()
        else:
            await obj.close()


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


# -- HTTP: request head and bodies ---------------------------------------------------------------
async def test_request_head_and_content_length_body(serve: Any, cleanup: list[Any]) -> None:
    server = await serve(http_server(lambda c, r, n: ok(b"hello", b"X-A: 1\r\nX-A: 2\r\n")))
    client = HttpClient(server.http)
    cleanup.append(client)

    get = await client.request("GET", "/api/v3/time?x=1", {"X-MBX-APIKEY": "k"})
    post = await client.request("POST", "/api/v3/order?symbol=BTCUSDT")

    assert (get.status, get.reason, get.body) == (200, "OK", b"hello")
    assert get.headers["x-a"] == "1, 2" and get.headers["content-length"] == "5"
    assert post.body == b"hello"
    first, second = server.requests
    assert (first.method, first.target) == ("GET", "/api/v3/time?x=1")
    assert first.headers["host"] == f"127.0.0.1:{server.port}"
    assert first.headers["x-mbx-apikey"] == "k"
    assert "content-length" not in first.headers
    assert (second.method, second.target, second.headers["content-length"]) == (
        "POST", "/api/v3/order?symbol=BTCUSDT", "0")


async def test_chunked_body_with_extensions_and_trailers_then_reuse(serve: Any, cleanup: list[Any]) -> None:
    chunked = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5;name=value\r\nhello\r\n"
               b"1\r\n \r\n"
               b"A; a=1; b=\"x\"\r\n0123456789\r\n"
               b"0;last\r\nX-Trailer: one\r\nX-Other: two\r\n\r\n")
    server = await serve(http_server(lambda c, r, n: chunked if n == 0 else ok(b"next")))
    client = HttpClient(server.http)
    cleanup.append(client)

    first = await client.request("GET", "/a")
    second = await client.request("GET", "/b")

    assert first.body == b"hello 0123456789"
    assert second.body == b"next"  # the trailers were consumed: the connection is in sync
    assert server.targets() == [(0, "GET", "/a"), (0, "GET", "/b")]


async def test_chunked_body_split_over_many_writes_and_large_chunk(serve: Any, cleanup: list[Any]) -> None:
    big = random.Random(1).randbytes(300_000)
    wire = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"
            + f"{len(big):x}\r\n".encode() + big + b"\r\n0\r\n\r\n")
    writes = [wire[i:i + 1] for i in range(60)] + [wire[60:100_000], wire[100_000:]]
    server = await serve(http_server(lambda c, r, n: writes if n == 0 else ok()))
    client = HttpClient(server.http)
    cleanup.append(client)

    resp = await client.request("GET", "/x")
    again = await client.request("GET", "/y")

    assert resp.body == b"abc" + big
    assert again.body == b"ok" and server.conns[-1].index == 0


async def test_large_content_length_body(serve: Any, cleanup: list[Any]) -> None:
    body = random.Random(2).randbytes(1_000_000)
    server = await serve(http_server(lambda c, r, n: [ok(body)[:1000], ok(body)[1000:]]))
    client = HttpClient(server.http)
    cleanup.append(client)

    assert (await client.request("GET", "/big")).body == body


async def test_close_delimited_body(serve: Any, cleanup: list[Any]) -> None:
    def respond(conn: SrvConn, req: Request, n: int) -> Any:
        return ([b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\npart1,", b"part2,", b"part3"], CLOSE)

    server = await serve(http_server(respond))
    client = HttpClient(server.http)
    cleanup.append(client)

    first = await client.request("GET", "/a")
    second = await client.request("GET", "/b")

    assert first.body == b"part1,part2,part3" and second.body == first.body
    assert server.targets() == [(0, "GET", "/a"), (1, "GET", "/b")]


async def test_connection_close_is_not_reused(serve: Any, cleanup: list[Any]) -> None:
    server = await serve(http_server(lambda c, r, n: ok(b"x", b"Connection: close\r\n")))
    client = HttpClient(server.http)
    cleanup.append(client)

    await client.request("GET", "/a")
    await client.request("GET", "/b")

    assert server.targets() == [(0, "GET", "/a"), (1, "GET", "/b")]


async def test_keep_alive_reuses_one_connection(serve: Any, cleanup: list[Any]) -> None:
    server = await serve(http_server(lambda c, r, n: ok(r.target.encode())))
    client = HttpClient(server.http)
    cleanup.append(client)

    bodies = [(await client.request("GET", f"/{i}")).body for i in range(3)]

    assert bodies == [b"/0", b"/1", b"/2"]
    assert len(server.conns) == 1
    assert [r.conn for r in server.requests] == [0, 0, 0]


async def test_no_body_responses_keep_the_connection_in_sync(serve: Any, cleanup: list[Any]) -> None:
    replies = [b"HTTP/1.1 204 No Content\r\n\r\n",
               b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",  # answer to HEAD: no body follows
               b"HTTP/1.1 304 Not Modified\r\n\r\n",
               ok(b"last")]
    server = await serve(http_server(lambda c, r, n: replies[n]))
    client = HttpClient(server.http)
    cleanup.append(client)

    r204 = await client.request("DELETE", "/a")
    head = await client.request("HEAD", "/b")
    r304 = await client.request("GET", "/c")
    last = await client.request("GET", "/d")

    assert (r204.status, r204.body, head.status, head.body, r304.status, r304.body) == (
        204, b"", 200, b"", 304, b"")
    assert last.body == b"last" and len(server.conns) == 1


# -- HTTP: connections that break ----------------------------------------------------------------
async def test_idle_connection_closed_by_server_get_is_retried_once(serve: Any, cleanup: list[Any]) -> None:
    """The server closes a kept-alive connection just as our next GET arrives (the classic race):
    nothing of the response came, so the GET is sent again on a fresh connection."""

    def respond(conn: SrvConn, req: Request, n: int) -> Any:
        if conn.index == 0:
            return ok(b"first") if n == 0 else CLOSE
        return ok(b"second")

    server = await serve(http_server(respond))
    client = HttpClient(server.http)
    cleanup.append(client)

    await client.request("GET", "/a")
    resp = await client.request("GET", "/b")

    assert resp.body == b"second"
    assert server.targets() == [(0, "GET", "/a"), (0, "GET", "/b"), (1, "GET", "/b")]


async def test_idle_connection_closed_by_server_post_is_not_resent(serve: Any, cleanup: list[Any]) -> None:
    def respond(conn: SrvConn, req: Request, n: int) -> Any:
        if conn.index == 0:
            return ok() if n == 0 else CLOSE
        return ok()

    server = await serve(http_server(respond))
    client = HttpClient(server.http)
    cleanup.append(client)
    await client.request("GET", "/a")

    with pytest.raises(ConnectionLost):
        await client.request("POST", "/api/v3/order?newClientOrderId=x")

    assert server.targets() == [(0, "GET", "/a"), (0, "POST", "/api/v3/order?newClientOrderId=x")]
    assert len(server.conns) == 1


async def test_idle_close_already_seen_sends_post_on_a_fresh_connection(serve: Any, cleanup: list[Any]) -> None:
    """A pooled connection whose EOF the client has already read is not used at all."""
    server = await serve(http_server(lambda c, r, n: (ok(), CLOSE)))  # no `Connection: close` header
    client = HttpClient(server.http)
    cleanup.append(client)
    await client.request("GET", "/a")
    await until(lambda: client._idle and client._idle[0].reader.at_eof(), what="client saw the EOF")

    resp = await client.request("POST", "/order")

    assert resp.status == 200
    assert server.targets() == [(0, "GET", "/a"), (1, "POST", "/order")]


async def test_get_on_a_fresh_connection_is_not_retried(serve: Any, cleanup: list[Any]) -> None:
    server = await serve(http_server(lambda c, r, n: CLOSE))
    client = HttpClient(server.http)
    cleanup.append(client)

    with pytest.raises(ConnectionLost):
        await client.request("GET", "/a")

    assert server.targets() == [(0, "GET", "/a")]


async def test_get_retried_only_once(serve: Any, cleanup: list[Any]) -> None:
    server = await serve(http_server(lambda c, r, n: ok() if (c.index, n) == (0, 0) else CLOSE))
    client = HttpClient(server.http)
    cleanup.append(client)
    await client.request("GET", "/a")

    with pytest.raises(ConnectionLost):
        await client.request("GET", "/b")

    assert server.targets() == [(0, "GET", "/a"), (0, "GET", "/b"), (1, "GET", "/b")]


@pytest.mark.parametrize("reply", [
    b"HTTP/1.1 200 OK\r\nContent-Le",  # part of the head
    b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",  # part of the body
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",  # part of a chunk
])
async def test_connection_closed_mid_response_is_connection_lost(serve: Any, cleanup: list[Any],
                                                                 reply: bytes) -> None:
    server = await serve(http_server(lambda c, r, n: ok() if n == 0 else (reply, CLOSE)))
    client = HttpClient(server.http)
    cleanup.append(client)
    await client.request("GET", "/a")

    with pytest.raises(ConnectionLost):
        await client.request("GET", "/b")  # some bytes came: never retried, even a GET

    assert server.targets() == [(0, "GET", "/a"), (0, "GET", "/b")]


def reset(conn: SrvConn) -> None:
    """Drop the connection with a TCP RST (SO_LINGER 0) instead of a FIN."""
    sock = conn.writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.writer.transport.abort()


async def test_reset_before_the_response(serve: Any, cleanup: list[Any]) -> None:
    """RST instead of an answer on a kept-alive connection: the GET is retried once."""

    async def handler(conn: SrvConn) -> None:
        n = 0
        while (req := await conn.read_request()) is not None:
            if conn.index == 0 and n > 0:
                reset(conn)
                return
            n += 1
            await conn.write(ok(req.target.encode()))

    server = await serve(handler)
    client = HttpClient(server.http)
    cleanup.append(client)
    await client.request("GET", "/a")

    get = await client.request("GET", "/b")  # conn 0 reset: retried on conn 1

    assert get.body == b"/b"
    assert server.targets() == [(0, "GET", "/a"), (0, "GET", "/b"), (1, "GET", "/b")]


async def test_reset_before_the_post_response_is_connection_lost(serve: Any, cleanup: list[Any]) -> None:
    async def handler(conn: SrvConn) -> None:
        n = 0
        while (req := await conn.read_request()) is not None:
            if n > 0:
                reset(conn)
                return
            n += 1
            await conn.write(ok(req.target.encode()))

    server = await serve(handler)
    client = HttpClient(server.http)
    cleanup.append(client)
    await client.request("GET", "/a")

    with pytest.raises(ConnectionLost):
        await client.request("POST", "/order")

    assert server.targets() == [(0, "GET", "/a"), (0, "POST", "/order")]


@pytest.mark.parametrize("partial", [
    b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc",
])
async def test_reset_in_the_middle_of_the_body_is_connection_lost(serve: Any, cleanup: list[Any],
                                                                 partial: bytes) -> None:
    """The module's contract: every network failure is a TransportError (ConnectionLost here)."""

    async def handler(conn: SrvConn) -> None:
        await conn.read_request()
        await conn.write(partial)
        reset(conn)

    server = await serve(handler)
    client = HttpClient(server.http)
    cleanup.append(client)

    with pytest.raises(ConnectionLost):
        await client.request("GET", "/a")


async def test_interim_1xx_responses_are_skipped(serve: Any, cleanup: list[Any]) -> None:
    """RFC 9110 15.2: a client MUST parse 1xx responses before the final one, even unexpected ones
    (103 Early Hints from a CDN). Taking the 103 as the answer would leave the 200 in the buffer and
    hand it to the NEXT request on the connection: every later reply one request off."""
    replies = [b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
               b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"first"),
               ok(b"second")]
    server = await serve(http_server(lambda c, r, n: replies[n]))
    client = HttpClient(server.http)
    cleanup.append(client)

    first = await client.request("GET", "/a")
    second = await client.request("GET", "/b")

    assert (first.status, first.body) == (200, b"first")
    assert (second.status, second.body) == (200, b"second")


async def test_connection_refused_is_connect_failed(cleanup: list[Any]) -> None:
    with socket.socket() as sock:  # bound, not listening: connections to it are refused
        sock.bind(("127.0.0.1", 0))
        client = HttpClient(f"http://127.0.0.1:{sock.getsockname()[1]}")
        cleanup.append(client)

        with pytest.raises(ConnectFailed):
            await client.request("GET", "/a")


async def test_server_never_answering_is_timeout_and_connection_dropped(serve: Any, cleanup: list[Any]) -> None:
    server = await serve(http_server(lambda c, r, n: HANG if c.index == 0 else ok()))
    client = HttpClient(server.http)
    cleanup.append(client)

    with pytest.raises(TimeoutError):
        await client.request("GET", "/a", timeout=0.3)
    resp = await client.request("GET", "/b")

    assert resp.status == 200
    assert server.targets() == [(0, "GET", "/a"), (1, "GET", "/b")]  # the hung one was not reused


async def test_no_free_connection_in_time_is_connect_failed(serve: Any, cleanup: list[Any]) -> None:
    server = await serve(http_server(lambda c, r, n: HANG))
    client = HttpClient(server.http, connections=1)
    cleanup.append(client)
    busy = asyncio.ensure_future(client.request("GET", "/slow", timeout=30))
    try:
        await until(lambda: server.requests, what="first request arrived")

        with pytest.raises(ConnectFailed):
            await client.request("POST", "/order", timeout=0.2)

        assert server.targets() == [(0, "GET", "/slow")]
    finally:
        busy.cancel()
        await asyncio.gather(busy, return_exceptions=True)


async def test_closed_client_refuses_requests(serve: Any) -> None:
    server = await serve(http_server(lambda c, r, n: ok()))
    client = HttpClient(server.http)
    await client.request("GET", "/a")

    await client.close()

    with pytest.raises(ConnectFailed):
        await client.request("GET", "/b")
    assert len(server.requests) == 1


# -- HTTP: malformed replies ---------------------------------------------------------------------
async def test_response_head_over_64_kib_is_protocol_error(serve: Any, cleanup: list[Any]) -> None:
    huge = b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * (70 * 1024) + b"\r\nContent-Length: 0\r\n\r\n"
    fits = b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * (60 * 1024) + b"\r\nContent-Length: 0\r\n\r\n"
    server = await serve(http_server(lambda c, r, n: huge if r.target == "/huge" else fits))
    client = HttpClient(server.http)
    cleanup.append(client)

    assert len((await client.request("GET", "/fits")).headers["x-big"]) == 60 * 1024
    with pytest.raises(ProtocolError):
        await client.request("GET", "/huge")


@pytest.mark.parametrize("head", [
    b"garbage\r\n\r\n",
    b"SSH-2.0-OpenSSH_9.0\r\n\r\n",
    b"HTTP/1.1 abc OK\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/2 200\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nno colon here\r\nContent-Length: 0\r\n\r\n",
])
async def test_garbage_head_is_protocol_error(serve: Any, cleanup: list[Any], head: bytes) -> None:
    server = await serve(http_server(lambda c, r, n: head))
    client = HttpClient(server.http)
    cleanup.append(client)

    with pytest.raises(ProtocolError):
        await client.request("GET", "/a")


@pytest.mark.parametrize("value", [b"abc", b"-1", b"", b"1_0", b"+5", b"99999999999999999999"])
async def test_bad_content_length_is_protocol_error(serve: Any, cleanup: list[Any], value: bytes) -> None:
    """RFC 9112 6.3: Content-Length is 1*DIGIT; anything else is an unrecoverable error (reading a
    different length than the server meant desynchronises every later response on the connection)."""
    reply = b"HTTP/1.1 200 OK\r\nContent-Length: " + value + b"\r\n\r\n" + b"0123456789"
    server = await serve(http_server(lambda c, r, n: reply))
    client = HttpClient(server.http, max_body=1_000_000)
    cleanup.append(client)

    with pytest.raises(ProtocolError):
        await client.request("GET", "/a")


@pytest.mark.parametrize("size_line", [b"zz", b"", b"-1", b"0x5"])
async def test_bad_chunk_size_is_protocol_error(serve: Any, cleanup: list[Any], size_line: bytes) -> None:
    """RFC 9112 7.1: chunk-size is 1*HEXDIG."""
    reply = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + size_line
             + b"\r\nhello\r\n0\r\n\r\n")
    server = await serve(http_server(lambda c, r, n: reply))
    client = HttpClient(server.http)
    cleanup.append(client)

    with pytest.raises(ProtocolError):
        await client.request("GET", "/a")


@pytest.mark.parametrize("reply", [
    b"HTTP/1.1 200 OK\r\nContent-Length: 101\r\n\r\n" + b"x" * 101,
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n" + b"x" * 64 + b"\r\n40\r\n" + b"x" * 64
    + b"\r\n0\r\n\r\n",
    (b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 101, CLOSE),
])
async def test_body_over_max_body_is_protocol_error(serve: Any, cleanup: list[Any], reply: Any) -> None:
    server = await serve(http_server(lambda c, r, n: reply))
    client = HttpClient(server.http, max_body=100)
    cleanup.append(client)

    with pytest.raises(ProtocolError):
        await client.request("GET", "/a")


@pytest.mark.parametrize("headers", [
    {"X-Evil": "a\r\nX-Injected: 1"},
    {"X-Evil": "a\nX-Injected: 1"},
    {"X-Evil": "a\rb"},
    {"X-Evil\r\nX-Injected": "1"},
])
async def test_header_injection_is_refused_before_sending(serve: Any, cleanup: list[Any],
                                                          headers: dict[str, str]) -> None:
    server = await serve(http_server(lambda c, r, n: ok()))
    client = HttpClient(server.http)
    cleanup.append(client)

    with pytest.raises(ValueError):
        await client.request("GET", "/evil", headers)
    await client.request("GET", "/fine", {"X-Good": "1"})

    assert server.targets() == [(0, "GET", "/fine")]
    assert "x-injected" not in server.requests[0].headers


# -- HTTP: RestClient on top ---------------------------------------------------------------------
def test_path_of_base_url() -> None:
    assert _path_of("http://h:1") == ""
    assert _path_of("http://h:1/") == ""
    assert _path_of("https://h/prefix") == "/prefix"
    assert _path_of("https://h:8443/a/b/") == "/a/b"


def test_split_url() -> None:
    assert split_url("https://api.binance.com") == (True, "api.binance.com", 443, "/")
    assert split_url("ws://127.0.0.1:9/ws/k?x=1") == (False, "127.0.0.1", 9, "/ws/k?x=1")
    assert split_url("wss://[::1]:9443/ws-api/v3") == (True, "::1", 9443, "/ws-api/v3")
    with pytest.raises(ValueError):
        split_url("ftp://h/x")


@pytest.mark.parametrize("suffix, prefix", [("", ""), ("/", ""), ("/sim", "/sim"), ("/sim/deep/", "/sim/deep")])
async def test_rest_client_keeps_the_base_url_path_prefix(serve: Any, suffix: str, prefix: str) -> None:
    body = orjson.dumps({"serverTime": 1})
    server = await serve(http_server(lambda c, r, n: ok(body, b"X-MBX-USED-WEIGHT-1M: 7\r\n")))
    async with RestClient(server.http + suffix) as rest:
        reply = await rest.public("GET", "/api/v3/depth", {"symbol": "BTCUSDT", "limit": 5})
        await rest.public("GET", "/api/v3/time")

    assert reply == {"serverTime": 1}
    assert rest.used_weight == {"1m": 7}
    assert server.targets() == [(0, "GET", f"{prefix}/api/v3/depth?symbol=BTCUSDT&limit=5"),
                                (0, "GET", f"{prefix}/api/v3/time")]


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


async def test_upgrade_request_and_message_round_trip(serve: Any, cleanup: list[Any]) -> None:
    async def echo(conn: SrvConn) -> None:
        while (frame := await conn.read_frame()) is not None:
            if frame.opcode == 0x1:
                await conn.write(sframe(0x1, b"echo:" + frame.payload))

    server = await serve(ws_server(echo))
    inbox = Inbox()
    ws = await ws_connect(server.ws + "/ws-api/v3?returnRateLimits=false", inbox, heartbeat=None)
    cleanup.append(ws)

    ws.send_text(b'{"id":1}')
    await until(lambda: inbox, what="echo")

    assert inbox == [b'echo:{"id":1}']
    req = server.requests[0]
    assert (req.method, req.target) == ("GET", "/ws-api/v3?returnRateLimits=false")
    assert req.headers["host"] == f"127.0.0.1:{server.port}"
    assert req.headers["upgrade"].lower() == "websocket"
    assert "upgrade" in req.headers["connection"].lower()
    assert req.headers["sec-websocket-version"] == "13"
    assert len(base64.b64decode(req.headers["sec-websocket-key"], validate=True)) == 16
    assert "sec-websocket-extensions" not in req.headers  # no compression offered
    assert ws.is_open


@pytest.mark.parametrize("status", [429, 418, 400])
async def test_upgrade_refused_is_handshake_failed_with_status(serve: Any, status: int) -> None:
    async def refuse(conn: SrvConn) -> None:
        await conn.read_request()
        await conn.write(f"HTTP/1.1 {status} Nope\r\nRetry-After: 3\r\nContent-Length: 2\r\n\r\n{{}}".encode())
        await conn.read_frames_until_eof()

    server = await serve(refuse)

    with pytest.raises(HandshakeFailed) as info:
        await ws_connect(server.ws + "/ws", Inbox(), heartbeat=None)

    assert info.value.status == status
    assert isinstance(info.value, TransportError)
    await until(lambda: server.conns[0].eof, what="client dropped the refused connection")


@pytest.mark.parametrize("accept", [
    {"accept": base64.b64encode(b"x" * 20).decode()},
    {"accept": ""},
    {"extra": b"Sec-WebSocket-Extensions: permessage-deflate\r\n"},
])
async def test_bad_upgrade_reply_is_protocol_error(serve: Any, accept: dict[str, Any]) -> None:
    server = await serve(ws_server(until_eof, **accept))

    with pytest.raises(ProtocolError):
        await ws_connect(server.ws + "/ws", Inbox(), heartbeat=None)


async def test_upgrade_without_upgrade_header_is_protocol_error(serve: Any) -> None:
    async def handler(conn: SrvConn) -> None:
        req = await conn.read_request()
        assert req is not None
        accept = base64.b64encode(hashlib.sha1(req.headers["sec-websocket-key"].encode() + WS_GUID).digest())
        await conn.write(b"HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n")
        await conn.read_frames_until_eof()

    server = await serve(handler)

    with pytest.raises(ProtocolError):
        await ws_connect(server.ws + "/ws", Inbox(), heartbeat=None)


async def test_connection_closed_during_upgrade_is_connection_lost(serve: Any) -> None:
    async def handler(conn: SrvConn) -> None:
        await conn.read_request()
        await conn.write(b"HTTP/1.1 101 Switching Protocols\r\nUpgr")

    server = await serve(handler)

    with pytest.raises(ConnectionLost):
        await ws_connect(server.ws + "/ws", Inbox(), heartbeat=None)


async def test_upgrade_never_answered_is_timeout(serve: Any) -> None:
    server = await serve(lambda conn: conn.read_frames_until_eof())

    with pytest.raises(TimeoutError):
        await ws_connect(server.ws + "/ws", Inbox(), heartbeat=None, timeout=0.3)

    await until(lambda: server.conns[0].eof, what="client dropped the connection")


async def test_ws_connection_refused_is_connect_failed() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        with pytest.raises(ConnectFailed):
            await ws_connect(f"ws://127.0.0.1:{sock.getsockname()[1]}/ws", Inbox(), heartbeat=None)


async def test_frames_in_the_same_write_as_the_upgrade_reply_are_delivered(serve: Any, cleanup: list[Any]) -> None:
    server = await serve(ws_server(until_eof, then=sframe(0x1, b"early") + sframe(0x1, b"bird")))
    inbox = Inbox()

    ws = await ws_connect(server.ws + "/ws", inbox, heartbeat=None)
    cleanup.append(ws)

    await until(lambda: len(inbox) == 2)
    assert inbox == [b"early", b"bird"]


# -- WebSocket: framing --------------------------------------------------------------------------
async def ws_pair(serve: Any, cleanup: list[Any], script: Callable[[SrvConn], Awaitable[None]],
                  **kw: Any) -> tuple[RawServer, WebSocket, Inbox]:
    server = await serve(ws_server(script))
    inbox = Inbox()
    kw.setdefault("heartbeat", None)
    ws = await ws_connect(server.ws + "/ws", inbox, **kw)
    cleanup.append(ws)
    return server, ws, inbox


@pytest.mark.parametrize("size, form", [(0, 7), (1, 7), (125, 7), (126, 16), (65535, 16), (65536, 64),
                                        (300_000, 64), (5, 16), (5, 64)])
async def test_server_frame_lengths(serve: Any, cleanup: list[Any], size: int, form: int) -> None:
    payload = random.Random(size).randbytes(size)

    async def script(conn: SrvConn) -> None:
        await conn.write(sframe(0x2, payload, length_form=form))
        await conn.read_frames_until_eof()

    _, ws, inbox = await ws_pair(serve, cleanup, script)

    await until(lambda: inbox)
    assert inbox == [payload]


async def test_masked_server_frame_is_tolerated(serve: Any, cleanup: list[Any]) -> None:
    async def script(conn: SrvConn) -> None:
        await conn.write(sframe(0x1, b"masked by the server", mask_key=b"\x01\x02\x03\x04"))
        await conn.read_frames_until_eof()

    _, ws, inbox = await ws_pair(serve, cleanup, script)

    await until(lambda: inbox)
    assert inbox == [b"masked by the server"]


async def test_many_frames_in_one_write(serve: Any, cleanup: list[Any]) -> None:
    messages = [f"m{i}".encode() * i for i in range(200)] + [b"x" * 70_000, b""]

    async def script(conn: SrvConn) -> None:
        await conn.write(b"".join(sframe(0x1, m) for m in messages))
        await conn.read_frames_until_eof()

    _, ws, inbox = await ws_pair(serve, cleanup, script)

    await until(lambda: len(inbox) >= len(messages))
    assert inbox == messages


async def test_frames_split_byte_by_byte(serve: Any, cleanup: list[Any]) -> None:
    """Every byte of three frames (7-, 16- and 64-bit lengths, one masked) arrives in its own
    `data_received` call: the server writes the next byte only once the client has read the last."""
    messages = [b"small", b"m" * 130, b"L" * 20]
    wire = (sframe(0x1, messages[0], mask_key=b"abcd") + sframe(0x1, messages[1])
            + sframe(0x2, messages[2], length_form=64))
    go = asyncio.Event()
    reads: list[bytes] = []
    read = asyncio.Event()

    async def script(conn: SrvConn) -> None:
        await go.wait()
        for i in range(len(wire)):
            read.clear()
            await conn.write(wire[i:i + 1])
            await asyncio.wait_for(read.wait(), 5.0)  # deadline: the client read byte i
        await conn.read_frames_until_eof()

    _, ws, inbox = await ws_pair(serve, cleanup, script)
    original = ws.data_received

    def counting(data: bytes) -> None:
        reads.append(data)
        read.set()
        original(data)

    ws.data_received = counting  # type: ignore[method-assign]
    go.set()

    await until(lambda: len(inbox) == 3, timeout=20)
    assert inbox == messages
    assert all(len(r) == 1 for r in reads) and len(reads) == len(wire)


async def test_fragmented_message_with_interleaved_ping(serve: Any, cleanup: list[Any]) -> None:
    async def script(conn: SrvConn) -> None:
        await conn.write(sframe(0x1, b"Hel", fin=False) + sframe(0x0, b"lo, ", fin=False))
        await conn.write(sframe(0x9, b"mid") + sframe(0x0, b"", fin=False) + sframe(0x0, b"world"))
        await conn.write(sframe(0x2, b"\x00\x01", fin=False) + sframe(0x0, b"\x02"))
        await conn.write(sframe(0x1, b"single"))
        await conn.read_frames_until_eof()

    server, ws, inbox = await ws_pair(serve, cleanup, script)

    await until(lambda: len(inbox) == 3)
    assert inbox == [b"Hello, world", b"\x00\x01\x02", b"single"]
    await until(lambda: 0xA in server.conns[0].opcodes(), what="pong")
    pong = server.conns[0].frames[0]
    assert (pong.opcode, pong.payload) == (0xA, b"mid")


@pytest.mark.parametrize("payload", [b"", b"abc\x00\xff", bytes(range(125))])
async def test_server_ping_is_answered_with_same_payload(serve: Any, cleanup: list[Any], payload: bytes) -> None:
    async def script(conn: SrvConn) -> None:
        await conn.write(sframe(0x9, payload))
        await conn.read_frames_until_eof()

    server, ws, inbox = await ws_pair(serve, cleanup, script)

    await until(lambda: server.conns[0].frames, what="pong")
    pong = server.conns[0].frames[0]
    assert (pong.fin, pong.rsv, pong.opcode, pong.masked, pong.payload) == (True, 0, 0xA, True, payload)
    assert inbox == []


@pytest.mark.parametrize("size, length_code", [(0, 0), (125, 125), (126, 126), (65535, 126), (65536, 127),
                                               (70_000, 127)])
async def test_client_frames_are_masked_with_minimal_length(serve: Any, cleanup: list[Any], size: int,
                                                            length_code: int) -> None:
    payload = random_text(random.Random(size), size)
    server, ws, _ = await ws_pair(serve, cleanup, until_eof)

    ws.send_text(payload)
    ws.send_text(payload)

    await until(lambda: len(server.conns[0].frames) == 2, what="two frames")
    for frame in server.conns[0].frames:
        assert (frame.fin, frame.rsv, frame.opcode, frame.masked) == (True, 0, 0x1, True)
        assert frame.length_code == length_code
        assert frame.payload == payload


# -- WebSocket: closing --------------------------------------------------------------------------
async def test_server_close_is_answered_and_closed_completes(serve: Any, cleanup: list[Any]) -> None:
    async def script(conn: SrvConn) -> None:
        await conn.write(sframe(0x1, b"last") + sframe(0x8, close_payload(1001, b"going away"))
                         + sframe(0x1, b"after close"))
        await conn.read_frames_until_eof()

    server, ws, inbox = await ws_pair(serve, cleanup, script)

    await until(lambda: ws.closed.done(), what="closed")
    assert (ws.close_code, ws.close_reason) == (1001, "going away")
    assert inbox == [b"last"]
    await until(lambda: server.conns[0].eof, what="client closed the TCP connection")
    reply = server.conns[0].frames
    assert [(f.opcode, f.masked, f.payload) for f in reply] == [(0x8, True, close_payload(1001))]
    assert not ws.is_open
    with pytest.raises(ConnectionLost):
        ws.send_text(b"x")


async def test_server_close_without_code(serve: Any, cleanup: list[Any]) -> None:
    async def script(conn: SrvConn) -> None:
        await conn.write(sframe(0x8))
        await conn.read_frames_until_eof()

    server, ws, _ = await ws_pair(serve, cleanup, script)

    await until(lambda: ws.closed.done())
    assert ws.close_code == 1005
    await until(lambda: server.conns[0].eof)
    assert server.conns[0].opcodes() == [0x8]


async def test_client_close_handshake(serve: Any, cleanup: list[Any]) -> None:
    async def script(conn: SrvConn) -> None:
        frame = await conn.read_frame()
        assert frame is not None and frame.opcode == 0x8
        await conn.write(sframe(0x8, frame.payload))
        await conn.read_frames_until_eof()

    server, ws, _ = await ws_pair(serve, cleanup, script)

    await ws.close(1000)

    assert ws.closed.done() and ws.close_code == 1000
    assert server.conns[0].frames[0].payload == close_payload(1000)
    with pytest.raises(ConnectionLost):
        ws.send_text(b"x")
    await until(lambda: server.conns[0].eof)


async def test_send_text_while_the_close_handshake_is_pending(serve: Any, cleanup: list[Any]) -> None:
    server, ws, _ = await ws_pair(serve, cleanup, until_eof)
    closing = asyncio.ensure_future(ws.close(1000, timeout=10.0))
    try:
        await until(lambda: server.conns[0].frames, what="close frame at the server")

        assert not ws.is_open
        with pytest.raises(ConnectionLost):
            ws.send_text(b"too late")
        ws.ping(b"ignored")
    finally:
        ws.abort()
        await closing
    assert server.conns[0].opcodes() == [0x8]


async def test_client_close_without_server_reply_still_drops(serve: Any, cleanup: list[Any]) -> None:
    server, ws, _ = await ws_pair(serve, cleanup, until_eof)

    await ws.close(1000, timeout=0.2)

    await until(lambda: ws.closed.done() and server.conns[0].eof)
    assert ws.close_code == 1000


async def test_server_dropping_tcp_is_1006(serve: Any, cleanup: list[Any]) -> None:
    async def script(conn: SrvConn) -> None:
        await conn.write(sframe(0x1, b"bye"))

    _, ws, inbox = await ws_pair(serve, cleanup, script)

    await until(lambda: ws.closed.done())
    assert inbox == [b"bye"] and ws.close_code == 1006
    with pytest.raises(ConnectionLost):
        ws.send_text(b"x")


@pytest.mark.parametrize("bad", [
    sframe(0x1, b"rsv1", rsv=0x40),
    sframe(0x1, b"rsv3", rsv=0x10),
    sframe(0x3, b"unknown data opcode"),
    sframe(0xB, b"unknown control opcode"),
    sframe(0x2, b"z" * 1001),  # > max_size
    sframe(0x2, b"z" * 70_000, length_form=64),  # > max_size
    sframe(0x0, b"continuation without a start"),
    sframe(0x1, b"a", fin=False) + sframe(0x1, b"b"),  # new message inside a fragmented one
    sframe(0x1, b"a" * 600, fin=False) + sframe(0x0, b"b" * 600),  # fragments add up > max_size
    sframe(0x9, b"p" * 126, length_form=16),  # control frame payload > 125
    sframe(0x9, b"p", fin=False),  # fragmented control frame
])
async def test_protocol_violation_closes_with_1002(serve: Any, cleanup: list[Any], bad: bytes) -> None:
    async def script(conn: SrvConn) -> None:
        await conn.write(sframe(0x1, b"before") + bad + sframe(0x1, b"after"))
        await conn.read_frames_until_eof()

    server, ws, inbox = await ws_pair(serve, cleanup, script, max_size=1000)

    await until(lambda: ws.closed.done(), what="closed")
    assert ws.close_code == 1002
    assert inbox == [b"before"]
    await until(lambda: server.conns[0].eof)
    assert [(f.opcode, f.payload) for f in server.conns[0].frames] == [(0x8, close_payload(1002))]


async def test_handler_error_does_not_kill_the_connection(serve: Any, cleanup: list[Any]) -> None:
    seen: list[bytes] = []

    def on_message(data: bytes) -> None:
        seen.append(data)
        if data == b"boom":
            raise RuntimeError("handler bug")

    async def script(conn: SrvConn) -> None:
        await conn.write(sframe(0x1, b"boom") + sframe(0x1, b"next"))
        await conn.read_frames_until_eof()

    server = await serve(ws_server(script))
    ws = await ws_connect(server.ws + "/ws", on_message, heartbeat=None)
    cleanup.append(ws)

    await until(lambda: len(seen) == 2)
    assert seen == [b"boom", b"next"]
    assert ws.handler_errors == 1 and isinstance(ws.last_handler_error, RuntimeError)
    assert ws.is_open and not ws.closed.done()
    ws.send_text(b"still works")
    await until(lambda: server.conns[0].frames)


# -- WebSocket: heartbeat ------------------------------------------------------------------------
async def test_heartbeat_drops_a_silent_server(serve: Any, cleanup: list[Any]) -> None:
    """heartbeat=0.2: idle -> ping at ~0.2 s, nothing back by ~0.3 s -> dropped (deadline: 3 s)."""
    server, ws, _ = await ws_pair(serve, cleanup, until_eof, heartbeat=0.2)

    await until(lambda: ws.closed.done(), timeout=3.0, what="dropped by the heartbeat")

    assert ws.close_code == 1006 and "pong" in ws.close_reason
    assert 0x9 in server.conns[0].opcodes()
    await until(lambda: server.conns[0].eof)


async def test_heartbeat_keeps_a_responsive_server(serve: Any, cleanup: list[Any]) -> None:
    async def script(conn: SrvConn) -> None:
        await conn.read_frames_until_eof(answer_pings=True)

    server, ws, _ = await ws_pair(serve, cleanup, script, heartbeat=0.2)

    await until(lambda: server.conns[0].opcodes().count(0x9) >= 4, timeout=10.0, what="4 pings answered")

    assert not ws.closed.done() and ws.is_open


async def test_heartbeat_does_not_ping_a_busy_connection(serve: Any, cleanup: list[Any]) -> None:
    done = asyncio.Event()

    async def script(conn: SrvConn) -> None:
        reader = asyncio.ensure_future(conn.read_frames_until_eof())
        for i in range(80):  # a busy feed: a message every 15 ms for ~4 heartbeats of 0.3 s
            await conn.write(sframe(0x1, b"tick %d" % i))
            await asyncio.sleep(0.015)
        done.set()
        await reader

    server, ws, inbox = await ws_pair(serve, cleanup, script, heartbeat=0.3)

    await until(lambda: done.is_set() and len(inbox) == 80, timeout=20.0)
    assert server.conns[0].opcodes() == []  # never pinged
    assert ws.is_open


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


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> Cert:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "copytrader test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                    x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                       serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return Cert(folder / "cert.pem", folder / "key.pem")


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


@pytest.fixture
async def aiohttp_server() -> Any:
    """`await aiohttp_server(ssl_ctx=None)` -> port of an aiohttp app: /echo (WebSocket), /hello."""
    runners: list[web.AppRunner] = []
    closes: list[int | None] = []  # close codes aiohttp got back on /bye

    async def start(ssl_ctx: ssl.SSLContext | None = None) -> int:
        app = web.Application()
        app.router.add_get("/echo", echo_ws)
        app.router.add_get("/hello", hello)
        app.router.add_get("/bye", bye_ws)
        app[BYE_CODES] = closes
        runner = web.AppRunner(app, handle_signals=False)
        await runner.setup()
        runners.append(runner)
        await web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_ctx).start()
        return runner.addresses[0][1]

    start.closes = closes  # type: ignore[attr-defined]
    yield start
    for runner in runners:
        await runner.cleanup()


async def test_wss_round_trip_with_trusted_self_signed_cert(aiohttp_server: Any, self_signed: Cert,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            cleanup: list[Any]) -> None:
    port = await aiohttp_server(self_signed.server_context())
    monkeypatch.setattr(transport, "_ssl_context", self_signed.client_context())
    inbox = Inbox()

    ws = await ws_connect(f"wss://127.0.0.1:{port}/echo", inbox, heartbeat=None)
    cleanup.append(ws)
    ws.send_text(b'{"over":"tls"}')
    await until(lambda: inbox)
    client = HttpClient(f"https://127.0.0.1:{port}")
    cleanup.append(client)
    resp = await client.request("GET", "/hello?a=1")

    assert inbox == [b'{"over":"tls"}']
    assert orjson.loads(resp.body) == {"path": "/hello?a=1"}
    await ws.close()
    assert ws.close_code == 1000


async def test_tls_with_an_untrusted_cert_is_connect_failed(aiohttp_server: Any, self_signed: Cert,
                                                            monkeypatch: pytest.MonkeyPatch,
                                                            cleanup: list[Any]) -> None:
    port = await aiohttp_server(self_signed.server_context())
    monkeypatch.setattr(transport, "_ssl_context", None)  # the module's own default: system CAs
    client = HttpClient(f"https://127.0.0.1:{port}")
    cleanup.append(client)

    with pytest.raises(ConnectFailed):
        await ws_connect(f"wss://127.0.0.1:{port}/echo", Inbox(), heartbeat=None)
    with pytest.raises(ConnectFailed):
        await client.request("GET", "/hello")


async def test_tls_to_a_plain_tcp_server_is_connect_failed(serve: Any, self_signed: Cert,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    server = await serve(lambda conn: conn.write(b"HTTP/1.1 400 Bad Request\r\n\r\n"))
    monkeypatch.setattr(transport, "_ssl_context", self_signed.client_context())

    with pytest.raises(ConnectFailed):
        await ws_connect(f"wss://127.0.0.1:{server.port}/ws", Inbox(), heartbeat=None, timeout=5)


# -- Interop with aiohttp ------------------------------------------------------------------------
def random_text(rng: random.Random, size: int) -> bytes:
    """`size` bytes of printable ASCII (valid UTF-8: aiohttp checks text messages)."""
    return base64.b64encode(rng.randbytes(size * 3 // 4 + 3))[:size]


async def test_interop_aiohttp_echo_1000_random_messages(aiohttp_server: Any, cleanup: list[Any]) -> None:
    port = await aiohttp_server()
    rng = random.Random(6455)
    sizes = [0, 1, 125, 126, 127, 65535, 65536, 65537, 200_000]
    sizes += [rng.randint(0, 200_000) for _ in range(1000 - len(sizes))]
    messages = [random_text(rng, n) for n in sizes]
    inbox = Inbox()
    ws = await ws_connect(f"ws://127.0.0.1:{port}/echo", inbox, heartbeat=None)
    cleanup.append(ws)

    window = 16
    for i, message in enumerate(messages):
        if i - len(inbox) >= window:
            await until(lambda: i - len(inbox) < window,  # noqa: B023 - awaited in the iteration
                        timeout=30.0, what=f"echo of message {i - window}")
        ws.send_text(message)
    await until(lambda: len(inbox) == len(messages), timeout=60.0, what="all echoes")

    assert len(inbox) == 1000
    bad = [i for i, (got, sent) in enumerate(zip(inbox, messages, strict=False)) if got != sent]
    assert bad == [], f"{len(bad)} messages differ, first at {bad[:1]}"
    await ws.close()
    assert ws.close_code == 1000 and ws.handler_errors == 0


async def test_interop_aiohttp_server_close(aiohttp_server: Any, cleanup: list[Any]) -> None:
    port = await aiohttp_server()
    inbox = Inbox()
    ws = await ws_connect(f"ws://127.0.0.1:{port}/bye", inbox, heartbeat=None)
    cleanup.append(ws)

    await until(lambda: ws.closed.done(), what="closed by aiohttp")
    await until(lambda: aiohttp_server.closes, what="aiohttp's close handshake completed")

    assert inbox == [b"bye"]
    assert (ws.close_code, ws.close_reason) == (4000, "done")
    assert aiohttp_server.closes == [4000]  # our close reply echoed the code
