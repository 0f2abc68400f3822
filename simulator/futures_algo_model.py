"""USD-M Algo Service (conditional orders) of the simulator: the algo order, its parameters and its
trigger rules (pure: no I/O, no engine).

Since 2025-12-02 (USD-M change log 2025-11-06) STOP_MARKET, TAKE_PROFIT_MARKET, STOP, TAKE_PROFIT and
TRAILING_STOP_MARKET are placed with ``POST /fapi/v1/algoOrder`` (``algoType=CONDITIONAL``); the
parameters are those of the official SDK's ``new_algo_order`` and the Postman collection's "New Algo
Order (TRADE)"; the trigger rules are those of ``POST /fapi/v1/order``'s notes
(thirdparty-coincise-scrape/docs/binance/usdm/endpoints/public/post_fapi_v1_order.md):

- STOP, STOP_MARKET: BUY when price >= triggerPrice, SELL when price <= triggerPrice;
- TAKE_PROFIT, TAKE_PROFIT_MARKET: BUY when price <= triggerPrice, SELL when price >= triggerPrice;
- TRAILING_STOP_MARKET: BUY when the lowest price since placement <= activatePrice (activated) and
  the price >= lowest * (1 + callbackRate/100); SELL mirrored with the highest price.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import msgspec

from simulator.futures_model import (
    ALGO_TYPES,
    CLIENT_ID_RE,
    STP_MODES,
    TIME_IN_FORCE,
    ZERO,
    FuturesReject,
    _bool_param,
    _decimal,
    mandatory,
)

ALGO_TYPE = "CONDITIONAL"
WORKING_TYPES = ("MARK_PRICE", "CONTRACT_PRICE")
LIMIT_TYPES = {"STOP", "TAKE_PROFIT"}  # triggered as a LIMIT order at `price`
CLOSE_TYPES = {"STOP_MARKET", "TAKE_PROFIT_MARKET"}  # the types closePosition is allowed with
TRAILING = "TRAILING_STOP_MARKET"
MIN_CALLBACK, MAX_CALLBACK = Decimal("0.1"), Decimal("10")  # "min 0.1, max 10 where 1 for 1%"
OPEN_ALGO_STATUSES = {"NEW"}
# algo statuses (ALGO_UPDATE "X"): NEW, CANCELED, TRIGGERING, TRIGGERED, FINISHED, REJECTED, EXPIRED


class AlgoRequest(msgspec.Struct, frozen=True):
    """A syntax-checked ``POST /fapi/v1/algoOrder`` (or ``algoOrder.place``) request."""

    symbol: str
    side: str
    type: str
    quantity: Decimal | None  # None with closePosition
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    time_in_force: str = "GTC"
    position_side: str | None = None
    working_type: str = "CONTRACT_PRICE"
    price_protect: bool = False
    close_position: bool = False
    reduce_only: bool | None = None  # None: not sent
    activate_price: Decimal | None = None
    callback_rate: Decimal | None = None
    client_algo_id: str | None = None
    new_order_resp_type: str = "ACK"
    stp_mode: str = "EXPIRE_MAKER"
    good_till_date: int = 0


class AlgoOrder(msgspec.Struct):
    """One algo order of one account (open or final)."""

    algo_id: int
    account_id: str
    client_algo_id: str
    symbol: str
    side: str
    position_side: str
    type: str
    time_in_force: str
    quantity: Decimal  # 0 with closePosition
    price: Decimal
    trigger_price: Decimal
    working_type: str
    price_protect: bool
    close_position: bool
    reduce_only: bool
    activate_price: Decimal | None
    callback_rate: Decimal | None
    stp_mode: str
    good_till_date: int
    create_time: int
    update_time: int
    status: str = "NEW"
    trigger_time: int = 0
    activated: bool = False  # trailing: the activation price was reached
    extreme: Decimal | None = None  # trailing: lowest (BUY) / highest (SELL) price since placement
    actual_order_id: int | None = None
    actual_type: str = ""
    actual_qty: Decimal = ZERO
    actual_price: Decimal = ZERO
    reject_reason: str = ""
    price_match: str = "NONE"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_ALGO_STATUSES

    @property
    def actual_order_type(self) -> str:
        """The type of the order placed into the matching engine on trigger."""
        return "LIMIT" if self.type in LIMIT_TYPES else "MARKET"


def _not_required(name: str) -> FuturesReject:
    return FuturesReject(-1106, f"Parameter '{name}' sent when not required.")


def _missing(name: str) -> FuturesReject:
    return FuturesReject(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def _sent(params: Mapping[str, Any], name: str) -> bool:
    return params.get(name) not in (None, "")


def parse_algo_params(params: Mapping[str, Any]) -> AlgoRequest:
    """Syntax checks of a new algo order; raises FuturesReject with Binance's codes."""
    algo_type = mandatory(params, "algoType")
    if algo_type != ALGO_TYPE:
        raise FuturesReject(-1130, "Data sent for parameter 'algoType' is not valid.")
    symbol = mandatory(params, "symbol").upper()
    side = mandatory(params, "side")
    if side not in ("BUY", "SELL"):
        raise FuturesReject(-1117, "Invalid side.")
    otype = mandatory(params, "type")
    if otype not in ALGO_TYPES:
        raise FuturesReject(-1116, "Invalid orderType.")
    close_position = bool(_bool_param(params, "closePosition"))
    reduce_only = _bool_param(params, "reduceOnly")
    quantity = _decimal(params, "quantity")
    if close_position:
        if otype not in CLOSE_TYPES:
            raise _not_required("closePosition")
        if quantity is not None:
            raise FuturesReject(-4137, "Quantity must be zero with closePosition equals true")
        if reduce_only is not None:
            raise _not_required("reduceOnly")
    elif quantity is None:
        raise _missing("quantity")
    elif quantity <= 0:
        raise FuturesReject(-4003, "Quantity less than or equal to zero.")
    price = _decimal(params, "price")
    tif = params.get("timeInForce") or None
    if otype in LIMIT_TYPES:
        if price is None:
            raise _missing("price")
        if price <= 0:
            raise FuturesReject(-4001, "Price less than 0.")
        if tif is not None and tif not in TIME_IN_FORCE:
            raise FuturesReject(-1115, "Invalid timeInForce.")
    else:
        if price is not None:
            raise _not_required("price")
        if tif is not None and tif != "GTC":
            raise _not_required("timeInForce")
    trigger = _decimal(params, "triggerPrice")
    activate = _decimal(params, "activatePrice")
    callback = _decimal(params, "callbackRate")
    if otype == TRAILING:
        if trigger is not None:
            raise _not_required("triggerPrice")
        if callback is None:
            raise _missing("callbackRate")
        if not MIN_CALLBACK <= callback <= MAX_CALLBACK:
            raise FuturesReject(-1130, "Data sent for parameter 'callbackRate' is not valid.")
        if activate is not None and activate <= 0:
            raise FuturesReject(-4135, "Invalid activation price")
    else:
        if trigger is None:
            raise _missing("triggerPrice")
        if trigger <= 0:
            raise FuturesReject(-4006, "Stop price less than zero.")
        for name, value in (("activatePrice", activate), ("callbackRate", callback)):
            if value is not None:
                raise _not_required(name)
    working = params.get("workingType") or "CONTRACT_PRICE"
    if working not in WORKING_TYPES:
        raise FuturesReject(-4031, f"Invalid parameter working type: {working}")
    position_side = params.get("positionSide") or None
    if position_side is not None and position_side not in ("BOTH", "LONG", "SHORT"):
        raise FuturesReject(-4060, "Invalid position side.")
    client_id = params.get("clientAlgoId") or None
    if client_id is not None and not CLIENT_ID_RE.match(str(client_id)):
        raise FuturesReject(-4015, "Client order id is not valid.")
    resp_type = params.get("newOrderRespType") or "ACK"
    if resp_type not in ("ACK", "RESULT"):
        raise FuturesReject(-1136, "Invalid newOrderRespType.")
    stp = params.get("selfTradePreventionMode") or "EXPIRE_MAKER"
    if stp not in STP_MODES:
        raise FuturesReject(-1130, "Data sent for parameter 'selfTradePreventionMode' is not valid.")
    if params.get("priceMatch") not in (None, "", "NONE"):
        raise _not_required("priceMatch")  # priceMatch is not modelled (as on /fapi/v1/order)
    gtd = 0
    if tif == "GTD":
        try:
            gtd = int(mandatory(params, "goodTillDate")) // 1000 * 1000
        except ValueError:
            raise _missing("goodTillDate") from None
    return AlgoRequest(
        symbol=symbol,
        side=side,
        type=otype,
        quantity=quantity,
        price=price,
        trigger_price=trigger,
        time_in_force=tif or "GTC",
        position_side=position_side,
        working_type=working,
        price_protect=bool(_bool_param(params, "priceProtect")),
        close_position=close_position,
        reduce_only=reduce_only,
        activate_price=activate,
        callback_rate=callback,
        client_algo_id=client_id,
        new_order_resp_type=resp_type,
        stp_mode=stp,
        good_till_date=gtd,
    )


# ----------------------------------------------------------------------------------------------
# trigger rules


def condition_met(otype: str, side: str, trigger: Decimal, price: Decimal) -> bool:
    """Whether a STOP(_MARKET) / TAKE_PROFIT(_MARKET) order triggers at ``price``."""
    if otype in ("STOP", "STOP_MARKET"):
        return price >= trigger if side == "BUY" else price <= trigger
    return price <= trigger if side == "BUY" else price >= trigger


def trailing_would_trigger_at_once(side: str, activate: Decimal, price: Decimal) -> bool:
    """-2021 rule of the docs: BUY needs activatePrice < latest price, SELL activatePrice > latest."""
    return activate >= price if side == "BUY" else activate <= price


def observe(algo: AlgoOrder, price: Decimal) -> bool:
    """Feed one reference price to an open algo order; True when it triggers now.

    Updates the trailing state (extreme since placement, activation) in place."""
    if algo.type != TRAILING:
        return condition_met(algo.type, algo.side, algo.trigger_price, price)
    buy = algo.side == "BUY"
    if algo.extreme is None:
        algo.extreme = price
    else:
        algo.extreme = min(algo.extreme, price) if buy else max(algo.extreme, price)
    if not algo.activated:
        activate = algo.activate_price
        algo.activated = activate is None or (algo.extreme <= activate if buy else algo.extreme >= activate)
        if not algo.activated:
            return False
    rate = (algo.callback_rate or ZERO) / 100
    if buy:
        return price >= algo.extreme * (1 + rate)
    return price <= algo.extreme * (1 - rate)
