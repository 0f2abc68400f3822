"""Spot and cross margin REST endpoints as functions: one per endpoint the actors use, typed replies.

The actors never write a path: they call these (binance-spot-api-docs/rest-api.md, margin
endpoints under /sapi). Weights are Binance's, per IP (6,000 a minute on /api).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from .filters import SymbolFilters, parse_spot_exchange_info
from .rest import RestClient
from .wire import BinanceMarginAccount, BinanceSpotAccount, BinanceSpotOrder, convert

TIME_PATH = "/api/v3/time"
EXCHANGE_INFO_PATH = "/api/v3/exchangeInfo"
TICKER_PRICE_PATH = "/api/v3/ticker/price"
ACCOUNT_PATH = "/api/v3/account"
MARGIN_ACCOUNT_PATH = "/sapi/v1/margin/account"
MARGIN_ORDER_PATH = "/sapi/v1/margin/order"
OPEN_ORDERS_PATH = "/api/v3/openOrders"
MARGIN_OPEN_ORDERS_PATH = "/sapi/v1/margin/openOrders"
MARGIN_OCO_PATH = "/sapi/v1/margin/order/oco"
MARGIN_ORDER_LIST_PATH = "/sapi/v1/margin/orderList"
MARGIN_OPEN_ORDER_LIST_PATH = "/sapi/v1/margin/openOrderList"
API_RESTRICTIONS_PATH = "/sapi/v1/account/apiRestrictions"


class BinanceSymbolAssets(msgspec.Struct, frozen=True):
    """The part of an exchangeInfo `symbols[]` entry the master needs."""

    symbol: str  # symbol
    baseAsset: str  # base asset
    quoteAsset: str  # quote asset


class BinanceExchangeInfoAssets(msgspec.Struct, frozen=True):
    """GET /api/v3/exchangeInfo, only `symbols`."""

    symbols: list[BinanceSymbolAssets] = []  # symbols


class BinanceTickerPrice(msgspec.Struct, frozen=True):
    """One row of GET /api/v3/ticker/price."""

    symbol: str  # symbol
    price: Decimal  # last price


async def sync_time(rest: RestClient) -> int:
    """GET /api/v3/time (weight 1): the clock offset, kept by the client."""
    return await rest.sync_time(TIME_PATH)


async def exchange_filters(rest: RestClient, quote_asset: str | None = None) -> dict[str, SymbolFilters]:
    """GET /api/v3/exchangeInfo (weight 20): the filters of every symbol (of one quote asset)."""
    filters = parse_spot_exchange_info(await rest.public("GET", EXCHANGE_INFO_PATH))
    return {s: f for s, f in filters.items() if quote_asset is None or f.quote_asset == quote_asset}


async def symbol_assets(rest: RestClient) -> list[BinanceSymbolAssets]:
    """GET /api/v3/exchangeInfo (weight 20): every symbol's base and quote asset."""
    return convert(await rest.public("GET", EXCHANGE_INFO_PATH), BinanceExchangeInfoAssets).symbols


async def ticker_prices(rest: RestClient, symbols: list[str] | None = None) -> dict[str, Decimal]:
    """GET /api/v3/ticker/price: every symbol (weight 4), one (2) or a list (4)."""
    params: dict[str, Any] | None = None
    if symbols is not None and len(symbols) == 1:
        params = {"symbol": symbols[0]}
    elif symbols is not None:
        params = {"symbols": "[" + ",".join(f'"{s}"' for s in symbols) + "]"}
    raw = await rest.public("GET", TICKER_PRICE_PATH, params)
    rows = convert([raw] if isinstance(raw, dict) else raw, list[BinanceTickerPrice])
    return {r.symbol: r.price for r in rows}


async def account(rest: RestClient, *, omit_zero: bool = False) -> BinanceSpotAccount:
    """GET /api/v3/account (weight 20): balances, commission rates, permissions."""
    params = {"omitZeroBalances": "true"} if omit_zero else None
    return convert(await rest.signed("GET", ACCOUNT_PATH, params), BinanceSpotAccount)


async def margin_account(rest: RestClient) -> BinanceMarginAccount:
    """GET /sapi/v1/margin/account (weight 10): free, locked, borrowed, interest, net per asset."""
    return convert(await rest.signed("GET", MARGIN_ACCOUNT_PATH), BinanceMarginAccount)


async def place_margin_order(rest: RestClient, params: dict[str, Any]) -> Any:
    """POST /sapi/v1/margin/order (weight 6, UID 1): the reply as Binance sends it (FULL)."""
    return await rest.signed("POST", MARGIN_ORDER_PATH, params)


async def margin_order(rest: RestClient, symbol: str, client_order_id: str) -> Any:
    """GET /sapi/v1/margin/order by origClientOrderId (weight 10)."""
    return await rest.signed("GET", MARGIN_ORDER_PATH, {"symbol": symbol, "origClientOrderId": client_order_id})


async def cancel_margin_order(rest: RestClient, symbol: str, client_order_id: str) -> Any:
    """DELETE /sapi/v1/margin/order by origClientOrderId (weight 10): the order as it ended."""
    return await rest.signed("DELETE", MARGIN_ORDER_PATH, {"symbol": symbol, "origClientOrderId": client_order_id})


async def place_margin_oco(rest: RestClient, params: dict[str, Any]) -> Any:
    """POST /sapi/v1/margin/order/oco (weight 6; UID 1,500 with MARGIN_BUY / AUTO_BORROW_REPAY)."""
    return await rest.signed("POST", MARGIN_OCO_PATH, params)


async def margin_order_list(rest: RestClient, list_client_order_id: str) -> Any:
    """GET /sapi/v1/margin/orderList by origClientOrderId (weight 10): -2013 when there is none."""
    return await rest.signed("GET", MARGIN_ORDER_LIST_PATH, {"origClientOrderId": list_client_order_id})


async def cancel_margin_order_list(rest: RestClient, symbol: str, list_client_order_id: str) -> Any:
    """DELETE /sapi/v1/margin/orderList by listClientOrderId (weight 1): the list as it ended."""
    return await rest.signed("DELETE", MARGIN_ORDER_LIST_PATH, {"symbol": symbol, "listClientOrderId": list_client_order_id})


class _ListOrder(msgspec.Struct):
    orderId: int


class _OpenList(msgspec.Struct):
    orderListId: int
    orders: list[_ListOrder]


async def margin_open_order_lists(rest: RestClient) -> dict[int, int]:
    """GET /sapi/v1/margin/openOrderList (weight 10): the list id of each order of an open list."""
    lists = convert(await rest.signed("GET", MARGIN_OPEN_ORDER_LIST_PATH), list[_OpenList])
    return {o.orderId: ol.orderListId for ol in lists for o in ol.orders}


async def open_orders(rest: RestClient) -> list[BinanceSpotOrder]:
    """GET /api/v3/openOrders, every symbol (weight 80)."""
    return convert(await rest.signed("GET", OPEN_ORDERS_PATH), list[BinanceSpotOrder])


async def margin_open_orders(rest: RestClient) -> list[BinanceSpotOrder]:
    """GET /sapi/v1/margin/openOrders, every symbol of the cross margin account (weight 10)."""
    return convert(await rest.signed("GET", MARGIN_OPEN_ORDERS_PATH), list[BinanceSpotOrder])


async def cancel_every_open_order(rest: RestClient, *, margin: bool) -> int:
    """Cancel every open order (order lists too) of the spot or cross margin account, symbol by
    symbol (DELETE /api/v3/openOrders or /sapi/v1/margin/openOrders); how many were open."""
    orders = await (margin_open_orders(rest) if margin else open_orders(rest))
    for symbol in sorted({o.symbol for o in orders}):
        await rest.signed("DELETE", MARGIN_OPEN_ORDERS_PATH if margin else OPEN_ORDERS_PATH, {"symbol": symbol})
    return len(orders)
