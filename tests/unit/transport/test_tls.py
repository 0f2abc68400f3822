"""TLS (wss/https with a self-signed certificate made here) and interop with aiohttp, an
implementation we did not write, on 127.0.0.1 port 0.
"""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest

from actors.binance import transport
from actors.binance.httpclient import HttpClient
from actors.binance.transport import ConnectFailed
from actors.binance.websocket import ws_connect
from tests.helpers.raw_server import Cert, Inbox, random_text, until


async def test_wss_round_trip_with_trusted_self_signed_cert(
    aiohttp_server: Any, self_signed: Cert, monkeypatch: pytest.MonkeyPatch, cleanup: list[Any]
) -> None:
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


async def test_tls_with_an_untrusted_cert_is_connect_failed(
    aiohttp_server: Any, self_signed: Cert, monkeypatch: pytest.MonkeyPatch, cleanup: list[Any]
) -> None:
    port = await aiohttp_server(self_signed.server_context())
    monkeypatch.setattr(transport, "_ssl_context", None)  # the module's own default: system CAs
    client = HttpClient(f"https://127.0.0.1:{port}")
    cleanup.append(client)

    with pytest.raises(ConnectFailed):
        await ws_connect(f"wss://127.0.0.1:{port}/echo", Inbox(), heartbeat=None)
    with pytest.raises(ConnectFailed):
        await client.request("GET", "/hello")


async def test_tls_to_a_plain_tcp_server_is_connect_failed(serve: Any, self_signed: Cert, monkeypatch: pytest.MonkeyPatch) -> None:
    server = await serve(lambda conn: conn.write(b"HTTP/1.1 400 Bad Request\r\n\r\n"))
    monkeypatch.setattr(transport, "_ssl_context", self_signed.client_context())

    with pytest.raises(ConnectFailed):
        await ws_connect(f"wss://127.0.0.1:{server.port}/ws", Inbox(), heartbeat=None, timeout=5)


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
            await until(
                lambda: i - len(inbox) < window,  # noqa: B023 - awaited in the iteration
                timeout=30.0,
                what=f"echo of message {i - window}",
            )
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
