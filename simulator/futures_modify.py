"""USD-M `PUT /fapi/v1/order` (WebSocket API `order.modify`): amend a resting LIMIT order's price and quantity.

As Binance documents it (binance-sdk-derivatives-trading-usds-futures, Modify Order): only LIMIT
orders; `quantity` and `price` both mandatory; a change that fails PRICE_FILTER / PERCENT_PRICE /
LOT_SIZE is rejected and the order stays as it was; the order is cancelled instead when it is
partially filled and the new quantity is not above the executed one, or when it is GTX and the new
price would execute at once; at most 10000 modifications per order (-5026); a request that changes
nothing is -5027. A modified order goes to the back of the queue at its price and is published as
`ORDER_TRADE_UPDATE` with execution type `AMENDMENT` (then fills if the new price crosses).
`priceMatch` is not modelled (-1106, as on a new order).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simulator import errors
from simulator.api import TRADE, Ctx
from simulator.futures_api import order_result
from simulator.futures_model import FuturesOrder, FuturesReject, OrderRequest, parse_order_params, plain
from simulator.params import Params
from simulator.util import now_ms

if TYPE_CHECKING:
    from simulator.core import Sim

MAX_MODIFICATIONS = 10000


def _fail(exc: FuturesReject) -> errors.BinanceError:
    return errors.BinanceError(exc.code, exc.msg, exc.http_status)


class OrderModifier:
    def __init__(self, sim: "Sim") -> None:
        self.sim = sim
        self.svc = sim.futures  # type: ignore[attr-defined]
        self.counts: dict[int, int] = {}  # order id -> modifications so far (open orders only)

    def _count(self, order: FuturesOrder) -> int:
        if len(self.counts) > 4096:  # forget closed orders, so the map stays as small as the open book
            accounts = self.svc.engine.accounts.values()
            open_ids = {o.order_id for acct in accounts for o in acct.open_orders()}
            self.counts = {k: v for k, v in self.counts.items() if k in open_ids}
        return self.counts.get(order.order_id, 0)

    def modify(self, ctx: Ctx, p: Params) -> dict[str, Any]:
        fa = self.svc.account(ctx.require_account())
        engine = self.svc.engine
        symbol = p.str("symbol").upper()
        side = p.str("side")
        if side not in ("BUY", "SELL"):
            raise errors.invalid_side()
        order_id, client_id = p.opt_int("orderId"), p.get("origClientOrderId")
        if order_id is None and client_id is None:
            raise errors.either_mandatory("orderId", "origClientOrderId")
        if p.get("priceMatch") not in (None, "NONE"):
            raise errors.not_required("priceMatch")
        try:
            # the same syntax checks as a new LIMIT order (quantity/price decimals, mandatory, > 0)
            req = parse_order_params(
                {
                    "symbol": symbol,
                    "side": side,
                    "type": "LIMIT",
                    "timeInForce": "GTC",
                    "quantity": p.raw.get("quantity", ""),
                    "price": p.raw.get("price", ""),
                }
            )
            spec = engine.spec(symbol)
            order = engine.find_order(fa.account_id, symbol, order_id, client_id)
        except FuturesReject as exc:
            raise _fail(exc) from None
        reduce_only = p.bool("reduceOnly", False)
        if not order.is_open:
            raise errors.order_does_not_exist()
        if order.type != "LIMIT":
            raise errors.BinanceError(-5025, "Only limit order is supported.")
        if side != order.side:
            raise errors.invalid_param("side")
        if reduce_only and not order.reduce_only:
            raise errors.BinanceError(-5047, "The original order is not a reduce-only order")
        if self._count(order) >= MAX_MODIFICATIONS:
            raise errors.BinanceError(-5026, "Exceed maximum modify order limit.")
        quantity, price = req.quantity, req.price
        assert price is not None
        if quantity == order.orig_qty and price == order.price:
            raise errors.BinanceError(-5027, "No need to modify the order.")
        try:
            engine._check_filters(spec, req)
        except FuturesReject as exc:
            raise _fail(exc) from None
        if not order.reduce_only and quantity * price < spec.min_notional:
            raise errors.BinanceError(-5029, f"Order's notional must be no smaller than {plain(spec.min_notional)}")
        now = now_ms()
        account_id = fa.account_id
        crosses = self.svc._crosses(symbol, side, price)
        if (order.executed_qty > 0 and quantity <= order.executed_qty) or (order.time_in_force == "GTX" and crosses):
            try:
                order, events = engine.cancel_order(account_id, symbol, order.order_id, None, now)
            except FuturesReject as exc:
                raise _fail(exc) from None
            self.svc._unrest(order)
            self.svc.publish(account_id, events)
            return self._result(order, p)
        before = engine.totals(fa).available
        old = (order.orig_qty, order.price)
        order.orig_qty, order.price = quantity, price
        after = engine.totals(fa).available
        if after < 0 and after < before:
            order.orig_qty, order.price = old
            raise errors.BinanceError(-2019, "Margin is insufficient.")
        order.update_time = now
        self.counts[order.order_id] = self.counts.get(order.order_id, 0) + 1
        self.svc._unrest(order)
        self.svc.publish(account_id, [engine._order_event(fa, order, "AMENDMENT", now)])
        self.svc.execute(account_id, order, OrderRequest(symbol, side, "LIMIT", quantity, price, order.time_in_force))
        return self._result(order, p)

    def _result(self, order: FuturesOrder, p: Params) -> dict[str, Any]:
        out = order_result(self.svc.engine, order)
        modify_id = p.opt_int("modifyId")
        if modify_id is not None:
            out["modifyId"] = modify_id
        return out


def register(sim: "Sim") -> OrderModifier | None:
    if getattr(sim, "futures", None) is None:
        return None
    modifier = OrderModifier(sim)
    sim.api.route(
        "PUT",
        "/fapi/v1/order",
        modifier.modify,
        security=TRADE,
        weight=0,
        order=True,
        market="futures",
        limiter="futures",
        permission="enableFutures",
        ws=[("/ws-fapi/v1", "order.modify")],
        allowed=frozenset({"symbol", "side", "orderId", "origClientOrderId", "quantity", "price", "priceMatch", "modifyId", "reduceOnly"}),
    )
    return modifier
