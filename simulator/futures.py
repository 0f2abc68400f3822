"""USD-M futures accounting engine of the simulator: pure logic, no I/O.

The engine keeps, per account, the position mode, per-symbol leverage and margin type, the USDT
wallet, the positions per (symbol, positionSide) and the orders. It validates new orders the way
Binance does (same error codes), applies fills (entry price, realized PnL, commission, isolated
wallets) and returns the user-data events each change produces, in Binance's wire shapes
(``ORDER_TRADE_UPDATE``, ``ACCOUNT_UPDATE``, ``ACCOUNT_CONFIG_UPDATE``).

It never decides *when* or *at what price* an order fills: the API layer asks the price engine /
matching helpers and then calls :meth:`FuturesEngine.fill`. Mark prices are pushed in with
:meth:`FuturesEngine.set_mark`. Times are passed in (``now`` in ms), so every result is
reproducible.

Accounting model (single-asset USDT mode), see simulator/FUTURES.md:
- crossWalletBalance = USDT not held by isolated positions; walletBalance = cross + sum(iw).
- Realized PnL and commissions settle in the cross wallet.
- Isolated: a fill that opens moves qty*price/leverage from the cross wallet to the position's
  isolated wallet (``iw``); a reducing fill releases the same fraction of ``iw`` back.
- unrealized PnL = amt * (mark - entry); marginBalance = walletBalance + unrealizedProfit.
- availableBalance = crossWallet + crossUnPnl - crossPositionIM - openOrderIM.
"""
from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import msgspec

ZERO = Decimal(0)
ONE = Decimal(1)
QUOTE = "USDT"
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
# symbols


class Bracket(msgspec.Struct, frozen=True):
    """One notional bracket of GET /fapi/v1/leverageBracket."""

    bracket: int
    initial_leverage: int
    notional_floor: Decimal
    notional_cap: Decimal
    maint_margin_ratio: Decimal
    cum: Decimal


def make_brackets(rows: Iterable[tuple[int, int, str]]) -> tuple[Bracket, ...]:
    """Brackets from (notionalCap, initialLeverage, maintMarginRatio) rows, cum computed.

    cum_n = cum_{n-1} + floor_n * (mmr_n - mmr_{n-1}), Binance's maintenance amount.
    """
    out: list[Bracket] = []
    floor, cum, prev_mmr = ZERO, ZERO, ZERO
    for index, (cap, lev, mmr_text) in enumerate(rows, start=1):
        mmr = Decimal(mmr_text)
        cum = cum + floor * (mmr - prev_mmr)
        out.append(Bracket(index, lev, floor, Decimal(cap), mmr, cum))
        floor, prev_mmr = Decimal(cap), mmr
    return tuple(out)


class FuturesSymbol(msgspec.Struct, frozen=True):
    """A perpetual USDT-margined contract and its filters."""

    symbol: str
    base_asset: str
    price_precision: int
    quantity_precision: int
    tick_size: Decimal
    min_price: Decimal
    max_price: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal
    market_min_qty: Decimal
    market_max_qty: Decimal
    min_notional: Decimal
    brackets: tuple[Bracket, ...]
    multiplier_up: Decimal = Decimal("1.0500")
    multiplier_down: Decimal = Decimal("0.9500")
    multiplier_decimal: int = 4
    quote_asset: str = QUOTE

    @property
    def max_leverage(self) -> int:
        return self.brackets[0].initial_leverage

    def max_notional(self, leverage: int) -> Decimal:
        """The largest notional a position may reach at ``leverage``."""
        caps = [b.notional_cap for b in self.brackets if b.initial_leverage >= leverage]
        return max(caps) if caps else ZERO

    def bracket_for(self, notional: Decimal) -> Bracket:
        for bracket in self.brackets:
            if notional < bracket.notional_cap:
                return bracket
        return self.brackets[-1]

    def maint_margin(self, notional: Decimal) -> Decimal:
        if notional == 0:
            return ZERO
        bracket = self.bracket_for(notional)
        return notional * bracket.maint_margin_ratio - bracket.cum


_BTC_BRACKETS = make_brackets(
    [
        (50_000, 125, "0.004"),
        (600_000, 100, "0.005"),
        (3_000_000, 75, "0.0065"),
        (12_000_000, 50, "0.01"),
        (70_000_000, 25, "0.02"),
        (100_000_000, 20, "0.025"),
        (230_000_000, 10, "0.05"),
        (480_000_000, 5, "0.1"),
        (600_000_000, 4, "0.125"),
        (800_000_000, 3, "0.15"),
        (1_200_000_000, 2, "0.25"),
        (1_800_000_000, 1, "0.5"),
    ]
)
_ALT_BRACKETS = make_brackets(
    [
        (5_000, 75, "0.005"),
        (50_000, 50, "0.01"),
        (600_000, 25, "0.02"),
        (3_000_000, 20, "0.025"),
        (12_000_000, 10, "0.05"),
        (20_000_000, 5, "0.1"),
        (25_000_000, 4, "0.125"),
        (50_000_000, 2, "0.25"),
        (100_000_000, 1, "0.5"),
    ]
)


def _sym(
    symbol: str, base: str, pp: int, qp: int, tick: str, step: str, min_notional: str,
    max_qty: str, market_max: str, brackets: tuple[Bracket, ...], min_price: str, max_price: str,
) -> FuturesSymbol:
    return FuturesSymbol(
        symbol=symbol, base_asset=base, price_precision=pp, quantity_precision=qp,
        tick_size=Decimal(tick), min_price=Decimal(min_price), max_price=Decimal(max_price),
        step_size=Decimal(step), min_qty=Decimal(step), max_qty=Decimal(max_qty),
        market_min_qty=Decimal(step), market_max_qty=Decimal(market_max),
        min_notional=Decimal(min_notional), brackets=brackets,
    )


DEFAULT_SYMBOLS: dict[str, FuturesSymbol] = {
    s.symbol: s
    for s in (
        _sym("BTCUSDT", "BTC", 2, 3, "0.10", "0.001", "100", "1000", "120", _BTC_BRACKETS, "261.10", "809484"),
        _sym("ETHUSDT", "ETH", 2, 3, "0.01", "0.001", "20", "10000", "2000", _BTC_BRACKETS, "39.86", "306177"),
        _sym("SOLUSDT", "SOL", 4, 2, "0.0100", "0.01", "5", "1000000", "5000", _ALT_BRACKETS, "0.4200", "6857"),
        _sym("BNBUSDT", "BNB", 3, 2, "0.010", "0.01", "5", "100000", "2000", _ALT_BRACKETS, "6.600", "100000"),
        _sym("XRPUSDT", "XRP", 4, 1, "0.0001", "0.1", "5", "10000000", "2000000", _ALT_BRACKETS, "0.0143", "100000"),
        _sym("DOGEUSDT", "DOGE", 6, 0, "0.000010", "1", "5", "50000000", "30000000", _ALT_BRACKETS, "0.002440", "30"),
    )
}


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
        return any(
            p.amt != 0 for (s, _), p in self.positions.items() if symbol is None or s == symbol
        )

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
        raise FuturesReject(
            -4120, "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead."
        )
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
        symbol=symbol, side=side, type=otype, quantity=quantity, price=price,
        time_in_force=(tif if otype == "LIMIT" else "GTC"), position_side=position_side,
        reduce_only=_bool_param(params, "reduceOnly"), new_client_order_id=client_id,
        new_order_resp_type=resp_type, stp_mode=stp, good_till_date=gtd,
    )


# ----------------------------------------------------------------------------------------------
# the engine


class FuturesEngine:
    """All futures accounts of the simulator. Single-threaded: call it from one event loop."""

    def __init__(self, symbols: Mapping[str, FuturesSymbol] | None = None,
                 order_ids: Callable[[], int] | None = None, trade_ids: Callable[[], int] | None = None) -> None:
        """``order_ids`` / ``trade_ids``: id generators (default: counters of this engine)."""
        self.symbols: dict[str, FuturesSymbol] = dict(symbols or DEFAULT_SYMBOLS)
        self.accounts: dict[str, FuturesAccount] = {}
        self.marks: dict[str, Decimal] = {}
        self._order_ids = order_ids or itertools.count(4_000_000_001).__next__
        self._trade_ids = trade_ids or itertools.count(300_000_001).__next__
        self._auto_client_seq = 0

    # ---- set-up ------------------------------------------------------------------------------

    def open_account(self, account_id: str, usdt: Decimal = ZERO, funded_at: int = 0, **settings: Any) -> FuturesAccount:
        """Create (or return) an account; ``usdt`` is its initial cross wallet, credited at ``funded_at``
        (epoch ms): the asset's "updateTime" (0 only while the asset never held anything, as on Binance)."""
        acct = self.accounts.get(account_id)
        if acct is None:
            acct = self.accounts[account_id] = FuturesAccount(account_id, cross_wallet=Decimal(usdt), **settings)
            if acct.cross_wallet:
                acct.update_time = funded_at
        return acct

    def account(self, account_id: str) -> FuturesAccount:
        acct = self.accounts.get(account_id)
        if acct is None:
            acct = self.open_account(account_id)
        return acct

    def set_mark(self, symbol: str, price: Decimal) -> None:
        self.marks[symbol] = Decimal(price)

    def mark(self, symbol: str) -> Decimal:
        mark = self.marks.get(symbol)
        if mark is None:
            raise FuturesReject(-1121, "Invalid symbol.") if symbol not in self.symbols else FuturesReject(
                -1000, f"No mark price for {symbol} yet.", 500
            )
        return mark

    def spec(self, symbol: str) -> FuturesSymbol:
        spec = self.symbols.get(symbol)
        if spec is None:
            raise FuturesReject(-1121, "Invalid symbol.")
        return spec

    def deposit(self, account_id: str, amount: Decimal, now: int) -> list[dict[str, Any]]:
        """Credit (or debit, if negative) the USDT cross wallet; returns the ACCOUNT_UPDATE."""
        acct = self.account(account_id)
        acct.cross_wallet += Decimal(amount)
        acct.update_time = now
        reason = "DEPOSIT" if amount >= 0 else "WITHDRAW"
        return [self._account_update(acct, reason, [], now, balance_change=Decimal(amount))]

    # ---- configuration -----------------------------------------------------------------------

    def set_position_mode(self, account_id: str, dual: bool, now: int) -> list[dict[str, Any]]:
        acct = self.account(account_id)
        if acct.dual_side == dual:
            raise FuturesReject(-4059, "No need to change position side.")
        if acct.open_orders():
            raise FuturesReject(-4067, "Position side cannot be changed if there exists open orders.")
        if acct.has_position():
            raise FuturesReject(-4068, "Position side cannot be changed if there exists position.")
        acct.dual_side = dual
        return []

    def set_margin_type(self, account_id: str, symbol: str, margin_type: str, now: int) -> list[dict[str, Any]]:
        self.spec(symbol)
        acct = self.account(account_id)
        mt = margin_type.upper()
        if mt not in ("ISOLATED", "CROSSED"):
            raise FuturesReject(-1130, "Data sent for parameter 'marginType' is not valid.")
        want = mt == "ISOLATED"
        if acct.is_isolated(symbol) == want:
            raise FuturesReject(-4046, "No need to change margin type.")
        if acct.open_orders(symbol):
            raise FuturesReject(-4047, "Margin type cannot be changed if there exists open orders.")
        if acct.has_position(symbol):
            raise FuturesReject(-4048, "Margin type cannot be changed if there exists position.")
        acct.isolated[symbol] = want
        return []

    def set_leverage(self, account_id: str, symbol: str, leverage: int, now: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Change the initial leverage; returns (response, [ACCOUNT_CONFIG_UPDATE])."""
        spec = self.spec(symbol)
        acct = self.account(account_id)
        if leverage < 1 or leverage > spec.max_leverage:
            raise FuturesReject(-4028, f"Leverage {leverage} is not valid")
        max_notional = spec.max_notional(leverage)
        for side in self._sides(acct):
            pos = acct.positions.get((symbol, side))
            if pos is not None and pos.amt != 0 and abs(pos.amt) * self.mark(symbol) > max_notional:
                raise FuturesReject(-2027, "Exceeded the maximum allowable position at current leverage.")
        acct.leverage[symbol] = leverage
        response = {"leverage": leverage, "maxNotionalValue": plain(max_notional), "symbol": symbol}
        event = {"e": "ACCOUNT_CONFIG_UPDATE", "E": now, "T": now, "ac": {"s": symbol, "l": leverage}}
        return response, [event]

    # ---- orders ------------------------------------------------------------------------------

    def find_order(self, account_id: str, symbol: str, order_id: int | None, client_id: str | None) -> FuturesOrder:
        """The order by id (preferred) or client id (the latest with that id); -2013 if none."""
        acct = self.account(account_id)
        order: FuturesOrder | None = None
        if order_id is not None:
            order = acct.orders.get(order_id)
        elif client_id is not None:
            matches = [o for o in acct.orders.values() if o.client_order_id == client_id and o.symbol == symbol]
            order = max(matches, key=lambda o: o.order_id) if matches else None
        else:
            raise FuturesReject(-1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!")
        if order is None or order.symbol != symbol:
            raise FuturesReject(-2013, "Order does not exist.")
        return order

    def place_order(self, account_id: str, req: OrderRequest, now: int) -> tuple[FuturesOrder, list[dict[str, Any]]]:
        """Validate and accept an order (status NEW). Fills come later through :meth:`fill`."""
        acct = self.account(account_id)
        spec = self.spec(req.symbol)
        position_side, closing = self._position_side(acct, req)
        self._check_filters(spec, req)
        mark = self.mark(req.symbol)
        ref_price = req.price if req.price is not None else mark
        if req.new_client_order_id is not None and any(
            o.client_order_id == req.new_client_order_id for o in acct.open_orders()
        ):
            raise FuturesReject(-4116, "ClientOrderId is duplicated.")
        if not closing and req.quantity * ref_price < spec.min_notional:
            raise FuturesReject(
                -4164,
                f"Order's notional must be no smaller than {plain(spec.min_notional)} (unless you choose reduce only).",
            )
        if closing:
            self._check_reduce(acct, req, position_side)
        opening = self._opening_qty(acct, req.symbol, req.side, position_side, req.quantity, closing)
        required = opening * ref_price / acct.lev(req.symbol)
        if opening > 0:
            max_notional = spec.max_notional(acct.lev(req.symbol))
            pos = acct.positions.get((req.symbol, position_side))
            held = abs(pos.amt) if pos is not None else ZERO
            if (held + opening) * ref_price > max_notional:
                raise FuturesReject(-2027, "Exceeded the maximum allowable position at current leverage.")
        if required > 0 and required > self.totals(acct).available:
            raise FuturesReject(-2019, "Margin is insufficient.")
        client_id = req.new_client_order_id or self._auto_client_id()
        order = FuturesOrder(
            order_id=self._order_ids(), symbol=req.symbol, client_order_id=client_id,
            side=req.side, position_side=position_side, type=req.type,
            time_in_force=req.time_in_force or "GTC", orig_qty=req.quantity,
            price=req.price if req.price is not None else ZERO, reduce_only=closing,
            time=now, update_time=now, stp_mode=req.stp_mode, good_till_date=req.good_till_date,
        )
        acct.add_order(order)
        return order, [self._order_event(acct, order, "NEW", now)]

    def cancel_order(self, account_id: str, symbol: str, order_id: int | None, client_id: str | None,
                     now: int) -> tuple[FuturesOrder, list[dict[str, Any]]]:
        acct = self.account(account_id)
        try:
            order = self.find_order(account_id, symbol, order_id, client_id)
        except FuturesReject as exc:
            if exc.code == -2013:
                raise FuturesReject(-2011, "Unknown order sent.") from None
            raise
        if not order.is_open:
            raise FuturesReject(-2011, "Unknown order sent.")
        order.status = "CANCELED"
        order.update_time = now
        return order, [self._order_event(acct, order, "CANCELED", now)]

    def expire_order(self, account_id: str, order_id: int, now: int, reason: str = "0") -> list[dict[str, Any]]:
        """End an open order as EXPIRED (IOC/FOK/MARKET remainder, reduce-only with nothing left)."""
        acct = self.account(account_id)
        order = acct.orders[order_id]
        if not order.is_open:
            return []
        order.status = "EXPIRED"
        order.expire_reason = reason
        order.update_time = now
        return [self._order_event(acct, order, "EXPIRED", now)]

    def fill(self, account_id: str, order_id: int, qty: Decimal, price: Decimal, maker: bool, now: int,
             exec_type: str = "TRADE") -> tuple[FillResult | None, list[dict[str, Any]]]:
        """Apply one execution of ``qty`` at ``price`` to an open order.

        Reduce-only (and hedge-mode closing) orders are clipped to the position left, so they can
        never flip or increase it; if nothing is left to reduce, the order expires instead.
        Returns (fill or None, events): ORDER_TRADE_UPDATE (TRADE) then ACCOUNT_UPDATE (ORDER).
        """
        acct = self.account(account_id)
        order = acct.orders[order_id]
        if not order.is_open:
            raise FuturesReject(-2013, "Order does not exist.")
        qty = min(Decimal(qty), order.remaining)
        pos = acct.position(order.symbol, order.position_side)
        delta_sign = 1 if order.side == "BUY" else -1
        if order.reduce_only:
            if pos.amt == 0 or sign(pos.amt) == delta_sign:
                return None, self.expire_order(account_id, order_id, now, reason="4")
            qty = min(qty, abs(pos.amt))
        if qty <= 0:
            return None, []
        realized = self._apply_to_position(acct, pos, delta_sign, qty, price, now)
        rate = acct.maker_rate if maker else acct.taker_rate
        commission = qty * price * rate
        acct.cross_wallet += realized - commission
        acct.update_time = now
        order.executed_qty += qty
        order.cum_quote += qty * price
        order.status = "FILLED" if order.remaining == 0 else "PARTIALLY_FILLED"
        order.update_time = now
        trade_id = self._trade_ids()
        result = FillResult(qty, price, realized, commission, trade_id, maker)
        events = [
            self._order_event(acct, order, exec_type, now, fill=result),  # CALCULATED: liquidation / ADL
            self._account_update(acct, "ORDER", self._symbol_positions(acct, order.symbol), now),
        ]
        if order.reduce_only and order.is_open and pos.amt == 0:
            events += self.expire_order(account_id, order_id, now, reason="4")
        return result, events

    # ---- accounting --------------------------------------------------------------------------

    def _apply_to_position(self, acct: FuturesAccount, pos: Position, delta_sign: int, qty: Decimal, price: Decimal, now: int) -> Decimal:
        """Move ``pos`` by ``delta_sign * qty`` at ``price``; returns the realized PnL (pre-fee)."""
        isolated = acct.is_isolated(pos.symbol)
        lev = Decimal(acct.lev(pos.symbol))
        old = pos.amt
        realized = ZERO
        if old == 0 or sign(old) == delta_sign:
            size = abs(old)
            pos.entry = (size * pos.entry + qty * price) / (size + qty)
            pos.amt = old + delta_sign * qty
            if isolated:
                self._move_to_isolated(acct, pos, qty * price / lev)
        else:
            closed = min(qty, abs(old))
            realized = closed * (price - pos.entry) * sign(old)
            if isolated:
                release = pos.isolated_wallet * closed / abs(old)
                pos.isolated_wallet -= release
                acct.cross_wallet += release
            pos.amt = old + delta_sign * qty
            opened = qty - closed
            if pos.amt == 0:
                pos.entry = ZERO
            elif opened > 0:  # flipped through zero: the rest opens at the fill price
                pos.entry = price
                if isolated:
                    self._move_to_isolated(acct, pos, opened * price / lev)
        pos.realized += realized
        pos.update_time = now
        return realized

    @staticmethod
    def _move_to_isolated(acct: FuturesAccount, pos: Position, amount: Decimal) -> None:
        acct.cross_wallet -= amount
        pos.isolated_wallet += amount

    def position_figures(self, acct: FuturesAccount, pos: Position) -> PositionFigures:
        spec = self.spec(pos.symbol)
        mark = self.marks.get(pos.symbol, pos.entry)
        lev = Decimal(acct.lev(pos.symbol))
        notional = pos.amt * mark
        unrealized = pos.amt * (mark - pos.entry)
        oo_im = sum(
            (self._order_im(acct, o) for o in acct.open_orders(pos.symbol) if o.position_side == pos.side),
            ZERO,
        )
        iso = acct.is_isolated(pos.symbol) and pos.amt != 0
        rate = acct.taker_rate
        if pos.amt > 0:
            bep = pos.entry * (1 + rate) / (1 - rate)
        elif pos.amt < 0:
            bep = pos.entry * (1 - rate) / (1 + rate)
        else:
            bep = ZERO
        return PositionFigures(
            mark=mark, notional=notional, unrealized=unrealized, position_im=abs(notional) / lev,
            open_order_im=oo_im, maint_margin=spec.maint_margin(abs(notional)),
            isolated_margin=(pos.isolated_wallet + unrealized) if iso else ZERO, break_even=bep,
        )

    def totals(self, acct: FuturesAccount) -> Totals:
        unrealized = cross_unrealized = position_im = cross_im = maint = ZERO
        for pos in acct.positions.values():
            if pos.amt == 0:
                continue
            fig = self.position_figures(acct, pos)
            unrealized += fig.unrealized
            position_im += fig.position_im
            if not acct.is_isolated(pos.symbol):
                cross_unrealized += fig.unrealized
                cross_im += fig.position_im
                maint += fig.maint_margin
        oo_im = sum((self._order_im(acct, o) for o in acct.open_orders()), ZERO)
        wallet = acct.wallet
        available = acct.cross_wallet + cross_unrealized - cross_im - oo_im
        max_withdraw = max(ZERO, min(available, acct.cross_wallet - cross_im - oo_im))
        return Totals(
            wallet=wallet, cross_wallet=acct.cross_wallet, unrealized=unrealized,
            cross_unrealized=cross_unrealized, margin_balance=wallet + unrealized,
            position_im=position_im, cross_position_im=cross_im, open_order_im=oo_im,
            initial_margin=position_im + oo_im, maint_margin=maint, available=available,
            max_withdraw=max_withdraw,
        )

    def _order_im(self, acct: FuturesAccount, order: FuturesOrder) -> Decimal:
        """Initial margin an open order reserves: the opening part of its remaining quantity."""
        if not order.is_open or order.reduce_only:
            return ZERO
        opening = self._opening_qty(acct, order.symbol, order.side, order.position_side, order.remaining, False)
        price = order.price if order.price > 0 else self.marks.get(order.symbol, ZERO)
        return opening * price / acct.lev(order.symbol)

    def _opening_qty(self, acct: FuturesAccount, symbol: str, side: str, position_side: str, qty: Decimal, closing: bool) -> Decimal:
        if closing:
            return ZERO
        if position_side != "BOTH":
            return qty
        pos = acct.positions.get((symbol, "BOTH"))
        amt = pos.amt if pos is not None else ZERO
        delta_sign = 1 if side == "BUY" else -1
        if amt != 0 and sign(amt) != delta_sign:
            return max(ZERO, qty - abs(amt))
        return qty

    # ---- validation --------------------------------------------------------------------------

    def _position_side(self, acct: FuturesAccount, req: OrderRequest) -> tuple[str, bool]:
        """(positionSide, closing) for a request, with Binance's mode rejections."""
        if acct.dual_side:
            if req.reduce_only is not None:
                raise FuturesReject(-1106, "Parameter 'reduceOnly' sent when not required.")
            if req.position_side not in ("LONG", "SHORT"):
                raise FuturesReject(-4061, "Order's position side does not match user's setting.")
            closing = (req.position_side == "LONG") == (req.side == "SELL")
            return req.position_side, closing
        if req.position_side not in (None, "BOTH"):
            raise FuturesReject(-4061, "Order's position side does not match user's setting.")
        return "BOTH", bool(req.reduce_only)

    def _check_reduce(self, acct: FuturesAccount, req: OrderRequest, position_side: str) -> None:
        """A reduce-only / closing order must face a position, and open closing orders with it
        must not exceed that position (-2022)."""
        pos = acct.positions.get((req.symbol, position_side))
        amt = pos.amt if pos is not None else ZERO
        delta_sign = 1 if req.side == "BUY" else -1
        if amt == 0 or sign(amt) == delta_sign:
            raise FuturesReject(-2022, "ReduceOnly Order is rejected.")
        if position_side != "BOTH":
            pending = sum(
                (o.remaining for o in acct.open_orders(req.symbol) if o.position_side == position_side and o.reduce_only),
                ZERO,
            )
            if pending + req.quantity > abs(amt):
                raise FuturesReject(-2022, "ReduceOnly Order is rejected.")

    def _check_filters(self, spec: FuturesSymbol, req: OrderRequest) -> None:
        qty = req.quantity
        if decimals(qty) > spec.quantity_precision:
            raise FuturesReject(-1111, "Precision is over the maximum defined for this asset.")
        if req.type == "MARKET":
            lo, hi = spec.market_min_qty, spec.market_max_qty
        else:
            lo, hi = spec.min_qty, spec.max_qty
        if qty < lo:
            raise FuturesReject(-4004, f"Quantity less than min quantity {plain(lo)}.")
        if qty > hi:
            raise FuturesReject(-4005, f"Quantity greater than max quantity {plain(hi)}.")
        if (qty - lo) % spec.step_size != 0:
            raise FuturesReject(-4023, "Quantity not increased by step size.")
        if req.price is None:
            return
        price = req.price
        if decimals(price) > spec.price_precision:
            raise FuturesReject(-1111, "Precision is over the maximum defined for this asset.")
        if price < spec.min_price:
            raise FuturesReject(-4013, f"Price less than min price {plain(spec.min_price)}.")
        if price > spec.max_price:
            raise FuturesReject(-4002, f"Price greater than max price {plain(spec.max_price)}.")
        if (price - spec.min_price) % spec.tick_size != 0:
            raise FuturesReject(-4014, "Price not increased by tick size.")
        mark = self.marks.get(spec.symbol)
        if mark is not None:
            up = (mark * spec.multiplier_up).quantize(spec.tick_size)
            down = (mark * spec.multiplier_down).quantize(spec.tick_size)
            if req.side == "BUY" and price > up:
                raise FuturesReject(-4016, f"Limit price can't be higher than {plain(up)}.")
            if req.side == "SELL" and price < down:
                raise FuturesReject(-4024, f"Limit price can't be lower than {plain(down)}.")

    def _auto_client_id(self) -> str:
        self._auto_client_seq += 1
        return f"sim{self._auto_client_seq:019d}"

    @staticmethod
    def _sides(acct: FuturesAccount) -> tuple[str, ...]:
        return ("LONG", "SHORT") if acct.dual_side else ("BOTH",)

    def _symbol_positions(self, acct: FuturesAccount, symbol: str) -> list[Position]:
        return [acct.position(symbol, side) for side in self._sides(acct)]

    # ---- wire: user-data events --------------------------------------------------------------

    def _order_event(self, acct: FuturesAccount, order: FuturesOrder, exec_type: str, now: int,
                     fill: FillResult | None = None) -> dict[str, Any]:
        """ORDER_TRADE_UPDATE for one order change."""
        spec = self.spec(order.symbol)
        bids = asks = ZERO
        for o in acct.open_orders(order.symbol):
            notional = o.remaining * (o.price if o.price > 0 else self.marks.get(o.symbol, ZERO))
            if o.side == "BUY":
                bids += notional
            else:
                asks += notional
        return {
            "e": "ORDER_TRADE_UPDATE",
            "E": now,
            "T": now,
            "o": {
                "s": order.symbol,  # symbol
                "c": order.client_order_id,  # client order id
                "S": order.side,  # side
                "o": order.type,  # order type
                "f": order.time_in_force,  # time in force
                "q": fixed(order.orig_qty, spec.quantity_precision),  # original quantity
                "p": plain(order.price),  # original price
                "ap": price_text(order.avg_price),  # average price
                "sp": "0",  # stop price
                "x": exec_type,  # execution type
                "X": order.status,  # order status
                "i": order.order_id,  # order id
                "l": fixed(fill.qty, spec.quantity_precision) if fill else "0",  # last filled qty
                "z": fixed(order.executed_qty, spec.quantity_precision),  # accumulated filled qty
                "L": plain(fill.price) if fill else "0",  # last filled price
                "n": plain(fill.commission) if fill else "0",  # commission
                "N": QUOTE,  # commission asset
                "T": now,  # order trade time
                "t": fill.trade_id if fill else 0,  # trade id
                "b": plain(bids),  # bids notional
                "a": plain(asks),  # asks notional
                "m": fill.maker if fill else False,  # is maker
                "R": order.reduce_only,  # reduce only
                "wt": order.working_type,  # stop price working type
                "ot": order.type,  # original order type
                "ps": order.position_side,  # position side
                "cp": False,  # close-all
                "rp": plain(fill.realized_pnl) if fill else "0",  # realized profit of the trade
                "pP": False,  # price protection
                "si": 0,
                "ss": 0,
                "V": order.stp_mode,  # STP mode
                "pm": order.price_match,  # price match mode
                "gtd": order.good_till_date,  # GTD auto cancel time
                "er": order.expire_reason,  # expire reason
            },
        }

    def _account_update(self, acct: FuturesAccount, reason: str, positions: list[Position], now: int,
                        balance_change: Decimal = ZERO) -> dict[str, Any]:
        """ACCOUNT_UPDATE with the USDT balance and the given positions."""
        return {
            "e": "ACCOUNT_UPDATE",
            "E": now,
            "T": now,
            "a": {
                "m": reason,  # event reason type
                "B": [
                    {
                        "a": QUOTE,  # asset
                        "wb": fixed(acct.wallet, 8),  # wallet balance
                        "cw": fixed(acct.cross_wallet, 8),  # cross wallet balance
                        "bc": plain(balance_change),  # balance change except PnL and commission
                    }
                ],
                "P": [self.position_event(acct, p) for p in positions],
            },
        }

    def position_event(self, acct: FuturesAccount, pos: Position) -> dict[str, Any]:
        spec = self.spec(pos.symbol)
        fig = self.position_figures(acct, pos)
        return {
            "s": pos.symbol,  # symbol
            "pa": fixed(pos.amt, spec.quantity_precision),  # position amount
            "ep": price_text(pos.entry),  # entry price
            "bep": price_text(fig.break_even),  # breakeven price
            "cr": plain(pos.realized),  # (pre-fee) accumulated realized
            "up": fixed(fig.unrealized, 8),  # unrealized PnL
            "mt": "isolated" if acct.is_isolated(pos.symbol) else "cross",  # margin type
            "iw": fixed(pos.isolated_wallet, 8),  # isolated wallet
            "ps": pos.side,  # position side
        }
