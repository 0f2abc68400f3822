"""Where the specs in ../shared/binance-reference are stale or silent against Binance's current
docs: each entry names the doc that says otherwise. Keep it small; never a blanket skip.

Keys are (transport, method, path) as in specs.py.
"""

from __future__ import annotations

from tests.contract.specs import FUTURES_WS, SPOT_WS, Key, Spec

_SDK_QUERY = "binance-sdk-derivatives-trading-usds-futures websocket_api/models/query_order_response_result.py"
_SDK_CANCEL = "binance-sdk-derivatives-trading-usds-futures websocket_api/models/cancel_order_response_result.py"

# Endpoints Binance documents that no file in the reference folder describes.
_EXTRA: list[tuple[Key, dict[str, bool], str]] = [
    # Binance Margin Trading docs, "Trade Data Stream / listenToken Subscription Methods"
    # (developers.binance.com/docs/margin_trading/trade-data-stream, 2025-2026): "Create Margin
    # Account listenToken (USER_STREAM)": symbol (CONDITIONAL), isIsolated (NO), validity (NO);
    # API key only, no signature. The Margin Postman collection (2026-07) still lacks it.
    (
        ("rest", "POST", "/sapi/v1/userListenToken"),
        {"symbol": False, "isIsolated": False, "validity": False},
        "margin_trading/trade-data-stream",
    ),
    # Same page: "Subscribe to User Data Stream using listenToken (USER_STREAM)", WebSocket API
    # method with one parameter, listenToken (YES). web-socket-api.md (spot) does not list it.
    (("wsapi", "userDataStream.subscribe.listenToken", SPOT_WS), {"listenToken": True}, "margin_trading/trade-data-stream"),
]


def extra_specs() -> dict[Key, Spec]:
    out = {}
    for key, params, doc in _EXTRA:
        spec = Spec(key, set(params), {n for n, m in params.items() if m}, {}, {f"allowlist:{doc}"})
        out[key] = spec
    return out


# Parameters a spec omits that Binance's current docs list for that endpoint: key -> {name: doc}.
PARAMS: dict[Key, dict[str, str]] = {}

# Parameters a spec marks mandatory that Binance's current docs make optional: key -> {name: doc}.
NOT_MANDATORY: dict[Key, dict[str, str]] = {
    # spot_api.yaml (2024) marks it required; the Margin Postman collection (2026-07, "Margin Account
    # New Order (TRADE)") leaves it disabled, i.e. optional, and Binance's margin docs say "NO ...
    # default true" (only relevant with MARGIN_BUY / AUTO_BORROW_REPAY).
    ("rest", "POST", "/sapi/v1/margin/order"): {"autoRepayAtCancel": "binance-api-postman/Binance-Margin-Trading-API.json"}
}

# Enum values a spec lacks that Binance's current docs list: key -> {name: (values...)}.
ENUMS: dict[Key, dict[str, tuple[str, ...]]] = {}

# Reply fields (dotted paths, `[]` for list elements, or bare names) the docs' examples lack or
# show that Binance's current docs explain: key -> {field: doc}.
REPLY_FIELDS: dict[Key, dict[str, str]] = {
    # web-socket-api.md "Cancel Order list": its example's orderReports lack origClientOrderId, which
    # rest-api.md's "Cancel Order list" example (DELETE /api/v3/orderList, the same call) and
    # web-socket-api.md's own `order.cancel` example of a canceled order list show in every report.
    ("wsapi", "orderList.cancel", SPOT_WS): {"orderReports[].origClientOrderId": "binance-spot-api-docs/rest-api.md"},
    # rest-api.md "Exchange information": `sors` is an "Optional field. Present only when SOR is
    # available"; the simulator has no SOR.
    ("rest", "GET", "/api/v3/exchangeInfo"): {"sors": "binance-spot-api-docs/rest-api.md"},
    # web-socket-api.md "Place new order": its FULL example lacks selfTradePreventionMode, which its
    # RESULT example and rest-api.md's FULL example (same order, same fields) show.
    ("wsapi", "order.place", SPOT_WS): {"selfTradePreventionMode": "binance-spot-api-docs/rest-api.md"},
    # spot_api.yaml (2024) marginOrderResponseFull's fills lack tradeId; the official margin SDK's
    # model (binance-sdk-margin-trading, MarginAccountNewOrderResponseFillsInner) has it, as spot's do.
    ("rest", "POST", "/sapi/v1/margin/order"): {
        "fills[].tradeId": "binance-sdk-margin-trading rest_api/models/margin_account_new_order_response_fills_inner.py"
    },
    # usdm private_websocket_api.md "Query Order" example (older than its neighbours) lacks three
    # fields of the order that the same page's "Modify Order" example and post_fapi_v1_order.md
    # show, and the official SDK's websocket_api QueryOrderResponseResult has.
    ("wsapi", "order.status", FUTURES_WS): {"priceMatch": _SDK_QUERY, "selfTradePreventionMode": _SDK_QUERY, "goodTillDate": _SDK_QUERY},
    # usdm private_websocket_api.md "Cancel Order": its example cancels a TRAILING_STOP_MARKET
    # order, whose activatePrice and priceRate a LIMIT order has not (the official SDK's
    # CancelOrderResponseResult has both optional); ours cancel LIMIT copies.
    ("wsapi", "order.cancel", FUTURES_WS): {"activatePrice": _SDK_CANCEL, "priceRate": _SDK_CANCEL},
    # spot_api.yaml's DELETE /sapi/v1/margin/order example (schema marginOrder) lacks isIsolated,
    # which the request takes and the replies carry (Binance.Net BinanceMarginCanceledOrder,
    # binance4j CancelOrderResponse: `isIsolated`). Its example is of a LIMIT order: a canceled stop
    # (STOP_LOSS_LIMIT ...) carries its stopPrice, as web-socket-api.md's `order.cancel` reply says of
    # the same order model ("stopPrice: present only if stopPrice set for the order").
    ("rest", "DELETE", "/sapi/v1/margin/order"): {
        "isIsolated": "JKorf/Binance.Net BinanceMarginCanceledOrder.IsIsolated",
        "stopPrice": "binance-spot-api-docs/web-socket-api.md",
    },
}
