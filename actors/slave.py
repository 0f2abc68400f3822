"""`slave-<id>`: one follower account, one uvloop process (`python -m actors.slave --config F --id ID`).

It decrypts only its own key, subscribes to the master listener(s) of the markets it copies, sizes
and sends each copy with its own key, follows its own user data, and PUSHes one report per decision
to the control actor. It never talks to another slave.

Ordering and recovery, per market:
- master events carry (epoch, seq). Fills are applied in seq order; different symbols run side by
  side (one worker per symbol), one symbol strictly in order.
- at start, after a sequence gap, a master restart or a missed event announced by a heartbeat, the
  slave stops taking new fills (they wait), lets in-flight orders finish, takes a fresh snapshot
  from the master and its own positions from REST, orders the difference (`reconcile_target`),
  and then resumes with the fills newer than the snapshot. Fills the snapshot already covers are
  reported as skipped ("covered by reconciliation"), never silently dropped.
"""
from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import itertools
import logging
import random
import sys
import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any, AsyncIterator

import zmq

from protocol import codec
from protocol.errors import ProtocolError
from protocol.messages import (
    AccountConfigChanged,
    DesyncDetected,
    FlattenCommand,
    Heartbeat,
    MarketStatus,
    MasterFill,
    MirrorSkipped,
    OrderFailed,
    OrderMirrored,
    PauseAllChanged,
    PositionSnapshot,
    Reconciled,
    SkipReason,
    SlaveConfig,
    SlaveConfigChanged,
    SlaveError,
    SlaveStatusReport,
    SnapshotReply,
    SnapshotRequest,
)
from protocol.seq import SeqTracker, SeqVerdict
from protocol.topics import control_subscriptions, master_prefix

from .base import Endpoints, ZmqReader, ensure_private_dir, kick_after_send, run, setup_logging
from .binance.errors import AuthError, BinanceAPIError, NotSent, RateLimited, StatusUnknown
from .config import AppConfig
from .domain.decisions import OrderIntent, decide_fill, margin_guard, reconcile_target
from .eager import run_eagerly
from .execution import ExecutionFailed
from .domain.sizing import CannotSize, ratio_k
from .reporter import Reporter
from .forced_state import forced_path, load_forced, save_forced
from .slave_markets import build_mirror, leverage_cap_changed, refresh_equities, sync_markets
from .slave_target import PERIODIC_TOLERANCE, TargetView
from .domain.target import slave_key
from .target_store import book_for
from .usdm import ForcedFill, UsdmAccount, fill_key, master_positions_map

if TYPE_CHECKING:
    from .margin import MarginAccount
    from .spot import SpotAccount

log = logging.getLogger("copytrader.slave")
ZERO = Decimal(0)
SNAPSHOT_TIMEOUT_S = 3.0
HEARTBEAT_LOST_S = 3.5
KEY_REFUSED_RETRY_S = 30.0  # a refused key: resync tried again this often (quietly)
RESYNC_JITTER_S = 3.0  # own stream back: spread the fleet's REST reads (Binance limits weight per IP)
RECONNECT_IVL_MAX_MS = 1000
CAPITAL_RETRY_S = 600.0  # a correction refused for capital is tried again after this long at the latest
CAPITAL_RICHER = Decimal("1.02")  # ... or once equity (or the gap) grew by 2%
CAPITAL_SMALLER = Decimal("0.9")  # ... or once the gap shrank by 10% (it needs less margin than was refused)


def _is_capital_refusal(market: str, side: str, code: int) -> bool:
    """-2019 margin is insufficient (futures); -2010 on a BUY (spot / margin: not enough quote)."""
    return code == -2019 or (code == -2010 and side == "BUY" and market != "usdm")


FILTER_ERRORS = frozenset({-1013, -1111, -4164})  # filter failure, precision, min notional: filters changed?
RESYNC_PAGE_AFTER_S = 60.0  # a resync failing this long (rate limits, timeouts) pages a person


_STARTING = object()  # placeholder worker while its first step runs


def now_ns() -> int:
    return time.monotonic_ns()


class MarketMirror(TargetView):
    """Copies one market of the master onto this slave's account."""

    def __init__(self, slave: "Slave", account: UsdmAccount | SpotAccount | MarginAccount) -> None:
        self.slave = slave
        self.account = account
        self.market = account.market
        self.tracker = SeqTracker()
        self.syncing = True  # fills wait in `pending` while a (re)sync runs
        self.hold = False  # workers take no new fill (periodic check, flatten); fills still queue
        # Our own positions are known: read from REST while our user-data stream was up, and the
        # stream has not broken since. Then a resync the master side asks for (gap, master restart,
        # master reconnect) needs no REST read unless a correction is due: when a master restarts,
        # 100 slaves reading REST at once would exceed Binance's per-IP weight.
        self.own_fresh = False
        self.resync_failing_since: float | None = None
        self.filters_refreshing = False
        self.resync_again: str | None = None
        self.pending: list[tuple[MasterFill, int]] = []
        self.queues: dict[str, collections.deque[tuple[MasterFill, int]]] = {}
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
        elif isinstance(event, AccountConfigChanged):
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
            key = fill_key(fill, self.reverse)
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
    def _enqueue(self, fill: MasterFill, t_recv: int) -> None:
        q = self.queues.get(fill.symbol)
        if q is None:
            q = self.queues[fill.symbol] = collections.deque()
        q.append((fill, t_recv))
        if self.market != "usdm":
            if self.equity_in_order is not None:
                self.equity_before[(fill.epoch, fill.seq)] = self.equity_in_order
            self.equity_in_order = fill.equity
        self._kick(fill.symbol)

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
                    await self._mirror(fill, t_recv)
                except Exception as exc:  # noqa: BLE001 - one fill's failure never stops the worker
                    log.exception("mirroring %s seq %d failed", fill.symbol, fill.seq)
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

    # -- one master fill -------------------------------------------------------------------------
    async def _mirror(self, fill: MasterFill, t_recv: int) -> None:
        cfg = self.config
        acct = self.account
        self.master_equity = fill.equity
        self.master_positions[(fill.symbol, fill.position_side)] = fill.position_after
        self.last_price[fill.symbol] = fill.price
        key = fill_key(fill, self.reverse)
        book = self.book
        if key in book.ignored:
            if fill.position_after == 0 or fill.position_before * fill.position_after < 0:
                book.ignored.discard(key)  # flat, or flipped: what the master opens from now on is ours
            if fill.position_before * fill.position_after >= 0:
                book.record(key, ZERO, (fill.symbol, fill.position_side), fill.position_after)
                self._skip(fill, t_recv, "not_copied", "position opened before this slave started (on_start = new_only)")
                return
        k = ratio_k(cfg, acct.equity, self.equity_before.pop((fill.epoch, fill.seq), fill.equity))
        decision = decide_fill(
            fill,
            slave_id=self.slave.slave_id,
            config=cfg,
            k=k,
            filters=acct.filters.get(fill.symbol),
            holding=acct.holding(*key),
            paused_all=self.slave.paused_all,
            refused=self.refused,
            intended=book.intended.get(key, ZERO),
        )
        if decision.intended is not None:
            book.record(key, decision.intended, (fill.symbol, fill.position_side), fill.position_after)
        if decision.skip is not None:
            self._skip(fill, t_recv, decision.skip.reason, decision.skip.text, leg=len(decision.intents))
            if decision.skip.notify:  # e.g. margin_level_low: the control actor notifies a person
                self.slave.report(SlaveError(slave_id=self.slave.slave_id, code=decision.skip.notify,
                                             message=decision.skip.text[:300], market=self.market, t_ns=now_ns()))
        all_ok = True
        for intent in decision.intents:
            if intent.kind == "open" and fill.symbol not in self.aligned:
                await self._align(fill.symbol, fill.leverage, fill.margin_type)
            ok = await self._send(intent, fill, t_recv)
            all_ok = all_ok and ok
            if not ok and decision.sequential:
                break
        if decision.intended is not None:  # where the fill deliberately left us, or a fault to correct
            book.settle_fill(key, decision, all_ok)

    async def _send(self, intent: OrderIntent, fill: MasterFill | None, t_recv: int) -> bool:
        t_sent = now_ns()
        try:
            done = await self.account.execute(intent)
        except ExecutionFailed as exc:
            log.warning("order %s %s %s failed after %d sends (unknown=%s): %s", intent.side, intent.qty,
                        intent.symbol, exc.sends, exc.unknown, exc.error)
            self.slave.report(self._failed(fill, t_recv, intent, exc.error.code, exc.error.msg, unknown=exc.unknown, t_sent=t_sent))
            self.slave.notify_error("order_status_unknown" if exc.unknown else "order_failed", exc.error.msg)
            return False
        except BinanceAPIError as exc:
            log.warning("order %s %s %s refused: %s", intent.side, intent.qty, intent.symbol, exc)
            if fill is None and _is_capital_refusal(self.market, intent.side, exc.code):
                self.capital_refused[(intent.symbol, intent.position_side)] = (
                    intent.side, intent.qty, self.account.equity, time.monotonic())
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
        return True

    def _keys(self, fill: MasterFill | None, t_recv: int, intent: OrderIntent | None) -> dict[str, Any]:
        base: dict[str, Any] = {"slave_id": self.slave.slave_id, "market": self.market}
        if fill is not None:
            base.update(
                symbol=fill.symbol,
                master_order_id=fill.order_id,
                master_trade_id=fill.trade_id,
                master_epoch=fill.epoch,
                master_seq=fill.seq,
                t_master_recv_ns=fill.t_master_recv_ns,
                t_master_pub_ns=fill.t_master_pub_ns,
                t_slave_recv_ns=t_recv,
                position_side=fill.position_side,
                side=fill.side,
                qty=ZERO,
            )
        else:
            base.update(master_order_id=0, master_trade_id=0, t_slave_recv_ns=t_recv)
        if intent is not None:
            base.update(
                symbol=intent.symbol,
                position_side=intent.position_side,
                side=intent.side,
                qty=intent.qty,
                client_order_id=intent.client_order_id,
                leg=intent.leg,
            )
        return base

    def _skip(self, fill: MasterFill, t_recv: int, reason: SkipReason, text: str, leg: int = 0) -> None:
        keys = self._keys(fill, t_recv, None)
        keys["leg"] = leg
        self.slave.report(MirrorSkipped(**keys, reason=reason, text=text))

    async def _reread_balances(self, intent: OrderIntent) -> None:
        """A sell refused for balance: what we hold is less than our ledger says. Read it again
        from REST, so that the next fill and the next check work from what is really held."""
        log.warning("%s %s: sold more than held by our books; balances read again", self.market, intent.symbol)
        try:
            await self.account.refresh()
        except Exception as exc:  # noqa: BLE001 - the next resync or check reads it again
            log.warning("balances not read again: %s", exc)

    def _failed(self, fill: MasterFill | None, t_recv: int, intent: OrderIntent | None, code: int, msg: str,
                *, unknown: bool, t_sent: int = 0) -> OrderFailed:
        return OrderFailed(
            **self._keys(fill, t_recv, intent), error_code=code, error_msg=msg[:300], status_unknown=unknown,
            t_order_sent_ns=t_sent, t_failed_ns=now_ns(),
        )

    def on_forced(self, fill: ForcedFill) -> None:
        """The exchange liquidated (or ADL-closed) part of our position. Re-entering it is a
        person's decision, not the copier's: no correction re-opens that position while the
        master's stays open (later master fills are copied by the rules, from what is left: a
        decrease sells the same fraction of it, the close closes it). Journalled and notified."""
        key = (fill.symbol, fill.position_side)
        before = abs(fill.position) + fill.qty
        if before:
            self.book.scale(key, abs(fill.position) / before)  # the one target follows the cut
        if self.master_positions.get(fill_key_of_parts(fill.symbol, fill.position_side, self.reverse)):
            self.forced.add(key)  # (the master flat there: nothing a correction would restore)
            self.slave.forced_changed()  # kept across restarts
        self.own_fresh = False  # the exchange moved our account: read REST before the next correction
        text = (f"{fill.symbol} {fill.position_side}: {fill.kind} executed {fill.qty} ({fill.client_order_id});"
                f" position now {fill.position}. Not restored while the master's stays open; later fills are"
                " copied from what is left")
        log.warning("%s", text)
        code = {"adl": "adl", "settlement": "settled"}.get(fill.kind, "liquidated")
        self.slave.report(SlaveError(slave_id=self.slave.slave_id, code=code, message=text[:300],
                                     market=self.market, t_ns=now_ns()))

    def _filters_changed(self) -> None:
        """An order failed a filter: Binance may have changed the symbol's step, tick or min
        notional. Reload exchangeInfo, then resync: the difference is ordered with the new filters."""
        if self.filters_refreshing:
            return
        self.filters_refreshing = True

        async def refresh() -> None:
            try:
                await self.account.refresh_filters()
            except BinanceAPIError as exc:
                log.warning("reloading exchange filters failed: %s", exc)
            finally:
                self.filters_refreshing = False
            self.request_resync("filters")

        asyncio.get_running_loop().create_task(refresh())

    async def _align(self, symbol: str, leverage: int | None, margin_type: str | None) -> None:
        try:
            problems = await self.account.align_symbol(symbol, leverage, margin_type, self.config)
        except (RateLimited, StatusUnknown, NotSent) as exc:  # transient: try again at the next opening
            log.warning("alignment of %s deferred: %s", symbol, exc)
            return
        except BinanceAPIError as exc:
            problems = [f"{symbol}: {exc.msg} ({exc.code})"]
        self.aligned.add(symbol)
        for p in problems:
            log.warning("alignment: %s", p)
            self.slave.report(SlaveError(slave_id=self.slave.slave_id, code="align", message=p, market=self.market, t_ns=now_ns()))

    async def _follow_config(self, ev: AccountConfigChanged) -> None:
        if self.slave.fatal:  # the key was refused: no exchange call until a person fixes it
            return
        try:
            if ev.position_mode is not None and ev.position_mode != self.master_mode:
                self.master_mode = ev.position_mode
                self.refused = await self.account.align_position_mode(ev.position_mode)
                if self.refused:
                    self.slave.report(SlaveError(slave_id=self.slave.slave_id, code="market_refused",
                                                 message=self.refused, market=self.market, t_ns=now_ns()))
            if ev.symbol is not None and (ev.leverage is not None or ev.margin_type is not None):
                await self._align(ev.symbol, ev.leverage, ev.margin_type)
        except BinanceAPIError as exc:
            log.warning("following master config change failed: %s", exc)

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
                    self.slave.report(SlaveError(slave_id=self.slave.slave_id, code="resync_failed",
                                                 message=f"resync failing for a minute: {exc}"[:200],
                                                 market=self.market, t_ns=now_ns()))
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
        self.master_positions = master_positions_map(snap.positions)
        self.equity_before.clear()
        self.equity_in_order = snap.equity
        if snap.position_mode is not None:
            self.master_mode = snap.position_mode
            self.refused = await acct.align_position_mode(snap.position_mode)
        for entry in snap.positions:
            if entry.qty and entry.symbol not in self.aligned:
                await self._align(entry.symbol, entry.leverage, entry.margin_type)
        if cause != "start":  # the first sync of a (re)started slave is routine, not a desync
            self.slave.report(DesyncDetected(slave_id=self.slave.slave_id, market=self.market,
                                             cause=_cause(cause), detail=f"snapshot seq {snap.seq}", t_ns=t0))
        orders = 0
        new_only = cause == "start" and self.config.on_start == "new_only" and not self.book.loaded
        if new_only:
            self.ignored = {
                fill_key_of(e, self.reverse) for e in snap.positions
                if e.qty and not acct.positions.get(fill_key_of(e, self.reverse))
            }
        self._move_target(snap)
        if not new_only and self._may_trade():
            orders = await self._correct(snap, nonce=f"{snap.epoch}-{snap.seq}-{cause}")
        # Resume: fills the snapshot covers are reported, newer ones go to the workers in order.
        self.tracker.reset(snap.epoch, snap.seq)
        waiting = self._drain_queued() + self.pending
        self.pending = []
        covered = 0
        for fill, t_recv in sorted(waiting, key=lambda ft: (ft[0].epoch != snap.epoch, ft[0].seq)):
            if fill.epoch == snap.epoch and fill.seq <= snap.seq:
                covered += 1
                self._skip(fill, t_recv, "not_copied", f"covered by reconciliation ({cause}) at snapshot seq {snap.seq}")
                continue
            if fill.epoch != snap.epoch and t_recv <= t_snap:
                # Published by an earlier session of the master (it restarted): the new session's
                # snapshot, read from the exchange, already holds its effect. Feeding it to the
                # tracker would call it a gap, again after every resync (a resync loop, seen).
                covered += 1
                self._skip(fill, t_recv, "not_copied",
                           f"covered by reconciliation ({cause}) at snapshot seq {snap.seq} of a newer master session")
                continue
            verdict = self.tracker.feed(fill.epoch, fill.seq).verdict
            if verdict is SeqVerdict.DUPLICATE:
                continue
            if verdict is not SeqVerdict.OK:
                self.resync_again = "gap"
                self.pending.append((fill, t_recv))
                continue
            self._enqueue(fill, t_recv)
        self.slave.report(Reconciled(slave_id=self.slave.slave_id, market=self.market, orders=orders,
                                     drifts=self.drifts(), t_ns=now_ns(), master_epoch=snap.epoch,
                                     master_seq=snap.seq))
        log.info("synced (%s) at master seq %d: %d corrective orders, %d fills covered", cause, snap.seq, orders, covered)
        if self.resync_again is None:
            self.syncing = False
            self._wake_all()

    def _may_trade(self) -> bool:
        cfg = self.config
        return cfg.enabled and not cfg.paused and not self.slave.paused_all and not self.refused and self.market in cfg.markets

    def _drain_queued(self) -> list[tuple[MasterFill, int]]:
        out: list[tuple[MasterFill, int]] = []
        for q in self.queues.values():
            out.extend(q)
            q.clear()
        return out

    def _plan(self, snap: PositionSnapshot, *, nonce: str, tolerance: Decimal = ZERO) -> list[OrderIntent]:
        """Corrections that bring the tracked positions to the target (the intended positions
        moved to the snapshot). No I/O."""
        acct = self.account
        _observe(acct, snap)
        k = ratio_k(self.config, acct.equity, snap.equity)
        if isinstance(k, CannotSize):
            return []
        intents = reconcile_target(
            snap.positions, acct.snapshot_positions(), k, acct.filters,
            market=self.market, slave_id=self.slave.slave_id, config=self.config, nonce=nonce,
            prices=getattr(acct, "prices", None),  # spot/margin: last prices (the master's have none)
            buy_commission=getattr(acct, "buy_commission", ZERO),  # spot/margin: taken from the base bought
            expected=self._target_at(snap),
        )
        # on_start = new_only: positions the master held when we started are not ours to copy,
        # whatever resync comes later (master restart, gap, periodic check); one the exchange
        # liquidated is not bought back by a correction (`on_forced`)
        intents = [i for i in intents if (i.symbol, i.position_side) not in self.ignored
                   and (i.kind != "open" or (i.symbol, i.position_side) not in self.forced)]
        if tolerance:
            expected = self._target_at(snap)
            intents = [i for i in intents if i.kind == "close"
                       or i.qty > tolerance * abs(expected.get((i.symbol, i.position_side), ZERO))]
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
                    self.slave.report(SlaveError(slave_id=self.slave.slave_id, code=guard.notify or "margin_level_low",
                                                 message=f"correction not sent: {guard.text}"[:300], market=self.market,
                                                 t_ns=now_ns()))
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
        if (side != intent.side or intent.qty > qty * CAPITAL_RICHER or intent.qty < qty * CAPITAL_SMALLER or richer
                or now - when > CAPITAL_RETRY_S):
            return False
        log.info("correction %s %s %s not sent: refused for capital %.0f s ago", intent.side, intent.qty,
                 intent.symbol, now - when)
        return True

    async def _periodic_check(self, snap: PositionSnapshot, fills_at_snapshot: int) -> None:
        if self.syncing or self.hold or not self._may_trade():
            return
        tol = PERIODIC_TOLERANCE if self.config.sizing == "balance_multiplier" else ZERO
        async with self._held():
            if self.fills_received != fills_at_snapshot:
                # A fill came after the snapshot (its worker starts at once, before this task): our
                # positions may be newer than the snapshot. Comparing them would "correct" the copy
                # of that fill away (seen at 100 slaves: open copied, closed by the check, the
                # master's close then skipped as no_position). The next periodic snapshot checks.
                return
            self.last_snapshot = snap
            self.master_positions = master_positions_map(snap.positions)
            self._move_target(snap)
            nonce = f"{snap.epoch}-{snap.seq}-periodic"
            # Tracked positions first (no request): REST only to confirm a drift before correcting
            # it, so 100 slaves' periodic checks cost Binance's per-IP weight budget next to nothing.
            if not self._plan(snap, nonce=nonce, tolerance=tol):
                return
            await self.account.refresh()
            orders = await self._correct(snap, nonce=nonce, tolerance=tol)
            if orders:
                self.slave.report(Reconciled(slave_id=self.slave.slave_id, market=self.market, orders=orders,
                                             drifts=self.drifts(), t_ns=now_ns()))

    async def flatten(self, cmd: FlattenCommand) -> None:
        """Close this slave's positions (all, or one symbol) with reduce-only orders: every one it
        holds, whatever the symbol filters (they choose what is copied, not what may be closed)."""
        async with self._held():
            await self.account.refresh()
            positions = {k: v for k, v in self.account.snapshot_positions().items()
                         if cmd.symbol is None or k[0] == cmd.symbol}
            unfiltered = msgspec_replace(self.config, symbols_allow=(), symbols_deny=())
            intents = reconcile_target((), positions, Decimal(1), self.account.filters, market=self.market,
                                       slave_id=self.slave.slave_id, config=unfiltered, nonce=f"flatten-{cmd.request_id}",
                                       buy_commission=getattr(self.account, "buy_commission", ZERO))
            for intent in intents:
                await self._send(intent, None, now_ns())

    @contextlib.asynccontextmanager
    async def _held(self) -> AsyncIterator[None]:
        """Workers finish what they are doing and take nothing new until the block ends; fills
        keep arriving in their queues and are processed, in order, afterwards."""
        self.hold = True
        try:
            await self.idle.wait()
            yield
        except BinanceAPIError as exc:
            log.warning("%s check failed: %s", self.market, exc)
        finally:
            self.hold = False
            self._wake_all()

    # -- status -----------------------------------------------------------------------------------
    def status(self) -> MarketStatus:
        k = ratio_k(self.config, self.account.equity, self.master_equity)
        return MarketStatus(
            market=self.market,
            connected=self.account.ws.connected and self.stream_state in ("connected", "reconnected"),
            equity=self.account.equity,
            k=None if isinstance(k, CannotSize) else k,
            refused=self.refused or "",
            positions=self.drifts(),
        )


def _observe(account: Any, snap: PositionSnapshot) -> None:
    """Spot/margin accounts mirror the symbols of the master's snapshot (USD-M: every position)."""
    observe = getattr(account, "observe_master", None)
    if observe is not None:
        observe(snap)


def fill_key_of(entry: Any, reverse: bool) -> tuple[str, str]:
    return fill_key_of_parts(entry.symbol, entry.position_side, reverse)


fill_key_of_parts = slave_key


def _cause(cause: str) -> Any:
    if cause == "own_reconnect":
        return "reconnect"
    if cause == "filters":
        return "gap"
    return cause if cause in ("gap", "restart", "drift", "reconnect", "start", "stale") else "gap"


def _dec(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if value is not None else ZERO
    except ArithmeticError:
        return ZERO


class Slave:
    """The process: sockets, the market mirrors, reports and control events."""

    def __init__(self, app: AppConfig, config: SlaveConfig) -> None:
        self.app = app
        self.config = config
        self.slave_id = config.id
        self.paused_all = False
        self.last_latency_ns: int | None = None
        self.errors: collections.deque[str] = collections.deque(maxlen=5)
        self.fatal = False
        self.ctx = zmq.Context.instance()
        # An endpoint that is down (control or a master listener restarting) is retried at 0.1 s,
        # doubling to 1 s, not every 0.1 s for as long as it is down: each try wakes ZeroMQ's I/O thread.
        self.ctx.setsockopt(zmq.RECONNECT_IVL_MAX, RECONNECT_IVL_MAX_MS)
        self.ends = Endpoints(ensure_private_dir(app.runtime_dir))
        self.mirrors: dict[str, MarketMirror] = {}
        self.readers: list[ZmqReader] = []
        self.market_readers: dict[str, list[ZmqReader]] = {}  # a market's sockets, closed when it is removed
        self.equity_read_at: dict[str, float] = {}  # per market: last REST equity read (monotonic)
        self.markets_lock = asyncio.Lock()
        self.tasks: set[asyncio.Task[Any]] = set()
        self.exchange_endpoints = app.exchange.endpoints()
        self.signer_factory: Any = None
        self.forced_path = forced_path(app.state_dir, self.slave_id)
        self.forced_saved, problem = load_forced(self.forced_path)  # liquidated, not to be bought back
        if problem:
            log.warning("%s", problem)
            self.errors.append(f"forced_state: {problem}"[:200])
        self.snapshot_socks: dict[str, zmq.Socket] = {}
        self.snapshot_waiters: dict[int, asyncio.Future[PositionSnapshot]] = {}
        self.snapshot_readers: dict[str, ZmqReader] = {}
        self._ids = itertools.count(1)
        push = self.ctx.socket(zmq.PUSH)
        push.setsockopt(zmq.SNDHWM, 100_000)
        push.setsockopt(zmq.LINGER, 2000)
        push.connect(self.ends.reports)
        self.report = Reporter(push)

    # -- set-up -----------------------------------------------------------------------------------
    async def start(self, signer_factory: Any) -> None:
        self.signer_factory = signer_factory
        async with self.markets_lock:  # a markets edit arriving meanwhile waits for this
            await self._start_markets()

    async def _start_markets(self) -> None:
        for market in self.config.markets:
            account_type = _account_type(market)
            if account_type is None:
                self.report(SlaveError(slave_id=self.slave_id, code="market_unsupported", market=market,
                                       message=f"market {market} is not copied by this version", t_ns=now_ns()))
                continue
            mirror = build_mirror(self, market, account_type)
            self.mirrors[market] = mirror
            self._subscribe_master(market, mirror)
        self._subscribe_control()
        for market, mirror in list(self.mirrors.items()):
            await mirror.account.start()
            self.equity_read_at[market] = time.monotonic()
            mirror.request_resync("start")

    def spawn(self, coro: Any) -> asyncio.Task[Any]:
        """A background task of this process, kept referenced until it ends (cancelled at close)."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    def _subscribe_master(self, market: str, mirror: MarketMirror) -> None:
        sub = self.ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.RCVHWM, 100_000)
        sub.setsockopt(zmq.SUBSCRIBE, master_prefix(market))  # type: ignore[arg-type]
        sub.connect(self.ends.master_pub(market))
        decode = codec.unpack_master_event

        def handle(frames: list[bytes]) -> None:
            t_recv = now_ns()
            try:
                event = decode(frames)
            except ProtocolError as exc:
                log.warning("dropped a malformed master event: %s", exc)
                return
            mirror.on_event(event, t_recv)

        reader = ZmqReader(sub, handle, f"master-{market}")
        reader.start()
        self.readers.append(reader)
        self.market_readers.setdefault(market, []).append(reader)
        dealer = self.ctx.socket(zmq.DEALER)
        dealer.setsockopt(zmq.LINGER, 0)
        dealer.connect(self.ends.master_snapshot(market))
        self.snapshot_socks[market] = dealer

        def on_reply(frames: list[bytes]) -> None:
            try:
                reply = codec.decode_snapshot_reply(frames[-1])
            except ProtocolError as exc:
                log.warning("dropped a malformed snapshot reply: %s", exc)
                return
            fut = self.snapshot_waiters.pop(reply.id, None)
            if fut is None or fut.done():
                return
            if isinstance(reply, SnapshotReply):
                fut.set_result(reply.snapshot)
            else:
                fut.set_exception(RuntimeError(f"master refused the snapshot: {reply.reason} ({reply.code})"))

        r = ZmqReader(dealer, on_reply, f"snapshot-{market}")
        r.start()
        self.snapshot_readers[market] = r
        self.readers.append(r)
        self.market_readers[market].append(r)

    def _subscribe_control(self) -> None:
        sub = self.ctx.socket(zmq.SUB)
        for topic in control_subscriptions(self.slave_id):
            sub.setsockopt(zmq.SUBSCRIBE, topic)
        sub.connect(self.ends.config_pub)

        def handle(frames: list[bytes]) -> None:
            try:
                event = codec.unpack_control_event(frames)
            except ProtocolError as exc:
                log.warning("dropped a malformed control event: %s", exc)
                return
            self.on_control(event)

        reader = ZmqReader(sub, handle, "control")
        reader.start()
        self.readers.append(reader)

    async def request_snapshot(self, market: str) -> PositionSnapshot:
        """Ask the master listener for its state; retried until it answers."""
        sock = self.snapshot_socks[market]
        while True:
            rid = next(self._ids)
            fut: asyncio.Future[PositionSnapshot] = asyncio.get_running_loop().create_future()
            self.snapshot_waiters[rid] = fut
            try:
                sock.send(codec.encode(SnapshotRequest(id=rid, market=market)), zmq.NOBLOCK)  # type: ignore[arg-type]
            except zmq.Again:
                pass
            kick_after_send(self.snapshot_readers.get(market))
            try:
                return await asyncio.wait_for(fut, SNAPSHOT_TIMEOUT_S)
            except asyncio.TimeoutError:
                self.snapshot_waiters.pop(rid, None)
                log.warning("master-%s did not answer a snapshot request; asking again", market)
            except RuntimeError as exc:
                log.warning("%s", exc)
                await asyncio.sleep(0.5)

    # -- control ----------------------------------------------------------------------------------
    def on_control(self, event: Any) -> None:
        if isinstance(event, SlaveConfigChanged) and event.slave_id == self.slave_id:
            if event.config is None:
                self.config = msgspec_replace(self.config, enabled=False)
                log.info("removed from the configuration: copying stopped")
            else:
                old, self.config = self.config, event.config
                log.info("configuration changed (version %d)", event.version)
                leverage_cap_changed(self, old, event.config)
                if set(old.markets) != set(event.config.markets) and self.signer_factory is not None:
                    self.spawn(sync_markets(self))  # markets added or removed: started / stopped live
            for m in self.mirrors.values():
                m._wake_all()
        elif isinstance(event, PauseAllChanged):
            self.paused_all = event.paused
        elif isinstance(event, FlattenCommand) and event.slave_id == self.slave_id:
            for market, mirror in self.mirrors.items():
                if event.market in (None, market):
                    asyncio.get_running_loop().create_task(mirror.flatten(event))

    def forced_changed(self) -> None:
        """A mirror's liquidated set changed: save every market's (actors/forced_state.py)."""
        save_forced(self.forced_path, {m: mirror.forced for m, mirror in self.mirrors.items()})

    def notify_error(self, code: str, message: str) -> None:
        self.errors.append(f"{code}: {message}"[:200])

    def fatal_key_error(self, market: str, exc: BinanceAPIError) -> None:
        """The key was refused (revoked / expired / IP): stop trading, say so, keep reporting."""
        if not self.fatal:
            self.fatal = True
            self.config = msgspec_replace(self.config, paused=True)
            self.report(SlaveError(slave_id=self.slave_id, code="key_invalid", market=market, fatal=True,
                                   message=f"API key refused by the exchange ({exc.code}): trading stopped", t_ns=now_ns()))

    def status(self) -> SlaveStatusReport:
        if self.fatal:
            state = "degraded"
        elif not self.config.enabled:
            state = "disabled"
        elif self.config.paused or self.paused_all:
            state = "paused"
        elif any(m.syncing for m in self.mirrors.values()):
            state = "syncing"
        else:
            state = "running"
        return SlaveStatusReport(
            slave_id=self.slave_id,
            state=state,  # type: ignore[arg-type]
            markets=tuple(m.status() for m in self.mirrors.values()),
            last_latency_ns=self.last_latency_ns,
            errors=tuple(self.errors),
            t_ns=now_ns(),
        )

    async def maintain(self, stop: asyncio.Event) -> None:
        """Status every second; each market's equity follows its account updates, with a REST read
        every 5 minutes, or 30 s after the account marked it stale (actors/slave_markets.py)."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except asyncio.TimeoutError:
                pass
            now = time.monotonic()
            await refresh_equities(self, now)
            for m in self.mirrors.values():
                if now - m.last_heartbeat > HEARTBEAT_LOST_S and m.master_connected:
                    m.master_connected = False
                    log.warning("no heartbeat from master-%s for %.1fs", m.market, now - m.last_heartbeat)
            self.report(self.status())

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        for r in self.readers:
            r.stop()
            r.sock.close(0)
        self.readers.clear()
        for m in self.mirrors.values():
            for t in list(m.workers.values()):
                if isinstance(t, asyncio.Task):
                    t.cancel()
            if m.resync_task is not None:
                m.resync_task.cancel()
            await m.account.close()
        self.report.flush()
        self.report.sock.close(linger=1000)  # let queued reports reach the control actor


def _account_type(market: str) -> Any:
    """The account class of a market; spot and margin are imported only by slaves that copy them
    (private memory per process is a benchmark figure: 100 slaves)."""
    if market == "usdm":
        return UsdmAccount
    if market == "spot":
        from .spot import SpotAccount
        return SpotAccount
    if market == "margin":
        from .margin import MarginAccount
        return MarginAccount
    return None


def msgspec_replace(config: SlaveConfig, **changes: Any) -> SlaveConfig:
    import msgspec

    return msgspec.structs.replace(config, **changes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="copytrader-slave", description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--id", required=True)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    setup_logging(f"slave-{args.id}", args.log_level)
    from .slave_main import main_async

    return run(lambda stop: main_async(args, stop, Slave))  # Slave passed: `-m actors.slave` is __main__


if __name__ == "__main__":
    sys.exit(main())
