"""The spot / margin order book's state: orders, their fills, one account's book (plain data)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from simulator.matching import Resting
from simulator.util import ZERO

OPEN_STATUSES = ("NEW", "PARTIALLY_FILLED")


@dataclass
class Fill:
    trade_id: int
    price: Decimal
    qty: Decimal
    quote_qty: Decimal
    commission: Decimal
    commission_asset: str
    time: int
    maker: bool


@dataclass
class Order:
    order_id: int
    account_id: str
    symbol: str
    side: str
    type: str
    tif: str
    price: Decimal
    orig_qty: Decimal
    client_order_id: str
    time: int
    arrival_ns: int
    transport: str
    orig_quote_qty: Decimal = ZERO
    stp: str = "EXPIRE_MAKER"
    executed_qty: Decimal = ZERO
    cum_quote: Decimal = ZERO
    status: str = "NEW"
    update_time: int = 0
    working_time: int = -1
    locked: Decimal = ZERO  # amount still locked for this order (quote for BUY, base for SELL)
    locked_asset: str = ""
    fills: list[Fill] = field(default_factory=list)
    resting: Resting | None = None
    side_effect: str = "NO_SIDE_EFFECT"
    borrowed: Decimal = ZERO  # margin: amount borrowed for this order (MARGIN_BUY)
    borrowed_asset: str = ""
    cancel_client_id: str = ""
    order_list_id: int = -1  # a leg of an order list (OCO: order_lists.py)
    stop_price: Decimal = ZERO  # STOP_LOSS(_LIMIT), TAKE_PROFIT(_LIMIT): working_time stays -1 until triggered

    @property
    def leaves(self) -> Decimal:
        return self.orig_qty - self.executed_qty

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


@dataclass
class AccountOrders:
    by_id: dict[int, Order] = field(default_factory=dict)
    by_client: dict[str, Order] = field(default_factory=dict)  # latest order with this client id
    open_client: dict[str, Order] = field(default_factory=dict)  # open orders by client id
    trades: list[tuple[Order, Fill]] = field(default_factory=list)
