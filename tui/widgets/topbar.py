"""One line at the top: connection to control, slave counts, pause-all, unacknowledged errors."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from protocol.control_api import StatusResult


def topbar_text(state: str, detail: str, status: StatusResult | None) -> Text:
    text = Text()
    if state == "unreachable":
        text.append(" control unreachable ", style="bold white on red")
        text.append(f" {detail} - retrying", style="red")
        return text
    if state == "connecting":
        text.append(" connecting to control... ", style="bold black on yellow")
        return text
    text.append(" control ", style="bold black on green")
    if status is None:
        return text
    text.append(f" slaves {status.slaves_running}/{status.slaves_total} running")
    text.append("  pause-all ")
    text.append("ON" if status.paused_all else "off", style="bold yellow" if status.paused_all else "")
    text.append("  errors ")
    text.append(str(status.unacked_errors), style="bold red" if status.unacked_errors else "")
    return text


class TopBar(Static):
    """Re-rendered only when its text changes."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__("", **kwargs)  # type: ignore[arg-type]
        self._last: Text | None = None

    def show(self, state: str, detail: str, status: StatusResult | None) -> None:
        text = topbar_text(state, detail, status)
        if self._last is None or text.plain != self._last.plain or text.spans != self._last.spans:
            self._last = text
            self.update(text)
