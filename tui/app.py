"""The copytrader TUI: a client of the control actor only (see tui/__init__.py).

`CopyTraderApp` owns the link to control (a worker running `ControlLink.run`), the `Store` of what
control said, and two signals the screens subscribe to:
- `store_changed` (a `Changes`): published at most every `flush_interval` seconds with the slave
  ids whose data changed, so a burst of pushes becomes one table update of the changed cells;
- `live_event` (a `JournalEntry` with id 0): every decision or error as it is pushed.

Every request goes through `send` (a worker): failures become a notification, never an exception.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Final

import msgspec
from textual import work
from textual.app import App
from textual.binding import Binding
from textual.signal import Signal

from protocol.control_api import (
    ActorStateChanged,
    ControlRequest,
    ControlResult,
    Done,
    GetSlave,
    JournalEntry,
    JournalResult,
    ListSlaves,
    Push,
    QueryJournal,
    SlaveListResult,
    SlaveResult,
    StatusResult,
)
from protocol.errors import ErrorCode
from protocol.messages import (
    DesyncDetected,
    MirrorSkipped,
    OrderFailed,
    OrderMirrored,
    PauseAllChanged,
    Reconciled,
    SlaveConfigChanged,
    SlaveError,
    SlaveStatusReport,
)

from .client import ControlError, ControlLink, LinkState
from .model import Store, mirror_latency, summarize
from .screens.confirm import ConfirmScreen
from .screens.dashboard import DashboardScreen
from .settings import TuiSettings

FLUSH_INTERVAL: Final = 0.25
LATENCY_SEED: Final = 1000  # mirrored journal entries read at (re)connect for the sparklines
ERROR_KINDS: Final = frozenset({"failed", "desync", "slaveerr"})


@dataclass(frozen=True)
class Changes:
    """What changed since the last publication."""

    slaves: frozenset[str] = frozenset()
    status: bool = False  # status / connection / pause-all: top bar and master panel
    everything: bool = False  # a full reload: rebuild tables


class CopyTraderApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "copytrader"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [Binding("q", "quit", "Quit", show=False), Binding("question_mark", "help", "Help", show=False)]

    def __init__(
        self,
        endpoint: str,
        *,
        settings: TuiSettings | None = None,
        timeout: float = 5.0,
        probe_interval: float = 2.0,
        flush_interval: float = FLUSH_INTERVAL,
    ) -> None:
        super().__init__()
        self.link = ControlLink(endpoint, timeout=timeout, probe_interval=probe_interval)
        self.settings = settings
        self.store = Store()
        self.link_state: LinkState = "connecting"
        self.link_detail = ""
        self.loaded = False  # the slave list has been read at least once
        self.store_changed: Signal[Changes] = Signal(self, "store-changed")
        self.live_event: Signal[JournalEntry] = Signal(self, "live-event")
        self.flush_interval = flush_interval
        self._dirty: set[str] = set()
        self._dirty_status = False
        self._dirty_all = False
        self._to_refresh: set[str] = set()
        self._refreshing = False

    # ------------------------------------------------------------------------------ lifecycle
    def on_mount(self) -> None:
        self.push_screen(DashboardScreen())
        self.set_interval(self.flush_interval, self._flush)
        self.run_link()

    @work(exclusive=True, group="link")
    async def run_link(self) -> None:
        await self.link.run(self._on_push, self._on_link_state, self._on_status)

    def _on_link_state(self, state: LinkState, detail: str, resync: bool) -> None:
        self.link_state, self.link_detail = state, detail
        self._dirty_status = True
        if resync:
            self.reload_all()

    def _on_status(self, status: StatusResult) -> None:
        if status != self.store.status:
            paused_changed = self.store.status is None or self.store.status.paused_all != status.paused_all
            self.store.status = status
            self._dirty_status = True
            if paused_changed and self.loaded:
                self._to_refresh.update(self.store.slaves)

    @work(exclusive=True, group="reload")
    async def reload_all(self) -> None:
        """Everything from control again (first connection, control restarted, reconnected)."""
        try:
            listing = await self.link.request(ListSlaves(id=0))
            journal = await self.link.request(QueryJournal(id=0, kind="mirrored", limit=LATENCY_SEED))
        except ControlError:
            return  # the probe reports the state; the next successful probe reloads
        if isinstance(listing, SlaveListResult):
            self.store.set_slaves(listing.slaves)
        if isinstance(journal, JournalResult):
            self.store.seed_latencies(journal.entries)
        self.loaded = True
        self._dirty_all = True

    def action_help(self) -> None:
        """The key list (the footer shows what fits the terminal's width)."""
        from . import __doc__ as doc

        keys = (doc or "").split("Screens and keys (also in the footer):")[-1].split("Every action")[0]
        self.notify(keys.strip("\n"), title="keys", timeout=15)

    # ------------------------------------------------------------------------------ pushes
    def _on_push(self, push: Push) -> None:
        event = push.event
        match event:
            case SlaveStatusReport():
                changed, state_changed = self.store.note_status_report(event)
                if changed:
                    self._dirty.add(event.slave_id)
                if state_changed:
                    self._to_refresh.add(event.slave_id)
            case OrderMirrored():
                ns = mirror_latency(event)
                if ns is not None:
                    self.store.note_latency(event.slave_id, ns)
                    self._dirty.add(event.slave_id)
            case SlaveError():
                if self.store.note_error(event):
                    self._dirty.add(event.slave_id)
                self._to_refresh.add(event.slave_id)
            case ActorStateChanged():
                if event.name.startswith("slave-"):
                    self._to_refresh.add(event.name[len("slave-") :])
                self._dirty_status = True
            case SlaveConfigChanged():
                if event.config is None:
                    if self.store.remove(event.slave_id):
                        self._dirty.add(event.slave_id)
                else:
                    self._to_refresh.add(event.slave_id)
            case PauseAllChanged():
                self._to_refresh.update(self.store.slaves)
                self._dirty_status = True
        if isinstance(event, (OrderMirrored, MirrorSkipped, OrderFailed, DesyncDetected, Reconciled, SlaveError)):
            self.live_event.publish(self._entry_of(event))

    @staticmethod
    def _entry_of(event: Any) -> JournalEntry:
        kind = str(type(event).__struct_config__.tag)
        return JournalEntry(
            id=0,
            ts_ms=time.time_ns() // 1_000_000,
            slave_id=event.slave_id,
            market=getattr(event, "market", None),
            symbol=getattr(event, "symbol", None),
            kind=kind,
            summary=summarize(event),
            report=event,
            acked=kind not in ERROR_KINDS,
        )

    def _flush(self) -> None:
        if self._to_refresh and not self._refreshing and self.loaded:
            ids, self._to_refresh = set(self._to_refresh), set()
            self._refreshing = True
            self.refresh_slaves(ids)
        if not (self._dirty or self._dirty_status or self._dirty_all):
            return
        changes = Changes(slaves=frozenset(self._dirty), status=self._dirty_status, everything=self._dirty_all)
        self._dirty, self._dirty_status, self._dirty_all = set(), False, False
        self.store_changed.publish(changes)

    @work(group="refresh")
    async def refresh_slaves(self, ids: set[str]) -> None:
        """Ask control for the derived state of the slaves something happened to."""
        try:
            if len(ids) > 8:
                listing = await self.link.request(ListSlaves(id=0))
                if isinstance(listing, SlaveListResult):
                    self._dirty.update(self.store.set_slaves(listing.slaves))
                return
            for slave_id in sorted(ids):
                try:
                    result = await self.link.request(GetSlave(id=0, slave_id=slave_id))
                except ControlError as exc:
                    if exc.code == ErrorCode.NOT_FOUND and self.store.remove(slave_id):
                        self._dirty.add(slave_id)
                    elif exc.code != ErrorCode.NOT_FOUND:
                        raise
                    continue
                if isinstance(result, SlaveResult) and self.store.put(result.slave):
                    self._dirty.add(slave_id)
        except ControlError:
            self._to_refresh.update(ids)  # try again once control answers
        finally:
            self._refreshing = False

    # ------------------------------------------------------------------------------ requests
    async def send(self, request: ControlRequest, done: str | None = None, *, quiet: bool = False) -> ControlResult | None:
        """Send one request; notify its outcome (unless `quiet`); None when it failed."""
        try:
            result = await self.link.request(request)
        except ControlError as exc:
            self.notify(exc.reason, title=f"{type(request).__name__} failed", severity="error", timeout=8)
            return None
        if not quiet:
            detail = result.detail if isinstance(result, Done) and result.detail else ""
            self.notify(done or detail or "done", timeout=4)
        return result

    async def link_request_quiet(self, request: ControlRequest) -> ControlResult | str:
        """The result, or the reason it failed (for panels that show the failure in place)."""
        try:
            return await self.link.request(request)
        except ControlError as exc:
            return exc.reason

    def confirm_then_send(self, question: str, request: ControlRequest, *, refresh: str | None = None) -> None:
        """Ask `question`; on yes, send `request` (and refresh slave `refresh` afterwards)."""

        def answered(yes: bool | None) -> None:
            if yes:
                self.send_and_refresh(request, refresh)

        self.push_screen(ConfirmScreen(question), answered)

    @work(group="actions")
    async def send_and_refresh(self, request: ControlRequest, refresh: str | None = None) -> None:
        await self.send(request)
        if refresh is not None:
            self._to_refresh.add(refresh)
        self._dirty_status = True

    def mark_dirty(self, slave_id: str | None = None) -> None:
        if slave_id is None:
            self._dirty_all = True
        else:
            self._dirty.add(slave_id)

    def request_refresh(self, slave_id: str) -> None:
        self._to_refresh.add(slave_id)

    def set_local_state(self, slave_id: str, state: str) -> None:
        """Show an action in progress (e.g. "restarting") before control reports it."""
        summary = self.store.slaves.get(slave_id)
        if summary is not None:
            self.store.put(msgspec.structs.replace(summary, state=state))
            self._dirty.add(slave_id)
