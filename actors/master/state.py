"""What the master's books for every market share: the fill deduper, Binance's margin type names,
and the check that the protocol can carry a symbol (pure: no I/O, no clock).

The books themselves: `usdm_state.py` (USD-M futures) and `spot_state.py` (spot and cross margin).
"""

from __future__ import annotations

import re
from collections import deque
from decimal import Decimal
from typing import Any

from protocol.messages import MarginType, PositionEntry, Symbol

ZERO = Decimal(0)
DEFAULT_DEDUPE = 100_000
_SYMBOL_RE = re.compile(Symbol.__metadata__[0].pattern)  # type: ignore[attr-defined]

FillKey = tuple[str, int, int]  # (symbol, order id, trade id)


class Deduper:
    """Remembers the last `capacity` keys (FIFO eviction): bounded memory, O(1) checks."""

    __slots__ = ("capacity", "_order", "_seen")

    def __init__(self, capacity: int = DEFAULT_DEDUPE) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self._order: deque[FillKey] = deque()
        self._seen: set[FillKey] = set()

    def __contains__(self, key: FillKey) -> bool:
        return key in self._seen

    def __len__(self) -> int:
        return len(self._seen)

    def add(self, key: FillKey) -> bool:
        """Remember `key`; False if it was already known."""
        if key in self._seen:
            return False
        self._seen.add(key)
        self._order.append(key)
        if len(self._order) > self.capacity:
            self._seen.discard(self._order.popleft())
        return True


def margin_type_of(value: str | None) -> MarginType | None:
    """Binance's "cross"/"isolated" (events, positionRisk) or "CROSSED"/"ISOLATED" -> ours."""
    if not value:
        return None
    low = value.lower()
    if low in ("cross", "crossed"):
        return "CROSSED"
    if low == "isolated":
        return "ISOLATED"
    return None


def symbol_ok(symbol: str) -> bool:
    """Can the protocol carry this symbol? (Struct construction does not check the pattern; a
    subscriber's decoder does, and would drop the whole message.)"""
    return _SYMBOL_RE.fullmatch(symbol) is not None


def _entry(**fields: Any) -> PositionEntry | None:
    """A snapshot entry, or None when the protocol cannot carry it (e.g. a delivery contract
    `BTCUSDT_250627`: protocol.messages.Symbol allows [A-Z0-9] only). Leaving one position out
    beats a snapshot no subscriber can decode."""
    if not symbol_ok(fields["symbol"]):
        return None
    try:
        return PositionEntry(**fields)
    except (ValueError, TypeError):
        return None
