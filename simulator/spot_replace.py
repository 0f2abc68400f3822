"""Spot `POST /api/v3/order/cancelReplace` (WebSocket API `order.cancelReplace`).

As binance-spot-api-docs/rest-api.md documents it: the new order's parameters and filters are
checked first (a failure there is a plain error and nothing is cancelled); then the cancel, then,
unless `cancelReplaceMode=STOP_ON_FAILURE` and the cancel failed, the new order. Outcomes:
both succeed -> 200; cancel failed and nothing attempted, or both failed -> HTTP 400 `-2022`
"Order cancel-replace failed."; one of the two failed -> HTTP 409 `-2021` "Order cancel-replace
partially failed."; the error carries `data` {cancelResult, newOrderResult, cancelResponse,
newOrderResponse}. `cancelRestrictions` (ONLY_NEW / ONLY_PARTIALLY_FILLED) is honoured;
`orderRateLimitExceededMode` is validated (the unfilled-order count is the framework's).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simulator import errors
from simulator.api import TRADE, Ctx
from simulator.orders import OrderEngine
from simulator.params import Params
from simulator.spot import NewOrder, parse_new_order
from simulator.symbols import SymbolSpec
from simulator.util import fmt

if TYPE_CHECKING:
    from simulator.core import Sim

MODES = ("STOP_ON_FAILURE", "ALLOW_FAILURE")
RESTRICTIONS = ("ONLY_NEW", "ONLY_PARTIALLY_FILLED")
RATE_MODES = ("DO_NOTHING", "CANCEL_ONLY")


class CancelReplaceError(errors.BinanceError):
    """A -2021 / -2022 answer: its REST body carries `data` as Binance's does."""

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "msg": self.msg, "data": self.data}


def check_filters(sim: "Sim", spec: SymbolSpec, req: NewOrder) -> None:
    """The new order's filters, evaluated before anything is cancelled."""
    if req.type == "MARKET":
        if req.quantity is not None:
            spec.check_lot(req.quantity, market=True)
            spec.check_notional(req.quantity * sim.prices.price(spec.symbol), market=True)
        return
    if req.type in ("STOP_LOSS", "TAKE_PROFIT"):  # a market order once triggered
        assert req.stop_price is not None and req.quantity is not None
        spec.check_price(req.stop_price)
        spec.check_lot(req.quantity, market=True)
        spec.check_notional(req.stop_price * req.quantity, market=True)
        return
    if req.stop_price is not None:
        spec.check_price(req.stop_price)
    assert req.price is not None and req.quantity is not None
    spec.check_price(req.price)
    spec.check_lot(req.quantity, market=False)
    spec.check_notional(req.price * req.quantity, market=False)


def _error(exc: errors.BinanceError) -> dict[str, Any]:
    return {"code": exc.code, "msg": exc.msg}


def make_cancel_replace(sim: "Sim", engine: OrderEngine) -> Any:
    def cancel_replace(ctx: Ctx, p: Params) -> dict[str, Any]:
        account = ctx.require_account()
        mode = p.enum("cancelReplaceMode", MODES)
        req = parse_new_order(sim, p)
        spec = sim.symbols.get(req.symbol, "spot")
        cancel_id = p.opt_int("cancelOrderId")
        cancel_client = p.opt_str("cancelOrigClientOrderId")
        if cancel_id is None and cancel_client is None:
            raise errors.either_mandatory("cancelOrderId", "cancelOrigClientOrderId")
        restriction = p.get("cancelRestrictions")
        if restriction is not None and restriction not in RESTRICTIONS:
            raise errors.invalid_param("cancelRestrictions")
        rate_mode = p.get("orderRateLimitExceededMode")
        if rate_mode is not None and rate_mode not in RATE_MODES:
            raise errors.invalid_param("orderRateLimitExceededMode")
        check_filters(sim, spec, req)

        cancel_response: dict[str, Any]
        cancel_ok = False
        order = engine.find(account.id, cancel_id, cancel_client)
        if order is None or order.symbol != req.symbol or not order.is_open:
            cancel_response = _error(errors.cancel_unknown())
        elif (restriction == "ONLY_NEW" and order.status != "NEW") or (
            restriction == "ONLY_PARTIALLY_FILLED" and order.status != "PARTIALLY_FILLED"
        ):
            cancel_response = {"code": errors.CANCEL_REJECTED, "msg": "Order was not canceled due to cancel restrictions."}
        else:
            engine.cancel(account, order, p.opt_str("cancelNewClientOrderId"))
            cancel_response = engine.cancel_result(order)
            cancel_response["origQuoteOrderQty"] = fmt(order.orig_quote_qty)
            cancel_ok = True
        if not cancel_ok and mode == "STOP_ON_FAILURE":
            raise CancelReplaceError(
                -2022,
                "Order cancel-replace failed.",
                400,
                data={
                    "cancelResult": "FAILURE",
                    "newOrderResult": "NOT_ATTEMPTED",
                    "cancelResponse": cancel_response,
                    "newOrderResponse": None,
                },
            )
        try:
            new = engine.place(
                account,
                spec,
                req.side,
                req.type,
                req.tif,
                req.quantity,
                req.quote_qty,
                req.price,
                req.client_id,
                req.stp,
                ctx.arrival_ns,
                ctx.transport,
                stop_price=req.stop_price,
            )
            new_response: dict[str, Any] = engine.order_result(new, req.resp_type)
            new_ok = True
        except errors.BinanceError as exc:
            new_response = _error(exc)
            new_ok = False
        data = {
            "cancelResult": "SUCCESS" if cancel_ok else "FAILURE",
            "newOrderResult": "SUCCESS" if new_ok else "FAILURE",
            "cancelResponse": cancel_response,
            "newOrderResponse": new_response,
        }
        if cancel_ok and new_ok:
            return data
        if cancel_ok or new_ok:
            raise CancelReplaceError(-2021, "Order cancel-replace partially failed.", 409, data=data)
        raise CancelReplaceError(-2022, "Order cancel-replace failed.", 400, data=data)

    return cancel_replace


def register(sim: "Sim") -> None:
    engine = sim.markets["spot"]
    assert isinstance(engine, OrderEngine)
    sim.api.route(
        "POST",
        "/api/v3/order/cancelReplace",
        make_cancel_replace(sim, engine),
        security=TRADE,
        weight=1,
        order=True,
        permission="enableSpotAndMarginTrading",
        ws=[("/ws-api/v3", "order.cancelReplace")],
    )
