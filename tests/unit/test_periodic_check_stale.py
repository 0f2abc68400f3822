"""A periodic check whose snapshot predates a fill the slave already copied does nothing.

Seen at 100 slaves in the benchmark: periodic snapshot (master flat), then the master's open; the
slave's worker copied the open at once (eager start), then the check compared the open position
with the older, flat snapshot and closed it as a drift; the master's close was then skipped
(no_position)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from types import SimpleNamespace

from actors.binance.filters import SymbolFilters
from actors.domain.equity_stop import EquityStopState
from actors.slave import MarketMirror
from actors.slave.accounts.execution import Executed
from protocol.messages import PositionSnapshot, SlaveConfig

EPOCH = 7
BTC = SymbolFilters(
    symbol="BTCUSDT",
    base_asset="BTC",
    quote_asset="USDT",
    step_size=Decimal("0.001"),
    min_qty=Decimal("0.001"),
    market_step_size=Decimal("0.001"),
    market_min_qty=Decimal("0.001"),
    min_notional=Decimal("5"),
)


class _Account:
    market = "usdm"

    def __init__(self) -> None:
        self.equity = Decimal("10000")
        self.filters = {"BTCUSDT": BTC}
        self.positions = {("BTCUSDT", "BOTH"): Decimal("0.010")}  # the copy of the master's open
        self.sent: list = []

    def snapshot_positions(self) -> dict:
        return dict(self.positions)

    async def refresh(self) -> None:
        return None

    async def execute(self, intent):  # noqa: ANN001
        self.sent.append(intent)
        self.positions.pop((intent.symbol, intent.position_side), None)
        return Executed(
            result={"orderId": 1, "status": "FILLED", "executedQty": str(intent.qty), "avgPrice": "1"}, sends=1, recovered=False
        )


def _mirror() -> tuple[MarketMirror, _Account]:
    config = SlaveConfig(id="s1", markets=("usdm",), sizing="fixed_ratio", ratio=Decimal("1"))
    slave = SimpleNamespace(
        slave_id="s1",
        report=lambda msg: None,
        fatal=False,
        paused_all=False,
        equity_stop=EquityStopState(),
        config=config,
        notify_error=lambda *a: None,
        fatal_key_error=lambda *a: None,
        last_latency_ns=0,
    )
    acct = _Account()
    mirror = MarketMirror(slave, acct)  # type: ignore[arg-type]
    mirror.syncing = False
    mirror.master_equity = Decimal("10000")
    mirror.tracker.reset(EPOCH, 158)
    return mirror, acct


async def _periodic(mirror: MarketMirror, fill_after_snapshot: bool) -> None:
    flat = PositionSnapshot(market="usdm", epoch=EPOCH, seq=159, equity=Decimal("10000"), reason="periodic", t_ns=0)
    mirror.on_event(flat, 0)  # schedules the check (a task: it runs after this callback)
    if fill_after_snapshot:
        mirror.fills_received += 1  # the master's open arrived and was copied before the check ran
    for _ in range(20):  # let the check task run to its end
        await asyncio.sleep(0)


async def test_check_with_a_snapshot_older_than_a_copied_fill_does_not_correct():
    mirror, acct = _mirror()
    await _periodic(mirror, fill_after_snapshot=True)
    assert acct.sent == [] and acct.positions == {("BTCUSDT", "BOTH"): Decimal("0.010")}
    assert not mirror.hold


async def test_check_with_a_current_snapshot_still_corrects_a_real_drift():
    mirror, acct = _mirror()
    await _periodic(mirror, fill_after_snapshot=False)
    assert [(i.side, i.qty) for i in acct.sent] == [("SELL", Decimal("0.010"))]
