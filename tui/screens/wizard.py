"""Add a slave in three steps: account (id, name, markets), sizing and limits, API key.

The API key step hands the secret straight to `copytrader keys add ... --secret-stdin` (see
tui/keys.py: the secret never travels on our sockets, never reaches a log, and the masked field
is cleared as soon as it is read), then sends `AddSlave`. The screen returns the new slave's id,
or None when cancelled.
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING, Final

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, ContentSwitcher, Input, Label, Select, Static

from protocol.control_api import AddSlave
from protocol.messages import SlaveConfig

from ..forms import FormError, SlaveForm, build_config
from ..keys import KEY_TYPES, KeyRequest, hand_off_key
from ..widgets.slave_form import SlaveFormFields

if TYPE_CHECKING:
    from ..app import CopyTraderApp

STEPS: Final = ("step-account", "step-sizing", "step-key")
SLAVE_ID: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


class AddSlaveWizard(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    app: "CopyTraderApp"

    def __init__(self, *, markets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.markets = markets
        self.step = 0
        self.busy = False

    def compose(self) -> ComposeResult:
        blank = SlaveForm(id="new", sizing="fixed_ratio", markets=(self.markets[0],) if self.markets else ("usdm",))
        with Vertical(id="wizard-box", classes="form-box"):
            yield Static("", id="wizard-title", classes="form-title")
            with ContentSwitcher(initial=STEPS[0], id="wizard-steps"):
                with VerticalScroll(id="step-account"):
                    yield Horizontal(
                        Label("slave id", classes="form-label"),
                        Input(compact=True, id="w-id", placeholder="a-z 0-9 _ - (max 32)", max_length=32),
                        classes="form-row",
                    )
                    yield SlaveFormFields(blank, parts=("identity",), markets=self.markets, id="w-identity")
                with VerticalScroll(id="step-sizing"):
                    yield SlaveFormFields(blank, parts=("sizing", "limits"), markets=self.markets, id="w-sizing")
                with VerticalScroll(id="step-key"):
                    yield Horizontal(
                        Label("key type", classes="form-label"),
                        Select(compact=True, options=[(t, t) for t in KEY_TYPES], value="hmac", allow_blank=False, id="w-type"),
                        classes="form-row",
                    )
                    yield Horizontal(Label("API key", classes="form-label"), Input(compact=True, id="w-api-key"), classes="form-row")
                    yield Horizontal(
                        Label("secret (hmac)", classes="form-label"),
                        Input(compact=True, id="w-secret", password=True, placeholder="typed or pasted, never shown"),
                        classes="form-row",
                    )
                    yield Horizontal(
                        Label("or PEM file", classes="form-label"),
                        Input(compact=True, id="w-pem", placeholder="ed25519/rsa: path of the private key file"),
                        classes="form-row",
                    )
                    yield Checkbox(compact=True, label="the key is already in the keystore", id="w-have-key")
                    yield Static(
                        "The secret goes to `copytrader keys add` on its stdin; it is validated with "
                        "the exchange and stored encrypted. It never leaves this machine.",
                        classes="hint",
                    )
            yield Static("", id="wizard-error", classes="form-error")
            with Horizontal(classes="form-buttons"):
                yield Button(compact=True, label="Back", id="back")
                yield Button(compact=True, label="Next", id="next", variant="primary")
                yield Button(compact=True, label="Add slave", id="add", variant="success")
                yield Button(compact=True, label="Cancel", id="cancel")

    def on_mount(self) -> None:
        self._show_step()

    def _show_step(self) -> None:
        self.query_one("#wizard-steps", ContentSwitcher).current = STEPS[self.step]
        titles = ("1/3 account", "2/3 sizing and limits", "3/3 API key")
        self.query_one("#wizard-title", Static).update(f"Add slave - step {titles[self.step]}   (esc cancel)")
        self.query_one("#back", Button).display = self.step > 0
        self.query_one("#next", Button).display = self.step < len(STEPS) - 1
        self.query_one("#add", Button).display = self.step == len(STEPS) - 1
        focus = {0: "#w-id", 1: "#f-sizing", 2: "#w-api-key"}[self.step]
        self.query_one(focus).focus()

    def _error(self, text: str) -> None:
        self.query_one("#wizard-error", Static).update(text)

    # ------------------------------------------------------------------------------ steps
    def config(self) -> SlaveConfig:
        """The new slave's config from steps 1 and 2 (FormError naming the field)."""
        slave_id = self.query_one("#w-id", Input).value.strip()
        if not SLAVE_ID.match(slave_id):
            raise FormError("slave id: 1-32 characters a-z 0-9 _ -, starting with a letter or digit")
        if slave_id in self.app.store.slaves:
            raise FormError(f"slave id: {slave_id!r} exists already")
        identity = self.query_one("#w-identity", SlaveFormFields).read()
        sizing = self.query_one("#w-sizing", SlaveFormFields).read()
        form = dataclasses.replace(sizing, id=slave_id, name=identity.name, enabled=identity.enabled, markets=identity.markets)
        return build_config(form)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        match event.button.id:
            case "next":
                self.action_next()
            case "back":
                self.step = max(0, self.step - 1)
                self._show_step()
            case "add":
                self.action_add()
            case "cancel":
                self.action_cancel()

    def action_next(self) -> None:
        try:
            self.config()
        except FormError as exc:
            text = str(exc)
            if self.step == 0 and not text.startswith(("slave id", "name", "markets", "enabled")):
                text = ""  # a later step's field: checked when we get there
            if text:
                self._error(text)
                return
        self._error("")
        self.step = min(len(STEPS) - 1, self.step + 1)
        self._show_step()

    def action_cancel(self) -> None:
        if not self.busy:
            self.dismiss(None)

    def action_add(self) -> None:
        if self.busy:
            return
        try:
            config = self.config()
        except FormError as exc:
            self._error(str(exc))
            return
        secret_box = self.query_one("#w-secret", Input)
        secret, secret_box.value = secret_box.value, ""  # read once, cleared at once
        pem = self.query_one("#w-pem", Input).value.strip()
        have_key = self.query_one("#w-have-key", Checkbox).value
        api_key = self.query_one("#w-api-key", Input).value.strip()
        key_type = str(self.query_one("#w-type", Select).value)
        if not have_key:
            if not api_key:
                self._error("API key: required (or tick 'the key is already in the keystore')")
                return
            if not secret and not pem:
                self._error("secret: type the API secret, or give the PEM file of an ed25519/rsa key")
                return
            if self.app.settings is None:
                self._error("no config file: the key cannot be handed to the keystore from here")
                return
        request = (
            None
            if have_key
            else KeyRequest(
                account=config.id,
                key_type=key_type,
                api_key=api_key,  # type: ignore[arg-type]
                markets=tuple(config.markets),
                secret_file=pem if not secret else "",
            )
        )
        self.busy = True
        self._error("validating the key with the exchange..." if request else "adding...")
        self.add(config, request, secret)

    @work(exclusive=True, group="wizard")
    async def add(self, config: SlaveConfig, request: KeyRequest | None, secret: str) -> None:
        try:
            if request is not None:
                assert self.app.settings is not None
                outcome = await hand_off_key(self.app.settings, request, secret)
                secret = ""
                if not outcome.ok:
                    self._error(outcome.message)
                    return
                self.notify(outcome.message, timeout=4)
            result = await self.app.send(AddSlave(id=0, config=config))
            if result is not None:
                self.dismiss(config.id)
            else:
                self._error("control refused the slave (see the notification); the key, if saved, stays")
        finally:
            secret = ""
            self.busy = False
