"""Request parameters as Binance reads them, whichever transport they came over.

REST gives `str` values (query string + form body); the WebSocket API gives JSON values. Both are
normalised to `dict[str, str]` so a handler reads parameters one way and gets Binance's own
errors (-1102 missing, -1100 illegal characters, -1130 invalid value ...).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from simulator import errors
from simulator.util import parse_decimal, parse_int

# Parameters the framework itself consumes; handlers never need to read them.
AUTH_PARAMS = frozenset({"signature", "timestamp", "recvWindow", "apiKey", "returnRateLimits"})


def json_value_to_str(value: Any) -> str:
    """How a JSON parameter value reads as text (true/false lowercase, as Binance expects)."""
    if isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        import orjson

        return orjson.dumps(value).decode()
    return str(value)


def parse_form(raw: str, into: dict[str, str], keep_existing: bool) -> None:
    """Parse `a=1&b=2` into `into`; duplicates inside one source are -1101."""
    if not raw:
        return
    if "%" in raw or "+" in raw:
        pairs = parse_qsl(raw, keep_blank_values=True)
    else:  # fast path: nothing to unquote
        pairs = [part.partition("=")[::2] for part in raw.split("&") if part]
    seen: set[str] = set()
    for key, value in pairs:
        if key in seen:
            raise errors.BinanceError(errors.TOO_MANY_PARAMETERS, "Duplicate values for a parameter detected.")
        seen.add(key)
        if keep_existing and key in into:
            continue  # the query string wins over the body (Binance rule)
        into[key] = value


class Params:
    """Typed access to one request's parameters with Binance's error answers."""

    __slots__ = ("raw",)

    def __init__(self, raw: dict[str, str]) -> None:
        self.raw = raw

    @classmethod
    def from_json(cls, params: dict[str, Any] | None) -> "Params":
        if not params:
            return cls({})
        return cls({k: json_value_to_str(v) for k, v in params.items()})

    def __contains__(self, name: str) -> bool:
        return bool(self.raw.get(name))

    def get(self, name: str) -> str | None:
        value = self.raw.get(name)
        return value if value else None

    def str(self, name: str) -> str:
        value = self.raw.get(name)
        if not value:
            raise errors.mandatory(name)
        return value

    def opt_str(self, name: str, default: str | None = None) -> str | None:
        value = self.raw.get(name)
        return value if value else default

    def enum(self, name: str, allowed: Iterable[str], default: str | None = None) -> str:
        value = self.raw.get(name)
        if not value:
            if default is not None:
                return default
            raise errors.mandatory(name)
        if value not in allowed:
            raise errors.invalid_param(name)
        return value

    def decimal(self, name: str) -> Decimal:
        return parse_decimal(name, self.str(name))

    def opt_decimal(self, name: str) -> Decimal | None:
        value = self.raw.get(name)
        return parse_decimal(name, value) if value else None

    def int(self, name: str) -> int:
        return parse_int(name, self.str(name))

    def opt_int(self, name: str, default: int | None = None) -> int | None:
        value = self.raw.get(name)
        return parse_int(name, value) if value else default

    def bool(self, name: str, default: bool = False) -> bool:
        value = self.raw.get(name)
        if not value:
            return default
        lowered = value.lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
        raise errors.invalid_param(name)

    def check_only(self, allowed: frozenset[str]) -> None:
        """-1104 when parameters were sent that this endpoint does not read."""
        extra = [k for k in self.raw if k not in allowed and k not in AUTH_PARAMS]
        if extra:
            sent = len(self.raw)
            raise errors.not_all_read(sent - len(extra), sent)
