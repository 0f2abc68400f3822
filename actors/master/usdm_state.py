"""The master's USD-M futures book, and every transition of it (pure: no I/O, no clock).

`actors/master/usdm.py` is the adapter around it: it feeds events and REST replies in here and
returns what is to be published. Tested directly (tests/unit/test_master_state_futures.py).

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
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

from protocol.messages import MarginType, PositionEntry, PositionKey, PositionMode

from ..assets import USD_ASSETS  # wallet assets counted at par in USDT equity (the slaves' rule too)
from ..binance.wire import BinanceFuturesAccount, BinanceFuturesAccountUpdate, BinanceFuturesOrderData, BinanceFuturesPositionRisk
from ..domain.positions import moved
from .state import DEFAULT_DEDUPE, ZERO, Deduper, _entry, margin_type_of


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
        return FuturesFill(order.s, ps, before, after, self.leverage.get(order.s), self.margin_type.get(order.s), mode_changed, clamped)

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
                symbol=symbol,
                position_side=ps,
                qty=pos.qty,
                entry_price=pos.entry_price if pos.entry_price > 0 else ZERO,
                leverage=self.leverage.get(symbol),
                margin_type=self.margin_type.get(symbol),
            )
            if entry is not None:
                out.append(entry)
        return tuple(out)
