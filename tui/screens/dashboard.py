"""Dashboard: the masters per market and every slave at a glance, live."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input

from protocol.control_api import (
    AckError,
    FlattenSlave,
    PauseAll,
    PauseSlave,
    RemoveSlave,
    RestartActor,
    ResumeAll,
    ResumeSlave,
    SetSlaveConfig,
)
from protocol.messages import SlaveConfig

from ..model import SORTS
from ..widgets.masters import MastersPanel
from ..widgets.slave_table import SlaveTable
from ..widgets.topbar import TopBar

if TYPE_CHECKING:
    from ..app import Changes, CopyTraderApp


class SlaveActions:
    """The confirmed actions on one slave, shared by the dashboard and the detail screen."""

    app: "CopyTraderApp"

    def _slave_actions_target(self) -> str | None:  # overridden
        return None

    def action_edit(self) -> None:
        from .edit import EditSlaveScreen

        slave_id = self._slave_actions_target()
        summary = self.app.store.slaves.get(slave_id) if slave_id else None
        if summary is None:
            return

        def saved(config: SlaveConfig | None) -> None:
            if config is not None:
                self.app.send_and_refresh(SetSlaveConfig(id=0, config=config), config.id)

        self.app.push_screen(EditSlaveScreen(summary.config, markets=self._known_markets()), saved)

    def _known_markets(self) -> tuple[str, ...]:
        status = self.app.store.status
        return tuple(m.market for m in status.masters) if status and status.masters else ()

    def action_toggle_pause(self) -> None:
        slave_id = self._slave_actions_target()
        summary = self.app.store.slaves.get(slave_id) if slave_id else None
        if summary is None or slave_id is None:
            return
        if summary.config.paused:
            self.app.confirm_then_send(f"Resume slave {slave_id}?", ResumeSlave(id=0, slave_id=slave_id), refresh=slave_id)
        else:
            self.app.confirm_then_send(
                f"Pause slave {slave_id}? It copies nothing until resumed.", PauseSlave(id=0, slave_id=slave_id), refresh=slave_id
            )

    def action_restart(self) -> None:
        slave_id = self._slave_actions_target()
        if slave_id is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.app.set_local_state(slave_id, "restarting")
                self.app.send_and_refresh(RestartActor(id=0, name=f"slave-{slave_id}"), slave_id)

        from .confirm import ConfirmScreen

        self.app.push_screen(ConfirmScreen(f"Restart slave {slave_id} (stop + start its process)?"), answered)

    def action_flatten(self) -> None:
        slave_id = self._slave_actions_target()
        if slave_id is None:
            return
        self.app.confirm_then_send(
            f"FLATTEN slave {slave_id}: close all its copied positions with reduce-only market orders?",
            FlattenSlave(id=0, slave_id=slave_id),
            refresh=slave_id,
        )


class DashboardScreen(SlaveActions, Screen[None]):
    BINDINGS = [
        Binding("enter", "open", "Detail", show=False),
        Binding("e", "edit", "Edit"),
        Binding("p", "toggle_pause", "Pause"),
        Binding("r", "restart", "Restart"),
        Binding("f", "flatten", "Flat"),
        Binding("n", "add", "Add"),
        Binding("D", "remove", "Del"),
        Binding("P", "toggle_pause_all", "All"),
        Binding("x", "ack_all", "Ack"),
        Binding("j", "journal", "Jrnl"),
        Binding("slash", "filter", "Find"),
        Binding("s", "sort", "Sort"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    app: "CopyTraderApp"

    def compose(self) -> ComposeResult:
        yield TopBar(id="topbar")
        yield MastersPanel(id="masters")
        yield Input(placeholder="filter: words in id, name, state, market (enter to apply, esc to clear)", id="filter")
        yield SlaveTable(id="slaves")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.app.store_changed.subscribe(self, self.on_store_changed)
        self.query_one("#filter", Input).display = False
        self._show_status()
        self.table.sync(self.app.store)
        self.table.focus()

    @property
    def table(self) -> SlaveTable:
        return self.query_one("#slaves", SlaveTable)

    def on_store_changed(self, changes: "Changes") -> None:
        if changes.status or changes.everything:
            self._show_status()
        if changes.everything:
            self.table.sync(self.app.store)
        elif changes.slaves:
            self.table.sync(self.app.store, changes.slaves)

    def _show_status(self) -> None:
        app = self.app
        self.query_one("#topbar", TopBar).show(app.link_state, app.link_detail, app.store.status)
        self.query_one("#masters", MastersPanel).show(app.store.status.masters if app.store.status else ())

    def _slave_actions_target(self) -> str | None:
        return self.table.selected_id

    # ------------------------------------------------------------------------------ actions
    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_open()

    def action_open(self) -> None:
        from .detail import DetailScreen

        slave_id = self.table.selected_id
        if slave_id is not None:
            self.app.push_screen(DetailScreen(slave_id))

    def action_add(self) -> None:
        from .wizard import AddSlaveWizard

        def added(slave_id: str | None) -> None:
            if slave_id:
                self.app.request_refresh(slave_id)

        self.app.push_screen(AddSlaveWizard(markets=self._known_markets()), added)

    def action_remove(self) -> None:
        slave_id = self.table.selected_id
        if slave_id is None:
            return
        self.app.confirm_then_send(
            f"REMOVE slave {slave_id}? Its process is stopped and its settings are deleted "
            "(its positions stay open on the exchange; flatten first if needed).",
            RemoveSlave(id=0, slave_id=slave_id),
            refresh=slave_id,
        )

    def action_toggle_pause_all(self) -> None:
        if self.app.store.paused_all:
            self.app.confirm_then_send("Lift pause-all? (slaves paused one by one stay paused)", ResumeAll(id=0))
        else:
            self.app.confirm_then_send("PAUSE ALL slaves? Nothing is copied until resumed.", PauseAll(id=0))

    def action_ack_all(self) -> None:
        status = self.app.store.status
        count = status.unacked_errors if status else 0
        self.app.confirm_then_send(f"Acknowledge all {count} unacknowledged error(s)?", AckError(id=0))

    def action_journal(self) -> None:
        from .journal import JournalScreen

        self.app.push_screen(JournalScreen())

    def action_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.display = True
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.table.set_filter(event.value, self.app.store)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            if not event.value:
                event.input.display = False
            self.table.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        box.value = ""
        box.display = False
        self.table.set_filter("", self.app.store)
        self.table.focus()

    def action_sort(self) -> None:
        column = self.table.cycle_sort(self.app.store, SORTS)
        self.notify(f"sorted by {column}", timeout=2)
