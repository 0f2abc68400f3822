"""Prices: a seeded random walk per symbol (repeatable), or a CSV replay; admin can pin a price.

One price per symbol name, shared by every market (spot, margin and USD-M futures trade the same
BTCUSDT price; `mark()` is the futures mark price, equal to the last price here). `step()` moves all
unpaused symbols one step; listeners then run (the matcher fills resting orders).
"""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

PriceListener = Callable[[dict[str, Decimal]], None]


class PriceEngine:
    def __init__(self, seed: int = 1, volatility: float = 0.0005) -> None:
        self.seed = seed
        self.volatility = volatility  # standard deviation of one step's relative move
        self.prices: dict[str, Decimal] = {}
        self.ticks: dict[str, Decimal] = {}
        self.paused: set[str] = set()
        self.all_paused = False
        self.steps = 0
        self._rngs: dict[str, random.Random] = {}
        self._csv: list[dict[str, Decimal]] | None = None
        self._listeners: list[PriceListener] = []

    # -- set-up -------------------------------------------------------------------------------------
    def add_symbol(self, symbol: str, price: Decimal, tick: Decimal) -> None:
        if symbol in self.prices:
            return
        self.prices[symbol] = price
        self.ticks[symbol] = tick
        self._rngs[symbol] = random.Random(f"{self.seed}:{symbol}")

    def load_csv(self, path: str | Path) -> None:
        """Rows of prices, one column per symbol (header = symbol names); replayed in a loop."""
        rows: list[dict[str, Decimal]] = []
        with open(path, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                rows.append({k.strip(): Decimal(v) for k, v in row.items() if k and v and k.strip() in self.prices})
        if not rows:
            raise ValueError(f"{path}: no price rows for known symbols")
        self._csv = rows

    def add_listener(self, listener: PriceListener) -> None:
        """Called after every step (tick or admin price change) with the prices that moved."""
        self._listeners.append(listener)

    # -- reads --------------------------------------------------------------------------------------
    def price(self, symbol: str) -> Decimal:
        return self.prices[symbol]

    def mark(self, symbol: str) -> Decimal:
        return self.prices[symbol]

    # -- moves --------------------------------------------------------------------------------------
    def set_price(self, symbol: str, price: Decimal, pause: bool | None = None) -> None:
        if symbol not in self.prices:
            raise KeyError(f"unknown symbol {symbol!r}")
        if price <= 0:
            raise ValueError("price must be positive")
        self.prices[symbol] = price
        if pause is True:
            self.paused.add(symbol)
        elif pause is False:
            self.paused.discard(symbol)
        self._notify({symbol: price})

    def pause(self, symbol: str | None = None, paused: bool = True) -> None:
        if symbol is None:
            self.all_paused = paused
            if not paused:
                self.paused.clear()
            return
        if paused:
            self.paused.add(symbol)
        else:
            self.paused.discard(symbol)

    def step(self) -> dict[str, Decimal]:
        """Move every unpaused symbol one step; returns the new prices of the symbols that moved."""
        moved: dict[str, Decimal] = {}
        if not self.all_paused:
            row = self._csv[self.steps % len(self._csv)] if self._csv else None
            for symbol, price in self.prices.items():
                if symbol in self.paused:
                    continue
                if row is not None:
                    new = row.get(symbol)
                    if new is None:
                        continue
                else:
                    tick = self.ticks[symbol]
                    factor = math.exp(self._rngs[symbol].gauss(0.0, self.volatility))
                    new = (price * Decimal(repr(factor)) / tick).to_integral_value() * tick
                    if new <= 0:
                        new = tick
                self.prices[symbol] = new
                moved[symbol] = new
            self.steps += 1
        # resting orders are offered liquidity on every step, moved or not
        self._notify(dict(self.prices))
        return moved

    def _notify(self, prices: dict[str, Decimal]) -> None:
        for listener in self._listeners:
            listener(prices)
