"""Edit one slave: every per-slave setting, validated locally (SlaveConfig) before it is sent.

The screen returns the new `SlaveConfig` (or None when cancelled); the caller sends it as
`SetSlaveConfig`, which control applies to that slave alone (no other slave restarts).
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from protocol.messages import SlaveConfig

from ..forms import FormError, SlaveForm, build_config
from ..widgets.slave_form import SlaveFormFields


class EditSlaveScreen(ModalScreen[SlaveConfig | None]):
    BINDINGS = [Binding("ctrl+s", "save", "Save", priority=True), Binding("escape", "cancel", "Cancel")]

    def __init__(self, config: SlaveConfig, *, markets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.config = config
        self.markets = markets

    def compose(self) -> ComposeResult:
        with Vertical(id="edit-box", classes="form-box"):
            yield Static(f"Edit slave {self.config.id}   (ctrl+s save, esc cancel)", classes="form-title")
            with VerticalScroll(id="edit-fields"):
                yield SlaveFormFields(SlaveForm.of(self.config), markets=self.markets, id="edit-form")
            yield Static("", id="edit-error", classes="form-error")
            with Horizontal(classes="form-buttons"):
                yield Button(compact=True, label="Save", id="save", variant="primary")
                yield Button(compact=True, label="Cancel", id="cancel")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "save":
            self.action_save()
        else:
            self.action_cancel()

    def action_save(self) -> None:
        form = self.query_one("#edit-form", SlaveFormFields).read()
        try:
            config = build_config(form)
        except FormError as exc:
            self.query_one("#edit-error", Static).update(f"not saved: {exc}")
            return
        if config == self.config:
            self.dismiss(None)
            self.notify("nothing changed", timeout=2)
            return
        self.dismiss(config)

    def action_cancel(self) -> None:
        self.dismiss(None)
