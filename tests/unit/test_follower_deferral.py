"""A follower's bookkeeping waits until its copies are written: the user-data stream's frames are
read and delivered together after `defer_s`, and reports leave together after REPORT_DELAY_S."""
from __future__ import annotations

import zmq

from actors import slave as slave_mod
from actors.binance.userdata import FuturesUserStream
from actors.slave import Reporter
from actors.usdm import USER_STREAM_DEFER_S
from protocol import codec
from protocol.messages import Heartbeat
from tests.helpers.wait import aeventually


class FakeWs:
    def __init__(self) -> None:
        self.paused = 0
        self.resumed = 0

    def pause_reading(self) -> None:
        self.paused += 1

    def resume_reading(self) -> None:
        self.resumed += 1


def _stream(defer_s: float, delivered: list[bytes]) -> tuple[FuturesUserStream, FakeWs]:
    s = FuturesUserStream(None, "ws://127.0.0.1:1", delivered.append, lambda state: None,  # type: ignore[arg-type]
                          defer_s=defer_s)
    ws = FakeWs()
    s._ws = ws  # type: ignore[assignment]
    return s, ws


async def test_without_deferral_each_frame_is_delivered_at_once() -> None:
    delivered: list[bytes] = []
    s, ws = _stream(0.0, delivered)
    s._on_frame(b"a")
    assert delivered == [b"a"] and ws.paused == 0


async def test_frames_within_the_deferral_are_delivered_together_in_order_then_reading_resumes() -> None:
    delivered: list[bytes] = []
    s, ws = _stream(0.05, delivered)
    s._on_frame(b"new")
    s._on_frame(b"trade")
    s._on_frame(b"account")
    assert delivered == [] and ws.paused == 1  # one pause for the whole batch

    async def done() -> bool:
        return bool(delivered)

    await aeventually(done, timeout=5, what="deferred delivery")
    assert delivered == [b"new", b"trade", b"account"] and ws.resumed == 1
    s._on_frame(b"next")  # a new batch starts a new deferral
    assert delivered == [b"new", b"trade", b"account"] and ws.paused == 2
    s._deliver_deferred()
    assert delivered[-1] == b"next" and s._defer_timer is None


async def test_stop_delivers_what_was_deferred() -> None:
    delivered: list[bytes] = []
    s, ws = _stream(60.0, delivered)
    s._on_frame(b"trade")
    s._ws = None  # already gone: stop has no connection to close
    await s.stop()
    assert delivered == [b"trade"] and ws.resumed == 1 and s._defer_timer is None


async def test_a_failing_handler_does_not_lose_the_frames_after_it() -> None:
    delivered: list[bytes] = []

    def on_event(raw: bytes) -> None:
        if raw == b"bad":
            raise ValueError("bad event")
        delivered.append(raw)

    s = FuturesUserStream(None, "ws://127.0.0.1:1", on_event, lambda state: None, defer_s=60.0)  # type: ignore[arg-type]
    s._on_frame(b"bad")
    s._on_frame(b"good")
    s._deliver_deferred()
    assert delivered == [b"good"] and s.handler_errors == 1


def test_the_slaves_stream_defers_and_the_masters_does_not() -> None:
    import inspect

    from actors import master_usdm

    assert 0 < USER_STREAM_DEFER_S <= 0.05
    assert "defer_s" not in inspect.getsource(master_usdm)  # the master publishes at once


class FakeSocket:
    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def send(self, body: bytes, flags: int = 0) -> None:
        self.sent.append(body)


def _hb(seq: int) -> Heartbeat:
    return Heartbeat(market="usdm", epoch=1, seq=seq, t_ns=seq, connected=True)


async def test_reports_made_within_the_delay_leave_together() -> None:
    sock = FakeSocket()
    r = Reporter(sock)  # type: ignore[arg-type]
    r(_hb(1))
    r(_hb(2))
    assert sock.sent == []

    async def sent() -> bool:
        return len(sock.sent) == 2

    await aeventually(sent, timeout=5, what="reports sent")
    assert [codec.decode_master_event(b).seq for b in sock.sent] == [1, 2]  # type: ignore[union-attr]
    assert r.sent == 2 and 0 < slave_mod.REPORT_DELAY_S <= 0.05


async def test_flush_sends_pending_reports_at_once() -> None:
    sock = FakeSocket()
    r = Reporter(sock)  # type: ignore[arg-type]
    r(_hb(1))
    r.flush()
    assert len(sock.sent) == 1 and r._timer is None


def test_outside_a_loop_a_report_is_sent_at_once() -> None:
    sock = FakeSocket()
    Reporter(sock)(_hb(1))  # type: ignore[arg-type]
    assert len(sock.sent) == 1


def test_a_full_queue_drops_and_counts() -> None:
    class Full(FakeSocket):
        def send(self, body: bytes, flags: int = 0) -> None:
            raise zmq.Again()

    r = Reporter(Full())  # type: ignore[arg-type]
    r(_hb(1))
    assert r.dropped == 1 and r.sent == 0

