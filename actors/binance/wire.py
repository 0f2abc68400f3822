"""Binance wire structs: user data events and the REST/WebSocket API replies we use.

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

from decimal import Decimal
from typing import Any, TypeVar, Union

import msgspec

__all__ = [
    # futures events
    "BinanceFuturesOrderData", "BinanceFuturesOrderTradeUpdate",
    "BinanceFuturesBalance", "BinanceFuturesPosition", "BinanceFuturesAccountUpdateData", "BinanceFuturesAccountUpdate",
    "BinanceFuturesLeverageConfig", "BinanceFuturesAssetsConfig", "BinanceFuturesAccountConfigUpdate",
    "BinanceFuturesTradeLite", "BinanceFuturesMarginCallPosition", "BinanceFuturesMarginCall", "BinanceListenKeyExpired",
    # spot / margin events
    "BinanceExecutionReport", "BinanceAccountBalance", "BinanceOutboundAccountPosition", "BinanceBalanceUpdate",
    "BinanceEventStreamTerminated", "BinanceExternalLockUpdate", "BinanceListStatus", "BinanceServerShutdown",
    "UnknownEvent", "UserEvent", "MalformedEvent", "decode_user_event", "EVENT_TYPES", "decode_stats",
    # REST / WS-API replies
    "BinanceFuturesOrder", "BinanceFuturesPositionRisk", "BinanceFuturesAccountAsset", "BinanceFuturesAccountPosition",
    "BinanceFuturesAccount", "BinanceFuturesPositionMode", "BinanceFill", "BinanceSpotOrder", "BinanceSpotBalance",
    "BinanceSpotAccount", "BinanceMarginUserAsset", "BinanceMarginAccount", "BinanceApiRestrictions",
    "BinanceListenKey", "BinanceListenToken", "BinanceServerTime", "BinanceRateLimit", "BinanceErrorBody",
    "decode", "decoder", "convert", "DecodeStats",
]

T = TypeVar("T")


class _Wire(msgspec.Struct, kw_only=True, frozen=True):
    """Base of all wire structs (immutable, keyword-only)."""


# ================================================================================================
# USD-M futures user data events
# ================================================================================================
class BinanceFuturesOrderData(_Wire, kw_only=True):
    """`o` of ORDER_TRADE_UPDATE."""

    s: str  # symbol
    c: str  # client order id ("autoclose-..." liquidation, "adl_autoclose" ADL)
    S: str  # side BUY/SELL
    o: str  # order type
    f: str | None = None  # time in force
    q: Decimal  # original quantity
    p: Decimal  # original price
    ap: Decimal | None = None  # average price
    sp: Decimal | None = None  # stop price
    x: str  # execution type NEW/CANCELED/CALCULATED/EXPIRED/TRADE/AMENDMENT
    X: str  # order status
    i: int  # order id
    l: Decimal  # last filled quantity  # noqa: E741
    z: Decimal  # filled accumulated quantity
    L: Decimal  # last filled price
    N: str | None = None  # commission asset
    n: Decimal | None = None  # commission
    T: int  # order trade time
    t: int = 0  # trade id
    b: Decimal | None = None  # bids notional
    a: Decimal | None = None  # ask notional
    m: bool = False  # is this trade the maker side
    R: bool = False  # is reduce only
    wt: str | None = None  # stop price working type
    ot: str | None = None  # original order type
    ps: str = "BOTH"  # position side BOTH/LONG/SHORT
    cp: bool = False  # close-all (conditional order)
    AP: Decimal | None = None  # activation price (TRAILING_STOP_MARKET)
    cr: Decimal | None = None  # callback rate (TRAILING_STOP_MARKET)
    pP: bool | None = None  # price protection
    si: int | None = None  # ignore
    ss: int | None = None  # ignore
    rp: Decimal | None = None  # realized profit of the trade
    V: str | None = None  # self-trade prevention mode
    pm: str | None = None  # price match mode
    gtd: int | None = None  # GTD auto cancel time
    er: str | None = None  # expire reason


class BinanceFuturesOrderTradeUpdate(_Wire, kw_only=True):
    """ORDER_TRADE_UPDATE: an order was created or changed (fills included)."""

    e: str  # "ORDER_TRADE_UPDATE"
    E: int  # event time
    T: int  # transaction time
    o: BinanceFuturesOrderData  # the order


class BinanceFuturesBalance(_Wire, kw_only=True):
    """`a.B[]` of ACCOUNT_UPDATE."""

    a: str  # asset
    wb: Decimal  # wallet balance
    cw: Decimal  # cross wallet balance
    bc: Decimal | None = None  # balance change except PnL and commission


class BinanceFuturesPosition(_Wire, kw_only=True):
    """`a.P[]` of ACCOUNT_UPDATE (only changed positions are pushed)."""

    s: str  # symbol
    pa: Decimal  # position amount (signed)
    ep: Decimal  # entry price
    bep: Decimal | None = None  # breakeven price
    cr: Decimal | None = None  # (pre-fee) accumulated realized
    up: Decimal | None = None  # unrealized PnL
    mt: str | None = None  # margin type "isolated" / "cross"
    iw: Decimal | None = None  # isolated wallet
    ps: str = "BOTH"  # position side
    ma: str | None = None  # margin asset


class BinanceFuturesAccountUpdateData(_Wire, kw_only=True):
    """`a` of ACCOUNT_UPDATE."""

    m: str  # reason type: ORDER, FUNDING_FEE, DEPOSIT, MARGIN_TYPE_CHANGE, ...
    B: list[BinanceFuturesBalance] = []  # balances
    P: list[BinanceFuturesPosition] = []  # positions


class BinanceFuturesAccountUpdate(_Wire, kw_only=True):
    """ACCOUNT_UPDATE: balances and/or positions changed."""

    e: str  # "ACCOUNT_UPDATE"
    E: int  # event time
    T: int  # transaction time
    a: BinanceFuturesAccountUpdateData  # update data


class BinanceFuturesLeverageConfig(_Wire, kw_only=True):
    """`ac` of ACCOUNT_CONFIG_UPDATE."""

    s: str  # symbol
    l: int  # leverage  # noqa: E741


class BinanceFuturesAssetsConfig(_Wire, kw_only=True):
    """`ai` of ACCOUNT_CONFIG_UPDATE."""

    j: bool  # multi-assets mode


class BinanceFuturesAccountConfigUpdate(_Wire, kw_only=True):
    """ACCOUNT_CONFIG_UPDATE: leverage of a symbol (`ac`) or multi-assets mode (`ai`) changed."""

    e: str  # "ACCOUNT_CONFIG_UPDATE"
    E: int  # event time
    T: int  # transaction time
    ac: BinanceFuturesLeverageConfig | None = None  # symbol leverage
    ai: BinanceFuturesAssetsConfig | None = None  # account config


class BinanceFuturesTradeLite(_Wire, kw_only=True):
    """TRADE_LITE: a fast, reduced fill event (TRADE executions only)."""

    e: str  # "TRADE_LITE"
    E: int  # event time
    T: int  # transaction time
    s: str  # symbol
    q: Decimal  # original quantity
    p: Decimal  # original price
    m: bool  # is maker
    c: str  # client order id
    S: str  # side
    L: Decimal  # last filled price
    l: Decimal  # last filled quantity  # noqa: E741
    t: int  # trade id
    i: int  # order id


class BinanceFuturesMarginCallPosition(_Wire, kw_only=True):
    """`p[]` of MARGIN_CALL."""

    s: str  # symbol
    ps: str  # position side
    pa: Decimal  # position amount
    mt: str  # margin type
    iw: Decimal | None = None  # isolated wallet
    mp: Decimal | None = None  # mark price
    up: Decimal | None = None  # unrealized PnL
    mm: Decimal | None = None  # maintenance margin required


class BinanceFuturesMarginCall(_Wire, kw_only=True):
    """MARGIN_CALL: position risk ratio too high."""

    e: str  # "MARGIN_CALL"
    E: int  # event time
    cw: Decimal | None = None  # cross wallet balance
    p: list[BinanceFuturesMarginCallPosition] = []  # positions


class BinanceListenKeyExpired(_Wire, kw_only=True):
    """listenKeyExpired (futures and margin listenKey streams): reconnect with a new key."""

    e: str  # "listenKeyExpired"
    E: int  # event time (sometimes sent as a string)
    listenKey: str | None = None  # the expired key


# ================================================================================================
# Spot / margin user data events (WebSocket API subscription, `event` of the envelope)
# ================================================================================================
class BinanceExecutionReport(_Wire, kw_only=True):
    """executionReport: spot / margin order update."""

    e: str  # "executionReport"
    E: int  # event time
    s: str  # symbol
    c: str  # client order id
    S: str  # side
    o: str  # order type
    f: str | None = None  # time in force
    q: Decimal  # order quantity
    p: Decimal  # order price
    P: Decimal | None = None  # stop price
    F: Decimal | None = None  # iceberg quantity
    g: int = -1  # order list id
    C: str | None = None  # original client order id (of the order being canceled)
    x: str  # execution type NEW/CANCELED/REPLACED/REJECTED/TRADE/EXPIRED/TRADE_PREVENTION
    X: str  # order status
    r: str | None = None  # reject reason
    i: int  # order id
    l: Decimal  # last executed quantity  # noqa: E741
    z: Decimal  # cumulative filled quantity
    L: Decimal  # last executed price
    n: Decimal | None = None  # commission amount
    N: str | None = None  # commission asset
    T: int  # transaction time
    t: int = -1  # trade id
    v: int | None = None  # prevented match id (STP)
    I: int | None = None  # execution id  # noqa: E741
    w: bool | None = None  # is the order on the book
    m: bool = False  # is this trade the maker side
    M: bool | None = None  # ignore
    O: int | None = None  # order creation time  # noqa: E741
    Z: Decimal | None = None  # cumulative quote asset transacted quantity
    Y: Decimal | None = None  # last quote asset transacted quantity
    Q: Decimal | None = None  # quote order quantity
    W: int | None = None  # working time
    V: str | None = None  # self-trade prevention mode
    eR: str | None = None  # expiry reason


class BinanceAccountBalance(_Wire, kw_only=True):
    """`B[]` of outboundAccountPosition."""

    a: str  # asset
    f: Decimal  # free
    l: Decimal  # locked  # noqa: E741


class BinanceOutboundAccountPosition(_Wire, kw_only=True):
    """outboundAccountPosition: balances that changed."""

    e: str  # "outboundAccountPosition"
    E: int  # event time
    u: int  # time of last account update
    B: list[BinanceAccountBalance] = []  # balances


class BinanceBalanceUpdate(_Wire, kw_only=True):
    """balanceUpdate: deposit, withdrawal or transfer."""

    e: str  # "balanceUpdate"
    E: int  # event time
    a: str  # asset
    d: Decimal  # balance delta
    T: int  # clear time


class BinanceExternalLockUpdate(_Wire, kw_only=True):
    """externalLockUpdate: part of the spot balance locked/unlocked externally."""

    e: str  # "externalLockUpdate"
    E: int  # event time
    a: str  # asset
    d: Decimal  # delta
    T: int  # transaction time


class BinanceListStatusOrder(_Wire, kw_only=True):
    """`O[]` of listStatus."""

    s: str  # symbol
    i: int  # order id
    c: str  # client order id


class BinanceListStatus(_Wire, kw_only=True):
    """listStatus: order list (OCO, OTO ...) update."""

    e: str  # "listStatus"
    E: int  # event time
    s: str  # symbol
    g: int  # order list id
    c: str  # contingency type
    l: str  # list status type  # noqa: E741
    L: str  # list order status
    r: str  # list reject reason
    C: str  # list client order id
    T: int  # transaction time
    O: list[BinanceListStatusOrder] = []  # orders  # noqa: E741


class BinanceEventStreamTerminated(_Wire, kw_only=True):
    """eventStreamTerminated: the subscription ended (token expired, logout, unsubscribe)."""

    e: str  # "eventStreamTerminated"
    E: int  # event time


class BinanceServerShutdown(_Wire, kw_only=True):
    """serverShutdown: the WebSocket API server is about to close the connection."""

    e: str  # "serverShutdown"
    E: int  # event time


class UnknownEvent(_Wire, kw_only=True):
    """An event type we have no struct for (kept, counted, never an error)."""

    e: str  # event type
    raw: bytes  # the raw event


UserEvent = Union[
    BinanceFuturesOrderTradeUpdate,
    BinanceFuturesAccountUpdate,
    BinanceFuturesAccountConfigUpdate,
    BinanceFuturesTradeLite,
    BinanceFuturesMarginCall,
    BinanceListenKeyExpired,
    BinanceExecutionReport,
    BinanceOutboundAccountPosition,
    BinanceBalanceUpdate,
    BinanceExternalLockUpdate,
    BinanceListStatus,
    BinanceEventStreamTerminated,
    BinanceServerShutdown,
    UnknownEvent,
]


class MalformedEvent(ValueError):
    """A user data payload that is not valid JSON or does not match its event type's struct."""


class _EventType(msgspec.Struct):
    e: str | None = None  # event type
    event: msgspec.Raw = msgspec.Raw()  # the WebSocket API envelope's payload, if wrapped


class DecodeStats(msgspec.Struct):
    """Counters of decode_user_event (per process)."""

    decoded: int = 0
    unknown: int = 0
    malformed: int = 0


decode_stats = DecodeStats()

EVENT_TYPES: dict[str, type] = {
    "ORDER_TRADE_UPDATE": BinanceFuturesOrderTradeUpdate,
    "ACCOUNT_UPDATE": BinanceFuturesAccountUpdate,
    "ACCOUNT_CONFIG_UPDATE": BinanceFuturesAccountConfigUpdate,
    "TRADE_LITE": BinanceFuturesTradeLite,
    "MARGIN_CALL": BinanceFuturesMarginCall,
    "listenKeyExpired": BinanceListenKeyExpired,
    "executionReport": BinanceExecutionReport,
    "outboundAccountPosition": BinanceOutboundAccountPosition,
    "balanceUpdate": BinanceBalanceUpdate,
    "externalLockUpdate": BinanceExternalLockUpdate,
    "listStatus": BinanceListStatus,
    "eventStreamTerminated": BinanceEventStreamTerminated,
    "serverShutdown": BinanceServerShutdown,
}

_HEAD = msgspec.json.Decoder(_EventType)
_HANDLERS: dict[str, msgspec.json.Decoder[Any]] = {
    name: msgspec.json.Decoder(cls, strict=False) for name, cls in EVENT_TYPES.items()
}


def decode_user_event(raw: bytes | bytearray | memoryview | str) -> Any:
    """Decode one user data event (bare, or wrapped as `{"subscriptionId":N,"event":{...}}`).

    Returns the typed struct, or `UnknownEvent` for an event type we do not know (counted).
    Raises `MalformedEvent` for invalid JSON, a payload without `e`, or fields that do not fit.
    """
    try:
        head = _HEAD.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:  # bad UTF-8 too
        decode_stats.malformed += 1
        raise MalformedEvent(f"user data event could not be decoded: {_utf8_error(raw) or exc}") from None
    if head.e is None:
        if len(head.event):
            return decode_user_event(bytes(head.event))
        decode_stats.malformed += 1
        raise MalformedEvent("user data event has no event type 'e'")
    dec = _HANDLERS.get(head.e)
    if dec is None:
        decode_stats.unknown += 1
        return UnknownEvent(e=head.e, raw=bytes(raw) if not isinstance(raw, str) else raw.encode())
    try:
        event = dec.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError) as exc:
        decode_stats.malformed += 1
        raise MalformedEvent(f"malformed {head.e} event: {_utf8_error(raw) or exc}") from None
    decode_stats.decoded += 1
    return event


# ================================================================================================
# REST / WebSocket API replies
# ================================================================================================
class BinanceRateLimit(_Wire, kw_only=True):
    """One entry of a WebSocket API reply's `rateLimits`."""

    rateLimitType: str  # REQUEST_WEIGHT / ORDERS
    interval: str  # SECOND / MINUTE / HOUR / DAY
    intervalNum: int  # interval multiplier
    limit: int  # limit per interval
    count: int = 0  # current usage


class BinanceErrorBody(_Wire, kw_only=True):
    """`{"code": -1121, "msg": "Invalid symbol."}`."""

    code: int  # error code
    msg: str = ""  # message


class BinanceServerTime(_Wire, kw_only=True):
    serverTime: int  # ms


class BinanceListenKey(_Wire, kw_only=True):
    listenKey: str  # POST/PUT /fapi/v1/listenKey


class BinanceListenToken(_Wire, kw_only=True):
    token: str  # POST /sapi/v1/userListenToken
    expirationTime: int  # ms


class BinanceFuturesOrder(_Wire, kw_only=True):
    """USD-M order (POST/GET/DELETE /fapi/v1/order, WS order.place/status/cancel)."""

    symbol: str  # symbol
    orderId: int  # order id
    clientOrderId: str  # client order id
    status: str  # NEW / PARTIALLY_FILLED / FILLED / CANCELED / EXPIRED / EXPIRED_IN_MATCH
    side: str  # BUY / SELL
    type: str  # order type
    origType: str | None = None  # original order type
    positionSide: str = "BOTH"  # BOTH / LONG / SHORT
    price: Decimal | None = None  # price
    avgPrice: Decimal | None = None  # average fill price
    origQty: Decimal | None = None  # original quantity
    executedQty: Decimal | None = None  # executed quantity
    cumQty: Decimal | None = None  # cumulative quantity
    cumQuote: Decimal | None = None  # cumulative quote
    stopPrice: Decimal | None = None  # stop price
    activatePrice: Decimal | None = None  # trailing stop activation price
    priceRate: Decimal | None = None  # trailing stop callback rate
    reduceOnly: bool | None = None  # reduce only
    closePosition: bool | None = None  # close-all
    timeInForce: str | None = None  # GTC / IOC / FOK / GTX / GTD
    workingType: str | None = None  # MARK_PRICE / CONTRACT_PRICE
    priceProtect: bool | None = None  # conditional trigger protected
    priceMatch: str | None = None  # price match mode
    selfTradePreventionMode: str | None = None  # STP mode
    goodTillDate: int | None = None  # GTD cancel time
    time: int | None = None  # order time (query)
    updateTime: int | None = None  # update time


class BinanceFuturesPositionRisk(_Wire, kw_only=True):
    """One item of GET /fapi/v2/positionRisk or /fapi/v3/positionRisk."""

    symbol: str  # symbol
    positionSide: str = "BOTH"  # BOTH / LONG / SHORT
    positionAmt: Decimal  # signed position amount
    entryPrice: Decimal | None = None  # entry price
    breakEvenPrice: Decimal | None = None  # breakeven price
    markPrice: Decimal | None = None  # mark price
    unRealizedProfit: Decimal | None = None  # unrealized profit
    liquidationPrice: Decimal | None = None  # liquidation price
    isolatedMargin: Decimal | None = None  # isolated margin
    notional: Decimal | None = None  # notional
    marginAsset: str | None = None  # margin asset (v3)
    isolatedWallet: Decimal | None = None  # isolated wallet
    initialMargin: Decimal | None = None  # initial margin (v3)
    maintMargin: Decimal | None = None  # maintenance margin (v3)
    leverage: int | None = None  # leverage (v2, sent as a string)
    marginType: str | None = None  # "cross" / "isolated" (v2)
    isAutoAddMargin: bool | None = None  # (v2, sent as a string)
    maxNotionalValue: Decimal | None = None  # (v2)
    adl: int | None = None  # ADL quantile (v3)
    updateTime: int | None = None  # update time


class BinanceFuturesAccountAsset(_Wire, kw_only=True):
    """`assets[]` of GET /fapi/v2|v3/account."""

    asset: str  # asset
    walletBalance: Decimal  # wallet balance
    unrealizedProfit: Decimal | None = None  # unrealized profit
    marginBalance: Decimal | None = None  # margin balance
    maintMargin: Decimal | None = None  # maintenance margin
    initialMargin: Decimal | None = None  # initial margin
    crossWalletBalance: Decimal | None = None  # cross wallet balance
    crossUnPnl: Decimal | None = None  # cross unrealized PnL
    availableBalance: Decimal | None = None  # available balance
    maxWithdrawAmount: Decimal | None = None  # max transfer out
    marginAvailable: bool | None = None  # usable as margin in multi-assets mode (v2)
    updateTime: int | None = None  # update time


class BinanceFuturesAccountPosition(_Wire, kw_only=True):
    """`positions[]` of GET /fapi/v2|v3/account."""

    symbol: str  # symbol
    positionSide: str = "BOTH"  # BOTH / LONG / SHORT
    positionAmt: Decimal  # signed position amount
    unrealizedProfit: Decimal | None = None  # unrealized profit
    isolatedMargin: Decimal | None = None  # isolated margin (v3)
    notional: Decimal | None = None  # notional (v3)
    isolatedWallet: Decimal | None = None  # isolated wallet (v3)
    initialMargin: Decimal | None = None  # initial margin
    maintMargin: Decimal | None = None  # maintenance margin
    leverage: int | None = None  # leverage (v2)
    isolated: bool | None = None  # isolated position (v2)
    entryPrice: Decimal | None = None  # entry price (v2)
    updateTime: int | None = None  # update time


class BinanceFuturesAccount(_Wire, kw_only=True):
    """GET /fapi/v2/account or /fapi/v3/account."""

    totalWalletBalance: Decimal  # total wallet balance (USDT, or USD in multi-assets mode)
    totalUnrealizedProfit: Decimal | None = None  # total unrealized profit
    totalMarginBalance: Decimal | None = None  # total margin balance
    totalInitialMargin: Decimal | None = None  # total initial margin
    totalMaintMargin: Decimal | None = None  # total maintenance margin
    totalCrossWalletBalance: Decimal | None = None  # cross wallet balance
    totalCrossUnPnl: Decimal | None = None  # cross unrealized PnL
    availableBalance: Decimal | None = None  # available balance
    maxWithdrawAmount: Decimal | None = None  # max transfer out
    canTrade: bool | None = None  # (v2)
    multiAssetsMargin: bool | None = None  # (v2)
    feeTier: int | None = None  # (v2)
    assets: list[BinanceFuturesAccountAsset] = []  # assets
    positions: list[BinanceFuturesAccountPosition] = []  # positions


class BinanceFuturesPositionMode(_Wire, kw_only=True):
    """GET /fapi/v1/positionSide/dual."""

    dualSidePosition: bool  # true: hedge mode, false: one-way


class BinanceFill(_Wire, kw_only=True):
    """`fills[]` of a spot/margin FULL order reply."""

    price: Decimal  # fill price
    qty: Decimal  # fill quantity
    commission: Decimal  # commission
    commissionAsset: str  # commission asset
    tradeId: int  # trade id


class BinanceSpotOrder(_Wire, kw_only=True):
    """Spot / margin order reply (ACK, RESULT or FULL) or order query."""

    symbol: str  # symbol
    orderId: int  # order id
    clientOrderId: str  # client order id
    orderListId: int = -1  # order list id
    transactTime: int | None = None  # transaction time (placement)
    time: int | None = None  # order time (query)
    updateTime: int | None = None  # update time (query)
    price: Decimal | None = None  # price
    origQty: Decimal | None = None  # original quantity
    executedQty: Decimal | None = None  # executed quantity
    origQuoteOrderQty: Decimal | None = None  # original quote order quantity
    cummulativeQuoteQty: Decimal | None = None  # cumulative quote quantity (Binance's spelling)
    status: str | None = None  # order status
    timeInForce: str | None = None  # time in force
    type: str | None = None  # order type
    side: str | None = None  # side
    stopPrice: Decimal | None = None  # stop price
    isWorking: bool | None = None  # on the book (query)
    workingTime: int | None = None  # working time
    selfTradePreventionMode: str | None = None  # STP mode
    isIsolated: bool | None = None  # margin: isolated
    marginBuyBorrowAmount: Decimal | None = None  # margin: borrowed by MARGIN_BUY
    marginBuyBorrowAsset: str | None = None  # margin: asset borrowed
    fills: list[BinanceFill] = []  # fills (FULL)


class BinanceSpotBalance(_Wire, kw_only=True):
    """`balances[]` of GET /api/v3/account."""

    asset: str  # asset
    free: Decimal  # free
    locked: Decimal  # locked


class BinanceSpotAccount(_Wire, kw_only=True):
    """GET /api/v3/account."""

    canTrade: bool | None = None  # trading enabled
    canWithdraw: bool | None = None  # withdrawals enabled
    canDeposit: bool | None = None  # deposits enabled
    accountType: str | None = None  # SPOT
    updateTime: int | None = None  # update time
    balances: list[BinanceSpotBalance] = []  # balances
    permissions: list[str] = []  # permissions


class BinanceMarginUserAsset(_Wire, kw_only=True):
    """`userAssets[]` of GET /sapi/v1/margin/account."""

    asset: str  # asset
    free: Decimal  # free
    locked: Decimal  # locked
    borrowed: Decimal  # borrowed
    interest: Decimal  # interest
    netAsset: Decimal  # net asset


class BinanceMarginAccount(_Wire, kw_only=True):
    """GET /sapi/v1/margin/account (cross margin)."""

    borrowEnabled: bool | None = None  # borrowing allowed
    tradeEnabled: bool | None = None  # trading allowed
    transferEnabled: bool | None = None  # transfers allowed
    marginLevel: Decimal | None = None  # margin level
    totalAssetOfBtc: Decimal | None = None  # total assets in BTC
    totalLiabilityOfBtc: Decimal | None = None  # total liabilities in BTC
    totalNetAssetOfBtc: Decimal | None = None  # net assets in BTC
    userAssets: list[BinanceMarginUserAsset] = []  # assets


class BinanceApiRestrictions(_Wire, kw_only=True):
    """GET /sapi/v1/account/apiRestrictions: what the API key may do (a missing flag stays None:
    treat it as unsafe, e.g. `enableWithdrawals is not False` means refuse the key)."""

    ipRestrict: bool | None = None  # IP whitelist enabled
    createTime: int | None = None  # key creation time
    enableReading: bool | None = None  # read
    enableSpotAndMarginTrading: bool | None = None  # spot + margin trading
    enableWithdrawals: bool | None = None  # withdrawals (must be False for us)
    enableInternalTransfer: bool | None = None  # master <-> sub-account transfers
    enableMargin: bool | None = None  # margin
    enableFutures: bool | None = None  # futures
    permitsUniversalTransfer: bool | None = None  # universal transfer
    enableVanillaOptions: bool | None = None  # options
    enablePortfolioMarginTrading: bool | None = None  # portfolio margin
    enableFixApiTrade: bool | None = None  # FIX trading
    enableFixReadOnly: bool | None = None  # FIX read-only
    tradingAuthorityExpirationTime: int | None = None  # ms; spot/margin trading right expiry


_DECODERS: dict[Any, msgspec.json.Decoder[Any]] = {}


def decoder(type_: Any) -> msgspec.json.Decoder[Any]:
    """A lax JSON decoder for `type_`, built once and cached."""
    dec = _DECODERS.get(type_)
    if dec is None:
        dec = _DECODERS[type_] = msgspec.json.Decoder(type_, strict=False)
    return dec


def _utf8_error(raw: bytes | str | memoryview) -> str | None:
    """Where `raw` is not valid UTF-8, our own words for it, naming the first bad byte; else None.
    Only called once decoding failed: msgspec's own text for bad UTF-8 differs between releases
    (and older ones let it escape as UnicodeDecodeError), so our message does not depend on it."""
    if isinstance(raw, str):
        return None
    try:
        bytes(raw).decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"invalid UTF-8 at byte {exc.start}: {exc.reason}"
    return None


def decode(raw: bytes | str | memoryview, type_: type[T]) -> T:
    """Decode raw JSON into `type_` (e.g. `list[BinanceFuturesPositionRisk]`). Bad input raises
    msgspec.DecodeError / ValidationError only; for invalid UTF-8 the DecodeError names the byte."""
    try:
        return decoder(type_).decode(raw)
    except (UnicodeDecodeError, msgspec.DecodeError) as exc:
        bad = _utf8_error(raw)
        if bad is None and isinstance(exc, msgspec.DecodeError):
            raise
        raise msgspec.DecodeError(f"{bad} in the JSON reply" if bad else str(exc)) from None


def convert(obj: Any, type_: type[T]) -> T:
    """Convert an already-parsed JSON value (dict/list from RestClient) into `type_`."""
    return msgspec.convert(obj, type_, strict=False)
