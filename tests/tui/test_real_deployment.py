"""The TUI against a REAL deployment: the simulator, a real supervisord running the control actor,
the USD-M master listener and the slaves (written and added by control). Driven with pilot keys:

- edit a slave's ratio in the form and see the next master fill sized by the new ratio;
- pause and resume a slave; restart a slave (new pid);
- add a slave through the wizard (its API secret handed to `copytrader keys add` on stdin);
- the journal view; control stopped and started: "control unreachable", then back by itself.

Set TUI_SCREENSHOT=docs/tui-dashboard.svg to save the dashboard as the README's screenshot.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input

from actors.control.supervision import SupervisionError, Supervisor
from protocol.messages import SlaveConfig
from tests.helpers.deploy import Deployment, positions, signed
from tests.helpers.sim import REPO, TEST_CONFIG, SimProcess
from tests.helpers.wait import aeventually, eventually
from tui.app import CopyTraderApp
from tui.screens.edit import EditSlaveScreen
from tui.screens.journal import JournalScreen
from tui.screens.wizard import AddSlaveWizard
from tui.settings import load_settings
from tui.widgets.slave_table import SlaveTable

VENV_BIN = Path(sys.executable).parent
SLAVES = [
    SlaveConfig(id="slave02", name="Desk two", sizing="fixed_ratio", ratio=Decimal("0.5")),
    SlaveConfig(id="slave03", name="Desk three", sizing="fixed_ratio", ratio=Decimal("1")),
]

SUPERVISORD = """
[unix_http_server]
file={root}/s.sock
chmod=0700

[supervisord]
logfile={root}/logs/supervisord.log
pidfile={root}/supervisord.pid
childlogdir={root}/logs
directory={repo}

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{root}/s.sock

[program:control]
command={python} -m actors.control --config {config} --supervisor-url unix://{root}/s.sock --programs-dir {root}/slaves --poll-interval 0.5
directory={repo}
environment=PYTHONPATH="{repo}",PYTHONUNBUFFERED="1"
startsecs=1
stopasgroup=true
killasgroup=true
redirect_stderr=true
stdout_logfile={root}/logs/control.log

[program:master-usdm]
command={python} -m actors.master --config {config} --market usdm
directory={repo}
environment=PYTHONPATH="{repo}",PYTHONUNBUFFERED="1"
startsecs=1
stopasgroup=true
killasgroup=true
redirect_stderr=true
stdout_logfile={root}/logs/master-usdm.log

[include]
files = {root}/slaves/*.conf
"""


class Stack:
    def __init__(self, sim: SimProcess, dep: Deployment, supervisor_url: str) -> None:
        self.sim = sim
        self.dep = dep
        self.supervisor = Supervisor(supervisor_url, timeout=30)


@pytest.fixture
def stack() -> Iterator[Stack]:
    root = Path(tempfile.mkdtemp(prefix="tuid-"))  # short: ipc paths stay < 108 bytes
    with SimProcess(TEST_CONFIG) as sim:
        sim.set_price("BTCUSDT", "50000", pause=True)
        for account in ("master", "slave01", "slave02", "slave03"):
            sim.admin("POST", "/_sim/balances", {"account": account, "market": "futures", "asset": "USDT", "free": "100000"})
        dep = Deployment(root, sim, SLAVES, with_control=True)
        (root / "slaves").mkdir()
        conf = root / "supervisord.conf"
        conf.write_text(SUPERVISORD.format(root=root, repo=REPO, python=sys.executable, config=dep.config_path))
        env = dict(os.environ, PYTHONPATH=str(REPO))
        env.pop("COPYTRADER_PASSPHRASE", None)
        proc = subprocess.Popen(
            [str(VENV_BIN / "supervisord"), "-n", "-c", str(conf)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            s = Stack(sim, dep, f"unix://{root}/s.sock")

            def up() -> bool:
                try:
                    return s.supervisor.state() == "RUNNING"
                except SupervisionError:
                    return False

            eventually(up, timeout=20, what="supervisord up")
            yield s
        finally:
            subprocess.run(
                [str(VENV_BIN / "supervisorctl"), "-c", str(conf), "shutdown"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=60,
            )
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            s.supervisor.close()
            shutil.rmtree(root, ignore_errors=True)


async def until(pilot: Pilot[Any], check: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    async def probe() -> Any:
        await pilot.pause(0.05)
        return check()

    return await aeventually(probe, timeout=timeout, interval=0.1, what=what)


def state(app: CopyTraderApp, slave_id: str) -> str:
    summary = app.store.slaves.get(slave_id)
    return summary.state if summary else "absent"


def k_of(app: CopyTraderApp, slave_id: str) -> Decimal | None:
    summary = app.store.slaves.get(slave_id)
    if summary is None or summary.status is None or not summary.status.markets:
        return None
    return summary.status.markets[0].k


def pid_of(app: CopyTraderApp, name: str) -> int | None:
    status = app.store.status
    return next((a.pid for a in status.actors if a.name == name), None) if status else None


def master_buy(stack: Stack, qty: str) -> None:
    signed(stack.sim, "master", "POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": qty})


def slave_btc(stack: Stack, account: str) -> Decimal:
    return positions(stack.sim, account).get(("BTCUSDT", "BOTH"), Decimal(0))


async def test_tui_drives_a_real_deployment(stack: Stack) -> None:
    settings = load_settings(stack.dep.config_path)
    app = CopyTraderApp(settings.control_endpoint, settings=settings, timeout=20, probe_interval=0.5)
    async with app.run_test(size=(120, 32)) as pilot:
        table = app.screen.query_one("#slaves", SlaveTable)
        await until(
            pilot, lambda: state(app, "slave02") == "running" and state(app, "slave03") == "running", "both slaves running", timeout=90
        )
        await until(pilot, lambda: app.store.status and app.store.status.masters[0].connected, "master connected")

        # -- edit slave02's ratio 0.5 -> 0.2 in the form; the next master fill is sized by it
        table.select("slave02")
        await pilot.press("e")
        assert isinstance(app.screen, EditSlaveScreen)
        app.screen.query_one("#f-ratio", Input).value = "0.2"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: k_of(app, "slave02") == Decimal("0.2"), "slave02 reports k = 0.2")
        await until(pilot, lambda: table.get_cell("slave02", "sizing").plain == "r 0.2", "new ratio shown")
        master_buy(stack, "0.1")
        await until(pilot, lambda: slave_btc(stack, "slave02") == Decimal("0.02"), "slave02 bought 0.2 x 0.1")
        await until(pilot, lambda: slave_btc(stack, "slave03") == Decimal("0.1"), "slave03 bought 1 x 0.1")

        # -- pause and resume slave03 (confirmed)
        table.select("slave03")
        await pilot.press("p", "y")
        await until(pilot, lambda: table.get_cell("slave03", "state").plain == "paused", "slave03 paused")
        await pilot.press("p", "y")
        await until(pilot, lambda: table.get_cell("slave03", "state").plain == "running", "slave03 resumed")

        # -- restart slave02 (confirmed): a new process, running again; slave03 untouched
        before, other = pid_of(app, "slave-slave02"), pid_of(app, "slave-slave03")
        assert before and other
        table.select("slave02")
        await pilot.press("r", "y")
        await until(pilot, lambda: pid_of(app, "slave-slave02") not in (None, before), "slave02 has a new pid", timeout=60)
        await until(pilot, lambda: state(app, "slave02") == "running", "slave02 running again", timeout=60)
        assert pid_of(app, "slave-slave03") == other

        # -- add slave01 through the wizard: the secret goes to `copytrader keys add` on stdin
        key = stack.sim.key("slave01", "HMAC")
        await pilot.press("n")
        wizard = app.screen
        assert isinstance(wizard, AddSlaveWizard)
        wizard.query_one("#w-id", Input).value = "slave01"
        await pilot.pause()
        await pilot.click("#next")
        await until(pilot, lambda: wizard.step == 1, "wizard step 2")
        wizard.query_one("#f-ratio", Input).value = "0.5"
        await pilot.pause()
        await pilot.click("#next")
        await until(pilot, lambda: wizard.step == 2, "wizard step 3")
        wizard.query_one("#w-api-key", Input).value = key.api_key
        wizard.query_one("#w-secret", Input).value = key.secret or ""
        await pilot.pause()
        await pilot.click("#add")
        await until(pilot, lambda: not isinstance(app.screen, AddSlaveWizard), "wizard done", timeout=60)
        await until(pilot, lambda: state(app, "slave01") == "running", "slave01 added and running", timeout=90)
        await until(pilot, lambda: table.get_cell("slave01", "sizing").plain == "r 0.5", "slave01 row shown")
        await until(pilot, lambda: slave_btc(stack, "slave01") == Decimal("0.05"), "slave01 synced to 0.5 x master")

        if os.environ.get("TUI_SCREENSHOT"):  # a few more fills, for the sparklines
            for qty in ("0.01", "0.02", "0.01", "0.03", "0.01"):
                master_buy(stack, qty)
            await until(
                pilot, lambda: all(len(app.store.latencies.get(s, ())) >= 5 for s in ("slave01", "slave02")), "latencies of the extra fills"
            )
            await pilot.pause(1.5)
            path = Path(os.environ["TUI_SCREENSHOT"])
            app.save_screenshot(filename=path.name, path=str((REPO / path).parent))

        # -- the journal shows the decisions
        await pilot.press("j")
        assert isinstance(app.screen, JournalScreen)
        journal = app.screen.query_one("#journal", DataTable)
        await until(pilot, lambda: journal.row_count > 0, "journal rows")
        await pilot.press("escape")

        # -- control goes away and comes back: the TUI says so, then reconnects by itself
        stack.supervisor.stop("control")
        await until(pilot, lambda: app.link_state == "unreachable", "control unreachable shown")
        stack.supervisor.start("control")
        await until(pilot, lambda: app.link_state == "connected", "reconnected", timeout=60)
        await until(pilot, lambda: state(app, "slave01") == "running" and table.row_count == 3, "reloaded")
