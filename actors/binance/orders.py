"""The one place that builds the parameters of a new order, for every market and order type
(the endpoints: USD-M `POST /fapi/v1/order` / `order.place`, spot `order.place`, cross margin
`POST /sapi/v1/margin/order`; binance-reference endpoints/*order*.md).

- `type` is the intent's `order_type`: MARKET, whose `quantity` is the step-rounded decision of
  actors/domain/ (no `quoteOrderQty`, which would let the exchange choose it), or LIMIT with its
  `price` (on the tick) and `timeInForce`, or spot / margin LIMIT_MAKER with its price and no
  timeInForce (the copy of a resting master order);
- the reply: USD-M RESULT (the executed quantity and average price); spot and margin FULL (the
  fills, with their commissions, which move the slave's balances);
- USD-M: `positionSide` in hedge mode, where `reduceOnly` cannot be sent; `reduceOnly=true` for
  one-way reductions;
- margin: `sideEffectType` (NO_SIDE_EFFECT unless the decision borrows or repays);
- USD-M conditional orders (the Algo Service, `POST /fapi/v1/algoOrder`): `algo_order_params`.
"""

from __future__ import annotations

from typing import Any, Literal

from ..domain.orders import OrderIntent
from ..domain.protective import GuardIntent
from .filters import SymbolFilters, format_decimal

__all__ = ["order_params", "algo_order_params", "oco_params"]


def order_params(
    intent: OrderIntent, filters: SymbolFilters | None, *, position_mode: Literal["hedge", "one_way"] | str | None = None
) -> dict[str, Any]:
    """newOrder parameters of `intent` (its market decides the market-specific ones)."""
    params: dict[str, Any] = {
        "symbol": intent.symbol,
        "side": intent.side,
        "type": intent.order_type,
        "quantity": format_decimal(intent.qty, filters.step_size if filters else None),
        "newClientOrderId": intent.client_order_id,
    }
    tick = filters.tick_size if filters else None
    if intent.order_type not in ("MARKET", "STOP_LOSS", "TAKE_PROFIT"):
        assert intent.price is not None, "a limit intent carries its price"
        params["price"] = format_decimal(intent.price, tick)
    if intent.order_type in ("LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"):
        assert intent.time_in_force is not None, "a limit intent carries its time in force"
        params["timeInForce"] = intent.time_in_force
    if intent.stop_price is not None:  # spot / margin stop types
        params["stopPrice"] = format_decimal(intent.stop_price, tick)
    match intent.market:
        case "usdm":
            params["newOrderRespType"] = "RESULT"
            if position_mode == "hedge":
                params["positionSide"] = intent.position_side
            elif intent.reduce_only:
                params["reduceOnly"] = "true"
        case "margin":
            params["newOrderRespType"] = "FULL"
            params["sideEffectType"] = intent.side_effect or "NO_SIDE_EFFECT"
        case _:
            params["newOrderRespType"] = "FULL"
    return params


def algo_order_params(intent: GuardIntent, filters: SymbolFilters | None, *, position_mode: str | None = None) -> dict[str, Any]:
    """POST /fapi/v1/algoOrder (WS algoOrder.place) parameters of a conditional order."""
    tick = filters.tick_size if filters else None
    params: dict[str, Any] = {
        "algoType": "CONDITIONAL",
        "symbol": intent.symbol,
        "side": intent.side,
        "type": intent.order_type,
        "workingType": intent.working_type,
        "clientAlgoId": intent.client_algo_id,
    }
    if intent.callback_rate is not None:  # a trailing stop: no trigger price
        params["callbackRate"] = format_decimal(intent.callback_rate)
        if intent.activate_price is not None:
            params["activatePrice"] = format_decimal(intent.activate_price, tick)
    else:
        params["triggerPrice"] = format_decimal(intent.trigger_price, tick)
    if intent.price is not None:
        params["price"] = format_decimal(intent.price, tick)
        params["timeInForce"] = intent.time_in_force
    if intent.price_protect:
        params["priceProtect"] = "true"
    if intent.close_position:
        params["closePosition"] = "true"  # no quantity, no reduceOnly (Binance refuses both with it)
    else:
        params["quantity"] = format_decimal(intent.qty, filters.step_size if filters else None)
    if position_mode == "hedge":
        params["positionSide"] = intent.position_side
    elif intent.reduce_only and not intent.close_position:
        params["reduceOnly"] = "true"
    return params


def oco_params(above: OrderIntent, below: OrderIntent, list_client_order_id: str, filters: SymbolFilters | None) -> dict[str, Any]:
    """`orderList.place.oco` (`POST /api/v3/orderList/oco`) parameters of a spot OCO: one side and
    one quantity; each order its type, client id, price (LIMIT_MAKER and the _LIMIT stops), stop
    price and time in force (the _LIMIT stops)."""
    assert above.side == below.side and above.qty == below.qty and above.symbol == below.symbol, "an OCO has one side and quantity"
    tick = filters.tick_size if filters else None
    params: dict[str, Any] = {
        "symbol": above.symbol,
        "side": above.side,
        "quantity": format_decimal(above.qty, filters.step_size if filters else None),
        "listClientOrderId": list_client_order_id,
        "newOrderRespType": "RESULT",
    }
    for where, leg in (("above", above), ("below", below)):
        params[f"{where}Type"] = leg.order_type
        params[f"{where}ClientOrderId"] = leg.client_order_id
        if leg.price is not None:
            params[f"{where}Price"] = format_decimal(leg.price, tick)
        if leg.stop_price is not None:
            params[f"{where}StopPrice"] = format_decimal(leg.stop_price, tick)
        if leg.order_type in ("STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"):
            assert leg.time_in_force is not None, "a limit stop carries its time in force"
            params[f"{where}TimeInForce"] = leg.time_in_force
    return params


def margin_oco_params(above: OrderIntent, below: OrderIntent, list_client_order_id: str, filters: SymbolFilters | None) -> dict[str, Any]:
    """`POST /sapi/v1/margin/order/oco` parameters: the older OCO form cross margin has, a
    LIMIT_MAKER at `price` and a STOP_LOSS at `stopPrice` (a STOP_LOSS_LIMIT with `stopLimitPrice`
    and `stopLimitTimeInForce`), the list's `sideEffectType` the orders' (they are one side and
    quantity). Only that pair can be sent (`margin_oco_shaped`)."""
    assert margin_oco_shaped(above, below), "a margin OCO is a LIMIT_MAKER and a STOP_LOSS(_LIMIT)"
    maker, stop = (above, below) if above.order_type == "LIMIT_MAKER" else (below, above)
    tick = filters.tick_size if filters else None
    assert maker.price is not None and stop.stop_price is not None
    params: dict[str, Any] = {
        "symbol": above.symbol,
        "side": above.side,
        "quantity": format_decimal(above.qty, filters.step_size if filters else None),
        "listClientOrderId": list_client_order_id,
        "limitClientOrderId": maker.client_order_id,
        "price": format_decimal(maker.price, tick),
        "stopClientOrderId": stop.client_order_id,
        "stopPrice": format_decimal(stop.stop_price, tick),
        "newOrderRespType": "RESULT",
        "sideEffectType": next((i.side_effect for i in (above, below) if i.side_effect not in (None, "NO_SIDE_EFFECT")), "NO_SIDE_EFFECT"),
    }
    if stop.order_type == "STOP_LOSS_LIMIT":
        assert stop.price is not None and stop.time_in_force is not None, "a limit stop carries its price and time in force"
        params["stopLimitPrice"] = format_decimal(stop.price, tick)
        params["stopLimitTimeInForce"] = stop.time_in_force
    return params


def margin_oco_shaped(a: OrderIntent, b: OrderIntent) -> bool:
    """Whether a pair can be a cross margin OCO: a LIMIT_MAKER and a STOP_LOSS(_LIMIT) of one side
    and quantity (no take-profit: the older OCO form has none)."""
    types = {a.order_type, b.order_type}
    return a.side == b.side and a.qty == b.qty and "LIMIT_MAKER" in types and bool(types & {"STOP_LOSS", "STOP_LOSS_LIMIT"})
