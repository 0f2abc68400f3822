"""The one adapter over supervisor's XML-RPC interface (the only module speaking its camelCase API).

supervisord serves XML-RPC on its unix socket (`[unix_http_server] file=...`); we reach it with
supervisor's own `SupervisorTransport` and `serverurl="unix:///path/to.sock"`. supervisord puts that
URL into every child's environment as `SUPERVISOR_SERVER_URL`, so the control actor needs no setting.

Numeric faults (supervisor.xmlrpc.Faults) become `SupervisionError` with one of our
`protocol.errors.ErrorCode`s; a missing or dead socket is UNAVAILABLE, a slow one TIMEOUT.

Restarting one program is `stopProcess` + `startProcess`. Never `supervisor.restart()`: that
restarts supervisord itself, and every actor with it.

Slave programs: one generated file per slave, `<programs_dir>/slave-<id>.conf`, holding a lone
`[program:slave-<id>]` section. A program section alone is its own process group of the same name,
which is what lets `addProcessGroup("slave-<id>")` / `removeProcessGroup` add and remove one slave
live without touching any other program. (A `[group:slaves] programs=...` section would have to be
rewritten, and the whole group removed and re-added, on every change, stopping every slave.)

`Supervisor` is blocking (xmlrpc.client); `AsyncSupervisor` runs it on one dedicated thread, so
calls are serialised (the transport keeps one HTTP connection, not thread-safe) and the event loop
never waits on supervisord.
"""

from __future__ import annotations

import asyncio
import http.client
import os
import shlex
import socket
import urllib.parse
import xmlrpc.client
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final, TypeVar

import msgspec
from supervisor.xmlrpc import Faults, SupervisorTransport

from protocol.errors import ErrorCode

from ..files import fsync_dir, write_atomic

T = TypeVar("T")

SLAVE_PREFIX: Final = "slave-"
SERVER_URL_ENV: Final = "SUPERVISOR_SERVER_URL"

# supervisor fault number -> our error code
_FAULT_CODES: Final[dict[int, ErrorCode]] = {
    Faults.UNKNOWN_METHOD: ErrorCode.INTERNAL,
    Faults.INCORRECT_PARAMETERS: ErrorCode.INVALID_ARGUMENT,
    Faults.BAD_ARGUMENTS: ErrorCode.INVALID_ARGUMENT,
    Faults.SIGNATURE_UNSUPPORTED: ErrorCode.INTERNAL,
    Faults.SHUTDOWN_STATE: ErrorCode.UNAVAILABLE,
    Faults.BAD_NAME: ErrorCode.NOT_FOUND,
    Faults.BAD_SIGNAL: ErrorCode.INVALID_ARGUMENT,
    Faults.NO_FILE: ErrorCode.INVALID_ARGUMENT,
    Faults.NOT_EXECUTABLE: ErrorCode.INVALID_ARGUMENT,
    Faults.FAILED: ErrorCode.UNAVAILABLE,
    Faults.ABNORMAL_TERMINATION: ErrorCode.UNAVAILABLE,
    Faults.SPAWN_ERROR: ErrorCode.UNAVAILABLE,
    Faults.ALREADY_STARTED: ErrorCode.CONFLICT,
    Faults.NOT_RUNNING: ErrorCode.CONFLICT,
    Faults.ALREADY_ADDED: ErrorCode.ALREADY_EXISTS,
    Faults.STILL_RUNNING: ErrorCode.CONFLICT,
    Faults.CANT_REREAD: ErrorCode.INVALID_ARGUMENT,
}


class SupervisionError(Exception):
    """A supervisor call failed. `code`: our ErrorCode; `fault`: supervisor's number (0 if none)."""

    def __init__(self, code: ErrorCode, reason: str, fault: int = 0) -> None:
        super().__init__(f"{code.name}: {reason}")
        self.code = code
        self.reason = reason
        self.fault = fault


class ProcessInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One program as supervisord sees it (getProcessInfo, trimmed)."""

    name: str  # program name, e.g. "slave-a1"
    group: str
    state: str  # STOPPED STARTING RUNNING BACKOFF STOPPING EXITED FATAL UNKNOWN
    pid: int | None = None
    start: int = 0  # epoch seconds of the last start (0: never)
    now: int = 0  # supervisord's clock when asked
    exitstatus: int = 0
    spawnerr: str = ""
    description: str = ""

    @property
    def namespec(self) -> str:
        return self.name if self.group == self.name else f"{self.group}:{self.name}"

    @property
    def uptime_s(self) -> int:
        return max(0, self.now - self.start) if self.state == "RUNNING" and self.start else 0


class ReloadResult(msgspec.Struct, frozen=True, kw_only=True):
    """What `reloadConfig` found in the files, by group name."""

    added: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()


def _process_info(raw: dict[str, Any]) -> ProcessInfo:
    pid = int(raw.get("pid") or 0)
    return ProcessInfo(
        name=str(raw["name"]),
        group=str(raw.get("group", raw["name"])),
        state=str(raw.get("statename", "UNKNOWN")),
        pid=pid or None,
        start=int(raw.get("start") or 0),
        now=int(raw.get("now") or 0),
        exitstatus=int(raw.get("exitstatus") or 0),
        spawnerr=str(raw.get("spawnerr") or ""),
        description=str(raw.get("description") or ""),
    )


class _TimeoutUnixConnection(http.client.HTTPConnection):
    """supervisor's UnixStreamHTTPConnection, with a socket timeout."""

    def __init__(self, socketfile: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socketfile = socketfile

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socketfile)
        except BaseException:
            sock.close()
            raise
        self.sock = sock


class _Transport(SupervisorTransport):
    def __init__(self, serverurl: str, timeout: float) -> None:
        super().__init__(None, None, serverurl)
        if serverurl.startswith("unix://"):
            path = serverurl[len("unix://") :]
            self._get_connection = lambda: _TimeoutUnixConnection(path, timeout)
        else:  # http://host:port (inet_http_server)
            parsed = urllib.parse.urlparse(serverurl)
            host, port = parsed.hostname or "127.0.0.1", parsed.port or 80
            self._get_connection = lambda: http.client.HTTPConnection(host, port, timeout=timeout)


class Supervisor:
    """Blocking client of one supervisord. Every method raises SupervisionError on failure."""

    def __init__(self, serverurl: str, timeout: float = 30.0) -> None:
        if not serverurl.startswith(("unix://", "http://")):
            raise ValueError(f"supervisor url must be unix:///path or http://host:port, got {serverurl!r}")
        self.serverurl = serverurl
        self.timeout = timeout
        self._transport = _Transport(serverurl, timeout)
        self._proxy = xmlrpc.client.ServerProxy("http://127.0.0.1", transport=self._transport)

    @classmethod
    def from_env(cls, timeout: float = 30.0) -> "Supervisor | None":
        url = os.environ.get(SERVER_URL_ENV)
        return cls(url, timeout) if url else None

    def close(self) -> None:
        self._transport.close()

    def _call(self, method: str, *args: Any) -> Any:
        func = self._proxy
        for part in method.split("."):
            func = getattr(func, part)
        try:
            return func(*args)
        except xmlrpc.client.Fault as fault:
            code = _FAULT_CODES.get(fault.faultCode, ErrorCode.INTERNAL)
            raise SupervisionError(code, f"{method}: {fault.faultString}", fault.faultCode) from None
        except TimeoutError:
            self._transport.close()
            raise SupervisionError(ErrorCode.TIMEOUT, f"{method}: supervisord did not answer in {self.timeout}s") from None
        except (OSError, http.client.HTTPException, xmlrpc.client.ProtocolError) as exc:
            self._transport.close()
            raise SupervisionError(ErrorCode.UNAVAILABLE, f"{method}: supervisord unreachable: {exc}") from None

    # -- reading ---------------------------------------------------------------------------------
    def state(self) -> str:
        """supervisord's own state name (RUNNING, SHUTDOWN, ...)."""
        return str(self._call("supervisor.getState")["statename"])

    def processes(self) -> list[ProcessInfo]:
        return [_process_info(raw) for raw in self._call("supervisor.getAllProcessInfo")]

    def process(self, name: str) -> ProcessInfo:
        return _process_info(self._call("supervisor.getProcessInfo", name))

    # -- acting ----------------------------------------------------------------------------------
    def start(self, name: str, wait: bool = True) -> None:
        """Start one program; already running is fine."""
        try:
            self._call("supervisor.startProcess", name, wait)
        except SupervisionError as exc:
            if exc.fault != Faults.ALREADY_STARTED:
                raise

    def stop(self, name: str, wait: bool = True) -> None:
        """Stop one program; already stopped is fine."""
        try:
            self._call("supervisor.stopProcess", name, wait)
        except SupervisionError as exc:
            if exc.fault != Faults.NOT_RUNNING:
                raise

    def restart(self, name: str) -> ProcessInfo:
        """Stop then start one program (never supervisor.restart(), which restarts supervisord)."""
        self.stop(name)
        self.start(name)
        return self.process(name)

    def reload(self) -> ReloadResult:
        """Re-read the configuration files (`reloadConfig`); nothing is started or stopped."""
        [[added, changed, removed]] = self._call("supervisor.reloadConfig")
        return ReloadResult(added=tuple(added), changed=tuple(changed), removed=tuple(removed))

    def add_group(self, name: str) -> None:
        """Re-read the files and add process group `name` (it starts if its autostart says so).
        Already added is fine; a group whose file changed is stopped, removed and added again
        (what `supervisorctl update <name>` does)."""
        found = self.reload()
        if name in found.changed:
            self._call("supervisor.stopProcessGroup", name, True)
            self._call("supervisor.removeProcessGroup", name)
        try:
            self._call("supervisor.addProcessGroup", name)
        except SupervisionError as exc:
            if exc.fault != Faults.ALREADY_ADDED:
                raise

    def remove_group(self, name: str) -> None:
        """Stop every process of group `name`, then remove it. Unknown group is fine."""
        try:
            self._call("supervisor.stopProcessGroup", name, True)
        except SupervisionError as exc:
            if exc.fault == Faults.BAD_NAME:
                return
            raise
        self._call("supervisor.removeProcessGroup", name)
        self.reload()

    def update_groups(self, prefix: str = SLAVE_PREFIX) -> ReloadResult:
        """Apply the program files of every group named `prefix`* (see `_sync_groups`)."""
        return _sync_groups(self, prefix)


class AsyncSupervisor:
    """`Supervisor` driven from asyncio: each call runs on one dedicated thread (serialised)."""

    def __init__(self, sup: Supervisor) -> None:
        self.sync = sup
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="supervisor")

    async def _run(self, func: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, func, *args)

    async def processes(self) -> list[ProcessInfo]:
        return await self._run(self.sync.processes)

    async def process(self, name: str) -> ProcessInfo:
        return await self._run(self.sync.process, name)

    async def start(self, name: str) -> None:
        await self._run(self.sync.start, name)

    async def stop(self, name: str) -> None:
        await self._run(self.sync.stop, name)

    async def restart(self, name: str) -> ProcessInfo:
        return await self._run(self.sync.restart, name)

    async def reload(self) -> ReloadResult:
        return await self._run(self.sync.reload)

    async def add_group(self, name: str) -> None:
        await self._run(self.sync.add_group, name)

    async def remove_group(self, name: str) -> None:
        await self._run(self.sync.remove_group, name)

    async def update_groups(self, prefix: str = SLAVE_PREFIX) -> ReloadResult:
        return await self._run(self.sync.update_groups, prefix)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.sync.close()


# ------------------------------------------------------------------------------------- program files


def slave_program_name(slave_id: str) -> str:
    return f"{SLAVE_PREFIX}{slave_id}"


def slave_program_path(conf_dir: str | Path, slave_id: str) -> Path:
    return Path(conf_dir) / f"{slave_program_name(slave_id)}.conf"


def _ini_value(value: str) -> str:
    """supervisor expands %(name)s in values: a literal % is written %%. No newlines allowed."""
    if "\n" in value or "\r" in value:
        raise ValueError("supervisor config values cannot contain line breaks")
    return value.replace("%", "%%")


def render_program(
    name: str,
    command: list[str],
    *,
    log_dir: str | Path,
    directory: str | Path | None = None,
    autostart: bool = True,
    startsecs: int = 3,
    startretries: int = 5,
    stopwaitsecs: int = 15,
    log_maxbytes: str = "20MB",
    log_backups: int = 5,
    environment: dict[str, str] | None = None,
    priority: int | None = None,
) -> str:
    """Text of one `[program:<name>]` section (logs/<name>.log with rotation, stderr merged)."""
    env = {"PYTHONUNBUFFERED": "1", **(environment or {})}
    env_text = ",".join(f'{k}="{v}"' for k, v in env.items() if k.isidentifier() and '"' not in v)
    lines = [
        "; generated by the copytrader control actor: edits are overwritten",
        f"[program:{name}]",
        f"command={_ini_value(shlex.join(command))}",
    ]
    if directory is not None:
        lines.append(f"directory={_ini_value(str(directory))}")
    if priority is not None:
        lines.append(f"priority={int(priority)}")  # lower starts first, stops last
    lines += [
        f"autostart={'true' if autostart else 'false'}",
        "autorestart=true",
        f"startsecs={startsecs}",
        f"startretries={startretries}",
        "stopsignal=TERM",
        f"stopwaitsecs={stopwaitsecs}",
        "stopasgroup=true",
        "killasgroup=true",
        "redirect_stderr=true",
        f"stdout_logfile={_ini_value(str(Path(log_dir) / f'{name}.log'))}",
        f"stdout_logfile_maxbytes={log_maxbytes}",
        f"stdout_logfile_backups={log_backups}",
        f"environment={_ini_value(env_text)}",
        "",
    ]
    return "\n".join(lines)


def write_slave_program(
    conf_dir: str | Path,
    slave_id: str,
    config_path: str | Path,
    python: str | Path,
    log_dir: str | Path,
    *,
    directory: str | Path | None = None,
    autostart: bool = True,
    startsecs: int = 3,
) -> Path:
    """Write `<conf_dir>/slave-<id>.conf` atomically; returns its path. Nothing secret goes in it:
    the slave reads its passphrase from the keystore's passphrase file or inherits supervisord's
    environment."""
    name = slave_program_name(slave_id)
    Path(log_dir).mkdir(parents=True, exist_ok=True)  # supervisord refuses a missing log folder
    command = [str(python), "-m", "actors.slave", "--config", str(Path(config_path).resolve()), "--id", slave_id]
    text = render_program(name, command, log_dir=Path(log_dir).resolve(), directory=directory, autostart=autostart, startsecs=startsecs)
    path = slave_program_path(conf_dir, slave_id)
    _write_atomic(path, text)
    return path


def remove_slave_program(conf_dir: str | Path, slave_id: str) -> bool:
    """Delete the slave's program file; False if there was none."""
    path = slave_program_path(conf_dir, slave_id)
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    _fsync_dir(path.parent)
    return True


def _write_atomic(path: Path, text: str) -> None:
    write_atomic(path, text, mode=0o644)  # program files hold no secret; supervisord reads them


_fsync_dir = fsync_dir


def _sync_groups(sup: Supervisor, prefix: str) -> ReloadResult:
    """`supervisorctl update`, restricted to groups whose name starts with `prefix`: re-read the
    files, add new groups, replace changed ones, remove vanished ones. Others are not touched."""
    found = sup.reload()
    for name in found.removed:
        if name.startswith(prefix):
            sup.remove_group(name)
    for name in found.changed:
        if name.startswith(prefix):
            sup._call("supervisor.stopProcessGroup", name, True)
            sup._call("supervisor.removeProcessGroup", name)
            sup._call("supervisor.addProcessGroup", name)
    for name in found.added:
        if name.startswith(prefix):
            sup._call("supervisor.addProcessGroup", name)
    return ReloadResult(
        added=tuple(n for n in found.added if n.startswith(prefix)),
        changed=tuple(n for n in found.changed if n.startswith(prefix)),
        removed=tuple(n for n in found.removed if n.startswith(prefix)),
    )
