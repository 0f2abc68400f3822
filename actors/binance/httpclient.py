"""HTTP/1.1 for our Binance client: a small pool of keep-alive connections per origin, requests
without a body, responses with Content-Length, chunked or close-delimited bodies (transport.py has
the errors and why this is ours, not aiohttp).
"""

from __future__ import annotations

import asyncio
import ssl

from actors.binance import agent as _agent  # User-Agent: copytrader/<version> (<actor>)

from .transport import _MAX_HEAD, ConnectFailed, ConnectionLost, ProtocolError, _host_header, _parse_head, _tls, _tokens, split_url

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

    def __init__(self, base_url: str, *, connections: int = 4, idle_timeout: float = 20.0, max_body: int = 64 * 1024 * 1024) -> None:
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

    async def request(self, method: str, target: str, headers: dict[str, str] | None = None, *, timeout: float = 10.0) -> HttpResponse:
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
        lines = [
            f"{method} {target} HTTP/1.1",
            f"Host: {self._host_header}",
            f"User-Agent: {_agent.USER_AGENT}",
            "Accept-Encoding: identity",
        ]
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
                self.host,
                self.port,
                ssl=_tls() if self.secure else None,
                server_hostname=self.host if self.secure else None,
                limit=_MAX_HEAD,
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
