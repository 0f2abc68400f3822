"""Joining at a better price (issue 22, `on_start = "better_price"`), a mixin of `MarketMirror`.

At its first start on a market the follower does not join the positions the master already holds
(as `new_only`), but keeps each one's entry price (`joining`, saved beside the target:
`<state_dir>/slaves/<id>/join-<market>.json`). Every JOIN_CHECK_S seconds it reads the price of
those symbols (USD-M: the mark price, GET /fapi/v1/premiumIndex, weight 1; spot and margin: GET
/api/v3/ticker/price, weight 2) and joins a position once the price is at least as good as the
master's entry: at or under it for a long, at or over it for a short. Joining sets the position's
intended size to the copy rule's (k times the master's position now; fixed sizing: one entry of
its notional at the master's entry price) and corrects to it at once, through a resync of that
market (journalled as its corrective order; no desync is reported). The guards apply: no join
while entries are refused. A position the master closes or flips before the price comes back is
dropped from the list (what the master opens next is copied as ever).
"""

from __future__ import annotations

import logging
import time
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec

from ..binance import spot_api, usdm_api
from ..domain.sizing import CannotSize, entry_k
from ..domain.target import advance, signed, slave_key
from ..files import write_atomic

if TYPE_CHECKING:
    from .mirror import MarketMirror

log = logging.getLogger("copytrader.slave")
JOIN_CHECK_S = 5.0
Key = tuple[str, str]


class _Joining(msgspec.Struct):
    entries: list[tuple[str, str, Decimal]]  # (symbol, slave position side, master entry price)


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")


def join_path(book_path: Path | None, market: str) -> Path | None:
    return book_path.with_name(f"join-{market}.json") if book_path is not None else None


class BetterPrice:
    """The list of positions waiting for a better price, and the check that joins them."""

    def _first_start(self: "MarketMirror") -> bool:
        """Whether this follower never started on this market: no target file (even one that cannot
        be read) and no marker of a clean start or a better_price start done. Without a state
        directory (a tool, a test): always."""
        path = self.book.path
        if path is None:
            return True
        return not path.exists() and not path.with_name(f"started-{self.market}").exists()

    def _started_once(self: "MarketMirror") -> None:
        path = self.book.path
        if path is not None:
            write_atomic(path.with_name(f"started-{self.market}"), b"on_start done\n")

    def _load_joining(self: "MarketMirror") -> dict[Key, Decimal]:
        path = join_path(self.book.path, self.market)
        if path is None or not path.exists():
            return {}
        try:
            saved = msgspec.json.decode(path.read_bytes(), type=_Joining)
        except (OSError, msgspec.DecodeError) as exc:
            log.error("cannot read %s (%s): no position waits for a better price", path, exc)
            return {}
        return {(s, ps): price for s, ps, price in saved.entries}

    def _save_joining(self: "MarketMirror") -> None:
        path = join_path(self.book.path, self.market)
        if path is not None:
            write_atomic(path, msgspec.json.encode(_Joining(entries=[(s, ps, p) for (s, ps), p in sorted(self.joining.items())])))

    def start_joining(self: "MarketMirror", snap: Any) -> None:
        """At the first start: every master position not joined is kept with its entry price."""
        self.join_noted = {}
        self.joining = {
            slave_key(e.symbol, e.position_side, self.reverse): e.entry_price
            for e in snap.positions
            if e.qty and e.entry_price > 0 and slave_key(e.symbol, e.position_side, self.reverse) in self.ignored
        }
        self._save_joining()
        if self.joining:
            log.info(
                "on_start = better_price: %d position(s) wait for the master's entry price: %s", len(self.joining), sorted(self.joining)
            )

    async def _price_now(self: "MarketMirror", symbol: str) -> Decimal | None:
        if self.market == "usdm":
            return await usdm_api.mark_price(self.account.rest, symbol)
        return (await spot_api.ticker_prices(self.account.rest, [symbol])).get(symbol)

    def _note_waiting(self: "MarketMirror", key: Key, price: Decimal | None, entry: Decimal) -> None:
        """Log that `key` still waits: when its price moved 0.1 % or more since the last line about
        it, or 5 minutes later."""
        last = self.join_noted.get(key)
        now = time.monotonic()
        if price is None or (last is not None and abs(price - last[0]) < last[0] / 1000 and now - last[1] < 300):
            return
        self.join_noted[key] = (price, now)
        log.info("better_price: %s %s at %s waits for the master's entry %s or better", key[0], key[1], _plain(price), _plain(entry))

    async def check_joins(self: "MarketMirror") -> None:
        """Join every waiting position whose price is now at least as good as the master's entry."""
        self.join_checked = time.monotonic()
        if self.syncing or self.last_snapshot is None:  # the master's positions are not known yet
            return
        joined = False
        for key, entry in sorted(self.joining.items()):
            mkey = slave_key(key[0], key[1], self.reverse)  # the swap is its own inverse
            if self._entry_block(key):  # guards.py: no join while entries are refused
                continue
            try:
                price = await self._price_now(key[0])
            except Exception as exc:  # noqa: BLE001 - the next check reads it again
                log.warning("price of %s not read: %s", key[0], exc)
                continue
            # read after the price: a fill that came meanwhile moved them (no await from here on)
            master = self.master_positions.get(mkey, Decimal(0))
            if self.syncing or not master or key not in self.ignored or key not in self.joining:
                if not self.syncing:  # closed or flipped meanwhile: nothing to join
                    self.joining.pop(key, None)
                    self._save_joining()
                continue
            long = (signed(mkey[1], master) > 0) != self.reverse  # the follower's side (reverse: the other)
            if price is None or (price > entry if long else price < entry):
                self._note_waiting(key, price, entry)
                continue
            k = entry_k(self.config, self._sizing(self.last_snapshot), self.slave.equity_stop) if self.last_snapshot else None
            if k is None or isinstance(k, CannotSize):
                continue
            value = advance({}, {}, {mkey: master}, k, reverse=self.reverse).get(key)
            if not value:
                continue
            log.info(
                "joining %s %s at %s (the master's entry %s): intended %s", key[0], key[1], _plain(price), _plain(entry), _plain(value)
            )
            self.ignored.discard(key)
            self.book.intended[key] = value
            self.book.save_now()
            del self.joining[key]
            self._save_joining()
            joined = True
        if joined:
            self.request_resync("join")


def background_reads(slave: Any, now: float) -> None:
    """Once a second (process.py `maintain`): the income poll when due (income.py) and each
    market's join check every JOIN_CHECK_S while positions wait for a better price."""
    if slave.income.due(now):
        slave.spawn(slave.income.poll())
    for m in slave.mirrors.values():
        if m.joining and now - m.join_checked >= JOIN_CHECK_S:
            m.join_checked = now
            slave.spawn(m.check_joins())
