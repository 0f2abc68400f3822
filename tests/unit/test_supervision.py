"""actors/control/supervision.py against a real supervisord started in a temporary directory."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from actors.control.supervision import (
    AsyncSupervisor,
    SupervisionError,
    Supervisor,
    remove_slave_program,
    render_program,
    slave_program_path,
    write_slave_program,
)
from protocol.errors import ErrorCode
from tests.helpers.wait import aeventually, eventually

VENV_BIN = Path(sys.executable).parent
WAITER = f'{sys.executable} -c "import signal; signal.pause()"'

CONF = """
[unix_http_server]
file=%(here)s/s.sock
chmod=0700

[supervisord]
logfile=%(here)s/supervisord.log
pidfile=%(here)s/supervisord.pid
childlogdir=%(here)s
loglevel=info

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://%(here)s/s.sock

[program:dummy-a]
command={waiter}
startsecs=0
stopwaitsecs=5

[program:dummy-b]
command={waiter}
startsecs=0
stopwaitsecs=5

[include]
files = slaves/*.conf
"""


class Supervisord:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.conf = directory / "supervisord.conf"
        self.url = f"unix://{directory / 's.sock'}"
        self.slaves = directory / "slaves"
        self.logs = directory / "logs"


@pytest.fixture(scope="module")
def supervisord() -> Iterator[Supervisord]:
    directory = Path(tempfile.mkdtemp(prefix="sv-"))  # short: unix socket paths are < 108 bytes
    sd = Supervisord(directory)
    sd.slaves.mkdir()
    sd.logs.mkdir()
    sd.conf.write_text(CONF.format(waiter=WAITER))
    proc = subprocess.Popen([str(VENV_BIN / "supervisord"), "-n", "-c", str(sd.conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        sup = Supervisor(sd.url, timeout=10)

        def both_running() -> bool:
            try:
                return all(p.state == "RUNNING" for p in sup.processes()) and len(sup.processes()) == 2
            except SupervisionError:
                return False

        eventually(both_running, timeout=15, what="supervisord up with two dummies")
        sup.close()
        yield sd
    finally:
        subprocess.run(
            [str(VENV_BIN / "supervisorctl"), "-c", str(sd.conf), "shutdown"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=30,
        )
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def sup(supervisord: Supervisord) -> Iterator[Supervisor]:
    # control's own timeout (30 s): a stop waits for the program's stopwaitsecs (15 s for a slave),
    # which a loaded machine can near (the full suite once saw stopProcessGroup pass 10 s)
    client = Supervisor(supervisord.url, timeout=30)
    yield client
    client.close()


def test_status_lists_every_program_with_state_and_pid(sup: Supervisor) -> None:
    procs = {p.name: p for p in sup.processes()}

    assert set(procs) >= {"dummy-a", "dummy-b"}
    assert procs["dummy-a"].state == "RUNNING"
    assert procs["dummy-a"].pid and procs["dummy-a"].pid > 0
    assert procs["dummy-a"].namespec == "dummy-a"
    assert sup.state() == "RUNNING"


def test_restart_one_program_changes_only_its_pid(sup: Supervisor) -> None:
    before_a = sup.process("dummy-a").pid
    before_b = sup.process("dummy-b").pid

    info = sup.restart("dummy-a")

    assert info.state == "RUNNING"
    assert info.pid != before_a
    assert sup.process("dummy-b").pid == before_b


def test_stop_and_start_are_idempotent(sup: Supervisor) -> None:
    sup.stop("dummy-b")
    sup.stop("dummy-b")  # already stopped: no error
    assert sup.process("dummy-b").state == "STOPPED"

    sup.start("dummy-b")
    sup.start("dummy-b")  # already started: no error
    assert sup.process("dummy-b").state == "RUNNING"


def test_unknown_program_is_not_found(sup: Supervisor) -> None:
    with pytest.raises(SupervisionError) as info:
        sup.restart("no-such-program")

    assert info.value.code == ErrorCode.NOT_FOUND
    assert info.value.fault == 10  # supervisor's BAD_NAME


def test_dead_socket_is_unavailable(tmp_path: Path) -> None:
    client = Supervisor(f"unix://{tmp_path / 'none.sock'}", timeout=2)

    with pytest.raises(SupervisionError) as info:
        client.processes()

    assert info.value.code == ErrorCode.UNAVAILABLE


def _fake_python(directory: Path) -> Path:
    """Stands in for the interpreter: ignores `-m actors.slave ...` and just waits."""
    script = directory / "fake-python"
    script.write_text(f"#!/bin/sh\nexec {WAITER}\n")
    script.chmod(0o755)
    return script


def test_add_and_remove_a_slave_program_live(supervisord: Supervisord, sup: Supervisor) -> None:
    others = {p.name: p.pid for p in sup.processes()}
    path = write_slave_program(
        supervisord.slaves, "t1", supervisord.dir / "copytrader.toml", _fake_python(supervisord.dir), supervisord.logs, startsecs=0
    )
    assert path == slave_program_path(supervisord.slaves, "t1")

    sup.add_group("slave-t1")

    eventually(lambda: sup.process("slave-t1").state == "RUNNING", timeout=10, what="slave-t1 running")
    assert {p.name: p.pid for p in sup.processes() if p.name != "slave-t1"} == others
    assert (supervisord.logs / "slave-t1.log").exists()

    assert remove_slave_program(supervisord.slaves, "t1")
    sup.remove_group("slave-t1")

    assert "slave-t1" not in {p.name for p in sup.processes()}
    assert {p.name: p.pid for p in sup.processes()} == others
    assert not remove_slave_program(supervisord.slaves, "t1")
    sup.remove_group("slave-t1")  # already gone: fine


def test_rewritten_program_file_is_applied_on_add(supervisord: Supervisord, sup: Supervisor) -> None:
    fake = _fake_python(supervisord.dir)
    write_slave_program(supervisord.slaves, "t2", "a.toml", fake, supervisord.logs, startsecs=0)
    sup.add_group("slave-t2")

    def running_pid() -> int | None:  # under load the program may not have spawned yet
        info = sup.process("slave-t2")
        return info.pid if info.state == "RUNNING" and info.pid else None

    first = eventually(running_pid, timeout=15, what="slave-t2 running")

    write_slave_program(supervisord.slaves, "t2", "b.toml", fake, supervisord.logs, startsecs=0)
    sup.add_group("slave-t2")

    # changed file: group replaced, process restarted
    eventually(lambda: running_pid() not in (None, first), timeout=15, what="slave-t2 restarted")
    remove_slave_program(supervisord.slaves, "t2")
    sup.remove_group("slave-t2")


async def test_async_adapter_runs_off_the_loop(supervisord: Supervisord) -> None:
    asup = AsyncSupervisor(Supervisor(supervisord.url, timeout=10))
    try:
        before = (await asup.process("dummy-b")).pid
        info = await asup.restart("dummy-b")
        assert info.pid != before
        procs = await aeventually(asup.processes, what="process list")
        assert {"dummy-a", "dummy-b"} <= {p.name for p in procs}
    finally:
        asup.close()


def test_program_file_has_rotation_no_secret_and_escapes_percent(tmp_path: Path) -> None:
    path = write_slave_program(tmp_path / "slaves", "s01", tmp_path / "c%fg.toml", "/usr/bin/python3", tmp_path / "logs")
    text = path.read_text()

    assert "[program:slave-s01]" in text
    assert "-m actors.slave --config" in text and "--id s01" in text
    assert "c%%fg.toml" in text
    for line in (
        "autorestart=true",
        "stopasgroup=true",
        "killasgroup=true",
        "redirect_stderr=true",
        "stdout_logfile_maxbytes=20MB",
        "stdout_logfile_backups=5",
    ):
        assert line in text
    assert f"stdout_logfile={tmp_path / 'logs' / 'slave-s01.log'}" in text
    assert "PASSPHRASE" not in text.upper()


def test_program_values_refuse_line_breaks() -> None:
    with pytest.raises(ValueError):
        render_program("x", ["/bin/echo", "a\nb"], log_dir="/tmp")


def test_actor_log_rotates_at_the_configured_size(supervisord: Supervisord, sup: Supervisor) -> None:
    """A program rendered like every actor's (render_program) with a 2 KB limit: supervisord
    rotates its log into .1, .2 ... and keeps no more than the configured backups."""
    chatty = supervisord.dir / "chatty"
    # Lines paced by the child (supervisord rotates once per write: one 20 KB burst read at once
    # would rotate once), so the log crosses 2 KB several times.
    chatty.write_text(
        f'#!/bin/sh\nexec {sys.executable} -c "import time,signal\n'
        f"[(print('x' * 99, flush=True), time.sleep(0.005)) for _ in range(200)]\nsignal.pause()\"\n"
    )
    chatty.chmod(0o755)
    text = render_program("chatty", [str(chatty)], log_dir=supervisord.logs, startsecs=0, log_maxbytes="2KB", log_backups=2)
    (supervisord.slaves / "chatty.conf").write_text(text)
    sup.add_group("chatty")
    try:
        log = supervisord.logs / "chatty.log"
        eventually(lambda: (supervisord.logs / "chatty.log.2").exists(), timeout=15, what="rotated twice")
        assert log.stat().st_size <= 2048 + 100
        assert not (supervisord.logs / "chatty.log.3").exists()  # only `log_backups` kept
    finally:
        sup.stop("chatty")
        sup.remove_group("chatty")
        (supervisord.slaves / "chatty.conf").unlink()
