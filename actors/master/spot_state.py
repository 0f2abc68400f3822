"""The master's spot and cross margin book, and every transition of it (pure: no I/O, no clock).

`actors/master/spot.py` is the adapter around it. Tested directly
(tests/unit/test_master_state_spot.py).

Spot (`SpotState`): holdings per asset (free, locked). A fill (executionReport x=TRADE) moves the
base asset by +l (BUY) / -l (SELL), minus the commission when it is paid in the base asset, and the
quote asset by -/+ l*L (minus a quote commission). outboundAccountPosition (time `u`) is
authoritative for the assets it lists unless it is older than the last fill applied to that asset.
A fill whose `T` is before the last balance time of its base asset is already contained in the
balances (the balance event came first): before/after are then computed backwards from the balance,
so the trade is never counted twice whichever event comes first. A fill in the same millisecond as
the last balance event is ambiguous (Binance sends a trade's balance event after its
executionReport, but payloads are not guaranteed in order): that event may hold this trade or only
an earlier one of the same millisecond (two resting orders filled by one taker). It holds this one
when the change it brought that our fills did not explain (`Balance.jump`) covers the trade's: the
trade then uses up that much of it.

Cross margin (`MarginState`): the spot rules on (free, locked, borrowed, interest) per asset; the
position is the net base holding free + locked - borrowed. Borrowing and repaying move free and
borrowed together, so the net position a fill produces does not depend on what the master's order
did to its loans: before/after are exact. The loans themselves are not in the user data stream
(USER_LIABILITY_CHANGE lives on the separate risk data stream), so `borrowed_after` and the
`side_effect` hint are estimates (see `MarginState.apply_trade`), and the shell refreshes the
account over REST after fills and publishes a snapshot when the estimate was wrong.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal, NamedTuple

from protocol.messages import AssetHolding, PositionEntry, SideEffect

from ..binance.wire import BinanceExecutionReport, BinanceMarginUserAsset, BinanceOutboundAccountPosition, BinanceSpotBalance
from .state import ZERO, Deduper, _entry


@dataclass(slots=True)
class Balance:
    free: Decimal = ZERO
    locked: Decimal = ZERO
    borrowed: Decimal = ZERO  # margin only
    interest: Decimal = ZERO  # margin only
    net: Decimal = ZERO  # margin only: free + locked - borrowed - interest, driven by fills and REST
    update_ms: int = 0  # time of the balance event / REST we took free/locked from
    fill_ms: int = 0  # trade time of the last fill applied to it
    jump: Decimal = ZERO  # spot: what the last balance event changed that no fill applied explains

    @property
    def total(self) -> Decimal:
        return self.free + self.locked


def _contains(bal: Balance, t: int, delta: Decimal) -> tuple[bool, Decimal]:
    """Whether the last balance event of an asset already holds a trade of time `t` that moves it
    by `delta`, and what of that event's change is left for later trades. An event newer than the
    trade holds it; one of the same millisecond when the change it brought covers the trade's (same
    sign, at least as large). A trade it holds uses up its part of the change: with two trades in
    one event, the first one's `after` is the event's holding less what the second brings."""
    covers = bool(delta) and bool(bal.jump) and (bal.jump > 0) == (delta > 0) and abs(delta) <= abs(bal.jump)
    if covers and t <= bal.update_ms:
        bal.jump -= delta
        return True, bal.jump
    return t < bal.update_ms, ZERO


class SymbolInfo(NamedTuple):
    base: str
    quote: str


class SpotFill(NamedTuple):
    symbol: str
    base: str
    quote: str
    before: Decimal  # base holding (spot) or net base position (margin)
    after: Decimal
    borrowed_before: Decimal | None = None
    borrowed_after: Decimal | None = None
    side_effect: SideEffect | None = None


class UnknownSymbol(ValueError):
    """A fill for a symbol whose base/quote assets we do not know (exchangeInfo not loaded)."""


Kind = Literal["spot", "margin"]


@dataclass
class SpotState:
    """Holdings of a spot (kind "spot") or cross margin (kind "margin") account.

    Spot: the position of an asset is its holding free + locked, taken from balance events with the
    time rule of the module docstring. Margin: the position is `Balance.net`, moved only by fills
    (and set from REST): borrowing and repaying change free and borrowed together, which the
    balance events show only half of (no loans in them), so they never touch `net`.
    """

    kind: Kind = "spot"
    symbols: dict[str, SymbolInfo] = field(default_factory=dict)
    balances: dict[str, Balance] = field(default_factory=dict)
    prices: dict[str, Decimal] = field(default_factory=dict)  # symbol -> last price
    quote_asset: str = "USDT"
    ready: bool = False
    traded: set[str] = field(default_factory=set)  # symbols the master filled since start
    dedupe: Deduper = field(default_factory=Deduper)
    last_event_ms: int = 0
    rest_ms: int = 0  # fills with T <= rest_ms are contained in the last REST rebuild

    # -- REST ------------------------------------------------------------------------------------
    def set_symbols(self, symbols: dict[str, SymbolInfo]) -> None:
        self.symbols = dict(symbols)

    def rebuild_spot(self, balances: Iterable[BinanceSpotBalance], update_ms: int) -> None:
        """GET /api/v3/account (`update_ms`: its updateTime, or the local estimate of server time)."""
        self.balances = {b.asset: Balance(free=b.free, locked=b.locked, update_ms=update_ms) for b in balances if b.free or b.locked}
        self.rest_ms = update_ms
        self.ready = True

    def rebuild_margin(self, assets: Iterable[BinanceMarginUserAsset], update_ms: int) -> None:
        """GET /sapi/v1/margin/account `userAssets`."""
        self.balances = {}
        self.take_margin_assets(assets, None, update_ms)
        self.rest_ms = update_ms
        self.ready = True

    def take_margin_assets(self, assets: Iterable[BinanceMarginUserAsset], names: Iterable[str] | None, update_ms: int) -> None:
        """Take REST's figures for `names` (None: every asset REST lists)."""
        rest = {a.asset: a for a in assets}
        for name in list(rest) if names is None else names:
            a = rest.get(name)
            if a is None or not (a.free or a.locked or a.borrowed or a.interest or a.netAsset):
                self.balances.pop(name, None)
                continue
            old = self.balances.get(name)
            self.balances[name] = Balance(a.free, a.locked, a.borrowed, a.interest, a.netAsset, update_ms, old.fill_ms if old else 0)

    def margin_drift(self, assets: Iterable[BinanceMarginUserAsset]) -> list[str]:
        """Assets whose net position or loan differ between REST and us (margin)."""
        rest = {a.asset: a for a in assets}
        out = []
        for name in sorted(set(rest) | set(self.balances)):
            r = rest.get(name)
            ours = self.balances.get(name, Balance())
            if (r.netAsset if r else ZERO) != ours.net or (r.borrowed if r else ZERO) != ours.borrowed:
                out.append(name)
        return out

    def set_prices(self, prices: dict[str, Decimal]) -> None:
        self.prices.update(prices)

    # -- events ----------------------------------------------------------------------------------
    def _bal(self, asset: str) -> Balance:
        bal = self.balances.get(asset)
        if bal is None:
            bal = self.balances[asset] = Balance()
        return bal

    def position(self, asset: str) -> Decimal:
        bal = self.balances.get(asset)
        if bal is None:
            return ZERO
        return bal.net if self.kind == "margin" else bal.total

    def apply_trade(self, report: BinanceExecutionReport) -> SpotFill | None:
        """executionReport x=TRADE. None for a duplicate or a trade the last REST rebuild already
        contains (T <= rest_ms). Raises UnknownSymbol."""
        key = (report.s, report.i, report.t)
        if key in self.dedupe:
            return None
        if report.T <= self.rest_ms:
            self.dedupe.add(key)
            return None
        info = self.symbols.get(report.s)
        if info is None:
            raise UnknownSymbol(f"no base/quote assets known for symbol {report.s!r}")
        self.dedupe.add(key)
        self.traded.add(report.s)
        qty = report.l
        quote_qty = report.Y if report.Y is not None and report.Y > 0 else qty * report.L
        commission = report.n or ZERO
        deltas: dict[str, Decimal] = {
            info.base: qty if report.S == "BUY" else -qty,
            info.quote: -quote_qty if report.S == "BUY" else quote_qty,
        }
        if report.N and commission:
            deltas[report.N] = deltas.get(report.N, ZERO) - commission
        if report.L > 0:
            self.prices[report.s] = report.L
        base = self._bal(info.base)
        if self.kind == "margin":
            before = base.net
            borrowed_before = base.borrowed
            for asset, delta in deltas.items():
                bal = self._bal(asset)
                bal.net += delta
                bal.fill_ms = max(bal.fill_ms, report.T)
                if report.T > bal.update_ms:
                    bal.free += delta  # until the balance event comes (loans aside)
            after = base.net
            effect, borrowed_after = self._margin_guess(report.S, before, after, base, self._bal(info.quote))
            return SpotFill(report.s, info.base, info.quote, before, after, borrowed_before, borrowed_after, effect)
        # Spot: a balance event newer than this trade already contains it; one of the same ms, if
        # what it brought covers the trade (`_contains`).
        after_known = base.total
        held = {asset: _contains(self._bal(asset), report.T, delta) for asset, delta in deltas.items()}
        for asset, delta in deltas.items():
            bal = self._bal(asset)
            if not held[asset][0]:
                bal.free += delta
            bal.fill_ms = max(bal.fill_ms, report.T)
        contained, later = held[info.base]
        if contained:  # backwards from the balance, less what the event's later trades brought
            return SpotFill(report.s, info.base, info.quote, after_known - later - deltas[info.base], after_known - later)
        return SpotFill(report.s, info.base, info.quote, after_known, base.total)

    @staticmethod
    def _margin_guess(side: str, before: Decimal, after: Decimal, base: Balance, quote: Balance) -> tuple[SideEffect | None, Decimal]:
        """Estimate what the master's order did to its loans (the stream does not say).

        - SELL taking the net base position further below zero: the base asset was borrowed
          (there is no other way to sell what you do not hold): MARGIN_BUY, base loan +shortfall.
        - BUY reducing a short: AUTO_REPAY assumed, base loan -covered; a master that did not
          repay is found by the REST refresh after the fill (snapshot).
        - BUY growing a long: MARGIN_BUY when the master has quote debt (it trades on borrowed
          quote), else none. SELL reducing a long: AUTO_REPAY when it has quote debt.
        `borrowed_*` of the fill is the BASE asset loan; it moves only with the short part.
        """
        short_before = -before if before < 0 else ZERO
        short_after = -after if after < 0 else ZERO
        borrowed_after = base.borrowed + short_after - short_before
        borrowed_after = max(borrowed_after, short_after, ZERO)
        effect: SideEffect | None
        if side == "SELL":
            if short_after > short_before:
                effect = "MARGIN_BUY"
            else:
                effect = "AUTO_REPAY" if quote.borrowed > 0 else None
        elif short_before > 0:
            effect = "AUTO_REPAY"
        else:
            effect = "MARGIN_BUY" if quote.borrowed > 0 else None
        base.borrowed = borrowed_after
        return effect, borrowed_after

    def apply_balances(self, event: BinanceOutboundAccountPosition) -> None:
        """outboundAccountPosition: free/locked of the listed assets (no loans in it)."""
        for row in event.B:
            bal = self._bal(row.a)
            if event.u < bal.fill_ms:
                continue  # older than a fill we applied already
            before = bal.total
            bal.free, bal.locked = row.f, row.l
            bal.jump = bal.total - before  # what no fill we applied explains (spot: `_contains`)
            bal.update_ms = max(bal.update_ms, event.u)

    def apply_balance_delta(self, asset: str, delta: Decimal, when_ms: int) -> None:
        """balanceUpdate (deposit, withdrawal, transfer). Spot: moves the holding until the
        outboundAccountPosition that follows. Margin: ignored here (it may be a repayment, which
        leaves the net position unchanged); the shell refreshes the account over REST instead."""
        if self.kind == "margin":
            return
        bal = self._bal(asset)
        if when_ms > bal.update_ms:
            bal.free += delta

    # -- views -----------------------------------------------------------------------------------
    def price_of(self, asset: str) -> Decimal | None:
        if asset == self.quote_asset:
            return Decimal(1)
        return self.prices.get(asset + self.quote_asset)

    def equity(self) -> Decimal:
        """Value in the quote asset (USDT): sum of positions x price; unknown prices count 0."""
        total = ZERO
        for asset in self.balances:
            amount = self.position(asset)
            if amount == 0:
                continue
            price = self.price_of(asset)
            if price is not None:
                total += amount * price
        return total if total > 0 else ZERO

    def holdings(self) -> tuple[AssetHolding, ...]:
        out = []
        for asset, bal in sorted(self.balances.items()):
            if not (bal.free or bal.locked or bal.borrowed or bal.interest):
                continue
            out.append(
                AssetHolding(
                    asset=asset,
                    free=max(bal.free, ZERO),
                    locked=max(bal.locked, ZERO),
                    borrowed=max(bal.borrowed, ZERO),
                    interest=max(bal.interest, ZERO),
                )
            )
        return tuple(out)

    def entries(self) -> tuple[PositionEntry, ...]:
        """One entry per `<asset><quote>` symbol whose base asset is held (or owed), plus every
        symbol traded since start (so a sold-out position shows as 0)."""
        out: dict[str, PositionEntry] = {}
        for symbol in sorted(self.traded):
            info = self.symbols.get(symbol)
            entry = _entry(symbol=symbol, position_side="BOTH", qty=self.position(info.base)) if info else None
            if entry is not None:
                out[symbol] = entry
        for asset in sorted(self.balances):
            symbol = asset + self.quote_asset
            if asset == self.quote_asset or symbol in out or symbol not in self.symbols:
                continue
            qty = self.position(asset)
            entry = _entry(symbol=symbol, position_side="BOTH", qty=qty) if qty != 0 else None
            if entry is not None:
                out[symbol] = entry
        return tuple(out[s] for s in sorted(out))
