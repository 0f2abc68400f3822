"""Every message that crosses a ZeroMQ socket: frozen, tagged msgspec Structs, one union per socket.

Wire format: msgpack maps (not `array_like`, see codec.py for the measurement), the tag in field
"t". Quantities, prices and equities are `decimal.Decimal` (msgpack strings on the wire); times
are integers (`*_ms` exchange epoch milliseconds, `*_ns` `time.monotonic_ns()` of the stamping
host, comparable across processes on one Linux host).

Unions (one typed decoder each, see codec.py):
- `MasterEvent`      master-<market> PUB  -> slaves            (topics: topics.master_topic)
- `SnapshotRequestMsg` / `SnapshotReplyMsg`   slave REQ/DEALER <-> master ROUTER
- `SlaveReport`      slave PUSH -> control PULL
- `ControlRequest`   TUI/CLI DEALER -> control ROUTER        (control_api.py)
- `ControlServerMsg` control ROUTER -> TUI/CLI (replies `Ok`/`Error` and live `Push`es; control_api.py)
- `ControlEvent`     control PUB -> actors                     (topics: topics.control_topic)

Sequencing (see seq.py): every master message carries `epoch` (a random id drawn when the
publisher starts) and `seq`. Fills, resting orders, snapshots and config changes on PUB consume one
number each, gapless from 1 per epoch. A `Heartbeat` consumes none: its `seq` is the last number
used, so a subscriber that lost the last event learns it within one heartbeat. A snapshot's state
includes every event with seq <= its `seq` (for a `SnapshotReply` that is the last seq published
before the snapshot was taken).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal, Union

import msgspec

from .conditional import ConditionalOrder as ConditionalOrder, MasterAlgoOrder as MasterAlgoOrder, MirroredOrder as MirroredOrder
from .slave_config import SlaveConfig as SlaveConfig
from .vocabulary import (
    MARKETS as MARKETS,
    SPOT_MARKET_STOPS as SPOT_MARKET_STOPS,
    SPOT_STOP_TYPES as SPOT_STOP_TYPES,
    AlgoAction as AlgoAction,
    Asset as Asset,
    ConditionalType as ConditionalType,
    FillStatus as FillStatus,
    Leverage as Leverage,
    LossWindow as LossWindow,
    MarginType as MarginType,
    Market as Market,
    MinNotionalPolicy as MinNotionalPolicy,
    Msg as Msg,
    NonNegInt as NonNegInt,
    OnStart as OnStart,
    OnStop as OnStop,
    OrderAction as OrderAction,
    OrdersMode as OrdersMode,
    Part as Part,
    PositionKey as PositionKey,
    PositionMode as PositionMode,
    PositionSide as PositionSide,
    ProtectiveMode as ProtectiveMode,
    RequestId as RequestId,
    RestingOrderType as RestingOrderType,
    Side as Side,
    SideEffect as SideEffect,
    SizingMode as SizingMode,
    SkipReason as SkipReason,
    SlaveId as SlaveId,
    SlaveState as SlaveState,
    SnapshotReason as SnapshotReason,
    Symbol as Symbol,
    TimeInForce as TimeInForce,
    WorkingType as WorkingType,
    _bad_decimal as _bad_decimal,
    _check_finite as _check_finite,
    _check_non_negative as _check_non_negative,
    _check_positive as _check_positive,
)

# --------------------------------------------------------------------------- master events (PUB)


class MasterFill(Msg, tag="fill", frozen=True, kw_only=True):
    """One trade of the master (one execution report / ORDER_TRADE_UPDATE with x=TRADE)."""

    market: Market
    epoch: int  # publisher session id (random, drawn at start): a new one means a restart
    seq: Annotated[int, msgspec.Meta(ge=1)]  # per publisher and epoch, gapless from 1
    symbol: Symbol
    position_side: PositionSide  # spot/margin: "BOTH"
    side: Side
    order_id: int  # master's exchange order id (i)
    trade_id: int  # master's exchange trade id (t); per symbol on Binance
    client_order_id: str  # master's client order id (c)
    order_type: str  # Binance order type of the master order (o), e.g. "MARKET", "LIMIT"
    price: Decimal  # this fill's price (L)
    qty: Decimal  # this fill's quantity (l), > 0
    cum_qty: Decimal  # order's cumulative filled quantity after this fill (z)
    status: FillStatus  # order status after this fill (X)
    order_qty: Decimal = Decimal(0)  # the order's quantity (q); 0: not known (fixed_amount then cannot size it)
    reduce_only: bool = False  # master order was reduce-only (R); futures only
    # Master position of (symbol, position_side) around this fill. BOTH: signed; LONG/SHORT:
    # size >= 0; spot: base-asset holding (free + locked); margin: net base position
    # (free + locked - borrowed), signed.
    position_before: Decimal
    position_after: Decimal
    borrowed_before: Decimal | None = None  # margin: borrowed base asset before the fill
    borrowed_after: Decimal | None = None  # margin: borrowed base asset after the fill
    side_effect: SideEffect | None = None  # margin: what the master's order did to its loans
    equity: Decimal  # master equity in `equity_asset` at the time of the fill
    equity_asset: Asset = "USDT"
    leverage: Leverage | None = None  # usdm: symbol leverage
    margin_type: MarginType | None = None  # usdm: symbol margin type
    trade_time_ms: int = 0  # exchange transaction/trade time (T)
    t_exchange_ms: int  # exchange event time (E)
    t_master_recv_ns: int  # monotonic ns when the master read the exchange event
    t_master_pub_ns: int  # monotonic ns just before publishing

    def __post_init__(self) -> None:
        _check_positive(self, "qty", "price")
        _check_non_negative(self, "cum_qty", "order_qty", "borrowed_before", "borrowed_after", "equity")
        _check_finite(self, "position_before", "position_after")


class PositionEntry(Part, frozen=True, kw_only=True):
    """One futures position (usdm) or one traded symbol's net position (spot/margin)."""

    symbol: Symbol
    position_side: PositionSide
    qty: Decimal  # BOTH / spot / margin: signed; LONG/SHORT: size >= 0
    entry_price: Decimal = Decimal(0)
    leverage: Leverage | None = None
    margin_type: MarginType | None = None

    def __post_init__(self) -> None:
        _check_finite(self, "qty")
        _check_non_negative(self, "entry_price")


class AssetHolding(Part, frozen=True, kw_only=True):
    """Spot/margin balance of one asset."""

    asset: Asset
    free: Decimal
    locked: Decimal = Decimal(0)
    borrowed: Decimal = Decimal(0)  # margin only
    interest: Decimal = Decimal(0)  # margin only

    def __post_init__(self) -> None:
        _check_non_negative(self, "free", "locked", "borrowed", "interest")


class RestingOrder(Part, frozen=True, kw_only=True):
    """One open (resting) order of the master, as Binance last reported it."""

    symbol: Symbol
    position_side: PositionSide  # spot/margin: "BOTH"
    side: Side
    order_id: int  # master's exchange order id
    client_order_id: str
    order_type: RestingOrderType
    time_in_force: TimeInForce
    price: Decimal  # limit price
    orig_qty: Decimal  # the order's quantity (after the last amendment)
    cum_qty: Decimal = Decimal(0)  # filled so far
    reduce_only: bool = False
    # the master's position of (symbol, position_side) when the order was placed (after a
    # restart: when the listener first saw it), the base of the fraction a reducing order copies
    position_at_place: Decimal
    update_ms: int = 0  # exchange time of the last change
    stop_price: Decimal = Decimal(0)  # spot / margin STOP_LOSS(_LIMIT), TAKE_PROFIT(_LIMIT): its trigger; else 0
    list_id: int = -1  # spot / margin: the order list (OCO) the order is one of (executionReport `g`); -1: none

    def __post_init__(self) -> None:
        _check_positive(self, "orig_qty")
        _check_non_negative(self, "cum_qty", "price", "stop_price")
        _check_finite(self, "position_at_place")
        if (self.price == 0) != (self.order_type in SPOT_MARKET_STOPS):
            raise ValueError(f"`price` of a {self.order_type} order must be {'0' if self.order_type in SPOT_MARKET_STOPS else '> 0'}")
        if (self.stop_price > 0) != (self.order_type in SPOT_STOP_TYPES):
            raise ValueError(f"`stop_price` of a {self.order_type} order must be {'> 0' if self.order_type in SPOT_STOP_TYPES else '0'}")


class MasterOrder(Msg, tag="order", frozen=True, kw_only=True):
    """A resting order of the master was placed, amended, canceled or expired (ORDER_TRADE_UPDATE
    x NEW / AMENDMENT / CANCELED / EXPIRED). Its fills are MasterFill events, numbered in the
    same sequence; the fill with status FILLED ends it."""

    market: Market
    epoch: int
    seq: Annotated[int, msgspec.Meta(ge=1)]
    action: OrderAction
    order: RestingOrder
    position: Decimal  # the master's position of the order's (symbol, position_side) now
    equity: Decimal
    equity_asset: Asset = "USDT"
    t_exchange_ms: int
    t_master_recv_ns: int
    t_master_pub_ns: int

    def __post_init__(self) -> None:
        _check_non_negative(self, "equity")
        _check_finite(self, "position")


class PositionSnapshot(Msg, tag="snap", frozen=True, kw_only=True):
    """The master's whole state for one market; includes every event with seq <= `seq`."""

    market: Market
    epoch: int
    seq: NonNegInt  # 0 = taken before any event of this epoch
    equity: Decimal
    equity_asset: Asset = "USDT"
    positions: tuple[PositionEntry, ...] = ()
    holdings: tuple[AssetHolding, ...] = ()  # spot/margin
    position_mode: PositionMode | None = None  # usdm
    open_orders: tuple[RestingOrder, ...] = ()  # the master's resting orders of the types published
    open_algo_orders: tuple[ConditionalOrder, ...] = ()  # usdm: its conditional orders not yet triggered
    reason: SnapshotReason
    t_ns: int  # monotonic ns when taken

    def __post_init__(self) -> None:
        _check_non_negative(self, "equity")


class AccountConfigChanged(Msg, tag="cfg", frozen=True, kw_only=True):
    """Master leverage / margin type / position mode changed (ACCOUNT_CONFIG_UPDATE & co)."""

    market: Market
    epoch: int
    seq: Annotated[int, msgspec.Meta(ge=1)]
    symbol: Symbol | None = None  # None for account-wide changes (position mode)
    leverage: Leverage | None = None
    margin_type: MarginType | None = None
    position_mode: PositionMode | None = None
    t_exchange_ms: int = 0
    t_master_recv_ns: int = 0


class Heartbeat(Msg, tag="hb", frozen=True, kw_only=True):
    """Published every second. Consumes no seq: `seq` is the last number used (0 if none)."""

    market: Market
    epoch: int
    seq: NonNegInt
    t_ns: int
    connected: bool  # is the master's exchange user-data stream up
    last_event_ms: int = 0  # exchange time of the last event seen (0 = none yet)


MasterEvent = Union[MasterFill, MasterOrder, MasterAlgoOrder, PositionSnapshot, AccountConfigChanged, Heartbeat]

# --------------------------------------------------------------------------- generic replies


class Error(Msg, tag="err", frozen=True, kw_only=True):
    """Failure reply (control and snapshot sockets): `code` is a protocol.errors.ErrorCode."""

    id: RequestId
    code: int
    reason: str


ErrorReply = Error  # the name the snapshot socket's docs use

# --------------------------------------------------------------------------- snapshot REQ/REP


class SnapshotRequest(Msg, tag="snapreq", frozen=True, kw_only=True):
    id: RequestId
    market: Market


class SnapshotReply(Msg, tag="snaprep", frozen=True, kw_only=True):
    id: RequestId
    snapshot: PositionSnapshot


SnapshotRequestMsg = SnapshotRequest
SnapshotReplyMsg = Union[SnapshotReply, Error]

# --------------------------------------------------------------------------- slave reports (PUSH)


class _MirrorReport(Msg, frozen=True, kw_only=True):
    """Keys shared by every report about one copied master fill."""

    slave_id: SlaveId
    market: Market
    symbol: Symbol
    position_side: PositionSide  # the slave's side (after `reverse`)
    side: Side  # the slave's side (after `reverse`)
    master_order_id: int
    master_trade_id: int
    master_epoch: int = 0
    master_seq: NonNegInt = 0  # 0: not from a master fill (reconciliation, flatten)
    client_order_id: str = ""
    leg: NonNegInt = 0
    qty: Decimal  # the slave quantity ordered (or that would have been)
    master_price: Decimal | None = None  # the master fill's price (the ledger's slippage is against it)
    master_time_ms: int = 0  # the master fill's exchange time (T, else E)
    t_master_recv_ns: int = 0
    t_master_pub_ns: int = 0
    t_slave_recv_ns: int = 0

    def __post_init__(self) -> None:
        _check_non_negative(self, "qty", "master_price")


class OrderMirrored(_MirrorReport, tag="mirrored", frozen=True, kw_only=True):
    """The slave's order was accepted by the exchange."""

    reduce_only: bool = False
    exchange_order_id: int
    status: str  # exchange order status in the acknowledgement (NEW, FILLED, ...)
    executed_qty: Decimal = Decimal(0)
    avg_price: Decimal | None = None
    price: Decimal | None = None
    summary: str = ""  # short human summary of the exchange answer
    t_order_sent_ns: int
    t_order_acked_ns: int

    def __post_init__(self) -> None:
        _check_non_negative(self, "qty", "master_price", "executed_qty", "avg_price", "price")


class MirrorSkipped(_MirrorReport, tag="skipped", frozen=True, kw_only=True):
    """A master fill the slave did not copy (or copied only partly): journalled, never silent."""

    reason: SkipReason
    text: str = ""


class OrderFailed(_MirrorReport, tag="failed", frozen=True, kw_only=True):
    """The exchange refused the slave's order (or its status stayed unknown)."""

    error_code: int  # Binance error code (e.g. -2019), 0 if none
    error_msg: str
    status_unknown: bool = False  # timeout / 5xx / -1007 and the order could not be found
    t_order_sent_ns: int = 0
    t_failed_ns: int = 0


class PositionDrift(Part, frozen=True, kw_only=True):
    symbol: Symbol
    position_side: PositionSide
    actual: Decimal
    expected: Decimal  # k x the master's position (unrounded)
    in_sync: bool = True  # the slave judged |actual - expected| within one step of the symbol

    def __post_init__(self) -> None:
        _check_finite(self, "actual", "expected")


class Copyability(Part, frozen=True, kw_only=True):
    """The pre-trade check of one symbol for one slave (actors/domain/copyability.py)."""

    symbol: Symbol
    entries: str = "ok"  # "ok", or why the master's next entry would not be copied
    smallest_master_qty: Decimal | None = None  # master entries under this are skipped (0: every one copied)
    leverage: int | None = None  # what the slave would set (the master's, capped)
    margin_ok: bool | None = None  # its free margin carries the smallest copy; None: not known


class MarketStatus(Part, frozen=True, kw_only=True):
    market: Market
    connected: bool = False  # slave's own exchange connections are up
    equity: Decimal | None = None
    equity_asset: Asset = "USDT"
    k: Decimal | None = None  # current sizing ratio; None: cannot size
    refused: str = ""  # why this market is not copied (e.g. position mode differs), "" if copied
    positions: tuple[PositionDrift, ...] = ()
    mirrored: tuple[MirroredOrder, ...] = ()  # orders = "mirror": its open copies of the master's orders
    copyable: tuple[Copyability, ...] = ()  # the pre-trade check per symbol the master holds or traded

    def __post_init__(self) -> None:
        _check_finite(self, "equity", "k")


class IncomeItem(Part, frozen=True, kw_only=True):
    """One USD-M income record of the slave's account (GET /fapi/v1/income)."""

    tran_id: int
    income_type: Annotated[str, msgspec.Meta(max_length=40)]  # REALIZED_PNL, COMMISSION, FUNDING_FEE, ...
    income: Decimal  # signed: a fee or a funding paid is negative
    asset: Asset = "USDT"
    symbol: str = ""
    time_ms: int = 0


class IncomeReport(Msg, tag="income", frozen=True, kw_only=True):
    """Income records the slave read since its last report (the ledger sums them once each, by
    (income_type, tran_id): a record read twice counts once)."""

    slave_id: SlaveId
    market: Market
    items: tuple[IncomeItem, ...]
    t_ns: int


class SlaveStatusReport(Msg, tag="status", frozen=True, kw_only=True):
    """Periodic state of one slave."""

    slave_id: SlaveId
    state: SlaveState
    markets: tuple[MarketStatus, ...] = ()
    last_latency_ns: int | None = None  # master receipt -> slave order ack of the last order
    errors: tuple[str, ...] = ()
    t_ns: int


class DesyncDetected(Msg, tag="desync", frozen=True, kw_only=True):
    slave_id: SlaveId
    market: Market
    cause: Literal["gap", "restart", "drift", "reconnect", "start", "stale"]
    detail: str = ""
    drifts: tuple[PositionDrift, ...] = ()
    t_ns: int


class Reconciled(Msg, tag="reconciled", frozen=True, kw_only=True):
    slave_id: SlaveId
    market: Market
    orders: NonNegInt  # corrective orders sent
    drifts: tuple[PositionDrift, ...] = ()  # drift left (e.g. below min notional)
    t_ns: int
    # The master snapshot this sync brought the slave to (0: a periodic check, covers no fill).
    # Control marks the master fills of that epoch up to `master_seq` (and of older epochs) that
    # this slave never decided as "covered" (received while dead, lost in a gap): see coverage.py.
    master_epoch: int = 0
    master_seq: NonNegInt = 0


class SlaveError(Msg, tag="slaveerr", frozen=True, kw_only=True):
    slave_id: SlaveId
    code: str  # short machine code, e.g. "key_invalid", "ws_down"
    message: str
    market: Market | None = None
    fatal: bool = False
    t_ns: int


SlaveReport = Union[OrderMirrored, MirrorSkipped, OrderFailed, SlaveStatusReport, DesyncDetected, Reconciled, SlaveError, IncomeReport]

# --------------------------------------------------------------------------- control PUB -> actors


class SlaveConfigChanged(Msg, tag="slavecfg", frozen=True, kw_only=True):
    """A slave's config was set (or removed: `config` None). `version` increases per change."""

    slave_id: SlaveId
    config: SlaveConfig | None
    version: NonNegInt = 0


class PauseAllChanged(Msg, tag="pauseall", frozen=True, kw_only=True):
    paused: bool
    version: NonNegInt = 0


class FlattenCommand(Msg, tag="flatten", frozen=True, kw_only=True):
    """Close the slave's positions (all, one market, or one symbol) with reduce-only orders."""

    request_id: RequestId
    slave_id: SlaveId
    market: Market | None = None
    symbol: Symbol | None = None


ControlEvent = Union[SlaveConfigChanged, PauseAllChanged, FlattenCommand]
