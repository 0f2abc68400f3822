"""A resync after a master restart: fills of the earlier master session still waiting in the slave
are covered by the new session's snapshot, not fed to the sequence tracker as a gap (which asked
for a resync again after every resync: a tight loop seen in chaos seed 55)."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

from actors.domain.equity_stop import EquityStopState
from actors.slave import MarketMirror, now_ns
from protocol.messages import MasterFill, MirrorSkipped, PositionSnapshot, Reconciled, SlaveConfig

OLD, NEW = 111, 222


class _Account:
    market = "usdm"
    equity = Decimal("10000")
    filters: dict = {}
    positions: dict = {}

    def snapshot_positions(self) -> dict:
        return {}

    async def refresh(self) -> None:
        return None


def _slave(snap: PositionSnapshot) -> SimpleNamespace:
    reports: list = []

    async def request_snapshot(market: str) -> PositionSnapshot:
        return snap

    return SimpleNamespace(
        slave_id="s1",
        report=reports.append,
        reports=reports,
        fatal=False,
        paused_all=False,
        equity_stop=EquityStopState(),
        request_snapshot=request_snapshot,
        notify_error=lambda *a: None,
        config=SlaveConfig(id="s1", markets=("usdm",)),
    )


def _fill(epoch: int, seq: int) -> MasterFill:
    return MasterFill(
        market="usdm",
        epoch=epoch,
        seq=seq,
        symbol="BTCUSDT",
        position_side="LONG",
        side="BUY",
        order_id=seq,
        trade_id=seq,
        client_order_id="m",
        order_type="MARKET",
        price=Decimal("60000"),
        qty=Decimal("0.1"),
        cum_qty=Decimal("0.1"),
        status="FILLED",
        position_before=Decimal(0),
        position_after=Decimal("0.1"),
        equity=Decimal("100000"),
        t_exchange_ms=0,
        t_master_recv_ns=0,
        t_master_pub_ns=0,
    )


async def test_fills_of_the_earlier_master_session_are_covered_and_the_resync_ends():
    snap = PositionSnapshot(market="usdm", epoch=NEW, seq=5, equity=Decimal("100000"), reason="start", t_ns=0)
    slave = _slave(snap)
    mirror = MarketMirror(slave, _Account())  # type: ignore[arg-type]
    mirror.own_fresh = True
    mirror.pending = [(_fill(OLD, 40), now_ns()), (_fill(OLD, 41), now_ns())]  # queued before the restart
    await mirror.resync("restart")
    assert mirror.resync_again is None and not mirror.syncing
    skips = [r for r in slave.reports if isinstance(r, MirrorSkipped)]
    assert [(r.master_epoch, r.master_seq) for r in skips] == [(OLD, 40), (OLD, 41)]
    assert all(r.text.startswith("covered by reconciliation") for r in skips)  # control's coverage reads this
    assert any(isinstance(r, Reconciled) and r.master_epoch == NEW for r in slave.reports)


async def test_a_fill_of_another_session_received_after_the_snapshot_still_asks_for_a_resync():
    snap = PositionSnapshot(market="usdm", epoch=NEW, seq=5, equity=Decimal("100000"), reason="start", t_ns=0)
    slave = _slave(snap)
    mirror = MarketMirror(slave, _Account())  # type: ignore[arg-type]
    mirror.own_fresh = True
    mirror.pending = [(_fill(333, 1), now_ns() + 10**12)]  # a yet newer session (the master restarted again)
    await mirror.resync("restart")
    assert mirror.resync_again == "gap" and mirror.syncing
