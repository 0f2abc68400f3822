"""Resting limit orders and per-step liquidity, shared by every market engine.

A market engine (spot, margin, futures) owns its orders; it hands the matcher a `Resting` entry
with a fill callback. On every price step the matcher fills the entries the price has crossed (at
their limit price, FIFO), at most `liquidity(symbol)` base quantity per side per step, so large
orders fill partially over several steps. `take()` hands out the same per-step budget to orders
that cross on arrival (taker fills).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from simulator.util import ZERO

FillCallback = Callable[["Resting", Decimal, Decimal], None]  # (entry, qty, price)


class Resting:
    __slots__ = ("symbol", "side", "price", "leaves", "ref", "on_fill", "seq", "active")

    def __init__(self, symbol: str, side: str, price: Decimal, leaves: Decimal, ref: Any, on_fill: FillCallback) -> None:
        self.symbol = symbol
        self.side = side  # "BUY" | "SELL"
        self.price = price
        self.leaves = leaves
        self.ref = ref  # the engine's order object
        self.on_fill = on_fill
        self.seq = 0
        self.active = True


class Matcher:
    def __init__(self, liquidity: Callable[[str], Decimal]) -> None:
        self._liquidity = liquidity
        self.books: dict[str, list[Resting]] = {}
        self._budget: dict[tuple[str, str], Decimal] = {}
        self._seq = 0

    def add(self, entry: Resting) -> Resting:
        self._seq += 1
        entry.seq = self._seq
        self.books.setdefault(entry.symbol, []).append(entry)
        return entry

    def remove(self, entry: Resting) -> None:
        if not entry.active:
            return
        entry.active = False
        book = self.books.get(entry.symbol)
        if book is not None:
            try:
                book.remove(entry)
            except ValueError:
                pass

    def budget(self, symbol: str, side: str) -> Decimal:
        key = (symbol, side)
        left = self._budget.get(key)
        if left is None:
            left = self._budget[key] = self._liquidity(symbol)
        return left

    def take(self, symbol: str, side: str, quantity: Decimal) -> Decimal:
        """Consume up to `quantity` of this step's liquidity for `side`; returns what was granted."""
        left = self.budget(symbol, side)
        granted = quantity if quantity <= left else left
        self._budget[(symbol, side)] = left - granted
        return granted

    def on_prices(self, prices: dict[str, Decimal]) -> None:
        """A price step: fresh liquidity, then fill what the prices crossed."""
        for symbol, price in prices.items():
            self._budget.pop((symbol, "BUY"), None)
            self._budget.pop((symbol, "SELL"), None)
            book = self.books.get(symbol)
            if not book:
                continue
            for entry in list(book):
                if not entry.active:
                    continue
                crossed = price <= entry.price if entry.side == "BUY" else price >= entry.price
                if not crossed:
                    continue
                qty = self.take(symbol, entry.side, entry.leaves)
                if qty <= ZERO:
                    continue
                entry.leaves -= qty
                if entry.leaves <= ZERO:
                    self.remove(entry)
                entry.on_fill(entry, qty, entry.price)
