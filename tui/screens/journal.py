"""Journal and notifications: recent events across all actors, newest at the bottom, filterable,
live; errors can be acknowledged one by one or all at once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input

from protocol.control_api import AckError, JournalEntry, JournalResult, QueryJournal

from ..model import local_time
from ..widgets.topbar import TopBar

if TYPE_CHECKING:
    from ..app import Changes, CopyTraderApp

LIMIT: Final = 500
ERROR_KINDS: Final = frozenset({"failed", "desync", "slaveerr"})
KIND_STYLES: Final = {
    "failed": "red",
    "slaveerr": "bold red",
    "desync": "yellow",
    "skipped": "yellow",
    "mirrored": "green",
    "control": "cyan",
    "notify": "magenta",
}


def entry_matches(entry: JournalEntry, text: str) -> bool:
    hay = " ".join(x or "" for x in (entry.kind, entry.slave_id, entry.market, entry.symbol, entry.summary)).lower()
    if not entry.acked:
        hay += " unacked"
    return all(word in hay for word in text.lower().split())


class JournalScreen(Screen[None]):
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("slash", "filter", "Filter"),
        Binding("a", "ack", "Ack selected"),
        Binding("A", "ack_all", "Ack all"),
        Binding("l", "reload", "Reload"),
    ]

    app: "CopyTraderApp"

    def __init__(self) -> None:
        super().__init__()
        self.entries: list[JournalEntry] = []  # oldest first
        self.filter_text = ""
        self._next_live = -1  # row keys of live entries (no journal id yet)

    def compose(self) -> ComposeResult:
        yield TopBar(id="topbar")
        yield Input(placeholder="filter: words in kind, slave, market, symbol, text; 'unacked' for open errors", id="journal-filter")
        yield DataTable(id="journal", cursor_type="row", zebra_stripes=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        table = self.query_one("#journal", DataTable)
        for title, key, width in (
            ("Time", "time", 8),
            ("Kind", "kind", 11),
            ("Slave", "slave", 10),
            ("Symbol", "symbol", 10),
            ("Event", "summary", 80),
        ):
            table.add_column(title, key=key, width=width)
        self.query_one("#journal-filter", Input).display = False
        self.app.live_event.subscribe(self, self.on_live_event)
        self.app.store_changed.subscribe(self, self.on_store_changed)
        self.query_one("#topbar", TopBar).show(self.app.link_state, self.app.link_detail, self.app.store.status)
        table.focus()
        self.load()

    def on_store_changed(self, changes: "Changes") -> None:
        if changes.status or changes.everything:
            self.query_one("#topbar", TopBar).show(self.app.link_state, self.app.link_detail, self.app.store.status)

    @work(exclusive=True, group="journal-load")
    async def load(self) -> None:
        result = await self.app.send(QueryJournal(id=0, limit=LIMIT), quiet=True)
        if isinstance(result, JournalResult):
            self.entries = list(reversed(result.entries))
            self.rebuild()

    def rebuild(self) -> None:
        table = self.query_one("#journal", DataTable)
        table.clear()
        for entry in self.entries:
            self._add_row(entry)
        if table.row_count:
            table.move_cursor(row=table.row_count - 1)

    def _add_row(self, entry: JournalEntry) -> None:
        if not entry_matches(entry, self.filter_text):
            return
        table = self.query_one("#journal", DataTable)
        key = str(entry.id) if entry.id else f"live{self._next_live}"
        if not entry.id:
            self._next_live -= 1
        style = KIND_STYLES.get(entry.kind, "")
        summary = Text(entry.summary, style="bold" if not entry.acked else "")
        table.add_row(
            local_time(entry.ts_ms),
            Text(entry.kind + ("" if entry.acked else " !"), style=style),
            entry.slave_id or "",
            entry.symbol or "",
            summary,
            key=key,
        )

    def on_live_event(self, entry: JournalEntry) -> None:
        self.entries.append(entry)
        if len(self.entries) > 2 * LIMIT:
            self.entries = self.entries[-LIMIT:]
        table = self.query_one("#journal", DataTable)
        at_bottom = table.cursor_row >= table.row_count - 1
        self._add_row(entry)
        if at_bottom and table.row_count:
            table.move_cursor(row=table.row_count - 1)

    # ------------------------------------------------------------------------------ actions
    def action_back(self) -> None:
        box = self.query_one("#journal-filter", Input)
        if box.display and box.has_focus:
            box.display = False
            self.query_one("#journal", DataTable).focus()
            return
        self.app.pop_screen()

    def action_filter(self) -> None:
        box = self.query_one("#journal-filter", Input)
        box.display = True
        box.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value
        self.rebuild()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if not event.value:
            event.input.display = False
        self.query_one("#journal", DataTable).focus()

    def _selected(self) -> JournalEntry | None:
        table = self.query_one("#journal", DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        if key is None or not key.isdigit():
            return None
        return next((e for e in self.entries if e.id == int(key)), None)

    def action_ack(self) -> None:
        entry = self._selected()
        if entry is None or entry.acked:
            self.notify("select an unacknowledged error (kind marked '!'); live rows: reload first (l)", timeout=3)
            return
        self.ack(entry.id)

    def action_ack_all(self) -> None:
        from .confirm import ConfirmScreen

        def answered(yes: bool | None) -> None:
            if yes:
                self.ack(None)

        self.app.push_screen(ConfirmScreen("Acknowledge every unacknowledged error?"), answered)

    @work(group="journal-ack")
    async def ack(self, error_id: int | None) -> None:
        if await self.app.send(AckError(id=0, error_id=error_id)) is not None:
            self.load()

    def action_reload(self) -> None:
        self.load()
