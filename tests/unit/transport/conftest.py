"""Fixtures of the tests in tests/unit/transport/."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from typing import Any

import pytest
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from actors.binance.websocket import WebSocket
from tests.helpers.raw_server import BYE_CODES, Cert, Handler, RawServer, bye_ws, echo_ws, hello


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


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> Cert:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "copytrader test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return Cert(folder / "cert.pem", folder / "key.pem")


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
