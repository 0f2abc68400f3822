"""The master accounts, one line per market: connection, equity, open positions."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from protocol.control_api import MasterStatus

from ..model import plain

SIDE_SHORT = {"BOTH": "", "LONG": " L", "SHORT": " S"}


def master_line(m: MasterStatus) -> Text:
    text = Text()
    text.append(f"{m.market:<6} ", style="bold")
    if m.connected:
        text.append("● up  ", style="green")
    else:
        text.append("● down", style="bold red")
    equity = f"{plain(m.equity, 2)} {m.equity_asset}" if m.equity is not None else "-"
    text.append(f" equity {equity}  ")
    text.append(f"{len(m.positions)} pos", style="bold" if m.positions else "grey50")
    if m.positions:
        shown = ", ".join(f"{p.symbol}{SIDE_SHORT.get(p.position_side, '')} {plain(p.qty)}" for p in m.positions[:4])
        more = f" +{len(m.positions) - 4}" if len(m.positions) > 4 else ""
        text.append(f": {shown}{more}", style="grey70")
    return text


def masters_text(masters: tuple[MasterStatus, ...]) -> Text:
    if not masters:
        return Text("no master reported yet", style="grey50")
    return Text("\n").join(master_line(m) for m in masters)


class MastersPanel(Static):
    def __init__(self, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self._last = ""
        self._masters: tuple[MasterStatus, ...] | None = None

    def show(self, masters: tuple[MasterStatus, ...]) -> None:
        if masters == self._masters:
            return
        self._masters = masters
        text = masters_text(masters)
        self.styles.height = max(1, len(masters))
        if text.plain != self._last:
            self._last = text.plain
            self.update(text)
