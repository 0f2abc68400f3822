"""The master's conditional orders (USD-M stop-loss / take-profit on Binance's Algo Service):
what slaves with `orders = "mirror"` and `protective = "mirror"` copy.

Fed by ALGO_UPDATE: X NEW places; CANCELED / EXPIRED / REJECTED end an order; TRIGGERING is
nothing yet; TRIGGERED names the order it became in the matching engine (`ai`), whose fills are
ordinary fills of that order id; FINISHED ends it. Rebuilt from `GET /fapi/v1/openAlgoOrders` with
the positions (the position of an order found there is the one at the rebuild).

The fills of a triggered order must reach the slaves after its "triggered" event (a slave whose
own copy triggered too must not copy them a second time). Binance does not order events of
different types on one connection, so a fill of an order not yet linked is matched here: its
client order id is the algo order's client id (what Binance and the simulator send), or it is the
one untriggered order of that symbol, side and position side whose type is the fill's original
type; `link_fill` then returns the "triggered" change to publish before the fill.

TRAILING_STOP_MARKET is not published: ALGO_UPDATE carries neither its activation price nor its
callback rate, so its fills are copied as fills.
Pure: no I/O; the adapter publishes what `on_event` and `link_fill` return.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal

import msgspec

from protocol.messages import AlgoAction, ConditionalOrder

from ..binance.wire import BinanceAlgoOrder, BinanceAlgoOrderData, BinanceFuturesOrderData

MIRRORED_TYPES: frozenset[str] = frozenset({"STOP_MARKET", "TAKE_PROFIT_MARKET", "STOP", "TAKE_PROFIT"})
CONDITIONAL_TYPES: frozenset[str] = MIRRORED_TYPES | {"TRAILING_STOP_MARKET"}
_ENDS: dict[str, AlgoAction] = {"CANCELED": "canceled", "EXPIRED": "expired", "REJECTED": "rejected", "FINISHED": "finished"}
_WORKING = frozenset({"MARK_PRICE", "CONTRACT_PRICE"})
Position = Callable[[str, str], Decimal]  # (symbol, position side) -> the master's position now
Change = tuple[AlgoAction, ConditionalOrder]


def _dec(value: str | None) -> Decimal:
    """A price or quantity of a REST reply ("" or malformed: 0, which the order's checks refuse)."""
    try:
        d = Decimal(value or 0)
    except ArithmeticError:
        return Decimal(0)
    return d if d.is_finite() else Decimal(0)


def _actual_id(value: str | int | None) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


class ConditionalBook:
    def __init__(self) -> None:
        self.orders: dict[int, ConditionalOrder] = {}  # algo id -> order (untriggered and triggered)
        self.by_actual: dict[int, int] = {}  # actual order id -> algo id (triggered)
        self.actual_done: set[int] = set()  # triggered orders whose last update came (FILLED, CANCELED...)
        self.held_finish: set[int] = set()  # ... and those whose FINISHED waits for it

    def rebuild(self, open_algo: Iterable[BinanceAlgoOrder], position: Position) -> None:
        """Replace the book with REST's untriggered conditional orders (of the types mirrored)."""
        self.orders, self.by_actual = {}, {}
        self.actual_done, self.held_finish = set(), set()
        for a in open_algo:
            if a.algoStatus not in (None, "NEW") or a.orderType not in MIRRORED_TYPES or not a.symbol or a.side not in ("BUY", "SELL"):
                continue
            order = self._order(
                symbol=a.symbol,
                position_side=a.positionSide,
                side=a.side,
                algo_id=a.algoId,
                client_algo_id=a.clientAlgoId,
                order_type=a.orderType,
                trigger_price=_dec(a.triggerPrice),
                price=_dec(a.price),
                quantity=_dec(a.quantity),
                close_position=bool(a.closePosition),
                reduce_only=bool(a.reduceOnly),
                working_type=a.workingType,
                price_protect=bool(a.priceProtect),
                time_in_force=a.timeInForce,
                position_at_place=position(a.symbol, a.positionSide),
                update_ms=a.updateTime or 0,
            )
            if order is not None:
                self.orders[a.algoId] = order

    @staticmethod
    def _order(**fields: object) -> ConditionalOrder | None:
        if fields["working_type"] not in _WORKING:
            fields["working_type"] = "CONTRACT_PRICE"  # Binance's default
        if fields["time_in_force"] not in ("GTC", "IOC", "FOK", "GTX", "GTD"):
            fields["time_in_force"] = "GTC"
        try:
            return msgspec.convert(fields, ConditionalOrder)
        except msgspec.ValidationError:
            return None  # not an order a slave could copy (no trigger price, no quantity...)

    def on_event(self, o: BinanceAlgoOrderData, position: Position, event_ms: int = 0) -> Change | None:
        """One ALGO_UPDATE (`event_ms` its time): what to publish (None: nothing changed for the slaves)."""
        known = self.orders.get(o.aid)
        if o.X == "NEW":
            if known is not None or o.o not in MIRRORED_TYPES:
                return None
            order = self._order(
                symbol=o.s,
                position_side=o.ps,
                side=o.S,
                algo_id=o.aid,
                client_algo_id=o.caid,
                order_type=o.o,
                trigger_price=_dec(o.tp),
                price=_dec(o.p),
                quantity=_dec(o.q),
                close_position=o.cp,
                reduce_only=o.R,
                working_type=o.wt,
                price_protect=o.pP,
                time_in_force=o.f,
                position_at_place=position(o.s, o.ps),
                update_ms=event_ms,
            )
            if order is None:
                return None
            self.orders[o.aid] = order
            return "placed", order
        if known is None:
            return None
        if o.X == "TRIGGERED":
            actual = _actual_id(o.ai)
            if not actual or known.actual_order_id == actual:
                return None  # not linked yet, or linked already (by its first fill)
            return self._trigger(known, actual)
        end = _ENDS.get(o.X)
        if end is None:
            return None  # TRIGGERING, or a status we do not know
        if end == "finished":
            actual = known.actual_order_id or _actual_id(o.ai)
            if actual and actual not in self.actual_done:
                # its order's last update has not come yet (event types are not ordered): the
                # slaves learn "finished" after the last fill, from `order_done`
                if not known.actual_order_id:
                    self._trigger(known, actual)
                self.held_finish.add(actual)
                return None
            known = msgspec.structs.replace(known, actual_order_id=actual)
        self._forget(o.aid)
        return end, known

    def order_done(self, o: BinanceFuturesOrderData) -> Change | None:
        """The last update (FILLED, CANCELED, EXPIRED) of an order a stop triggered: the held
        "finished", if FINISHED came first."""
        if o.X not in ("FILLED", "CANCELED", "EXPIRED", "EXPIRED_IN_MATCH"):
            return None
        if o.i not in self.held_finish or o.i not in self.by_actual:
            if o.i in self.by_actual or (o.ot is not None and o.ot in CONDITIONAL_TYPES):
                if len(self.actual_done) >= 1000:
                    self.actual_done.pop()
                self.actual_done.add(o.i)
            return None
        self.held_finish.discard(o.i)
        order = self.orders[self.by_actual[o.i]]
        self._forget(order.algo_id)
        return "finished", order

    def _trigger(self, known: ConditionalOrder, actual: int) -> Change:
        order = msgspec.structs.replace(known, actual_order_id=actual)
        self.orders[known.algo_id] = order
        self.by_actual[actual] = known.algo_id
        return "triggered", order

    def link_fill(self, o: BinanceFuturesOrderData) -> Change | None:
        """An ORDER_TRADE_UPDATE of order `o.i`: if it is a triggered conditional order not linked
        yet, link it and return the "triggered" change (published before the event's fill)."""
        if o.i in self.by_actual or not self.orders:
            return None
        match = [c for c in self.orders.values() if c.actual_order_id == 0 and c.client_algo_id == o.c]
        if not match and o.ot in MIRRORED_TYPES:
            match = [
                c
                for c in self.orders.values()
                if c.actual_order_id == 0
                and (c.symbol, c.side, c.position_side, c.order_type) == (o.s, o.S, o.ps, o.ot)
                and (not o.sp or o.sp == c.trigger_price)
            ]
        return self._trigger(match[0], o.i) if len(match) == 1 else None

    def is_triggered_order(self, o: BinanceFuturesOrderData) -> bool:
        """An order the Algo Service placed (its fills belong to a conditional order, it is not a
        resting order of the master's own)."""
        return o.i in self.by_actual or (o.ot is not None and o.ot in CONDITIONAL_TYPES)

    def _forget(self, algo_id: int) -> None:
        order = self.orders.pop(algo_id)
        self.by_actual.pop(order.actual_order_id, None)
        self.actual_done.discard(order.actual_order_id)
        self.held_finish.discard(order.actual_order_id)

    def entries(self) -> tuple[ConditionalOrder, ...]:
        """The untriggered ones (a snapshot's `open_algo_orders`)."""
        return tuple(sorted((c for c in self.orders.values() if c.actual_order_id == 0), key=lambda c: (c.symbol, c.algo_id)))
