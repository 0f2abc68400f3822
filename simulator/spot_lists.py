"""Spot order list endpoints (the engine side is order_lists.py, and spot_oto.py for OTO / OTOCO):

- `POST /api/v3/orderList/oco` / `orderList.place.oco` (weight 1),
- `POST /api/v3/orderList/oto` / `orderList.place.oto` and `POST /api/v3/orderList/otoco` /
  `orderList.place.otoco` (weight 1),
- `DELETE /api/v3/orderList` / `orderList.cancel` (weight 1),
- `GET /api/v3/orderList` / `orderList.status` (weight 4),
- `GET /api/v3/openOrderList` / `openOrderLists.status` (weight 6).

Parameters and replies follow binance-spot-api-docs/rest-api.md and web-socket-api.md; an order list
that is not known is -2011 "Unknown order list sent." for a cancel and -2013 "Order list does not
exist." for a query.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

from simulator import errors
from simulator.api import TRADE, USER_DATA, Ctx
from simulator.order_lists import Leg, OrderList
from simulator.orders import RESP_TYPES, SIDES, STP_MODES, TIFS, OrderEngine
from simulator.params import Params
from simulator.spot_oto import WORKING_TYPES, Working
from simulator.symbols import SymbolSpec

if TYPE_CHECKING:
    from simulator.core import Sim

WS = "/ws-api/v3"
_LIMIT_TYPES = ("STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT")  # need a price and a time in force


def _leg(p: Params, where: str) -> Leg:
    type_ = p.str(f"{where}Type")
    price = p.opt_decimal(f"{where}Price")
    stop = p.opt_decimal(f"{where}StopPrice")
    tif = p.opt_str(f"{where}TimeInForce")
    if p.get(f"{where}TrailingDelta") is not None:
        raise errors.BinanceError(errors.NEW_ORDER_REJECTED, "Trailing stop orders are not supported for this symbol.")
    if type_ in _LIMIT_TYPES or type_ in ("LIMIT", "LIMIT_MAKER"):
        if price is None:
            raise errors.mandatory(f"{where}Price")
    elif price is not None:
        raise errors.not_required(f"{where}Price")
    if type_ in ("LIMIT", "LIMIT_MAKER", "MARKET"):  # LIMIT, MARKET: an OTO's pending order (spot_oto.py)
        if stop is not None:
            raise errors.not_required(f"{where}StopPrice")
    elif stop is None:
        raise errors.either_mandatory(f"{where}StopPrice", f"{where}TrailingDelta")
    if type_ in _LIMIT_TYPES or type_ == "LIMIT":
        if tif is None:
            raise errors.mandatory(f"{where}TimeInForce")
        if tif not in TIFS:
            raise errors.invalid_tif()
    elif tif is not None:
        raise errors.not_required(f"{where}TimeInForce")
    for name, value in ((f"{where}Price", price), (f"{where}StopPrice", stop)):
        if value is not None and value <= 0:
            raise errors.invalid_param(name)
    return Leg(type_, price, stop, tif, p.opt_str(f"{where}ClientOrderId"))


Handler = Callable[[Ctx, Params], Any]


class OcoRequest(NamedTuple):
    spec: SymbolSpec
    side: str
    quantity: Decimal
    above: Leg
    below: Leg
    resp_type: str
    stp: str


def oco_request(sim: "Sim", p: Params, legs: Callable[[Params, str], tuple[Leg, Leg]]) -> OcoRequest:
    """The parameters every OCO form shares (spot's, and the older one cross margin has: `legs`
    reads its two orders), checked in Binance's order."""
    spec = sim.symbols.get(p.str("symbol"), "spot")
    side = p.str("side")
    if side not in SIDES:
        raise errors.invalid_side()
    quantity = p.decimal("quantity")
    if quantity <= 0:
        raise errors.invalid_param("quantity")
    above, below = legs(p, side)
    spec.check_precision(quantity, None)
    for leg in (above, below):
        spec.check_precision(None, leg.price)
        spec.check_precision(None, leg.stop_price)
    resp_type = p.enum("newOrderRespType", RESP_TYPES, "RESULT")
    return OcoRequest(spec, side, quantity, above, below, resp_type, p.enum("selfTradePreventionMode", STP_MODES, "EXPIRE_MAKER"))


def list_handlers(
    sim: "Sim", engine: OrderEngine, result: Callable[..., dict[str, Any]], check: Callable[[Params], None] | None = None
) -> tuple[Handler, Handler, Handler]:
    """The cancel, query and open-lists handlers of a market's order lists (spot here, cross
    margin in margin_lists.py): `result(ol, reports=None)` is the market's list reply, `check` its
    own parameter check (margin: no isolated margin)."""

    def find(ctx: Ctx, p: Params, client_param: str) -> tuple[Any, OrderList | None]:
        account = ctx.require_account()
        if check is not None:
            check(p)
        list_id = p.opt_int("orderListId")
        client = p.opt_str(client_param)
        if list_id is None and client is None:
            raise errors.either_mandatory("orderListId", client_param)
        return account, engine.find_list(account.id, list_id, client)

    def cancel_list(ctx: Ctx, p: Params) -> dict[str, Any]:
        symbol = p.str("symbol")
        sim.symbols.get(symbol, "spot")
        account, ol = find(ctx, p, "listClientOrderId")
        if ol is None or ol.symbol != symbol or ol.done:
            raise errors.BinanceError(errors.CANCEL_REJECTED, "Unknown order list sent.")
        engine.cancel_list(account, ol, p.opt_str("newClientOrderId"))
        return result(ol, [engine.cancel_result(o) for o in ol.orders])

    def query_list(ctx: Ctx, p: Params) -> dict[str, Any]:
        _, ol = find(ctx, p, "origClientOrderId")
        if ol is None:
            raise errors.BinanceError(errors.NO_SUCH_ORDER, "Order list does not exist.")
        return result(ol)

    def open_lists(ctx: Ctx, p: Params) -> list[dict[str, Any]]:
        account = ctx.require_account()
        if check is not None:
            check(p)
        return [result(ol) for ol in engine.lists.values() if ol.account_id == account.id and not ol.done]

    return cancel_list, query_list, open_lists


def register_lists(sim: "Sim", engine: OrderEngine) -> None:
    api = sim.api
    trade = "enableSpotAndMarginTrading"

    def new_oco(ctx: Ctx, p: Params) -> dict[str, Any]:
        account = ctx.require_account()
        r = oco_request(sim, p, lambda p, side: (_leg(p, "above"), _leg(p, "below")))
        ol = engine.place_oco(
            account, r.spec, r.side, r.quantity, r.above, r.below, p.opt_str("listClientOrderId"), r.stp, ctx.arrival_ns, ctx.transport
        )
        return engine.list_result(ol, [engine.order_result(o, r.resp_type) for o in ol.orders])

    def new_oto(ctx: Ctx, p: Params, otoco: bool) -> dict[str, Any]:
        account = ctx.require_account()
        spec = sim.symbols.get(p.str("symbol"), "spot")
        wtype, wside = p.str("workingType"), p.str("workingSide")
        if wtype not in WORKING_TYPES:
            raise errors.invalid_type()
        wprice, wqty = p.decimal("workingPrice"), p.decimal("workingQuantity")
        wtif = p.opt_str("workingTimeInForce")
        if wtype == "LIMIT" and wtif is None:
            raise errors.mandatory("workingTimeInForce")
        if wtif is not None and wtif not in TIFS:
            raise errors.invalid_tif()
        side = p.str("pendingSide")
        if side not in SIDES or wside not in SIDES:
            raise errors.invalid_side()
        quantity = p.decimal("pendingQuantity")
        for name, value in (("workingPrice", wprice), ("workingQuantity", wqty), ("pendingQuantity", quantity)):
            if value <= 0:
                raise errors.invalid_param(name)
        pending = [_leg(p, "pendingAbove"), _leg(p, "pendingBelow")] if otoco else [_leg(p, "pending")]
        spec.check_precision(wqty, wprice)
        spec.check_precision(quantity, None)
        for leg in pending:
            spec.check_precision(None, leg.price)
            spec.check_precision(None, leg.stop_price)
        working = Working(wtype, wside, wqty, wprice, wtif, p.opt_str("workingClientOrderId"))
        resp_type = p.enum("newOrderRespType", RESP_TYPES, "RESULT")
        stp = p.enum("selfTradePreventionMode", STP_MODES, "EXPIRE_MAKER")
        ol = engine.place_oto(
            account, spec, working, side, quantity, pending, p.opt_str("listClientOrderId"), stp, ctx.arrival_ns, ctx.transport, resp_type
        )
        return engine.list_result(ol, ol.reports)

    cancel_list, query_list, open_lists = list_handlers(sim, engine, engine.list_result)

    api.route(
        "POST", "/api/v3/orderList/oco", new_oco, security=TRADE, weight=1, order=True, permission=trade, ws=[(WS, "orderList.place.oco")]
    )
    api.route(
        "POST", "/api/v3/orderList/oto", lambda ctx, p: new_oto(ctx, p, False), security=TRADE, weight=1, order=True, permission=trade,
        ws=[(WS, "orderList.place.oto")],
    )  # fmt: skip
    api.route(
        "POST", "/api/v3/orderList/otoco", lambda ctx, p: new_oto(ctx, p, True), security=TRADE, weight=1, order=True, permission=trade,
        ws=[(WS, "orderList.place.otoco")],
    )  # fmt: skip
    api.route("DELETE", "/api/v3/orderList", cancel_list, security=TRADE, weight=1, permission=trade, ws=[(WS, "orderList.cancel")])
    api.route("GET", "/api/v3/orderList", query_list, security=USER_DATA, weight=4, ws=[(WS, "orderList.status")])
    api.route("GET", "/api/v3/openOrderList", open_lists, security=USER_DATA, weight=6, ws=[(WS, "openOrderLists.status")])
