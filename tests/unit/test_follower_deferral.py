"""A follower's bookkeeping waits until its copies are written: `Later` runs it in one batch; the
user-data stream, held (not read) from an order's sending, is delivered and read again in it.
Reports: tests/unit/test_bench_hotpath.py."""
from __future__ import annotations

from actors import slave as slave_mod
from actors.base import Later
from actors.binance.userdata import FuturesUserStream
from tests.helpers.wait import aeventually


class FakeWs:
    def __init__(self) -> None:
        self.paused = 0
        self.resumed = 0

    def pause_reading(self) -> None:
        self.paused += 1

    def resume_reading(self) -> None:
        self.resumed += 1


def _stream(delay_s: float | None, delivered: list[bytes]) -> tuple[FuturesUserStream, FakeWs]:
    later = Later(delay_s) if delay_s is not None else None
    s = FuturesUserStream(None, "ws://127.0.0.1:1", delivered.append, lambda state: None,  # type: ignore[arg-type]
                          later=later)
    ws = FakeWs()
    s._ws = ws  # type: ignore[assignment]
    return s, ws


async def test_without_later_a_hold_does_nothing_and_each_frame_is_delivered_at_once() -> None:
    delivered: list[bytes] = []
    s, ws = _stream(None, delivered)
    s.hold()
    s._on_frame(b"a")
    assert delivered == [b"a"] and ws.paused == 0


async def test_unheld_frames_are_delivered_at_once() -> None:
    delivered: list[bytes] = []
    s, ws = _stream(60.0, delivered)
    s._on_frame(b"liquidation")
    assert delivered == [b"liquidation"] and ws.paused == 0


async def test_held_frames_are_delivered_together_in_order_with_the_batch_then_reading_resumes() -> None:
    delivered: list[bytes] = []
    s, ws = _stream(0.05, delivered)
    s.hold()
    s.hold()  # a burst: the second order joins the same hold
    s._on_frame(b"new")  # frames of a chunk read before the hold took effect
    s._on_frame(b"trade")
    s._on_frame(b"account")
    assert delivered == [] and ws.paused == 1 and not s.later.pending  # held until a reply releases
    s.release()

    async def done() -> bool:
        return bool(delivered)

    await aeventually(done, timeout=5, what="the batch")
    assert delivered == [b"new", b"trade", b"account"] and ws.resumed == 1
    s._on_frame(b"next")  # read after the batch: at once
    assert delivered[-1] == b"next" and not s.later.pending


async def test_stop_delivers_what_was_held() -> None:
    delivered: list[bytes] = []
    s, ws = _stream(60.0, delivered)
    s.hold()
    s._on_frame(b"trade")
    s._ws = None  # already gone: stop has no connection to close
    await s.stop()
    assert delivered == [b"trade"] and ws.resumed == 1


async def test_a_failing_handler_does_not_lose_the_frames_after_it() -> None:
    delivered: list[bytes] = []

    def on_event(raw: bytes) -> None:
        if raw == b"bad":
            raise ValueError("bad event")
        delivered.append(raw)

    s = FuturesUserStream(None, "ws://127.0.0.1:1", on_event, lambda state: None,  # type: ignore[arg-type]
                          later=Later(60.0))
    s._ws = FakeWs()  # type: ignore[assignment]
    s.hold()
    s.release()
    s._on_frame(b"bad")
    s._on_frame(b"good")
    s.later.run_now()
    assert delivered == [b"good"] and s.handler_errors == 1


async def test_a_usdm_account_hands_its_later_to_its_stream_and_none_means_at_once() -> None:
    from actors.binance.endpoints import Endpoints
    from actors.binance.signing import make_signer
    from actors.usdm import UsdmAccount

    later = Later(slave_mod.BOOKKEEPING_DELAY_S)
    assert 0 < later.delay_s <= 0.05
    ends = Endpoints.local("http://127.0.0.1:1")
    waiting = UsdmAccount("s1", ends, make_signer("HMAC", "k", "s"), on_state=lambda state: None, later=later)
    at_once = UsdmAccount("s2", ends, make_signer("HMAC", "k", "s"), on_state=lambda state: None)
    try:
        assert waiting.stream.later is later and at_once.stream.later is None
    finally:
        await waiting.close()
        await at_once.close()


async def test_later_runs_each_callback_once_per_batch_and_survives_a_failing_one() -> None:
    later = Later(60.0)
    ran: list[str] = []

    def boom() -> None:
        raise RuntimeError("boom")

    def a() -> None:
        ran.append("a")

    later.call(boom)
    later.call(a)
    later.call(a)
    assert later.pending and ran == []
    later.run_now()
    assert ran == ["a"] and not later.pending
    later.run_now()  # nothing pending: nothing runs
    assert ran == ["a"]
