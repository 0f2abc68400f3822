"""A slave's copies and stops whose end is not established (`orders = "mirror"`): a cancel or a
placement that got no answer keeps the order on record (`guard_leftovers`, saved with the copies
in copies-<market>.json), and it is canceled again at every periodic check (`_sweep_leftovers`)
and at every (re)sync (`_cancel_copies`, which also cancels the copies the last run recorded), so
none stays working on the exchange unknown to us. A mixin of MarketMirror, beside resting.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..binance.errors import BinanceAPIError, OrderNotFound
from ..domain.protective import GUARD_PREFIX
from .copies_state import copies_path, load_copies
from .rules import log

if TYPE_CHECKING:
    from .mirror import MarketMirror


class Leftovers:
    """Mixin of MarketMirror: cancels of our copies and of what is left on record."""

    guard_leftovers: set[tuple[str, str]]

    async def _cancel_copy(self: "MarketMirror", symbol: str, cid: str) -> bool:
        """Cancel one of our copies (tried twice). False: its end is not known (a timeout, the
        connection down...): it stays on record (`guard_leftovers`, saved with the copies) and is
        canceled at the next sync, so a copy is never left working unknown to us."""
        for attempt in (1, 2):
            try:
                await self.account.cancel(symbol, cid)
                self.guard_leftovers.discard((symbol, cid))
                return True
            except OrderNotFound:
                self.guard_leftovers.discard((symbol, cid))
                return True  # never reached the exchange
            except BinanceAPIError as exc:
                log.warning("cancel of our copy %s failed (attempt %d): %s", cid, attempt, exc)
        self.guard_leftovers.add((symbol, cid))
        return False

    async def _cancel_copies(self: "MarketMirror") -> None:
        """A (re)sync: cancel every copy we have open, those of this run and those the last run
        recorded (the sync's corrections then run, and `_place_snapshot_copies` copies the
        snapshot's open orders again: what the master has left of each). This run's stops stay:
        `_reconcile_guards` keeps those the snapshot still holds (a follower is never without its
        stop while it resyncs); the last run's are canceled."""
        listed = {(c.master.symbol, c.intent.client_order_id) for c in self.resting.values() if c.intent is not None}
        listed |= set(load_copies(copies_path(self.slave, self.market))) | self.guard_leftovers
        listed -= set(self.guard_cids())
        self.resting = {}
        self.list_legs = {}
        for symbol, cid in sorted(listed):
            try:
                if cid.startswith(GUARD_PREFIX):  # a stop: kept on record until its end is known
                    status = await self.account.cancel_algo(cid)  # type: ignore[attr-defined]
                    (self.guard_leftovers.discard if status else self.guard_leftovers.add)((symbol, cid))
                    continue
                await self._cancel_copy(symbol, cid)
            except OrderNotFound:
                pass  # listed before it was sent, and never reached the exchange
            except BinanceAPIError as exc:
                log.warning("cancel of an earlier copy %s failed: %s", cid, exc)
                self.guard_leftovers.add((symbol, cid))
        if listed:
            self._save_copies()

    async def _sweep_leftovers(self: "MarketMirror") -> None:
        """Cancel again the copies and stops whose end is not established (a cancel or a placement
        that got no answer), at every periodic check and not only at the next resync: none may stay
        working on the exchange unknown to us for long (the chaos run found two stops of a follower
        open after the master had canceled everything)."""
        for symbol, cid in sorted(self.guard_leftovers):
            try:
                if cid.startswith(GUARD_PREFIX):
                    status = await self.account.cancel_algo(cid)  # type: ignore[attr-defined]
                    (self.guard_leftovers.discard if status else self.guard_leftovers.add)((symbol, cid))
                else:
                    await self._cancel_copy(symbol, cid)
            except OrderNotFound:
                self.guard_leftovers.discard((symbol, cid))
            except BinanceAPIError as exc:
                log.warning("cancel of a leftover copy %s failed again: %s", cid, exc)
        self._save_copies()
