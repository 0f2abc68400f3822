"""The master's market-independent shell: sockets, sequencing, buffering, resync, timers.

See actors/master/__init__.py for what the process does.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import Any, Protocol

import zmq

from protocol.messages import Heartbeat, Market, SnapshotReason

from ..base import Endpoints, ensure_private_dir, monotonic_ns
from ..binance.wire import MalformedEvent, decode_user_event
from .outputs import AlgoOrder, Config, Duplicate, Fill, Lookup, Order, Outputs, Recheck, Resync, Snapshot
from .publisher import PUB_HWM, Publisher, Publishing, SnapshotServer
from .side_reads import SideReads, describe as _describe

log = logging.getLogger("copytrader.master")

MAX_BUFFER = 200_000  # events buffered during a rebuild before we give up and rebuild again
HEARTBEAT_S = 1.0
DEFAULT_POLL_S = 10.0  # ~30 weight/min: 100 slaves share one IP's 2,400/min budget
CONNECT_WAIT_S = 10.0  # publish a start snapshot from REST even if the stream is not up by then
RETRY_MAX_S = 10.0
# Subscribers already running (a slave waiting for a restarted master) reconnect to the new PUB
# socket within their reconnect interval (100 ms by default): give them that long before the start
# snapshot, so they get it from PUB rather than having to ask.
JOIN_GRACE_S = 0.3
PUB_IO_THREADS = 2


class Adapter(Protocol):
    """One market's exchange side (usdm.py, spot.py). It never calls back into the shell: what is
    to be published comes back from `handle` and `apply` as outputs (outputs.py)."""

    market: Market

    @property
    def ready(self) -> bool: ...
    async def start_stream(self, on_event: Any, on_state: Any) -> None: ...
    async def close(self) -> None: ...
    async def fetch(self) -> Any: ...
    def rebuild(self, fetched: Any) -> None: ...
    def handle(self, event: Any, t_recv_ns: int) -> Outputs: ...
    async def poll(self, full: bool) -> Any: ...
    async def recheck(self) -> Any: ...
    def apply(self, reading: Any) -> Outputs: ...
    async def lookup(self, key: int) -> Any: ...
    def looked_up(self, key: int, reading: Any, t_recv_ns: int) -> Outputs: ...
    def snapshot_fields(self) -> dict[str, Any]: ...
    def last_event_ms(self) -> int: ...


class MasterActor(SideReads, Publishing):
    """The market-independent shell: sockets, sequencing, buffering, resync, timers."""

    def __init__(
        self,
        market: Market,
        adapter: Adapter,
        endpoints: Endpoints,
        *,
        snapshot_interval_s: float = 30.0,
        poll_s: float = DEFAULT_POLL_S,
        connect_wait_s: float = CONNECT_WAIT_S,
        ctx: zmq.Context | None = None,
    ) -> None:
        self.market: Market = market
        self.adapter = adapter
        self.endpoints = endpoints
        self.snapshot_interval_s = snapshot_interval_s
        self.poll_s = poll_s
        self.connect_wait_s = connect_wait_s
        self.ctx = ctx or zmq.Context.instance()
        self.pub: Publisher | None = None
        self.router: SnapshotServer | None = None
        self.stream_up = False
        self.buffering = True  # until the first rebuild
        self.generation = 0  # +1 per rebuild: a poll that spans a rebuild is discarded
        self.buffer: deque[tuple[Any, int]] = deque()
        self.snapshots_published = 0
        self.fills_published = 0
        self.orders_published = 0
        self.duplicates = 0
        self.bad_events = 0
        self.handler_errors = 0
        self._resync = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._started_snapshot = False
        self._recheck_timer: asyncio.TimerHandle | None = None
        self._recheck_task: asyncio.Task[None] | None = None
        self._recheck_delay_s = 0.0
        self._lookups: set[asyncio.Task[None]] = set()

    # -- lifecycle -------------------------------------------------------------------------------
    def bind(self) -> None:
        ensure_private_dir(self.endpoints.dir)
        pub = self.ctx.socket(zmq.PUB)
        pub.setsockopt(zmq.SNDHWM, PUB_HWM)
        pub.setsockopt(zmq.LINGER, 0)
        pub.bind(self.endpoints.master_pub(self.market))
        router = self.ctx.socket(zmq.ROUTER)
        router.setsockopt(zmq.LINGER, 0)
        router.bind(self.endpoints.master_snapshot(self.market))
        self.pub = Publisher(pub, self.market)
        self.router = SnapshotServer(router, self.market, self.current_snapshot)

    async def run(self, stop: asyncio.Event) -> int:
        if self.pub is None:
            self.bind()
        assert self.pub is not None and self.router is not None
        log.info("master starting", extra={"fields": {"market": self.market, "epoch": self.pub.epoch}})
        self.router.start()
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._heartbeat_loop(), name="heartbeat"),
            loop.create_task(self._resync_loop(stop), name="resync"),
            loop.create_task(self._poll_loop(), name="poll"),
            loop.create_task(self._start_stream(stop), name="stream start"),
            loop.create_task(self._connect_deadline(), name="connect deadline"),
        ]
        try:
            await stop.wait()
        finally:
            await self.close()
        return 0

    async def close(self) -> None:
        if self._recheck_timer is not None:
            self._recheck_timer.cancel()
        if self._recheck_task is not None:
            self._tasks.append(self._recheck_task)
        self._tasks.extend(self._lookups)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        self._tasks = []
        try:
            await self.adapter.close()
        except Exception:  # closing: report, never raise
            log.exception("adapter close failed")
        if self.router is not None:
            self.router.stop()
            self.router.sock.close(0)
        if self.pub is not None:
            self.pub.sock.close(0)
        log.info("master stopped", extra={"fields": {"market": self.market, "fills": self.fills_published}})

    async def _start_stream(self, stop: asyncio.Event) -> None:
        delay = 0.5
        while not stop.is_set():
            try:
                await self.adapter.start_stream(self._on_raw, self._on_state)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # exchange down, key refused: keep trying, say why
                log.warning("user data stream did not start", extra={"fields": {"error": _describe(exc)}})
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)

    async def _connect_deadline(self) -> None:
        await asyncio.sleep(self.connect_wait_s)
        if not self._started_snapshot and not self._resync.is_set():
            log.warning("stream not connected yet: start snapshot from REST alone")
            self._resync.set()

    # -- stream callbacks (synchronous, from the stream's reader) --------------------------------
    def _on_state(self, state: str) -> None:
        if state in ("connected", "reconnected"):
            self.stream_up = True
            self.buffering = True
            self._resync.set()
            log.info("user data stream up", extra={"fields": {"state": state}})
        elif state == "disconnected":
            self.stream_up = False
            log.warning("user data stream down")

    def _on_raw(self, raw: bytes) -> None:
        t_recv = monotonic_ns()
        try:
            event = decode_user_event(raw)
        except MalformedEvent as exc:
            self.bad_events += 1
            log.warning("malformed user data event", extra={"fields": {"error": str(exc)[:200]}})
            return
        if self.buffering:
            self.buffer.append((event, t_recv))
            if len(self.buffer) > MAX_BUFFER:
                self.buffer.clear()
                self._resync.set()  # the rebuild will take REST's word for all of it
            return
        self._handle(event, t_recv)

    def _handle(self, event: Any, t_recv: int) -> None:
        try:
            self._carry_out(self.adapter.handle(event, t_recv))
        except Exception:  # one bad event never kills the actor; our state may be off: rebuild
            self.handler_errors += 1
            log.exception("event handler failed; rebuilding from REST")
            self.request_resync()

    def _carry_out(self, outputs: Outputs) -> None:
        for output in outputs:
            match output:
                case Fill(fields):
                    self.publish_fill(**fields)
                case Order(action, order, fields):
                    self.publish_order(action, order, **fields)
                case AlgoOrder(action, algo, fields):
                    self.publish_algo_order(action, algo, **fields)
                case Config(fields):
                    self.publish_config(**fields)
                case Snapshot(reason):
                    self.publish_snapshot(reason)
                case Duplicate():
                    self.duplicates += 1
                case Resync():
                    self.request_resync()
                case Recheck(delay_s):
                    self._schedule_recheck(delay_s)
                case Lookup(key, t_recv_ns):
                    self._start_lookup(key, t_recv_ns)

    # -- resync ------------------------------------------------------------------------------------
    def request_resync(self) -> None:
        self.buffering = True
        self._resync.set()

    async def _resync_loop(self, stop: asyncio.Event) -> None:
        delay = 0.2
        await asyncio.sleep(JOIN_GRACE_S)
        while not stop.is_set():
            await self._resync.wait()
            self._resync.clear()
            self.buffering = True
            try:
                fetched = await self.adapter.fetch()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("REST rebuild failed; retrying", extra={"fields": {"error": _describe(exc)}})
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                self._resync.set()
                continue
            if self._resync.is_set():
                continue  # the stream dropped again while we fetched: fetch again
            try:
                self._rebuild_and_drain(fetched)
            except Exception:  # a bug or a REST reply we cannot use: never let the loop die
                log.exception("rebuild failed; retrying")
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                self._resync.set()
                continue
            delay = 0.2

    def _rebuild_and_drain(self, fetched: Any) -> None:
        """Synchronous: no event can slip in between the rebuild, the snapshot and the drain."""
        self.adapter.rebuild(fetched)
        self.generation += 1
        reason: SnapshotReason = "reconnect" if self._started_snapshot else "start"
        self._started_snapshot = True
        self.publish_snapshot(reason)
        drained = len(self.buffer)
        self.buffering = False
        while self.buffer and not self.buffering:
            event, t_recv = self.buffer.popleft()
            self._handle(event, t_recv)
        log.info("state rebuilt from REST", extra={"fields": {"reason": reason, "buffered": drained, "seq": self.seq}})

    # -- timers ------------------------------------------------------------------------------------
    async def _heartbeat_loop(self) -> None:
        assert self.pub is not None
        while True:
            self.pub.send(
                Heartbeat(
                    market=self.market,
                    epoch=self.pub.epoch,
                    seq=self.pub.seq,
                    t_ns=monotonic_ns(),
                    connected=self.stream_up,
                    last_event_ms=self.adapter.last_event_ms(),
                )
            )
            await asyncio.sleep(HEARTBEAT_S)

    async def _poll_loop(self) -> None:
        last_full = time.monotonic()
        failures = 0
        while True:
            await asyncio.sleep(self.poll_s)
            if self.buffering or not self.adapter.ready:
                continue
            full = time.monotonic() - last_full >= self.snapshot_interval_s
            generation = self.generation
            try:
                reading = await self.adapter.poll(full)
                if self.generation == generation and not self.buffering:  # else stale: a rebuild came
                    self._carry_out(self.adapter.apply(reading))
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                if failures == 1 or failures % 20 == 0:
                    log.warning("REST poll failed", extra={"fields": {"error": _describe(exc), "failures": failures}})
                continue
            if full:
                last_full = time.monotonic()
