"""The control socket's messages: requests (TUI/CLI DEALER -> control ROUTER, the `ControlRequest`
union), their results, and what control sends back (`ControlServerMsg`: `Ok` / `Error` replies and
live `Push`es). The shared vocabulary and every other socket's messages are in messages.py.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Union

import msgspec

from .messages import (
    Asset,
    DesyncDetected,
    Error,
    Market,
    MirrorSkipped,
    Msg,
    NonNegInt,
    OrderFailed,
    OrderMirrored,
    Part,
    PauseAllChanged,
    PositionEntry,
    Reconciled,
    RequestId,
    SlaveConfig,
    SlaveConfigChanged,
    SlaveError,
    SlaveId,
    SlaveReport,
    SlaveStatusReport,
    Symbol,
    _check_finite,
)

# --------------------------------------------------------------------------- control ROUTER requests


class GetStatus(Msg, tag="status?", frozen=True, kw_only=True):
    id: RequestId


class ListSlaves(Msg, tag="slaves?", frozen=True, kw_only=True):
    id: RequestId


class GetSlave(Msg, tag="slave?", frozen=True, kw_only=True):
    id: RequestId
    slave_id: SlaveId


class SetSlaveConfig(Msg, tag="setslave", frozen=True, kw_only=True):
    id: RequestId
    config: SlaveConfig


class AddSlave(Msg, tag="addslave", frozen=True, kw_only=True):
    """Add a slave. Its API key must already be in the keystore (secrets never travel here)."""

    id: RequestId
    config: SlaveConfig


class RemoveSlave(Msg, tag="rmslave", frozen=True, kw_only=True):
    id: RequestId
    slave_id: SlaveId


class PauseSlave(Msg, tag="pause", frozen=True, kw_only=True):
    id: RequestId
    slave_id: SlaveId


class ResumeSlave(Msg, tag="resume", frozen=True, kw_only=True):
    id: RequestId
    slave_id: SlaveId


class PauseAll(Msg, tag="pauseall!", frozen=True, kw_only=True):
    id: RequestId


class ResumeAll(Msg, tag="resumeall!", frozen=True, kw_only=True):
    id: RequestId


class RestartActor(Msg, tag="restart", frozen=True, kw_only=True):
    id: RequestId
    name: Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_:-]{0,63}$")]  # supervisor name


class FlattenSlave(Msg, tag="flatten!", frozen=True, kw_only=True):
    id: RequestId
    slave_id: SlaveId
    market: Market | None = None
    symbol: Symbol | None = None


class QueryJournal(Msg, tag="journal?", frozen=True, kw_only=True):
    id: RequestId
    limit: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 100
    slave_id: SlaveId | None = None
    symbol: Symbol | None = None
    kind: str | None = None  # a SlaveReport tag ("mirrored", "skipped", ...) or None for all
    before_id: int | None = None  # paging: entries with journal id < before_id


class AckError(Msg, tag="ack", frozen=True, kw_only=True):
    id: RequestId
    error_id: int | None = None  # None: acknowledge every error


class GetLogTail(Msg, tag="logtail?", frozen=True, kw_only=True):
    """The last `lines` lines of one program's log file (logs/<name>.log), redacted."""

    id: RequestId
    name: Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_:-]{0,63}$")]  # supervisor name
    lines: Annotated[int, msgspec.Meta(ge=1, le=2000)] = 100


class Subscribe(Msg, tag="sub", frozen=True, kw_only=True):
    """Ask for live `Push`es on this connection. `kinds`: report tags; empty = everything."""

    id: RequestId
    kinds: tuple[str, ...] = ()


class Unsubscribe(Msg, tag="unsub", frozen=True, kw_only=True):
    id: RequestId


class GetLedger(Msg, tag="ledger?", frozen=True, kw_only=True):
    """How one slave's copies did over the last `hours` (actors/control/ledger.py)."""

    id: RequestId
    slave_id: SlaveId
    hours: Annotated[int, msgspec.Meta(ge=1, le=24 * 90)] = 24


ControlRequest = Union[
    GetStatus,
    ListSlaves,
    GetSlave,
    SetSlaveConfig,
    AddSlave,
    RemoveSlave,
    PauseSlave,
    ResumeSlave,
    PauseAll,
    ResumeAll,
    RestartActor,
    FlattenSlave,
    QueryJournal,
    AckError,
    Subscribe,
    Unsubscribe,
    GetLogTail,
    GetLedger,
]


# --------------------------------------------------------------------------- control results


class ActorInfo(Part, frozen=True, kw_only=True):
    name: str  # supervisor program name: control, master-usdm, slave-<id>
    state: str  # supervisor state name: RUNNING, STOPPED, FATAL, ...
    pid: int | None = None
    uptime_s: int = 0
    heartbeat_age_ms: int | None = None  # masters: age of the last heartbeat seen by control


class MasterStatus(Part, frozen=True, kw_only=True):
    """What control knows of one market's master (from its PUB: heartbeats, snapshots, fills)."""

    market: Market
    connected: bool = False  # last heartbeat recent and the master's exchange stream up
    heartbeat_age_ms: int | None = None  # None: no heartbeat seen yet
    equity: Decimal | None = None
    equity_asset: Asset = "USDT"
    positions: tuple[PositionEntry, ...] = ()  # open positions (non-zero), latest known

    def __post_init__(self) -> None:
        _check_finite(self, "equity")


class SlaveSummary(Part, frozen=True, kw_only=True):
    config: SlaveConfig
    process_state: str = "UNKNOWN"  # supervisor state of slave-<id>
    status: SlaveStatusReport | None = None  # last periodic report
    # Derived by control (actors/control/commands/status.slave_state): running, paused, stopped, error,
    # restarting, starting, unknown. "" from an older control.
    state: str = ""
    last_error: str = ""  # the slave's last error message ("" if none)


class JournalEntry(Part, frozen=True, kw_only=True):
    id: int
    ts_ms: int  # wall-clock epoch ms when journalled
    slave_id: SlaveId | None = None
    market: Market | None = None
    symbol: Symbol | None = None
    kind: str  # report tag or control event name
    summary: str = ""
    report: SlaveReport | None = None
    acked: bool = True  # errors: acknowledged by an operator


class Done(Msg, tag="done", frozen=True, kw_only=True):
    """Plain acknowledgement."""

    detail: str = ""


class StatusResult(Msg, tag="statusres", frozen=True, kw_only=True):
    actors: tuple[ActorInfo, ...] = ()
    slaves_total: NonNegInt = 0
    slaves_running: NonNegInt = 0
    paused_all: bool = False
    unacked_errors: NonNegInt = 0
    t_ns: int = 0
    masters: tuple[MasterStatus, ...] = ()


class SlaveListResult(Msg, tag="slaves", frozen=True, kw_only=True):
    slaves: tuple[SlaveSummary, ...] = ()


class SlaveResult(Msg, tag="slave", frozen=True, kw_only=True):
    slave: SlaveSummary


class JournalResult(Msg, tag="journal", frozen=True, kw_only=True):
    entries: tuple[JournalEntry, ...] = ()


class SubscribedResult(Msg, tag="subscribed", frozen=True, kw_only=True):
    kinds: tuple[str, ...] = ()


class LogTailResult(Msg, tag="logtail", frozen=True, kw_only=True):
    name: str
    lines: tuple[str, ...] = ()  # oldest first, redacted


class SlaveLedger(Part, frozen=True, kw_only=True):
    """One slave's ledger over a period (actors/control/ledger.py `summarize`)."""

    slave_id: str
    copies: int
    filled: int  # copies that executed anything
    failed: int
    skipped: dict[str, int]  # by reason
    slippage_p50_bps: Decimal | None
    slippage_p90_bps: Decimal | None
    latency_p50_ms: Decimal | None
    latency_p90_ms: Decimal | None
    realized_pnl: Decimal = Decimal(0)  # USD-M REALIZED_PNL
    commission: Decimal = Decimal(0)  # USD-M COMMISSION (negative: paid)
    funding: Decimal = Decimal(0)  # USD-M FUNDING_FEE (negative: paid)
    net_income: Decimal = Decimal(0)  # every income record together
    equity_first: Decimal | None = None  # the period's equity samples
    equity_last: Decimal | None = None
    equity_hwm: Decimal | None = None
    max_drawdown_pct: Decimal | None = None  # the deepest fall from the running high-water mark
    max_drawdown: Decimal | None = None  # the same in USDT


class LedgerResult(Msg, tag="ledger", frozen=True, kw_only=True):
    """GetLedger's answer: the summary and the series the TUI draws (the latest 500 copies)."""

    slave_id: SlaveId
    summary: SlaveLedger | None = None  # None: nothing in the period
    equity: tuple[Decimal, ...] = ()  # the equity samples, oldest first
    slippage_bps: tuple[Decimal, ...] = ()  # per copy that filled, oldest first
    latency_ms: tuple[Decimal, ...] = ()


ControlResult = Union[Done, StatusResult, SlaveListResult, SlaveResult, JournalResult, SubscribedResult, LogTailResult, LedgerResult]


class Ok(Msg, tag="ok", frozen=True, kw_only=True):
    id: RequestId
    result: ControlResult


class ActorStateChanged(Msg, tag="actor", frozen=True, kw_only=True):
    """Control saw a supervisor state change of one program."""

    name: str
    state: str
    t_ns: int = 0


class Push(Msg, tag="push", frozen=True, kw_only=True):
    """Live event for a subscribed TUI/CLI connection."""

    event: (
        OrderMirrored
        | MirrorSkipped
        | OrderFailed
        | SlaveStatusReport
        | DesyncDetected
        | Reconciled
        | SlaveError
        | ActorStateChanged
        | SlaveConfigChanged
        | PauseAllChanged
    )


ControlReply = Union[Ok, Error]


ControlServerMsg = Union[Ok, Error, Push]
