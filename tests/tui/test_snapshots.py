"""Snapshot tests of the dashboard and the slave detail (fixed replies of a fake control).

Update after an intended change: pytest tests/tui/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot
from textual.widgets import DataTable, Static

from tests.helpers.wait import aeventually
from tests.tui.fake_control import FakeControl
from tui.app import CopyTraderApp
from tui.screens.detail import DetailScreen
from tui.widgets.slave_table import SlaveTable


def make_app(endpoint: str) -> CopyTraderApp:
    return CopyTraderApp(endpoint, timeout=2.0, probe_interval=60.0, flush_interval=0.05)


async def loaded(pilot: Pilot[Any]) -> None:
    app = pilot.app

    async def ready() -> bool:
        await pilot.pause(0.02)
        table = app.screen.query_one("#slaves", SlaveTable)
        return table.row_count == 4 and table.get_cell("alice", "spark").plain != ""

    await aeventually(ready, timeout=10, what="dashboard loaded")
    await pilot.pause(0.1)


async def detail_loaded(pilot: Pilot[Any]) -> None:
    await loaded(pilot)
    await pilot.press("enter")

    async def ready() -> bool:
        await pilot.pause(0.02)
        screen = pilot.app.screen
        return isinstance(screen, DetailScreen) and screen.query_one("#decisions", DataTable).row_count == 12

    await aeventually(ready, timeout=10, what="detail loaded")
    await pilot.pause(0.1)


def test_dashboard_80x24(snap_compare: Any, fake: FakeControl, endpoint: str) -> None:
    assert snap_compare(make_app(endpoint), terminal_size=(80, 24), run_before=loaded)


def test_dashboard_160x30(snap_compare: Any, fake: FakeControl, endpoint: str) -> None:
    assert snap_compare(make_app(endpoint), terminal_size=(160, 30), run_before=loaded)


def test_slave_detail_80x24(snap_compare: Any, fake: FakeControl, endpoint: str) -> None:
    assert snap_compare(make_app(endpoint), terminal_size=(80, 24), run_before=detail_loaded)


async def ledger_shown(pilot: Pilot[Any]) -> None:
    await detail_loaded(pilot)
    screen = pilot.app.screen
    await pilot.press("t", "t", "t")  # Overview -> Decisions -> Log -> Ledger

    async def ready() -> bool:
        await pilot.pause(0.02)
        return "145.53" in str(screen.query_one("#ledger", Static).render())

    await aeventually(ready, timeout=10, what="ledger shown")
    await pilot.pause(0.1)


def test_slave_ledger_100x40(snap_compare: Any, fake: FakeControl, endpoint: str) -> None:
    # the ledger tab: summary, equity and drawdown curves, slippage and latency distributions
    assert snap_compare(make_app(endpoint), terminal_size=(100, 40), run_before=ledger_shown)
