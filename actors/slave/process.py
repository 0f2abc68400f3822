"""The slave process: its sockets, its market mirrors, reports and control events (`Slave`),
and `main` (`python -m actors.slave`; the package docstring says what a slave does)."""

from __future__ import annotations

import argparse
import asyncio
import collections
import importlib
import itertools
import time
from typing import Any

import zmq

from protocol import codec
from protocol.errors import ProtocolError
from protocol.messages import (
    FlattenCommand,
    PauseAllChanged,
    PositionSnapshot,
    SlaveConfig,
    SlaveConfigChanged,
    SlaveError,
    SlaveStatusReport,
    SnapshotReply,
    SnapshotRequest,
)
from protocol.topics import control_subscriptions, master_prefix

from ..base import Endpoints, ZmqReader, ensure_private_dir, kick_after_send, run, setup_logging
from ..binance.errors import BinanceAPIError
from ..config import AppConfig
from .equity_guard import DAY_PREFIX as DAY_STOPPED, ERROR_PREFIX as EQUITY_STOPPED, check_equity_stop, equity_path, load_equity_stop
from .forced_state import forced_path, load_forced, save_forced
from .income import IncomePoller, cursor_path
from .join import background_reads
from .markets import build_mirror, leverage_cap_changed, refresh_equities, sync_markets
from .mirror import MarketMirror
from .reporter import Reporter
from .rules import HEARTBEAT_LOST_S, RECONNECT_IVL_MAX_MS, SNAPSHOT_TIMEOUT_S, log, msgspec_replace, now_ns


class Slave:
    """The process: sockets, the market mirrors, reports and control events."""

    def __init__(self, app: AppConfig, config: SlaveConfig) -> None:
        self.app = app
        self.config = config
        self.guards_noted: set[str] = set()  # guards that acted since they were set (reports.py `guard_acted`)
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
        self.equity_stop_path = equity_path(app.state_dir, self.slave_id)
        self.income = IncomePoller(self, cursor_path(app.state_dir, self.slave_id))  # the ledger's USD-M income
        self.equity_stop, problem = load_equity_stop(self.equity_stop_path)  # equity_guard.py
        self.equity_stop_saved = self.equity_stop
        if problem:
            log.warning("%s", problem)
            self.errors.append(f"equity_stop: {problem}"[:200])
        if self.equity_stop.acted:  # acted before the restart: still acted, and shown
            self.errors.append(f"{EQUITY_STOPPED}{self.equity_stop.acted}"[:200])
        if self.equity_stop.day_acted:  # the same, until its window resets
            self.errors.append(f"{DAY_STOPPED}{self.equity_stop.day_acted}"[:200])
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
                self.report(
                    SlaveError(
                        slave_id=self.slave_id,
                        code="market_unsupported",
                        market=market,
                        message=f"market {market} is not copied by this version",
                        t_ns=now_ns(),
                    )
                )
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
            except TimeoutError:
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
                if old.close_only != event.config.close_only:  # set or lifted: told again the next time it acts
                    self.guards_noted.discard("close_only")
                    log.info("close-only guard %s", "set" if event.config.close_only else "lifted")
                if old.max_open_positions != event.config.max_open_positions:
                    self.guards_noted.discard("max_positions")
                    log.info("max open positions guard: %s", event.config.max_open_positions or "off")
                if old.max_slippage_pct != event.config.max_slippage_pct:
                    self.guards_noted.discard("slippage")
                    log.info("entry slippage guard: %s", event.config.max_slippage_pct or "off")
                if old.max_total_exposure != event.config.max_total_exposure:
                    self.guards_noted.discard("max_exposure")
                    log.info("max total exposure guard: %s", event.config.max_total_exposure or "off")
                leverage_cap_changed(self, old, event.config)
                if set(old.markets) != set(event.config.markets) and self.signer_factory is not None:
                    self.spawn(sync_markets(self))  # markets added or removed: started / stopped live
            for m in self.mirrors.values():
                m._wake_all()
            self._pause_copies()
        elif isinstance(event, PauseAllChanged):
            self.paused_all = event.paused
            self._pause_copies()
        elif isinstance(event, FlattenCommand) and event.slave_id == self.slave_id:
            for market, mirror in self.mirrors.items():
                if event.market in (None, market):
                    asyncio.get_running_loop().create_task(mirror.flatten(event))

    def _pause_copies(self) -> None:
        """Paused (this slave or all), disabled, or `orders` back to "fills": the copies of the
        master's resting orders are canceled."""
        stopped = self.config.paused or self.paused_all or not self.config.enabled
        why = "paused" if stopped else "orders = fills"
        if stopped or self.config.orders != "mirror":
            for mirror in self.mirrors.values():
                if any(c.intent is not None for c in mirror.resting.values()):
                    self.spawn(mirror.drop_copies(why))
        # the copies of the master's stops stay while paused (they protect what the slave holds)
        if not self.config.enabled or self.config.orders != "mirror" or self.config.protective != "mirror":
            why = "disabled" if not self.config.enabled else "protective mirroring off"
            for mirror in self.mirrors.values():
                if any(g.intent is not None for g in mirror.guards.values()):
                    self.spawn(mirror.drop_guards(why))

    def forced_changed(self) -> None:
        """A mirror's liquidated set changed: save every market's (actors/slave/forced_state.py)."""
        save_forced(self.forced_path, {m: mirror.forced for m, mirror in self.mirrors.items()})

    def notify_error(self, code: str, message: str) -> None:
        self.errors.append(f"{code}: {message}"[:200])

    def fatal_key_error(self, market: str, exc: BinanceAPIError) -> None:
        """The key was refused (revoked / expired / IP): stop trading, say so, keep reporting."""
        if not self.fatal:
            self.fatal = True
            self.config = msgspec_replace(self.config, paused=True)
            self.report(
                SlaveError(
                    slave_id=self.slave_id,
                    code="key_invalid",
                    market=market,
                    fatal=True,
                    message=f"API key refused by the exchange ({exc.code}): trading stopped",
                    t_ns=now_ns(),
                )
            )

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
        every 5 minutes, or 30 s after the account marked it stale (actors/slave/markets.py)."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), 1.0)
            except TimeoutError:
                pass
            now = time.monotonic()
            await refresh_equities(self, now)
            check_equity_stop(self)
            background_reads(self, now)  # the ledger's income, better_price's joins
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


# market -> (module, class) of its account: a table, imported lazily, so a slave that copies only
# USD-M never loads spot and margin (private memory per process is a benchmark figure: 100 slaves)
ACCOUNTS: dict[str, tuple[str, str]] = {
    "usdm": ("actors.slave.accounts.usdm", "UsdmAccount"),
    "spot": ("actors.slave.accounts.spot", "SpotAccount"),
    "margin": ("actors.slave.accounts.margin", "MarginAccount"),
}


def _account_type(market: str) -> Any:
    """The account class of a market (None for one we do not copy)."""
    entry = ACCOUNTS.get(market)
    if entry is None:
        return None
    module, name = entry
    return getattr(importlib.import_module(module), name)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="copytrader-slave", description="slave-<id>: one follower account")
    parser.add_argument("--config", required=True)
    parser.add_argument("--id", required=True)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    setup_logging(f"slave-{args.id}", args.log_level)
    from .life import main_async

    return run(lambda stop: main_async(args, stop, Slave))  # Slave passed: `-m actors.slave` is __main__
