"""USD-M futures of the simulator: the model the engine (futures.py) works on (pure, no I/O).

Formatting in Binance's shapes, the account / position /
order state, and the parsing of order parameters shared by REST and the WS API.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec

from simulator.futures_symbols import ZERO

ONE = Decimal(1)
DECIMAL_RE = re.compile(r"^([0-9]{1,20})(\.[0-9]{1,20})?$")
CLIENT_ID_RE = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
ALGO_TYPES = {"STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"}
ORDER_TYPES = {"LIMIT", "MARKET"} | ALGO_TYPES
TIME_IN_FORCE = {"GTC", "IOC", "FOK", "GTX", "GTD"}
STP_MODES = {"NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"}
DEFAULT_LEVERAGE = 20
OPEN_STATUSES = {"NEW", "PARTIALLY_FILLED"}


class FuturesReject(Exception):
    """A Binance error: ``code`` and ``msg`` go on the wire as ``{"code": .., "msg": ..}``."""

    def __init__(self, code: int, msg: str, http_status: int = 400) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.http_status = http_status


# ----------------------------------------------------------------------------------------------
# formatting


def plain(value: Decimal) -> str:
    """A Decimal as a plain string (never exponent notation), trailing zeros trimmed."""
    if value == 0:
        return "0"
    text = format(value.normalize(), "f")
    return text


def fixed(value: Decimal, places: int) -> str:
    """A Decimal rounded to ``places`` decimals, as a plain string ("0.00000000")."""
    rounded = value.quantize(Decimal(1).scaleb(-places))
    if rounded == 0:
        rounded = abs(rounded)  # never "-0.00000000"
    return format(rounded, "f")


def price_text(value: Decimal) -> str:
    """A computed price (entry, average, break-even): at most 8 decimals, plain."""
    return plain(value.quantize(Decimal("1E-8")))


def decimals(value: Decimal) -> int:
    """How many decimals ``value`` really has ("0.0100" has 2)."""
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def sign(value: Decimal) -> int:
    return (value > 0) - (value < 0)


# ----------------------------------------------------------------------------------------------
# state


class Position(msgspec.Struct):
    """One position of an account, keyed by (symbol, positionSide)."""

    symbol: str
    side: str  # BOTH, LONG or SHORT
    amt: Decimal = ZERO  # signed: > 0 long, < 0 short
    entry: Decimal = ZERO
    realized: Decimal = ZERO  # accumulated realized PnL, pre-fee (wire "cr")
    isolated_wallet: Decimal = ZERO  # wire "iw"
    update_time: int = 0


class FuturesOrder(msgspec.Struct):
    """One futures order (open or final)."""

    order_id: int
    symbol: str
    client_order_id: str
    side: str
    position_side: str
    type: str
    time_in_force: str
    orig_qty: Decimal
    price: Decimal
    reduce_only: bool
    time: int
    update_time: int
    status: str = "NEW"
    executed_qty: Decimal = ZERO
    cum_quote: Decimal = ZERO
    stp_mode: str = "EXPIRE_MAKER"
    good_till_date: int = 0
    price_match: str = "NONE"
    working_type: str = "CONTRACT_PRICE"
    expire_reason: str = "0"
    orig_type: str = ""  # the algo order type (STOP_MARKET ...) of an order an algo order placed

    @property
    def remaining(self) -> Decimal:
        return self.orig_qty - self.executed_qty

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def avg_price(self) -> Decimal:
        return self.cum_quote / self.executed_qty if self.executed_qty else ZERO


class OrderRequest(msgspec.Struct, frozen=True):
    """A validated-for-syntax POST /fapi/v1/order (or order.place) request."""

    symbol: str
    side: str
    type: str
    quantity: Decimal
    price: Decimal | None = None
    time_in_force: str | None = None
    position_side: str | None = None
    reduce_only: bool | None = None  # None: not sent
    new_client_order_id: str | None = None
    new_order_resp_type: str = "ACK"
    stp_mode: str = "EXPIRE_MAKER"
    good_till_date: int = 0


@dataclass
class FuturesAccount:
    """Futures state of one account (USDT single-asset mode)."""

    account_id: str
    cross_wallet: Decimal = ZERO
    dual_side: bool = False
    multi_assets: bool = False
    maker_rate: Decimal = Decimal("0.0002")
    taker_rate: Decimal = Decimal("0.0005")
    leverage: dict[str, int] = field(default_factory=dict)
    isolated: dict[str, bool] = field(default_factory=dict)
    positions: dict[tuple[str, str], Position] = field(default_factory=dict)
    orders: dict[int, FuturesOrder] = field(default_factory=dict)
    # orders that may still be open (a closed one is dropped when next seen): open_orders() runs on
    # every order and fill, and scanning the whole history made the simulator slow down as it grew
    live: dict[int, FuturesOrder] = field(default_factory=dict)
    live_seen: int = 0  # orders stored through add_order(); differs from len(orders) if one was not
    update_time: int = 0  # last change of the USDT asset (wallet): "updateTime" of assets and balance
    can_trade: bool = True

    def lev(self, symbol: str) -> int:
        return self.leverage.get(symbol, DEFAULT_LEVERAGE)

    def is_isolated(self, symbol: str) -> bool:
        return self.isolated.get(symbol, False)

    def position(self, symbol: str, side: str) -> Position:
        key = (symbol, side)
        pos = self.positions.get(key)
        if pos is None:
            pos = self.positions[key] = Position(symbol, side)
        return pos

    def add_order(self, order: FuturesOrder) -> None:
        self.orders[order.order_id] = order
        self.live[order.order_id] = order
        self.live_seen += 1

    def open_orders(self, symbol: str | None = None) -> list[FuturesOrder]:
        live = self.live
        if self.live_seen != len(self.orders):  # orders stored without add_order(): take them all
            live.clear()
            live.update(self.orders)
            self.live_seen = len(self.orders)
        closed = [oid for oid, o in live.items() if not o.is_open]
        for oid in closed:
            del live[oid]
        return [o for o in live.values() if symbol is None or o.symbol == symbol]

    def has_position(self, symbol: str | None = None) -> bool:
        return any(p.amt != 0 for (s, _), p in self.positions.items() if symbol is None or s == symbol)

    @property
    def isolated_total(self) -> Decimal:
        return sum((p.isolated_wallet for p in self.positions.values()), ZERO)

    @property
    def wallet(self) -> Decimal:
        return self.cross_wallet + self.isolated_total


class FillResult(msgspec.Struct):
    """What one fill did: for responses and tests."""

    qty: Decimal
    price: Decimal
    realized_pnl: Decimal
    commission: Decimal
    trade_id: int
    maker: bool


class Totals(msgspec.Struct):
    """Account-level USDT figures (the 'total*' and asset fields of /fapi/v2/account)."""

    wallet: Decimal
    cross_wallet: Decimal
    unrealized: Decimal
    cross_unrealized: Decimal
    margin_balance: Decimal
    position_im: Decimal  # all positions
    cross_position_im: Decimal
    open_order_im: Decimal
    initial_margin: Decimal  # position_im + open_order_im
    maint_margin: Decimal
    available: Decimal
    max_withdraw: Decimal


class PositionFigures(msgspec.Struct):
    """Mark-price figures of one position."""

    mark: Decimal
    notional: Decimal  # signed
    unrealized: Decimal
    position_im: Decimal
    open_order_im: Decimal
    maint_margin: Decimal
    isolated_margin: Decimal  # iw + unrealized for isolated positions, else 0
    break_even: Decimal


# ----------------------------------------------------------------------------------------------
# parameter parsing (pure, shared by REST and WS-API)


def _decimal(params: Mapping[str, Any], name: str) -> Decimal | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    text = str(raw)
    if not DECIMAL_RE.match(text):  # "1e-05", "-1", "1,5" ... are refused as on Binance
        raise FuturesReject(-1100, f"Illegal characters found in parameter '{name}'; legal range is '{DECIMAL_RE.pattern}'.")
    try:
        return Decimal(text)
    except InvalidOperation:  # unreachable after the regex
        raise FuturesReject(-1100, f"Illegal characters found in parameter '{name}'.") from None


def _bool_param(params: Mapping[str, Any], name: str) -> bool | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    text = str(raw).lower()
    if text not in ("true", "false"):
        raise FuturesReject(-1130, f"Data sent for parameter '{name}' is not valid.")
    return text == "true"


def mandatory(params: Mapping[str, Any], name: str) -> str:
    raw = params.get(name)
    if raw is None or raw == "":
        raise FuturesReject(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")
    return str(raw)


def parse_order_params(params: Mapping[str, Any]) -> OrderRequest:
    """Syntax checks of a new-order request; raises FuturesReject with Binance's codes."""
    symbol = mandatory(params, "symbol").upper()
    side = mandatory(params, "side")
    if side not in ("BUY", "SELL"):
        raise FuturesReject(-1117, "Invalid side.")
    otype = mandatory(params, "type")
    if otype not in ORDER_TYPES:
        raise FuturesReject(-1116, "Invalid orderType.")
    if otype in ALGO_TYPES:
        raise FuturesReject(-4120, "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.")
    if _bool_param(params, "closePosition"):
        raise FuturesReject(-1106, "Parameter 'closePosition' sent when not required.")
    quantity = _decimal(params, "quantity")
    if quantity is None:
        raise FuturesReject(-1102, "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.")
    if quantity <= 0:
        raise FuturesReject(-4003, "Quantity less than or equal to zero.")
    price = _decimal(params, "price")
    tif = params.get("timeInForce") or None
    if otype == "LIMIT":
        if price is None:
            raise FuturesReject(-1102, "Mandatory parameter 'price' was not sent, was empty/null, or malformed.")
        if price <= 0:
            raise FuturesReject(-4001, "Price less than 0.")
        if tif is None:
            raise FuturesReject(-1102, "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed.")
        if tif not in TIME_IN_FORCE:
            raise FuturesReject(-1115, "Invalid timeInForce.")
    else:
        if price is not None:
            raise FuturesReject(-1106, "Parameter 'price' sent when not required.")
        if tif is not None:
            raise FuturesReject(-1106, "Parameter 'timeInForce' sent when not required.")
    gtd = 0
    if tif == "GTD":
        raw_gtd = params.get("goodTillDate")
        if raw_gtd in (None, ""):
            raise FuturesReject(-1102, "Mandatory parameter 'goodTillDate' was not sent, was empty/null, or malformed.")
        try:
            gtd = int(str(raw_gtd)) // 1000 * 1000
        except ValueError:
            raise FuturesReject(-1102, "Mandatory parameter 'goodTillDate' was not sent, was empty/null, or malformed.") from None
    position_side = params.get("positionSide") or None
    if position_side is not None and position_side not in ("BOTH", "LONG", "SHORT"):
        raise FuturesReject(-4060, "Invalid position side.")
    client_id = params.get("newClientOrderId") or None
    if client_id is not None and not CLIENT_ID_RE.match(str(client_id)):
        raise FuturesReject(-4015, "Client order id is not valid.")
    resp_type = params.get("newOrderRespType") or "ACK"
    if resp_type not in ("ACK", "RESULT"):
        raise FuturesReject(-1136, "Invalid newOrderRespType.")
    stp = params.get("selfTradePreventionMode") or "EXPIRE_MAKER"
    if stp not in STP_MODES:
        raise FuturesReject(-1130, "Data sent for parameter 'selfTradePreventionMode' is not valid.")
    if params.get("priceMatch") not in (None, "", "NONE"):
        raise FuturesReject(-1106, "Parameter 'priceMatch' sent when not required.")
    return OrderRequest(
        symbol=symbol,
        side=side,
        type=otype,
        quantity=quantity,
        price=price,
        time_in_force=(tif if otype == "LIMIT" else "GTC"),
        position_side=position_side,
        reduce_only=_bool_param(params, "reduceOnly"),
        new_client_order_id=client_id,
        new_order_resp_type=resp_type,
        stp_mode=stp,
        good_till_date=gtd,
    )
