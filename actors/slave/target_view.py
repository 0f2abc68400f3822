"""The slave mirror's view of its one target (every market): the intended positions moved to a master
snapshot, the positions it expects, and its drifts (what the status and the TUI show).

A mixin of `actors.slave.MarketMirror` (kept apart so slave.py stays within its size); it reads
the mirror's `book` (actors/slave/target_store.py), `account`, `config` and master state, and does no I/O.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from protocol.messages import MasterFill, PositionDrift, PositionSnapshot

from ..binance.filters import market_min_notional
from ..domain.positions import positions_of
from ..domain.sizing import FIXED, CannotSize, Sizing, entry_k, fill_k, notional_cap, sizing_k, symbol_allowed
from ..domain.target import clip_increases
from .target_store import TargetBook

ZERO = Decimal(0)
PERIODIC_TOLERANCE = Decimal("0.05")  # balance_multiplier: k floats with equity; ignore drift under 5%


class TargetView:
    if TYPE_CHECKING:
        book: TargetBook
        account: Any
        config: Any
        market: str
        reverse: bool
        master_equity: Decimal | None
        last_snapshot: PositionSnapshot | None
        master_positions: dict[tuple[str, str], Decimal]
        last_price: dict[str, Decimal]
        entry_orders: dict[tuple[str, int], None]

    @property
    def ignored(self) -> set[tuple[str, str]]:
        """on_start = new_only: the master positions that predate this slave (kept in the target)."""
        return self.book.ignored

    @ignored.setter
    def ignored(self, keys: set[tuple[str, str]]) -> None:
        self.book.ignored = keys

    def _target_at(self, snap: PositionSnapshot) -> dict[tuple[str, str], Decimal]:
        """What a check aims at (the one target): the intended positions moved to the snapshot,
        plus the slack of the positions the master did not move."""
        return self.book.aim(self._moved(snap))

    def _moved(self, snap: PositionSnapshot) -> dict[tuple[str, str], Decimal]:
        k = entry_k(self.config, self._sizing(snap), self.slave.equity_stop)  # guards: nothing grows
        target = self.book.at(positions_of(snap.positions), k, self.reverse)
        most = {}  # the notional cap at the price a correction is checked at (the master's entry)
        for e in snap.positions:
            cap = notional_cap(self.config, e.symbol)
            if cap is not None and e.entry_price > 0:
                most[e.symbol] = cap / e.entry_price
        if most:
            target = clip_increases(self.book.intended, target, most)
        for key in self.ignored:  # new_only: not ours
            target.pop(key, None)
        return self._within_exposure(self._within_max_positions(target))  # type: ignore[attr-defined]  # guards.py

    def _sizing(self, snap: PositionSnapshot) -> Sizing:
        """k for a check or resync (fixed sizing: per growth, priced at the master's entry price, or
        where the snapshot has none, spot and margin, at the last price known)."""
        prices: dict[str, Decimal] = {}
        if self.config.sizing in FIXED:
            prices.update(getattr(self.account, "prices", None) or {})
            prices.update(self.last_price)
            prices.update((e.symbol, e.entry_price) for e in snap.positions if e.entry_price > 0)
        return sizing_k(self.config, self.account.equity, snap.equity, prices)

    def _fill_k(self, fill: MasterFill, master_equity: Decimal) -> Decimal | CannotSize:
        """The k of one master fill (actors/domain/sizing.py `fill_k`). Fixed sizing: an order whose
        quantity is not reported is copied once, with the first of its fills this slave sees."""
        first = True
        if self.config.sizing in FIXED:
            order = (fill.symbol, fill.order_id)  # Binance numbers orders per symbol
            first = order not in self.entry_orders
            if first:
                if len(self.entry_orders) >= 1000:  # the latest 1000 orders
                    del self.entry_orders[next(iter(self.entry_orders))]
                self.entry_orders[order] = None
        return fill_k(self.config, self.account.equity, master_equity, fill, first_of_order=first)

    def _move_target(self, snap: PositionSnapshot) -> None:
        self.book.commit(self._moved(snap), positions_of(snap.positions))
        self.book.loaded = False

    def _leave_unplaceable(self, snap: PositionSnapshot, unsent: set[tuple[str, str]]) -> None:
        """After a check's corrections: what is left of a difference it could not place
        (under the exchange minimum, clipped by the cap, within a step) becomes the position's
        slack, so it is sent with the next fill that makes it copyable, never by a later check at
        another price. `unsent`: positions whose correction failed or was held back (a fault the
        next check still corrects)."""
        aim = self._target_at(snap)
        actual = self.account.snapshot_positions()
        for key in set(aim) | set(actual):
            if key not in unsent and key not in self.ignored and symbol_allowed(self.config, key[0]):
                if actual.get(key, ZERO) != aim.get(key, ZERO):
                    self.book.settle(key, actual.get(key, ZERO))

    def expected_positions(self) -> dict[tuple[str, str], Decimal]:
        """The intended positions (the one target), keyed by the slave position they map to."""
        return {
            key: q
            for key, q in self.book.aim(self.book.intended).items()
            if q and symbol_allowed(self.config, key[0]) and key not in self.ignored
        }

    def drifts(self) -> tuple[PositionDrift, ...]:
        if self.last_snapshot is None or isinstance(self._sizing(self.last_snapshot), CannotSize):
            return ()
        expected = self.expected_positions()
        actual = self.account.snapshot_positions()
        # balance_multiplier: k follows equity, so positions built at an earlier k differ a little
        tol = PERIODIC_TOLERANCE if self.config.sizing == "balance_multiplier" else ZERO
        out = []
        for s, ps in sorted(set(expected) | set(actual)):
            have, want = actual.get((s, ps), ZERO), expected.get((s, ps), ZERO)
            f = self.account.filters.get(s)
            step = f.step_size if f is not None else ZERO
            price = self.last_price.get(s)
            # a position too small for the exchange (under min notional) cannot be held: not a drift
            untradeable = have == 0 and f is not None and price is not None and abs(want) * price < market_min_notional(f)
            diff = abs(have - want)
            out.append(
                PositionDrift(
                    symbol=s, position_side=ps, actual=have, expected=want, in_sync=diff <= step or diff <= tol * abs(want) or untradeable
                )
            )
        return tuple(out)
