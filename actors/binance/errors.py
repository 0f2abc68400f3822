"""Binance API errors, classified by what they mean for an order.

The one question that matters for exactly-once orders is: *may the request have executed?*

- `StatusUnknown`: maybe. HTTP 5xx (except the documented definite failures), codes -1006/-1007,
  HTTP 408, a timeout, or a connection lost after the request was sent. Query the order by its
  client id before re-sending (ARCHITECTURE.md "Exactly-once orders").
- `Rejected` and its subclasses: no, the request definitely did not execute.
  `RateLimited` (429/418), `AuthError` (-2014/-2015/-1022/-1002/401), `ClockSkew` (-1021),
  `OrderNotFound` (-2013), `Unavailable` (503 "Service Unavailable.", -1008: a documented
  100 % failure, retry later), `NotSent` (the request never left this process).

Messages carry only Binance's `msg` text and the HTTP status / code: never a URL, query string,
signature or key.
"""

from __future__ import annotations

from typing import Any

import orjson

__all__ = [
    "BinanceAPIError",
    "StatusUnknown",
    "Rejected",
    "RateLimited",
    "AuthError",
    "ClockSkew",
    "OrderNotFound",
    "Unavailable",
    "NotSent",
    "classify",
    "classify_payload",
]

# Codes whose meaning does not depend on the HTTP status.
_UNKNOWN_CODES = frozenset({-1006, -1007})  # UNEXPECTED_RESP, TIMEOUT: "execution status unknown"
_AUTH_CODES = frozenset({-1002, -1022, -2014, -2015, -2017})
_RATE_CODES = frozenset({-1003, -1015})  # TOO_MANY_REQUESTS, TOO_MANY_ORDERS
_CLOCK_CODES = frozenset({-1021})  # INVALID_TIMESTAMP
_NOT_FOUND_CODES = frozenset({-2013})  # NO_SUCH_ORDER
_BUSY_CODES = frozenset({-1008})  # SERVER_BUSY / request throttled: a definite failure (futures docs)
# 503 messages documented (USD-M "HTTP 503 Status: Message Variants") as a 100 % failure.
_FAILED_503_MESSAGES = ("Service Unavailable.",)

_MAX_MSG = 300


class BinanceAPIError(Exception):
    """An error answer (or no answer) from Binance.

    `http_status` is the HTTP status (or the WebSocket API `status`), 0 when there was no reply.
    `code` is Binance's error code (0 when the body carried none).
    """

    def __init__(self, http_status: int, code: int, msg: str) -> None:
        self.http_status = http_status
        self.code = code
        self.msg = msg[:_MAX_MSG]
        super().__init__(http_status, code, self.msg)

    def __str__(self) -> str:
        return f"{type(self).__name__}: HTTP {self.http_status} code {self.code}: {self.msg}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(http_status={self.http_status}, code={self.code}, msg={self.msg!r})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.http_status, self.code, self.msg))

    @property
    def may_have_executed(self) -> bool:
        """True when the request might have reached the matching engine."""
        return isinstance(self, StatusUnknown)


class StatusUnknown(BinanceAPIError):
    """The request may or may not have executed: query before re-sending."""


class Rejected(BinanceAPIError):
    """The request definitely did not execute (a 4xx business or request error)."""


class RateLimited(Rejected):
    """HTTP 429 (back off) or 418 (IP banned). `retry_after` is in seconds (None if not given)."""

    def __init__(self, http_status: int, code: int, msg: str, retry_after: float | None = None, banned: bool = False) -> None:
        super().__init__(http_status, code, msg)
        self.retry_after = retry_after
        self.banned = banned

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.http_status, self.code, self.msg, self.retry_after, self.banned))


class AuthError(Rejected):
    """The key, its permissions, IP whitelist or the signature were refused."""


class ClockSkew(Rejected):
    """-1021: the timestamp is outside recvWindow; resync the server time offset."""


class OrderNotFound(Rejected):
    """-2013: the order does not exist (query/cancel of an unknown order)."""


class Unavailable(Rejected):
    """A documented definite failure that may be retried later (503 "Service Unavailable.", -1008)."""


class NotSent(Rejected):
    """The request never left this process (not connected, connection refused)."""


def _retry_after_seconds(http_status: int, retry_after: str | float | None, data: Any) -> float | None:
    if retry_after is not None:
        try:
            return float(retry_after)
        except (TypeError, ValueError):
            return None
    # WebSocket API: error.data.retryAfter is an epoch in ms (418) or ms timestamp (429).
    if isinstance(data, dict):
        value = data.get("retryAfter")
        server = data.get("serverTime")
        if isinstance(value, (int, float)) and isinstance(server, (int, float)):
            return max(0.0, (value - server) / 1000.0)
    return None


def classify_payload(
    http_status: int, code: int | None, msg: str | None, *, retry_after: str | float | None = None, data: Any = None
) -> BinanceAPIError:
    """Turn (HTTP status, Binance code, message) into the right error class."""
    c = int(code) if isinstance(code, int) else 0
    m = msg if isinstance(msg, str) else ""
    if c in _UNKNOWN_CODES:
        return StatusUnknown(http_status, c, m)
    if http_status in (429, 418) or c in _RATE_CODES:
        return RateLimited(http_status, c, m, _retry_after_seconds(http_status, retry_after, data), banned=http_status == 418)
    if http_status >= 500 or http_status == 408 or http_status == 0:
        if c in _BUSY_CODES or (http_status == 503 and m in _FAILED_503_MESSAGES):
            return Unavailable(http_status, c, m)
        return StatusUnknown(http_status, c, m)
    if c in _CLOCK_CODES:
        return ClockSkew(http_status, c, m)
    if c in _AUTH_CODES or http_status == 401:
        return AuthError(http_status, c, m)
    if c in _NOT_FOUND_CODES:
        return OrderNotFound(http_status, c, m)
    if c in _BUSY_CODES:
        return Unavailable(http_status, c, m)
    if 400 <= http_status < 500:
        return Rejected(http_status, c, m)
    # A 1xx/2xx/3xx with an error body: cannot tell what happened.
    return StatusUnknown(http_status, c, m)


def classify(http_status: int, body: bytes | str | dict | None, *, retry_after: str | float | None = None) -> BinanceAPIError:
    """Classify an HTTP error reply. `body` is the raw body (JSON `{"code":..,"msg":..}` or anything)."""
    payload: Any = body
    if isinstance(body, (bytes, bytearray, memoryview, str)):
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            payload = None
    if isinstance(payload, dict):
        code = payload.get("code")
        msg = payload.get("msg")
        return classify_payload(http_status, code, msg, retry_after=retry_after, data=payload.get("data"))
    return classify_payload(http_status, None, f"non-JSON error body (HTTP {http_status})", retry_after=retry_after)
