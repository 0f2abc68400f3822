"""The demo deployment under a real supervisord in a temporary directory, for the chaos run:
the simulator (hedge mode for every account), the master listeners, control and N slaves."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
from typing import Any

import msgspec
import tomli_w

from actors.base import Endpoints
from actors.config import AppConfig, load_config, write_config_atomic
from actors.control.supervision import Supervisor
from actors.deployment import DEMO_MARKER, demo_setup, write_programs
from protocol.client import ControlClient
from protocol.control_api import ListSlaves
from tests.helpers.service import alive, answers, supervisor_conf
from tests.helpers.sim import REPO, read_keys
from tests.helpers.wait import eventually


def pick_slaves(n: int, total: int = 20) -> list[int]:
    """Indices of the demo's slaves to keep: every mix (futures only, +spot, +margin, the
    special settings) is represented when n < 20."""
    if n >= total:
        return list(range(total))
    order = [0, 10, 15, 7, 18, 1, 11, 16, 8, 14, 2, 12, 17, 9, 19, 3, 13, 4, 5, 6]
    return sorted(order[:n])


def sim_config(root: pathlib.Path, *, hedge: bool = True) -> pathlib.Path:
    """The example simulator config with every account in hedge mode, keeping all its history."""
    with open(REPO / "simulator" / "example.toml", "rb") as fh:
        doc = tomllib.load(fh)
    for acc in doc["accounts"]:
        acc.setdefault("futures_settings", {})["dual_side_position"] = hedge
    doc["history"] = {"requests": 0, "trades": 0, "orders": 0}  # the checks read the whole run's history
    path = root / "sim.toml"
    path.write_bytes(tomli_w.dumps(doc).encode())
    return path


class Service:
    """Set up, start, observe and stop the deployment."""

    def __init__(self, n_slaves: int, root: pathlib.Path | None = None) -> None:
        self.root = root or pathlib.Path(tempfile.mkdtemp(prefix="chaos-", dir="/tmp"))  # ipc paths < 108 bytes
        self.root.mkdir(parents=True, exist_ok=True)  # --root may name a directory not made yet
        self.sim_config = sim_config(self.root)
        self.config_path = demo_setup(self.root, sim_config=self.sim_config)
        (self.root / "run" / "programs" / "demo-trader.conf").unlink()  # the run trades itself
        self._keep_slaves(n_slaves)
        self.app: AppConfig = load_config(self.config_path)
        self.url = self.app.exchange.url
        self.keys = read_keys(self.sim_config)
        self.http_url = self.url  # for tests.helpers.deploy.signed
        self.conf = supervisor_conf(self.root)
        self.sup: Supervisor | None = None

    def _keep_slaves(self, n: int) -> None:
        app = load_config(self.config_path)
        keep = pick_slaves(n, len(app.slaves))
        app = msgspec.structs.replace(app, slaves=tuple(app.slaves[i] for i in keep))
        write_config_atomic(self.config_path, app, backup=False)
        self.config_path.write_text(DEMO_MARKER + "\n" + self.config_path.read_text())
        write_programs(self.root, self.config_path)

    @property
    def slaves(self) -> list[Any]:
        return list(self.app.slaves)

    # -- processes -----------------------------------------------------------------------------------
    def start(self, timeout: float = 180.0) -> None:
        env = dict(os.environ, PYTHONPATH=str(REPO))
        subprocess.run([sys.executable, "-m", "supervisor.supervisord", "-c", str(self.conf)], check=True, env=env, cwd=self.root)
        self.sup = Supervisor(f"unix://{self.root / 'run' / 'supervisor.sock'}", timeout=10)

        def all_running() -> bool:
            procs = self.sup.processes()  # type: ignore[union-attr]
            bad = [p.name for p in procs if p.state != "RUNNING"]
            assert procs and not bad, bad
            return True

        eventually(all_running, timeout=timeout, interval=0.5, what="every program RUNNING")
        eventually(lambda: answers(f"{self.url}/fapi/v1/ping"), timeout=60, interval=0.2, what="simulator up")
        eventually(
            lambda: all(s == "running" for s in self.slave_states().values()), timeout=timeout, interval=0.5, what="every slave running"
        )

    def pids(self) -> dict[str, int]:
        assert self.sup is not None
        return {p.name: p.pid for p in self.sup.processes() if p.pid}

    def control(self, timeout: float = 10) -> ControlClient:
        return ControlClient(Endpoints(self.app.runtime_dir).control, timeout=timeout)

    def list_slaves(self) -> Any:
        with self.control() as c:
            return c.request(ListSlaves(id=0)).slaves

    def slave_states(self) -> dict[str, str]:
        try:
            return {s.config.id: (s.status.state if s.status else "none") for s in self.list_slaves()}
        except Exception:  # noqa: BLE001 - control restarting
            return {}

    def stop(self) -> None:
        pid_file = self.root / "run" / "supervisord.pid"
        try:
            pid = int(pid_file.read_text())
        except (OSError, ValueError):
            return
        subprocess.run(
            [sys.executable, "-m", "supervisor.supervisorctl", "-c", str(self.conf), "shutdown"],
            check=False,
            capture_output=True,
            timeout=120,
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and alive(pid):
            time.sleep(0.2)  # poll interval of the deadline loop above
        if self.sup is not None:
            self.sup.close()

    def journal_path(self) -> pathlib.Path:
        return self.app.state_dir / "journal.db"

    # -- simulator admin -----------------------------------------------------------------------------
    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        import orjson

        req = urllib.request.Request(
            self.url + path,
            method=method,
            data=orjson.dumps(body) if body is not None else None,
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as resp:
            return orjson.loads(resp.read())
