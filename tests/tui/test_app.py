"""The TUI driven by pilot key presses against a fake control actor (same wire as the real one)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import Button, DataTable, Input, Log, Sparkline

from protocol import control_api as api, messages as m
from tests.helpers.wait import aeventually
from tests.tui.fake_control import FakeControl
from tests.tui.samples import STATUS, mirrored, replies, status_report
from tui.app import CopyTraderApp
from tui.screens.confirm import ConfirmScreen
from tui.screens.detail import DetailScreen
from tui.screens.edit import EditSlaveScreen
from tui.screens.journal import JournalScreen
from tui.screens.wizard import AddSlaveWizard
from tui.settings import TuiSettings
from tui.widgets.slave_table import SlaveTable


def make_app(endpoint: str, **kw: Any) -> CopyTraderApp:
    return CopyTraderApp(endpoint, timeout=1.0, probe_interval=0.2, flush_interval=0.05, **kw)


async def until(pilot: Pilot[Any], check: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    async def probe() -> Any:
        await pilot.pause(0.02)
        return check()

    return await aeventually(probe, timeout=timeout, what=what)


async def press(pilot: Pilot[Any], screen: Any, selector: str) -> None:
    """Press a button the way a click does (its Pressed message), without hit-testing screen
    coordinates: under load a click could land while a layout change (an error line) moved it."""
    screen.query_one(selector, Button).press()
    await pilot.pause()


def table(app: CopyTraderApp) -> SlaveTable:
    return app.screen.query_one("#slaves", SlaveTable)


def cell(app: CopyTraderApp, slave_id: str, column: str) -> str:
    return table(app).get_cell(slave_id, column).plain


async def test_dashboard_shows_every_slave_and_updates_cells_from_pushes(fake: FakeControl, endpoint: str) -> None:
    app = make_app(endpoint)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: table(app).row_count == 4, "four slaves listed")
        assert cell(app, "alice", "state") == "running" and cell(app, "carol", "error").startswith("API key")
        assert cell(app, "bob", "pos") == "drift 1" and cell(app, "alice", "spark") != ""
        assert fake.of(api.Subscribe), "the TUI subscribes to live pushes"

        fake.push(status_report("alice", equity="12345.6", latency_ms=7.5))
        fake.push(mirrored("alice", 99, 7.5))
        await until(pilot, lambda: cell(app, "alice", "equity") == "12345.60", "equity pushed")
        assert cell(app, "alice", "lat") == "7.5ms"
        assert not fake.of(api.GetSlave), "a report that does not move the state asks nothing"

        fake.push(status_report("alice", state="paused"))  # state moved: the TUI asks control
        await until(pilot, lambda: fake.of(api.GetSlave), "GetSlave after a state change")


async def test_filter_sort_and_open_detail(fake: FakeControl, endpoint: str) -> None:
    app = make_app(endpoint)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: table(app).row_count == 4, "slaves listed")
        await pilot.press("slash", *"error", "enter")
        await until(pilot, lambda: table(app).row_count == 1, "filtered to carol")
        assert table(app).selected_id == "carol"
        await pilot.press("escape")
        await until(pilot, lambda: table(app).row_count == 4, "filter cleared")

        await pilot.press("s")  # slave -> state
        assert table(app).sort_column == "state"
        assert table(app).coordinate_to_cell_key((0, 0)).row_key.value == "carol"  # "error" first

        table(app).select("alice")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(app.screen, DetailScreen), "detail open")
        detail = app.screen
        await until(pilot, lambda: detail.query_one("#decisions", DataTable).row_count == 12, "decisions loaded")
        assert "p50 12.8ms" in str(detail.query_one("#latency").render())
        assert "p99 55.4ms" in str(detail.query_one("#latency").render())
        await until(pilot, lambda: detail.query_one("#log", Log).line_count >= 2, "log tail shown")
        assert [r.name for r in fake.of(api.GetLogTail)] == ["slave-alice"]
        assert detail.query_one("#positions", DataTable).row_count == 2
        copyable = str(detail.query_one("#copyable").render())  # the pre-trade check
        assert "BTCUSDT: copies master entries >= 0.004 at 10x, margin ok" in copyable
        assert "SOLUSDT: entries refused (max open positions (2) reached)" in copyable

        fake.push(mirrored("alice", 50, 9.0))
        await until(pilot, lambda: detail.query_one("#decisions", DataTable).row_count == 13, "live decision")

        await until(pilot, lambda: "145.53" in str(detail.query_one("#ledger").render()), "the ledger shown")  # the ledger tab
        assert [r.slave_id for r in fake.of(api.GetLedger)] == ["alice"]
        assert "max drawdown 0.62 % (310 USDT)" in str(detail.query_one("#ledger").render())
        assert len(detail.query_one("#equity-spark", Sparkline).data or []) == 7
        assert "max 0.62" in str(detail.query_one("#drawdown-label").render())  # (50310 - 49998) / 50310
        assert sum(detail.query_one("#slippage-spark", Sparkline).data or []) == 11  # each copy counted once

        await pilot.press("a")  # acknowledge this slave's unacknowledged error (journal id 12)
        await until(pilot, lambda: [r.error_id for r in fake.of(api.AckError)] == [12], "error 12 acked")
        await pilot.press("escape")
        assert not isinstance(app.screen, DetailScreen)


async def test_actions_ask_first_and_send_only_on_yes(fake: FakeControl, endpoint: str) -> None:
    app = make_app(endpoint)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: table(app).row_count == 4, "slaves listed")
        table(app).select("alice")
        await pilot.press("p")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.press("r", "n", "f", "n", "P", "n", "D", "n")
        assert not (
            fake.of(api.PauseSlave)
            or fake.of(api.RestartActor)
            or fake.of(api.FlattenSlave)
            or fake.of(api.PauseAll)
            or fake.of(api.RemoveSlave)
        )

        await pilot.press("p", "y")
        await until(pilot, lambda: fake.of(api.PauseSlave), "pause sent")
        await pilot.press("r", "y")
        await until(pilot, lambda: fake.of(api.RestartActor), "restart sent")
        assert fake.of(api.RestartActor)[0].name == "slave-alice"
        await pilot.press("f", "y", "P", "y", "x", "y")
        await until(pilot, lambda: fake.of(api.FlattenSlave) and fake.of(api.PauseAll) and fake.of(api.AckError), "sent")
        table(app).select("bob")
        await pilot.press("D", "y")
        await until(pilot, lambda: fake.of(api.RemoveSlave), "remove sent")
        assert fake.of(api.RemoveSlave)[0].slave_id == "bob" and fake.of(api.FlattenSlave)[0].slave_id == "alice"


async def test_edit_form_validates_locally_and_sends_the_new_config(fake: FakeControl, endpoint: str) -> None:
    app = make_app(endpoint)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: table(app).row_count == 4, "slaves listed")
        table(app).select("alice")
        await pilot.press("e")
        assert isinstance(app.screen, EditSlaveScreen)
        ratio = app.screen.query_one("#f-ratio", Input)
        ratio.value = "-2"
        await pilot.press("ctrl+s")
        assert "ratio" in str(app.screen.query_one("#edit-error").render())  # refused before sending
        assert not fake.of(api.SetSlaveConfig)

        ratio.value = "0.75"
        app.screen.query_one("#f-deny", Input).value = "dogeusdt"
        await pilot.press("ctrl+s")
        await until(pilot, lambda: fake.of(api.SetSlaveConfig), "config sent")
        sent = fake.of(api.SetSlaveConfig)[0].config
        assert sent.id == "alice" and sent.ratio == D("0.75") and sent.symbols_deny == ("DOGEUSDT",)
        assert sent.name == "Alice (desk 1)" and sent.sizing == "fixed_ratio"


WIZARD_KEYS = """
import sys, pathlib
pathlib.Path(sys.argv[1]).write_text(repr(sys.argv[2:]) + "\\n" + sys.stdin.read())
print("saved newbie: hmac key APIK...7890")
"""


async def test_add_slave_wizard_hands_the_secret_to_the_keys_command_then_adds(fake: FakeControl, endpoint: str, tmp_path: Path) -> None:
    script = tmp_path / "keys.py"
    script.write_text(WIZARD_KEYS)
    seen = tmp_path / "seen"
    settings = TuiSettings(
        config_path=tmp_path / "c.toml",
        runtime_dir=tmp_path,
        exchange="http://127.0.0.1:9",
        keys_command=(sys.executable, str(script), str(seen)),
    )
    app = make_app(endpoint, settings=settings)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: table(app).row_count == 4, "slaves listed")
        await pilot.press("n")
        wizard = app.screen
        assert isinstance(wizard, AddSlaveWizard)
        await pilot.press(*"alice")
        await press(pilot, wizard, "#next")
        await until(pilot, lambda: "exists already" in str(wizard.query_one("#wizard-error").render()), "id refused")
        wizard.query_one("#w-id", Input).value = "newbie"
        await pilot.pause()
        await press(pilot, wizard, "#next")
        await until(pilot, lambda: wizard.step == 1, "step 2")
        wizard.query_one("#f-ratio", Input).value = "0.3"
        await pilot.pause()
        await press(pilot, wizard, "#next")
        await until(pilot, lambda: wizard.step == 2, "step 3")
        wizard.query_one("#w-api-key", Input).value = "APIKEY1234567890"
        secret_box = wizard.query_one("#w-secret", Input)
        assert secret_box.password
        secret_box.value = "the-secret-0123456789"
        await pilot.pause()
        await press(pilot, wizard, "#add")
        await until(pilot, lambda: fake.of(api.AddSlave), "AddSlave sent")
        assert secret_box.value == ""
        argv, stdin = seen.read_text().split("\n", 1)
        assert stdin == "the-secret-0123456789" and "the-secret" not in argv
        assert "'newbie'" in argv and "'hmac'" in argv and "'APIKEY1234567890'" in argv
        added = fake.of(api.AddSlave)[0].config
        assert added.id == "newbie" and added.ratio == D("0.3") and added.sizing == "fixed_ratio"
        await until(pilot, lambda: not isinstance(app.screen, AddSlaveWizard), "wizard closed")
        assert all("the-secret" not in repr(r) for r in fake.requests)


async def test_journal_view_filters_and_acks_the_selected_error(fake: FakeControl, endpoint: str) -> None:
    app = make_app(endpoint)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: table(app).row_count == 4, "slaves listed")
        await pilot.press("j")
        assert isinstance(app.screen, JournalScreen)
        journal = app.screen.query_one("#journal", DataTable)
        await until(pilot, lambda: journal.row_count == 12, "journal loaded")
        await pilot.press("slash", *"unacked", "enter")
        await until(pilot, lambda: journal.row_count == 1, "filtered to the open error")
        await pilot.press("a")
        await until(pilot, lambda: [r.error_id for r in fake.of(api.AckError)] == [12], "ack sent")
        fake.push(m.SlaveError(slave_id="bob", code="ws_down", message="stream lost", t_ns=1))
        await until(pilot, lambda: journal.row_count == 2, "live unacked error appears under the filter")


async def test_says_control_unreachable_and_recovers_by_itself(endpoint: str) -> None:
    app = make_app(endpoint)
    async with app.run_test(size=(80, 24)) as pilot:
        topbar = app.screen.query_one("#topbar")
        await until(pilot, lambda: "control unreachable" in topbar.render().plain, "unreachable shown")  # type: ignore[attr-defined]
        with FakeControl(endpoint, replies()) as fake:
            await until(pilot, lambda: app.link_state == "connected" and table(app).row_count == 4, "recovered")
            assert fake.of(api.Subscribe)
        await until(pilot, lambda: app.link_state == "unreachable", "control gone again")
        restarted = replies()
        restarted[api.GetStatus] = api.StatusResult(
            actors=(api.ActorInfo(name="control", state="RUNNING", pid=99),), masters=STATUS.masters
        )
        with FakeControl(endpoint, restarted) as again:
            await until(
                pilot,
                lambda: app.link_state == "connected" and again.of(api.Subscribe) and again.of(api.ListSlaves),
                "resubscribed and reloaded after control came back",
            )
