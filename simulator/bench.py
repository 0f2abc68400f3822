"""Benchmark: signed order requests per second the simulator sustains (REST and WebSocket API).

    scripts/bench-simulator [--seconds 5] [--concurrency 64] [--runs 3] [--out bench-simulator.json]

Starts `python -m simulator` as a child process (own config: HMAC keys, rate limits off, walk paused),
then drives it with HMAC-signed MARKET orders (BUY/SELL alternating, so balances never run out) from
this process, over REST (a lean pipelined HTTP/1.1 keep-alive client, one connection per account) and
over the WebSocket API (`order.place`, one connection per account, requests pipelined). Prints and
writes the figures (median of the runs): orders/s end to end, and orders per server CPU-second (the
server's own capacity, independent of the client and of other load on the machine).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import pathlib
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

import aiohttp
import orjson

REPO = pathlib.Path(__file__).resolve().parents[1]


def bench_config(accounts: int) -> str:
    lines = [
        "[simulator]",
        "seed = 1",
        "tick_interval = 0.25",
        "paused = true",
        "slippage_bps = 0",
        "",
        "[rate_limits.spot]",
        "enabled = false",
        "",
    ]
    for i in range(accounts):
        lines += [
            "[[accounts]]",
            f'id = "bench{i:02d}"',
            "[accounts.spot]",
            'USDT = "100000000"',
            'BTC = "1000"',
            "[[accounts.keys]]",
            f'api_key = "benchkey{i:02d}"',
            'type = "HMAC"',
            f'secret = "benchsecret{i:02d}"',
            "",
        ]
    return "\n".join(lines)


class Server:
    def __init__(self, accounts: int) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="sim-bench-")
        self.config = pathlib.Path(self.tmp.name) / "bench.toml"
        self.config.write_text(bench_config(accounts))
        self.port_file = pathlib.Path(self.tmp.name) / "port"
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0

    def start(self) -> None:
        env = dict(os.environ, PYTHONPATH=str(REPO))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "simulator", "--config", str(self.config), "--port", "0", "--port-file", str(self.port_file)],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 20
        while not (self.port_file.exists() and self.port_file.read_text().strip()):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("simulator did not start")
            time.sleep(0.02)
        self.port = int(self.port_file.read_text())

    def cpu_seconds(self) -> float:
        assert self.proc is not None
        with open(f"/proc/{self.proc.pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.tmp.cleanup()


def signed_query(secret: bytes, seq: int) -> str:
    side = "BUY" if seq % 2 == 0 else "SELL"
    q = f"symbol=BTCUSDT&side={side}&type=MARKET&quantity=0.001&newOrderRespType=ACK&timestamp={int(time.time() * 1000)}"
    return q + "&signature=" + hmac.new(secret, q.encode(), hashlib.sha256).hexdigest()


class _RestConn(asyncio.Protocol):
    """A lean HTTP/1.1 keep-alive client: `window` signed requests in flight (pipelined)."""

    def __init__(self, host: str, secret: bytes, api_key: str, window: int, stop_at: float, done: asyncio.Future[None]) -> None:
        self.host = host
        self.secret = secret
        self.api_key = api_key
        self.window = window
        self.stop_at = stop_at
        self.done = done
        self.buf = b""
        self.in_flight = 0
        self.seq = 0
        self.ok = 0
        self.errors = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        for _ in range(self.window):
            self.send()

    def send(self) -> None:
        self.seq += 1
        path = "/api/v3/order?" + signed_query(self.secret, self.seq)
        assert self.transport is not None
        self.transport.write(
            f"POST {path} HTTP/1.1\r\nHost: {self.host}\r\nX-MBX-APIKEY: {self.api_key}\r\nContent-Length: 0\r\n\r\n".encode()
        )
        self.in_flight += 1

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            total = end + 4 + length
            if len(self.buf) < total:
                return
            status = head[9:12]
            self.buf = self.buf[total:]
            self.in_flight -= 1
            if status == b"200":
                self.ok += 1
            else:
                self.errors += 1
            if time.monotonic() < self.stop_at:
                self.send()
            elif self.in_flight == 0 and not self.done.done():
                self.done.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


async def run_rest(port: int, accounts: int, seconds: float, concurrency: int) -> dict[str, Any]:
    """Signed REST orders over `accounts` keep-alive connections, concurrency/accounts in flight on each."""
    loop = asyncio.get_running_loop()
    stop_at = time.monotonic() + seconds
    window = max(1, concurrency // accounts)
    conns = []
    start = time.monotonic()
    for i in range(accounts):
        done: asyncio.Future[None] = loop.create_future()
        _, proto = await loop.create_connection(
            lambda i=i, done=done: _RestConn(
                f"127.0.0.1:{port}", f"benchsecret{i:02d}".encode(), f"benchkey{i:02d}", window, stop_at, done
            ),
            "127.0.0.1",
            port,
        )
        conns.append(proto)
    await asyncio.gather(*(c.done for c in conns))
    elapsed = time.monotonic() - start
    for c in conns:
        if c.transport is not None:
            c.transport.close()
    ok = sum(c.ok for c in conns)
    errors = sum(c.errors for c in conns)
    return {"ok": ok, "errors": errors, "seconds": round(elapsed, 3), "orders_per_second": round(ok / elapsed, 1)}


async def run_wsapi(port: int, accounts: int, seconds: float, concurrency: int) -> dict[str, Any]:
    ok = 0
    errors = 0
    stop_at = time.monotonic() + seconds
    per_conn = max(1, concurrency // accounts)
    async with aiohttp.ClientSession() as session:

        async def connection(i: int) -> None:
            nonlocal ok, errors
            secret = f"benchsecret{i:02d}".encode()
            api_key = f"benchkey{i:02d}"
            async with session.ws_connect(f"ws://127.0.0.1:{port}/ws-api/v3?returnRateLimits=false") as ws:
                seq = 0
                in_flight = 0

                def send_one() -> Any:
                    nonlocal seq, in_flight
                    seq += 1
                    params = {
                        "apiKey": api_key,
                        "newOrderRespType": "ACK",
                        "quantity": "0.001",
                        "side": "BUY" if seq % 2 == 0 else "SELL",
                        "symbol": "BTCUSDT",
                        "timestamp": int(time.time() * 1000),
                        "type": "MARKET",
                    }
                    payload = "&".join(f"{k}={v}" for k, v in params.items())  # already sorted by name
                    params["signature"] = hmac.new(secret, payload.encode(), hashlib.sha256).hexdigest()
                    in_flight += 1
                    return ws.send_str(orjson.dumps({"id": seq, "method": "order.place", "params": params}).decode())

                for _ in range(per_conn):
                    await send_one()
                async for msg in ws:
                    reply = orjson.loads(msg.data)
                    in_flight -= 1
                    if reply.get("status") == 200:
                        ok += 1
                    else:
                        errors += 1
                    if time.monotonic() < stop_at:
                        await send_one()
                    elif in_flight == 0:
                        break

        start = time.monotonic()
        await asyncio.gather(*(connection(i) for i in range(accounts)))
        elapsed = time.monotonic() - start
    return {"ok": ok, "errors": errors, "seconds": round(elapsed, 3), "orders_per_second": round(ok / elapsed, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench-simulator", description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--accounts", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--transport", choices=("rest", "wsapi", "both"), default="both")
    parser.add_argument("--out", default=str(REPO / "bench-simulator.json"))
    args = parser.parse_args(argv)
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    server = Server(args.accounts)
    server.start()
    results: dict[str, Any] = {
        "machine_cpus": os.cpu_count(),
        "seconds_per_run": args.seconds,
        "concurrency": args.concurrency,
        "accounts": args.accounts,
    }
    try:
        transports = ("rest", "wsapi") if args.transport == "both" else (args.transport,)
        for transport in transports:
            runs = []
            for _ in range(args.runs):
                cpu0 = server.cpu_seconds()
                fn = run_rest if transport == "rest" else run_wsapi
                run = asyncio.run(fn(server.port, args.accounts, args.seconds, args.concurrency))
                run["server_cpu_seconds"] = round(server.cpu_seconds() - cpu0, 3)
                run["orders_per_server_cpu_second"] = round(run["ok"] / max(run["server_cpu_seconds"], 1e-9), 1)
                runs.append(run)
                print(f"{transport}: {run}", flush=True)
            results[transport] = {
                "runs": runs,
                "median_orders_per_second": statistics.median(r["orders_per_second"] for r in runs),
                "median_orders_per_server_cpu_second": statistics.median(r["orders_per_server_cpu_second"] for r in runs),
            }
    finally:
        server.stop()
    pathlib.Path(args.out).write_text(json.dumps(results, indent=2) + "\n")
    summary = {t: results[t]["median_orders_per_second"] for t in ("rest", "wsapi") if t in results}
    capacity = {t: results[t]["median_orders_per_server_cpu_second"] for t in ("rest", "wsapi") if t in results}
    print(json.dumps({"signed_orders_per_second_median": summary, "orders_per_server_cpu_second_median": capacity, "out": args.out}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
