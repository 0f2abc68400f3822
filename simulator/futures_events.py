"""The user-data events of the futures engine, in Binance's wire shapes (ORDER_TRADE_UPDATE,
ACCOUNT_UPDATE): built from the state, nothing changed here.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .futures_model import ZERO, FillResult, FuturesAccount, FuturesOrder, Position, fixed, plain, price_text
from .futures_symbols import QUOTE


class _FuturesEvents:
    """The part of `FuturesEngine` (futures.py) named in this module's docstring; `FuturesEngine` inherits it."""

    # ---- wire: user-data events --------------------------------------------------------------

    def _order_event(
        self, acct: FuturesAccount, order: FuturesOrder, exec_type: str, now: int, fill: FillResult | None = None
    ) -> dict[str, Any]:
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
                "ot": order.orig_type or order.type,  # original order type
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

    def _account_update(
        self, acct: FuturesAccount, reason: str, positions: list[Position], now: int, balance_change: Decimal = ZERO
    ) -> dict[str, Any]:
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
