"""The `/private` route's query and Binance's stream control frames (pure: no I/O, no asyncio).

Sources: the USD-M "Important WebSocket Change Notice — Base URL Split & Migration" (2026-03-06):
ws mode ``/private/ws?listenKey=<k>&events=ORDER_TRADE_UPDATE/ACCOUNT_UPDATE``, stream mode
``/private/stream?listenKey=<k1>&events=...&listenKey=<k2>&events=...``, "JSON SUBSCRIBE is also
supported"; the control frames and their error messages are Binance's "Live Subscribing/Unsubscribing
to streams" (binance-spot-api-docs/web-socket-streams.md), sent as ``{"error": {"code", "msg"}, "id"}``
as Binance's stream servers answer them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

#: The USD-M user-data event types Binance documents (user-data-streams pages; ALGO_UPDATE since the
#: Algo Service of 2025-12-02). An `events` filter naming anything else is refused.
USER_DATA_EVENTS = frozenset(
    {
        "ORDER_TRADE_UPDATE",
        "ACCOUNT_UPDATE",
        "ACCOUNT_CONFIG_UPDATE",
        "MARGIN_CALL",
        "TRADE_LITE",
        "ALGO_UPDATE",
        "STRATEGY_UPDATE",
        "GRID_UPDATE",
        "CONDITIONAL_ORDER_TRIGGER_REJECT",
        "listenKeyExpired",
    }
)

METHODS = ("SUBSCRIBE", "UNSUBSCRIBE", "LIST_SUBSCRIPTIONS", "SET_PROPERTY", "GET_PROPERTY")
_MAX_STRING_ID = 36  # "alphanumeric strings; max length 36"


class QueryError(ValueError):
    """The connection URL's query is not a form Binance documents (answered with HTTP 400)."""


def parse_events(text: str) -> frozenset[str] | None:
    """``events=A/B/C`` -> {A, B, C}; an empty value is no filter given (None). Raises QueryError."""
    names = [n for n in text.split("/") if n]
    if not names:
        return None
    unknown = sorted(set(names) - USER_DATA_EVENTS)
    if unknown:
        raise QueryError(
            f"unknown user-data event(s) {', '.join(unknown)} in events; expected names from {', '.join(sorted(USER_DATA_EVENTS))}"
        )
    return frozenset(names)


def parse_private_query(items: Iterable[tuple[str, str]]) -> list[tuple[str, frozenset[str] | None]]:
    """The (listenKey, events) pairs of a `/private` URL, in order; `events` applies to the listenKey
    before it. A listenKey without `events` gets None (no event named: nothing is delivered)."""
    pairs: list[tuple[str, frozenset[str] | None]] = []
    for name, value in items:
        if name == "listenKey":
            if not value:
                raise QueryError("empty listenKey")
            pairs.append((value, None))
        elif name == "events":
            if not pairs:
                raise QueryError("events must follow the listenKey it filters")
            key, previous = pairs[-1]
            if previous is not None:
                raise QueryError("events given twice for one listenKey")
            pairs[-1] = (key, parse_events(value))
        # other parameters are ignored, as on Binance's market routes
    return pairs


class Subscriptions(Protocol):
    """What a connection offers the control frames."""

    combined: bool

    def subscribe(self, names: list[str]) -> str | None:
        """Follow `names`; returns an error message (nothing followed) or None."""
        ...

    def unsubscribe(self, names: list[str]) -> None: ...

    def names(self) -> list[str]: ...


def _error(code: int, msg: str, req_id: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "msg": msg}, "id": req_id}


def _valid_id(req_id: Any) -> bool:
    if req_id is None:
        return True
    if isinstance(req_id, bool):
        return False
    if isinstance(req_id, int):
        return -(2**63) <= req_id < 2**63
    return isinstance(req_id, str) and 0 < len(req_id) <= _MAX_STRING_ID


def control_reply(subs: Subscriptions, msg: Any) -> dict[str, Any]:
    """The reply to one decoded control frame (``{"result": ..., "id": N}`` or an error)."""
    if not isinstance(msg, dict):
        return _error(3, "Invalid JSON: expected an object")
    req_id = msg.get("id")
    if "method" not in msg:
        return _error(2, "Invalid request: missing field `method`", req_id if _valid_id(req_id) else None)
    if not _valid_id(req_id):
        return _error(2, "Invalid request: request ID must be an unsigned integer")
    method, params = msg["method"], msg.get("params")
    if method not in METHODS:
        expected = ", ".join(f"`{m}`" for m in METHODS)
        return _error(2, f"Invalid request: unknown variant `{method}`, expected one of {expected}", req_id)
    if method == "LIST_SUBSCRIPTIONS":
        return {"result": subs.names(), "id": req_id}
    if method in ("SUBSCRIBE", "UNSUBSCRIBE"):
        if not isinstance(params, list) or not params:
            return _error(2, "Invalid request: streams must have non-zero length", req_id)
        if not all(isinstance(p, str) and p for p in params):
            return _error(2, "Invalid request: invalid stream", req_id)
        if method == "UNSUBSCRIBE":
            subs.unsubscribe(params)
            return {"result": None, "id": req_id}
        problem = subs.subscribe(params)
        return _error(2, problem, req_id) if problem else {"result": None, "id": req_id}
    # SET_PROPERTY / GET_PROPERTY: "the only property that can be set is whether combined stream
    # payloads are enabled or not"
    if not isinstance(params, list) or not params or not isinstance(params[0], str):
        return _error(2, "Invalid request: property name must be a string", req_id)
    if params[0] != "combined":
        return _error(0, "Unknown property", req_id)
    if method == "GET_PROPERTY":
        return {"result": subs.combined, "id": req_id}
    if len(params) != 2 or not isinstance(params[1], bool):
        return _error(1, "Invalid value type: expected Boolean", req_id)
    subs.combined = params[1]
    return {"result": None, "id": req_id}
