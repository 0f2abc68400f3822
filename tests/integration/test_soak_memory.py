"""Soak: the demo's trader at a high rate against the simulator, a USD-M master listener, control
and three slaves (real processes); no process's written memory (Private_Dirty from
/proc/PID/smaps_rollup) may keep growing once warmed up.

Private_Dirty, not USS (Private_Clean + Private_Dirty): a clean page of a shared library (libsqlite's
in control) counts as private while this process alone maps it and as shared once another does, so
USS stepped by 1.4 MB in one run with nothing allocated; a leak writes what it keeps.

Each process is sampled every second; after the warm-up, the slope of its Private_Dirty is fitted with
Theil-Sen (the median of the pairwise slopes, which a garbage collection or one late sample cannot
move) and must stay under MAX_SLOPE_KIB_PER_MIN. The simulator's and control's bounded histories are
set small ([history] below), and so are the actors' (COPYTRADER_MEMORY_LIMITS, actors/limits.py), so
that they are full before the measurement starts: what is measured is whether anything grows beyond
its bound.

What the tolerance catches, measured on this test's traffic here (about 200 order requests a
second, a quarter of them the master's; 2 shared cores): with the old unbounded histories
([history] sizes 0) the simulator grew 33.6 MB/min, and with control's old coverage index (a tuple
per slave and master fill, never forgotten) control grew 3.2 MB/min; with the bounds every process
stayed within 0 to 16 KiB/min. SOAK_WARMUP_S / SOAK_MEASURE_S change the durations; SOAK_OUT=FILE
writes the figures (Private_Dirty per process at start, after warm-up and at the end, slopes) as JSON.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import orjson
import pytest
import tomli_w

from actors.base import Endpoints
from bench.memory import Growth, growth, read_memory
from protocol.client import ControlClient
from protocol.control_api import ListSlaves
from protocol.messages import SlaveConfig
from tests.helpers.deploy import Deployment
from tests.helpers.sim import REPO, TEST_CONFIG, SimProcess
from tests.helpers.wait import eventually

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

WARMUP_S = float(os.environ.get("SOAK_WARMUP_S", "45"))
MEASURE_S = float(os.environ.get("SOAK_MEASURE_S", "100"))
MAX_SLOPE_KIB_PER_MIN = 300.0  # steady processes here: within +-20; the leaks this catches: 3 to 34 MB/min
SLAVES = [
    SlaveConfig(id="slave01", sizing="fixed_ratio", ratio=Decimal("0.5")),
    SlaveConfig(id="slave02", sizing="balance_multiplier", multiplier=Decimal("1")),
    SlaveConfig(id="slave03", sizing="fixed_ratio", ratio=Decimal("1")),
]
# Every bounded memory small: the simulator's [history] and the actors' limits (actors/limits.py).
# The warm-up lasts until WARM_ORDERS order requests (a quarter from the master) have filled each
# of them twice over, and at least WARMUP_S (caches, SQLite's page cache, allocator pools settle).
HISTORY = {"requests": 500, "trades": 300, "orders": 50}
ACTOR_LIMITS = "coverage_fills=200,master_dedupe=400,slave_orders=200,slave_trades=200"
WARM_ORDERS = 4000
WARMUP_DEADLINE_S = WARMUP_S + 120


def soak_sim_config(root: pathlib.Path) -> pathlib.Path:
    with open(TEST_CONFIG, "rb") as fh:
        doc = tomllib.load(fh)
    doc["history"] = HISTORY
    for acc in doc["accounts"]:
        acc["futures"] = {"USDT": "10000000"}  # the random walk of positions never runs out of margin
    path = root / "soak-sim.toml"
    path.write_bytes(tomli_w.dumps(doc).encode())
    return path


class Soak:
    def __init__(self, root: pathlib.Path, sim: SimProcess, dep: Deployment) -> None:
        self.root, self.sim, self.dep = root, sim, dep
        self.trader: subprocess.Popen[bytes] | None = None

    def control(self) -> ControlClient:
        return ControlClient(Endpoints(self.root / "run").control, timeout=5)

    def slave_states(self) -> dict[str, str]:
        try:
            with self.control() as c:
                return {s.config.id: (s.status.state if s.status else "none") for s in c.request(ListSlaves(id=0)).slaves}
        except Exception:  # noqa: BLE001 - control still starting
            return {}

    def pids(self) -> dict[str, int]:
        assert self.sim.proc is not None
        return {"simulator": self.sim.proc.pid, **{name: p.pid for name, p in self.dep.procs.items()}}


@pytest.fixture
def soak(monkeypatch: pytest.MonkeyPatch) -> Iterator[Soak]:
    monkeypatch.setenv("COPYTRADER_MEMORY_LIMITS", ACTOR_LIMITS)  # inherited by the actor processes
    root = pathlib.Path(tempfile.mkdtemp(prefix="soak-"))  # short: ipc paths < 108 bytes
    config = soak_sim_config(root)
    with SimProcess(config) as sim:
        dep = Deployment(root / "d", sim, SLAVES, sim_config=config, with_control=True)
        s = Soak(root / "d", sim, dep)
        try:
            dep._spawn(
                "control",
                ["actors.control", "--config", str(dep.config_path), "--no-supervisor", "--programs-dir", str(root / "d" / "programs")],
            )
            dep.start_all()
            eventually(
                lambda: s.slave_states() == {c.id: "running" for c in SLAVES},
                timeout=90,
                interval=0.5,
                what="every slave running (asked of control)",
            )
            yield s
        finally:
            if s.trader is not None and s.trader.poll() is None:
                s.trader.terminate()
                s.trader.wait(10)
            dep.stop()
    shutil.rmtree(root, ignore_errors=True)


def test_no_process_keeps_growing_under_a_high_order_rate(soak: Soak) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    log = open(soak.root / "logs" / "trader.log", "ab")
    soak.trader = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulator.trader",
            "--url",
            soak.sim.http_url,
            "--config",
            str(soak.sim.config),
            "--account",
            "master",
            "--interval",
            "0.02",
            "--markets",
            "usdm",
            "--seed",
            "11",
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    pids = soak.pids()
    samples: dict[str, list[tuple[float, int]]] = {name: [] for name in pids}
    t0 = time.monotonic()
    warm_at: float | None = None  # seconds after t0 when the warm-up ended
    tick = 0
    while warm_at is None or time.monotonic() - t0 < warm_at + MEASURE_S:
        now = time.monotonic() - t0
        for name, pid in pids.items():
            assert soak.dep.procs.get(name, soak.sim.proc).poll() is None, f"{name} exited:\n{soak.dep.log(name)[-3000:]}"
            samples[name].append((now, read_memory(pid).dirty_kib))
        assert soak.trader.poll() is None, (soak.root / "logs" / "trader.log").read_text()[-3000:]
        if warm_at is None and now >= WARMUP_S and tick % 5 == 0:
            if order_requests(soak) >= WARM_ORDERS:
                warm_at = now
            assert now < WARMUP_DEADLINE_S, f"only {order_requests(soak)} order requests in {now:.0f}s: too slow to warm up"
        tick += 1
        time.sleep(max(0.0, t0 + tick - time.monotonic()))  # the sampling period, not a wait for a condition
    health = soak.sim.admin("GET", "/_sim/health")
    total = order_requests(soak)
    assert warm_at is not None
    fits: dict[str, Growth] = {name: growth(s, warm_at) for name, s in samples.items()}
    report = {
        "warmup_s": round(warm_at, 1),
        "measure_s": MEASURE_S,
        "order_requests": total,
        "order_requests_per_s": round(total / (time.monotonic() - t0), 1),
        "history": health["history"],
        "processes": {n: msgspec_dict(g) for n, g in fits.items()},
    }
    text = orjson.dumps(report, option=orjson.OPT_INDENT_2).decode()
    print(text)
    if os.environ.get("SOAK_OUT"):  # with every sample, for a plot
        series = {n: [[round(t, 1), kib] for t, kib in samples[n]] for n in samples}
        pathlib.Path(os.environ["SOAK_OUT"]).write_bytes(orjson.dumps({**report, "samples": series}))

    assert all(h["dropped"] > 0 for h in health["history"].values()), f"a history never filled:\n{text}"
    growing = {n: g.slope_kib_per_min for n, g in fits.items() if g.slope_kib_per_min > MAX_SLOPE_KIB_PER_MIN}
    assert not growing, f"written memory still growing (KiB/min) after {WARMUP_S:.0f}s: {growing}\n{text}"


def order_requests(soak: Soak) -> int:
    """Order requests the simulator has seen (all accounts), from its request log's counters."""
    log = soak.sim.admin("GET", "/_sim/health")["history"]["requests"]
    return int(log["held"] + log["dropped"])


def msgspec_dict(g: Growth) -> dict[str, Any]:
    import msgspec

    return msgspec.structs.asdict(g)
