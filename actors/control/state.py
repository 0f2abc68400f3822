"""The configuration control owns (written atomically, published to the slaves), its own
persistent state, and the status it answers (a mixin of `ControlActor`)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable

import msgspec
import zmq

from protocol.codec import pack_control_event
from protocol.control_api import ActorInfo, MasterStatus, SlaveSummary, StatusResult
from protocol.errors import ErrorCode
from protocol.messages import ControlEvent, PauseAllChanged, SlaveConfigChanged

from ..base import monotonic_ns
from ..config import AppConfig, ConfigError, load_config, write_config_atomic
from .commands import CommandError
from .commands.status import slave_state
from .journal import record_for_event
from .rules import ControlState, log
from .supervision import ProcessInfo, SupervisionError, slave_program_name


class State:
    """A part of `ControlActor` (its state is the actor's)."""

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
            config,
            process_state,
            status,
            paused_all=self.state.paused_all,
            fatal_error=error is not None and error.fatal,
            restarting=slave_program_name(slave_id) in self.restarting,
        )
        last_error = error.message if error is not None else (status.errors[-1] if status and status.errors else "")
        return SlaveSummary(config=config, process_state=process_state, status=status, state=state, last_error=last_error)

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
            actors.insert(0, ActorInfo(name="control", state="RUNNING", pid=os.getpid(), uptime_s=int(now - self._started_at)))
        for market in self.config.masters:
            if f"master-{market}" not in named:
                actors.append(ActorInfo(name=f"master-{market}", state="UNKNOWN", heartbeat_age_ms=self._hb_age(market, now)))
        running = sum(1 for s in self.config.slaves if self.derived_state(s.id) == "running")
        masters = tuple(self._master_status(market, now) for market in self.config.masters)
        return StatusResult(
            actors=tuple(actors),
            slaves_total=len(self.config.slaves),
            slaves_running=running,
            paused_all=self.state.paused_all,
            unacked_errors=await self.journal.unacked_count(),
            t_ns=monotonic_ns(),
            masters=masters,
        )

    def _master_status(self, market: str, now: float) -> MasterStatus:
        seen = self.heartbeats.get(market)
        connected = seen is not None and seen[1].connected and now - seen[0] < max(3.0, 3 * self.tick_s)
        view = self.master_views.get(market)
        return (
            view.status(market, connected, self._hb_age(market, now))
            if view
            else MasterStatus(market=market, connected=connected, heartbeat_age_ms=self._hb_age(market, now))
        )  # type: ignore[arg-type]

    def _hb_age(self, market: str, now: float) -> int | None:
        seen = self.heartbeats.get(market)
        return int((now - seen[0]) * 1000) if seen else None

    def _actor_info(self, p: ProcessInfo, now: float) -> ActorInfo:
        hb = self._hb_age(p.name[len("master-") :], now) if p.name.startswith("master-") else None
        return ActorInfo(name=p.name, state=p.state, pid=p.pid, uptime_s=p.uptime_s, heartbeat_age_ms=hb)
