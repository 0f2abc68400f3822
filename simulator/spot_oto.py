"""Spot OTO and OTOCO order lists (`POST /api/v3/orderList/oto` and `/otoco`, WebSocket API
`orderList.place.oto` / `orderList.place.otoco`; the routes are in spot_lists.py).

Binance's rules (binance-spot-api-docs/rest-api.md "New Order list - OTO" / "- OTOCO"): the first
order, the *working* order, is a LIMIT or LIMIT_MAKER and the only one on the book at first. The
*pending* order (OTO: one of any type; OTOCO: an OCO pair, above and below, of one side and
quantity) waits with status PENDING_NEW and goes on the book when the working order is fully
filled. Canceling any order of the list cancels the list. The placement reply shows a working
order filled at once as FILLED and its pending orders still as PENDING_NEW.

What Binance's docs leave open, and the simulator does (to confirm on testnet):
- user data: an executionReport x NEW / X PENDING_NEW for each pending order when the list is
  placed, and x NEW / X NEW when it goes on the book; a `listStatus` event at the placement, at
  the activation and at the end (EXEC_STARTED / EXECUTING, then ALL_DONE);
- `GET /api/v3/openOrders` lists pending orders with status PENDING_NEW;
- a pending order locks its balance when it goes on the book (the working order's fill pays for
  it); one that cannot lock it, or a LIMIT_MAKER that would take, or an OTOCO pair whose prices are
  on the wrong sides of the last price then, expires;
- a pending stop whose stop price was already passed triggers at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from typing import TYPE_CHECKING

from simulator import errors
from simulator.matching import Resting
from simulator.symbols import SymbolSpec
from simulator.util import now_ms

from .order_lists import Leg, OrderList, check_oco
from .order_state import Order
from .spot_stops import MARKET_STOPS, check_stop, triggered

if TYPE_CHECKING:
    from simulator.accounts import Account
    from simulator.core import Sim

PENDING = "PENDING_NEW"
WORKING_TYPES = ("LIMIT", "LIMIT_MAKER")
PENDING_TYPES = ("LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")


@dataclass
class Working:
    """The working order of a new OTO / OTOCO, as requested."""

    type: str
    side: str
    quantity: Decimal
    price: Decimal
    tif: str | None
    client_id: str | None


class _PendingOrders:
    """The part of `OrderEngine` (orders.py) that places OTO / OTOCO lists and puts their pending
    orders on the book."""

    sim: "Sim"
    market: str
    stops: dict[int, Order]
    lists: dict[int, OrderList]

    def place_oto(
        self,
        account: "Account",
        spec: SymbolSpec,
        working: Working,
        side: str,
        quantity: Decimal,
        pending: list[Leg],
        list_client_id: str | None,
        stp: str,
        arrival_ns: int,
        transport: str,
        resp_type: str = "RESULT",
    ) -> OrderList:
        """An OTO (one pending order) or OTOCO (`pending` = [above, below]); `ol.reports` are the
        placement reply's order reports (a working order filled at once shows its pending orders
        still PENDING_NEW, as Binance's reply does)."""
        book = self.book(account.id)  # type: ignore[attr-defined]
        if list_client_id is not None and any(
            ol.list_client_id == list_client_id and not ol.done and ol.account_id == account.id for ol in self.lists.values()
        ):
            raise errors.BinanceError(errors.NEW_ORDER_REJECTED, "Order list's client order id is already in use.")
        for leg in pending:
            if leg.client_id is not None and leg.client_id in book.open_client:
                raise errors.duplicate_order()
        if working.type not in WORKING_TYPES or any(leg.type not in PENDING_TYPES for leg in pending):
            raise errors.invalid_type()
        if len(pending) == 2:  # OTOCO: an OCO pair, checked as one (its prices against each other)
            above, below = pending
            check_oco(side, above, below, (_level(above) + _level(below)) / 2)
        for leg in pending:
            _check_pending(spec, side, quantity, leg)
        now = now_ms()
        list_id = self.sim.order_ids()
        ol = OrderList(list_id, account.id, spec.symbol, list_client_id or self.new_client_id(), [], now, "OTO")  # type: ignore[attr-defined]
        ol.placing = True
        self.lists[list_id] = ol
        try:
            first = self.place(  # type: ignore[attr-defined]
                account, spec, working.side, working.type, working.tif, working.quantity, None, working.price, working.client_id, stp,
                arrival_ns, transport, order_list_id=list_id,
            )  # fmt: skip
        except errors.BinanceError:
            del self.lists[list_id]
            raise
        ol.orders.append(first)
        for leg in pending:
            order = self.list_order(account, spec, side, quantity, leg, now, arrival_ns, transport, stp)  # type: ignore[attr-defined]
            order.order_id, order.order_list_id, order.status = self.sim.order_ids(), list_id, PENDING
            book.by_id[order.order_id] = order
            book.by_client[order.client_order_id] = order
            book.open_client[order.client_order_id] = order
            ol.orders.append(order)
        ol.placing = False
        ol.reports = [self.order_result(o, resp_type) for o in ol.orders]  # type: ignore[attr-defined]  # before any activation
        hub = self.sim.hub
        if hub.has_subscribers(account.id, self.market):
            for order in ol.orders[1:]:
                hub.publish(account.id, self.market, self.execution_report(order, "NEW", PENDING, None))  # type: ignore[attr-defined]
            hub.publish(account.id, self.market, self.list_status(ol))  # type: ignore[attr-defined]
        if first.status == "FILLED":  # filled at once: the pending orders go on the book now
            self.activate_pending(ol)
        elif not first.is_open:  # expired at once (IOC / FOK, self-trade prevention): the list ends
            self.end_pending(ol, "EXPIRED")
        return ol

    def working_filled(self, order: Order) -> None:
        """`order` filled (its report sent): if it is an OTO's working order, its pending orders go
        on the book."""
        ol = self.lists.get(order.order_list_id)
        if ol is not None and ol.contingency == "OTO" and ol.orders and ol.orders[0] is order:
            self.activate_pending(ol)

    def activate_pending(self, ol: OrderList) -> None:
        """The working order filled: its pending orders go on the book (one lock for an OTOCO's pair)."""
        if ol.placing:
            return  # place_oto activates them once they exist
        pending = [o for o in ol.orders if o.status == PENDING]
        if not pending:
            return
        account = self.sim.store.accounts[ol.account_id]
        spec = self.sim.symbols.get(ol.symbol, "spot")
        current = self.sim.prices.price(ol.symbol)
        first = pending[0]
        asset = spec.quote if first.side == "BUY" else spec.base
        need = first.orig_qty if first.side == "SELL" else first.orig_qty * max(_basis(o, current) for o in pending)
        bal = self.balance(account, asset)  # type: ignore[attr-defined]
        if bal.free < need or not _places(pending, current):
            self.end_pending(ol, "EXPIRED")
            return
        bal.free -= need
        bal.locked += need
        first.locked, first.locked_asset = need, asset
        now = now_ms()
        self.touched(account, now)  # type: ignore[attr-defined]
        hub = self.sim.hub
        for order in pending:
            order.status, order.update_time, order.locked_asset = "NEW", now, asset
            if hub.has_subscribers(account.id, self.market):
                hub.publish(account.id, self.market, self.execution_report(order, "NEW", "NEW", None))  # type: ignore[attr-defined]
        if hub.has_subscribers(account.id, self.market):
            hub.publish(account.id, self.market, self.list_status(ol))  # type: ignore[attr-defined]
            self.publish_balances(account, first)  # type: ignore[attr-defined]
        for order in pending:
            if order.is_open:
                self._work(account, spec, order, current)

    def _work(self, account: "Account", spec: SymbolSpec, order: Order, current: Decimal) -> None:
        """A pending order just put on the book: rest, fill or wait for its trigger."""
        if order.type in ("STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"):
            if triggered(order.type, order.side, order.stop_price, current):
                self._trigger(order, current)  # type: ignore[attr-defined]
            else:
                self.stops[order.order_id] = order
            return
        order.working_time = now_ms()
        if order.type == "MARKET":
            slip = self.sim.slippage
            price = current * (1 + slip) if order.side == "BUY" else current * (1 - slip)
            price = max(price.quantize(spec.tick_size, ROUND_UP if order.side == "BUY" else ROUND_DOWN), spec.tick_size)
            self._fill(account, spec, order, order.leaves, price, maker=False, publish=True)  # type: ignore[attr-defined]
            return
        crosses = (order.side == "BUY" and current <= order.price) or (order.side == "SELL" and current >= order.price)
        if crosses:  # a LIMIT (a LIMIT_MAKER that would take expired in _places)
            granted = self.sim.matcher.take(order.symbol, order.side, order.leaves)
            if granted > 0:
                self._fill(account, spec, order, granted, current, maker=False, publish=True)  # type: ignore[attr-defined]
        if order.is_open:
            if order.tif in ("IOC", "FOK"):
                self._finish(account, order, "EXPIRED", publish=True)  # type: ignore[attr-defined]
            else:
                on_fill = self._on_resting_fill  # type: ignore[attr-defined]
                order.resting = self.sim.matcher.add(Resting(order.symbol, order.side, order.price, order.leaves, order, on_fill))

    def end_pending(self, ol: OrderList, status: str, cancel_client_id: str | None = None) -> None:
        """The list ends before its pending orders went on the book (`status` CANCELED or EXPIRED)."""
        account = self.sim.store.accounts[ol.account_id]
        for order in ol.orders:
            if order.status == PENDING:
                if cancel_client_id is not None:
                    order.cancel_client_id = cancel_client_id
                self._finish(account, order, status, publish=True)  # type: ignore[attr-defined]


def _level(leg: Leg) -> Decimal:
    value = leg.price if leg.type == "LIMIT_MAKER" else leg.stop_price
    assert value is not None
    return value


def _check_pending(spec: SymbolSpec, side: str, quantity: Decimal, leg: Leg) -> None:
    """The filters of a pending order, checked when the list is placed."""
    if leg.type == "MARKET":
        spec.check_lot(quantity, market=True)
        return
    if leg.type in ("LIMIT", "LIMIT_MAKER"):
        assert leg.price is not None
        spec.check_price(leg.price)
        spec.check_lot(quantity, market=False)
        spec.check_notional(leg.price * quantity, market=False)
        return
    assert leg.stop_price is not None
    reference = leg.stop_price + spec.tick_size  # a price on the side where the stop waits
    if triggered(leg.type, side, leg.stop_price, reference):
        reference = leg.stop_price - spec.tick_size
    check_stop(spec, side, leg.type, quantity, leg.price, leg.stop_price, reference)


def _basis(order: Order, current: Decimal) -> Decimal:
    """The price a pending BUY locks quote at."""
    if order.type == "MARKET" or order.type in MARKET_STOPS:
        return max(current, order.stop_price)
    return order.price


def _places(pending: list[Order], current: Decimal) -> bool:
    """Whether the pending orders can go on the book at `current`."""
    for order in pending:
        if order.type == "LIMIT_MAKER" and (
            (order.side == "BUY" and order.price >= current) or (order.side == "SELL" and order.price <= current)
        ):
            return False
    if len(pending) == 2:
        above, below = pending
        level = [o.price if o.type == "LIMIT_MAKER" else o.stop_price for o in (above, below)]
        return level[0] > current > level[1]
    return True
