"""The table of slaves: one row per slave, updated cell by cell (only cells whose text changed),
filtered by words and sorted on demand, so 100 slaves reporting every second redraw little."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, RowDoesNotExist

from ..model import COLUMN_TITLES, COLUMN_WIDTHS, COLUMNS, Cell, Store, matches, row_cells, sort_key


class SlaveTable(DataTable[Text]):
    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)  # type: ignore[arg-type]
        self.filter_text = ""
        self.sort_column = "slave"
        self.sort_reverse = False
        self._cells: dict[str, dict[str, Cell]] = {}

    def on_mount(self) -> None:
        for column in COLUMNS:
            self.add_column(COLUMN_TITLES[column], width=COLUMN_WIDTHS[column], key=column)

    @property
    def selected_id(self) -> str | None:
        if self.row_count == 0:
            return None
        try:
            row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        except CellDoesNotExist:
            return None
        return row_key.value

    # ------------------------------------------------------------------------------ updates
    def sync(self, store: Store, changed: Iterable[str] | None = None) -> None:
        """Bring the rows in line with `store`: every slave (changed None) or only `changed`."""
        ids = set(store.slaves) | set(self._cells) if changed is None else set(changed)
        added = False
        for slave_id in sorted(ids):
            summary = store.slaves.get(slave_id)
            if summary is None or not matches(summary, self.filter_text):
                self._drop(slave_id)
                continue
            cells = row_cells(summary, store.latencies.get(slave_id, ()))
            before = self._cells.get(slave_id)
            if before is None:
                self.add_row(*(Text(t, style=s) for t, s in (cells[c] for c in COLUMNS)), key=slave_id)
                added = True
            else:
                for column in COLUMNS:
                    if cells[column] != before[column]:
                        text, style = cells[column]
                        self.update_cell(slave_id, column, Text(text, style=style))
            self._cells[slave_id] = cells
        if added:
            self.resort(store)

    def _drop(self, slave_id: str) -> None:
        if self._cells.pop(slave_id, None) is not None:
            try:
                self.remove_row(slave_id)
            except RowDoesNotExist:
                pass

    def resort(self, store: Store) -> None:
        """Order rows by the current sort column (the key reads the slave id in column "slave")."""
        selected = self.selected_id
        key = sort_key(self.sort_column, store)
        self.sort("slave", key=lambda cell: key(cell.plain), reverse=self.sort_reverse)
        if selected is not None:
            self.select(selected)

    def select(self, slave_id: str) -> None:
        try:
            self.move_cursor(row=self.get_row_index(slave_id))
        except RowDoesNotExist:
            pass

    def set_filter(self, text: str, store: Store) -> None:
        self.filter_text = text
        self.sync(store)

    def cycle_sort(self, store: Store, sorts: tuple[str, ...]) -> str:
        index = sorts.index(self.sort_column) if self.sort_column in sorts else -1
        self.sort_column = sorts[(index + 1) % len(sorts)]
        self.resort(store)
        return self.sort_column
