"""The spot-style order engine, used twice: Spot (`account.spot`) and Cross Margin (`account.margin`).

Orders: LIMIT (GTC/IOC/FOK), LIMIT_MAKER, MARKET (quantity or quoteOrderQty). Market orders fill
at once at the current price +/- slippage; limit orders that cross on arrival take this step's
liquidity and rest for the rest; resting orders fill when the price crosses them, at most the
symbol's per-step liquidity, so partial fills really happen. Balances are locked and settled as
Binance does (commission taken from the asset received). Every change is published on the user-data
hub as `executionReport` + `outboundAccountPosition`.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from typing import TYPE_CHECKING, Any

from simulator import errors
from simulator.matching import Resting
from simulator.symbols import SymbolSpec
from simulator.util import ZERO, now_ms

from .order_lists import OrderList, _OrderLists
from .order_state import AccountOrders, Fill, Order
from .orders_wire import _OrderWire
from .spot_oto import PENDING, _PendingOrders
from .spot_stops import STOP_TYPES, _StopOrders, check_stop

if TYPE_CHECKING:
    from simulator.accounts import Account
    from simulator.core import Sim

SIDES = ("BUY", "SELL")
ORDER_TYPES = ("LIMIT", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT", "LIMIT_MAKER")
SUPPORTED_TYPES = ("LIMIT", "MARKET", "LIMIT_MAKER", *STOP_TYPES)
TIFS = ("GTC", "IOC", "FOK")
RESP_TYPES = ("ACK", "RESULT", "FULL")
STP_MODES = ("NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH", "DECREMENT", "TRANSFER")


class OrderEngine(_OrderWire, _StopOrders, _OrderLists, _PendingOrders):
    """One market's orders and balances (market = "spot" or "margin"); stops: spot_stops.py;
    order lists (OCO): order_lists.py; OTO / OTOCO: spot_oto.py."""

    def __init__(self, sim: "Sim", market: str) -> None:
        self.sim = sim
        self.market = market
        self.accounts: dict[str, AccountOrders] = {}
        self.client_id_seq = 0
        # margin: called after a fill to auto-repay (set by margin.py)
        self.after_fill: Callable[[Order, "Account", str, Decimal], None] | None = None
        self.stops: dict[int, Order] = {}  # untriggered stop orders by order id
        self.lists: dict[int, OrderList] = {}  # order lists by id (OCO)
        sim.prices.add_listener(self.on_stop_prices)  # after the matcher's (core.py)

    # -- helpers ----------------------------------------------------------------------------------------
    def book(self, account_id: str) -> AccountOrders:
        book = self.accounts.get(account_id)
        if book is None:
            book = self.accounts[account_id] = self._new_book()
        return book

    def _new_book(self) -> AccountOrders:
        """A book whose order and trade histories are bounded (config [history])."""
        book = AccountOrders(trades=self.sim.history.trades())

        def forget(_order_id: int, order: Order) -> None:  # a closed order dropped: its client id goes too
            if book.by_client.get(order.client_order_id) is order:
                del book.by_client[order.client_order_id]

        book.by_id = self.sim.history.orders(forget)
        return book

    def balance(self, account: "Account", asset: str) -> Any:
        return account.spot_balance(asset) if self.market == "spot" else account.margin_balance(asset)

    def touched(self, account: "Account", now: int) -> None:
        """A balance of this market changed at `now` (the spot account's "updateTime")."""
        if self.market == "spot":
            account.spot_updated_ms = now

    def new_client_id(self) -> str:
        self.client_id_seq += 1
        return f"sim{self.sim.started_ms:x}{self.client_id_seq:010d}"

    def find(self, account_id: str, order_id: int | None, client_id: str | None) -> Order | None:
        book = self.book(account_id)
        if order_id is not None:
            order = book.by_id.get(order_id)
            if order is not None and client_id and order.client_order_id != client_id:
                return None
            return order
        if client_id:
            return book.by_client.get(client_id)
        return None

    # -- placing ----------------------------------------------------------------------------------------
    def place(
        self,
        account: "Account",
        spec: SymbolSpec,
        side: str,
        type_: str,
        tif: str | None,
        quantity: Decimal | None,
        quote_qty: Decimal | None,
        price: Decimal | None,
        client_id: str | None,
        stp: str,
        arrival_ns: int,
        transport: str,
        before_lock: Callable[[Order, str, Decimal], None] | None = None,
        stop_price: Decimal | None = None,
        order_list_id: int = -1,
    ) -> Order:
        """Validate, lock, create and (maybe) fill an order (`order_list_id`: the working order of
        an OTO / OTOCO, spot_oto.py). Raises BinanceError like Binance."""
        book = self.book(account.id)
        if client_id is not None and client_id in book.open_client:
            raise errors.duplicate_order()
        market = type_ == "MARKET"
        stop = type_ in STOP_TYPES
        current = self.sim.prices.price(spec.symbol)
        slip = self.sim.slippage
        if market:
            fill_price = current * (1 + slip) if side == "BUY" else current * (1 - slip)
            fill_price = fill_price.quantize(spec.tick_size, ROUND_UP if side == "BUY" else ROUND_DOWN)
            if fill_price <= 0:
                fill_price = spec.tick_size
            if quantity is None:
                assert quote_qty is not None
                quantity = (quote_qty / fill_price).quantize(spec.step_size, ROUND_DOWN)
                if quantity <= 0:
                    raise errors.filter_failure("LOT_SIZE")
            spec.check_lot(quantity, market=True)
            spec.check_notional(quantity * current, market=True)
        elif stop:
            assert quantity is not None and stop_price is not None
            fill_price = check_stop(spec, side, type_, quantity, price, stop_price, current)
        else:
            assert price is not None and quantity is not None
            spec.check_price(price)
            spec.check_lot(quantity, market=False)
            spec.check_notional(price * quantity, market=False)
            if type_ == "LIMIT_MAKER" and ((side == "BUY" and price >= current) or (side == "SELL" and price <= current)):
                raise errors.BinanceError(errors.NEW_ORDER_REJECTED, "Order would immediately match and take.")
            fill_price = price
        now = now_ms()
        order = Order(
            order_id=0,
            account_id=account.id,
            symbol=spec.symbol,
            side=side,
            type=type_,
            tif=tif or "GTC",
            price=price if price is not None else ZERO,
            orig_qty=quantity,
            client_order_id=client_id or self.new_client_id(),
            time=now,
            arrival_ns=arrival_ns,
            transport=transport,
            orig_quote_qty=quote_qty or ZERO,
            stp=stp,
            update_time=now,
            stop_price=stop_price or ZERO,
            order_list_id=order_list_id,
        )
        # what this order needs locked
        if side == "BUY":
            asset = spec.quote
            need = quantity * fill_price if market or stop else quantity * price  # type: ignore[operator]
            if market and quote_qty is not None and need > quote_qty:
                need = quote_qty
        else:
            asset = spec.base
            need = quantity
        if before_lock is not None:
            before_lock(order, asset, need)  # margin: borrow the shortfall
        bal = self.balance(account, asset)
        if bal.free < need:
            raise errors.insufficient_balance()
        bal.free -= need
        bal.locked += need
        self.touched(account, now)
        order.locked = need
        order.locked_asset = asset
        order.order_id = self.sim.order_ids()
        book.by_id[order.order_id] = order
        book.by_client[order.client_order_id] = order
        book.open_client[order.client_order_id] = order
        if stop:  # not working until triggered (spot_stops.py)
            self.stops[order.order_id] = order
            self._publish_new_and_state(account, order, True)
            return order
        order.working_time = now
        events_only_new = True
        if market:
            self._fill(account, spec, order, quantity, fill_price, maker=False, publish=False)
            events_only_new = False
        else:
            crosses = (side == "BUY" and current <= fill_price) or (side == "SELL" and current >= fill_price)
            if crosses:
                available = self.sim.matcher.budget(spec.symbol, side)
                if tif == "FOK" and available < quantity:
                    self._finish(account, order, "EXPIRED", publish=False)
                    self._publish_new_and_state(account, order)
                    return order
                granted = self.sim.matcher.take(spec.symbol, side, quantity)
                if granted > 0:
                    self._fill(account, spec, order, granted, current, maker=False, publish=False)
                    events_only_new = False
            if order.is_open:
                if tif in ("IOC", "FOK"):
                    self._finish(account, order, "EXPIRED", publish=False)
                else:
                    order.resting = self.sim.matcher.add(Resting(spec.symbol, side, price, order.leaves, order, self._on_resting_fill))  # type: ignore[arg-type]
        self._publish_new_and_state(account, order, events_only_new)
        return order

    def _publish_new_and_state(self, account: "Account", order: Order, only_new: bool = False) -> None:
        """executionReport NEW, then one TRADE report per fill, then the final state and balances."""
        hub = self.sim.hub
        if not hub.has_subscribers(account.id, self.market):
            return
        hub.publish(account.id, self.market, self.execution_report(order, "NEW", "NEW", None, ZERO, ZERO))
        executed = ZERO
        quote = ZERO
        for _i, fill in enumerate(order.fills):
            executed += fill.qty
            quote += fill.quote_qty
            status = "FILLED" if executed >= order.orig_qty else "PARTIALLY_FILLED"
            hub.publish(account.id, self.market, self.execution_report(order, "TRADE", status, fill, executed, quote))
        if order.status in ("EXPIRED", "CANCELED"):
            hub.publish(account.id, self.market, self.execution_report(order, order.status, order.status, None))
        self.publish_balances(account, order)

    # -- filling ----------------------------------------------------------------------------------------
    def _on_resting_fill(self, entry: Resting, qty: Decimal, price: Decimal) -> None:
        order: Order = entry.ref
        account = self.sim.store.accounts[order.account_id]
        spec = self.sim.symbols.get(order.symbol, "spot")
        self._fill(account, spec, order, qty, price, maker=True, publish=True)

    def _fill(self, account: "Account", spec: SymbolSpec, order: Order, qty: Decimal, price: Decimal, maker: bool, publish: bool) -> Fill:
        if order.order_list_id >= 0:
            self.activate(order)  # an OCO leg trades: the other leg expires
        quote_qty = qty * price
        rate = account.maker_commission if maker else account.taker_commission
        if order.side == "BUY":
            received_asset, received = spec.base, qty
            paid = quote_qty
        else:
            received_asset, received = spec.quote, quote_qty
            paid = qty
        commission = (received * rate).quantize(Decimal("0.00000001"), ROUND_UP) if rate else ZERO
        paid_bal = self.balance(account, order.locked_asset)
        take = min(paid, order.locked)
        order.locked -= take
        paid_bal.locked -= take
        if paid > take:  # market buy slipped beyond what was locked: pay the rest from free
            paid_bal.free -= paid - take
        recv_bal = self.balance(account, received_asset)
        recv_bal.free += received - commission
        now = now_ms()
        self.touched(account, now)
        fill = Fill(self.sim.trade_ids(), price, qty, quote_qty, commission, received_asset, now, maker)
        order.fills.append(fill)
        order.executed_qty += qty
        order.cum_quote += quote_qty
        order.update_time = now
        book = self.book(account.id)
        book.trades.append((order, fill))
        if self.after_fill is not None:
            self.after_fill(order, account, received_asset, received - commission)
        if order.executed_qty >= order.orig_qty:
            self._finish(account, order, "FILLED", publish=False)
        else:
            order.status = "PARTIALLY_FILLED"
        if publish and self.sim.hub.has_subscribers(account.id, self.market):
            self.sim.hub.publish(account.id, self.market, self.execution_report(order, "TRADE", order.status, fill))
            self.publish_balances(account, order)
        if publish and order.status == "FILLED" and order.order_list_id >= 0:
            self.working_filled(order)  # an OTO's working order: its pending orders go on the book, after its fill's report
        return fill

    def _finish(self, account: "Account", order: Order, status: str, publish: bool) -> None:
        order.status = status
        order.update_time = now_ms()
        if order.locked > 0:
            bal = self.balance(account, order.locked_asset)
            bal.locked -= order.locked
            bal.free += order.locked
            order.locked = ZERO
            self.touched(account, order.update_time)
        if order.resting is not None:
            self.sim.matcher.remove(order.resting)
            order.resting = None
        self.stops.pop(order.order_id, None)
        book = self.book(account.id)
        if book.open_client.get(order.client_order_id) is order:
            del book.open_client[order.client_order_id]
        if publish and self.sim.hub.has_subscribers(account.id, self.market):
            self.sim.hub.publish(account.id, self.market, self.execution_report(order, status, status, None))
            self.publish_balances(account, order)
        if order.order_list_id >= 0:
            self.list_closed(order)

    def cancel(self, account: "Account", order: Order, cancel_client_id: str | None) -> Order:
        if not order.is_open and order.status != PENDING:  # a pending order of an OTO can be canceled (its list is)
            raise errors.cancel_unknown()
        ol = self.lists.get(order.order_list_id)
        if ol is not None:  # a leg of an order list: the whole list is canceled
            self.cancel_list(account, ol, cancel_client_id)
            return order
        order.cancel_client_id = cancel_client_id or self.new_client_id()
        self._finish(account, order, "CANCELED", publish=True)
        return order

    def open_orders(self, account_id: str, symbol: str | None) -> list[Order]:
        book = self.book(account_id)
        return [o for o in book.open_client.values() if symbol is None or o.symbol == symbol]
