"""The hot path of a slave: one market's master events in, its orders out (master fill ->
sequence check -> per-symbol worker -> decision (actors/domain/) -> the account's order)."""

from __future__ import annotations

import asyncio
import collections
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from protocol.messages import (
    AccountConfigChanged,
    Heartbeat,
    MasterAlgoOrder,
    MasterFill,
    MasterOrder,
    OrderMirrored,
    PositionSnapshot,
    SlaveConfig,
    SlaveError,
)
from protocol.seq import SeqTracker, SeqVerdict

from ..binance.errors import AuthError, BinanceAPIError
from ..domain.decisions import OrderIntent
from ..domain.target import slave_key
from .accounts.execution import ExecutionFailed
from .eager import run_eagerly
from .target_store import book_for
from .target_view import TargetView

if TYPE_CHECKING:
    from .accounts import Account
    from .process import Slave

from .follow import Follow
from .guards import Guards
from .join import BetterPrice
from .leftovers import Leftovers
from .order_lists import ListMirror
from .protective import ProtectiveMirror
from .reports import Reports
from .resting import RestingMirror
from .rules import _STARTING, FILTER_ERRORS, ZERO, _dec, _is_capital_refusal, log, now_ns
from .sync import Resync, Sequenced


class MarketMirror(Resync, Follow, Reports, TargetView, Guards, RestingMirror, ListMirror, Leftovers, ProtectiveMirror, BetterPrice):
    """Copies one market of the master onto this slave's account."""

    def __init__(self, slave: "Slave", account: "Account") -> None:
        self.slave = slave
        self.account = account
        self.market = account.market
        self.tracker = SeqTracker()
        self.syncing = True  # fills wait in `pending` while a (re)sync runs
        self.hold = False  # workers take no new fill (periodic check, flatten); fills still queue
        # Our own positions are known: read from REST while our user-data stream was up, and the stream has not broken
        # since. Then a resync the master side asks for (gap, master restart, master reconnect) needs no REST read unless
        # a correction is due: when a master restarts, 100 slaves reading REST at once would exceed Binance's per-IP weight.
        self.own_fresh = False
        self.resync_failing_since: float | None = None
        self.filters_refreshing = False
        self.resync_again: str | None = None
        # sequenced events that came during a (re)sync or after a gap: fills, and resting orders
        # and config changes, which take their numbers in the same sequence
        self.pending: list[tuple[Sequenced, int]] = []
        self.queues: dict[str, collections.deque[tuple[MasterFill | MasterOrder | MasterAlgoOrder, int]]] = {}
        # orders = "mirror": master order id -> its copy (resting.py); a master's OCO order waiting for its sibling (order_lists.py)
        self.resting, self.list_legs = {}, {}
        self.guards, self.guard_fills, self.guard_leftovers = {}, {}, set()  # protective = "mirror": our stops (protective.py)
        self.workers: dict[str, Any] = {}  # symbol -> its running worker task
        self.in_flight = 0
        self.fills_received = 0  # master fills seen (a periodic check is void if one came after its snapshot)
        self.idle = asyncio.Event()
        self.idle.set()
        self.refused: str | None = None
        # corrections the exchange refused for capital: (symbol, side) -> (order side, qty, equity, when)
        self.capital_refused: dict[tuple[str, str], tuple[str, Decimal, Decimal | None, float]] = {}
        self.forced: set[tuple[str, str]] = set()  # liquidated / ADL while the master's stays open: not restored
        self.book = book_for(slave, self.market)  # the one target (intended positions, saved; new_only's ignored set)
        self.master_equity: Decimal | None = None
        # Spot/margin: the master's equity BEFORE each fill (that of the event before it in seq
        # order). A fill's own `equity` is taken after its commission was paid, while the slave's
        # equity is still before its copy's: comparing before with before keeps k exact.
        self.equity_in_order: Decimal | None = None
        self.equity_before: dict[tuple[int, int], Decimal] = {}
        self.master_mode: str | None = None
        self.last_heartbeat = time.monotonic()
        self.master_connected = False
        self.stream_state = "connecting"
        self.aligned: set[str] = set()
        self.last_snapshot: PositionSnapshot | None = None
        self.master_positions: dict[tuple[str, str], Decimal] = {}  # from snapshots + every fill applied
        self.last_price: dict[str, Decimal] = {}  # the master's last fill price per symbol
        self.entry_orders, self.slipped, self.joining, self.join_checked, self.join_noted = {}, set(), self._load_joining(), 0.0, {}
        self.resync_task: asyncio.Task[None] | None = None

    @property
    def config(self) -> SlaveConfig:
        return self.slave.config

    @property
    def reverse(self) -> bool:
        """`reverse` applies to USD-M only (spot cannot go short; margin follows the master)."""
        return self.config.reverse and self.market == "usdm"

    # -- events from the master ------------------------------------------------------------------
    def on_event(self, event: Any, t_recv: int) -> None:
        if isinstance(event, MasterFill):
            self._on_fill(event, t_recv)
        elif isinstance(event, Heartbeat):
            self.last_heartbeat = time.monotonic()
            self.master_connected = event.connected
            verdict = self.tracker.check_heartbeat(event.epoch, event.seq).verdict
            if not self.syncing and verdict in (SeqVerdict.GAP, SeqVerdict.RESTART):
                self.request_resync("gap" if verdict is SeqVerdict.GAP else "restart")
        elif isinstance(event, PositionSnapshot):
            self._on_published_snapshot(event)
        elif isinstance(event, (MasterOrder, MasterAlgoOrder)):
            self._on_order(event, t_recv)
        elif isinstance(event, AccountConfigChanged):
            if self.syncing:
                self.pending.append((event, t_recv))  # followed now, numbered when the sync ends
            if self._sequence_ok(event.epoch, event.seq):
                asyncio.get_running_loop().create_task(self._follow_config(event))

    def _sequence_ok(self, epoch: int, seq: int) -> bool:
        if self.syncing:
            return True  # the running sync resets the tracker from its snapshot
        verdict = self.tracker.feed(epoch, seq).verdict
        if verdict is SeqVerdict.OK:
            return True
        if verdict is SeqVerdict.DUPLICATE:
            return False
        self.request_resync("restart" if verdict is SeqVerdict.RESTART else "gap")
        return True

    def _on_fill(self, fill: MasterFill, t_recv: int) -> None:
        self.fills_received += 1
        if fill.position_after == 0 and self.forced:  # the master closed it: copied normally again
            key = slave_key(fill.symbol, fill.position_side, self.reverse)
            if key in self.forced:
                self.forced.discard(key)
                self.slave.forced_changed()
        if self.syncing:
            self.pending.append((fill, t_recv))
            return
        verdict = self.tracker.feed(fill.epoch, fill.seq).verdict
        if verdict is SeqVerdict.DUPLICATE:
            return
        if verdict is not SeqVerdict.OK:
            self.pending.append((fill, t_recv))
            self.request_resync("restart" if verdict is SeqVerdict.RESTART else "gap")
            return
        self._enqueue(fill, t_recv)

    def _on_published_snapshot(self, snap: PositionSnapshot) -> None:
        if self.syncing:
            return
        verdict = self.tracker.feed(snap.epoch, snap.seq).verdict
        if verdict in (SeqVerdict.GAP, SeqVerdict.RESTART):
            self.request_resync("restart" if verdict is SeqVerdict.RESTART else "gap")
        elif snap.reason in ("reconnect", "start"):
            self.request_resync("reconnect")
        elif snap.reason == "periodic" and self.in_flight == 0 and not any(self.queues.values()):
            self.master_equity = snap.equity
            self.equity_in_order = snap.equity
            asyncio.get_running_loop().create_task(self._periodic_check(snap, self.fills_received))

    # -- per-symbol workers ------------------------------------------------------------------------
    def _enqueue(self, fill: MasterFill | MasterOrder | MasterAlgoOrder, t_recv: int) -> None:
        symbol = fill.symbol if isinstance(fill, MasterFill) else fill.order.symbol
        q = self.queues.get(symbol)
        if q is None:
            q = self.queues[symbol] = collections.deque()
        q.append((fill, t_recv))
        if self.market != "usdm" and isinstance(fill, MasterFill):
            if self.equity_in_order is not None:
                self.equity_before[(fill.epoch, fill.seq)] = self.equity_in_order
            self.equity_in_order = fill.equity
        self._kick(symbol)

    def _kick(self, symbol: str) -> None:
        """Start the symbol's worker unless it runs, or the mirror takes no fill now (syncing,
        hold). The worker starts eagerly: the first fill's order is decided and written to the
        exchange before this returns (no extra pass of the event loop on the hot path)."""
        if symbol in self.workers or self.syncing or self.hold or not self.queues.get(symbol):
            return
        self.workers[symbol] = _STARTING  # a worker exists from now on, even during its first step
        try:
            task = run_eagerly(self._worker(symbol), name=f"{self.market}-{symbol}")
        except BaseException:
            self.workers.pop(symbol, None)
            raise
        if task is not None and symbol in self.workers:
            self.workers[symbol] = task

    async def _worker(self, symbol: str) -> None:
        """Mirror the symbol's queued fills one after another, then end (`_kick` starts the next)."""
        q = self.queues[symbol]
        try:
            while q and not self.syncing and not self.hold:
                fill, t_recv = q.popleft()
                self.in_flight += 1
                self.idle.clear()
                try:
                    if isinstance(fill, MasterOrder):
                        await self._mirror_order(fill, t_recv)
                    elif isinstance(fill, MasterAlgoOrder):
                        await self._mirror_algo(fill, t_recv)
                    else:
                        await self._mirror(fill, t_recv)
                except Exception as exc:  # noqa: BLE001 - one fill's failure never stops the worker
                    log.exception("mirroring %s seq %d failed", symbol, fill.seq)
                    if isinstance(fill, MasterFill):
                        self.slave.report(self._failed(fill, t_recv, None, 0, str(exc)[:200], unknown=False))
                finally:
                    self.in_flight -= 1
                    if self.in_flight == 0:
                        self.idle.set()
        finally:
            self.workers.pop(symbol, None)

    def _wake_all(self) -> None:
        for symbol in list(self.queues):
            self._kick(symbol)

    async def _mirror(self, fill: MasterFill, t_recv: int) -> None:
        acct = self.account
        self.master_equity = fill.equity
        self.master_positions[(fill.symbol, fill.position_side)] = fill.position_after
        self.last_price[fill.symbol] = fill.price
        key = slave_key(fill.symbol, fill.position_side, self.reverse)
        book = self.book
        copy = self._fill_of_copy(fill)
        guard = self._fill_of_guard(fill)
        if key in book.ignored:
            if fill.position_after == 0 or fill.position_before * fill.position_after < 0:
                book.ignored.discard(key)  # flat, or flipped: what the master opens from now on is ours
            if fill.position_before * fill.position_after >= 0:
                book.record(key, ZERO, (fill.symbol, fill.position_side), fill.position_after)
                self._skip(fill, t_recv, "not_copied", "position opened before this slave started (on_start = new_only)")
                return
        k = self._entry_k(key, self._fill_k(fill, self.equity_before.pop((fill.epoch, fill.seq), fill.equity)))  # target_view, guards
        decision = self._decide(  # decide_fill under the max total exposure (guards.py)
            fill,
            key,
            slave_id=self.slave.slave_id,
            k=k,
            filters=acct.filters.get(fill.symbol),
            holding=acct.holding(*key),
            paused_all=self.slave.paused_all,
            refused=self.refused,
            intended=book.intended.get(key, ZERO),
        )
        if decision.intended is not None:
            book.record(key, decision.intended, (fill.symbol, fill.position_side), fill.position_after)
        if copy is not None and decision.intended is not None:  # the copy of the master's resting order fills on its own
            book.settle(key, None)
            self._skip(fill, t_recv, "not_copied", f"filled by the copy of master order {fill.order_id} (orders = mirror)")
            if fill.status == "FILLED":
                del self.resting[fill.order_id]
                await self._order_done(copy, t_recv)
            return
        if guard is not None and decision.intended is not None:  # the master's stop: ours closes the same
            book.settle(key, None)
            await self._fill_by_guard(guard, fill, t_recv)
            return
        if decision.skip is not None:
            self._skip(fill, t_recv, decision.skip.reason, decision.skip.text, leg=len(decision.intents))
            if decision.skip.notify:  # e.g. margin_level_low: the control actor notifies a person
                self.slave.report(
                    SlaveError(
                        slave_id=self.slave.slave_id,
                        code=decision.skip.notify,
                        message=decision.skip.text[:300],
                        market=self.market,
                        t_ns=now_ns(),
                    )
                )
        all_ok = True
        for intent in decision.intents:
            if intent.kind == "open" and fill.symbol not in self.aligned:
                await self._align(fill.symbol, fill.leverage, fill.margin_type)
            ok = await self._send(intent, fill, t_recv)
            all_ok = all_ok and ok
            if not ok and decision.sequential:
                break
        if decision.intended is not None:  # where the fill deliberately left us, or a fault to correct
            self._settle_fill(key, decision, all_ok)  # guards.py

    async def _send(self, intent: OrderIntent, fill: MasterFill | None, t_recv: int) -> bool:
        t_sent = now_ns()
        try:
            done = await self.account.execute(intent)
        except ExecutionFailed as exc:
            log.warning(
                "order %s %s %s failed after %d sends (unknown=%s): %s",
                intent.side,
                intent.qty,
                intent.symbol,
                exc.sends,
                exc.unknown,
                exc.error,
            )
            self.slave.report(self._failed(fill, t_recv, intent, exc.error.code, exc.error.msg, unknown=exc.unknown, t_sent=t_sent))
            self.slave.notify_error("order_status_unknown" if exc.unknown else "order_failed", exc.error.msg)
            return False
        except BinanceAPIError as exc:
            log.warning("order %s %s %s refused: %s", intent.side, intent.qty, intent.symbol, exc)
            if fill is None and _is_capital_refusal(self.market, intent.side, exc.code):
                self.capital_refused[(intent.symbol, intent.position_side)] = (
                    intent.side,
                    intent.qty,
                    self.account.equity,
                    time.monotonic(),
                )
            self.slave.report(self._failed(fill, t_recv, intent, exc.code, exc.msg, unknown=False, t_sent=t_sent))
            if exc.code in FILTER_ERRORS:
                self._filters_changed()
            if exc.code == -2010 and intent.side == "SELL" and self.market != "usdm":
                await self._reread_balances(intent)
            if isinstance(exc, AuthError):
                self.slave.fatal_key_error(self.market, exc)
            return False
        t_ack = now_ns()
        if fill is None:
            self.capital_refused.pop((intent.symbol, intent.position_side), None)
        r = done.result
        self.slave.last_latency_ns = t_ack - (fill.t_master_recv_ns if fill else t_sent)
        self.slave.report(
            OrderMirrored(
                **self._keys(fill, t_recv, intent),
                reduce_only=intent.reduce_only,
                exchange_order_id=int(r.get("orderId", 0)),
                status=str(r.get("status", "")),
                executed_qty=_dec(r.get("executedQty")),
                avg_price=_dec(r.get("avgPrice")) or None,
                summary=f"{r.get('status', '')} {r.get('executedQty', '')}@{r.get('avgPrice', '')}"
                + (" (found after unknown status)" if done.recovered else ""),
                t_order_sent_ns=t_sent,
                t_order_acked_ns=t_ack,
            )
        )
        self._slipped(intent, _dec(r.get("executedQty")), fill, t_recv)  # the slippage guard (guards.py)
        return True
