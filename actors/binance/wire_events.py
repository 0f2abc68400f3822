"""Binance's user data events (USD-M listenKey stream; spot and margin over the WebSocket API), and
`decode_user_event`: a tiny struct holding only `e` is decoded first, then the raw bytes go to the
typed decoder registered for that event type (nautilus_trader style; decoders built once).
Sources: binance-spot-api-docs/user-data-stream.md; usdm/private_websocket_api.md.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Union

import msgspec

from .wire_base import _utf8_error, _Wire


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


class BinanceAlgoOrderData(_Wire, kw_only=True):
    """`o` of ALGO_UPDATE (the Algo Service's conditional orders; "Event: Algo Order Update")."""

    caid: str  # client algo id
    aid: int  # algo id
    at: str | None = None  # algo type: CONDITIONAL
    o: str  # order type STOP_MARKET / TAKE_PROFIT_MARKET / STOP / TAKE_PROFIT / TRAILING_STOP_MARKET
    s: str  # symbol
    S: str  # side
    ps: str = "BOTH"  # position side
    f: str | None = None  # time in force
    q: str | None = None  # quantity (0 with close-all); text: "" where an order type has none
    X: str  # algo status NEW / CANCELED / TRIGGERING / TRIGGERED / FINISHED / REJECTED / EXPIRED
    ai: str | int | None = None  # the order in the matching engine once triggered ("" before)
    ap: str | None = None  # its average price
    aq: str | None = None  # its executed quantity
    act: str | None = None  # its order type
    tp: str | None = None  # trigger price
    p: str | None = None  # order price
    V: str | None = None  # self-trade prevention mode
    wt: str | None = None  # working type MARK_PRICE / CONTRACT_PRICE
    pm: str | None = None  # price match mode
    cp: bool = False  # close-all
    pP: bool = False  # price protection
    R: bool = False  # reduce only
    tt: int | None = None  # trigger time
    gtd: int | None = None  # GTD auto cancel time
    rm: str | None = None  # why it failed
    ia: bool | None = None  # trailing: activated


class BinanceAlgoUpdate(_Wire, kw_only=True):
    """ALGO_UPDATE: a conditional order was placed or changed status."""

    e: str  # "ALGO_UPDATE"
    E: int  # event time
    T: int = 0  # transaction time
    o: BinanceAlgoOrderData  # the algo order


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
    d: int | None = None  # trailing delta (trailing stop orders only)


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
    "ALGO_UPDATE": BinanceAlgoUpdate,
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


_HANDLERS: dict[str, msgspec.json.Decoder[Any]] = {name: msgspec.json.Decoder(cls, strict=False) for name, cls in EVENT_TYPES.items()}


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
