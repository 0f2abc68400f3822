"""Helpers for the master actor's integration tests (no tests here): a deployment directory with a
test keystore and config, the actor as a subprocess, a SUB collector and a snapshot client."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import zmq

from actors.base import Endpoints
from actors.binance.rest import RestClient
from actors.binance.signing import make_signer
from keystore import Keystore
from keystore.crypto import KdfParams
from protocol.codec import decode_snapshot_reply, encode, unpack_master_event
from protocol.messages import AccountConfigChanged, Heartbeat, MasterEvent, MasterFill, PositionSnapshot, SnapshotReplyMsg, SnapshotRequest
from protocol.topics import master_prefix
from tests.helpers.sim import REPO, SimKey, SimProcess
from tests.helpers.wait import eventually

PASSPHRASE = "master test passphrase"


class Deployment:
    """A temporary deployment: keystore holding the master's HMAC key, config pointing at `sim`.
    The runtime dir lives under /tmp with a short name (ipc paths must stay under 107 bytes)."""

    def __init__(self, sim: SimProcess, market: str = "usdm", snapshot_interval_s: float = 30.0, key_type: str = "HMAC") -> None:
        self.sim = sim
        self.market = market
        self.dir = Path(tempfile.mkdtemp(prefix="mst-"))
        self.key = sim.key("master", key_type)
        secret = self.key.secret if key_type == "HMAC" else self.key.private_key
        with Keystore.create(self.dir / "ks", PASSPHRASE, kdf=KdfParams.cheap(), register_redaction=False) as ks:
            ks.put("master", key_type.lower(), self.key.api_key, secret or "")
        self.config = self.dir / "copytrader.toml"
        self.config.write_text(
            f'[exchange]\nnetwork = "simulator"\nurl = "{sim.http_url}"\n\n'
            f'[paths]\nruntime_dir = "run"\nstate_dir = "var"\nlog_dir = "logs"\n\n'
            f'[keystore]\ndir = "ks"\n\n'
            f'[masters.{market}]\naccount = "master"\nsnapshot_interval_s = {snapshot_interval_s}\n'
        )
        self.endpoints = Endpoints(self.dir / "run")
        self.procs: list[subprocess.Popen[bytes]] = []
        self.log_path = self.dir / "master.log"

    def start_master(self, *extra: str) -> subprocess.Popen[bytes]:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env["COPYTRADER_PASSPHRASE"] = PASSPHRASE
        log = open(self.log_path, "ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", "actors.master", "--config", str(self.config), "--market", self.market, "--poll-s", "0.5", *extra],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.procs.append(proc)
        return proc

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-6000:]
        except OSError:
            return ""

    def assert_clean_log(self) -> None:
        """No ERROR line and no traceback in the actor's output."""
        text = self.log_path.read_text(errors="replace")
        assert " ERROR " not in text and "Traceback" not in text, text[-4000:]

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=5)
        shutil.rmtree(self.dir, ignore_errors=True)


class Subscriber:
    """A SUB socket on the master's PUB; `poll()` drains what has arrived into `events`."""

    def __init__(self, ctx: zmq.Context, endpoints: Endpoints, market: str) -> None:
        self.sock = ctx.socket(zmq.SUB)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.setsockopt(zmq.RECONNECT_IVL, 10)  # join a (re)started master quickly
        self.sock.setsockopt(zmq.SUBSCRIBE, master_prefix(market))  # type: ignore[arg-type]
        self.sock.connect(endpoints.master_pub(market))
        self.events: list[MasterEvent] = []

    def poll(self) -> list[MasterEvent]:
        while True:
            try:
                frames = self.sock.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return self.events
            self.events.append(unpack_master_event(frames))

    def of(self, kind: type) -> list[Any]:
        self.poll()
        return [e for e in self.events if isinstance(e, kind)]

    def fills(self) -> list[MasterFill]:
        return self.of(MasterFill)

    def snapshots(self) -> list[PositionSnapshot]:
        return self.of(PositionSnapshot)

    def configs(self) -> list[AccountConfigChanged]:
        return self.of(AccountConfigChanged)

    def heartbeats(self) -> list[Heartbeat]:
        return self.of(Heartbeat)

    def wait_for(self, kind: type, pred: Callable[[Any], bool] = lambda e: True, timeout: float = 15.0, what: str = "") -> Any:
        def check() -> Any:
            found = [e for e in self.of(kind) if pred(e)]
            return found[-1] if found else None

        return eventually(check, timeout=timeout, what=what or f"a {kind.__name__}")

    def close(self) -> None:
        self.sock.close(0)


def request_snapshot(
    ctx: zmq.Context, endpoints: Endpoints, market: str, body: bytes | None = None, request_id: int = 7, timeout_ms: int = 5000
) -> SnapshotReplyMsg:
    """One request on a fresh DEALER (an unknown market / raw body when given)."""
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoints.master_snapshot(market))
    try:
        payload = body if body is not None else encode(SnapshotRequest(id=request_id, market=market))  # type: ignore[arg-type]
        sock.send(payload)
        if not sock.poll(timeout_ms):
            raise AssertionError("no snapshot reply")
        return decode_snapshot_reply(sock.recv())
    finally:
        sock.close(0)


def rest_client(sim: SimProcess, key: SimKey) -> RestClient:
    secret = key.secret if key.type == "HMAC" else key.private_key
    return RestClient(sim.http_url, make_signer(key.type, key.api_key, secret or ""))


def seqs_gapless(events: list[MasterEvent]) -> bool:
    """Numbered events of one epoch are 1, 2, 3 ... with no gap or repeat."""
    numbered = [e.seq for e in events if not isinstance(e, Heartbeat)]
    return numbered == list(range(numbered[0], numbered[0] + len(numbered))) if numbered else True


def as_builtins(obj: Any) -> Any:
    return msgspec.to_builtins(obj)
