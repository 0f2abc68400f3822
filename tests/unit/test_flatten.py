"""Flatten closes everything the slave holds, whatever its symbol filters (issue 21 defect 4: it
went through the copy rules' filters, so a denied or not-allowed symbol stayed open)."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from actors.binance.filters import SymbolFilters
from actors.slave import MarketMirror
from actors.slave.accounts.execution import Executed
from protocol.messages import FlattenCommand, SlaveConfig

D = Decimal


def _f(symbol: str) -> SymbolFilters:
    return SymbolFilters(
        symbol=symbol,
        base_asset=symbol[:-4],
        quote_asset="USDT",
        step_size=D("0.001"),
        min_qty=D("0.001"),
        market_step_size=D("0.001"),
        market_min_qty=D("0.001"),
        min_notional=D("5"),
    )


class _Account:
    market = "usdm"

    def __init__(self) -> None:
        self.equity = D("10000")
        self.filters = {s: _f(s) for s in ("BTCUSDT", "ETHUSDT", "XRPUSDT")}
        self.positions = {("BTCUSDT", "BOTH"): D("0.1"), ("ETHUSDT", "BOTH"): D("-2"), ("XRPUSDT", "LONG"): D("30")}
        self.sent: list[Any] = []
        self.refreshed = 0

    def snapshot_positions(self) -> dict[Any, Decimal]:
        return dict(self.positions)

    async def refresh(self) -> None:
        self.refreshed += 1

    async def execute(self, intent: Any) -> Executed:
        self.sent.append(intent)
        self.positions.pop((intent.symbol, intent.position_side), None)
        return Executed(result={"orderId": len(self.sent), "status": "FILLED", "executedQty": str(intent.qty)}, sends=1, recovered=False)


@pytest.mark.parametrize(
    "filters",
    [
        {"symbols_deny": ("ETHUSDT", "XRPUSDT")},
        {"symbols_allow": ("BTCUSDT",)},
        {"symbols_allow": ("DOGEUSDT",), "symbols_deny": ("BTCUSDT",), "paused": True},
    ],
)
async def test_flatten_closes_every_position_whatever_the_filters(filters: dict[str, Any]) -> None:
    config = SlaveConfig(id="s1", markets=("usdm",), sizing="fixed_ratio", ratio=D("1"), **filters)
    slave = SimpleNamespace(
        slave_id="s1",
        report=lambda msg: None,
        fatal=False,
        paused_all=False,
        config=config,
        notify_error=lambda *a: None,
        fatal_key_error=lambda *a: None,
        last_latency_ns=0,
    )
    acct = _Account()
    mirror = MarketMirror(slave, acct)  # type: ignore[arg-type]
    await mirror.flatten(FlattenCommand(request_id=4, slave_id="s1"))
    assert acct.refreshed == 1 and acct.positions == {}
    assert sorted((i.symbol, i.position_side, i.side, i.qty, i.kind) for i in acct.sent) == [
        ("BTCUSDT", "BOTH", "SELL", D("0.1"), "close"),
        ("ETHUSDT", "BOTH", "BUY", D("2"), "close"),
        ("XRPUSDT", "LONG", "SELL", D("30"), "close"),
    ]
    assert all(i.reduce_only for i in acct.sent if i.position_side == "BOTH")


async def test_flatten_of_one_symbol_closes_only_it() -> None:
    config = SlaveConfig(id="s1", markets=("usdm",), sizing="fixed_ratio", ratio=D("1"), symbols_deny=("ETHUSDT",))
    slave = SimpleNamespace(
        slave_id="s1",
        report=lambda msg: None,
        fatal=False,
        paused_all=False,
        config=config,
        notify_error=lambda *a: None,
        fatal_key_error=lambda *a: None,
        last_latency_ns=0,
    )
    acct = _Account()
    mirror = MarketMirror(slave, acct)  # type: ignore[arg-type]
    await mirror.flatten(FlattenCommand(request_id=5, slave_id="s1", symbol="ETHUSDT"))
    assert [(i.symbol, i.side, i.qty) for i in acct.sent] == [("ETHUSDT", "BUY", D("2"))]
