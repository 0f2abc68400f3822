"""A follower's guards on what it copies (issue 22), a mixin of `MarketMirror`:

- **close-only** (`close_only = true`): no entry and no increase is copied; reductions and closes
  are (actors/domain/sizing.py `entry_k`);
- **max open positions** (`max_open_positions = N`): an entry that would open a position beyond
  the N the slave already holds or intends, counted over every market it copies (a hedge-mode
  LONG and SHORT are two), is not copied; increases of an open position, reductions and closes
  are. It is lifted by itself: once a position closes, the next entry is copied. A resync that
  finds positions the master opened while the slave was away takes them while there is room, in
  symbol order, and not the rest.
- **the equity stop** (`equity_floor`, `max_drawdown_pct`) and **the daily loss limit**
  (`daily_loss_limit`): once one acted, the same rule as close-only (actors/domain/equity_stop.py;
  the process checks them: equity_guard.py).
A guard's skips are journalled with their reason ("close_only", "max_positions"); a person is
told the first time a guard acts after it was set (or, for max open positions, after there was
room again): a SlaveError `guard_<name>`, which control notifies under the category "guard".
The resting and stop copies follow the same rule for the part of the master's order that adds.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from protocol.messages import SkipReason, SlaveError

from ..domain.sizing import CannotSize, entry_k
from .rules import log, now_ns

if TYPE_CHECKING:
    from .target_store import TargetBook

Key = tuple[str, str]
GUARD_SKIPS: frozenset[SkipReason] = frozenset({"close_only", "max_positions", "equity_stop", "daily_loss"})


class Guards:
    if TYPE_CHECKING:
        slave: Any
        config: Any
        market: str
        account: Any
        book: TargetBook

    def _entry_k(self, key: Key, k: Decimal | CannotSize) -> Decimal | CannotSize:
        """The k an entry or increase on the slave's `key` is copied with, after the guards (an
        entry the guards refuse: CannotSize naming the guard; reductions need no k)."""
        k = entry_k(self.config, k, self.slave.equity_stop)
        limit = self.config.max_open_positions
        if limit is None or isinstance(k, CannotSize):
            return k
        held = self._open_positions()
        if (self.market, *key) in held:
            return k
        if len(held) >= limit:
            return CannotSize(f"max open positions ({limit}) reached: a new position is not opened", skip="max_positions")
        self.slave.guards_noted.discard("max_positions")  # there is room: told again the next time it is full
        return k

    def _open_positions(self) -> set[tuple[str, str, str]]:
        """(market, symbol, position side) of every position the slave holds or intends, on every
        market it copies."""
        mirrors = getattr(self.slave, "mirrors", None) or {self.market: self}
        out: set[tuple[str, str, str]] = set()
        for m in mirrors.values():
            for book in (m.account.snapshot_positions(), m.book.intended):
                out.update((m.market, *key) for key, q in book.items() if q)
        return out

    def _within_max_positions(self, target: dict[Key, Decimal]) -> dict[Key, Decimal]:
        """A resync's target with the positions it would open beyond the max left out (in symbol
        order: those first take the room)."""
        limit = self.config.max_open_positions
        if limit is None:
            return target
        held = self._open_positions()
        room = limit - len(held)
        for key in sorted(k for k, q in target.items() if q and (self.market, *k) not in held):
            if room > 0:
                room -= 1
                continue
            del target[key]
            self.guard_acted("max_positions", f"max open positions ({limit}): the master's {key[0]} position is not joined")
        return target

    def guard_acted(self, guard: str, message: str) -> None:
        """A guard of this slave acted: a person is told the first time after it was set (every
        skip it makes is journalled with its reason)."""
        if guard in self.slave.guards_noted:
            return
        self.slave.guards_noted.add(guard)
        log.info("guard %s acted: %s", guard, message)
        self.slave.report(
            SlaveError(slave_id=self.slave.slave_id, code=f"guard_{guard}", message=message, market=self.market, t_ns=now_ns())
        )
