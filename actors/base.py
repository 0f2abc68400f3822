"""What every actor process shares: runtime directory, ZeroMQ sockets driven from the uvloop loop,
structured logging, and a lifecycle that stops cleanly on SIGTERM/SIGINT.

ZeroMQ on the hot path: the socket's `zmq.FD` is registered with `loop.add_reader`, and each wake-up
drains the socket with NOBLOCK until `zmq.Again`. The FD is edge-triggered, so after draining we check
`zmq.EVENTS` again before going back to sleep (a message may have arrived while we worked). Measured
here, `zmq.asyncio` costs about twice the CPU per message.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import stat
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import zmq

from protocol.endpoints import (
    Endpoints as Endpoints,  # re-exported: actors import it from here
    ipc_endpoint as ipc_endpoint,
)

# Plain ints: `int & zmq.POLLIN` goes through enum.Flag (a new PollEvent member each time), ~3 us
# per test on the hot path, seen in profiles of a slave.
_EVENTS = int(zmq.EVENTS)
_POLLIN = int(zmq.POLLIN)

log = logging.getLogger("copytrader")

Frames = list[bytes]


# ---------------------------------------------------------------------------------------------------
# runtime directory (the endpoints themselves: protocol/endpoints.py)


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (and parents) with mode 0700 and insist on it: only our user may reach the
    ipc:// endpoints inside. An existing directory with wider permissions is tightened."""
    path.mkdir(parents=True, exist_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode != 0o700:
        os.chmod(path, 0o700)
    return path


# ---------------------------------------------------------------------------------------------------
# ZeroMQ driven by the event loop


class ZmqReader:
    """Calls `handler(frames)` for every multipart message on `sock`, from the running loop.

    The handler runs synchronously inside the reader callback: keep it short and schedule any
    awaiting work yourself. An exception in the handler is logged and counted, never fatal.
    """

    def __init__(self, sock: zmq.Socket, handler: Callable[[Frames], None], name: str = "") -> None:
        self.sock = sock
        self.handler = handler
        self.name = name or "zmq"
        self.errors = 0
        self.received = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._fd = sock.getsockopt(zmq.FD)

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._fd, self._drain)
        # Messages may already be queued: the edge has passed, so drain once now.
        self._loop.call_soon(self._drain)

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.remove_reader(self._fd)
            self._loop = None

    def _drain(self) -> None:
        sock = self.sock
        recv = sock.recv_multipart
        events = sock.getsockopt
        # Edge-triggered FD: read while ZMQ_EVENTS says a message is ready (reading ZMQ_EVENTS also
        # re-arms the FD). Asking first costs less than letting a NOBLOCK recv raise zmq.Again.
        while True:
            try:
                if not events(_EVENTS) & _POLLIN:
                    return
                frames = recv(zmq.NOBLOCK)
            except zmq.Again:
                continue
            except zmq.ZMQError as exc:  # socket closed under us
                if exc.errno == zmq.ENOTSOCK:
                    return
                raise
            self.received += 1
            try:
                self.handler(frames)
            except Exception:  # one bad message never kills the actor
                self.errors += 1
                log.exception("handler for %s failed", self.name)


def kick_after_send(reader: ZmqReader | None) -> None:
    """After sending on a socket that also receives (DEALER/ROUTER), the edge may have been consumed
    by the send: schedule a drain so incoming messages are not left waiting."""
    if reader is not None and reader._loop is not None:
        reader._loop.call_soon(reader._drain)


# ---------------------------------------------------------------------------------------------------
# logging


class StructuredFormatter(logging.Formatter):
    """`2026-11-22T02:29:04.123Z actor LEVEL event key=value ...` — one line per record."""

    def __init__(self, actor: str) -> None:
        super().__init__()
        self.actor = actor

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        ms = int(record.msecs)
        msg = record.getMessage()
        fields = getattr(record, "fields", None)
        if fields:
            msg += " " + " ".join(f"{k}={v}" for k, v in fields.items())
        line = f"{ts}.{ms:03d}Z {self.actor} {record.levelname} {msg}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        elif record.exc_text:  # the redaction filter turns exc_info into redacted text
            line += "\n" + record.exc_text
        return line


def setup_logging(actor: str, level: str = "INFO") -> None:
    """Log structured lines to stdout (supervisord writes each program's stdout to its own file).
    Every record is redacted when it is created (`keystore.redact.install`): registered secrets
    never reach a line, a traceback included."""
    from actors.binance import agent
    from keystore import redact

    agent.set_actor(actor)  # User-Agent `copytrader/<version> (<actor>)`: the actor's own requests
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(StructuredFormatter(actor))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    redact.install()
    handler.addFilter(redact.RedactingFilter())


# ---------------------------------------------------------------------------------------------------
# lifecycle


def run(main: Callable[[asyncio.Event], Awaitable[int | None]]) -> int:
    """Run `main(stop_event)` on uvloop; SIGTERM/SIGINT set the event. Returns the exit code."""
    import uvloop

    async def wrapper() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        code = await main(stop)
        return int(code or 0)

    return uvloop.run(wrapper())


def settle_gc(young_threshold: int = 20_000) -> None:
    """Call once an actor has started: collect, then move every object alive now (modules, config,
    clients, filters) to the permanent generation, so no collection scans them again, and collect
    young objects less often. Measured here: a full collection of a started slave's ~40k objects
    took 25-100 ms, and the default thresholds ran young collections every few events, about a
    third of a slave's CPU per mirrored order. Reference cycles are still collected."""
    import gc

    gc.collect()
    gc.freeze()
    _, g1, g2 = gc.get_threshold()
    gc.set_threshold(young_threshold, g1, g2)


def monotonic_ns() -> int:
    """Stamps shared across processes on Linux (CLOCK_MONOTONIC)."""
    return time.monotonic_ns()
