"""Spot order lists: OCO (`POST /api/v3/orderList/oco`, WebSocket API `orderList.place.oco`).

Binance's rules (binance-spot-api-docs/rest-api.md "New Order list - OCO"): two orders of one side
and one quantity, the "above" and the "below" order; one is a LIMIT_MAKER, TAKE_PROFIT or
TAKE_PROFIT_LIMIT, the other a STOP_LOSS or STOP_LOSS_LIMIT; the above order's price (a stop's
stop price, a LIMIT_MAKER's price) is above the last price and the below order's under it, else
-2010 "The relationship of the prices for the orders is not correct." The pair locks its balance
once (what the larger of the two needs). When one order starts working (a stop triggers, the
LIMIT_MAKER fills) the other expires (executionReport EXPIRED), and the list is ALL_DONE when
neither is open. Canceling either order cancels the list. Every change of the list is also a
`listStatus` event (EXEC_STARTED / EXECUTING when placed, ALL_DONE / ALL_DONE at the end).
OTO and OTOCO (a working order and the pending orders it puts on the book when filled) are
spot_oto.py's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from simulator import errors
from simulator.matching import Resting
from simulator.symbols import SymbolSpec
from simulator.util import ZERO, now_ms

from .order_state import Order
from .spot_stops import check_stop

if TYPE_CHECKING:
    from simulator.accounts import Account
    from simulator.core import Sim

ABOVE_TYPES = ("STOP_LOSS_LIMIT", "STOP_LOSS", "LIMIT_MAKER", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")
BELOW_TYPES = ("STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")
_LIMIT_SIDE = ("LIMIT_MAKER", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")
_STOP_SIDE = ("STOP_LOSS", "STOP_LOSS_LIMIT")


@dataclass
class Leg:
    """One order of a new OCO, as requested."""

    type: str
    price: Decimal | None
    stop_price: Decimal | None
    tif: str | None
    client_id: str | None


@dataclass
class OrderList:
    list_id: int
    account_id: str
    symbol: str
    list_client_id: str
    orders: list[Order]
    time: int
    contingency: str = "OCO"  # or "OTO" (OTO and OTOCO: spot_oto.py)
    done: bool = False
    placing: bool = False  # an OTO being placed: its pending orders do not exist yet
    reports: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> tuple[str, str]:  # (listStatusType, listOrderStatus)
        return ("ALL_DONE", "ALL_DONE") if self.done else ("EXEC_STARTED", "EXECUTING")


def _level(leg: Leg) -> Decimal:
    """The price an OCO leg is compared with the last price at: a stop's stop price, else its price."""
    value = leg.price if leg.type == "LIMIT_MAKER" else leg.stop_price
    assert value is not None
    return value


def check_oco(side: str, above: Leg, below: Leg, current: Decimal) -> None:
    if above.type not in ABOVE_TYPES or below.type not in BELOW_TYPES:
        raise errors.invalid_type()
    kinds = {above.type in _LIMIT_SIDE, below.type in _LIMIT_SIDE}
    if kinds != {True, False} or not (above.type in _STOP_SIDE or below.type in _STOP_SIDE):
        raise errors.BinanceError(errors.NEW_ORDER_REJECTED, "Unsupported order combination")
    if not _level(above) > current > _level(below):
        raise errors.BinanceError(errors.NEW_ORDER_REJECTED, "The relationship of the prices for the orders is not correct.")


def check_legacy_oco(side: str, above: Leg, below: Leg, current: Decimal) -> None:
    """The older OCO form (cross margin `POST /sapi/v1/margin/order/oco`): a LIMIT_MAKER at `price`
    and a STOP_LOSS(_LIMIT) at `stopPrice`; SELL: price > last price > stopPrice, BUY: price < last
    price < stopPrice (the "above" order is the LIMIT_MAKER of a SELL, the stop of a BUY)."""
    types = {above.type, below.type}
    if "LIMIT_MAKER" not in types or not types & set(_STOP_SIDE):
        raise errors.BinanceError(errors.NEW_ORDER_REJECTED, "Unsupported order combination")
    if not _level(above) > current > _level(below):
        raise errors.BinanceError(errors.NEW_ORDER_REJECTED, "The relationship of the prices for the orders is not correct.")


class _OrderLists:
    """The part of `OrderEngine` (orders.py) that places, activates and cancels order lists."""

    sim: "Sim"
    market: str
    stops: dict[int, Order]
    lists: dict[int, OrderList]

    def place_oco(
        self,
        account: "Account",
        spec: SymbolSpec,
        side: str,
        quantity: Decimal,
        above: Leg,
        below: Leg,
        list_client_id: str | None,
        stp: str,
        arrival_ns: int,
        transport: str,
        check: Callable[[str, Leg, Leg, Decimal], None] = check_oco,
        before_lock: Callable[[Order, str, Decimal], None] | None = None,
    ) -> OrderList:
        """Place an OCO (`check`: which form's rules; `before_lock`: margin borrows the shortfall
        of the pair's one lock, as for a single order)."""
        book = self.book(account.id)  # type: ignore[attr-defined]
        if list_client_id is not None and any(
            ol.list_client_id == list_client_id and not ol.done and ol.account_id == account.id for ol in self.lists.values()
        ):
            raise errors.BinanceError(errors.NEW_ORDER_REJECTED, "Order list's client order id is already in use.")
        for leg in (above, below):
            if leg.client_id is not None and leg.client_id in book.open_client:
                raise errors.duplicate_order()
        current = self.sim.prices.price(spec.symbol)
        check(side, above, below, current)
        needs = []
        for leg in (above, below):
            if leg.type == "LIMIT_MAKER":
                assert leg.price is not None
                spec.check_price(leg.price)
                spec.check_lot(quantity, market=False)
                spec.check_notional(leg.price * quantity, market=False)
                needs.append(leg.price)
            else:
                assert leg.stop_price is not None
                needs.append(check_stop(spec, side, leg.type, quantity, leg.price, leg.stop_price, current))
        asset = spec.quote if side == "BUY" else spec.base
        need = quantity * max(needs) if side == "BUY" else quantity
        now = now_ms()
        orders = [self.list_order(account, spec, side, quantity, leg, now, arrival_ns, transport, stp, asset) for leg in (above, below)]
        if before_lock is not None:
            before_lock(orders[0], asset, need)
        bal = self.balance(account, asset)  # type: ignore[attr-defined]
        if bal.free < need:
            raise errors.insufficient_balance()
        list_id = self.sim.order_ids()
        for order in orders:
            order.order_id = self.sim.order_ids()
            order.order_list_id = list_id
            book.by_id[order.order_id] = order
            book.by_client[order.client_order_id] = order
            book.open_client[order.client_order_id] = order
        bal.free -= need
        bal.locked += need
        orders[0].locked = need  # the pair's one lock, moved to the order that starts working
        self.touched(account, now)  # type: ignore[attr-defined]
        ol = OrderList(list_id, account.id, spec.symbol, list_client_id or self.new_client_id(), orders, now)  # type: ignore[attr-defined]
        self.lists[list_id] = ol
        for order in orders:
            if order.type == "LIMIT_MAKER":
                order.working_time = now
                order.resting = self.sim.matcher.add(Resting(spec.symbol, side, order.price, quantity, order, self._on_resting_fill))  # type: ignore[attr-defined]
            else:
                self.stops[order.order_id] = order
        hub = self.sim.hub
        if hub.has_subscribers(account.id, self.market):
            for order in orders:
                hub.publish(account.id, self.market, self.execution_report(order, "NEW", "NEW", None))  # type: ignore[attr-defined]
            hub.publish(account.id, self.market, self.list_status(ol))
            self.publish_balances(account, orders[0])  # type: ignore[attr-defined]
        return ol

    def list_order(
        self,
        account: "Account",
        spec: SymbolSpec,
        side: str,
        quantity: Decimal,
        leg: Leg,
        now: int,
        arrival_ns: int,
        transport: str,
        stp: str,
        locked_asset: str = "",
    ) -> Order:
        """One order of a new list, as `leg` asks (its id and list id are set by the caller)."""
        return Order(
            order_id=0,
            account_id=account.id,
            symbol=spec.symbol,
            side=side,
            type=leg.type,
            tif=leg.tif or "GTC",
            price=leg.price or ZERO,
            orig_qty=quantity,
            client_order_id=leg.client_id or self.new_client_id(),  # type: ignore[attr-defined]
            time=now,
            arrival_ns=arrival_ns,
            transport=transport,
            stp=stp,
            update_time=now,
            stop_price=leg.stop_price or ZERO,
            locked_asset=locked_asset,
        )

    def activate(self, order: Order) -> None:
        """`order`, a leg of an OCO, starts working (a fill, a trigger): the other leg expires and
        its share of the pair's lock moves to `order`."""
        ol = self.lists.get(order.order_list_id)
        if ol is None:
            return
        account = self.sim.store.accounts[order.account_id]
        for other in ol.orders:
            if other is order or not other.is_open:
                continue
            order.locked += other.locked
            other.locked = ZERO
            self._finish(account, other, "EXPIRED", publish=False)  # type: ignore[attr-defined]
            if self.sim.hub.has_subscribers(account.id, self.market):  # no balance changed: no outboundAccountPosition
                self.sim.hub.publish(account.id, self.market, self.execution_report(other, "EXPIRED", "EXPIRED", None))  # type: ignore[attr-defined]

    def list_closed(self, order: Order) -> None:
        """A leg ended (orders.py `_finish`): the list is done when no leg is open or pending. An
        OTO's working order expired ends its pending orders (filled, it puts them on the book once
        its fill is reported: spot_oto.py `working_filled`)."""
        ol = self.lists.get(order.order_list_id)
        if ol is None or ol.done:
            return
        if ol.contingency == "OTO" and ol.orders and order is ol.orders[0] and order.status == "EXPIRED":
            self.end_pending(ol, "EXPIRED")  # type: ignore[attr-defined]  # (a cancel cancels the whole list: cancel_list)
        if ol.placing or any(o.is_open or o.status == "PENDING_NEW" for o in ol.orders):
            return
        ol.done = True
        if self.sim.hub.has_subscribers(ol.account_id, self.market):
            self.sim.hub.publish(ol.account_id, self.market, self.list_status(ol))

    def cancel_list(self, account: "Account", ol: OrderList, cancel_client_id: str | None) -> OrderList:
        if ol.done:
            raise errors.BinanceError(errors.CANCEL_REJECTED, "Unknown order list sent.")
        cid = cancel_client_id or self.new_client_id()  # type: ignore[attr-defined]
        for order in ol.orders:
            if order.is_open or order.status == "PENDING_NEW":
                order.cancel_client_id = cid
                self._finish(account, order, "CANCELED", publish=True)  # type: ignore[attr-defined]
        return ol

    def find_list(self, account_id: str, list_id: int | None, list_client_id: str | None) -> OrderList | None:
        if list_client_id is not None:  # the latest list with that id
            found = [ol for ol in self.lists.values() if ol.account_id == account_id and ol.list_client_id == list_client_id]
            return found[-1] if found else None
        ol = self.lists.get(list_id) if list_id is not None else None
        return ol if ol is not None and ol.account_id == account_id else None

    # -- wire ---------------------------------------------------------------------------------------------
    def list_status(self, ol: OrderList) -> dict[str, Any]:
        kind, status = ol.status
        return {
            "e": "listStatus",
            "E": now_ms(),
            "s": ol.symbol,
            "g": ol.list_id,
            "c": ol.contingency,
            "l": kind,
            "L": status,
            "r": "NONE",
            "C": ol.list_client_id,
            "T": max(o.update_time for o in ol.orders),
            "O": [{"s": o.symbol, "i": o.order_id, "c": o.client_order_id} for o in ol.orders],
        }

    def list_result(self, ol: OrderList, reports: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        kind, status = ol.status
        out: dict[str, Any] = {
            "orderListId": ol.list_id,
            "contingencyType": ol.contingency,
            "listStatusType": kind,
            "listOrderStatus": status,
            "listClientOrderId": ol.list_client_id,
            "transactionTime": ol.time,
            "symbol": ol.symbol,
            "orders": [{"symbol": o.symbol, "orderId": o.order_id, "clientOrderId": o.client_order_id} for o in ol.orders],
        }
        if reports is not None:
            out["orderReports"] = reports
        return out
