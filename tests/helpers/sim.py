"""Start the exchange simulator for tests: as a subprocess (`SimProcess`) or in the test's loop (`InProcessSim`).

    with SimProcess(FIXTURES / "sim-test.toml") as sim:
        sim.http_url, sim.ws_api_url, sim.ws_fapi_url
        key = sim.key("slave01")                     # SimKey: api_key, type, secret / private_key
        sim.admin("POST", "/_sim/price", {"symbol": "BTCUSDT", "price": "65000", "pause": True})

Keys (with private keys for RSA/Ed25519) are read from the same TOML file the simulator loads.
"""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

import orjson

REPO = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
TEST_CONFIG = FIXTURES / "sim-test.toml"


@dataclass(frozen=True)
class SimKey:
    account: str
    api_key: str
    type: str  # HMAC | RSA | ED25519
    secret: str | None = None
    private_key: str | None = None

    def __repr__(self) -> str:  # never print secrets
        return f"SimKey({self.account!r}, {self.type}, {self.api_key[:8]}...)"


def read_keys(config_path: pathlib.Path | str) -> dict[str, list[SimKey]]:
    with open(config_path, "rb") as fh:
        doc = tomllib.load(fh)
    out: dict[str, list[SimKey]] = {}
    for acc in doc.get("accounts", []):
        out[acc["id"]] = [
            SimKey(acc["id"], k["api_key"], k.get("type", "HMAC").upper(), k.get("secret"), k.get("private_key"))
            for k in acc.get("keys", [])
        ]
    return out


class AdminError(AssertionError):
    pass


class _SimBase:
    host = "127.0.0.1"
    port: int = 0
    keys: dict[str, list[SimKey]]

    @property
    def http_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    @property
    def ws_api_url(self) -> str:
        return f"{self.ws_url}/ws-api/v3"

    @property
    def ws_fapi_url(self) -> str:
        return f"{self.ws_url}/ws-fapi/v1"

    def key(self, account: str, type: str | None = None) -> SimKey:
        for key in self.keys.get(account, []):
            if type is None or key.type == type.upper():
                return key
        raise KeyError(f"no {type or 'any'} key for account {account!r}")

    # -- admin (sync, urllib: fine from sync tests and SDK tests) -------------------------------------
    def admin(self, method: str, path: str, body: dict[str, Any] | None = None, timeout: float = 10.0) -> Any:
        data = orjson.dumps(body) if body is not None else None
        req = urllib.request.Request(self.http_url + path, data=data, method=method, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as resp:
                return orjson.loads(resp.read())
        except urllib.error.HTTPError as exc:
            raise AdminError(f"{method} {path} -> {exc.code}: {exc.read().decode(errors='replace')}") from None

    def set_price(self, symbol: str, price: str, pause: bool = True) -> Any:
        return self.admin("POST", "/_sim/price", {"symbol": symbol, "price": price, "pause": pause})

    def orders(self, account: str | None = None, market: str | None = None) -> list[dict[str, Any]]:
        q = "&".join(f"{k}={v}" for k, v in (("account", account), ("market", market)) if v)
        return self.admin("GET", "/_sim/orders" + (f"?{q}" if q else ""))

    def trades(self, account: str | None = None, market: str | None = None) -> list[dict[str, Any]]:
        q = "&".join(f"{k}={v}" for k, v in (("account", account), ("market", market)) if v)
        return self.admin("GET", "/_sim/trades" + (f"?{q}" if q else ""))

    def account(self, account: str) -> dict[str, Any]:
        return self.admin("GET", f"/_sim/accounts?account={account}")

    # -- admin (async, for tests running in an event loop) ----------------------------------------------
    async def aadmin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        import aiohttp

        async with aiohttp.ClientSession() as session:
            async with session.request(
                method, self.http_url + path, data=orjson.dumps(body) if body else None, headers={"Content-Type": "application/json"}
            ) as resp:
                payload = await resp.read()
                if resp.status != 200:
                    raise AdminError(f"{method} {path} -> {resp.status}: {payload.decode(errors='replace')}")
                return orjson.loads(payload)


class SimProcess(_SimBase):
    """`python -m simulator --config FILE --port 0 --port-file PATH` as a child process."""

    def __init__(
        self, config: pathlib.Path | str = TEST_CONFIG, startup_timeout: float = 20.0, extra_args: list[str] | None = None
    ) -> None:
        self.config = pathlib.Path(config)
        self.keys = read_keys(self.config)
        self.startup_timeout = startup_timeout
        self.extra_args = extra_args or []
        self.proc: subprocess.Popen[bytes] | None = None
        self._tmp = tempfile.TemporaryDirectory(prefix="sim-")
        self.port_file = pathlib.Path(self._tmp.name) / "port"
        self.log_path = pathlib.Path(self._tmp.name) / "sim.log"

    def start(self) -> "SimProcess":
        env = dict(os.environ)
        env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "simulator",
                "--config",
                str(self.config),
                "--port",
                "0",
                "--port-file",
                str(self.port_file),
                *self.extra_args,
            ],
            cwd=REPO,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + self.startup_timeout
        while True:
            if self.port_file.exists():
                text = self.port_file.read_text().strip()
                if text:
                    self.port = int(text)
                    return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"simulator exited with {self.proc.returncode}: {self.log()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"simulator did not start within {self.startup_timeout}s: {self.log()}")
            time.sleep(0.02)  # poll interval of the deadline loop above

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if getattr(self, "_log", None) is not None:
            self._log.close()
            self._log = None
        self._tmp.cleanup()

    def __enter__(self) -> "SimProcess":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class InProcessSim(_SimBase):
    """The simulator app running in the current event loop (fast unit-level tests).

    async with InProcessSim() as sim:
        sim.sim  # the `Sim` object itself (accounts, prices, faults ...)
    """

    def __init__(self, config: pathlib.Path | str = TEST_CONFIG, overrides: dict[str, Any] | None = None) -> None:
        from simulator.app import build_sim, create_app
        from simulator.config import load_config

        self.config_path = pathlib.Path(config)
        self.keys = read_keys(self.config_path)
        cfg = load_config(self.config_path)
        for name, value in (overrides or {}).items():
            setattr(cfg, name, value)
        self.sim = build_sim(cfg)
        self.app = create_app(cfg, self.sim)
        self._runner: Any = None

    async def __aenter__(self) -> "InProcessSim":
        from aiohttp import web

        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
