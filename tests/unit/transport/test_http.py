"""The HTTP client (actors/binance/httpclient.py, rest.py) against raw servers started here on 127.0.0.1,
port 0 that write exact bytes: heads and bodies, connections that break, malformed replies.
"""

from __future__ import annotations

import asyncio
import random
import socket
from typing import Any

import orjson
import pytest

from actors.binance.httpclient import HttpClient
from actors.binance.rest import RestClient, _path_of
from actors.binance.transport import ConnectFailed, ConnectionLost, ProtocolError, split_url
from tests.helpers.raw_server import CLOSE, HANG, Request, SrvConn, http_server, ok, reset, until


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
    assert (second.method, second.target, second.headers["content-length"]) == ("POST", "/api/v3/order?symbol=BTCUSDT", "0")


async def test_chunked_body_with_extensions_and_trailers_then_reuse(serve: Any, cleanup: list[Any]) -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;name=value\r\nhello\r\n"
        b"1\r\n \r\n"
        b'A; a=1; b="x"\r\n0123456789\r\n'
        b"0;last\r\nX-Trailer: one\r\nX-Other: two\r\n\r\n"
    )
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
    wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n" + f"{len(big):x}\r\n".encode() + big + b"\r\n0\r\n\r\n"
    writes = [wire[i : i + 1] for i in range(60)] + [wire[60:100_000], wire[100_000:]]
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
    replies = [
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n",  # answer to HEAD: no body follows
        b"HTTP/1.1 304 Not Modified\r\n\r\n",
        ok(b"last"),
    ]
    server = await serve(http_server(lambda c, r, n: replies[n]))
    client = HttpClient(server.http)
    cleanup.append(client)

    r204 = await client.request("DELETE", "/a")
    head = await client.request("HEAD", "/b")
    r304 = await client.request("GET", "/c")
    last = await client.request("GET", "/d")

    assert (r204.status, r204.body, head.status, head.body, r304.status, r304.body) == (204, b"", 200, b"", 304, b"")
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


@pytest.mark.parametrize(
    "reply",
    [
        b"HTTP/1.1 200 OK\r\nContent-Le",  # part of the head
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",  # part of the body
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",  # part of a chunk
    ],
)
async def test_connection_closed_mid_response_is_connection_lost(serve: Any, cleanup: list[Any], reply: bytes) -> None:
    server = await serve(http_server(lambda c, r, n: ok() if n == 0 else (reply, CLOSE)))
    client = HttpClient(server.http)
    cleanup.append(client)
    await client.request("GET", "/a")

    with pytest.raises(ConnectionLost):
        await client.request("GET", "/b")  # some bytes came: never retried, even a GET

    assert server.targets() == [(0, "GET", "/a"), (0, "GET", "/b")]


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


@pytest.mark.parametrize(
    "partial", [b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc"]
)
async def test_reset_in_the_middle_of_the_body_is_connection_lost(serve: Any, cleanup: list[Any], partial: bytes) -> None:
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
    replies = [
        b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 100 Continue\r\n\r\n" + ok(b"first"),
        ok(b"second"),
    ]
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


@pytest.mark.parametrize(
    "head",
    [
        b"garbage\r\n\r\n",
        b"SSH-2.0-OpenSSH_9.0\r\n\r\n",
        b"HTTP/1.1 abc OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/2 200\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\nContent-Length: 0\r\n\r\n",
    ],
)
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
    reply = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + size_line + b"\r\nhello\r\n0\r\n\r\n"
    server = await serve(http_server(lambda c, r, n: reply))
    client = HttpClient(server.http)
    cleanup.append(client)

    with pytest.raises(ProtocolError):
        await client.request("GET", "/a")


@pytest.mark.parametrize(
    "reply",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 101\r\n\r\n" + b"x" * 101,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n" + b"x" * 64 + b"\r\n40\r\n" + b"x" * 64 + b"\r\n0\r\n\r\n",
        (b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 101, CLOSE),
    ],
)
async def test_body_over_max_body_is_protocol_error(serve: Any, cleanup: list[Any], reply: Any) -> None:
    server = await serve(http_server(lambda c, r, n: reply))
    client = HttpClient(server.http, max_body=100)
    cleanup.append(client)

    with pytest.raises(ProtocolError):
        await client.request("GET", "/a")


@pytest.mark.parametrize(
    "headers", [{"X-Evil": "a\r\nX-Injected: 1"}, {"X-Evil": "a\nX-Injected: 1"}, {"X-Evil": "a\rb"}, {"X-Evil\r\nX-Injected": "1"}]
)
async def test_header_injection_is_refused_before_sending(serve: Any, cleanup: list[Any], headers: dict[str, str]) -> None:
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
    assert server.targets() == [(0, "GET", f"{prefix}/api/v3/depth?symbol=BTCUSDT&limit=5"), (0, "GET", f"{prefix}/api/v3/time")]
