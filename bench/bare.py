"""The floor of this design on this machine: the bare pipeline, measured the way the benchmark is.

One publisher (ZeroMQ PUB over ipc, as the master listener) and N subscriber processes (uvloop,
the SUB socket's descriptor read with `loop.add_reader` and drained with NOBLOCK, as a slave). For
each event a subscriber decodes a typed msgspec message, sizes the order (Decimal, step rounding),
HMAC-signs the query and writes the request to one loopback TCP connection; a sink thread stamps
when each request's bytes were read. Nothing else: no reply, no user-data stream, no report, no
exchange. So it measures publish -> last of N requests written, and the CPU a process needs per
event for that alone (its ZeroMQ I/O thread included):

    python -m bench.bare --slaves 20 --events 300 [--out bare.json]

The figures are what `scripts/bench` is compared with in docs/bench/README.md: the same machine, in
the same minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import os
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from decimal import ROUND_DOWN, Decimal

import msgspec
import orjson
import zmq

from . import stats
from .memory import cpu_ns
from .setup import child_env


class Event(msgspec.Struct, array_like=True):
    seq: int
    t_ns: int
    symbol: str
    side: str
    qty: str


HEAD = 12  # request framing on the sink connection: length (4 bytes), sequence number (8, signed)
STEP = Decimal("0.001")


def subscriber(endpoint: str, port: int, ident: int) -> None:
    """One subscriber process: SUB -> decode -> size -> sign -> write, for every event."""
    import uvloop

    decode = msgspec.msgpack.Decoder(Event).decode
    secret = os.urandom(32)
    k = Decimal("1.37")

    async def main() -> None:
        loop = asyncio.get_running_loop()
        sub = zmq.Context.instance().socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(endpoint)
        _reader, writer = await asyncio.open_connection("127.0.0.1", port)

        def drain() -> None:
            while True:
                try:
                    raw = sub.recv(zmq.NOBLOCK)
                except zmq.Again:
                    return
                ev = decode(raw)
                qty = (Decimal(ev.qty) * k).quantize(STEP, rounding=ROUND_DOWN)
                query = (
                    f"symbol={ev.symbol}&side={ev.side}&type=MARKET&quantity={qty}"
                    f"&newClientOrderId=b{ident}-{ev.seq}&timestamp={time.time_ns() // 1_000_000}"
                )
                sig = hmac.new(secret, query.encode(), hashlib.sha256).hexdigest()
                body = f"{query}&signature={sig}".encode()
                writer.write(len(body).to_bytes(4, "big") + ev.seq.to_bytes(8, "big", signed=True) + body)

        loop.add_reader(sub.getsockopt(zmq.FD), drain)
        drain()
        print("ready", flush=True)
        await asyncio.Event().wait()

    uvloop.run(main())


class Sink:
    """Accepts the subscribers' connections; stamps (time.monotonic_ns) each request's arrival."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0), backlog=256)
        self.port = self.server.getsockname()[1]
        self.arrivals: dict[int, list[int]] = {}
        self.lock = threading.Lock()
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self.server, selectors.EVENT_READ)
        buffers: dict[socket.socket, bytes] = {}
        while True:
            for key, _ in sel.select():
                if key.fileobj is self.server:
                    conn, _addr = self.server.accept()
                    sel.register(conn, selectors.EVENT_READ)
                    buffers[conn] = b""
                    continue
                conn = key.fileobj  # type: ignore[assignment]
                data = conn.recv(1 << 16)
                t = time.monotonic_ns()
                if not data:
                    sel.unregister(conn)
                    continue
                buf = buffers[conn] + data
                while len(buf) >= HEAD:
                    n = int.from_bytes(buf[:4], "big")
                    if len(buf) < HEAD + n:
                        break
                    seq = int.from_bytes(buf[4:HEAD], "big", signed=True)
                    with self.lock:
                        self.arrivals.setdefault(seq, []).append(t)
                    buf = buf[HEAD + n :]
                buffers[conn] = buf

    def count(self, seq: int) -> int:
        with self.lock:
            return len(self.arrivals.get(seq, ()))


def run(slaves: int, events: int, warmup: int = 20, gap_s: float = 0.02) -> dict[str, object]:
    workdir = tempfile.mkdtemp(prefix="ctb-bare-")
    endpoint = f"ipc://{workdir}/pub.ipc"
    pub = zmq.Context.instance().socket(zmq.PUB)
    pub.bind(endpoint)
    sink = Sink()
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "bench.bare", "--child", endpoint, str(sink.port), str(i)],
            stdout=subprocess.PIPE,
            text=True,
            env=child_env(),
        )
        for i in range(slaves)
    ]
    encode = msgspec.msgpack.Encoder().encode
    try:
        for p in procs:
            assert p.stdout is not None
            if p.stdout.readline().strip() != "ready":
                raise RuntimeError("a subscriber did not start")

        def publish(seq: int, wait_s: float = 5.0) -> int:
            t = time.monotonic_ns()
            pub.send(encode(Event(seq, t, "BTCUSDT", "BUY", "0.010")))
            deadline = time.monotonic() + wait_s
            while sink.count(seq) < slaves and time.monotonic() < deadline:
                time.sleep(0.0002)
            time.sleep(gap_s)
            return t

        # ZeroMQ's slow joiner: the first event again until every subscriber hears it, then warm up
        deadline = time.monotonic() + 30
        while sink.count(-warmup) < slaves:
            if time.monotonic() > deadline:
                raise RuntimeError("the subscribers did not all receive the publisher's events")
            publish(-warmup, wait_s=0.1)
        for s in range(-warmup + 1, 0):
            publish(s)
        cpu0 = [cpu_ns(p.pid) for p in procs]
        sent = {s: publish(s) for s in range(events)}
        cpu1 = [cpu_ns(p.pid) for p in procs]
    finally:
        for p in procs:
            p.kill()
            p.wait()
        pub.close(linger=0)
        shutil.rmtree(workdir, ignore_errors=True)
    with sink.lock:
        last = [(max(sink.arrivals[s]) - t) / 1000 for s, t in sent.items() if len(sink.arrivals.get(s, ())) == slaves]
    fan = stats.summarize(last)
    return {
        "slaves": slaves,
        "events": events,
        "complete_events": len(last),
        "fanout_last_p50_us": fan.p50,
        "fanout_last_p99_us": fan.p99,
        "cpu_per_event_us": round(stats.median((b - a) / 1000 / events for a, b in zip(cpu0, cpu1, strict=False)) or 0, 1),
        "load_avg": list(os.getloadavg()),
    }


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["--child"]:
        subscriber(args[1], int(args[2]), int(args[3]))
        return 0
    ap = argparse.ArgumentParser(prog="python -m bench.bare", description=__doc__.splitlines()[0])
    ap.add_argument("--slaves", type=int, default=20)
    ap.add_argument("--events", type=int, default=300)
    ap.add_argument("--out", default=None)
    opts = ap.parse_args(args)
    result = run(opts.slaves, opts.events)
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())
    if opts.out:
        with open(opts.out, "wb") as fh:
            fh.write(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
