"""USD-M futures of the simulator: the symbols and their leverage brackets (split from futures_model.py)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import msgspec

ZERO = Decimal(0)
QUOTE = "USDT"


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
    floor = cum = prev_mmr = Decimal(0)
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
    symbol: str,
    base: str,
    pp: int,
    qp: int,
    tick: str,
    step: str,
    min_notional: str,
    max_qty: str,
    market_max: str,
    brackets: tuple[Bracket, ...],
    min_price: str,
    max_price: str,
) -> FuturesSymbol:
    return FuturesSymbol(
        symbol=symbol,
        base_asset=base,
        price_precision=pp,
        quantity_precision=qp,
        tick_size=Decimal(tick),
        min_price=Decimal(min_price),
        max_price=Decimal(max_price),
        step_size=Decimal(step),
        min_qty=Decimal(step),
        max_qty=Decimal(max_qty),
        market_min_qty=Decimal(step),
        market_max_qty=Decimal(market_max),
        min_notional=Decimal(min_notional),
        brackets=brackets,
    )
