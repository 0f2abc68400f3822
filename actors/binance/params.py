"""Parameter formatting for Binance requests.

Rules (rest-api.md "SIGNED Endpoint Examples", web-socket-api.md "SIGNED request example"):
- REST: `key=value` pairs in insertion order, percent-encoded (urllib.parse.urlencode); the
  signature is computed over exactly that query string.
- WebSocket API: the signature payload is every param except `signature`, sorted by name, as
  `key=value&...` with values in UTF-8 and NOT percent-encoded. INT params go as JSON integers,
  DECIMAL params as JSON strings.

Values: `Decimal` as a plain decimal string (never `1E-5`), `bool` as `true`/`false`, `int` as is,
`str` as is; lists as a compact JSON array (e.g. `symbols=["A","B"]`). `None` values are dropped.
`float` is refused: it cannot carry an exact price or quantity.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, Union
from urllib.parse import urlencode

import orjson

__all__ = ["Params", "fmt_decimal", "fmt_value", "encode_query", "ws_value", "ws_params", "ws_payload"]

Params = Union[Mapping[str, Any], Iterable[tuple[str, Any]], None]


def fmt_decimal(d: Decimal) -> str:
    """A plain decimal string: no exponent, trailing zeros kept as given (`Decimal('1E-5')` -> `0.00001`)."""
    if not d.is_finite():
        raise ValueError(f"not a finite decimal: {d!r}")
    s = format(d, "f")
    if s.startswith("-") and d.is_zero():
        s = s[1:]
    return s


def fmt_value(v: Any) -> str:
    """Format one parameter value for a query string (REST) or a WebSocket signature payload."""
    t = type(v)
    if t is str:
        return v
    if t is bool:
        return "true" if v else "false"
    if t is int:
        return str(v)
    if t is Decimal:
        return fmt_decimal(v)
    if isinstance(v, float):
        raise TypeError("float parameter refused: pass a Decimal or a string")
    if isinstance(v, (list, tuple)):
        return orjson.dumps([fmt_value(x) if isinstance(x, Decimal) else x for x in v]).decode()
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(int(v))
    if isinstance(v, Decimal):
        return fmt_decimal(v)
    if isinstance(v, str):
        return str(v)
    raise TypeError(f"unsupported parameter type {type(v).__name__}")


def _pairs(params: Params) -> list[tuple[str, Any]]:
    if params is None:
        return []
    items = params.items() if isinstance(params, Mapping) else params
    return [(k, v) for k, v in items if v is not None]


def encode_query(params: Params) -> str:
    """`urlencode` of the (key, formatted value) pairs, in insertion order."""
    return urlencode([(k, fmt_value(v)) for k, v in _pairs(params)])


def ws_value(v: Any) -> Any:
    """A value for a WebSocket API `params` object: ints and bools stay JSON, the rest are strings."""
    t = type(v)
    if t is int or t is bool or t is str:
        return v
    if t is Decimal:
        return fmt_decimal(v)
    if isinstance(v, float):
        raise TypeError("float parameter refused: pass a Decimal or a string")
    if isinstance(v, (list, tuple)):
        return [ws_value(x) for x in v]
    if isinstance(v, (int, bool, str)):
        return v
    if isinstance(v, Decimal):
        return fmt_decimal(v)
    raise TypeError(f"unsupported parameter type {type(v).__name__}")


_JSON_SCALARS = (str, int, bool)


def ws_params(params: Params) -> dict[str, Any]:
    """The `params` object of a WebSocket API request (None values dropped)."""
    if params is None:
        return {}
    items = params.items() if isinstance(params, Mapping) else params
    scalars = _JSON_SCALARS
    return {k: v if type(v) in scalars else ws_value(v) for k, v in items if v is not None}


def _ws_payload_value(v: Any) -> str:
    t = type(v)
    if t is str:
        return v
    if t is list:
        return orjson.dumps(v).decode()
    return fmt_value(v)


def ws_payload(params: Mapping[str, Any]) -> str:
    """The WebSocket API signature payload: params sorted by name, `k=v&...`, not percent-encoded."""
    return "&".join([f"{k}={_ws_payload_value(params[k])}" for k in sorted(params) if k != "signature"])
