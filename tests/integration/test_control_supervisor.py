"""The control actor driving a REAL supervisord: slave programs written from the config, added,
restarted and removed live (the slaves are dummy long-running processes)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from actors.control import ControlActor
from actors.control.supervision import AsyncSupervisor, SupervisionError, Supervisor
from protocol import control_api as api, messages as m
from protocol.client import AsyncControlClient
from tests.helpers.wait import aeventually, eventually
from tests.unit.test_notify import Receiver, receiver  # noqa: F401 (fixture)

VENV_BIN = Path(sys.executable).parent
WAITER = f'{sys.executable} -c "import signal; signal.pause()"'

SUPERVISORD = """
[unix_http_server]
file=%(here)s/s.sock
chmod=0700

[supervisord]
logfile=%(here)s/supervisord.log
pidfile=%(here)s/supervisord.pid
childlogdir=%(here)s

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://%(here)s/s.sock

[program:master-usdm]
command={waiter}
startsecs=0

[include]
files = slaves/*.conf
"""

CONFIG = """
[exchange]
network = "simulator"
url = "http://127.0.0.1:1"

[paths]
runtime_dir = "run"

[masters.usdm]
account = "master"

[[slaves]]
id = "s1"
"""


class Deployment:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.url = f"unix://{root / 's.sock'}"
        self.config = root / "copytrader.toml"
        self.programs = root / "slaves"
        self.python = root / "fake-python"


@pytest.fixture
def dep() -> Iterator[Deployment]:
    root = Path(tempfile.mkdtemp(prefix="cs-"))
    d = Deployment(root)
    d.programs.mkdir()
    d.config.write_text(CONFIG)
    d.python.write_text(f"#!/bin/sh\nexec {WAITER}\n")  # stands in for `python -m actors.slave ...`
    d.python.chmod(0o755)
    (root / "supervisord.conf").write_text(SUPERVISORD.format(waiter=WAITER))
    proc = subprocess.Popen(
        [str(VENV_BIN / "supervisord"), "-n", "-c", str(root / "supervisord.conf")], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        sup = Supervisor(d.url, timeout=10)

        def up() -> bool:
            try:
                return sup.state() == "RUNNING"
            except SupervisionError:
                return False

        eventually(up, timeout=15, what="supervisord up")
        sup.close()
        yield d
    finally:
        subprocess.run(
            [str(VENV_BIN / "supervisorctl"), "-c", str(root / "supervisord.conf"), "shutdown"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=30,
        )
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
async def client(dep: Deployment) -> AsyncIterator[AsyncControlClient]:
    actor = ControlActor(
        dep.config,
        supervisor=AsyncSupervisor(Supervisor(dep.url, timeout=20)),
        programs_dir=dep.programs,
        python=str(dep.python),
        require_key=False,
        poll_interval_s=0.2,
        startsecs=0,
    )
    await actor.start()
    try:
        async with AsyncControlClient(actor.endpoints.control, timeout=20) as c:
            yield c
    finally:
        await actor.stop()


async def process_states(client: AsyncControlClient) -> dict[str, tuple[str, int | None]]:
    status = await client.request(api.GetStatus(id=0))
    assert isinstance(status, api.StatusResult)
    return {a.name: (a.state, a.pid) for a in status.actors}


async def test_control_adds_restarts_and_removes_slaves_under_supervisord(dep: Deployment, client: AsyncControlClient) -> None:
    async def running(*names: str) -> dict[str, tuple[str, int | None]]:
        states = await process_states(client)
        return states if all(states.get(n, ("",))[0] == "RUNNING" for n in names) else {}

    # at start the control actor wrote slave-s1.conf and added it to supervisord
    before = await aeventually(lambda: running("slave-s1", "master-usdm"), timeout=15, what="s1 running")

    done = await client.request(api.AddSlave(id=0, config=m.SlaveConfig(id="s2")))
    assert isinstance(done, api.Done) and "started as slave-s2" in done.detail
    after_add = await aeventually(lambda: running("slave-s2"), timeout=15, what="s2 running")
    assert after_add["slave-s1"] == before["slave-s1"] and after_add["master-usdm"] == before["master-usdm"]

    await client.request(api.RestartActor(id=0, name="slave-s2"))
    after_restart = await process_states(client)
    assert after_restart["slave-s2"][1] != after_add["slave-s2"][1]
    assert after_restart["slave-s1"] == before["slave-s1"]

    await client.request(api.RemoveSlave(id=0, slave_id="s2"))
    after_remove = await process_states(client)
    assert "slave-s2" not in after_remove and not (dep.programs / "slave-s2.conf").exists()
    assert after_remove["slave-s1"] == before["slave-s1"]
    assert (dep.root / "logs" / "slave-s1.log").exists()

    listing = await client.request(api.ListSlaves(id=0))
    assert [(s.config.id, s.process_state) for s in listing.slaves] == [("s1", "RUNNING")]


async def test_a_killed_slave_sends_one_notification_and_a_restart_by_us_none(dep: Deployment, receiver) -> None:  # noqa: F811
    """Through apprise to a local HTTP receiver: SIGKILL of a running slave (supervisor restarts it)
    gives exactly one notification; the same slave restarted through the control socket gives none."""
    import os
    import signal

    dep.config.write_text(CONFIG + f'\n[notifications]\nurls = ["{receiver.url}"]\ngroup_window_s = 0.3\n')
    actor = ControlActor(
        dep.config,
        supervisor=AsyncSupervisor(Supervisor(dep.url, timeout=20)),
        programs_dir=dep.programs,
        python=str(dep.python),
        require_key=False,
        poll_interval_s=0.2,
        startsecs=0,
    )
    await actor.start()
    try:
        async with AsyncControlClient(actor.endpoints.control, timeout=20) as c:
            await aeventually(lambda: _running(c, "slave-s1"), timeout=20, what="slave-s1 running")
            await c.request(api.RestartActor(id=0, name="slave-s1"))
            first = (await process_states(c))["slave-s1"][1]
            assert first
            os.kill(first, signal.SIGKILL)

            async def replaced() -> bool:
                state, pid = (await process_states(c))["slave-s1"]
                return state == "RUNNING" and pid not in (None, first)

            await aeventually(replaced, timeout=20, what="supervisor restarted slave-s1")
            await aeventually(lambda: _true(len(receiver.posts) >= 1), timeout=10, what="a notification")
            polls = actor.polls  # no second message while control looks five more times (and sends)
            await aeventually(lambda: _true(actor.polls >= polls + 5), timeout=10, what="five more polls")
            await actor.notifier.drain()
            assert len(receiver.posts) == 1, receiver.posts
            assert "slave-s1 died and was restarted" in str(receiver.posts[0])
    finally:
        await actor.stop()


async def _true(value: bool) -> bool:
    return value


async def _running(c: AsyncControlClient, name: str) -> bool:
    return (await process_states(c)).get(name, ("", None))[0] == "RUNNING"
