"""The WS API's frames as the client reads them: the reply / event envelope (raw result and event
slices, decoded once), rate limits, the error a reply carries, request parameters of an order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import orjson

from .errors import BinanceAPIError, StatusUnknown, classify_payload
from .wire import BinanceRateLimit

EventHandler = Callable[[bytes], None]


ConnectHook = Callable[[bool], Awaitable[None]]


class _Envelope(msgspec.Struct):
    """A WebSocket API frame: a reply (`id`, `status`, `result`|`error`) or an event."""

    id: int | str | None = None  # request id echoed back
    status: int = 0  # HTTP-like status
    result: msgspec.Raw = msgspec.Raw()  # reply payload (unparsed)
    error: msgspec.Raw = msgspec.Raw()  # {"code","msg","data"?} (unparsed)
    rateLimits: msgspec.Raw = msgspec.Raw()  # rate limit status (unparsed)
    subscriptionId: int | None = None  # user data subscription of an event
    event: msgspec.Raw = msgspec.Raw()  # event payload (unparsed)


_ENVELOPE = msgspec.json.Decoder(_Envelope)


_RATE_LIMITS = msgspec.json.Decoder(list[BinanceRateLimit], strict=False)


_EVENT_TYPE_SHUTDOWN = b'"serverShutdown"'


def _order_ref(symbol: str, order_id: int | None, orig_client_order_id: str | None) -> dict[str, Any]:
    if order_id is None and orig_client_order_id is None:
        raise ValueError("order_id or orig_client_order_id is required")
    p: dict[str, Any] = {"symbol": symbol}
    if order_id is not None:
        p["orderId"] = order_id
    if orig_client_order_id is not None:
        p["origClientOrderId"] = orig_client_order_id
    return p


def _expire(fut: asyncio.Future[Any], method: str, wait: float) -> None:
    if not fut.done():
        fut.set_exception(StatusUnknown(0, 0, f"no reply within {wait}s to {method}"))


def _error_of(env: _Envelope) -> BinanceAPIError:
    body: Any = {}
    if len(env.error):
        try:
            body = orjson.loads(bytes(env.error))
        except orjson.JSONDecodeError:
            body = {}
    if not isinstance(body, dict):
        body = {}
    return classify_payload(env.status, body.get("code"), body.get("msg"), data=body.get("data"))
