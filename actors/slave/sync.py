"""A market mirror's (re)synchronisation: at start, after a gap, a master restart or a stream
drop, and the periodic check; each compares the slave's positions with the one target and
corrects only what a fault caused (a mixin of `MarketMirror`)."""

from __future__ import annotations

import asyncio
import random
import time
from decimal import Decimal

from protocol.messages import (
    AccountConfigChanged,
    DesyncDetected,
    MasterAlgoOrder,
    MasterFill,
    MasterOrder,
    PositionSnapshot,
    Reconciled,
    SlaveError,
)
from protocol.seq import SeqVerdict

from ..binance.errors import AuthError, RateLimited
from ..domain.decisions import OrderIntent, margin_guard, reconcile_target
from ..domain.positions import positions_of
from ..domain.sizing import CannotSize
from ..domain.target import slave_key
from .rules import (
    CAPITAL_RETRY_S,
    CAPITAL_RICHER,
    CAPITAL_SMALLER,
    KEY_REFUSED_RETRY_S,
    RESYNC_JITTER_S,
    RESYNC_PAGE_AFTER_S,
    ZERO,
    _cause,
    _observe,
    log,
    now_ns,
)
from .target_view import PERIODIC_TOLERANCE

# What takes a number in a master's sequence and waits in `pending` during a (re)sync
Sequenced = MasterFill | MasterOrder | MasterAlgoOrder | AccountConfigChanged


class Resync:
    """Resync, corrections and the periodic check (a mixin of `MarketMirror`)."""

    # -- (re)synchronisation ----------------------------------------------------------------------
    def request_resync(self, cause: str) -> None:
        if self.resync_task is not None and not self.resync_task.done():
            self.resync_again = cause
            return
        self.syncing = True
        self.resync_task = asyncio.get_running_loop().create_task(self._resync_loop(cause))

    async def _resync_loop(self, cause: str) -> None:
        again = 0  # resyncs asked for again right after one finished
        while True:
            try:
                await self.resync(cause)
            except AuthError as exc:
                # The key was refused (revoked, expired, IP): say so once (fatal, trading stops)
                # rather than page "resync failed" every second; look again now and then.
                log.error("resync (%s): API key refused (%s)", cause, exc.code)
                self.slave.fatal_key_error(self.market, exc)
                await asyncio.sleep(KEY_REFUSED_RETRY_S)
                continue
            except Exception as exc:  # noqa: BLE001 - keep trying: a slave that stops syncing stops copying
                log.warning("resync (%s) failed: %s; retrying", cause, exc)
                now = time.monotonic()
                if self.resync_failing_since is None:
                    self.resync_failing_since = now
                elif now - self.resync_failing_since >= RESYNC_PAGE_AFTER_S:  # not healing: a person looks
                    self.resync_failing_since = now
                    self.slave.report(
                        SlaveError(
                            slave_id=self.slave.slave_id,
                            code="resync_failed",
                            message=f"resync failing for a minute: {exc}"[:200],
                            market=self.market,
                            t_ns=now_ns(),
                        )
                    )
                # Rate limited or banned: wait as long as the exchange says; hammering extends a ban.
                wait = (exc.retry_after or 1.0) if isinstance(exc, RateLimited) else 1.0
                await asyncio.sleep(min(max(wait, 1.0), 300.0))
                continue
            self.resync_failing_since = None
            if self.resync_again is None:
                return
            cause, self.resync_again = self.resync_again, None
            again += 1
            if again >= 3:  # not converging: never spin (each resync may read REST: per-IP weight)
                delay = min(0.1 * 2 ** (again - 3), 5.0)
                log.warning("resync (%s) asked for again %d times in a row; next in %.1f s", cause, again, delay)
                await asyncio.sleep(delay)

    async def resync(self, cause: str) -> None:
        self.syncing = True
        t0 = now_ns()
        if cause == "own_reconnect":  # every slave's stream may have dropped at once: spread the reads
            await asyncio.sleep(random.uniform(0, RESYNC_JITTER_S))
        await self.idle.wait()  # let orders in flight finish; workers take nothing new while syncing
        snap = await self.slave.request_snapshot(self.market)
        t_snap = now_ns()
        acct = self.account
        _observe(acct, snap)  # learn the master's symbols first, so the refresh prices them too
        need_rest = cause in ("start", "own_reconnect") or not self.own_fresh or acct.market != "usdm"
        if need_rest or self._plan(snap, nonce="check"):  # a correction is due: confirm it from REST first
            stream_up = self.stream_state in ("connected", "reconnected")
            await acct.refresh()
            self.own_fresh = stream_up and self.stream_state in ("connected", "reconnected")
        _observe(acct, snap)
        self.master_equity = snap.equity
        self.last_snapshot = snap
        self.master_positions = positions_of(snap.positions)
        self.equity_before.clear()
        self.equity_in_order = snap.equity
        if snap.position_mode is not None:
            self.master_mode = snap.position_mode
            self.refused = await acct.align_position_mode(snap.position_mode)
        for entry in snap.positions:
            if entry.qty and entry.symbol not in self.aligned:
                await self._align(entry.symbol, entry.leverage, entry.margin_type)
        if cause not in ("start", "join"):  # the first sync of a (re)started slave is routine, not a desync; a join is deliberate
            self.slave.report(
                DesyncDetected(
                    slave_id=self.slave.slave_id, market=self.market, cause=_cause(cause), detail=f"snapshot seq {snap.seq}", t_ns=t0
                )
            )
        orders = 0
        new_only = cause == "start" and self.config.on_start in ("new_only", "flatten", "better_price") and not self.book.loaded
        # flatten / better_price act at the follower's very first start only (join.py): never after a
        # restart, a retried start, or a target file that exists but cannot be read (then: new_only)
        first = new_only and self.config.on_start in ("flatten", "better_price") and self._first_start()
        if first and self.config.on_start == "flatten" and self._may_trade():
            await self._clean_start()  # follow.py; raises unless the account is flat (the start is tried again)
        if new_only:
            self.ignored = {
                slave_key(e.symbol, e.position_side, self.reverse)
                for e in snap.positions
                if e.qty and not acct.positions.get(slave_key(e.symbol, e.position_side, self.reverse))
            }
        if first:
            if self.config.on_start == "better_price":
                self.start_joining(snap)  # join.py
            self.book.save_now()
            self._started_once()
        if self.resting or self.guards or self._mirrors_orders() or cause == "start":
            await self._cancel_copies()  # at start also those a run with orders = mirror left
        if self.guard_fills or self.guards:
            await self.release_triggered()  # the snapshot holds the triggered stops' fills: corrected below
        self._move_target(snap)
        if not new_only and self._may_trade():
            orders = await self._correct(snap, nonce=f"{snap.epoch}-{snap.seq}-{cause}")
            if self._mirrors_orders():
                await self._place_snapshot_copies(snap)
        if self.guards or self._mirrors_protective():
            await self._reconcile_guards(snap)  # the stops stay through a resync where they still match
        # Resume: fills the snapshot covers are reported, newer ones go to the workers in order;
        # orders and config changes are numbered (the snapshot holds those it covers).
        self.tracker.reset(snap.epoch, snap.seq)
        waiting = self._drain_queued() + self.pending
        self.pending = []
        covered = 0
        for event, t_recv in sorted(waiting, key=lambda ft: (ft[0].epoch != snap.epoch, ft[0].seq)):
            if event.epoch == snap.epoch and event.seq <= snap.seq:
                if not isinstance(event, MasterFill):
                    continue  # an order or config change the snapshot holds
                covered += 1
                self._skip(event, t_recv, "not_copied", f"covered by reconciliation ({cause}) at snapshot seq {snap.seq}")
                continue
            if event.epoch != snap.epoch and t_recv <= t_snap:
                # Published by an earlier session of the master (it restarted): the new session's
                # snapshot, read from the exchange, already holds its effect. Feeding it to the
                # tracker would call it a gap, again after every resync (a resync loop, seen).
                if not isinstance(event, MasterFill):
                    continue
                covered += 1
                self._skip(
                    event, t_recv, "not_copied", f"covered by reconciliation ({cause}) at snapshot seq {snap.seq} of a newer master session"
                )
                continue
            verdict = self.tracker.feed(event.epoch, event.seq).verdict
            if verdict is SeqVerdict.DUPLICATE:
                continue
            if verdict is not SeqVerdict.OK:
                self.resync_again = "gap"
                self.pending.append((event, t_recv))
                continue
            if isinstance(event, MasterFill) or (isinstance(event, (MasterOrder, MasterAlgoOrder)) and self._mirrors_orders()):
                self._enqueue(event, t_recv)  # a config change was followed when it came; an order is numbered only
        self.slave.report(
            Reconciled(
                slave_id=self.slave.slave_id,
                market=self.market,
                orders=orders,
                drifts=self.drifts(),
                t_ns=now_ns(),
                master_epoch=snap.epoch,
                master_seq=snap.seq,
            )
        )
        log.info("synced (%s) at master seq %d: %d corrective orders, %d fills covered", cause, snap.seq, orders, covered)
        if self.resync_again is None:
            self.syncing = False
            self._wake_all()

    def _may_trade(self) -> bool:
        cfg = self.config
        return cfg.enabled and not cfg.paused and not self.slave.paused_all and not self.refused and self.market in cfg.markets

    def _drain_queued(self) -> list[tuple[Sequenced, int]]:
        out: list[tuple[Sequenced, int]] = []
        for q in self.queues.values():
            out.extend(q)
            q.clear()
        return out

    def _plan(self, snap: PositionSnapshot, *, nonce: str, tolerance: Decimal = ZERO) -> list[OrderIntent]:
        """Corrections that bring the tracked positions to the target (the intended positions
        moved to the snapshot). No I/O."""
        acct = self.account
        _observe(acct, snap)
        k = self._sizing(snap)  # target_view.py
        if isinstance(k, CannotSize):
            return []
        intents = reconcile_target(
            snap.positions,
            acct.snapshot_positions(),
            k if isinstance(k, Decimal) else ZERO,  # the target is `expected`: k only says sizing is possible
            acct.filters,
            market=self.market,
            slave_id=self.slave.slave_id,
            config=self.config,
            nonce=nonce,
            prices=getattr(acct, "prices", None),  # spot/margin: last prices (the master's have none)
            buy_commission=getattr(acct, "buy_commission", ZERO),  # spot/margin: taken from the base bought
            expected=self._target_at(snap),
        )
        # on_start = new_only: positions the master held when we started are not ours to copy,
        # whatever resync comes later (master restart, gap, periodic check); one the exchange
        # liquidated is not bought back by a correction (`on_forced`)
        # a position with a live copy of a master's resting order drifts by the copy's queue: it is
        # settled when the master's order is done (resting.py)
        live = self.resting_keys() if (self.resting or self.guards or self.guard_fills) else set()
        intents = [
            i
            for i in intents
            if (i.symbol, i.position_side) not in self.ignored
            and (i.kind != "open" or (i.symbol, i.position_side) not in self.forced)
            and (i.symbol, i.position_side) not in live
        ]
        if tolerance:
            expected = self._target_at(snap)
            intents = [i for i in intents if i.kind == "close" or i.qty > tolerance * abs(expected.get((i.symbol, i.position_side), ZERO))]
        return intents

    async def _correct(self, snap: PositionSnapshot, *, nonce: str, tolerance: Decimal = ZERO) -> int:
        acct = self.account
        intents = self._plan(snap, nonce=nonce, tolerance=tolerance)
        sent = 0
        unsent = {(i.symbol, i.position_side) for i in intents}  # a fault still to correct
        for intent in intents:
            if intent.kind == "open" and intent.symbol not in self.aligned:
                entry = next((e for e in snap.positions if e.symbol == intent.symbol), None)
                await self._align(intent.symbol, entry.leverage if entry else None, entry.margin_type if entry else None)
            if intent.side_effect == "MARGIN_BUY":  # corrections borrow under the same floor as copies
                holding = acct.holding(intent.symbol, intent.position_side)
                guard = margin_guard(self.config, holding, [intent], holding.free)
                if guard is not None:
                    self.slave.report(
                        SlaveError(
                            slave_id=self.slave.slave_id,
                            code=guard.notify or "margin_level_low",
                            message=f"correction not sent: {guard.text}"[:300],
                            market=self.market,
                            t_ns=now_ns(),
                        )
                    )
                    continue
            if self._capital_still_short(intent):
                continue
            if await self._send(intent, None, now_ns()):
                sent += 1
                unsent.discard((intent.symbol, intent.position_side))
        self._leave_unplaceable(snap, unsent)
        return sent

    def _capital_still_short(self, intent: OrderIntent) -> bool:
        """A correction the exchange refused for capital is not sent again (nor paged again) until
        the account's equity grew, the gap grew (a worse drift is told again), the gap shrank by 10%
        (the master reduced: the smaller order may fit the margin now), or CAPITAL_RETRY_S passed: its
        drift stays visible (status, TUI), the person was told once."""
        seen = self.capital_refused.get((intent.symbol, intent.position_side))
        if seen is None:
            return False
        side, qty, equity, when = seen
        now = time.monotonic()
        equity_now = self.account.equity
        richer = equity is not None and equity_now is not None and equity_now > equity * CAPITAL_RICHER
        if (
            side != intent.side
            or intent.qty > qty * CAPITAL_RICHER
            or intent.qty < qty * CAPITAL_SMALLER
            or richer
            or now - when > CAPITAL_RETRY_S
        ):
            return False
        log.info("correction %s %s %s not sent: refused for capital %.0f s ago", intent.side, intent.qty, intent.symbol, now - when)
        return True

    async def _periodic_check(self, snap: PositionSnapshot, fills_at_snapshot: int) -> None:
        if self.syncing or self.hold or not self._may_trade():
            return
        tol = PERIODIC_TOLERANCE if self.config.sizing == "balance_multiplier" else ZERO
        async with self._held():
            if self.guard_leftovers:  # copies / stops whose end is not known: canceled again (resting.py)
                await self._sweep_leftovers()
            if self.fills_received != fills_at_snapshot:
                # A fill came after the snapshot (its worker starts at once, before this task): our
                # positions may be newer than the snapshot. Comparing them would "correct" the copy
                # of that fill away (seen at 100 slaves: open copied, closed by the check, the
                # master's close then skipped as no_position). The next periodic snapshot checks.
                return
            self.last_snapshot = snap
            self.master_positions = positions_of(snap.positions)
            self._move_target(snap)
            nonce = f"{snap.epoch}-{snap.seq}-periodic"
            # Tracked positions first (no request): REST only to confirm a drift before correcting
            # it, so 100 slaves' periodic checks cost Binance's per-IP weight budget next to nothing.
            if not self._plan(snap, nonce=nonce, tolerance=tol):
                return
            await self.account.refresh()
            orders = await self._correct(snap, nonce=nonce, tolerance=tol)
            if orders:
                self.slave.report(
                    Reconciled(slave_id=self.slave.slave_id, market=self.market, orders=orders, drifts=self.drifts(), t_ns=now_ns())
                )
