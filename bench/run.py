"""The latency and scale benchmark (scripts/bench): simulator, master listener and N slave actors
as real processes; M master orders (isolated, then in bursts of 10); figures from the exchange's
arrival stamps and the master's; then the naive copier on the same simulator for comparison.

    scripts/bench --slaves 20 --events 500 --out bench.json     (--quick: a run under a minute)

Figures (microseconds, time.monotonic_ns() across processes):
- internal: master listener read the exchange event (`t_master_recv_ns`) -> the slave's order
  request arrived at the simulator (`arrivalNs` of /_sim/requests);
- fan-out (last): per master event, the same to the LAST of the N slaves' orders;
- end to end: the master's fill at the exchange -> the slave's fill at the exchange (a MARKET
  order fills while its request is handled, so both are the orders' `arrivalNs` in /_sim/trades).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import msgspec
import orjson

from . import stats
from .figures import (
    _failure_kinds as _failure_kinds,  # re-exported: callers import them from here
    _first_arrivals as _first_arrivals,
    figures as figures,
    hop_breakdown as hop_breakdown,
    naive_copies as naive_copies,
    ours_copies as ours_copies,
    table as table,
)
from .memory import cpu_ns, machine_busy_ns, read_memory, thread_cpu, thread_delta
from .naive import SyncRest
from .options import (
    BURST as BURST,  # re-exported: callers import them from here
    Event as Event,
    Options as Options,
)
from .plot import render_svg
from .setup import (
    PRICES,
    QTY,
    SYMBOLS,
    Account,
    Collector,
    FillBoard,
    MasterFillInfo,
    MasterObserver,
    Simulator,
    make_accounts,
    sim_config_text,
    spawn,
    stop_procs,
    write_deployment,
)


def plan(n: int, start: int = 0) -> list[tuple[str, str]]:
    """(symbol, side) for n isolated events: open then close, symbol after symbol (flat after pairs)."""
    out = []
    for i in range(start, start + n):
        out.append((SYMBOLS[(i // 2) % len(SYMBOLS)], "BUY" if i % 2 == 0 else "SELL"))
    return out


def burst_plan(b: int) -> list[tuple[str, str]]:
    """Burst b: even bursts buy 10 orders over the symbols, odd bursts sell the same (flat after pairs)."""
    side = "BUY" if b % 2 == 0 else "SELL"
    first = (b // 2) % len(SYMBOLS)
    return [(SYMBOLS[(first + i) % len(SYMBOLS)], side) for i in range(BURST)]


class Bench:
    def __init__(self, opts: Options, log: Any = print) -> None:
        self.opts = opts
        self.log = log
        self.root = Path(tempfile.mkdtemp(prefix="ctb-", dir="/tmp"))
        (self.root / "logs").mkdir()
        self.master = Account("master", "benchmaster" + os.urandom(20).hex(), os.urandom(32).hex())
        self.slaves = make_accounts("s", opts.slaves, opts.key_type)
        self.naives = make_accounts("n", opts.slaves) if opts.naive_events else []
        self.sim: Simulator | None = None
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.collector: Collector | None = None
        self.rest: list[SyncRest] = []

    # -- set-up ------------------------------------------------------------------------------------
    def start(self) -> None:
        cfg = self.root / "sim.toml"
        cfg.write_text(sim_config_text(self.master, self.slaves + self.naives))
        self.sim = Simulator(self.root, cfg)
        if self.opts.sim_nice:
            os.setpriority(os.PRIO_PROCESS, self.sim.proc.pid, self.opts.sim_nice)
        for symbol, price in PRICES.items():
            self.sim.admin("POST", "/_sim/price", {"symbol": symbol, "price": price, "pause": True})
        config = write_deployment(self.root, self.sim.url, self.master, self.slaves)
        from actors.base import Endpoints, ensure_private_dir

        ends = Endpoints(ensure_private_dir(self.root / "run"))
        self.pub_endpoint = ends.master_pub("usdm")
        self.collector = Collector(ends.reports)
        self.rest = [SyncRest(self.sim.url) for _ in range(BURST)]
        self.procs["master-usdm"] = spawn(self.root, "master-usdm", ["-m", "actors.master", "--config", str(config), "--market", "usdm"])
        observer = MasterObserver(self.pub_endpoint)  # only until the master publishes
        try:
            observer.wait_heartbeat(30)
        finally:
            observer.close()
        ids = [a.id for a in self.slaves]
        t0 = time.monotonic()
        for i in range(0, len(ids), self.opts.start_batch):
            batch = ids[i : i + self.opts.start_batch]
            for sid in batch:
                self.procs[sid] = spawn(self.root, f"slave-{sid}", ["-m", "actors.slave", "--config", str(config), "--id", sid])
            self._wait_running(ids[: i + len(batch)], 120)
        self.log(f"{len(ids)} slaves running after {time.monotonic() - t0:.1f}s (workdir {self.root})")

    def _wait_running(self, ids: list[str], timeout: float) -> None:
        assert self.collector is not None
        deadline = time.monotonic() + timeout
        while self.collector.running(ids) < len(ids):
            for name, p in self.procs.items():
                if p.poll() is not None:
                    raise RuntimeError(f"{name} exited with {p.returncode}: see {self.root / 'logs'}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {self.collector.running(ids)} of {len(ids)} slaves running")
            time.sleep(0.05)

    # -- master orders -------------------------------------------------------------------------------
    def _order(self, conn: int, symbol: str, side: str) -> int:
        status, body = self.rest[conn].signed(
            "POST",
            "/fapi/v1/order",
            self.master.api_key,
            self.master.secret,
            {"symbol": symbol, "side": side, "type": "MARKET", "quantity": QTY[symbol], "newOrderRespType": "RESULT"},
        )
        reply = orjson.loads(body)
        if status != 200:
            raise RuntimeError(f"master order refused: {status} {reply}")
        return int(reply["orderId"])

    def _burst(self, orders: list[tuple[str, str]]) -> list[int]:
        """Send the orders at once (one thread and connection each); their order ids in order."""
        ids: list[int] = [0] * len(orders)
        errors: list[BaseException] = []
        barrier = threading.Barrier(len(orders))

        def one(i: int, symbol: str, side: str) -> None:
            try:
                barrier.wait(5)
                ids[i] = self._order(i, symbol, side)
            except BaseException as exc:  # noqa: BLE001 - re-raised below
                errors.append(exc)

        threads = [threading.Thread(target=one, args=(i, s, d)) for i, (s, d) in enumerate(orders)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        if errors:
            raise errors[0]
        return ids

    def _events(
        self, board: FillBoard, need: int, order_ids: list[int], orders: list[tuple[str, str]], phase: str, first: int
    ) -> list[Event]:
        """Wait until `need` copies decided each order's fills; the events, with the master's stamps
        as the copies reported them (an order nobody copied keeps trade id 0 and no stamps)."""
        known = board.wait(order_ids, need, 60)
        out: list[Event] = []
        for oid, (symbol, _) in zip(order_ids, orders, strict=False):
            fills = known.get(oid) or []
            if not fills:
                self.log(f"warning: no copy of master order {oid} reported within 60 s")
                out.append(Event(first + len(out), phase, oid, 0, symbol, 0, 0))
            for f in fills:
                out.append(Event(first + len(out), phase, oid, f.trade_id, f.symbol or symbol, f.t_master_recv_ns, f.t_master_pub_ns))
        return out

    def drive(self, isolated: int, bursts: int, first: int = 0, board: FillBoard | None = None, need: int | None = None) -> list[Event]:
        """Isolated events (each waited for), then bursts of 10; returns the master events."""
        assert self.collector is not None
        board = board or self.collector
        need = self.opts.slaves if need is None else need
        events: list[Event] = []
        for symbol, side in plan(isolated):
            oid = self._order(0, symbol, side)
            events += self._events(board, need, [oid], [(symbol, side)], "isolated", first + len(events))
            time.sleep(self.opts.gap_s)
        for b in range(bursts):
            orders = burst_plan(b)
            ids = self._burst(orders)
            events += self._events(board, need, ids, orders, "burst", first + len(events))
            time.sleep(self.opts.burst_gap_s)
        return events

    # -- measurement ---------------------------------------------------------------------------------
    def slave_pids(self) -> dict[str, int]:
        return {a.id: self.procs[a.id].pid for a in self.slaves}

    def measure(self) -> dict[str, Any]:
        opts = self.opts
        assert self.sim is not None and self.collector is not None
        pids = self.slave_pids()
        idle0 = {sid: cpu_ns(pid) for sid, pid in pids.items()}
        t_idle = time.monotonic()
        time.sleep(3.0)
        idle_us_per_s = [(cpu_ns(pid) - idle0[sid]) / 1000 / (time.monotonic() - t_idle) for sid, pid in pids.items()]
        self.log(f"warm-up: {opts.warmup} events")
        self.drive(opts.warmup, 0, first=-10_000)
        time.sleep(0.3)
        cpu0 = {sid: cpu_ns(pid) for sid, pid in pids.items()}
        others = {"simulator": self.sim.proc.pid, "master": self.procs["master-usdm"].pid}
        other0 = {k: cpu_ns(pid) for k, pid in others.items()}
        threads0 = {k: thread_cpu(pid) for k, pid in {**pids, **others}.items()}
        busy0, own0 = machine_busy_ns(), cpu_ns(os.getpid())
        mirrored0 = self._mirrored_per_slave()
        isolated = opts.events // 2
        bursts = max(0, (opts.events - isolated) // BURST)
        self.log(f"measuring: {isolated} isolated events, {bursts} bursts of {BURST}")
        t0 = time.monotonic()
        events = self.drive(isolated, 0)
        cpu_mid = {sid: cpu_ns(pid) for sid, pid in pids.items()}
        mirrored_mid = self._mirrored_per_slave()
        events += self.drive(0, bursts, first=len(events))
        wall = time.monotonic() - t0
        time.sleep(0.3)
        cpu1 = {sid: cpu_ns(pid) for sid, pid in pids.items()}
        threads1 = {k: thread_cpu(pid) for k, pid in {**pids, **others}.items()}
        other_cpu = {k: (cpu_ns(pid) - other0[k]) / 1000 / max(1, len(events)) for k, pid in others.items()}
        ours_ns = (
            sum(cpu1[sid] - cpu0[sid] for sid in pids)
            + cpu_ns(os.getpid())
            - own0
            + sum(cpu_ns(pid) - other0[k] for k, pid in others.items())
        )
        foreign_cores = max(0.0, (machine_busy_ns() - busy0 - ours_ns) / 1e9 / (time.monotonic() - t0))
        mirrored1 = self._mirrored_per_slave()
        memory = {sid: read_memory(pid) for sid, pid in pids.items()}
        cpu_per_order = [(cpu1[s] - cpu0[s]) / 1000 / max(1, mirrored1.get(s, 0) - mirrored0.get(s, 0)) for s in pids]
        # the same, apart for the isolated events (a slave wakes for each) and the bursts (10 at once)
        cpu_by_phase = {
            "isolated": stats.median((cpu_mid[s] - cpu0[s]) / 1000 / max(1, mirrored_mid.get(s, 0) - mirrored0.get(s, 0)) for s in pids),
            "burst": stats.median((cpu1[s] - cpu_mid[s]) / 1000 / max(1, mirrored1.get(s, 0) - mirrored_mid.get(s, 0)) for s in pids)
            if bursts
            else None,
        }
        # where a slave's CPU goes, per thread (the median slave), and the simulator's and master's per event
        per_slave = [thread_delta(threads0[s], threads1[s], mirrored1.get(s, 0) - mirrored0.get(s, 0)) for s in pids]
        threads = {
            "slave_per_order": {
                name: {k: stats.median(t[name][k] for t in per_slave if name in t) for k in ("cpu_us", "scheduled_in")}
                for name in sorted({n for t in per_slave for n in t})
            }
        }
        for k in others:
            threads[f"{k}_per_event"] = thread_delta(threads0[k], threads1[k], len(events))
        requests = self.sim.admin("GET", "/_sim/requests")
        trades = self.sim.admin("GET", "/_sim/trades?market=futures")
        orders = self.sim.admin("GET", "/_sim/orders?market=futures")
        copies, accounting = ours_copies(events, [a.id for a in self.slaves], requests, trades, orders)
        breakdown = hop_breakdown(self.collector.mirrored, {(e.order_id, e.trade_id) for e in events if e.phase == "isolated"})
        result = {
            "wall_s": round(wall, 2),
            "copies": copies,
            "accounting": accounting,
            "events": events,
            "cpu_per_order_us": cpu_per_order,
            "memory": memory,
            "breakdown": breakdown,
            "failed": len(self.collector.failed),
            "failures": _failure_kinds(self.collector.failed),
            "skips": dict(Counter(f"{k.reason}: {k.text[:60]}" for k in self.collector.skipped)),
            "other_cpu_per_event_us": other_cpu,
            "idle_cpu_us_per_s": idle_us_per_s,
            "foreign_cores": foreign_cores,
            "threads": threads,
            "cpu_by_phase": cpu_by_phase,
        }
        return result

    def _mirrored_per_slave(self) -> dict[str, int]:
        assert self.collector is not None
        with self.collector.cond:
            out: dict[str, int] = defaultdict(int)
            for m in self.collector.mirrored:
                out[m.slave_id] += 1
            return out

    def measure_naive(self, n_events: int) -> dict[str, Any]:
        """Stop our slaves, run the naive copier over the naive accounts, replay isolated events."""
        assert self.sim is not None
        stop_procs([self.procs.pop(a.id) for a in self.slaves])
        accounts = self.root / "naive-accounts.json"
        accounts.write_bytes(orjson.dumps([msgspec.structs.asdict(a) for a in self.naives]))
        os.chmod(accounts, 0o600)
        from .setup import child_env

        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.naive", "--endpoint", self.pub_endpoint, "--url", self.sim.url, "--accounts", str(accounts)],
            cwd=self.root,
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=open(self.root / "logs" / "naive.log", "ab"),
            start_new_session=True,
            text=True,
        )
        self.procs["naive"] = proc  # type: ignore[assignment]
        board = FillBoard()
        ready = threading.Event()

        def read() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                parts = line.split()
                if parts and parts[0] == "ready":
                    ready.set()
                elif len(parts) >= 7 and parts[0] == "done":
                    with board.cond:
                        board.note(int(parts[1]), MasterFillInfo(int(parts[2]), parts[6], int(parts[4]), int(parts[5])), "naive")
                        board.cond.notify_all()

        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(30):
            raise TimeoutError("the naive copier did not start")
        events = self.drive(n_events, 0, first=100_000, board=board, need=1)
        requests = self.sim.admin("GET", "/_sim/requests")
        stop_procs([self.procs.pop("naive")])
        return {"copies": naive_copies(events, [a.id for a in self.naives], requests), "events": events}

    def close(self, failed: bool = False) -> None:
        if self.collector is not None:
            self.collector.close()
        for r in self.rest:
            r.close()
        stop_procs(list(self.procs.values()))
        if self.sim is not None:
            self.sim.stop()
        if failed:
            self.log(f"run failed: logs kept in {self.root / 'logs'}")
        elif not self.opts.keep:
            shutil.rmtree(self.root, ignore_errors=True)


def wait_for_load(limit: float, log: Any, poll_s: float = 30.0, give_up_s: float = 900.0) -> float:
    """Wait (polling) until the 1-minute load average is at most `limit`, for up to `give_up_s`;
    returns the load the run starts under (the machine may be shared)."""
    deadline = time.monotonic() + give_up_s
    load = os.getloadavg()[0]
    while load > limit and time.monotonic() < deadline:
        log(f"load average {load:.2f} > {limit}: waiting {poll_s:.0f}s")
        time.sleep(poll_s)
        load = os.getloadavg()[0]
    return load


def run(opts: Options) -> dict[str, Any]:
    log = (lambda *a: None) if opts.quiet else (lambda *a: print(*a, file=sys.stderr, flush=True))
    load_start = wait_for_load(opts.max_load, log) if opts.max_load else os.getloadavg()[0]
    if opts.code:
        from . import setup

        setup.CODE_ROOT[0] = Path(opts.code).resolve()
    bench = Bench(opts, log)
    failed = True
    try:
        bench.start()
        ours = bench.measure()
        naive = bench.measure_naive(opts.naive_events) if opts.naive_events else None
        failed = False
    finally:
        bench.close(failed)
    fig = figures(opts, ours, naive)
    fig["detail"]["load_avg_1m_at_start"] = round(load_start, 2)
    Path(opts.out).write_bytes(orjson.dumps(fig, option=orjson.OPT_INDENT_2))
    svg = opts.svg or str(Path(opts.out).with_suffix(".svg"))
    phase = {e.index: e.phase for e in ours["events"]}
    iso = [c for c in ours["copies"] if phase[c.event] == "isolated"]
    burst = [c for c in ours["copies"] if phase[c.event] == "burst"]
    series = [
        ("ours: internal, isolated events (each slave order)", stats.internal_us(iso)),
        (f"ours: fan-out to the last of {opts.slaves}, isolated events", stats.fanout_last_us(iso, opts.slaves)),
    ]
    if naive is not None:
        series.append((f"naive: fan-out to the last of {opts.slaves}, isolated events", stats.fanout_last_us(naive["copies"], opts.slaves)))
    series.append((f"ours: fan-out to the last of {opts.slaves}, bursts of 10", stats.fanout_last_us(burst, opts.slaves)))
    Path(svg).write_text(render_svg(series, f"master event -> slave order at the exchange, N = {opts.slaves}"))
    return fig


def parse_args(argv: list[str] | None) -> Options:
    ap = argparse.ArgumentParser(prog="scripts/bench", description=__doc__.splitlines()[0])
    ap.add_argument("--slaves", type=int, default=20)
    ap.add_argument("--events", type=int, default=500, help="measured master events (half isolated, half in bursts of 10)")
    ap.add_argument("--naive-events", type=int, default=None, help="isolated events for the naive copier (0: skip)")
    ap.add_argument("--warmup", type=int, default=24)
    ap.add_argument("--out", default="bench.json")
    ap.add_argument("--svg", default=None, help="histogram file (default: OUT with .svg)")
    ap.add_argument("--quick", action="store_true", help="100 events, 20 for the naive copier")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs) under /tmp")
    ap.add_argument("--max-load", type=float, default=0.0, help="first wait (up to 15 min) until the 1-minute load average is at most this")
    ap.add_argument("--code", default=None, help="source tree the simulator and actors run from (e.g. `git archive` of another commit)")
    ap.add_argument("--sim-nice", type=int, default=0, help="nice value of the simulator process")
    ap.add_argument(
        "--key-type",
        choices=["ed25519", "hmac"],
        default="ed25519",
        help="the slaves' API keys (Ed25519: one session.logon, unsigned orders after it)",
    )
    a = ap.parse_args(argv)
    if a.slaves < 1 or a.events < 2:
        ap.error("--slaves must be >= 1 and --events >= 2")
    events = 100 if a.quick else a.events
    naive = a.naive_events if a.naive_events is not None else (20 if a.quick else min(100, events // 2))
    warmup = min(a.warmup, 12) if a.quick else a.warmup
    return Options(
        slaves=a.slaves,
        events=events,
        naive_events=naive,
        warmup=warmup,
        out=a.out,
        svg=a.svg,
        keep=a.keep,
        key_type=a.key_type.upper(),
        sim_nice=a.sim_nice,
        code=a.code,
        max_load=a.max_load,
    )


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    fig = run(opts)
    print(table(fig))
    print(f"written: {opts.out}")
    return 0
