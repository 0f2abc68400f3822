"""The master's outgoing side: sequencing + PUB socket, and the snapshot ROUTER (no exchange I/O).

`Publisher` numbers every published fill, snapshot and config change 1, 2, 3 ... within its epoch
(protocol/messages.py "Sequencing"); a heartbeat carries the last number used. A message is numbered
only once it was built and validated, so a message that fails validation never leaves a gap.

`Publishing` is the shell's side of it: what an adapter's outputs ask for, validated, numbered
and logged.

`SnapshotServer` answers `SnapshotRequest`s on a ROUTER socket. Clients may be REQ (envelope
[identity, b"", body]) or DEALER ([identity, body]): the reply reuses the request's envelope.
Malformed requests get an `Error` reply (with the request's id when it can be read), are counted,
and never raise.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import Any

import msgspec
import zmq

from protocol.codec import MAX_SNAPSHOT_REQUEST, decode_snapshot_request, encode, pack_master_event
from protocol.errors import ErrorCode, ProtocolError
from protocol.messages import (
    AccountConfigChanged,
    AlgoAction,
    ConditionalOrder,
    Error,
    Market,
    MasterAlgoOrder,
    MasterEvent,
    MasterFill,
    MasterOrder,
    OrderAction,
    PositionSnapshot,
    RestingOrder,
    SnapshotReason,
    SnapshotReply,
    SnapshotRequest,
)

from ..base import ZmqReader, kick_after_send, monotonic_ns
from .state import symbol_ok

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
            return Error(id=request.id, code=ErrorCode.WRONG_MARKET, reason=f"this master follows {self.market}, not {request.market}")
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


_FILL_STATUSES = ("PARTIALLY_FILLED", "FILLED")


class Publishing:
    """What `MasterActor` (shell.py) publishes at its adapters' request: fills, config changes and
    snapshots, each validated, numbered by the `Publisher` and logged (one INFO line per fill).

    Needs of the class that mixes it in: `pub`, `market`, `adapter`, the counters below, and
    `_started_snapshot`."""

    pub: Publisher | None
    market: Market
    adapter: Any
    fills_published: int
    orders_published: int
    snapshots_published: int
    handler_errors: int
    _started_snapshot: bool

    @property
    def seq(self) -> int:
        return self.pub.seq if self.pub is not None else 0

    @property
    def epoch(self) -> int:
        return self.pub.epoch if self.pub is not None else 0

    def publish_fill(self, **fields: Any) -> MasterFill | None:
        """Build, number and send one MasterFill (`t_master_pub_ns` stamped here)."""
        assert self.pub is not None
        if not symbol_ok(fields["symbol"]):
            self.handler_errors += 1
            log.error("fill of a symbol the protocol cannot carry", extra={"fields": {"symbol": fields["symbol"]}})
            return None
        status = fields.get("status")
        if status not in _FILL_STATUSES:
            fields["status"] = "FILLED" if fields["cum_qty"] >= fields.get("order_qty", fields["cum_qty"]) else "PARTIALLY_FILLED"
        try:
            msg = self.pub.publish(
                lambda seq: MasterFill(
                    market=self.market,
                    epoch=self.pub.epoch,
                    seq=seq,  # type: ignore[union-attr]
                    t_master_pub_ns=monotonic_ns(),
                    **fields,
                )
            )
        except (ValueError, TypeError) as exc:
            # The fill does not fit the protocol (e.g. a symbol outside its pattern). Our state
            # has it; only the publication is impossible, so no rebuild: say which and go on.
            self.handler_errors += 1
            log.error(
                "fill not publishable",
                extra={"fields": {"symbol": fields.get("symbol"), "trade_id": fields.get("trade_id"), "error": str(exc)[:200]}},
            )
            return None
        self.fills_published += 1
        assert isinstance(msg, MasterFill)
        log.info(
            "fill",
            extra={
                "fields": {
                    "seq": msg.seq,
                    "symbol": msg.symbol,
                    "ps": msg.position_side,
                    "side": msg.side,
                    "qty": msg.qty,
                    "price": msg.price,
                    "before": msg.position_before,
                    "after": msg.position_after,
                    "order_id": msg.order_id,
                    "trade_id": msg.trade_id,
                }
            },
        )
        return msg

    def publish_order(self, action: OrderAction, order: RestingOrder, **fields: Any) -> MasterOrder | None:
        """Build, number and send one MasterOrder (a resting order placed, amended, canceled...)."""
        assert self.pub is not None
        if not symbol_ok(order.symbol):
            return None  # a symbol the protocol cannot carry (its fills are not published either)
        try:
            msg = self.pub.publish(
                lambda seq: MasterOrder(
                    market=self.market,
                    epoch=self.pub.epoch,  # type: ignore[union-attr]
                    seq=seq,
                    action=action,
                    order=order,
                    t_master_pub_ns=monotonic_ns(),
                    **fields,
                )
            )
        except (ValueError, TypeError) as exc:
            self.handler_errors += 1
            log.error("order not publishable", extra={"fields": {"order_id": order.order_id, "error": str(exc)[:200]}})
            return None
        self.orders_published += 1
        assert isinstance(msg, MasterOrder)
        log.info(
            "order",
            extra={
                "fields": {
                    "seq": msg.seq,
                    "action": action,
                    "symbol": order.symbol,
                    "ps": order.position_side,
                    "side": order.side,
                    "type": order.order_type,
                    "price": order.price,
                    "qty": order.orig_qty,
                    "filled": order.cum_qty,
                    "order_id": order.order_id,
                }
            },
        )
        return msg

    def publish_algo_order(self, action: AlgoAction, order: ConditionalOrder, **fields: Any) -> MasterAlgoOrder | None:
        """Build, number and send one MasterAlgoOrder (a conditional order placed, triggered...)."""
        assert self.pub is not None
        if not symbol_ok(order.symbol):
            return None
        try:
            msg = self.pub.publish(
                lambda seq: MasterAlgoOrder(
                    market=self.market,
                    epoch=self.pub.epoch,  # type: ignore[union-attr]
                    seq=seq,
                    action=action,
                    order=order,
                    t_master_pub_ns=monotonic_ns(),
                    **fields,
                )
            )
        except (ValueError, TypeError) as exc:
            self.handler_errors += 1
            log.error("algo order not publishable", extra={"fields": {"algo_id": order.algo_id, "error": str(exc)[:200]}})
            return None
        self.orders_published += 1
        assert isinstance(msg, MasterAlgoOrder)
        log.info(
            "algo order",
            extra={
                "fields": {
                    "seq": msg.seq,
                    "action": action,
                    "symbol": order.symbol,
                    "ps": order.position_side,
                    "side": order.side,
                    "type": order.order_type,
                    "trigger": order.trigger_price,
                    "callback": order.callback_rate,
                    "activate": order.activate_price,
                    "qty": "close-all" if order.close_position else order.quantity,
                    "algo_id": order.algo_id,
                    "actual_order_id": order.actual_order_id,
                }
            },
        )
        return msg

    def publish_config(self, **fields: Any) -> None:
        assert self.pub is not None
        if fields.get("symbol") is not None and not symbol_ok(fields["symbol"]):
            return  # a symbol the protocol cannot carry (its fills are not published either)
        try:
            msg = self.pub.publish(lambda seq: AccountConfigChanged(market=self.market, epoch=self.pub.epoch, seq=seq, **fields))  # type: ignore[union-attr]
        except (ValueError, TypeError) as exc:
            self.handler_errors += 1
            log.error("config change not publishable", extra={"fields": {"symbol": fields.get("symbol"), "error": str(exc)[:200]}})
            return
        log.info(
            "account config changed",
            extra={"fields": {k: v for k, v in fields.items() if v is not None and not k.startswith("t_")} | {"seq": msg.seq}},
        )

    def publish_snapshot(self, reason: SnapshotReason) -> PositionSnapshot:
        assert self.pub is not None
        msg = self.pub.publish(lambda seq: self._snapshot(seq, reason))
        self.snapshots_published += 1
        assert isinstance(msg, PositionSnapshot)
        if reason != "periodic":
            log.info(
                "snapshot published",
                extra={"fields": {"reason": reason, "seq": msg.seq, "positions": len(msg.positions), "equity": msg.equity}},
            )
        return msg

    def current_snapshot(self) -> PositionSnapshot | None:
        """For a snapshot request: the state now, `seq` = last published (None before any state)."""
        if not self._started_snapshot or not self.adapter.ready:
            return None
        return self._snapshot(self.seq, "request")

    def _snapshot(self, seq: int, reason: SnapshotReason) -> PositionSnapshot:
        return PositionSnapshot(
            market=self.market, epoch=self.epoch, seq=seq, reason=reason, t_ns=monotonic_ns(), **self.adapter.snapshot_fields()
        )
