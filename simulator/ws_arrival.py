"""When each WebSocket API request was read from the socket (split from wsapi.py)."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import WSMsgType, web


class ArrivalStamps:
    """When each request was READ from the socket (time.monotonic_ns()), not when its turn to be
    handled came: with 100 clients sending at once, requests wait in the loop while the ones
    before them are executed, and `arrivalNs` must not include that wait.

    Wraps the connection's WebSocket frame parser (aiohttp's protocol feeds it every chunk read)
    and notes the read time of each TEXT message it produced. Uses aiohttp internals; when they are
    not as expected, `install` returns None and arrival falls back to the time of handling."""

    __slots__ = ("_parser", "_buffer", "_stamps")

    def __init__(self, parser: Any, buffer: Any) -> None:
        self._parser = parser
        self._buffer = buffer
        self._stamps: dict[int, tuple[int, str]] = {}

    @classmethod
    def install(cls, request: web.Request, ws: web.WebSocketResponse) -> "ArrivalStamps | None":
        try:
            proto = request.protocol
            parser = proto._payload_parser  # type: ignore[union-attr]
            buffer = ws._reader._buffer  # type: ignore[union-attr]
            if parser is None or not hasattr(parser, "feed_data") or not hasattr(buffer, "__getitem__"):
                return None
            stamps = cls(parser, buffer)
            proto._payload_parser = stamps  # type: ignore[union-attr]
            return stamps
        except (AttributeError, TypeError):
            return None

    def feed_data(self, data: Any) -> Any:
        t = time.monotonic_ns()
        buffer = self._buffer
        before = len(buffer)
        result = self._parser.feed_data(data)
        after = len(buffer)
        if after > before:
            stamps = self._stamps
            if len(stamps) > 10_000:  # messages never handled as TEXT (pings...): forget them
                stamps.clear()
            for i in range(before, after):
                msg = buffer[i][0]
                if msg.type == WSMsgType.TEXT:
                    stamps[id(msg.data)] = (t, msg.data)
        return result

    def feed_eof(self) -> Any:
        return self._parser.feed_eof()

    def pop(self, text: str) -> int | None:
        entry = self._stamps.pop(id(text), None)
        return entry[0] if entry is not None and entry[1] is text else None
