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
import logging
import os
import sys
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import zmq

from protocol.codec import (
    decode_control_request,
    decode_master_event,
    decode_slave_report,
    encode,
    pack_control_event,
    unpack_master_event,
)
from protocol.errors import ErrorCode, ProtocolError
from protocol.messages import (
    ActorInfo,
    ActorStateChanged,
    ControlEvent,
    ControlRequest,
    Error,
    Heartbeat,
    MasterEvent,
    MasterFill,
    MasterStatus,
    MirrorSkipped,
    Ok,
    OrderFailed,
    OrderMirrored,
    PauseAllChanged,
    Push,
    Reconciled,
    SlaveConfigChanged,
    SlaveError,
    SlaveReport,
    SlaveStatusReport,
    SlaveSummary,
    StatusResult,
)
from protocol.topics import master_prefix

from .base import Endpoints, Frames, ZmqReader, ensure_private_dir, kick_after_send, monotonic_ns, run, setup_logging
from .commands import CommandError, dispatch
from .commands.status import MasterView, slave_state
from .config import AppConfig, ConfigError, load_config, write_config_atomic
from .coverage import MAX_FILLS, Coverage, fill_ref, is_covering_skip
from .journal import (
    CoveredBody,
    Journal,
    record_for_covered,
    record_for_event,
    record_for_master_event,
    record_for_report,
    tag_of,
)
from .notify import (
    Alert,
    Notifier,
    Sender,
    alert_flapping,
    alert_for_report,
    alert_process_died,
    alert_process_down,
    alert_stream_lost,
)
from .supervision import (
    AsyncSupervisor,
    ProcessInfo,
    SupervisionError,
    Supervisor,
    remove_slave_program,
    slave_program_name,
    write_slave_program,
)

log = logging.getLogger("copytrader.control")

PEER: contextvars.ContextVar[bytes] = contextvars.ContextVar("peer", default=b"")
FLAP_STARTS = 3  # this many (re)starts ...
FLAP_WINDOW_S = 120.0  # ... within this window: flapping
PAUSE_REPUBLISH_S = 5.0  # late subscribers learn the pause-all switch within this


class ControlState(msgspec.Struct, kw_only=True):
    """Control's own persistent state (not part of the deployment TOML)."""

    paused_all: bool = False
    version: int = 0  # last version number given to a published config event


class _Id(msgspec.Struct):
    id: int = 0


_peek_id = msgspec.msgpack.Decoder(_Id)


def peek_request_id(body: bytes) -> int:
    """The `id` of an undecodable request, when it can be read at all (0 otherwise)."""
    try:
        value = _peek_id.decode(body).id
    except (msgspec.DecodeError, msgspec.ValidationError):
        return 0
    return value if 0 <= value <= 2**63 - 1 else 0


class ControlActor:
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

    # ------------------------------------------------------------------------------ reports
    def _on_report(self, frames: Frames) -> None:
        try:
            report = decode_slave_report(frames[-1])
        except ProtocolError as exc:
            self.bad_reports += 1
            log.warning("bad slave report dropped: %s", exc.reason)
            return
        self.note_report(report)

    def note_report(self, report: SlaveReport) -> None:
        """Journal, remember, alert and push one slave report."""
        if isinstance(report, SlaveStatusReport):
            previous = self.statuses.get(report.slave_id)
            self.statuses[report.slave_id] = report
            self._track_slave_streams(report)
            if previous is None or (previous.state, previous.errors) != (report.state, report.errors):
                self.journal.append(record_for_report(report))
        else:
            self.journal.append(record_for_report(report))
            self._note_coverage(report)
        if isinstance(report, SlaveError):
            self.last_errors[report.slave_id] = report
        alert = alert_for_report(report)
        if alert is not None:
            self.notifier.alert(alert)
        self.push(tag_of(report), report)

    def _on_master_event(self, frames: Frames) -> None:
        try:
            event: MasterEvent = unpack_master_event(frames)
        except ProtocolError:
            self.bad_master_events += 1
            return
        if isinstance(event, Heartbeat):
            self.heartbeats[event.market] = (time.monotonic(), event)
            return
        self.master_views.setdefault(event.market, MasterView()).note(event)
        record = record_for_master_event(event)
        if record is not None:
            self.journal.append(record)
        if isinstance(event, MasterFill):
            ref = fill_ref(event)
            for slave_id, snap_seq in self.coverage.add_fill(ref):  # its Reconciled came first
                self.journal.append(record_for_covered(slave_id, ref.market, ref.symbol, ref.order_id, ref.trade_id,
                                                       ref.epoch, ref.seq, snap_seq))

    # ------------------------------------------------------------------------------ coverage
    def _note_coverage(self, report: SlaveReport, *, journal: bool = True) -> None:
        """Decisions feed the coverage index; a sync's Reconciled journals the fills it covered."""
        cov = self.coverage
        if isinstance(report, (OrderMirrored, OrderFailed, MirrorSkipped)):
            covering = isinstance(report, MirrorSkipped) and is_covering_skip(report.reason, report.text)
            cov.add_decision(report.slave_id, report.market, report.master_epoch, report.master_seq, report.symbol,
                             covering=covering)
        elif isinstance(report, Reconciled) and report.master_epoch:
            for fill in cov.reconciled(report.slave_id, report.market, report.master_epoch, report.master_seq):
                if journal:
                    self.journal.append(record_for_covered(
                        report.slave_id, fill.market, fill.symbol, fill.order_id, fill.trade_id, fill.epoch,
                        fill.seq, report.master_seq))

    async def _load_coverage(self) -> None:
        """After a restart: master fills, decisions and covered rows from the journal."""
        try:
            rows = await self.journal.coverage_rows()
        except Exception as exc:  # noqa: BLE001 - an unreadable journal must not stop control
            log.error("coverage index not rebuilt from the journal: %s", exc)
            return
        for kind, slave_id, market, body in rows:
            if body is None:
                continue
            try:
                if kind == "master.fill":
                    event = decode_master_event(body)
                    if isinstance(event, MasterFill):
                        self.coverage.add_fill(fill_ref(event))
                elif kind == "covered":
                    c = msgspec.msgpack.decode(body, type=CoveredBody)
                    if slave_id and market:
                        self.coverage.add_decision(slave_id, market, c.epoch, c.seq, "", covering=True)
                else:
                    self._note_coverage(decode_slave_report(body), journal=False)
            except (ProtocolError, msgspec.DecodeError, msgspec.ValidationError):
                continue

    # ------------------------------------------------------------------------------ stream watch
    def _track(self, key: str, up: bool, now: float, alert: Callable[[float], Any]) -> None:
        if up:
            self._lost_since.pop(key, None)
            self._lost_alerted.discard(key)
            return
        since = self._lost_since.setdefault(key, now)
        lost_for = now - since
        if lost_for >= self.config.notifications.stream_lost_after_s and key not in self._lost_alerted:
            self._lost_alerted.add(key)
            self.notifier.alert(alert(lost_for))

    def _track_slave_streams(self, report: SlaveStatusReport) -> None:
        now = time.monotonic()
        for market in report.markets:
            key = f"{report.slave_id}:{market.market}"
            self._track(key, market.connected, now, lambda s, r=report, m=market.market: _slave_stream_alert(r.slave_id, m, s))

    def check_master_streams(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        limit = max(3.0, self.config.notifications.stream_lost_after_s)
        for market in self.config.masters:
            seen = self.heartbeats.get(market)
            up = seen is not None and seen[1].connected and now - seen[0] < limit
            if seen is None:
                self._lost_since.setdefault(f"master:{market}", self._started_at)
            self._track(f"master:{market}", up, now, lambda s, m=market: alert_stream_lost(m, s))

    async def _ticker(self) -> None:
        last_pause = 0.0
        while True:
            await asyncio.sleep(self.tick_s)
            try:
                self.check_master_streams()
                now = time.monotonic()
                if now - last_pause >= self.republish_s:
                    last_pause = now
                    self.publish(PauseAllChanged(paused=self.state.paused_all, version=self.state.version))
            except Exception:  # never let the watchdog die
                log.exception("control tick failed")

    # ------------------------------------------------------------------------------ supervisor
    async def _poll_supervisor(self) -> None:
        reachable = True
        while True:
            try:
                await self.refresh_processes()
                if not reachable:
                    log.info("supervisor reachable again")
                reachable = True
            except SupervisionError as exc:
                if reachable:
                    log.error("supervisor: %s", exc.reason)
                reachable = False
            except Exception:
                log.exception("supervisor poll failed")
            await asyncio.sleep(self.poll_interval_s)

    async def refresh_processes(self) -> dict[str, ProcessInfo]:
        sup = self.require_supervisor()
        fresh = {p.name: p for p in await sup.processes()}
        now = time.monotonic()
        for name, info in fresh.items():
            before = self.processes.get(name)
            if before is None or before.state != info.state:
                self._process_changed(name, before.state if before else "NEW", info, now)
            if before is not None and self._died(name, before, info):
                self.notifier.alert(alert_process_died(name, info.state, info.description))
        self.processes = fresh
        self.polls += 1
        return fresh

    def _process_changed(self, name: str, before: str, info: ProcessInfo, now: float) -> None:
        slave_id = self.slave_of(name)
        self.push("actor", ActorStateChanged(name=name, state=info.state, t_ns=monotonic_ns()))
        if before != "NEW":
            self.journal.append(record_for_event(
                "actor", f"{name}: {before} -> {info.state}", slave_id=slave_id, error=info.state == "FATAL",
            ))
        if name in self.restarting or name == "control":
            return
        if info.state in ("FATAL", "BACKOFF"):
            detail = info.spawnerr or info.description
            self.notifier.alert(alert_process_down(name, info.state, detail))
        if info.state == "STARTING" and before != "NEW":
            starts = self._starts.setdefault(name, deque(maxlen=FLAP_STARTS))
            starts.append(now)
            if len(starts) == FLAP_STARTS and now - starts[0] <= FLAP_WINDOW_S:
                self.notifier.alert(alert_flapping(name, FLAP_STARTS, FLAP_WINDOW_S))

    def _died(self, name: str, before: ProcessInfo, info: ProcessInfo) -> bool:
        """RUNNING before, and now gone from RUNNING or running under a new pid, and not because we
        restarted it. (Polling can miss the short EXITED state: a new pid tells the same story.)"""
        if name in self.restarting or name == "control" or before.state != "RUNNING":
            return False
        if info.state == "RUNNING":
            if info.pid is not None and self.restarted_pid.get(name) == info.pid:
                return False
            return bool(before.pid and info.pid and info.pid != before.pid)
        return info.state in ("EXITED", "STARTING", "BACKOFF", "FATAL", "UNKNOWN")

    def require_supervisor(self) -> AsyncSupervisor:
        if self.supervisor is None:
            raise CommandError(ErrorCode.UNAVAILABLE, "control is not connected to supervisor")
        return self.supervisor

    @staticmethod
    def slave_of(name: str) -> str | None:
        return name[len("slave-"):] if name.startswith("slave-") else None

    async def sync_programs(self) -> None:
        """Make the slave program files match the config, and supervisor match the files."""
        if self.programs_dir is None:
            return
        wanted = {s.id for s in self.config.slaves}
        await asyncio.to_thread(self._write_programs, wanted)
        if self.supervisor is None:
            return
        try:
            done = await self.supervisor.update_groups()
        except SupervisionError as exc:
            log.error("could not apply slave programs to supervisor: %s", exc.reason)
            return
        if done.added or done.changed or done.removed:
            self.audit(f"supervisor updated: added {list(done.added)}, changed {list(done.changed)}, removed {list(done.removed)}")

    def _write_programs(self, wanted: set[str]) -> None:
        assert self.programs_dir is not None
        for slave_id in sorted(wanted):
            self._write_program(slave_id)
        for path in self.programs_dir.glob("slave-*.conf"):
            slave_id = path.name[len("slave-"):-len(".conf")]
            if slave_id not in wanted:
                remove_slave_program(self.programs_dir, slave_id)

    def _write_program(self, slave_id: str) -> Path:
        assert self.programs_dir is not None
        return write_slave_program(
            self.programs_dir, slave_id, self.config_path, self.python, self.config.log_dir, directory=self.workdir,
            startsecs=self.startsecs,
        )

    async def start_slave_program(self, slave_id: str) -> str:
        """Write the slave's program file and add it to supervisor; returns what happened."""
        if self.programs_dir is None:
            return "no program file written (control has no programs dir)"
        path = await asyncio.to_thread(self._write_program, slave_id)
        if self.supervisor is None:
            return f"program file {path.name} written; control is not connected to supervisor"
        name = slave_program_name(slave_id)
        try:
            await self.supervisor.add_group(name)
        except SupervisionError as exc:
            return f"program file {path.name} written, but supervisor: {exc.reason}"
        return f"started as {name}"

    async def stop_slave_program(self, slave_id: str) -> str:
        name = slave_program_name(slave_id)
        if self.programs_dir is not None:
            await asyncio.to_thread(remove_slave_program, self.programs_dir, slave_id)
        if self.supervisor is None:
            return "control is not connected to supervisor"
        try:
            await self.supervisor.remove_group(name)
        except SupervisionError as exc:
            return f"supervisor: {exc.reason}"
        self.processes.pop(name, None)
        return f"{name} stopped and removed"

    # ------------------------------------------------------------------------------ config
    def _stat(self) -> tuple[int, int]:
        st = self.config_path.stat()
        return st.st_mtime_ns, st.st_size

    async def update_config(self, mutate: Callable[[AppConfig], AppConfig]) -> AppConfig:
        """Apply `mutate` to the current config, validate, write atomically (with .bak), reload."""
        async with self._config_lock:
            if self._stat() != self._config_stat:  # edited behind our back: start from the file
                try:
                    self.config = await asyncio.to_thread(load_config, self.config_path)
                except ConfigError as exc:
                    raise CommandError(ErrorCode.CONFLICT, f"the config file on disk is invalid: {exc}") from None
            new = mutate(self.config)
            try:
                await asyncio.to_thread(write_config_atomic, self.config_path, new)
            except ConfigError as exc:
                raise CommandError(ErrorCode.INVALID_ARGUMENT, str(exc)) from None
            self.config = await asyncio.to_thread(load_config, self.config_path)
            self._config_stat = self._stat()
            return self.config

    def has_key(self, slave_id: str) -> bool:
        if not self.require_key:
            return True
        from keystore.store import record_path

        try:
            return record_path(self.config.keystore_dir, slave_id).exists()
        except ValueError:
            return False

    def _next_version(self) -> int:
        self.state.version = max(self.state.version + 1, time.time_ns() // 1_000_000)
        return self.state.version

    def publish(self, event: ControlEvent) -> None:
        self.pub.send_multipart(pack_control_event(event), zmq.NOBLOCK)

    def publish_slave_config(self, slave_id: str) -> None:
        event = SlaveConfigChanged(slave_id=slave_id, config=self.config.slave(slave_id), version=self._next_version())
        self.publish(event)
        self.push("slavecfg", event)

    def publish_slave_removed(self, slave_id: str) -> None:
        event = SlaveConfigChanged(slave_id=slave_id, config=None, version=self._next_version())
        self.publish(event)
        self.push("slavecfg", event)
        self.statuses.pop(slave_id, None)
        self.last_errors.pop(slave_id, None)

    async def set_pause_all(self, paused: bool) -> None:
        self.state.paused_all = paused
        event = PauseAllChanged(paused=paused, version=self._next_version())
        await asyncio.to_thread(self._save_state)
        self.publish(event)
        self.push("pauseall", event)

    def _load_state(self) -> ControlState:
        try:
            return msgspec.json.decode(self.state_path.read_bytes(), type=ControlState)
        except FileNotFoundError:
            return ControlState()
        except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.error("ignoring unreadable %s: %s", self.state_path, exc)
            return ControlState()

    def _save_state(self) -> None:
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_path.with_suffix(".tmp")
        tmp.write_bytes(msgspec.json.encode(self.state))
        os.replace(tmp, self.state_path)

    def audit(self, text: str, slave_id: str | None = None) -> None:
        """Journal an operator action or a control event."""
        if self.journal is not None:
            self.journal.append(record_for_event("control", text, slave_id=slave_id))
        log.info(text)

    # ------------------------------------------------------------------------------ status
    def slave_summary(self, slave_id: str) -> SlaveSummary:
        config = self.config.slave(slave_id)
        process = self.processes.get(slave_program_name(slave_id))
        process_state = process.state if process else "UNKNOWN"
        status = self.statuses.get(slave_id)
        error = self.last_errors.get(slave_id)
        state = slave_state(
            config, process_state, status, paused_all=self.state.paused_all,
            fatal_error=error is not None and error.fatal, restarting=slave_program_name(slave_id) in self.restarting,
        )
        last_error = error.message if error is not None else (status.errors[-1] if status and status.errors else "")
        return SlaveSummary(config=config, process_state=process_state, status=status, state=state,
                            last_error=last_error)

    def derived_state(self, slave_id: str) -> str:
        return self.slave_summary(slave_id).state

    async def status(self) -> StatusResult:
        if self.supervisor is not None:
            try:
                await self.refresh_processes()
            except SupervisionError:
                pass  # the cached view (and UNKNOWN states) will do
        now = time.monotonic()
        actors = [self._actor_info(p, now) for p in self.processes.values()]
        named = {a.name for a in actors}
        if "control" not in named:
            actors.insert(0, ActorInfo(name="control", state="RUNNING", pid=os.getpid(),
                                       uptime_s=int(now - self._started_at)))
        for market in self.config.masters:
            if f"master-{market}" not in named:
                actors.append(ActorInfo(name=f"master-{market}", state="UNKNOWN", heartbeat_age_ms=self._hb_age(market, now)))
        running = sum(1 for s in self.config.slaves if self.derived_state(s.id) == "running")
        masters = tuple(self._master_status(market, now) for market in self.config.masters)
        return StatusResult(
            actors=tuple(actors), slaves_total=len(self.config.slaves), slaves_running=running,
            paused_all=self.state.paused_all, unacked_errors=await self.journal.unacked_count(), t_ns=monotonic_ns(),
            masters=masters,
        )

    def _master_status(self, market: str, now: float) -> MasterStatus:
        seen = self.heartbeats.get(market)
        connected = seen is not None and seen[1].connected and now - seen[0] < max(3.0, 3 * self.tick_s)
        view = self.master_views.get(market)
        return view.status(market, connected, self._hb_age(market, now)) if view else MasterStatus(
            market=market, connected=connected, heartbeat_age_ms=self._hb_age(market, now))  # type: ignore[arg-type]

    def _hb_age(self, market: str, now: float) -> int | None:
        seen = self.heartbeats.get(market)
        return int((now - seen[0]) * 1000) if seen else None

    def _actor_info(self, p: ProcessInfo, now: float) -> ActorInfo:
        hb = self._hb_age(p.name[len("master-"):], now) if p.name.startswith("master-") else None
        return ActorInfo(name=p.name, state=p.state, pid=p.pid, uptime_s=p.uptime_s, heartbeat_age_ms=hb)


def _slave_stream_alert(slave_id: str, market: str, seconds: float) -> Alert:
    return Alert(category="stream_lost", slave_id=slave_id, key=f"stream_lost:{slave_id}:{market}",
                 title=f"{slave_id}: {market} stream lost", body=f"exchange connection down for {seconds:.0f}s")


# ---------------------------------------------------------------------------------- entry point

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m actors.control", description=__doc__.split("\n")[0])
    parser.add_argument("--config", required=True, help="deployment TOML")
    parser.add_argument("--supervisor-url", default=os.environ.get("SUPERVISOR_SERVER_URL"),
                        help="unix:///path/to/supervisor.sock (default: $SUPERVISOR_SERVER_URL, set by supervisord)")
    parser.add_argument("--no-supervisor", action="store_true", help="run without supervisor")
    parser.add_argument("--programs-dir", default=os.environ.get("COPYTRADER_PROGRAMS_DIR"),
                        help="where slave-<id>.conf files go (default: $COPYTRADER_PROGRAMS_DIR, else <config dir>/slaves)")
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
        actor = ControlActor(config_path, supervisor=supervisor, programs_dir=programs_dir,
                             poll_interval_s=args.poll_interval)
    except ConfigError as exc:
        log.error("%s", exc)
        return 2
    return run(actor.run)


if __name__ == "__main__":
    sys.exit(main())
