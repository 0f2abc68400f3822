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

Errors are `TransportError` (a `ConnectionError`, so an `OSError`): `ConnectFailed` when nothing
was sent, `ConnectionLost` when the connection broke (a request may or may not have been
processed), `HandshakeFailed` when the server refused the WebSocket upgrade, `ProtocolError` for a
malformed reply or frame.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import ssl
from collections.abc import Callable
from urllib.parse import urlsplit

from actors.binance import agent as _agent  # User-Agent: copytrader/<version> (<actor>)

__all__ = [
    "TransportError", "ConnectFailed", "ConnectionLost", "HandshakeFailed", "ProtocolError",
    "HttpResponse", "HttpClient", "WebSocket", "ws_connect", "split_url",
]

_MAX_HEAD = 64 * 1024  # status line + headers
_WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

_OP_CONT, _OP_TEXT, _OP_BINARY, _OP_CLOSE, _OP_PING, _OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


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


# -- HTTP ----------------------------------------------------------------------------------------
_IDEMPOTENT = frozenset(("GET", "HEAD"))


class _StaleConnection(Exception):
    """The connection closed before a single byte of the response (maybe an idle keep-alive one)."""


class HttpResponse:
    """A complete response: `status`, `headers` (lower-case names), `body`."""

    __slots__ = ("status", "reason", "headers", "body")

    def __init__(self, status: int, reason: str, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body

    def __repr__(self) -> str:
        return f"HttpResponse({self.status}, {len(self.body)} bytes)"


class _Conn:
    __slots__ = ("reader", "writer", "idle_since")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.idle_since = 0.0

    def usable(self) -> bool:
        return not self.writer.is_closing() and not self.reader.at_eof()

    def close(self) -> None:
        if not self.writer.is_closing():
            self.writer.close()


class HttpClient:
    """Keep-alive HTTP/1.1 connections to one origin (`https://host:port`), at most `connections`.

    `request()` sends one request without a body and returns the whole response. A connection that
    was idle longer than `idle_timeout` is not reused (servers close idle ones; a request written
    into a connection the server is closing may or may not be processed).
    """

    def __init__(self, base_url: str, *, connections: int = 4, idle_timeout: float = 20.0,
                 max_body: int = 64 * 1024 * 1024) -> None:
        secure, host, port, _ = split_url(base_url)
        self.secure, self.host, self.port = secure, host, port
        self.idle_timeout = idle_timeout
        self.max_body = max_body
        self._host_header = _host_header(host, port, secure)
        self._idle: list[_Conn] = []
        self._slots = asyncio.Semaphore(connections)
        self._closed = False

    def __repr__(self) -> str:
        return f"HttpClient({'https' if self.secure else 'http'}://{self._host_header})"

    async def request(self, method: str, target: str, headers: dict[str, str] | None = None,
                      *, timeout: float = 10.0) -> HttpResponse:
        """Send `method target` and read the response, all within `timeout` seconds.

        Raises `ConnectFailed` (nothing sent, also when no connection was free in time),
        `ConnectionLost` (sent, no complete response), `ProtocolError`, or `TimeoutError` (sent, no
        complete response in time).
        """
        if self._closed:
            raise ConnectFailed("HTTP client closed")
        head = self._head(method, target, headers)
        sent: list[bool] = []
        # wait_for, not asyncio.timeout(): callers may run outside a task (see actors/slave/eager.py).
        try:
            return await asyncio.wait_for(self._exchange(method, head, sent), timeout)
        except _StaleConnection:
            raise ConnectionLost(f"connection closed before the response to {method}") from None
        except TimeoutError:
            if not sent:
                raise ConnectFailed(f"could not send {method} within {timeout}s") from None
            raise

    async def _exchange(self, method: str, head: bytes, sent: list[bool]) -> HttpResponse:
        async with self._slots:
            conn, reused = await self._acquire()
            try:
                conn.writer.write(head)
                sent.append(True)
                response = await self._read_response(conn.reader, method)
            except _StaleConnection:
                conn.close()
                if not reused or method not in _IDEMPOTENT:
                    raise ConnectionLost(f"connection closed before the response to {method}") from None
                # A kept-alive connection the server had closed: safe to send a read again.
                conn, _ = await self._acquire(fresh=True)
                try:
                    conn.writer.write(head)
                    response = await self._read_response(conn.reader, method)
                except BaseException:
                    conn.close()
                    raise
            except BaseException:
                conn.close()
                raise
            if "close" in _tokens(response.headers.get("connection", "")) or self._closed:
                conn.close()
            else:
                conn.idle_since = asyncio.get_running_loop().time()
                self._idle.append(conn)
            return response

    async def close(self) -> None:
        self._closed = True
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()

    def _head(self, method: str, target: str, headers: dict[str, str] | None) -> bytes:
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self._host_header}", f"User-Agent: {_agent.USER_AGENT}",
                 "Accept-Encoding: identity"]
        if method in ("POST", "PUT", "DELETE", "PATCH"):
            lines.append("Content-Length: 0")
        if headers:
            for name, value in headers.items():
                if "\r" in name or "\n" in name or "\r" in value or "\n" in value:
                    raise ValueError(f"header {name!r} contains a line break")
                lines.append(f"{name}: {value}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def _acquire(self, fresh: bool = False) -> tuple[_Conn, bool]:
        now = asyncio.get_running_loop().time()
        while self._idle and not fresh:
            conn = self._idle.pop()
            if conn.usable() and now - conn.idle_since < self.idle_timeout:
                return conn, True
            conn.close()
        try:
            reader, writer = await asyncio.open_connection(
                self.host, self.port, ssl=_tls() if self.secure else None,
                server_hostname=self.host if self.secure else None, limit=_MAX_HEAD,
            )
        except (OSError, ssl.SSLError) as exc:
            raise ConnectFailed(f"could not connect to {self._host_header}: {type(exc).__name__}") from None
        return _Conn(reader, writer), False

    async def _read_response(self, reader: asyncio.StreamReader, method: str) -> HttpResponse:
        interim = False  # a 1xx came: the server has the request, a close now is not "stale"
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError as exc:
                if not exc.partial and not interim:
                    raise _StaleConnection() from None
                raise ConnectionLost(f"connection closed before the response to {method}") from None
            except ConnectionResetError:
                if interim:
                    raise ConnectionLost(f"connection reset before the response to {method}") from None
                raise _StaleConnection() from None
            except asyncio.LimitOverrunError:
                raise ProtocolError("response head larger than 64 KiB") from None
            status, reason, headers = _parse_head(head[:-4])
            if not 100 <= status < 200 or status == 101:
                break
            interim = True  # 1xx is informational (RFC 9110 15.2): the final response follows
        if method == "HEAD" or status in (101, 204, 304):
            return HttpResponse(status, reason, headers, b"")
        try:
            if "chunked" in headers.get("transfer-encoding", "").lower():
                body = await self._read_chunked(reader)
            elif "content-length" in headers:
                value = headers["content-length"]
                if not (value.isascii() and value.isdigit()):  # int() would take "1_0", "+5", " 7"
                    raise ProtocolError(f"bad Content-Length {value[:20]!r}")
                length = int(value)
                if length < 0 or length > self.max_body:
                    raise ProtocolError(f"Content-Length {length} out of range")
                body = await reader.readexactly(length)
            else:
                body = await reader.read(self.max_body + 1)
                while len(body) <= self.max_body:
                    more = await reader.read(self.max_body + 1 - len(body))
                    if not more:
                        break
                    body += more
                if len(body) > self.max_body:
                    raise ProtocolError("response body too large")
                headers["connection"] = "close"
        except (asyncio.IncompleteReadError, ConnectionResetError, ConnectionAbortedError):
            raise ConnectionLost(f"connection closed in the middle of the response to {method}") from None
        return HttpResponse(status, reason, headers, body)

    async def _read_chunked(self, reader: asyncio.StreamReader) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            try:
                line = await reader.readuntil(b"\r\n")
            except asyncio.LimitOverrunError:
                raise ProtocolError("chunk size line too long") from None
            digits = line.split(b";", 1)[0].strip()
            if not digits or digits.strip(b"0123456789abcdefABCDEF"):  # int(, 16) would take "1_0", "0x5"
                raise ProtocolError("bad chunk size")
            size = int(digits, 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                    pass
                return b"".join(parts)
            total += size
            if total > self.max_body:
                raise ProtocolError("response body too large")
            parts.append(await reader.readexactly(size))
            if await reader.readexactly(2) != b"\r\n":
                raise ProtocolError("chunk not followed by CRLF")


# -- WebSocket -----------------------------------------------------------------------------------
def _mask(payload: bytes, key: bytes) -> bytes:
    n = len(payload)
    if n == 0:
        return payload
    stream = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(stream, "little")).to_bytes(n, "little")


def _frame(opcode: int, payload: bytes) -> bytes:
    """A final, masked client frame (RFC 6455 5.2, 5.3)."""
    n = len(payload)
    key = os.urandom(4)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    return head + key + _mask(payload, key)


class WebSocket(asyncio.Protocol):
    """A client WebSocket connection; whole messages go to `on_message(data: bytes)` as they arrive.

    `closed` is a future done when the connection is gone (`close_code` / `close_reason` tell why).
    """

    def __init__(self, on_message: Callable[[bytes], None], *, key: bytes, max_size: int = 16 * 1024 * 1024,
                 heartbeat: float | None = 30.0) -> None:
        loop = asyncio.get_running_loop()
        self.on_message = on_message
        self.max_size = max_size
        self.heartbeat = heartbeat
        self.handshake: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.close_code: int | None = None
        self.close_reason = ""
        self.handler_errors = 0
        self.last_handler_error: BaseException | None = None
        self._loop = loop
        self._key = key
        self._transport: asyncio.Transport | None = None
        self._buf = b""
        self._upgraded = False
        self._fragments: list[bytes] = []
        self._fragment_op = 0
        self._fragment_size = 0
        self._close_sent = False
        self._stopped = False  # aborted, or a close frame came: deliver nothing more
        self._rx = 0  # frames received, for the heartbeat
        self._rx_seen = 0
        self._timer: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self.handshake.done():
            self.handshake.set_exception(ConnectionLost("connection closed during the WebSocket upgrade"))
            self.handshake.exception()
        if self.close_code is None:
            self.close_code = 1006  # abnormal closure: no close frame
            self.close_reason = type(exc).__name__ if exc is not None else "connection closed"
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        buf = self._buf + data if self._buf else data
        if not self._upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > _MAX_HEAD:
                    self._fail(ProtocolError("WebSocket upgrade response head too large"))
                else:
                    self._buf = buf
                return
            try:
                self._check_upgrade(buf[:end], buf[end + 4:])
            except TransportError as exc:
                self._fail(exc)
                return
            self._upgraded = True
            buf = buf[end + 4:]
            self.handshake.set_result(None)
            self._start_heartbeat()
        try:
            self._buf = self._parse(buf)
        except TransportError as exc:
            self._protocol_error(str(exc))

    # -- public --------------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self._transport is not None and self._upgraded and not self._close_sent

    def send_text(self, data: bytes) -> None:
        """Send one text message (UTF-8 bytes). Raises `ConnectionLost` when not open."""
        transport = self._transport
        if transport is None or self._close_sent or transport.is_closing():
            raise ConnectionLost("WebSocket is not open")
        transport.write(_frame(_OP_TEXT, data))

    def ping(self, payload: bytes = b"") -> None:
        if self.is_open:
            self._transport.write(_frame(_OP_PING, payload))  # type: ignore[union-attr]

    async def close(self, code: int = 1000, timeout: float = 2.0) -> None:
        """Close handshake: send a close frame, wait up to `timeout` for the server's, then drop."""
        transport = self._transport
        if transport is not None and not self._close_sent and self._upgraded and not transport.is_closing():
            self._close_sent = True
            transport.write(_frame(_OP_CLOSE, code.to_bytes(2, "big")))
            if self.close_code is None:
                self.close_code = code
            try:
                await asyncio.wait_for(asyncio.shield(self.closed), timeout)
            except TimeoutError:
                pass
        self.abort()

    def abort(self) -> None:
        """Drop the connection now; no further message is delivered."""
        self._stopped = True
        transport = self._transport
        if transport is not None:
            transport.abort()

    # -- internals -----------------------------------------------------------------------------
    def _check_upgrade(self, head: bytes, rest: bytes) -> None:
        status, reason, headers = _parse_head(head)
        if status != 101:
            raise HandshakeFailed(status, reason)
        if headers.get("upgrade", "").lower() != "websocket":
            raise ProtocolError("WebSocket upgrade without 'Upgrade: websocket'")
        expected = base64.b64encode(hashlib.sha1(self._key + _WS_GUID).digest()).decode()
        if headers.get("sec-websocket-accept") != expected:
            raise ProtocolError("WebSocket upgrade with a wrong Sec-WebSocket-Accept")
        if headers.get("sec-websocket-extensions"):
            raise ProtocolError("server enabled a WebSocket extension we did not offer")

    def _fail(self, exc: TransportError) -> None:
        if not self.handshake.done():
            self.handshake.set_exception(exc)
            self.handshake.exception()
        self.abort()

    def _protocol_error(self, reason: str) -> None:
        self.close_code, self.close_reason = 1002, reason
        transport = self._transport
        if transport is not None and not self._close_sent:
            self._close_sent = True
            transport.write(_frame(_OP_CLOSE, (1002).to_bytes(2, "big")))
        self.abort()

    def _parse(self, buf: bytes) -> bytes:
        """Handle every complete frame in `buf`; return the incomplete rest."""
        pos = 0
        end = len(buf)
        while end - pos >= 2:
            b0 = buf[pos]
            b1 = buf[pos + 1]
            if b0 & 0x70:
                raise ProtocolError("reserved bits set (no extension was negotiated)")
            n = b1 & 0x7F
            i = pos + 2
            if n == 126:
                if end - i < 2:
                    break
                n = int.from_bytes(buf[i:i + 2], "big")
                i += 2
            elif n == 127:
                if end - i < 8:
                    break
                n = int.from_bytes(buf[i:i + 8], "big")
                i += 8
            if n > self.max_size:
                raise ProtocolError(f"frame of {n} bytes exceeds {self.max_size}")
            key = b""
            if b1 & 0x80:  # servers must not mask; tolerate it
                if end - i < 4:
                    break
                key = buf[i:i + 4]
                i += 4
            if end - i < n:
                break
            payload = buf[i:i + n]
            if key:
                payload = _mask(payload, key)
            pos = i + n
            self._rx += 1
            self._frame_received(b0 & 0x80, b0 & 0x0F, payload)
            if self._stopped:
                return b""
        return buf[pos:] if pos else buf

    def _frame_received(self, fin: int, opcode: int, payload: bytes) -> None:
        if opcode == _OP_TEXT or opcode == _OP_BINARY:
            if self._fragments:
                raise ProtocolError("new message before the previous fragmented one ended")
            if fin:
                self._deliver(payload)
            else:
                self._fragments = [payload]
                self._fragment_op = opcode
                self._fragment_size = len(payload)
        elif opcode == _OP_CONT:
            if not self._fragments:
                raise ProtocolError("continuation frame without a message")
            self._fragment_size += len(payload)
            if self._fragment_size > self.max_size:
                raise ProtocolError(f"message exceeds {self.max_size} bytes")
            self._fragments.append(payload)
            if fin:
                data = b"".join(self._fragments)
                self._fragments = []
                self._deliver(data)
        elif opcode == _OP_PING:
            if len(payload) > 125 or not fin:
                raise ProtocolError("invalid ping frame")
            if self._transport is not None and not self._close_sent:
                self._transport.write(_frame(_OP_PONG, payload))
        elif opcode == _OP_PONG:
            pass
        elif opcode == _OP_CLOSE:
            code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            if self.close_code is None:
                self.close_code = code
                self.close_reason = payload[2:].decode("utf-8", "replace")
            self._stopped = True
            transport = self._transport
            if transport is not None:
                if not self._close_sent:
                    self._close_sent = True
                    transport.write(_frame(_OP_CLOSE, payload[:2]))
                transport.close()
        else:
            raise ProtocolError(f"unknown opcode {opcode}")

    def _deliver(self, data: bytes) -> None:
        try:
            self.on_message(data)
        except Exception as exc:  # noqa: BLE001 - one bad message never kills the connection
            self.handler_errors += 1
            self.last_handler_error = exc

    def _start_heartbeat(self) -> None:
        if self.heartbeat:
            self._timer = self._loop.call_later(self.heartbeat, self._tick)

    def _tick(self) -> None:
        """Every `heartbeat` s: quiet since the last tick -> ping, and expect something in heartbeat/2."""
        if self._transport is None or self.heartbeat is None or self._close_sent:
            return
        if self._rx != self._rx_seen:
            self._rx_seen = self._rx
            self._timer = self._loop.call_later(self.heartbeat, self._tick)
            return
        self.ping()
        self._timer = self._loop.call_later(self.heartbeat / 2, self._probe)

    def _probe(self) -> None:
        if self._transport is None or self.heartbeat is None or self._close_sent:
            return  # gone, or closing: the close handshake has its own timeout
        if self._rx == self._rx_seen:
            self.close_code, self.close_reason = 1006, "no pong within the heartbeat"
            self.abort()
            return
        self._rx_seen = self._rx
        self._timer = self._loop.call_later(self.heartbeat, self._tick)


async def ws_connect(url: str, on_message: Callable[[bytes], None], *, heartbeat: float | None = 30.0,
                     timeout: float = 10.0, max_size: int = 16 * 1024 * 1024) -> WebSocket:
    """Open a WebSocket to `url` (ws:// or wss://) and return it once the upgrade succeeded.

    Raises `ConnectFailed`, `HandshakeFailed`, `ProtocolError`, `ConnectionLost` or `TimeoutError`.
    """
    secure, host, port, target = split_url(url)
    key = base64.b64encode(os.urandom(16))
    loop = asyncio.get_running_loop()
    proto = WebSocket(on_message, key=key, max_size=max_size, heartbeat=heartbeat)
    try:
        await asyncio.wait_for(_open_ws(loop, proto, secure, host, port, target, key), timeout)
    except BaseException:
        proto.abort()
        raise
    return proto


async def _open_ws(loop: asyncio.AbstractEventLoop, proto: WebSocket, secure: bool, host: str, port: int,
                   target: str, key: bytes) -> None:
    try:
        await loop.create_connection(
            lambda: proto, host, port, ssl=_tls() if secure else None,
            server_hostname=host if secure else None,
        )
    except (OSError, ssl.SSLError) as exc:
        if isinstance(exc, TransportError):
            raise
        raise ConnectFailed(f"could not connect to {_host_header(host, port, secure)}: "
                            f"{type(exc).__name__}") from None
    request = (
        f"GET {target} HTTP/1.1\r\nHost: {_host_header(host, port, secure)}\r\n"
        f"User-Agent: {_agent.USER_AGENT}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key.decode()}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    proto._transport.write(request.encode("latin-1"))  # type: ignore[union-attr]
    await proto.handshake
