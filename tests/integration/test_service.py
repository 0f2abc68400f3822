"""The demo deployment under a real supervisord (in a temporary directory): every program runs,
one slave restarts through the control socket without touching any other program, a 21st slave is
added and removed live, a SIGKILLed slave is restarted by supervisor and reconciles, and each actor
has its own log file."""

from __future__ import annotations

import os
import pathlib
import re
import signal
import subprocess
import sys
from decimal import Decimal

import pytest

from actors.base import Endpoints
from actors.config import load_config
from actors.control.supervision import Supervisor
from actors.deployment import demo_setup
from protocol.client import ControlClient
from protocol.control_api import AddSlave, ListSlaves, RemoveSlave, RestartActor
from protocol.messages import SlaveConfig
from tests.helpers.deploy import positions, signed
from tests.helpers.service import alive, answers, supervisor_conf
from tests.helpers.sim import REPO, read_keys
from tests.helpers.wait import eventually

pytestmark = pytest.mark.slow


@pytest.fixture
def service(tmp_path):
    root = tmp_path / "deploy"
    root.mkdir()
    demo_setup(root)
    # no random trading in this test: the test places the master's orders itself
    (root / "run" / "programs" / "demo-trader.conf").unlink()
    conf = supervisor_conf(root)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    subprocess.run([sys.executable, "-m", "supervisor.supervisord", "-c", str(conf)], check=True, env=env, cwd=root)
    sup = Supervisor(f"unix://{root / 'run' / 'supervisor.sock'}", timeout=10)
    try:

        def all_running():
            procs = sup.processes()
            bad = [p for p in procs if p.state != "RUNNING"]
            assert procs and not bad, [(p.name, p.state) for p in bad]
            return procs

        eventually(all_running, timeout=120, interval=0.5, what="every program RUNNING")
        # RUNNING only means "alive for startsecs": wait for the exchange to answer and every
        # slave to report that it runs (synced with the master).
        url = load_config(root / "copytrader.toml").exchange.url
        eventually(lambda: answers(f"{url}/fapi/v1/ping"), timeout=60, interval=0.2, what="simulator up")
        eventually(
            lambda: all(slave_state(root, f"slave{i:02d}") == "running" for i in range(1, 21)),
            timeout=120,
            interval=0.5,
            what="every slave running",
        )
        yield root, sup
    finally:
        try:
            pid = int((root / "run" / "supervisord.pid").read_text())
            subprocess.run(
                [sys.executable, "-m", "supervisor.supervisorctl", "-c", str(conf), "shutdown"],
                check=False,
                capture_output=True,
                timeout=60,
            )
            eventually(lambda: not alive(pid), timeout=60, interval=0.2, what="supervisord gone")
        finally:
            sup.close()


def pids(sup: Supervisor) -> dict[str, int]:
    return {p.name: p.pid for p in sup.processes()}


def control(root: pathlib.Path) -> ControlClient:
    app = load_config(root / "copytrader.toml")
    return ControlClient(Endpoints(app.runtime_dir).control, timeout=30)


def slave_state(root: pathlib.Path, slave_id: str) -> str:
    with control(root) as c:
        result = c.request(ListSlaves(id=0))
    s = next(s for s in result.slaves if s.config.id == slave_id)
    return s.status.state if s.status else "none"


class Exchange:
    """What tests.helpers.deploy.signed needs: the demo simulator's URL and keys."""

    def __init__(self, root: pathlib.Path) -> None:
        self.http_url = load_config(root / "copytrader.toml").exchange.url
        self.keys = read_keys(REPO / "simulator" / "example.toml")


def expect_copied(ex: Exchange, slave_id: str, ratio: Decimal) -> None:
    def check():
        master = positions(ex, "master")
        got = positions(ex, slave_id)
        assert master and {k: v * ratio for k, v in master.items()} == got, (master, got)
        return True

    eventually(check, timeout=30, interval=0.2, what=f"{slave_id} at {ratio} x master")


def test_restart_add_remove_and_sigkill(service):
    root, sup = service
    before = pids(sup)
    assert len(before) == 25  # simulator, control, master-usdm|spot|margin, 20 slaves
    for name in before:
        assert (root / "logs" / f"{name}.log").exists(), f"no log file for {name}"

    # restart one slave through the control socket: only its pid changes
    with control(root) as c:
        c.request(RestartActor(id=0, name="slave-slave07"))
    after = pids(sup)
    assert after["slave-slave07"] != before["slave-slave07"]
    assert {k: v for k, v in after.items() if k != "slave-slave07"} == {k: v for k, v in before.items() if k != "slave-slave07"}
    eventually(lambda: slave_state(root, "slave07") == "running", timeout=60, interval=0.3)
    ex = Exchange(root)
    signed(ex, "master", "POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.02"})
    expect_copied(ex, "slave07", Decimal("0.5"))  # the restarted slave copies the next fill

    # add a 21st slave live (its key must be in the keystore first), then remove it
    from keystore import Keystore

    app = load_config(root / "copytrader.toml")
    passphrase = (root / "var" / "passphrase").read_text().strip()
    with Keystore.open(app.keystore_dir, passphrase) as ks:
        src = ks.get("slave01")
        ks.put("slave21", src.key_type, src.api_key, src.secret.reveal_str(), replace=True)
    with control(root) as c:
        c.request(AddSlave(id=0, config=SlaveConfig(id="slave21", sizing="fixed_ratio", ratio=Decimal("1"))))
    eventually(lambda: pids(sup).get("slave-slave21"), timeout=30, interval=0.3, what="slave21 running")
    eventually(lambda: slave_state(root, "slave21") == "running", timeout=60, interval=0.3)
    untouched = pids(sup)
    with control(root) as c:
        c.request(RemoveSlave(id=0, slave_id="slave21"))
    eventually(lambda: "slave-slave21" not in pids(sup), timeout=30, interval=0.3, what="slave21 removed")
    assert {k: v for k, v in pids(sup).items()} == {k: v for k, v in untouched.items() if k != "slave-slave21"}

    # SIGKILL a slave: supervisor restarts it, and it reconciles before trading
    victim = pids(sup)["slave-slave03"]
    os.kill(victim, signal.SIGKILL)
    eventually(
        lambda: pids(sup)["slave-slave03"] not in (victim, 0, None), timeout=30, interval=0.3, what="slave03 restarted by supervisor"
    )
    log = root / "logs" / "slave-slave03.log"
    eventually(
        lambda: len(re.findall(r"synced \(start\)", log.read_text())) >= 2,
        timeout=60,
        interval=0.3,
        what="the restarted slave synced from a master snapshot before trading",
    )
    signed(ex, "master", "POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.02"})
    expect_copied(ex, "slave03", Decimal("2"))


def test_no_secret_reaches_logs_journal_or_control_replies(service):
    """Every slave runs with a known secret (HMAC secret or Ed25519/RSA private key). After
    trading, and after one slave's key is revoked (so error paths run too), no form of any secret
    or of the keystore passphrase is in any log file, the journal, the config, or anything the
    control socket returns."""
    import tomllib

    import msgspec

    from protocol.control_api import GetSlave, GetStatus, QueryJournal
    from tests.helpers.secrets import scan_blobs, scan_for_secrets, secret_needles

    root, sup = service
    ex = Exchange(root)
    for qty in ("0.02", "0.01"):
        signed(ex, "master", "POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": qty})
    expect_copied(ex, "slave06", Decimal("2"))
    revoked = next(k for k in ex.keys["slave05"])
    import urllib.request

    req = urllib.request.Request(f"{ex.http_url}/_sim/keys/revoke", method="POST", data=b'{"api_key": "%s"}' % revoked.api_key.encode())
    urllib.request.urlopen(req, timeout=10).read()
    signed(ex, "master", "POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "SELL", "type": "MARKET", "quantity": "0.01"})
    eventually(
        lambda: (
            "key_invalid" in (root / "logs" / "slave-slave05.log").read_text()
            or any("refused" in line for line in (root / "logs" / "slave-slave05.log").read_text().splitlines())
        ),
        timeout=30,
        interval=0.3,
        what="slave05 saw its key refused",
    )

    needles = secret_needles((root / "var" / "passphrase").read_text().strip(), "passphrase")
    with open(REPO / "simulator" / "example.toml", "rb") as fh:
        for account in tomllib.load(fh)["accounts"]:
            for key in account.get("keys", []):
                material = key.get("secret") or key.get("private_key")
                if material:
                    needles += secret_needles(material, f"{account['id']} {key.get('type', 'HMAC')}")
    replies = {}
    with control(root) as c:
        replies["GetStatus"] = c.request(GetStatus(id=0))
        replies["ListSlaves"] = c.request(ListSlaves(id=0))
        replies["QueryJournal"] = c.request(QueryJournal(id=0, limit=10_000))
        for sid in ("slave01", "slave05", "slave07"):
            replies[f"GetSlave {sid}"] = c.request(GetSlave(id=0, slave_id=sid))
    blobs = {name: msgspec.msgpack.encode(r) + msgspec.json.encode(r) for name, r in replies.items()}
    hits = scan_for_secrets([root / "logs", *root.glob("var/journal*"), root / "copytrader.toml", root / "run" / "programs"], needles)
    hits += scan_blobs(blobs, needles)
    assert not hits, hits
    assert len(replies["QueryJournal"].entries) > 20  # the scan did see real traffic
