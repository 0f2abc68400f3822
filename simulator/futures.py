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
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from .futures_accounting import _FuturesAccounting
from .futures_events import _FuturesEvents
from .futures_model import ZERO, FillResult, FuturesAccount, FuturesOrder, FuturesReject, OrderRequest, plain, sign
from .futures_symbols import _ALT_BRACKETS, _BTC_BRACKETS, FuturesSymbol, _sym

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
# the engine


class FuturesEngine(_FuturesEvents, _FuturesAccounting):
    """All futures accounts of the simulator. Single-threaded: call it from one event loop."""

    def __init__(
        self,
        symbols: Mapping[str, FuturesSymbol] | None = None,
        order_ids: Callable[[], int] | None = None,
        trade_ids: Callable[[], int] | None = None,
    ) -> None:
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
            raise (
                FuturesReject(-1121, "Invalid symbol.")
                if symbol not in self.symbols
                else FuturesReject(-1000, f"No mark price for {symbol} yet.", 500)
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
        if req.new_client_order_id is not None and any(o.client_order_id == req.new_client_order_id for o in acct.open_orders()):
            raise FuturesReject(-4116, "ClientOrderId is duplicated.")
        if not closing and req.quantity * ref_price < spec.min_notional:
            raise FuturesReject(
                -4164, f"Order's notional must be no smaller than {plain(spec.min_notional)} (unless you choose reduce only)."
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
            order_id=self._order_ids(),
            symbol=req.symbol,
            client_order_id=client_id,
            side=req.side,
            position_side=position_side,
            type=req.type,
            time_in_force=req.time_in_force or "GTC",
            orig_qty=req.quantity,
            price=req.price if req.price is not None else ZERO,
            reduce_only=closing,
            time=now,
            update_time=now,
            stp_mode=req.stp_mode,
            good_till_date=req.good_till_date,
        )
        acct.add_order(order)
        return order, [self._order_event(acct, order, "NEW", now)]

    def cancel_order(
        self, account_id: str, symbol: str, order_id: int | None, client_id: str | None, now: int
    ) -> tuple[FuturesOrder, list[dict[str, Any]]]:
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

    def fill(
        self, account_id: str, order_id: int, qty: Decimal, price: Decimal, maker: bool, now: int, exec_type: str = "TRADE"
    ) -> tuple[FillResult | None, list[dict[str, Any]]]:
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

    def _auto_client_id(self) -> str:
        self._auto_client_seq += 1
        return f"sim{self._auto_client_seq:019d}"
