"""The network layer of our Binance client: HTTP/1.1 keep-alive and WebSocket (RFC 6455) on asyncio.

Why our own instead of aiohttp (measured, docs/bench/README.md): aiohttp is 8.4 MB of private
memory in every slave process (100 slaves: 840 MB), and each WebSocket message crosses its parser
queue and a reader task before our code sees it. Here a frame is parsed in `data_received` and
handed to a callback in the same call: a reply wakes only the coroutine that awaits it, a user-data
event wakes nobody. Only what Binance's endpoints use is implemented:

- HTTP/1.1 requests without a body (Binance takes every parameter in the query string) and
  responses with Content-Length, chunked transfer coding or close-delimited bodies; a small pool of
  keep-alive connections per origin; TLS for `https`/`wss`.
- WebSocket client: no extensions (no compression offered), text/binary messages, fragmentation,
  ping/pong, close handshake, a heartbeat that pings an idle connection and drops it when nothing
  comes back.

`httpclient.py` is the HTTP side, `websocket.py` the WebSocket side; this module holds what they
share. Errors are `TransportError` (a `ConnectionError`, so an `OSError`): `ConnectFailed` when nothing
was sent, `ConnectionLost` when the connection broke (a request may or may not have been
processed), `HandshakeFailed` when the server refused the WebSocket upgrade, `ProtocolError` for a
malformed reply or frame.
"""

from __future__ import annotations

import ssl
from urllib.parse import urlsplit

__all__ = ["TransportError", "ConnectFailed", "ConnectionLost", "HandshakeFailed", "ProtocolError", "split_url"]

_MAX_HEAD = 64 * 1024  # status line + headers


class TransportError(ConnectionError):
    """A network-level failure talking to the exchange (never carries request parameters)."""


class ConnectFailed(TransportError):
    """The connection could not be opened: nothing was sent."""


class ConnectionLost(TransportError):
    """The connection broke; a request in flight may or may not have been processed."""


class HandshakeFailed(TransportError):
    """The server answered the WebSocket upgrade with something other than 101."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"WebSocket upgrade refused: HTTP {status} {reason}")
        self.status = status


class ProtocolError(TransportError):
    """The peer sent something HTTP/1.1 or RFC 6455 does not allow."""


_ssl_context: ssl.SSLContext | None = None


def _tls() -> ssl.SSLContext:
    global _ssl_context
    if _ssl_context is None:
        _ssl_context = ssl.create_default_context()
    return _ssl_context


def split_url(url: str) -> tuple[bool, str, int, str]:
    """`(secure, host, port, target)` of an http(s)/ws(s) URL; target is path + query."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https", "ws", "wss"):
        raise ValueError(f"unsupported URL scheme {scheme!r} in {url!r}")
    secure = scheme in ("https", "wss")
    host = parts.hostname
    if not host:
        raise ValueError(f"no host in URL {url!r}")
    port = parts.port or (443 if secure else 80)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return secure, host, port, target


def _host_header(host: str, port: int, secure: bool) -> str:
    name = f"[{host}]" if ":" in host else host
    return name if port == (443 if secure else 80) else f"{name}:{port}"


def _tokens(value: str) -> set[str]:
    """The comma-separated tokens of a header value, lower-cased."""
    return {t.strip().lower() for t in value.split(",") if t.strip()}


def _parse_head(head: bytes) -> tuple[int, str, dict[str, str]]:
    """Status line and headers (names lower-cased; repeated headers joined with ", ")."""
    try:
        text = head.decode("latin-1")
    except UnicodeDecodeError:  # pragma: no cover - latin-1 decodes any byte
        raise ProtocolError("undecodable response head") from None
    lines = text.split("\r\n")
    status_line = lines[0].split(" ", 2)
    if len(status_line) < 2 or not status_line[0].startswith("HTTP/1."):
        raise ProtocolError(f"not an HTTP/1.x status line: {lines[0][:60]!r}")
    try:
        status = int(status_line[1])
    except ValueError:
        raise ProtocolError(f"bad status code in {lines[0][:60]!r}") from None
    reason = status_line[2] if len(status_line) > 2 else ""
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise ProtocolError(f"malformed header line {line[:60]!r}")
        key = name.strip().lower()
        value = value.strip()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return status, reason, headers
