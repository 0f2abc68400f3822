"""Spot and cross margin stop orders: STOP_LOSS, STOP_LOSS_LIMIT, TAKE_PROFIT, TAKE_PROFIT_LIMIT.

Binance's rules (binance-spot-api-docs/rest-api.md "Trigger order price rules"): the stop price of
a STOP_LOSS BUY or a TAKE_PROFIT SELL is above the market price and triggers when the last price
rises to it; that of a STOP_LOSS SELL or a TAKE_PROFIT BUY is below and triggers when the price
falls to it. One placed on the wrong side is refused with -2010 "Order would trigger immediately."
An untriggered stop locks its balance as a limit order does (a BUY STOP_LOSS / TAKE_PROFIT at its
stop price), is not on the book (`w` false, `workingTime` -1) and is open for queries and cancels.
Triggered, the market types fill at once at the price +/- slippage (taker), the limit types rest at
their price (taking this step's liquidity when they cross). The docs name no event for the trigger
itself, so none is sent: the order's trades (or, resting, its later reports with `w` true) follow.
`trailingDelta` is refused (spot.py `parse_new_order`).
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_UP, Decimal
from typing import TYPE_CHECKING

from simulator import errors
from simulator.matching import Resting
from simulator.symbols import SymbolSpec
from simulator.util import now_ms

from .order_state import Order

if TYPE_CHECKING:
    from simulator.core import Sim

STOP_TYPES = ("STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")
MARKET_STOPS = ("STOP_LOSS", "TAKE_PROFIT")  # a MARKET order once triggered


def triggers_above(type_: str, side: str) -> bool:
    """Whether the stop price is above the market (triggered by a rise) rather than below."""
    return (type_.startswith("STOP_LOSS") and side == "BUY") or (type_.startswith("TAKE_PROFIT") and side == "SELL")


def triggered(type_: str, side: str, stop_price: Decimal, price: Decimal) -> bool:
    return price >= stop_price if triggers_above(type_, side) else price <= stop_price


def check_stop(
    spec: SymbolSpec, side: str, type_: str, quantity: Decimal, price: Decimal | None, stop_price: Decimal, current: Decimal
) -> Decimal:
    """Filters and the trigger rule of a new stop order; the price its balance is locked at."""
    spec.check_price(stop_price)
    if type_ in MARKET_STOPS:
        spec.check_lot(quantity, market=True)
        spec.check_notional(quantity * stop_price, market=True)
        at = stop_price
    else:
        assert price is not None
        spec.check_price(price)
        spec.check_lot(quantity, market=False)
        spec.check_notional(quantity * price, market=False)
        at = price
    if triggered(type_, side, stop_price, current):
        raise errors.BinanceError(errors.NEW_ORDER_REJECTED, "Order would trigger immediately.")
    return at


class _StopOrders:
    """The part of `OrderEngine` (orders.py) that holds untriggered stops and triggers them."""

    sim: "Sim"
    stops: dict[int, Order]

    def on_stop_prices(self, prices: dict[str, Decimal]) -> None:
        """A price step (after the matcher's fills): trigger the stops the prices reached."""
        if not self.stops:
            return
        for order in list(self.stops.values()):
            price = prices.get(order.symbol)
            if price is None or self.stops.get(order.order_id) is not order:
                continue
            if triggered(order.type, order.side, order.stop_price, price):
                del self.stops[order.order_id]
                self._trigger(order, price)

    def _trigger(self, order: Order, current: Decimal) -> None:
        account = self.sim.store.accounts[order.account_id]
        spec = self.sim.symbols.get(order.symbol, "spot")
        order.working_time = now_ms()
        if order.order_list_id >= 0:
            self.activate(order)  # type: ignore[attr-defined]  # an OCO leg triggers: the other expires
        if order.type in MARKET_STOPS:
            slip = self.sim.slippage
            fill_price = current * (1 + slip) if order.side == "BUY" else current * (1 - slip)
            fill_price = fill_price.quantize(spec.tick_size, ROUND_UP if order.side == "BUY" else ROUND_DOWN)
            self._fill(account, spec, order, order.leaves, max(fill_price, spec.tick_size), maker=False, publish=True)  # type: ignore[attr-defined]
            return
        crosses = (order.side == "BUY" and current <= order.price) or (order.side == "SELL" and current >= order.price)
        if crosses:
            granted = self.sim.matcher.take(order.symbol, order.side, order.leaves)
            if granted > 0:
                self._fill(account, spec, order, granted, current, maker=False, publish=True)  # type: ignore[attr-defined]
        if order.is_open:
            order.resting = self.sim.matcher.add(
                Resting(order.symbol, order.side, order.price, order.leaves, order, self._on_resting_fill)  # type: ignore[attr-defined]
            )
