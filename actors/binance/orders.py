"""The one place that builds the parameters of a new order, for every market and order type
(the endpoints: USD-M `POST /fapi/v1/order` / `order.place`, spot `order.place`, cross margin
`POST /sapi/v1/margin/order`; binance-reference endpoints/*order*.md).

- `type` is the intent's `order_type`: MARKET, whose `quantity` is the step-rounded decision of
  actors/domain/ (no `quoteOrderQty`, which would let the exchange choose it), or LIMIT with its
  `price` (on the tick) and `timeInForce` (the copy of a resting master order);
- the reply: USD-M RESULT (the executed quantity and average price); spot and margin FULL (the
  fills, with their commissions, which move the slave's balances);
- USD-M: `positionSide` in hedge mode, where `reduceOnly` cannot be sent; `reduceOnly=true` for
  one-way reductions;
- margin: `sideEffectType` (NO_SIDE_EFFECT unless the decision borrows or repays).
"""

from __future__ import annotations

from typing import Any, Literal

from ..domain.orders import OrderIntent
from .filters import SymbolFilters, format_decimal

__all__ = ["order_params"]


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
    if intent.order_type == "LIMIT":
        assert intent.price is not None and intent.time_in_force is not None, "a LIMIT intent carries its price and time in force"
        params["price"] = format_decimal(intent.price, filters.tick_size if filters else None)
        params["timeInForce"] = intent.time_in_force
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
