"""`copytrader status` and the TUI's slave detail list each slave's open copies of the master's
orders beside the master's (orders = "mirror"): limit copies and stops, close-all shown as such."""

from __future__ import annotations

from decimal import Decimal

from actors.cli.control import Io, print_mirrored
from protocol.control_api import SlaveListResult, SlaveSummary
from protocol.messages import MarketStatus, MirroredOrder, SlaveConfig, SlaveStatusReport
from tui.screens.detail import settings_text

D = Decimal
CONFIG = SlaveConfig(id="alice", orders="mirror")
ROWS = (
    MirroredOrder(
        kind="limit",
        symbol="BTCUSDT",
        position_side="LONG",
        side="BUY",
        order_type="LIMIT",
        master_id=7001,
        price=D("49990"),
        qty=D("0.5"),
        master_qty=D("1"),
    ),
    MirroredOrder(
        kind="stop",
        symbol="BTCUSDT",
        position_side="LONG",
        side="SELL",
        order_type="STOP_MARKET",
        master_id=2148719,
        price=D("49000"),
        close_position=True,
        triggered=True,
    ),
)
SUMMARY = SlaveSummary(
    config=CONFIG,
    status=SlaveStatusReport(slave_id="alice", state="running", markets=(MarketStatus(market="usdm", mirrored=ROWS),), t_ns=1),
)


class Captured(Io):
    def __init__(self) -> None:
        self.lines: list[str] = []

    def out(self, text: str) -> None:
        self.lines.append(text)


def test_the_cli_lists_each_copy_beside_the_masters_order() -> None:
    io = Captured()
    print_mirrored(io, SlaveListResult(slaves=(SUMMARY,)))
    text = "\n".join(io.lines)
    assert "LIMIT" in text and "49990" in text and "0.5" in text and "7001" in text
    stop = next(line for line in io.lines if "STOP_MARKET" in line)
    assert "(triggered)" in stop and stop.count("close-all") == 2 and "2148719" in stop
    # nothing mirrored: nothing printed
    quiet = Captured()
    print_mirrored(quiet, SlaveListResult(slaves=(SlaveSummary(config=CONFIG),)))
    assert quiet.lines == []


def test_the_tui_detail_shows_the_copies() -> None:
    text = settings_text(SUMMARY).plain
    assert "BTCUSDT BUY LONG LIMIT @ 49990" in text and "ours 0.5  master 1 (#7001)" in text
    assert "STOP_MARKET @ 49000 triggered" in text and "ours close-all  master close-all" in text
