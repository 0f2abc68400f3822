"""Binance's REST and WebSocket API replies we use (orders, positions, accounts, balances, listen
keys, rate limits, API restrictions). Sources: binance-spot-api-docs/rest-api.md, web-socket-api.md;
usdm/endpoints/*.
"""

from __future__ import annotations

from decimal import Decimal

from .wire_base import _Wire


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


class BinanceAlgoOrder(_Wire, kw_only=True):
    """USD-M conditional order (POST/GET/DELETE /fapi/v1/algoOrder, GET /fapi/v1/openAlgoOrders,
    WS algoOrder.place). Prices and quantities as text: Binance sends "" for those an order type
    has not (activatePrice of a stop...); the master's book reads them leniently."""

    algoId: int  # algo id
    clientAlgoId: str  # client algo id
    algoType: str | None = None  # CONDITIONAL
    orderType: str | None = None  # STOP_MARKET / TAKE_PROFIT_MARKET / STOP / TAKE_PROFIT / TRAILING_STOP_MARKET
    symbol: str | None = None  # symbol
    side: str | None = None  # BUY / SELL
    positionSide: str = "BOTH"  # BOTH / LONG / SHORT
    timeInForce: str | None = None  # time in force
    quantity: str | None = None  # quantity (0 with close-all)
    algoStatus: str | None = None  # NEW / CANCELED / TRIGGERING / TRIGGERED / FINISHED / REJECTED / EXPIRED
    actualOrderId: str | int | None = None  # the order in the matching engine once triggered
    triggerPrice: str | None = None  # trigger price
    price: str | None = None  # limit price (STOP / TAKE_PROFIT)
    workingType: str | None = None  # MARK_PRICE / CONTRACT_PRICE
    closePosition: bool | None = None  # close-all
    priceProtect: bool | None = None  # trigger protection
    reduceOnly: bool | None = None  # reduce only
    activatePrice: str | None = None  # trailing: activation price
    callbackRate: str | None = None  # trailing: callback rate %
    createTime: int | None = None  # created
    updateTime: int | None = None  # last change


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
    trailingDelta: int | None = None  # trailing stop orders only
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


class BinanceCommissionRates(_Wire, kw_only=True):
    """`commissionRates` of GET /api/v3/account: rates as text (a number is taken too), read
    leniently by taker_commission: a malformed rate must not fail the whole account read."""

    maker: str | float | int | None = None  # maker rate
    taker: str | float | int | None = None  # taker rate


class BinanceSpotAccount(_Wire, kw_only=True):
    """GET /api/v3/account."""

    commissionRates: BinanceCommissionRates | None = None  # commission rates
    takerCommission: str | float | int | None = None  # taker commission, basis points (the older field)

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
