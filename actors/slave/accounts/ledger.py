"""A spot or cross margin slave's balances, moved once per trade (pure: no I/O, no clock).

actors/slave/accounts/spot.py says when a trade is applied and when REST's balances are taken.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

import msgspec

ZERO = Decimal(0)
TradeKey = tuple[str, int, int]  # (symbol, order id, trade id)


@dataclass(slots=True)
class Balance:
    free: Decimal = ZERO
    locked: Decimal = ZERO
    borrowed: Decimal = ZERO  # margin only
    interest: Decimal = ZERO  # margin only

    @property
    def total(self) -> Decimal:
        return self.free + self.locked

    @property
    def net(self) -> Decimal:
        return self.free + self.locked - self.borrowed - self.interest


class Trade(msgspec.Struct, frozen=True, kw_only=True):
    """One execution of one of the slave's orders, from a FULL reply or an executionReport."""

    symbol: str
    order_id: int
    trade_id: int
    side: str  # BUY / SELL
    qty: Decimal  # base quantity
    quote_qty: Decimal  # quote quantity (price x qty)
    commission: Decimal = ZERO
    commission_asset: str | None = None
    time_ms: int = 0  # trade (transaction) time
    price: Decimal = ZERO


class Ledger:
    """Balances per asset, moved once per trade (pure: no I/O, no clock)."""

    def __init__(self, dedupe: int = 20_000) -> None:
        self.balances: dict[str, Balance] = {}
        self.rest_ms = 0  # other orders' trades with time <= rest_ms are contained in the last REST read
        self.until_ms = 0  # ... and those up to until_ms may be: not applied, `unsure` asks for a read
        self.unsure = False
        self._seen: set[TradeKey] = set()
        self._order: deque[TradeKey] = deque()
        self._limit = dedupe
        self._settled: set[tuple[str, int]] = set()  # our orders whose trades a REST read holds
        self._settled_order: deque[tuple[str, int]] = deque()
        # base quantity traded per order, by every trade seen (applied or already in REST): what a
        # canceled copy of a resting order filled, against its cancel reply's executedQty
        self._filled: dict[tuple[str, int], Decimal] = {}
        self._recent: deque[tuple[Trade, str, str]] = deque()  # other orders' trades applied, newest last

    def set_from_rest(
        self, rows: Iterable[tuple[str, Decimal, Decimal, Decimal, Decimal]], rest_ms: int, until_ms: int | None = None
    ) -> None:
        """(asset, free, locked, borrowed, interest) rows: the whole account as REST reports it,
        holding every trade up to `rest_ms`; one up to `until_ms` (the reply's arrival, when the
        read has no server time: margin) it may or may not hold."""
        self.balances = {a: Balance(f, lk, b, i) for a, f, lk, b, i in rows if f or lk or b or i}
        self.rest_ms = max(self.rest_ms, rest_ms)
        self.until_ms = max(self.until_ms, until_ms or rest_ms)
        # trades of other orders applied while the read was on its way: those after it are not in
        # it (applied again), those in its window may be (`unsure`: read again)
        recent, self._recent = self._recent, deque()
        for trade, base, quote in recent:
            if trade.time_ms > self.until_ms:
                self._move(trade, base, quote)
                self._recent.append((trade, base, quote))
            elif trade.time_ms > self.rest_ms:
                self.unsure = True

    def bal(self, asset: str) -> Balance:
        b = self.balances.get(asset)
        if b is None:
            b = self.balances[asset] = Balance()
        return b

    def seen(self, key: TradeKey) -> bool:
        return key in self._seen

    def _remember(self, key: TradeKey) -> None:
        self._seen.add(key)
        self._order.append(key)
        if len(self._order) > self._limit:
            self._seen.discard(self._order.popleft())

    def settle_order(self, symbol: str, order_id: int) -> None:
        """One of our orders finished without its trades (found by lookup): the REST read that
        follows holds them, so none of its trades is applied from now on."""
        key = (symbol, order_id)
        if key not in self._settled:
            self._settled.add(key)
            self._settled_order.append(key)
            if len(self._settled_order) > self._limit:
                self._settled.discard(self._settled_order.popleft())

    def apply_trade(self, trade: Trade, base: str, quote: str, *, own: bool = False) -> bool:
        """Move the balances by one trade. False: already applied, or contained in REST.
        `own`: a trade of one of our orders (never in flight during a REST read, so contained
        in one only when its order was settled by it); else one not after the read is in it."""
        key = (trade.symbol, trade.order_id, trade.trade_id)
        if key in self._seen:
            return False
        self._remember(key)
        order = (trade.symbol, trade.order_id)
        if order not in self._filled and len(self._filled) >= self._limit:
            del self._filled[next(iter(self._filled))]  # the oldest order
        self._filled[order] = self._filled.get(order, ZERO) + trade.qty
        if (trade.symbol, trade.order_id) in self._settled:
            return False
        if not own and trade.time_ms and trade.time_ms <= self.rest_ms:
            return False
        if not own and trade.time_ms and trade.time_ms <= self.until_ms:
            self.unsure = True  # in the window of the last read: the next read holds it for sure
            return False
        if not own:
            self._recent.append((trade, base, quote))
            if len(self._recent) > 1000:
                self._recent.popleft()
        self._move(trade, base, quote)
        return True

    def _move(self, trade: Trade, base: str, quote: str) -> None:
        sign = 1 if trade.side == "BUY" else -1
        self.bal(base).free += sign * trade.qty
        self.bal(quote).free -= sign * trade.quote_qty
        if trade.commission and trade.commission_asset:
            self.bal(trade.commission_asset).free -= trade.commission

    def filled(self, symbol: str, order_id: int) -> Decimal:
        """The base quantity of the order's trades seen so far."""
        return self._filled.get((symbol, order_id), ZERO)

    def borrow(self, asset: str, amount: Decimal) -> None:
        """Margin: a loan taken (MARGIN_BUY) arrives in free."""
        b = self.bal(asset)
        b.free += amount
        b.borrowed += amount

    def holding(self, asset: str) -> Balance:
        return self.balances.get(asset) or Balance()
