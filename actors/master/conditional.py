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

TRAILING_STOP_MARKET: ALGO_UPDATE carries neither its activation price nor its callback rate
(the official SDK's AlgoUpdateO has no such fields), so its NEW is held (`hold_trailing`) while the
adapter reads the order (GET /fapi/v1/algoOrder, weight 1) and published from the reply
(`detailed`); a held one canceled, triggered or ended before the reply is not published (its fills
are copied as fills). openAlgoOrders carries both, so a rebuild has them at once.
Pure: no I/O; the adapter publishes what `on_event` and `link_fill` return.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal

import msgspec

from protocol.messages import AlgoAction, ConditionalOrder

from ..binance.wire import BinanceAlgoOrder, BinanceAlgoOrderData, BinanceFuturesOrderData

TRAILING = "TRAILING_STOP_MARKET"
MIRRORED_TYPES: frozenset[str] = frozenset({"STOP_MARKET", "TAKE_PROFIT_MARKET", "STOP", "TAKE_PROFIT", TRAILING})
CONDITIONAL_TYPES = MIRRORED_TYPES
_ENDS: dict[str, AlgoAction] = {"CANCELED": "canceled", "EXPIRED": "expired", "REJECTED": "rejected", "FINISHED": "finished"}
_WORKING = frozenset({"MARK_PRICE", "CONTRACT_PRICE"})
Position = Callable[[str, str], Decimal]  # (symbol, position side) -> the master's position now
Change = tuple[AlgoAction, ConditionalOrder]
ZERO = Decimal(0)


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
        self.held_trailing: dict[int, tuple[BinanceAlgoOrderData, Decimal, int]] = {}  # algo id -> (NEW, position, ms)

    def rebuild(self, open_algo: Iterable[BinanceAlgoOrder], position: Position) -> None:
        """Replace the book with REST's untriggered conditional orders (of the types mirrored)."""
        self.orders, self.by_actual = {}, {}
        self.actual_done, self.held_finish, self.held_trailing = set(), set(), {}
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
                activate_price=_dec(a.activatePrice),
                callback_rate=_dec(a.callbackRate),
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

    def hold_trailing(self, o: BinanceAlgoOrderData, position: Position, event_ms: int = 0) -> bool:
        """A new trailing stop's ALGO_UPDATE: held until its record is read (True: read it by algo
        id and hand the reply to `detailed`)."""
        if o.X != "NEW" or o.o != TRAILING or o.aid in self.orders or o.aid in self.held_trailing:
            return False
        if len(self.held_trailing) >= 1000:
            self.held_trailing.pop(next(iter(self.held_trailing)))
        self.held_trailing[o.aid] = (o, position(o.s, o.ps), event_ms)
        return True

    def detailed(self, a: BinanceAlgoOrder | None, algo_id: int) -> Change | None:
        """The record of a held trailing stop (None: it could not be read; not published then)."""
        held = self.held_trailing.pop(algo_id, None)
        if held is None or a is None or a.algoId != algo_id or a.algoStatus not in (None, "NEW"):
            return None  # ended meanwhile (its events said so), or a rebuild took REST's word
        o, position_at_place, event_ms = held
        order = self._from_event(o, position_at_place, event_ms, _dec(a.activatePrice), _dec(a.callbackRate))
        if order is None:
            return None
        self.orders[o.aid] = order
        return "placed", order

    def _from_event(
        self, o: BinanceAlgoOrderData, at_place: Decimal, event_ms: int, activate: Decimal = ZERO, callback: Decimal = ZERO
    ) -> ConditionalOrder | None:
        return self._order(
            symbol=o.s,
            position_side=o.ps,
            side=o.S,
            algo_id=o.aid,
            client_algo_id=o.caid,
            order_type=o.o,
            trigger_price=ZERO if o.o == TRAILING else _dec(o.tp),
            price=_dec(o.p),
            quantity=_dec(o.q),
            close_position=o.cp,
            reduce_only=o.R,
            working_type=o.wt,
            price_protect=o.pP,
            time_in_force=o.f,
            activate_price=activate,
            callback_rate=callback,
            position_at_place=at_place,
            update_ms=event_ms,
        )

    def on_event(self, o: BinanceAlgoOrderData, position: Position, event_ms: int = 0) -> Change | None:
        """One ALGO_UPDATE (`event_ms` its time): what to publish (None: nothing changed for the slaves)."""
        known = self.orders.get(o.aid)
        if o.X != "NEW" and self.held_trailing.pop(o.aid, None) is not None:
            return None  # a trailing stop ended or triggered before the slaves were told of it
        if o.X == "NEW":
            if known is not None or o.o not in MIRRORED_TYPES or o.o == TRAILING:
                return None
            order = self._from_event(o, position(o.s, o.ps), event_ms)
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
                and (not o.sp or o.sp == c.trigger_price or c.order_type == TRAILING)
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
