"""The master's state for one market, and every transition of it (pure: no I/O, no clock).

`actors/master.py` is the shell around this module: it reads the exchange, feeds events and REST
replies in here, and publishes what comes out. Everything here is tested directly
(tests/unit/test_master_state*.py).

USD-M futures (`FuturesState`)
- Positions per (symbol, positionSide): BOTH signed; LONG/SHORT as sizes >= 0 (Binance sends a SHORT
  `positionAmt`/`pa` negative: we keep its absolute value).
- A fill (ORDER_TRADE_UPDATE, x=TRADE) moves the position: BOTH BUY +l / SELL -l; LONG BUY +l /
  SELL -l; SHORT SELL +l / BUY -l. Position before/after come from our own state.
- ACCOUNT_UPDATE with reason ORDER never touches positions: it may arrive before or after the
  ORDER_TRADE_UPDATE of the same trade, and applying both would count the trade twice. It updates
  balances, unrealized PnL (equity), margin type, and the entry price when its amount agrees with
  ours. Any other reason (FUNDING_FEE, ADL, INSURANCE_CLEAR, ...) that carries a position amount
  different from ours corrects it (the caller then publishes a snapshot).
- x=CALCULATED (liquidation / ADL executions) moves the position like a fill, but is reported as
  a state correction (snapshot), not as a copyable fill.
- Dedupe: (symbol, order id, trade id), bounded. After a REST rebuild, a fill whose trade time `T`
  is not after the REST `updateTime` of its position is already in the REST state: skipped.
- Equity (USDT): the REST `totalMarginBalance`, moved since then by changes of wallet balances
  (`wb`, USD stablecoins at par) and per-position unrealized PnL (`up`) from ACCOUNT_UPDATE.

Spot (`SpotState`): holdings per asset (free, locked). A fill (executionReport x=TRADE) moves the
base asset by +l (BUY) / -l (SELL), minus the commission when it is paid in the base asset, and the
quote asset by -/+ l*L (minus a quote commission). outboundAccountPosition (time `u`) is
authoritative for the assets it lists unless it is older than the last fill applied to that asset.
A fill whose `T` is not after the last balance time of its base asset is already contained in the
balances (the balance event came first): before/after are then computed backwards from the balance,
so the trade is never counted twice whichever event comes first.

Cross margin (`MarginState`): the spot rules on (free, locked, borrowed, interest) per asset; the
position is the net base holding free + locked - borrowed. Borrowing and repaying move free and
borrowed together, so the net position a fill produces does not depend on what the master's order
did to its loans: before/after are exact. The loans themselves are not in the user data stream
(USER_LIABILITY_CHANGE lives on the separate risk data stream), so `borrowed_after` and the
`side_effect` hint are estimates (see `MarginState.apply_trade`), and the shell refreshes the
account over REST after fills and publishes a snapshot when the estimate was wrong.
"""
from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, NamedTuple

from protocol.messages import AssetHolding, MarginType, PositionEntry, PositionKey, PositionMode, SideEffect, Symbol

from .assets import USD_ASSETS  # wallet assets counted at par in USDT equity (the slaves' rule too)
from .binance.wire import (
    BinanceExecutionReport,
    BinanceFuturesAccount,
    BinanceFuturesAccountUpdate,
    BinanceFuturesOrderData,
    BinanceFuturesPositionRisk,
    BinanceMarginUserAsset,
    BinanceOutboundAccountPosition,
    BinanceSpotBalance,
)
from .domain.positions import moved

ZERO = Decimal(0)
DEFAULT_DEDUPE = 100_000
_SYMBOL_RE = re.compile(Symbol.__metadata__[0].pattern)  # type: ignore[attr-defined]

FillKey = tuple[str, int, int]  # (symbol, order id, trade id)


class Deduper:
    """Remembers the last `capacity` keys (FIFO eviction): bounded memory, O(1) checks."""

    __slots__ = ("capacity", "_order", "_seen")

    def __init__(self, capacity: int = DEFAULT_DEDUPE) -> None:
        if capacity < 1:
            raise ValueError("capacity must be >= 1")
        self.capacity = capacity
        self._order: deque[FillKey] = deque()
        self._seen: set[FillKey] = set()

    def __contains__(self, key: FillKey) -> bool:
        return key in self._seen

    def __len__(self) -> int:
        return len(self._seen)

    def add(self, key: FillKey) -> bool:
        """Remember `key`; False if it was already known."""
        if key in self._seen:
            return False
        self._seen.add(key)
        self._order.append(key)
        if len(self._order) > self.capacity:
            self._seen.discard(self._order.popleft())
        return True


def margin_type_of(value: str | None) -> MarginType | None:
    """Binance's "cross"/"isolated" (events, positionRisk) or "CROSSED"/"ISOLATED" -> ours."""
    if not value:
        return None
    low = value.lower()
    if low in ("cross", "crossed"):
        return "CROSSED"
    if low == "isolated":
        return "ISOLATED"
    return None



# =================================================================================================
# USD-M futures
# =================================================================================================


@dataclass(slots=True)
class FuturesPosition:
    qty: Decimal = ZERO  # BOTH signed; LONG/SHORT size >= 0
    entry_price: Decimal = ZERO
    unrealized: Decimal = ZERO
    update_ms: int = 0  # exchange time of the last change we applied (fill T, REST updateTime)


class FuturesFill(NamedTuple):
    """What one ORDER_TRADE_UPDATE (TRADE or CALCULATED) did to the state."""

    symbol: str
    position_side: str
    before: Decimal
    after: Decimal
    leverage: int | None
    margin_type: MarginType | None
    mode_changed: PositionMode | None  # the fill revealed a position mode change (published first)
    clamped: bool  # LONG/SHORT would have gone negative: our state was wrong (resync)


class AccountUpdateOutcome(NamedTuple):
    margin_types: list[tuple[str, MarginType]]  # symbols whose margin type changed
    corrected: list[PositionKey]  # positions corrected from a non-ORDER update


class Drift(NamedTuple):
    key: PositionKey
    ours: Decimal
    rest: Decimal
    rest_update_ms: int


def _size(position_side: str, amount: Decimal) -> Decimal:
    return abs(amount) if position_side in ("LONG", "SHORT") else amount


class FuturesState:
    def __init__(self, dedupe_capacity: int = DEFAULT_DEDUPE) -> None:
        self.ready = False  # True after the first REST rebuild
        self.position_mode: PositionMode = "one_way"
        self.positions: dict[PositionKey, FuturesPosition] = {}
        self.leverage: dict[str, int] = {}
        self.margin_type: dict[str, MarginType] = {}
        self.wallet: dict[str, Decimal] = {}
        self.rest_time: dict[PositionKey, int] = {}  # REST updateTime per position at the last rebuild/correction
        self.dedupe = Deduper(dedupe_capacity)
        self.last_event_ms = 0
        self._equity_base = ZERO
        self._usd_wallet_base = ZERO
        self._up_base = ZERO

    # -- REST ------------------------------------------------------------------------------------
    def rebuild(self, dual: bool, risks: Iterable[BinanceFuturesPositionRisk], account: BinanceFuturesAccount) -> None:
        """Replace the whole state with REST's (positionSide/dual, positionRisk v2, account)."""
        self.position_mode = "hedge" if dual else "one_way"
        self.positions = {}
        self.rest_time = {}
        for risk in risks:
            self._apply_config(risk)
            key = (risk.symbol, risk.positionSide)
            if (risk.positionSide == "BOTH") == dual:
                continue  # a side of the other mode (always flat)
            updated = risk.updateTime or 0
            self.positions[key] = FuturesPosition(
                qty=_size(risk.positionSide, risk.positionAmt),
                entry_price=risk.entryPrice or ZERO,
                unrealized=risk.unRealizedProfit or ZERO,
                update_ms=updated,
            )
            self.rest_time[key] = updated
        self.refresh_equity(account)
        self.ready = True

    def refresh_equity(self, account: BinanceFuturesAccount) -> None:
        """Take equity and wallet balances from GET /fapi/v2/account."""
        for asset in account.assets:
            self.wallet[asset.asset] = asset.walletBalance
        if account.totalMarginBalance is not None:
            equity = account.totalMarginBalance
        else:
            equity = account.totalWalletBalance + (account.totalUnrealizedProfit or ZERO)
        self._equity_base = equity
        self._usd_wallet_base = self._usd_wallet()
        self._up_base = self._unrealized()

    def apply_config(self, risks: Iterable[BinanceFuturesPositionRisk]) -> tuple[list[tuple[str, int]], list[tuple[str, MarginType]]]:
        """Leverage / margin type from a positionRisk v2 poll: the (symbol, value) pairs that changed."""
        lev_changes: list[tuple[str, int]] = []
        mt_changes: list[tuple[str, MarginType]] = []
        for risk in risks:
            old_lev, old_mt = self.leverage.get(risk.symbol), self.margin_type.get(risk.symbol)
            self._apply_config(risk)
            if risk.leverage is not None and old_lev is not None and risk.leverage != old_lev:
                if (risk.symbol, risk.leverage) not in lev_changes:
                    lev_changes.append((risk.symbol, risk.leverage))
            new_mt = self.margin_type.get(risk.symbol)
            if new_mt is not None and old_mt is not None and new_mt != old_mt:
                if (risk.symbol, new_mt) not in mt_changes:
                    mt_changes.append((risk.symbol, new_mt))
        return lev_changes, mt_changes

    def _apply_config(self, risk: BinanceFuturesPositionRisk) -> None:
        if risk.leverage is not None and 1 <= risk.leverage <= 125:
            self.leverage[risk.symbol] = risk.leverage
        mt = margin_type_of(risk.marginType)
        if mt is not None:
            self.margin_type[risk.symbol] = mt

    def drift(self, risks: Iterable[BinanceFuturesPositionRisk]) -> list[Drift]:
        """Positions where REST and our state disagree (the caller confirms before correcting:
        a fill may be in flight between the exchange and us)."""
        out: list[Drift] = []
        seen: set[PositionKey] = set()
        for risk in risks:
            if (risk.positionSide == "BOTH") != (self.position_mode == "one_way"):
                continue
            key = (risk.symbol, risk.positionSide)
            seen.add(key)
            rest = _size(risk.positionSide, risk.positionAmt)
            ours = self.positions.get(key, FuturesPosition()).qty
            if rest != ours:
                out.append(Drift(key, ours, rest, risk.updateTime or 0))
        for key, pos in self.positions.items():
            if key not in seen and pos.qty != 0:
                out.append(Drift(key, pos.qty, ZERO, 0))
        return out

    def correct(self, drift: Drift) -> None:
        """Take REST's amount for one position (after the caller confirmed the drift)."""
        pos = self.positions.setdefault(drift.key, FuturesPosition())
        pos.qty = drift.rest
        pos.update_ms = max(pos.update_ms, drift.rest_update_ms)
        self.rest_time[drift.key] = max(self.rest_time.get(drift.key, 0), drift.rest_update_ms)

    # -- events ----------------------------------------------------------------------------------
    def apply_trade(self, order: BinanceFuturesOrderData) -> FuturesFill | None:
        """Apply one execution (x TRADE or CALCULATED). None: a duplicate, or already in REST."""
        key = (order.s, order.i, order.t)
        if not self.dedupe.add(key):
            return None
        ps = order.ps
        mode_changed: PositionMode | None = None
        mode: PositionMode = "one_way" if ps == "BOTH" else "hedge"
        if mode != self.position_mode:
            self.position_mode = mode_changed = mode
        pkey = (order.s, ps)
        if order.T <= self.rest_time.get(pkey, 0):
            return None  # the REST state we rebuilt from already contains this trade
        pos = self.positions.setdefault(pkey, FuturesPosition())
        before = pos.qty
        after, clamped = moved(before, order.S, ps, order.l)
        if after == 0:
            pos.entry_price = ZERO
        pos.qty = after
        pos.update_ms = max(pos.update_ms, order.T)
        return FuturesFill(
            order.s, ps, before, after, self.leverage.get(order.s), self.margin_type.get(order.s), mode_changed, clamped
        )

    def apply_account_update(self, event: BinanceFuturesAccountUpdate) -> AccountUpdateOutcome:
        data = event.a
        for balance in data.B:
            self.wallet[balance.a] = balance.wb
        margin_types: list[tuple[str, MarginType]] = []
        corrected: list[PositionKey] = []
        for p in data.P:
            key = (p.s, p.ps)
            mt = margin_type_of(p.mt)
            if mt is not None and self.margin_type.get(p.s) != mt:
                if p.s in self.margin_type:
                    margin_types.append((p.s, mt))
                self.margin_type[p.s] = mt
            if (p.ps == "BOTH") != (self.position_mode == "one_way"):
                continue
            pos = self.positions.setdefault(key, FuturesPosition())
            if p.up is not None:
                pos.unrealized = p.up
            amount = _size(p.ps, p.pa)
            if data.m == "ORDER":
                if amount == pos.qty:
                    pos.entry_price = p.ep  # consistent with our fills: take the exchange's entry
                continue
            if amount != pos.qty and event.T >= pos.update_ms:
                pos.qty = amount
                pos.entry_price = p.ep
                pos.update_ms = event.T
                self.rest_time[key] = max(self.rest_time.get(key, 0), event.T)
                corrected.append(key)
        return AccountUpdateOutcome(margin_types, corrected)

    def apply_leverage(self, symbol: str, leverage: int) -> bool:
        """ACCOUNT_CONFIG_UPDATE `ac`: True if it changed our view."""
        changed = self.leverage.get(symbol) != leverage
        self.leverage[symbol] = leverage
        return changed

    def set_position_mode(self, dual: bool) -> bool:
        mode: PositionMode = "hedge" if dual else "one_way"
        changed = mode != self.position_mode
        self.position_mode = mode
        return changed

    # -- views -----------------------------------------------------------------------------------
    def _usd_wallet(self) -> Decimal:
        return sum((v for a, v in self.wallet.items() if a in USD_ASSETS), ZERO)

    def _unrealized(self) -> Decimal:
        return sum((p.unrealized for p in self.positions.values()), ZERO)

    def equity(self) -> Decimal:
        value = self._equity_base + (self._usd_wallet() - self._usd_wallet_base) + (self._unrealized() - self._up_base)
        return value if value > 0 else ZERO

    def position(self, symbol: str, position_side: str = "BOTH") -> Decimal:
        pos = self.positions.get((symbol, position_side))
        return pos.qty if pos is not None else ZERO

    def entries(self) -> tuple[PositionEntry, ...]:
        """Every open position, plus config of symbols with one (sorted: stable snapshots)."""
        out = []
        for (symbol, ps), pos in sorted(self.positions.items()):
            if pos.qty == 0:
                continue
            entry = _entry(
                symbol=symbol, position_side=ps, qty=pos.qty,
                entry_price=pos.entry_price if pos.entry_price > 0 else ZERO,
                leverage=self.leverage.get(symbol), margin_type=self.margin_type.get(symbol),
            )
            if entry is not None:
                out.append(entry)
        return tuple(out)


# =================================================================================================
# Spot and cross margin
# =================================================================================================


@dataclass(slots=True)
class Balance:
    free: Decimal = ZERO
    locked: Decimal = ZERO
    borrowed: Decimal = ZERO  # margin only
    interest: Decimal = ZERO  # margin only
    net: Decimal = ZERO  # margin only: free + locked - borrowed - interest, driven by fills and REST
    update_ms: int = 0  # time of the balance event / REST we took free/locked from
    fill_ms: int = 0  # trade time of the last fill applied to it

    @property
    def total(self) -> Decimal:
        return self.free + self.locked
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
        self.balances = {
            b.asset: Balance(free=b.free, locked=b.locked, update_ms=update_ms) for b in balances if b.free or b.locked
        }
        self.rest_ms = update_ms
        self.ready = True

    def rebuild_margin(self, assets: Iterable[BinanceMarginUserAsset], update_ms: int) -> None:
        """GET /sapi/v1/margin/account `userAssets`."""
        self.balances = {}
        self.take_margin_assets(assets, None, update_ms)
        self.rest_ms = update_ms
        self.ready = True

    def take_margin_assets(self, assets: Iterable[BinanceMarginUserAsset], names: Iterable[str] | None,
                           update_ms: int) -> None:
        """Take REST's figures for `names` (None: every asset REST lists)."""
        rest = {a.asset: a for a in assets}
        for name in (list(rest) if names is None else names):
            a = rest.get(name)
            if a is None or not (a.free or a.locked or a.borrowed or a.interest or a.netAsset):
                self.balances.pop(name, None)
                continue
            old = self.balances.get(name)
            self.balances[name] = Balance(
                a.free, a.locked, a.borrowed, a.interest, a.netAsset, update_ms, old.fill_ms if old else 0
            )

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
        # Spot: a balance event not older than this trade already contains it.
        contained = report.T <= base.update_ms
        after_known = base.total
        for asset, delta in deltas.items():
            bal = self._bal(asset)
            if report.T > bal.update_ms:
                bal.free += delta
            bal.fill_ms = max(bal.fill_ms, report.T)
        if contained:
            return SpotFill(report.s, info.base, info.quote, after_known - deltas[info.base], after_known)
        return SpotFill(report.s, info.base, info.quote, after_known, base.total)

    @staticmethod
    def _margin_guess(side: str, before: Decimal, after: Decimal, base: Balance,
                      quote: Balance) -> tuple[SideEffect | None, Decimal]:
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
            bal.free, bal.locked = row.f, row.l
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
            out.append(AssetHolding(
                asset=asset, free=max(bal.free, ZERO), locked=max(bal.locked, ZERO),
                borrowed=max(bal.borrowed, ZERO), interest=max(bal.interest, ZERO),
            ))
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


def symbol_ok(symbol: str) -> bool:
    """Can the protocol carry this symbol? (Struct construction does not check the pattern; a
    subscriber's decoder does, and would drop the whole message.)"""
    return _SYMBOL_RE.fullmatch(symbol) is not None


def _entry(**fields: Any) -> PositionEntry | None:
    """A snapshot entry, or None when the protocol cannot carry it (e.g. a delivery contract
    `BTCUSDT_250627`: protocol.messages.Symbol allows [A-Z0-9] only). Leaving one position out
    beats a snapshot no subscriber can decode."""
    if not symbol_ok(fields["symbol"]):
        return None
    try:
        return PositionEntry(**fields)
    except (ValueError, TypeError):
        return None
