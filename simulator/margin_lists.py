"""Cross margin OCO order lists (the engine side is order_lists.py, as for spot):

- `POST /sapi/v1/margin/order/oco` (weight 6): the older OCO form, as Binance serves it for margin
  (binance-api-postman Binance-Margin-Trading-API.json, `binance-sdk-margin-trading`
  `margin_account_new_oco`): one `side` and `quantity`, a LIMIT_MAKER at `price`
  (`limitClientOrderId`) and a STOP_LOSS at `stopPrice` (`stopClientOrderId`), a STOP_LOSS_LIMIT
  when `stopLimitPrice` is given (then `stopLimitTimeInForce` is mandatory); SELL: price > last
  price > stopPrice, BUY: price < last price < stopPrice. `sideEffectType` MARGIN_BUY /
  AUTO_BORROW_REPAY borrows the shortfall of the pair's one lock when placed (the reply's
  `marginBuyBorrowAmount` / `Asset`); AUTO_REPAY repays after each fill, as for a single order;
- `DELETE /sapi/v1/margin/orderList` (weight 1), `GET /sapi/v1/margin/orderList` (weight 10),
  `GET /sapi/v1/margin/openOrderList` (weight 10).

Isolated margin (`isIsolated=TRUE`) is refused, as for every margin route here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from simulator import errors
from simulator.api import TRADE, USER_DATA, Ctx
from simulator.order_lists import Leg, OrderList, check_legacy_oco
from simulator.order_state import Order
from simulator.orders import TIFS, OrderEngine
from simulator.params import Params
from simulator.spot_lists import list_handlers, oco_request
from simulator.util import fmt

if TYPE_CHECKING:
    from simulator.core import Sim

_SPOT_ONLY = ("origQuoteOrderQty", "selfTradePreventionMode", "workingTime")  # not in margin's order reports (spot_api.yaml)
SideEffect = Callable[[str, Order, str, Any], None]  # (sideEffectType, order, asset, need): borrows


def _legs(p: Params, side: str) -> tuple[Leg, Leg]:
    """(above, below) of the older OCO form."""
    price = p.decimal("price")
    stop = p.decimal("stopPrice")
    limit = p.opt_decimal("stopLimitPrice")
    tif = p.opt_str("stopLimitTimeInForce")
    if limit is not None and tif is None:
        raise errors.mandatory("stopLimitTimeInForce")
    if tif is not None and limit is None:
        raise errors.not_required("stopLimitTimeInForce")
    if tif is not None and tif not in TIFS:
        raise errors.invalid_tif()
    for name, value in (("price", price), ("stopPrice", stop), ("stopLimitPrice", limit)):
        if value is not None and value <= 0:
            raise errors.invalid_param(name)
    maker = Leg("LIMIT_MAKER", price, None, None, p.opt_str("limitClientOrderId"))
    stop_leg = Leg("STOP_LOSS_LIMIT" if limit is not None else "STOP_LOSS", limit, stop, tif, p.opt_str("stopClientOrderId"))
    return (maker, stop_leg) if side == "SELL" else (stop_leg, maker)


def register_margin_lists(
    sim: "Sim", engine: OrderEngine, side_effects: tuple[str, ...], borrow: SideEffect, isolated: Callable[[Params], None]
) -> None:
    """`isolated`: margin.py's check that refuses isolated margin."""
    api = sim.api
    perm = "enableMargin"

    def result(ol: OrderList, reports: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The list as margin sends it: `isIsolated`, and order reports without the spot-only fields."""
        for row in reports or []:
            for name in _SPOT_ONLY:
                row.pop(name, None)
        out = engine.list_result(ol, reports)
        out["isIsolated"] = False
        return out

    def new_oco(ctx: Ctx, p: Params) -> dict[str, Any]:
        account = ctx.require_account()
        isolated(p)
        r = oco_request(sim, p, _legs)
        side_effect = p.enum("sideEffectType", side_effects, "NO_SIDE_EFFECT")
        ol = engine.place_oco(
            account,
            r.spec,
            r.side,
            r.quantity,
            r.above,
            r.below,
            p.opt_str("listClientOrderId"),
            r.stp,
            ctx.arrival_ns,
            ctx.transport,
            check=check_legacy_oco,
            before_lock=lambda order, asset, need: borrow(side_effect, order, asset, need),
        )
        for order in ol.orders:
            order.side_effect = side_effect
        out = result(ol, [engine.order_result(o, r.resp_type) for o in ol.orders])
        lender = ol.orders[0]
        if lender.borrowed > 0:
            out["marginBuyBorrowAmount"] = fmt(lender.borrowed)
            out["marginBuyBorrowAsset"] = lender.borrowed_asset
        return out

    cancel_list, query_list, open_lists = list_handlers(sim, engine, result, isolated)

    mk = "margin"
    api.route("POST", "/sapi/v1/margin/order/oco", new_oco, security=TRADE, weight=6, order=True, market=mk, permission=perm)
    api.route("DELETE", "/sapi/v1/margin/orderList", cancel_list, security=TRADE, weight=1, market=mk, permission=perm)
    api.route("GET", "/sapi/v1/margin/orderList", query_list, security=USER_DATA, weight=10, market=mk)
    api.route("GET", "/sapi/v1/margin/openOrderList", open_lists, security=USER_DATA, weight=10, market=mk)
