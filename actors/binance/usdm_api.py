"""USD-M futures REST endpoints as functions: one per endpoint the actors use, typed replies.

The actors never write a path: they call these (binance-reference usdm/endpoints/*). Weights are
Binance's, per IP (2,400 a minute on USD-M).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .filters import SymbolFilters, parse_futures_exchange_info
from .rest import RestClient
from .wire import (
    BinanceAlgoOrder,
    BinanceFuturesAccount,
    BinanceFuturesOrder,
    BinanceFuturesPositionMode,
    BinanceFuturesPositionRisk,
    convert,
)

TIME_PATH = "/fapi/v1/time"
EXCHANGE_INFO_PATH = "/fapi/v1/exchangeInfo"
POSITION_MODE_PATH = "/fapi/v1/positionSide/dual"
POSITION_RISK_PATH = "/fapi/v2/positionRisk"  # v2: v3 lacks leverage and margin type
ACCOUNT_PATH = "/fapi/v2/account"
OPEN_ORDERS_PATH = "/fapi/v1/openOrders"
ALGO_ORDER_PATH = "/fapi/v1/algoOrder"  # the Algo Service (conditional orders) since 2025-12-02
OPEN_ALGO_ORDERS_PATH = "/fapi/v1/openAlgoOrders"
ALL_OPEN_ORDERS_PATH = "/fapi/v1/allOpenOrders"
INCOME_PATH = "/fapi/v1/income"
PREMIUM_INDEX_PATH = "/fapi/v1/premiumIndex"
ALGO_OPEN_ORDERS_PATH = "/fapi/v1/algoOpenOrders"
MARGIN_TYPE_PATH = "/fapi/v1/marginType"
LEVERAGE_PATH = "/fapi/v1/leverage"


async def sync_time(rest: RestClient) -> int:
    """GET /fapi/v1/time (weight 1): the clock offset, kept by the client."""
    return await rest.sync_time(TIME_PATH)


async def exchange_filters(rest: RestClient) -> dict[str, SymbolFilters]:
    """GET /fapi/v1/exchangeInfo (weight 1): step, tick, min notional of every symbol."""
    return parse_futures_exchange_info(await rest.public("GET", EXCHANGE_INFO_PATH))


async def dual_side_position(rest: RestClient) -> bool:
    """GET /fapi/v1/positionSide/dual (weight 30): hedge mode?"""
    return convert(await rest.signed("GET", POSITION_MODE_PATH), BinanceFuturesPositionMode).dualSidePosition


async def position_risk(rest: RestClient) -> list[BinanceFuturesPositionRisk]:
    """GET /fapi/v2/positionRisk (weight 5): every symbol with leverage, margin type, update time."""
    return convert(await rest.signed("GET", POSITION_RISK_PATH), list[BinanceFuturesPositionRisk])


def mode_of(risks: list[BinanceFuturesPositionRisk]) -> bool | None:
    """The position mode positionRisk v2 implies (hedge: LONG/SHORT entries, one-way: BOTH), or None
    when it lists nothing (then only the weight-30 positionSide/dual call can tell)."""
    return any(r.positionSide != "BOTH" for r in risks) if risks else None


async def positions_and_mode(rest: RestClient) -> tuple[list[BinanceFuturesPositionRisk], bool]:
    """positionRisk v2 and the position mode (hedge?), spending the mode call only when needed."""
    risks = await position_risk(rest)
    dual = mode_of(risks)
    return risks, await dual_side_position(rest) if dual is None else dual


async def account(rest: RestClient) -> BinanceFuturesAccount:
    """GET /fapi/v2/account (weight 5): wallet and margin balances, unrealized PnL."""
    return convert(await rest.signed("GET", ACCOUNT_PATH), BinanceFuturesAccount)


async def open_orders(rest: RestClient) -> list[BinanceFuturesOrder]:
    """GET /fapi/v1/openOrders, every symbol (weight 40)."""
    return convert(await rest.signed("GET", OPEN_ORDERS_PATH), list[BinanceFuturesOrder])


async def open_algo_orders(rest: RestClient) -> list[BinanceAlgoOrder]:
    """GET /fapi/v1/openAlgoOrders, every symbol: the conditional orders not yet done."""
    return convert(await rest.signed("GET", OPEN_ALGO_ORDERS_PATH), list[BinanceAlgoOrder])


async def place_algo_order(rest: RestClient, params: dict[str, Any]) -> BinanceAlgoOrder:
    """POST /fapi/v1/algoOrder: place a conditional order."""
    return convert(await rest.signed("POST", ALGO_ORDER_PATH, params), BinanceAlgoOrder)


async def cancel_algo_order(rest: RestClient, client_algo_id: str) -> Any:
    """DELETE /fapi/v1/algoOrder by clientAlgoId; an error when it is not open (triggered, done)."""
    return await rest.signed("DELETE", ALGO_ORDER_PATH, {"clientAlgoId": client_algo_id})


async def algo_order(rest: RestClient, client_algo_id: str) -> BinanceAlgoOrder:
    """GET /fapi/v1/algoOrder by clientAlgoId: its status, whatever it is."""
    return convert(await rest.signed("GET", ALGO_ORDER_PATH, {"clientAlgoId": client_algo_id}), BinanceAlgoOrder)


async def algo_order_by_id(rest: RestClient, algo_id: int) -> BinanceAlgoOrder:
    """GET /fapi/v1/algoOrder by algoId (weight 1): one conditional order's whole record (what
    ALGO_UPDATE lacks: a trailing stop's activatePrice and callbackRate)."""
    return convert(await rest.signed("GET", ALGO_ORDER_PATH, {"algoId": algo_id}), BinanceAlgoOrder)


async def has_open_orders(rest: RestClient) -> bool:
    """GET /fapi/v1/openOrders without a symbol (weight 40): any resting order at all?"""
    return bool(await rest.signed("GET", OPEN_ORDERS_PATH))


async def cancel_every_open_order(rest: RestClient) -> int:
    """Cancel every open order and open conditional (algo) order of the account, symbol by symbol
    (DELETE /fapi/v1/allOpenOrders and /fapi/v1/algoOpenOrders, weight 1 each, after reading what
    is open: weight 40 + 1); how many were open."""
    orders, algos = await open_orders(rest), await open_algo_orders(rest)
    for symbol in sorted({o.symbol for o in orders}):
        await rest.signed("DELETE", ALL_OPEN_ORDERS_PATH, {"symbol": symbol})
    for symbol in sorted({a.symbol for a in algos if a.symbol}):
        await rest.signed("DELETE", ALGO_OPEN_ORDERS_PATH, {"symbol": symbol})
    return len(orders) + len(algos)


async def income(rest: RestClient, start_ms: int, page: int = 1, limit: int = 1000) -> list[dict[str, Any]]:
    """GET /fapi/v1/income from `start_ms` (inclusive), oldest first, one page (weight 30)."""
    return list(await rest.signed("GET", INCOME_PATH, {"startTime": start_ms, "page": page, "limit": limit}))


async def mark_price(rest: RestClient, symbol: str) -> Decimal | None:
    """GET /fapi/v1/premiumIndex for one symbol (weight 1): its mark price."""
    raw = await rest.public("GET", PREMIUM_INDEX_PATH, {"symbol": symbol})
    try:
        return Decimal(str(raw["markPrice"])) if isinstance(raw, dict) else None
    except (KeyError, ArithmeticError):
        return None


async def set_position_mode(rest: RestClient, hedge: bool) -> Any:
    """POST /fapi/v1/positionSide/dual (weight 1)."""
    return await rest.signed("POST", POSITION_MODE_PATH, {"dualSidePosition": "true" if hedge else "false"})


async def set_margin_type(rest: RestClient, symbol: str, margin_type: str) -> Any:
    """POST /fapi/v1/marginType (weight 1); -4046 when it is already so."""
    return await rest.signed("POST", MARGIN_TYPE_PATH, {"symbol": symbol, "marginType": margin_type})


async def set_leverage(rest: RestClient, symbol: str, leverage: int) -> Any:
    """POST /fapi/v1/leverage (weight 1)."""
    return await rest.signed("POST", LEVERAGE_PATH, {"symbol": symbol, "leverage": leverage})
