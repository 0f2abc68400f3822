"""Control's side of supervisor: polling the processes, notifying deaths and flapping, and
the slave programs it writes, starts and stops (a mixin of `ControlActor`)."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from pathlib import Path

from protocol.control_api import ActorStateChanged
from protocol.errors import ErrorCode

from ..base import monotonic_ns
from .commands import CommandError
from .journal import record_for_event
from .notify import alert_flapping, alert_process_died, alert_process_down
from .rules import FLAP_STARTS, FLAP_WINDOW_S, log
from .supervision import AsyncSupervisor, ProcessInfo, SupervisionError, remove_slave_program, slave_program_name, write_slave_program


class Programs:
    """A part of `ControlActor` (its state is the actor's)."""

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
            self.journal.append(
                record_for_event("actor", f"{name}: {before} -> {info.state}", slave_id=slave_id, error=info.state == "FATAL")
            )
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
        return name[len("slave-") :] if name.startswith("slave-") else None

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
            slave_id = path.name[len("slave-") : -len(".conf")]
            if slave_id not in wanted:
                remove_slave_program(self.programs_dir, slave_id)

    def _write_program(self, slave_id: str) -> Path:
        assert self.programs_dir is not None
        return write_slave_program(
            self.programs_dir,
            slave_id,
            self.config_path,
            self.python,
            self.config.log_dir,
            directory=self.workdir,
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
