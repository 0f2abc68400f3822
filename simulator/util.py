"""Small shared helpers: clocks, id generators, decimal parsing and formatting (no I/O)."""

from __future__ import annotations

import re
import time
from decimal import Decimal, InvalidOperation

from simulator import errors

ZERO = Decimal(0)
ONE = Decimal(1)
_DECIMAL_RE = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
_INT_RE = re.compile(r"^-?[0-9]{1,19}$")
_QUANTS = {n: Decimal(1).scaleb(-n) for n in range(0, 19)}


def now_ms() -> int:
    """Wall-clock time in milliseconds (Binance's `timestamp` unit)."""
    return time.time_ns() // 1_000_000


def fmt(value: Decimal, places: int = 8) -> str:
    """Plain decimal string with exactly `places` decimals (never exponent notation)."""
    return format(value.quantize(_QUANTS[places]), "f")


def plain(value: Decimal) -> str:
    """Plain decimal string without trailing zeros beyond what the value carries."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def decimals_of(value: Decimal) -> int:
    """Number of decimals a value carries after normalising trailing zeros away."""
    exp = value.normalize().as_tuple().exponent
    return -exp if isinstance(exp, int) and exp < 0 else 0


def parse_decimal(name: str, text: str) -> Decimal:
    """Parse a Binance DECIMAL parameter; -1100 with Binance's regex text when malformed."""
    if not _DECIMAL_RE.match(text):
        raise errors.illegal_chars(name)
    try:
        return Decimal(text)
    except InvalidOperation:  # unreachable after the regex, kept for safety
        raise errors.illegal_chars(name) from None


def parse_int(name: str, text: str) -> int:
    if not _INT_RE.match(text):
        raise errors.illegal_chars(name, r"^-?[0-9]{1,19}$")
    return int(text)


class IdGen:
    """Monotonic integer ids starting at `start` (order ids, trade ids, ...)."""

    __slots__ = ("_next",)

    def __init__(self, start: int = 1) -> None:
        self._next = start

    def __call__(self) -> int:
        value = self._next
        self._next = value + 1
        return value
