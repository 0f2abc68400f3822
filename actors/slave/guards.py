"""A follower's guards on what it copies (issue 22), a mixin of `MarketMirror`:

- **close-only** (`close_only = true`): no entry and no increase is copied; reductions and closes
  are (actors/domain/sizing.py `entry_k`);
- **max open positions** (`max_open_positions = N`): an entry that would open a position beyond
  the N the slave already holds or intends, counted over every market it copies (a hedge-mode
  LONG and SHORT are two), is not copied; increases of an open position, reductions and closes
  are. It is lifted by itself: once a position closes, the next entry is copied. A resync that
  finds positions the master opened while the slave was away takes them while there is room, in
  symbol order, and not the rest.
- **max total exposure** (`max_total_exposure = USDT`): the notionals of every position the slave
  holds or intends (the larger of the two, so that entries decided at once on several symbols
  count before they fill), over its markets and symbols (each at the last price known: the
  master's last fill, the spot price, the master's entry price), stay under the limit. Resting
  and stop copies count only once they fill. An entry or increase gets at most
  the room the other positions leave (the per-symbol notional cap is tightened to it, so the same
  rounding and minimum rules apply); with no room it is skipped ("max_exposure"). Reductions and
  closes are never held back; as positions shrink or close there is room again by itself. A
  resync's corrections are clipped the same way.
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

import msgspec

from protocol.messages import MasterFill, SkipReason, SlaveConfig, SlaveError

from ..domain.decisions import Decision, OrderIntent, decide_fill
from ..domain.sizing import CannotSize, entry_k, notional_cap
from ..domain.slippage import guarded
from .rules import log, now_ns

if TYPE_CHECKING:
    from .target_store import TargetBook

Key = tuple[str, str]
GUARD_SKIPS: frozenset[SkipReason] = frozenset({"close_only", "max_positions", "equity_stop", "daily_loss", "max_exposure", "slippage"})
ZERO = Decimal(0)


class Guards:
    if TYPE_CHECKING:
        slave: Any
        config: Any
        market: str
        account: Any
        book: TargetBook
        last_price: dict[str, Decimal]
        last_snapshot: Any
        slipped: set[Key]

        def _skip(self, fill: MasterFill, t_recv: int, reason: SkipReason, text: str, leg: int = 0) -> None: ...

    def _entry_k(self, key: Key, k: Decimal | CannotSize) -> Decimal | CannotSize:
        """The k an entry or increase on the slave's `key` is copied with, after the guards (an
        entry the guards refuse: CannotSize naming the guard; reductions need no k)."""
        k = entry_k(self.config, k, self.slave.equity_stop)
        if isinstance(k, CannotSize):
            return k
        room = self._exposure_room(key)
        if room is not None and room <= 0:
            limit_usdt = self.config.max_total_exposure
            return CannotSize(f"max total exposure ({limit_usdt} USDT) reached: no entry or increase is copied", skip="max_exposure")
        limit = self.config.max_open_positions
        if limit is None:
            return k
        held = self._open_positions()
        if (self.market, *key) in held:
            return k
        if len(held) >= limit:
            return CannotSize(f"max open positions ({limit}) reached: a new position is not opened", skip="max_positions")
        self.slave.guards_noted.discard("max_positions")  # there is room: told again the next time it is full
        return k

    def _entry_block(self, key: Key) -> str | None:
        """Why the next entry on `key` would not be copied now (the pre-trade check; no side
        effects: nothing is told or noted); None: it would."""
        cfg = self.config
        if not cfg.enabled or cfg.paused or self.slave.paused_all:
            return "copying paused or disabled"
        if getattr(self, "refused", None):
            return f"market refused: {self.refused}"  # type: ignore[attr-defined]
        gate = entry_k(cfg, Decimal(1), self.slave.equity_stop)
        if isinstance(gate, CannotSize):
            return gate.reason
        room = self._exposure_room(key)
        if room is not None and room <= 0:
            return f"max total exposure ({cfg.max_total_exposure} USDT) reached"
        if cfg.max_open_positions is not None:
            held = self._open_positions()
            if (self.market, *key) not in held and len(held) >= cfg.max_open_positions:
                return f"max open positions ({cfg.max_open_positions}) reached"
        return None

    def _exposure_room(self, key: Key) -> Decimal | None:
        """max_total_exposure: the notional the slave's other positions (every market, symbol and
        side but `key` on this market) leave of the limit; None: no limit. A position whose price
        is not known is not counted (see the module's docstring for the prices)."""
        limit = self.config.max_total_exposure
        if limit is None:
            return None
        mirrors = getattr(self.slave, "mirrors", None) or {self.market: self}
        used = ZERO
        for m in mirrors.values():
            held, intended = m.account.snapshot_positions(), m.book.intended
            for pos in set(held) | set(intended):  # the larger: an entry decided on another symbol counts before it fills
                size = max(abs(held.get(pos, ZERO)), abs(intended.get(pos, ZERO)))
                if size and not (m is self and pos == key):
                    used += size * m._price_of(pos[0])
        return max(limit - used, ZERO)

    def _price_of(self, symbol: str) -> Decimal:
        """The last price this mirror knows for `symbol` (0: none)."""
        price = self.last_price.get(symbol) or (getattr(self.account, "prices", None) or {}).get(symbol)
        if not price and self.last_snapshot is not None:
            price = next((e.entry_price for e in self.last_snapshot.positions if e.symbol == symbol), None)
        return price or ZERO

    def _decide(self, fill: MasterFill, key: Key, **kw: Any) -> Decision:
        """`decide_fill` for a master fill on the slave's `key`, under the guards that shape its
        orders: max total exposure, and the entry slippage guard (its openings as IOC LIMIT)."""
        decision = self._decide_exposure(fill, key, **kw)
        pct = self.config.max_slippage_pct
        if pct is None or not any(i.kind == "open" for i in decision.intents):
            return decision
        tick = kw["filters"].tick_size
        return msgspec.structs.replace(decision, intents=[guarded(i, fill.price, pct, tick) for i in decision.intents])

    def _slipped(self, intent: OrderIntent, executed: Decimal, fill: MasterFill | None, t_recv: int) -> None:
        """After an order of a fill: an entry the slippage guard sent as IOC LIMIT that did not
        fill in full is journalled ("slippage", told once) and not chased: the slave's place is
        where it is now (`_settle_fill`), so no check sends the rest at market; the copy rule's next
        fill in the same direction sends it, under the same guard."""
        if intent.time_in_force != "IOC" or intent.kind != "open" or fill is None or executed >= intent.qty:
            return
        self.slipped.add((intent.symbol, intent.position_side))
        text = f"{intent.side} {intent.qty} {intent.symbol} at {intent.price} or better (IOC) filled {executed}"
        self._skip(fill, t_recv, "slippage", f"slippage over {self.config.max_slippage_pct} %: {text}", leg=intent.leg)

    def _settle_fill(self, key: Key, decision: Decision, all_sent: bool) -> None:
        """Where a fill's orders left the slave (target_store.py `settle_fill`); after a slipped
        entry, the position it holds now."""
        self.book.settle_fill(key, decision, all_sent)
        if key in self.slipped:
            self.slipped.discard(key)
            self.book.settle(key, self.account.holding(*key).position)

    def _decide_exposure(self, fill: MasterFill, key: Key, **kw: Any) -> Decision:
        """`decide_fill` under max total exposure: its symbol's cap tightened to the room left, and
        a person told when that made the copy smaller than the copy rule's."""
        cfg = self.config
        capped = self._capped(key) if cfg.max_total_exposure is not None else cfg
        decision = decide_fill(fill, config=capped, **kw)
        if capped is cfg:
            return decision
        limit = f"max total exposure ({cfg.max_total_exposure} USDT)"
        if decision.skip is not None and decision.skip.reason == "cap_reached":  # the room is what the cap left
            return msgspec.structs.replace(
                decision, skip=msgspec.structs.replace(decision.skip, reason="max_exposure", text=f"{limit} reached")
            )
        if decision.intended != decide_fill(fill, config=cfg, **kw).intended:
            self.guard_acted("max_exposure", f"{limit}: the {fill.symbol} entry is copied only up to it")
        else:
            self.slave.guards_noted.discard("max_exposure")  # there was room: told again the next time it is full
        return decision

    def _capped(self, key: Key) -> SlaveConfig:
        """The config an entry on `key` is decided with: under max_total_exposure, its symbol's
        notional cap no larger than the room the other positions leave (actors/domain/orders.py
        applies a cap against the position held)."""
        cfg = self.config
        room = self._exposure_room(key)
        if room is None or room <= 0:  # no limit, or none left: `_entry_k` refused the entry
            return cfg
        own = notional_cap(cfg, key[0])
        if own is not None and own <= room:
            return cfg
        return msgspec.structs.replace(cfg, symbol_max_notional={**cfg.symbol_max_notional, key[0]: room})

    def _within_exposure(self, target: dict[Key, Decimal]) -> dict[Key, Decimal]:
        """A resync's target with what it adds beyond max_total_exposure left out: the positions
        that grow, in symbol order, take the room the slave's positions leave (at the prices of
        `_price_of`; a reduction's room is not counted until it is done)."""
        if self.config.max_total_exposure is None:
            return target
        room = self._exposure_room(("", "")) or ZERO  # every position counts
        held = self.account.snapshot_positions()
        for key in sorted(target):
            have, want, price = held.get(key, ZERO), target[key], self._price_of(key[0])
            if have and (want > 0) != (have > 0):
                have = ZERO  # a flip: its new side grows from nothing
            if abs(want) <= abs(have) or not price:
                continue
            most = abs(have) + room / price
            if abs(want) > most:
                target[key] = most if want > 0 else -most
                self.guard_acted(
                    "max_exposure", f"max total exposure ({self.config.max_total_exposure} USDT): {key[0]} is not grown past it"
                )
            room = max(room - (abs(target[key]) - abs(have)) * price, ZERO)
        return target

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
