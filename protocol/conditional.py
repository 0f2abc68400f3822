"""The master's conditional orders (USD-M stop-loss / take-profit, Binance's Algo Service) as
published to the slaves: `ConditionalOrder` (embedded in `MasterAlgoOrder` and in every
`PositionSnapshot`) and `MasterAlgoOrder` (one change of one, numbered in the master's sequence).

Import them from `protocol.messages` (which re-exports both) or from here."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

import msgspec

from .vocabulary import (
    AlgoAction,
    Asset,
    ConditionalType,
    Market,
    Msg,
    Part,
    PositionSide,
    Side,
    Symbol,
    TimeInForce,
    WorkingType,
    _check_finite,
    _check_non_negative,
)


class ConditionalOrder(Part, frozen=True, kw_only=True):
    """One conditional (algo) order of the master, as the Algo Service last reported it."""

    symbol: Symbol
    position_side: PositionSide
    side: Side
    algo_id: int  # the master's algo id (its own number space, not an order id)
    client_algo_id: str
    order_type: ConditionalType
    trigger_price: Decimal  # 0 for TRAILING_STOP_MARKET (it has none)
    price: Decimal = Decimal(0)  # STOP / TAKE_PROFIT: the limit price once triggered
    quantity: Decimal = Decimal(0)  # 0 with close_position
    close_position: bool = False  # "close-all": the whole position of its side when triggered
    reduce_only: bool = False
    working_type: WorkingType = "CONTRACT_PRICE"
    price_protect: bool = False
    time_in_force: TimeInForce = "GTC"
    # TRAILING_STOP_MARKET: the price that activates it (0: active from placement) and the
    # callback rate in percent (0.1 .. 10), read from the Algo Service (ALGO_UPDATE lacks both)
    activate_price: Decimal = Decimal(0)
    callback_rate: Decimal = Decimal(0)
    # the master's position of (symbol, position_side) when the order was placed (after a
    # restart: when the listener first saw it): the base of the fraction a quantity stop copies
    position_at_place: Decimal
    actual_order_id: int = 0  # once triggered: the order it became in the matching engine
    update_ms: int = 0  # exchange time of the last change

    def __post_init__(self) -> None:
        _check_non_negative(self, "trigger_price", "price", "quantity", "activate_price", "callback_rate")
        _check_finite(self, "position_at_place")
        if not self.close_position and self.quantity <= 0:
            raise ValueError("a conditional order without close_position needs a quantity > 0")
        if self.order_type == "TRAILING_STOP_MARKET":
            if not Decimal("0.1") <= self.callback_rate <= Decimal(10):
                raise ValueError("a trailing stop needs a callback rate of 0.1 to 10 (%)")
            if self.close_position:
                raise ValueError("a trailing stop cannot be close-all")
        elif self.trigger_price <= 0:
            raise ValueError("a conditional order needs a trigger price > 0")


class MirroredOrder(Part, frozen=True, kw_only=True):
    """One open copy a slave holds of a master order, beside the master's (its status report:
    `copytrader status`, the TUI): a resting order ("limit") or a stop ("stop")."""

    kind: Literal["limit", "stop"]
    symbol: Symbol
    position_side: PositionSide
    side: Side
    order_type: str
    master_id: int  # the master's order id (limit) or algo id (stop)
    price: Decimal  # the limit price, or a stop's trigger price
    qty: Decimal = Decimal(0)  # ours (0: close-all)
    master_qty: Decimal = Decimal(0)  # the master's (what it has left; 0: close-all)
    close_position: bool = False
    triggered: bool = False  # a stop whose master order triggered (settling)


class MasterAlgoOrder(Msg, tag="algo", frozen=True, kw_only=True):
    """A conditional order of the master was placed, canceled, triggered, finished, rejected or
    expired (ALGO_UPDATE). The fills of the order it triggers are MasterFill events with its
    `actual_order_id`, numbered in the same sequence after the "triggered" event."""

    market: Market
    epoch: int
    seq: Annotated[int, msgspec.Meta(ge=1)]
    action: AlgoAction
    order: ConditionalOrder
    position: Decimal  # the master's position of the order's (symbol, position_side) now
    equity: Decimal
    equity_asset: Asset = "USDT"
    t_exchange_ms: int
    t_master_recv_ns: int
    t_master_pub_ns: int

    def __post_init__(self) -> None:
        _check_non_negative(self, "equity")
        _check_finite(self, "position")
