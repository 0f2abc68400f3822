"""The master's resting orders (USD-M LIMIT; spot and cross margin LIMIT, LIMIT_MAKER and the stop
types STOP_LOSS(_LIMIT) / TAKE_PROFIT(_LIMIT) with their stop price): what slaves in
`orders = "mirror"` mode copy. A spot stop with a `trailingDelta` is not published (its fills are
copied as fills): the copy would need the trailing rule, which the slave does not place. The
orders of an OCO carry its id (executionReport `g`, openOrders `orderListId`): each is published
as it changes, and the slave copies the pair as a list of its own; an OTO's or OTOCO's orders are
sorted first (order_lists.py: the working order on its own, the pending ones once on the book).

Fed by the order updates (USD-M ORDER_TRADE_UPDATE, spot / margin executionReport, read into one
`OrderUpdate`): x NEW places, AMENDMENT (USD-M `PUT /fapi/v1/order`: price and quantity) or
REPLACED (spot `order.amend.keepPriority`: a smaller quantity) amends with the same order id,
CANCELED / EXPIRED end an order, TRADE moves its filled quantity and the fill with status FILLED
ends it. A spot `cancelReplace` is a CANCELED and a NEW of another order id, so a cancel and a
placement. Rebuilt from the open orders (USD-M `GET /fapi/v1/openOrders`, spot
`GET /api/v3/openOrders`, margin `GET /sapi/v1/margin/openOrders`) with the positions (the position
of an order found there is the one at the rebuild: when it was placed is not on record). An
amendment older than what the rebuild read (its time < the order's `updateTime`) changes nothing;
a cancel always ends the order (REST saw it open).
Pure: no I/O; the adapter publishes what `on_event` returns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import NamedTuple, get_args

import msgspec

from protocol.messages import SPOT_MARKET_STOPS, SPOT_STOP_TYPES, OrderAction, RestingOrder, RestingOrderType

from ..binance.wire import BinanceExecutionReport, BinanceFuturesOrder, BinanceFuturesOrderData, BinanceSpotOrder

RESTING_TYPES: frozenset[str] = frozenset(get_args(RestingOrderType))
_RESTS: frozenset[str] = frozenset({"GTC", "GTX"})  # IOC / FOK never rest; GTD copies would lack goodTillDate
_ENDS: dict[str, OrderAction] = {"CANCELED": "canceled", "EXPIRED": "expired", "EXPIRED_IN_MATCH": "expired"}
_AMENDS = frozenset({"AMENDMENT", "REPLACED"})
Position = Callable[[str, str], Decimal]  # (symbol, position side) -> the master's position now


class OrderUpdate(NamedTuple):
    """One order update of any market, in the book's terms."""

    x: str  # execution type
    status: str  # order status
    order_id: int
    client_order_id: str
    symbol: str
    position_side: str
    side: str
    order_type: str
    time_in_force: str
    price: Decimal
    qty: Decimal
    cum_qty: Decimal
    reduce_only: bool
    time_ms: int
    stop_price: Decimal = Decimal(0)
    trailing: bool = False
    list_id: int = -1


def futures_update(o: BinanceFuturesOrderData) -> OrderUpdate:
    return OrderUpdate(o.x, o.X, o.i, o.c, o.s, o.ps, o.S, o.o, o.f, o.p, o.q, o.z, o.R, o.T)


def spot_update(e: BinanceExecutionReport) -> OrderUpdate:
    """executionReport (spot and margin: one-way, no reduce-only; LIMIT_MAKER reported GTC)."""
    stop = (e.P or Decimal(0)) if e.o in SPOT_STOP_TYPES else Decimal(0)
    return OrderUpdate(e.x, e.X, e.i, e.c, e.s, "BOTH", e.S, e.o, e.f or "GTC", e.p, e.q, e.z, False, e.T, stop, e.d is not None, e.g)


class OpenOrder(NamedTuple):
    """A row of the open orders read over REST, in the book's terms."""

    order_id: int
    client_order_id: str
    symbol: str
    position_side: str
    side: str
    order_type: str
    time_in_force: str
    price: Decimal
    qty: Decimal
    cum_qty: Decimal
    reduce_only: bool
    update_ms: int
    stop_price: Decimal = Decimal(0)
    trailing: bool = False
    list_id: int = -1
    status: str = ""  # spot / margin: PENDING_NEW for an OTO's order not on the book yet (order_lists.py)


def futures_open_order(o: BinanceFuturesOrder) -> OpenOrder:
    return OpenOrder(
        o.orderId,
        o.clientOrderId,
        o.symbol,
        o.positionSide,
        o.side or "",
        o.type or "",
        o.timeInForce or "",
        o.price or Decimal(0),
        o.origQty or Decimal(0),
        o.executedQty or Decimal(0),
        bool(o.reduceOnly),
        o.updateTime or 0,
    )


def spot_open_order(o: BinanceSpotOrder) -> OpenOrder:
    return OpenOrder(
        o.orderId,
        o.clientOrderId,
        o.symbol,
        "BOTH",
        o.side or "",
        o.type or "",
        o.timeInForce or "GTC",
        o.price or Decimal(0),
        o.origQty or Decimal(0),
        o.executedQty or Decimal(0),
        False,
        o.updateTime or o.time or 0,
        (o.stopPrice or Decimal(0)) if o.type in SPOT_STOP_TYPES else Decimal(0),
        o.trailingDelta is not None,
        o.orderListId,
        o.status or "",
    )


def _mirrored(o: OrderUpdate | OpenOrder) -> bool:
    if o.status == "PENDING_NEW":  # not on the book: published when it is (order_lists.py)
        return False
    if o.order_type not in RESTING_TYPES or o.time_in_force not in _RESTS or o.qty <= 0 or o.trailing:
        return False
    if o.order_type in SPOT_STOP_TYPES and o.stop_price <= 0:
        return False
    return o.price == 0 if o.order_type in SPOT_MARKET_STOPS else o.price > 0


class RestingBook:
    def __init__(self) -> None:
        self.orders: dict[int, RestingOrder] = {}
        self.rest_time: dict[int, int] = {}  # order id -> updateTime of the rebuild that read it

    def rebuild(self, open_orders: Iterable[OpenOrder], position: Position) -> None:
        """Replace the book with REST's open orders (those of the types mirrored)."""
        self.orders = {}
        self.rest_time = {}
        for o in open_orders:
            if not _mirrored(o):
                continue
            self.orders[o.order_id] = RestingOrder(
                symbol=o.symbol,
                position_side=o.position_side,  # type: ignore[arg-type]
                side=o.side,  # type: ignore[arg-type]
                order_id=o.order_id,
                client_order_id=o.client_order_id,
                order_type=o.order_type,  # type: ignore[arg-type]
                time_in_force=o.time_in_force,  # type: ignore[arg-type]
                price=o.price,
                orig_qty=o.qty,
                cum_qty=o.cum_qty,
                reduce_only=o.reduce_only,
                position_at_place=position(o.symbol, o.position_side),
                update_ms=o.update_ms,
                stop_price=o.stop_price,
                list_id=o.list_id,
            )
            self.rest_time[o.order_id] = o.update_ms

    def on_event(self, o: OrderUpdate, position: Position) -> tuple[OrderAction, RestingOrder] | None:
        """One order update: what to publish (None: nothing changed for the slaves).

        `position` is read after the adapter applied the event's fill, if any."""
        known = self.orders.get(o.order_id)
        if o.x == "NEW":
            if known is not None or not _mirrored(o):
                return None  # known: a stop that triggered (Binance may report it NEW again), or a repeat
            order = RestingOrder(
                symbol=o.symbol,
                position_side=o.position_side,  # type: ignore[arg-type]
                side=o.side,  # type: ignore[arg-type]
                order_id=o.order_id,
                client_order_id=o.client_order_id,
                order_type=o.order_type,  # type: ignore[arg-type]
                time_in_force=o.time_in_force,  # type: ignore[arg-type]
                price=o.price,
                orig_qty=o.qty,
                cum_qty=o.cum_qty,
                reduce_only=o.reduce_only,
                position_at_place=position(o.symbol, o.position_side),
                update_ms=o.time_ms,
                stop_price=o.stop_price,
                list_id=o.list_id,
            )
            self.orders[o.order_id] = order
            return "placed", order
        if known is None:
            return None
        if o.x in _AMENDS:
            if not _mirrored(o) or o.time_ms < self.rest_time.get(o.order_id, 0):
                return None  # not a price and quantity, or older than what the rebuild read
            if o.status in ("FILLED", "CANCELED", "EXPIRED") or o.qty <= o.cum_qty:  # amended down to what filled: done
                self._forget(o.order_id)
                done = msgspec.structs.replace(known, orig_qty=o.qty, cum_qty=max(known.cum_qty, o.cum_qty), update_ms=o.time_ms)
                return ("canceled" if o.status == "CANCELED" else "expired"), done
            order = msgspec.structs.replace(
                known,
                client_order_id=o.client_order_id,
                price=o.price,
                orig_qty=o.qty,
                cum_qty=o.cum_qty,
                update_ms=o.time_ms,
                stop_price=o.stop_price or known.stop_price,
            )
            self.orders[o.order_id] = order
            return "amended", order
        if o.x in ("TRADE", "CALCULATED"):
            if o.status == "FILLED" or o.cum_qty >= known.orig_qty:
                self._forget(o.order_id)  # done: the fill with status FILLED tells the slaves
            else:
                cum = max(known.cum_qty, o.cum_qty)
                self.orders[o.order_id] = msgspec.structs.replace(known, cum_qty=cum, update_ms=max(known.update_ms, o.time_ms))
            return None
        end = _ENDS.get(o.x) or _ENDS.get(o.status)
        if end is not None:
            self._forget(o.order_id)
            return end, msgspec.structs.replace(known, cum_qty=max(known.cum_qty, o.cum_qty), update_ms=o.time_ms)
        return None

    def _forget(self, order_id: int) -> None:
        del self.orders[order_id]
        self.rest_time.pop(order_id, None)

    def entries(self) -> tuple[RestingOrder, ...]:
        return tuple(sorted(self.orders.values(), key=lambda r: (r.symbol, r.order_id)))
