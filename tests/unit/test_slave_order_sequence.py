"""A master's resting orders (MasterOrder) take numbers in its sequence: a slave (which copies
fills) counts them, live and while a (re)sync runs, so they never look like a gap; a config change that
came during a sync is numbered when the sync ends, too."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from actors.slave import MarketMirror, now_ns
from protocol.messages import AccountConfigChanged, MasterOrder, MirrorSkipped, PositionSnapshot, RestingOrder
from tests.helpers.wait import aeventually
from tests.unit.test_resync_epochs import _Account, _fill, _slave

EPOCH = 222


def order(seq: int, action: Any = "placed") -> MasterOrder:
    resting = RestingOrder(
        symbol="BTCUSDT",
        position_side="LONG",
        side="BUY",
        order_id=900 + seq,
        client_order_id="web_l",
        order_type="LIMIT",
        time_in_force="GTC",
        price=Decimal("59000"),
        orig_qty=Decimal("0.1"),
        position_at_place=Decimal("0.1"),
    )
    return MasterOrder(
        market="usdm",
        epoch=EPOCH,
        seq=seq,
        action=action,
        order=resting,
        position=Decimal("0.1"),
        equity=Decimal("100000"),
        t_exchange_ms=0,
        t_master_recv_ns=0,
        t_master_pub_ns=0,
    )


def mirror_at(snap_seq: int) -> tuple[MarketMirror, Any, list[str]]:
    snap = PositionSnapshot(market="usdm", epoch=EPOCH, seq=snap_seq, equity=Decimal("100000"), reason="start", t_ns=0)
    slave = _slave(snap)
    mirror = MarketMirror(slave, _Account())  # type: ignore[arg-type]
    mirror.own_fresh = True
    resyncs: list[str] = []
    mirror.request_resync = resyncs.append  # type: ignore[method-assign]
    return mirror, slave, resyncs


def queued_seqs(mirror: MarketMirror) -> list[int]:
    return [event.seq for q in mirror.queues.values() for event, _ in q]


async def test_orders_between_fills_are_counted_not_taken_for_a_gap() -> None:
    mirror, _, resyncs = mirror_at(0)
    mirror.syncing = False
    mirror.hold = True  # the workers take nothing: the queue shows what was enqueued
    mirror.tracker.reset(EPOCH, 0)

    for event in (_fill(EPOCH, 1), order(2), order(3, "amended"), _fill(EPOCH, 4), order(5, "canceled"), _fill(EPOCH, 6)):
        mirror.on_event(event, now_ns())

    assert resyncs == []
    assert queued_seqs(mirror) == [1, 4, 6]  # the fills
    mirror.on_event(order(5, "canceled"), now_ns())  # delivered twice: ignored
    mirror.on_event(_fill(EPOCH, 8), now_ns())  # 7 lost: a gap, as for fills
    assert resyncs == ["gap"]


async def test_orders_and_config_changes_during_a_sync_are_numbered_when_it_ends() -> None:
    mirror, slave, resyncs = mirror_at(5)
    followed: list[AccountConfigChanged] = []

    async def follow(event: AccountConfigChanged) -> None:
        followed.append(event)

    mirror._follow_config = follow  # type: ignore[method-assign]
    # arrive while the sync runs (syncing is True from the start)
    for event in (
        order(4),
        _fill(EPOCH, 5),
        order(6),
        AccountConfigChanged(market="usdm", epoch=EPOCH, seq=7, symbol="BTCUSDT", leverage=10),
        _fill(EPOCH, 8),
    ):
        mirror.on_event(event, now_ns())
    mirror.hold = True
    await mirror.resync("start")

    assert mirror.resync_again is None and not mirror.syncing
    assert queued_seqs(mirror) == [8]
    skipped = [r.master_seq for r in slave.reports if isinstance(r, MirrorSkipped)]
    assert skipped == [5]  # the fill the snapshot covers; the order it covers is not a decision
    assert mirror.tracker.feed(EPOCH, 9).verdict.name == "OK"  # 6 and 7 were counted
    assert resyncs == []

    async def config_followed() -> bool:
        assert [e.seq for e in followed] == [7]  # followed when it came (a task of its own)
        return True

    await aeventually(config_followed, timeout=5, what="the config change followed")
