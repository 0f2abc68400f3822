"""The futures engine's accounting (a fill on a position, margin figures, totals) and the checks an
order passes before it is accepted (position side, reduce-only, filters), as Binance does them.
"""

from __future__ import annotations

from decimal import Decimal

from .futures_model import (
    ZERO,
    FuturesAccount,
    FuturesOrder,
    FuturesReject,
    OrderRequest,
    Position,
    PositionFigures,
    Totals,
    decimals,
    plain,
    sign,
)
from .futures_symbols import FuturesSymbol


class _FuturesAccounting:
    """The part of `FuturesEngine` (futures.py) named in this module's docstring; `FuturesEngine` inherits it."""

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
        oo_im = sum((self._order_im(acct, o) for o in acct.open_orders(pos.symbol) if o.position_side == pos.side), ZERO)
        iso = acct.is_isolated(pos.symbol) and pos.amt != 0
        rate = acct.taker_rate
        if pos.amt > 0:
            bep = pos.entry * (1 + rate) / (1 - rate)
        elif pos.amt < 0:
            bep = pos.entry * (1 - rate) / (1 + rate)
        else:
            bep = ZERO
        return PositionFigures(
            mark=mark,
            notional=notional,
            unrealized=unrealized,
            position_im=abs(notional) / lev,
            open_order_im=oo_im,
            maint_margin=spec.maint_margin(abs(notional)),
            isolated_margin=(pos.isolated_wallet + unrealized) if iso else ZERO,
            break_even=bep,
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
            wallet=wallet,
            cross_wallet=acct.cross_wallet,
            unrealized=unrealized,
            cross_unrealized=cross_unrealized,
            margin_balance=wallet + unrealized,
            position_im=position_im,
            cross_position_im=cross_im,
            open_order_im=oo_im,
            initial_margin=position_im + oo_im,
            maint_margin=maint,
            available=available,
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
            pending = sum((o.remaining for o in acct.open_orders(req.symbol) if o.position_side == position_side and o.reduce_only), ZERO)
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

    @staticmethod
    def _sides(acct: FuturesAccount) -> tuple[str, ...]:
        return ("LONG", "SHORT") if acct.dual_side else ("BOTH",)

    def _symbol_positions(self, acct: FuturesAccount, symbol: str) -> list[Position]:
        return [acct.position(symbol, side) for side in self._sides(acct)]
