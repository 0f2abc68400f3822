"""GetStatus, the derived state of one slave (pure), and control's view of each master (pure)."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Literal

from protocol.control_api import GetStatus, MasterStatus, StatusResult
from protocol.messages import MasterEvent, MasterFill, PositionEntry, PositionSnapshot, SlaveConfig, SlaveStatusReport

from . import command

if TYPE_CHECKING:
    from actors.control import ControlActor

DerivedState = Literal["running", "paused", "stopped", "error", "restarting", "starting", "unknown"]

_DOWN = frozenset({"STOPPED", "EXITED", "STOPPING"})
_FAILED = frozenset({"FATAL", "BACKOFF"})


def slave_state(
    config: SlaveConfig,
    process_state: str,
    status: SlaveStatusReport | None,
    *,
    paused_all: bool = False,
    fatal_error: bool = False,
    restarting: bool = False,
) -> DerivedState:
    """One word for an operator, from supervisor's process state, the slave's last report and the
    config. Order matters: a restart in progress, then failures, then stopped, then paused."""
    if restarting:
        return "restarting"
    if process_state in _FAILED or fatal_error:
        return "error"
    if process_state in _DOWN:
        return "stopped"
    if process_state == "STARTING":
        return "starting"
    reported = status.state if status is not None else None
    if config.paused or not config.enabled or paused_all or reported in ("paused", "disabled"):
        return "paused"
    if reported in ("stopping", "stopped"):
        return "stopped"
    if reported == "degraded":
        return "error"
    if process_state == "RUNNING" or reported is not None:
        return "running"
    return "unknown"


@command(GetStatus)
async def get_status(actor: "ControlActor", req: GetStatus) -> StatusResult:
    return await actor.status()


class MasterView:
    """The master's equity and open positions for one market, as its PUB messages tell them:
    a snapshot replaces everything, a fill moves one position to `position_after`."""

    def __init__(self) -> None:
        self.equity: Decimal | None = None
        self.equity_asset = "USDT"
        self.positions: dict[tuple[str, str], PositionEntry] = {}

    def note(self, event: MasterEvent) -> None:
        if isinstance(event, PositionSnapshot):
            self.equity, self.equity_asset = event.equity, event.equity_asset
            self.positions = {(p.symbol, p.position_side): p for p in event.positions if p.qty}
        elif isinstance(event, MasterFill):
            self.equity, self.equity_asset = event.equity, event.equity_asset
            key = (event.symbol, event.position_side)
            if event.position_after:
                before = self.positions.get(key)
                entry_price = before.entry_price if before is not None else event.price
                self.positions[key] = PositionEntry(
                    symbol=event.symbol,
                    position_side=event.position_side,
                    qty=event.position_after,
                    entry_price=entry_price,
                    leverage=event.leverage,
                    margin_type=event.margin_type,
                )
            else:
                self.positions.pop(key, None)

    def status(self, market: str, connected: bool, heartbeat_age_ms: int | None) -> MasterStatus:
        return MasterStatus(
            market=market,
            connected=connected,
            heartbeat_age_ms=heartbeat_age_ms,  # type: ignore[arg-type]
            equity=self.equity,
            equity_asset=self.equity_asset,
            positions=tuple(self.positions[k] for k in sorted(self.positions)),
        )
