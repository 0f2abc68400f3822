"""The master's resting orders (USD-M LIMIT today): what slaves in `orders = "mirror"` mode copy.

Fed by ORDER_TRADE_UPDATE: x NEW places, AMENDMENT amends (`PUT /fapi/v1/order`: price and
quantity, same order id), CANCELED / EXPIRED end an order, TRADE moves its filled quantity and the
fill with status FILLED ends it. Rebuilt from `GET /fapi/v1/openOrders` with the positions (the
position of an order found there is the one at the rebuild: when it was placed is not on record).
An amendment older than what the rebuild read (its time < the order's `updateTime`) changes
nothing; a cancel always ends the order (REST saw it open).
Pure: no I/O; the adapter publishes what `on_event` returns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import get_args

import msgspec

from protocol.messages import OrderAction, RestingOrder, RestingOrderType, TimeInForce

from ..binance.wire import BinanceFuturesOrder, BinanceFuturesOrderData

RESTING_TYPES: frozenset[str] = frozenset(get_args(RestingOrderType))
TIME_IN_FORCE: frozenset[str] = frozenset(get_args(TimeInForce))
_ENDS: dict[str, OrderAction] = {"CANCELED": "canceled", "EXPIRED": "expired", "EXPIRED_IN_MATCH": "expired"}
Position = Callable[[str, str], Decimal]  # (symbol, position side) -> the master's position now


class RestingBook:
    def __init__(self) -> None:
        self.orders: dict[int, RestingOrder] = {}
        self.rest_time: dict[int, int] = {}  # order id -> updateTime of the rebuild that read it

    def rebuild(self, open_orders: Iterable[BinanceFuturesOrder], position: Position) -> None:
        """Replace the book with REST's open orders (those of the types mirrored)."""
        self.orders = {}
        self.rest_time = {}
        for o in open_orders:
            if o.type not in RESTING_TYPES or o.timeInForce not in TIME_IN_FORCE or not o.price or not o.origQty:
                continue
            self.orders[o.orderId] = RestingOrder(
                symbol=o.symbol,
                position_side=o.positionSide,  # type: ignore[arg-type]
                side=o.side,  # type: ignore[arg-type]
                order_id=o.orderId,
                client_order_id=o.clientOrderId,
                order_type=o.type,  # type: ignore[arg-type]
                time_in_force=o.timeInForce,  # type: ignore[arg-type]
                price=o.price,
                orig_qty=o.origQty,
                cum_qty=o.executedQty or Decimal(0),
                reduce_only=bool(o.reduceOnly),
                position_at_place=position(o.symbol, o.positionSide),
                update_ms=o.updateTime or 0,
            )
            self.rest_time[o.orderId] = o.updateTime or 0

    def on_event(self, o: BinanceFuturesOrderData, position: Position) -> tuple[OrderAction, RestingOrder] | None:
        """One ORDER_TRADE_UPDATE: what to publish (None: nothing changed for the slaves).

        `position` is read after the adapter applied the event's fill, if any."""
        known = self.orders.get(o.i)
        if o.x == "NEW":
            if known is not None or o.o not in RESTING_TYPES or o.f not in TIME_IN_FORCE or o.p <= 0 or o.q <= 0:
                return None
            order = RestingOrder(
                symbol=o.s,
                position_side=o.ps,  # type: ignore[arg-type]
                side=o.S,  # type: ignore[arg-type]
                order_id=o.i,
                client_order_id=o.c,
                order_type=o.o,  # type: ignore[arg-type]
                time_in_force=o.f,  # type: ignore[arg-type]
                price=o.p,
                orig_qty=o.q,
                cum_qty=o.z,
                reduce_only=o.R,
                position_at_place=position(o.s, o.ps),
                update_ms=o.T,
            )
            self.orders[o.i] = order
            return "placed", order
        if known is None:
            return None
        if o.x == "AMENDMENT":
            if o.p <= 0 or o.q <= 0 or o.T < self.rest_time.get(o.i, 0):
                return None  # not a price and quantity, or older than what the rebuild read
            order = msgspec.structs.replace(known, price=o.p, orig_qty=o.q, cum_qty=o.z, update_ms=o.T)
            self.orders[o.i] = order
            return "amended", order
        if o.x in ("TRADE", "CALCULATED"):
            if o.X == "FILLED" or o.z >= known.orig_qty:
                self._forget(o.i)  # done: the fill with status FILLED tells the slaves
            else:
                self.orders[o.i] = msgspec.structs.replace(known, cum_qty=max(known.cum_qty, o.z), update_ms=max(known.update_ms, o.T))
            return None
        end = _ENDS.get(o.x) or _ENDS.get(o.X)
        if end is not None:
            self._forget(o.i)
            return end, msgspec.structs.replace(known, cum_qty=max(known.cum_qty, o.z), update_ms=o.T)
        return None

    def _forget(self, order_id: int) -> None:
        del self.orders[order_id]
        self.rest_time.pop(order_id, None)

    def entries(self) -> tuple[RestingOrder, ...]:
        return tuple(sorted(self.orders.values(), key=lambda r: (r.symbol, r.order_id)))
