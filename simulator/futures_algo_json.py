"""The Algo Service's replies and its ``ALGO_UPDATE`` user-data event, in Binance's shapes (pure).

Field names and types follow binance-sdk-derivatives-trading-usds-futures: rest_api/models
``new_algo_order_response.py``, ``query_algo_order_response.py``,
``current_all_algo_open_orders_response_inner.py``, ``query_all_algo_orders_response_inner.py``,
``cancel_algo_order_response.py``, websocket_api/models ``new_algo_order_response_result.py``,
``cancel_algo_order_response_result.py`` and websocket_streams/models ``algo_update(_o).py``.
Quantities and prices are strings in the symbol's precision; ``activatePrice`` / ``callbackRate``
are "" on orders that are not TRAILING_STOP_MARKET (as the docs' example shows).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from simulator.futures_algo_model import ALGO_TYPE, TRAILING, AlgoOrder
from simulator.futures_model import fixed, plain, price_text
from simulator.futures_symbols import FuturesSymbol


def _qty(spec: FuturesSymbol, value: Decimal) -> str:
    return fixed(value, spec.quantity_precision)


def _px(spec: FuturesSymbol, value: Decimal | None) -> str:
    return fixed(value, spec.price_precision) if value else "0"


def new_algo_json(spec: FuturesSymbol, a: AlgoOrder) -> dict[str, Any]:
    """POST /fapi/v1/algoOrder (algoOrder.place) reply."""
    trailing = a.type == TRAILING
    return {
        "algoId": a.algo_id,
        "clientAlgoId": a.client_algo_id,
        "algoType": ALGO_TYPE,
        "orderType": a.type,
        "symbol": a.symbol,
        "side": a.side,
        "positionSide": a.position_side,
        "timeInForce": a.time_in_force,
        "quantity": _qty(spec, a.quantity),
        "algoStatus": a.status,
        "triggerPrice": _px(spec, a.trigger_price),
        "price": _px(spec, a.price),
        "icebergQuantity": None,
        "selfTradePreventionMode": a.stp_mode,
        "workingType": a.working_type,
        "priceMatch": a.price_match,
        "closePosition": a.close_position,
        "priceProtect": a.price_protect,
        "reduceOnly": a.reduce_only,
        "activatePrice": _px(spec, a.activate_price) if trailing else "",
        "callbackRate": plain(a.callback_rate) if trailing and a.callback_rate is not None else "",
        "createTime": a.create_time,
        "updateTime": a.update_time,
        "triggerTime": a.trigger_time,
        "goodTillDate": a.good_till_date,
    }


def query_algo_json(spec: FuturesSymbol, a: AlgoOrder) -> dict[str, Any]:
    """GET /fapi/v1/algoOrder, and each element of openAlgoOrders / allAlgoOrders: the new-order
    fields plus the matching-engine side (``actualOrderId`` "" until triggered, ``actualPrice`` the
    average fill price or "0"; ``actualType`` once triggered, ``actualQty`` once filled)."""
    out = new_algo_json(spec, a)
    out["actualOrderId"] = str(a.actual_order_id) if a.actual_order_id is not None else ""
    out["actualPrice"] = price_text(a.actual_price) if a.actual_price else "0"
    if a.actual_order_id is not None:
        out["actualType"] = a.actual_type
    if a.actual_qty:
        out["actualQty"] = _qty(spec, a.actual_qty)
    return out


def cancel_algo_json(a: AlgoOrder) -> dict[str, Any]:
    """DELETE /fapi/v1/algoOrder (algoOrder.cancel) reply: ``code`` is a string here (SDK model)."""
    return {"algoId": a.algo_id, "clientAlgoId": a.client_algo_id, "code": "200", "msg": "success"}


CANCEL_ALL_REPLY = {"code": 200, "msg": "The operation of cancel all open order is done."}


def algo_update(spec: FuturesSymbol, a: AlgoOrder, now: int) -> dict[str, Any]:
    """ALGO_UPDATE for the algo order's current status."""
    triggered = a.actual_order_id is not None
    return {
        "e": "ALGO_UPDATE",
        "T": now,  # transaction time
        "E": now,  # event time
        "o": {
            "caid": a.client_algo_id,  # client algo id
            "aid": a.algo_id,  # algo id
            "at": ALGO_TYPE,  # algo type
            "o": a.type,  # order type
            "s": a.symbol,  # symbol
            "S": a.side,  # side
            "ps": a.position_side,  # position side
            "f": a.time_in_force,  # time in force
            "q": _qty(spec, a.quantity),  # quantity
            "X": a.status,  # algo status
            "ai": str(a.actual_order_id) if triggered else "",  # order id in the matching engine
            "ap": price_text(a.actual_price) if a.actual_price else "0",  # avg fill price there
            "aq": _qty(spec, a.actual_qty),  # executed quantity there
            "act": a.actual_type if triggered else "",  # actual order type there
            "tp": _px(spec, a.trigger_price),  # trigger price
            "p": _px(spec, a.price),  # order price
            "V": a.stp_mode,  # STP mode
            "wt": a.working_type,  # working type
            "pm": a.price_match,  # price match mode
            "cp": a.close_position,  # close-all
            "pP": a.price_protect,  # price protection
            "R": a.reduce_only,  # reduce only
            "tt": a.trigger_time,  # trigger time
            "gtd": a.good_till_date,  # GTD auto-cancel time
            "rm": a.reject_reason,  # failed reason
            "ia": a.activated,  # trailing: activated
        },
    }
