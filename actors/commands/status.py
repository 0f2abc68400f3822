"""GetStatus, and the derived state of one slave (pure)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from protocol.messages import GetStatus, SlaveConfig, SlaveStatusReport, StatusResult

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
