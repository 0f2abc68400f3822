"""Binance wire structs: user data events and the REST/WebSocket API replies we use (one import
for the actors; the structs live in wire_events.py, wire_replies.py, the shared base in wire_base.py).

Field names are Binance's own (`e`, `E`, `x`, `X`, `l`, `ps` ...) with a short comment each;
optional fields default to None. Numeric strings decode into `Decimal` where the field says so.
Decoders are lax (`strict=False`): Binance sometimes sends numbers as strings (`"E": "1736996475556"`
in listenKeyExpired, `"leverage": "10"` in positionRisk v2, `"isAutoAddMargin": "false"`).

User data decoding (nautilus_trader style): a tiny struct holding only `e` is decoded first, then the
raw bytes go to the typed decoder registered for that event type (decoders built once).
Sources: binance-spot-api-docs/user-data-stream.md, rest-api.md, web-socket-api.md;
thirdparty-coincise-scrape usdm/private_websocket_api.md and usdm/endpoints/*.
"""

from __future__ import annotations

from .wire_base import convert, decode, decoder
from .wire_events import (
    EVENT_TYPES,
    BinanceAccountBalance,
    BinanceAlgoOrderData,
    BinanceAlgoUpdate,
    BinanceBalanceUpdate,
    BinanceEventStreamTerminated,
    BinanceExecutionReport,
    BinanceExternalLockUpdate,
    BinanceFuturesAccountConfigUpdate,
    BinanceFuturesAccountUpdate,
    BinanceFuturesAccountUpdateData,
    BinanceFuturesAssetsConfig,
    BinanceFuturesBalance,
    BinanceFuturesLeverageConfig,
    BinanceFuturesMarginCall,
    BinanceFuturesMarginCallPosition,
    BinanceFuturesOrderData,
    BinanceFuturesOrderTradeUpdate,
    BinanceFuturesPosition,
    BinanceFuturesTradeLite,
    BinanceListenKeyExpired,
    BinanceListStatus,
    BinanceOutboundAccountPosition,
    BinanceServerShutdown,
    DecodeStats,
    MalformedEvent,
    UnknownEvent,
    UserEvent,
    decode_stats,
    decode_user_event,
)
from .wire_replies import (
    BinanceAlgoOrder,
    BinanceApiRestrictions,
    BinanceCommissionRates,
    BinanceErrorBody,
    BinanceFill,
    BinanceFuturesAccount,
    BinanceFuturesAccountAsset,
    BinanceFuturesAccountPosition,
    BinanceFuturesOrder,
    BinanceFuturesPositionMode,
    BinanceFuturesPositionRisk,
    BinanceListenKey,
    BinanceListenToken,
    BinanceMarginAccount,
    BinanceMarginUserAsset,
    BinanceRateLimit,
    BinanceServerTime,
    BinanceSpotAccount,
    BinanceSpotBalance,
    BinanceSpotOrder,
)

__all__ = [
    # futures events
    "BinanceFuturesOrderData",
    "BinanceFuturesOrderTradeUpdate",
    "BinanceAlgoOrderData",
    "BinanceAlgoUpdate",
    "BinanceFuturesBalance",
    "BinanceFuturesPosition",
    "BinanceFuturesAccountUpdateData",
    "BinanceFuturesAccountUpdate",
    "BinanceFuturesLeverageConfig",
    "BinanceFuturesAssetsConfig",
    "BinanceFuturesAccountConfigUpdate",
    "BinanceFuturesTradeLite",
    "BinanceFuturesMarginCallPosition",
    "BinanceFuturesMarginCall",
    "BinanceListenKeyExpired",
    # spot / margin events
    "BinanceExecutionReport",
    "BinanceAccountBalance",
    "BinanceOutboundAccountPosition",
    "BinanceBalanceUpdate",
    "BinanceEventStreamTerminated",
    "BinanceExternalLockUpdate",
    "BinanceListStatus",
    "BinanceServerShutdown",
    "UnknownEvent",
    "UserEvent",
    "MalformedEvent",
    "decode_user_event",
    "EVENT_TYPES",
    "decode_stats",
    # REST / WS-API replies
    "BinanceAlgoOrder",
    "BinanceFuturesOrder",
    "BinanceFuturesPositionRisk",
    "BinanceFuturesAccountAsset",
    "BinanceFuturesAccountPosition",
    "BinanceFuturesAccount",
    "BinanceFuturesPositionMode",
    "BinanceFill",
    "BinanceSpotOrder",
    "BinanceSpotBalance",
    "BinanceSpotAccount",
    "BinanceCommissionRates",
    "BinanceMarginUserAsset",
    "BinanceMarginAccount",
    "BinanceApiRestrictions",
    "BinanceListenKey",
    "BinanceListenToken",
    "BinanceServerTime",
    "BinanceRateLimit",
    "BinanceErrorBody",
    "decode",
    "decoder",
    "convert",
    "DecodeStats",
]
