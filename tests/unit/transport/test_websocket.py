"""The WebSocket client (actors/binance/websocket.py) against raw servers started here on 127.0.0.1,
port 0: the upgrade, framing, closing, the heartbeat.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import random
import socket
from typing import Any

import pytest

from actors.binance.transport import ConnectFailed, ConnectionLost, HandshakeFailed, ProtocolError, TransportError
from actors.binance.websocket import ws_connect
from tests.helpers.raw_server import WS_GUID, Inbox, SrvConn, close_payload, random_text, sframe, until, until_eof, ws_pair, ws_server


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


@pytest.mark.parametrize(
    "accept",
    [{"accept": base64.b64encode(b"x" * 20).decode()}, {"accept": ""}, {"extra": b"Sec-WebSocket-Extensions: permessage-deflate\r\n"}],
)
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


@pytest.mark.parametrize("size, form", [(0, 7), (1, 7), (125, 7), (126, 16), (65535, 16), (65536, 64), (300_000, 64), (5, 16), (5, 64)])
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
    wire = sframe(0x1, messages[0], mask_key=b"abcd") + sframe(0x1, messages[1]) + sframe(0x2, messages[2], length_form=64)
    go = asyncio.Event()
    reads: list[bytes] = []
    read = asyncio.Event()

    async def script(conn: SrvConn) -> None:
        await go.wait()
        for i in range(len(wire)):
            read.clear()
            await conn.write(wire[i : i + 1])
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


@pytest.mark.parametrize("size, length_code", [(0, 0), (125, 125), (126, 126), (65535, 126), (65536, 127), (70_000, 127)])
async def test_client_frames_are_masked_with_minimal_length(serve: Any, cleanup: list[Any], size: int, length_code: int) -> None:
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
        await conn.write(sframe(0x1, b"last") + sframe(0x8, close_payload(1001, b"going away")) + sframe(0x1, b"after close"))
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


@pytest.mark.parametrize(
    "bad",
    [
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
    ],
)
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
