"""The control actor: configuration, control socket, reports, journal, notifications, supervisor.

    python -m actors.control --config FILE [--supervisor-url unix:///path.sock] [--programs-dir DIR]

Sockets (actors.base.Endpoints of the config's runtime dir):
- ROUTER `control`  : requests from the TUI/CLI (one msgpack frame; a REQ client's empty delimiter
                      frame is echoed back), replies `Ok`/`Error` with the request's id, and live
                      `Push`es to connections that sent `Subscribe`.
- PULL   `reports`  : SlaveReports pushed by the slaves (one frame each).
- PUB    `config_pub`: ControlEvents (SlaveConfigChanged, PauseAllChanged, FlattenCommand).
- SUB    master_pub(market) for every configured master: fills and config changes are journalled,
                      heartbeats feed the status and the stream-lost alert.

Requests are served concurrently (one task each), so a slow supervisor call never holds up a
status request. Changes to the configuration are serialised by a lock and written with
`write_config_atomic` (validated, temp file + rename, `.bak` of the previous version).

What is not in the TOML (the pause-all switch) lives in `<state_dir>/control-state.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import os
import sys
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zmq

from protocol.codec import decode_control_request, encode
from protocol.control_api import ControlRequest, Ok, Push
from protocol.errors import ProtocolError
from protocol.messages import Error, Heartbeat, SlaveError, SlaveStatusReport
from protocol.topics import master_prefix

from ..base import Endpoints, Frames, ZmqReader, ensure_private_dir, kick_after_send, run, setup_logging
from ..config import AppConfig, ConfigError, load_config
from .commands import dispatch
from .commands.status import MasterView
from .coverage import MAX_FILLS, Coverage
from .journal import Journal
from .notify import Notifier, Sender
from .programs import Programs
from .reports import Reports
from .retention import PRUNE_BATCH
from .rules import PAUSE_REPUBLISH_S, PEER, log, peek_request_id
from .state import State
from .supervision import AsyncSupervisor, ProcessInfo, Supervisor


class ControlActor(Reports, Programs, State):
    def __init__(
        self,
        config_path: str | Path,
        *,
        supervisor: AsyncSupervisor | None = None,
        programs_dir: str | Path | None = None,
        python: str = sys.executable,
        workdir: str | Path | None = None,
        sender: Sender | None = None,
        poll_interval_s: float = 2.0,
        tick_s: float = 1.0,
        republish_s: float = PAUSE_REPUBLISH_S,
        require_key: bool = True,
        startsecs: int = 3,
        coverage_fills: int = MAX_FILLS,
    ) -> None:
        self.config_path = Path(config_path).resolve()
        self.config: AppConfig = load_config(self.config_path)
        self._config_stat = self._stat()
        self.supervisor = supervisor
        self.programs_dir = Path(programs_dir) if programs_dir is not None else None
        self.python = python
        self.workdir = Path(workdir) if workdir is not None else Path.cwd()
        self.poll_interval_s = poll_interval_s
        self.tick_s = tick_s
        self.republish_s = republish_s
        self.require_key = require_key
        self.startsecs = startsecs  # slave programs: seconds up before supervisor calls them RUNNING
        self._sender = sender
        self.state_path = self.config.state_dir / "control-state.json"
        self.state = self._load_state()
        self.endpoints = Endpoints(self.config.runtime_dir)
        self.journal: Journal = None  # type: ignore[assignment]  # opened in start()
        self.notifier: Notifier = None  # type: ignore[assignment]
        self.statuses: dict[str, SlaveStatusReport] = {}
        self.equity_sampled: dict[str, float] = {}  # when each slave's equity was last journalled (reports.py)
        self.coverage = Coverage(coverage_fills)  # which master fills each slave decided or a reconciliation covered
        self.last_errors: dict[str, SlaveError] = {}
        self.processes: dict[str, ProcessInfo] = {}
        self.restarting: set[str] = set()
        self.restarted_pid: dict[str, int | None] = {}  # pid each program got from our last restart
        self.polls = 0  # supervisor polls done (tests wait on it)
        self.heartbeats: dict[str, tuple[float, Heartbeat]] = {}
        self.master_views: dict[str, MasterView] = {}  # equity and positions per market (TUI)
        self.subscribers: dict[bytes, frozenset[str]] = {}
        self.bad_requests = 0
        self.bad_reports = 0
        self.bad_master_events = 0
        self.dropped_pushes = 0
        self._config_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._readers: list[ZmqReader] = []
        self._sockets: list[zmq.Socket[Any]] = []
        self._router_reader: ZmqReader | None = None
        self._starts: dict[str, deque[float]] = {}
        self._lost_since: dict[str, float] = {}
        self._lost_alerted: set[str] = set()
        self._started_at = time.monotonic()

    # ------------------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        ensure_private_dir(self.config.runtime_dir)
        self.config.state_dir.mkdir(parents=True, exist_ok=True)
        self.journal = Journal(self.config.state_dir / "journal.db")
        self.notifier = Notifier(self.config.notifications, self.journal, self._sender)
        await self.notifier.recover()  # alerts a killed control accepted but never delivered
        await self._load_coverage()
        ctx = zmq.Context.instance()
        self.router = self._socket(ctx, zmq.ROUTER)
        self.router.setsockopt(zmq.ROUTER_MANDATORY, 1)  # a vanished peer raises, so we forget it
        self.router.bind(self.endpoints.control)
        self.pull = self._socket(ctx, zmq.PULL)
        self.pull.bind(self.endpoints.reports)
        self.pub = self._socket(ctx, zmq.PUB)
        self.pub.bind(self.endpoints.config_pub)
        self._router_reader = self._reader(self.router, self._on_request, "control")
        self._reader(self.pull, self._on_report, "reports")
        for market in self.config.masters:
            sub = self._socket(ctx, zmq.SUB)
            sub.setsockopt(zmq.SUBSCRIBE, master_prefix(market))
            sub.connect(self.endpoints.master_pub(market))
            self._reader(sub, self._on_master_event, f"master-{market}")
        self._spawn(self._ticker())
        self._spawn(self._prune())
        self._spawn(self._daily_summary())
        if self.supervisor is not None:
            self._spawn(self._poll_supervisor())
        await self.sync_programs()
        self.audit("control started")
        log.info("control serving", extra={"fields": {"endpoint": self.endpoints.control, "slaves": len(self.config.slaves)}})

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for reader in self._readers:
            reader.stop()
        for sock in self._sockets:
            sock.close(0)
        if self.notifier is not None:
            await self.notifier.close()
        if self.journal is not None:
            await self.journal.close()
        if self.supervisor is not None:
            self.supervisor.close()

    async def run(self, stop: asyncio.Event) -> int:
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()
        return 0

    def _socket(self, ctx: zmq.Context[Any], kind: int) -> zmq.Socket[Any]:
        sock = ctx.socket(kind)
        sock.setsockopt(zmq.LINGER, 0)
        self._sockets.append(sock)
        return sock

    def _reader(self, sock: zmq.Socket[Any], handler: Callable[[Frames], None], name: str) -> ZmqReader:
        reader = ZmqReader(sock, handler, name)
        reader.start()
        self._readers.append(reader)
        return reader

    def _spawn(self, coro: Any, context: contextvars.Context | None = None) -> asyncio.Task[Any]:
        task = asyncio.get_running_loop().create_task(coro, context=context)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _prune(self) -> None:
        """Journal retention in the background (actors/control/retention.py): a step now and then,
        the next at once while a step deletes a full batch."""
        while True:
            try:
                deleted = await self.journal.prune(int(time.time() * 1000), self.config.journal.retention_days)
            except Exception as exc:  # noqa: BLE001 - a failed step is tried again later; the journal keeps working
                log.warning("journal retention step failed: %s", exc)
                deleted = 0
            if deleted:
                log.info("journal retention: %d rows older than %d days pruned", deleted, self.config.journal.retention_days)
            await asyncio.sleep(0.5 if deleted >= PRUNE_BATCH else 3600)

    # ------------------------------------------------------------------------------ requests
    def _on_request(self, frames: Frames) -> None:
        if len(frames) < 2:
            self.bad_requests += 1
            return
        peer, envelope, body = frames[0], frames[1:-1], frames[-1]
        try:
            request = decode_control_request(body)
        except ProtocolError as exc:
            self.bad_requests += 1
            self._send(peer, envelope, Error(id=peek_request_id(body), code=exc.code, reason=exc.reason))
            return
        context = contextvars.copy_context()
        context.run(PEER.set, peer)
        self._spawn(self._serve(peer, envelope, request), context)

    async def _serve(self, peer: bytes, envelope: list[bytes], request: ControlRequest) -> None:
        reply = await dispatch(self, request)
        self._send(peer, envelope, reply)

    def _send(self, peer: bytes, envelope: list[bytes], msg: Ok | Error | Push) -> bool:
        try:
            self.router.send_multipart([peer, *envelope, encode(msg)], zmq.NOBLOCK)
        except zmq.Again:  # that peer is not reading: drop rather than block everyone
            self.dropped_pushes += 1
            return False
        except zmq.ZMQError as exc:
            if exc.errno == zmq.EHOSTUNREACH:  # the peer is gone
                self.subscribers.pop(peer, None)
                return False
            raise
        finally:
            kick_after_send(self._router_reader)
        return True

    def current_peer(self) -> bytes:
        return PEER.get()

    def subscribe(self, peer: bytes, kinds: frozenset[str]) -> None:
        self.subscribers[peer] = kinds

    def unsubscribe(self, peer: bytes) -> None:
        self.subscribers.pop(peer, None)

    def push(self, kind: str, event: Any) -> None:
        if not self.subscribers:
            return
        body = encode(Push(event=event))
        for peer, kinds in list(self.subscribers.items()):
            if kinds and kind not in kinds:
                continue
            try:
                self.router.send_multipart([peer, body], zmq.NOBLOCK)
            except zmq.Again:
                self.dropped_pushes += 1
            except zmq.ZMQError as exc:
                if exc.errno != zmq.EHOSTUNREACH:
                    raise
                self.subscribers.pop(peer, None)
        kick_after_send(self._router_reader)


# ---------------------------------------------------------------------------------- entry point


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m actors.control", description="the control actor")
    parser.add_argument("--config", required=True, help="deployment TOML")
    parser.add_argument(
        "--supervisor-url",
        default=os.environ.get("SUPERVISOR_SERVER_URL"),
        help="unix:///path/to/supervisor.sock (default: $SUPERVISOR_SERVER_URL, set by supervisord)",
    )
    parser.add_argument("--no-supervisor", action="store_true", help="run without supervisor")
    parser.add_argument(
        "--programs-dir",
        default=os.environ.get("COPYTRADER_PROGRAMS_DIR"),
        help="where slave-<id>.conf files go (default: $COPYTRADER_PROGRAMS_DIR, else <config dir>/slaves)",
    )
    parser.add_argument("--poll-interval", type=float, default=2.0, help="supervisor poll interval (s)")
    parser.add_argument("--log-level", default="INFO")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging("control", args.log_level)
    config_path = Path(args.config).resolve()
    supervisor = None
    if args.supervisor_url and not args.no_supervisor:
        supervisor = AsyncSupervisor(Supervisor(args.supervisor_url))
    programs_dir = Path(args.programs_dir) if args.programs_dir else config_path.parent / "slaves"
    try:
        actor = ControlActor(config_path, supervisor=supervisor, programs_dir=programs_dir, poll_interval_s=args.poll_interval)
    except ConfigError as exc:
        log.error("%s", exc)
        return 2
    return run(actor.run)
