"""A deployment for integration tests: keystore + config for a running simulator, actor processes
(master listeners, slaves) started as real subprocesses, and a report collector bound where the
control actor would be (so tests can see every slave decision)."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import zmq

from protocol import codec
from protocol.messages import SlaveConfig
from tests.helpers.sim import REPO, SimKey, read_keys
from tests.helpers.wait import eventually

PASSPHRASE = "correct horse battery staple (test)"
COPY_ONLY = 3600.0  # snapshot_interval_s of a copy test: no periodic check runs within its waits


def key_secret(key: SimKey) -> str:
    secret = key.secret if key.type == "HMAC" else key.private_key
    assert secret, f"no secret material for {key!r}"
    return secret


class Collector:
    """PULL socket bound at the control actor's report endpoint; decoded reports in a list."""

    def __init__(self, endpoint: str) -> None:
        self.ctx = zmq.Context.instance()
        self.sock = self.ctx.socket(zmq.PULL)
        self.sock.bind(endpoint)
        self.reports: list[Any] = []
        self.bad = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        poller = zmq.Poller()
        poller.register(self.sock, zmq.POLLIN)
        while not self._stop.is_set():
            if not poller.poll(50):
                continue
            while True:
                try:
                    body = self.sock.recv(zmq.NOBLOCK)
                except zmq.Again:
                    break
                try:
                    msg = codec.decode_slave_report(body)
                except Exception:  # noqa: BLE001
                    self.bad += 1
                    continue
                with self._lock:
                    self.reports.append(msg)

    def of(self, kind: type, **match: Any) -> list[Any]:
        with self._lock:
            items = list(self.reports)
        return [r for r in items if isinstance(r, kind) and all(getattr(r, k) == v for k, v in match.items())]

    def latest_status(self, slave_id: str) -> Any:
        from protocol.messages import SlaveStatusReport

        found = self.of(SlaveStatusReport, slave_id=slave_id)
        return found[-1] if found else None

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close(0)


class MasterEvents:
    """SUB socket on a master's PUB: its decoded events in a list (what every slave receives)."""

    def __init__(self, endpoint: str, market: str = "usdm") -> None:
        from protocol.topics import master_prefix

        self.sock = zmq.Context.instance().socket(zmq.SUB)
        self.sock.setsockopt(zmq.SUBSCRIBE, master_prefix(market))
        self.sock.connect(endpoint)
        self.events: list[Any] = []

    def drain(self, timeout_ms: int = 50) -> list[Any]:
        while self.sock.poll(timeout_ms):
            self.events.append(codec.unpack_master_event(self.sock.recv_multipart()))
        return self.events

    def of(self, kind: type) -> list[Any]:
        return [e for e in self.drain() if isinstance(e, kind)]

    def close(self) -> None:
        self.sock.close(0)


class Deployment:
    """Config, keystore and actor processes in `root`, against the simulator `sim`."""

    def __init__(
        self,
        root: pathlib.Path,
        sim: Any,
        slaves: Iterable[SlaveConfig],
        *,
        markets: Iterable[str] = ("usdm",),
        sim_config: pathlib.Path | None = None,
        master_account: str = "master",
        with_control: bool = False,
        snapshot_interval_s: float = 5.0,
    ) -> None:
        """`with_control`: bind no report collector (the test runs the real control actor, which binds
        the report endpoint itself); `collector` is then None. `snapshot_interval_s`: the masters'
        periodic snapshot, which starts each slave's periodic check; a copy test that must see every
        fill copied right by itself sets it long (COPY_ONLY), so no check repairs a wrong copy
        within its waits (tests/helpers/corrections.py counts corrections either way)."""
        from keystore import KdfParams, Keystore

        self.root = root
        self.sim = sim
        self.slaves = list(slaves)
        self.markets = list(markets)
        self.snapshot_interval_s = snapshot_interval_s
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        root.mkdir(parents=True, exist_ok=True)
        (root / "logs").mkdir(exist_ok=True)
        keys = read_keys(sim_config or sim.config)
        self.passphrase_file = root / "passphrase"
        self.passphrase_file.write_text(PASSPHRASE)
        os.chmod(self.passphrase_file, 0o600)
        with Keystore.create(root / "keystore", PASSPHRASE, kdf=KdfParams.cheap()) as ks:
            for account in [master_account] + [s.id for s in self.slaves]:
                key = next((k for k in keys[account] if k.type == "HMAC"), keys[account][0])
                ks.put(account, key.type.lower(), key.api_key, key_secret(key))
        self.config_path = root / "copytrader.toml"
        self.write_config()
        from actors.base import Endpoints, ensure_private_dir

        self.ends = Endpoints(ensure_private_dir(root / "run"))
        self.collector: Collector | None = None if with_control else Collector(self.ends.reports)

    def write_config(self) -> None:
        from actors.config import AppConfig, ExchangeConfig, MasterConfig, write_config_atomic

        cfg = AppConfig(
            exchange=ExchangeConfig(network="simulator", url=self.sim.http_url),
            masters={m: MasterConfig(account="master", snapshot_interval_s=self.snapshot_interval_s) for m in self.markets},  # type: ignore[misc]
            slaves=tuple(self.slaves),
            base_dir=str(self.root),
        )
        import msgspec

        from actors.config import KeystoreConfig

        cfg = msgspec.structs.replace(cfg, keystore=KeystoreConfig(dir="keystore", passphrase_file="passphrase"))
        write_config_atomic(self.config_path, cfg, backup=False)

    # -- processes --------------------------------------------------------------------------------
    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        env = dict(os.environ, PYTHONPATH=str(REPO))
        env.pop("COPYTRADER_PASSPHRASE", None)
        log = open(self.root / "logs" / f"{name}.log", "ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", *args], cwd=self.root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        self.procs[name] = proc
        return proc

    def start_master(self, market: str = "usdm") -> subprocess.Popen[bytes]:
        return self._spawn(f"master-{market}", ["actors.master", "--config", str(self.config_path), "--market", market])

    def start_slave(self, slave_id: str) -> subprocess.Popen[bytes]:
        return self._spawn(f"slave-{slave_id}", ["actors.slave", "--config", str(self.config_path), "--id", slave_id])

    def start_all(self) -> None:
        for m in self.markets:
            self.start_master(m)
        for s in self.slaves:
            self.start_slave(s.id)

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs[name]
        if proc.poll() is None:
            os.killpg(proc.pid, sig)
            proc.wait(10)

    def log(self, name: str) -> str:
        path = self.root / "logs" / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def wait_running(self, slave_ids: Iterable[str] | None = None, timeout: float = 30.0) -> None:
        ids = list(slave_ids) if slave_ids is not None else [s.id for s in self.slaves]

        def ready() -> bool:
            for name, proc in self.procs.items():
                assert proc.poll() is None, f"{name} exited with {proc.returncode}:\n{self.log(name)[-3000:]}"
            assert self.collector is not None, "with_control: ask the control actor instead"
            for sid in ids:
                st = self.collector.latest_status(sid)
                if st is None or st.state != "running":
                    return False
            return True

        eventually(ready, timeout=timeout, interval=0.05, what=f"slaves {ids} running")

    def stop(self) -> None:
        for _name, proc in list(self.procs.items()):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        deadline = time.monotonic() + 10
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)
        if self.collector is not None:
            self.collector.close()


def signed(sim: Any, account: str, method: str, path: str, params: dict[str, Any] | None = None) -> Any:
    """A signed request with the account's HMAC key, written independently of actors/binance.
    Raises AssertionError with Binance's code and message on an error answer."""
    import hashlib
    import hmac
    import urllib.error
    import urllib.parse
    import urllib.request

    import orjson

    keys = sim.keys[account]
    key = next((k for k in keys if k.type == "HMAC"), keys[0])
    query = urllib.parse.urlencode({**(params or {}), "timestamp": int(time.time() * 1000), "recvWindow": 10000})
    if key.type == "HMAC":
        sig = hmac.new(key_secret(key).encode(), query.encode(), hashlib.sha256).hexdigest()
    else:
        import base64

        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding

        pk = serialization.load_pem_private_key(key_secret(key).encode(), password=None)
        raw = (
            pk.sign(query.encode())
            if key.type == "ED25519"
            else pk.sign(  # type: ignore[call-arg]
                query.encode(), padding.PKCS1v15(), hashes.SHA256()
            )
        )  # type: ignore[call-arg]
        sig = urllib.parse.quote(base64.b64encode(raw).decode(), safe="")
    req = urllib.request.Request(f"{sim.http_url}{path}?{query}&signature={sig}", method=method, headers={"X-MBX-APIKEY": key.api_key})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return orjson.loads(resp.read())
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"{method} {path} -> {exc.code} {exc.read()[:300]!r}") from None


def signed_get(sim: Any, account: str, path: str, params: dict[str, Any] | None = None) -> Any:
    return signed(sim, account, "GET", path, params)


def positions(sim: Any, account: str) -> dict[tuple[str, str], Decimal]:
    """Futures positions of an account from /fapi/v2/positionRisk: (symbol, positionSide) -> qty
    (BOTH signed, LONG/SHORT sizes); flat positions left out."""
    out: dict[tuple[str, str], Decimal] = {}
    for p in signed_get(sim, account, "/fapi/v2/positionRisk"):
        amt = Decimal(str(p.get("positionAmt", "0")))
        ps = p.get("positionSide", "BOTH")
        if amt:
            out[(p["symbol"], ps)] = abs(amt) if ps in ("LONG", "SHORT") else amt
    return out


def spot_holdings(sim: Any, account: str) -> dict[str, Decimal]:
    """Spot holdings (free + locked) per asset from GET /api/v3/account; zero balances left out."""
    out: dict[str, Decimal] = {}
    for b in signed_get(sim, account, "/api/v3/account")["balances"]:
        total = Decimal(str(b["free"])) + Decimal(str(b["locked"]))
        if total:
            out[b["asset"]] = total
    return out


def margin_assets(sim: Any, account: str) -> dict[str, tuple[Decimal, Decimal]]:
    """Cross margin per asset: (net asset, borrowed) from GET /sapi/v1/margin/account; an asset
    with neither is left out."""
    out: dict[str, tuple[Decimal, Decimal]] = {}
    for a in signed_get(sim, account, "/sapi/v1/margin/account")["userAssets"]:
        net, borrowed = Decimal(str(a["netAsset"])), Decimal(str(a["borrowed"]))
        if net or borrowed:
            out[a["asset"]] = (net, borrowed)
    return out
