"""The WebSocket client (RFC 6455) of our Binance client: frames parsed in `data_received` and handed
to a callback in the same call; fragmentation, ping/pong, close handshake, a heartbeat that drops a
silent connection (transport.py has the errors and why this is ours, not aiohttp).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import ssl
from collections.abc import Callable

from actors.binance import agent as _agent  # User-Agent: copytrader/<version> (<actor>)

from .transport import (
    _MAX_HEAD,
    ConnectFailed,
    ConnectionLost,
    HandshakeFailed,
    ProtocolError,
    TransportError,
    _host_header,
    _parse_head,
    _tls,
    split_url,
)

_WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_OP_CONT, _OP_TEXT, _OP_BINARY, _OP_CLOSE, _OP_PING, _OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


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

    def __init__(
        self, on_message: Callable[[bytes], None], *, key: bytes, max_size: int = 16 * 1024 * 1024, heartbeat: float | None = 30.0
    ) -> None:
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
                self._check_upgrade(buf[:end], buf[end + 4 :])
            except TransportError as exc:
                self._fail(exc)
                return
            self._upgraded = True
            buf = buf[end + 4 :]
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
                n = int.from_bytes(buf[i : i + 2], "big")
                i += 2
            elif n == 127:
                if end - i < 8:
                    break
                n = int.from_bytes(buf[i : i + 8], "big")
                i += 8
            if n > self.max_size:
                raise ProtocolError(f"frame of {n} bytes exceeds {self.max_size}")
            key = b""
            if b1 & 0x80:  # servers must not mask; tolerate it
                if end - i < 4:
                    break
                key = buf[i : i + 4]
                i += 4
            if end - i < n:
                break
            payload = buf[i : i + n]
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


async def ws_connect(
    url: str,
    on_message: Callable[[bytes], None],
    *,
    heartbeat: float | None = 30.0,
    timeout: float = 10.0,
    max_size: int = 16 * 1024 * 1024,
) -> WebSocket:
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


async def _open_ws(loop: asyncio.AbstractEventLoop, proto: WebSocket, secure: bool, host: str, port: int, target: str, key: bytes) -> None:
    try:
        await loop.create_connection(lambda: proto, host, port, ssl=_tls() if secure else None, server_hostname=host if secure else None)
    except (OSError, ssl.SSLError) as exc:
        if isinstance(exc, TransportError):
            raise
        raise ConnectFailed(f"could not connect to {_host_header(host, port, secure)}: {type(exc).__name__}") from None
    request = (
        f"GET {target} HTTP/1.1\r\nHost: {_host_header(host, port, secure)}\r\n"
        f"User-Agent: {_agent.USER_AGENT}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key.decode()}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    proto._transport.write(request.encode("latin-1"))  # type: ignore[union-attr]
    await proto.handshake
