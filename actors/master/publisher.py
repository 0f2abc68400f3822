"""The master's outgoing side: sequencing + PUB socket, and the snapshot ROUTER (no exchange I/O).

`Publisher` numbers every published fill, snapshot and config change 1, 2, 3 ... within its epoch
(protocol/messages.py "Sequencing"); a heartbeat carries the last number used. A message is numbered
only once it was built and validated, so a message that fails validation never leaves a gap.

`SnapshotServer` answers `SnapshotRequest`s on a ROUTER socket. Clients may be REQ (envelope
[identity, b"", body]) or DEALER ([identity, body]): the reply reuses the request's envelope.
Malformed requests get an `Error` reply (with the request's id when it can be read), are counted,
and never raise.
"""
from __future__ import annotations

import logging
import secrets
from collections.abc import Callable

import msgspec
import zmq

from protocol.codec import MAX_SNAPSHOT_REQUEST, decode_snapshot_request, encode, pack_master_event
from protocol.errors import ErrorCode, ProtocolError
from protocol.messages import Error, Market, MasterEvent, PositionSnapshot, SnapshotReply, SnapshotRequest

from ..base import ZmqReader, kick_after_send

log = logging.getLogger("copytrader.master")

PUB_HWM = 100_000


def new_epoch() -> int:
    """A random, positive 63-bit publisher session id."""
    return secrets.randbits(63) | 1


class Publisher:
    """Numbers and sends master events on a PUB socket (never blocks: PUB drops at its HWM)."""

    def __init__(self, sock: zmq.Socket, market: Market, epoch: int | None = None) -> None:
        self.sock = sock
        self.market: Market = market
        self.epoch = epoch if epoch is not None else new_epoch()
        self.seq = 0  # last number used
        self.sent = 0
        self.dropped = 0

    def publish(self, build: Callable[[int], MasterEvent]) -> MasterEvent:
        """`build(seq)` makes the message with the next number; it is consumed only if building
        succeeds. Returns the message sent."""
        msg = build(self.seq + 1)
        self.seq += 1
        self.send(msg)
        return msg

    def send(self, msg: MasterEvent) -> None:
        """Send without numbering (heartbeats)."""
        topic, body = pack_master_event(msg)
        try:
            self.sock.send_multipart((topic, body), zmq.NOBLOCK)
            self.sent += 1
        except zmq.Again:
            self.dropped += 1


class SnapshotServer:
    """ROUTER socket answering SnapshotRequest(id, market) with the current snapshot."""

    def __init__(self, sock: zmq.Socket, market: Market, snapshot: Callable[[], PositionSnapshot | None]) -> None:
        self.sock = sock
        self.market: Market = market
        self.snapshot = snapshot  # None while the master has no state yet
        self.reader = ZmqReader(sock, self.on_frames, name="snapshot router")
        self.answered = 0
        self.errors = 0

    def start(self) -> None:
        self.reader.start()

    def stop(self) -> None:
        self.reader.stop()

    def on_frames(self, frames: list[bytes]) -> None:
        if len(frames) < 2:
            self.errors += 1
            if frames:
                self._send([frames[0]], Error(id=0, code=ErrorCode.BAD_FRAMES, reason="no request body"))
            return
        envelope, body = frames[:-1], frames[-1]
        try:
            request = decode_snapshot_request(body)
        except ProtocolError as exc:
            self.errors += 1
            self._send(envelope, Error(id=_guess_id(body), code=exc.code, reason=exc.reason[:300]))
            return
        self._send(envelope, self.answer(request))

    def answer(self, request: SnapshotRequest) -> SnapshotReply | Error:
        if request.market != self.market:
            self.errors += 1
            return Error(id=request.id, code=ErrorCode.WRONG_MARKET,
                         reason=f"this master follows {self.market}, not {request.market}")
        try:
            snap = self.snapshot()
        except Exception:  # a bug must not kill the socket: report it
            log.exception("snapshot for a request failed")
            self.errors += 1
            return Error(id=request.id, code=ErrorCode.INTERNAL, reason="snapshot failed")
        if snap is None:
            return Error(id=request.id, code=ErrorCode.NOT_READY, reason="master has no state yet")
        self.answered += 1
        return SnapshotReply(id=request.id, snapshot=snap)

    def _send(self, envelope: list[bytes], reply: SnapshotReply | Error) -> None:
        try:
            self.sock.send_multipart([*envelope, encode(reply)], zmq.NOBLOCK)
        except zmq.ZMQError as exc:  # peer gone / HWM: the client times out and asks again
            log.warning("snapshot reply not sent", extra={"fields": {"error": type(exc).__name__}})
        kick_after_send(self.reader)


def _guess_id(body: bytes) -> int:
    """The `id` of a request that failed validation, if the body is a msgpack map holding one."""
    if len(body) > MAX_SNAPSHOT_REQUEST:
        return 0
    try:
        raw = msgspec.msgpack.decode(body)
    except (msgspec.DecodeError, ValueError, TypeError, RecursionError):
        return 0
    if isinstance(raw, dict):
        value = raw.get("id")
        if isinstance(value, int) and 0 <= value <= 2**63 - 1:
            return value
    return 0
