"""What the journal keeps, built from what happened (pure: no I/O): one record per slave report,
master event, covered fill or control event, with a one-line summary each.
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any, Final

import msgspec

from protocol.codec import encode
from protocol.messages import (
    AccountConfigChanged,
    DesyncDetected,
    Heartbeat,
    IncomeReport,
    MasterAlgoOrder,
    MasterEvent,
    MasterFill,
    MasterOrder,
    MirrorSkipped,
    OrderFailed,
    OrderMirrored,
    PositionSnapshot,
    Reconciled,
    SlaveError,
    SlaveReport,
    SlaveStatusReport,
)

REPORT_KINDS: Final = frozenset({"mirrored", "skipped", "failed", "status", "desync", "reconciled", "slaveerr", "income"})
ERROR_KINDS: Final = frozenset({"failed", "desync", "slaveerr"})


class JournalRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One row to insert (the `id` comes from SQLite)."""

    ts_ms: int
    kind: str
    slave_id: str | None = None
    market: str | None = None
    symbol: str | None = None
    summary: str = ""
    error: bool = False
    master_order_id: int | None = None
    master_trade_id: int | None = None
    client_order_id: str | None = None
    t_master_recv_ns: int | None = None
    t_master_pub_ns: int | None = None
    t_slave_recv_ns: int | None = None
    t_order_sent_ns: int | None = None
    t_order_acked_ns: int | None = None
    latency_ns: int | None = None
    body: bytes | None = None

    def row(self) -> tuple[Any, ...]:
        return (
            self.ts_ms,
            self.kind,
            self.slave_id,
            self.market,
            self.symbol,
            self.summary,
            int(self.error),
            0 if self.error else 1,
            self.master_order_id,
            self.master_trade_id,
            self.client_order_id,
            self.t_master_recv_ns,
            self.t_master_pub_ns,
            self.t_slave_recv_ns,
            self.t_order_sent_ns,
            self.t_order_acked_ns,
            self.latency_ns,
            self.body,
        )


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def tag_of(msg: msgspec.Struct) -> str:
    """The tag ("t") of a protocol message."""
    return str(type(msg).__struct_config__.tag)


# ------------------------------------------------------------------------------- records (pure)


def _nz(value: int) -> int | None:
    return value or None


def summarize_report(report: SlaveReport) -> str:
    """One human line per report (TUI journal view, notifications)."""
    match report:
        case OrderMirrored():
            price = report.avg_price if report.avg_price is not None else report.price
            at = f" @ {price}" if price is not None else ""
            return (
                f"{report.side} {report.qty} {report.symbol} {report.position_side} -> "
                f"#{report.exchange_order_id} {report.status} {report.executed_qty}{at}"
            )
        case MirrorSkipped():
            text = f" ({report.text})" if report.text else ""
            return f"skip {report.side} {report.qty} {report.symbol}: {report.reason}{text}"
        case OrderFailed():
            unknown = " (status unknown)" if report.status_unknown else ""
            return f"FAILED {report.side} {report.qty} {report.symbol}: {report.error_code} {report.error_msg}{unknown}"
        case SlaveStatusReport():
            return f"state {report.state}" + (f"; errors: {'; '.join(report.errors)}" if report.errors else "")
        case DesyncDetected():
            return f"desync {report.market}: {report.cause}" + (f" ({report.detail})" if report.detail else "")
        case Reconciled():
            left = f", {len(report.drifts)} drift(s) left" if report.drifts else ""
            return f"reconciled {report.market}: {report.orders} order(s){left}"
        case SlaveError():
            fatal = "FATAL " if report.fatal else ""
            return f"{fatal}{report.code}: {report.message}"
        case IncomeReport():
            total = sum((i.income for i in report.items), Decimal(0))
            return f"income {report.market}: {len(report.items)} record(s), {total} in all"
    return tag_of(report)


def record_for_equity(slave_id: str, equity: Decimal, ts_ms: int | None = None) -> JournalRecord:
    """A sample of one slave's equity (USDT, over its markets): kind "equity", the value in the body."""
    return JournalRecord(
        ts_ms=now_ms() if ts_ms is None else ts_ms,
        kind="equity",
        slave_id=slave_id,
        summary=f"equity {equity} USDT",
        body=str(equity).encode(),
    )


def record_for_report(report: SlaveReport, ts_ms: int | None = None) -> JournalRecord:
    """The journal row of one slave report (its latency stamps in columns)."""
    ts = now_ms() if ts_ms is None else ts_ms
    kind = tag_of(report)
    fields: dict[str, Any] = {}
    if isinstance(report, (OrderMirrored, MirrorSkipped, OrderFailed)):
        fields = dict(
            market=report.market,
            symbol=report.symbol,
            master_order_id=report.master_order_id,
            master_trade_id=report.master_trade_id,
            client_order_id=report.client_order_id or None,
            t_master_recv_ns=_nz(report.t_master_recv_ns),
            t_master_pub_ns=_nz(report.t_master_pub_ns),
            t_slave_recv_ns=_nz(report.t_slave_recv_ns),
        )
        if isinstance(report, OrderMirrored):
            fields.update(t_order_sent_ns=report.t_order_sent_ns, t_order_acked_ns=report.t_order_acked_ns)
            if report.t_master_recv_ns:
                fields["latency_ns"] = report.t_order_acked_ns - report.t_master_recv_ns
        elif isinstance(report, OrderFailed):
            fields.update(t_order_sent_ns=_nz(report.t_order_sent_ns))
            if report.t_master_recv_ns and report.t_failed_ns:
                fields["latency_ns"] = report.t_failed_ns - report.t_master_recv_ns
    elif isinstance(report, (DesyncDetected, Reconciled)):
        fields = dict(market=report.market)
    elif isinstance(report, (SlaveError, IncomeReport)):
        fields = dict(market=report.market)
    return JournalRecord(
        ts_ms=ts,
        kind=kind,
        slave_id=report.slave_id,
        summary=summarize_report(report),
        error=kind in ERROR_KINDS,
        body=encode(report),
        **fields,
    )


def record_for_master_event(event: MasterEvent, ts_ms: int | None = None) -> JournalRecord | None:
    """The journal row of a master event; None for heartbeats and periodic snapshots (not journalled)."""
    ts = now_ms() if ts_ms is None else ts_ms
    match event:
        case MasterFill():
            return JournalRecord(
                ts_ms=ts,
                kind="master.fill",
                market=event.market,
                symbol=event.symbol,
                summary=(
                    f"master {event.side} {event.qty} {event.symbol} {event.position_side} @ {event.price}"
                    f" {event.status}; position {event.position_before} -> {event.position_after}"
                    f" (seq {event.seq})"
                ),
                master_order_id=event.order_id,
                master_trade_id=event.trade_id,
                client_order_id=event.client_order_id or None,
                t_master_recv_ns=event.t_master_recv_ns,
                t_master_pub_ns=event.t_master_pub_ns,
                body=encode(event),
            )
        case MasterAlgoOrder():
            a = event.order
            qty = "close-all" if a.close_position else str(a.quantity)
            limit = f" limit {a.price}" if a.price else ""
            trigger = f"trigger {a.trigger_price}"
            if a.callback_rate:  # a trailing stop
                trigger = f"callback {a.callback_rate}%" + (f" from {a.activate_price}" if a.activate_price else "")
            return JournalRecord(
                ts_ms=ts,
                kind="master.algo",
                market=event.market,
                symbol=a.symbol,
                summary=(
                    f"master stop {event.action}: {a.side} {qty} {a.symbol} {a.position_side} {a.order_type}"
                    f" {trigger} ({a.working_type}){limit}{' reduce-only' if a.reduce_only else ''}"
                    f"{f', order {a.actual_order_id}' if a.actual_order_id else ''} (seq {event.seq})"
                ),
                master_order_id=a.algo_id,
                client_order_id=a.client_algo_id or None,
                t_master_recv_ns=event.t_master_recv_ns,
                t_master_pub_ns=event.t_master_pub_ns,
                body=encode(event),
            )
        case MasterOrder():
            o = event.order
            return JournalRecord(
                ts_ms=ts,
                kind="master.order",
                market=event.market,
                symbol=o.symbol,
                summary=(
                    f"master order {event.action}: {o.side} {o.orig_qty} {o.symbol} {o.position_side} {o.order_type} {o.time_in_force}"
                    f" @ {o.price}{f' stop {o.stop_price}' if o.stop_price else ''}{' reduce-only' if o.reduce_only else ''},"
                    f" filled {o.cum_qty} (seq {event.seq})"
                ),
                master_order_id=o.order_id,
                client_order_id=o.client_order_id or None,
                t_master_recv_ns=event.t_master_recv_ns,
                t_master_pub_ns=event.t_master_pub_ns,
                body=encode(event),
            )
        case AccountConfigChanged():
            what = ", ".join(
                f"{k}={v}"
                for k, v in (("leverage", event.leverage), ("margin_type", event.margin_type), ("position_mode", event.position_mode))
                if v is not None
            )
            return JournalRecord(
                ts_ms=ts,
                kind="master.cfg",
                market=event.market,
                symbol=event.symbol,
                summary=f"master config {event.symbol or 'account'}: {what}",
                body=encode(event),
                t_master_recv_ns=_nz(event.t_master_recv_ns),
            )
        case PositionSnapshot() if event.reason != "periodic":
            return JournalRecord(
                ts_ms=ts,
                kind="master.snap",
                market=event.market,
                summary=(
                    f"master snapshot ({event.reason}) seq {event.seq}: {len(event.positions)} position(s),"
                    f" equity {event.equity} {event.equity_asset}"
                ),
            )
        case Heartbeat() | PositionSnapshot():
            return None
    return None


class CoveredBody(msgspec.Struct, frozen=True):
    """Body of a "covered" row: the master fill (epoch, seq) a slave's reconciliation covered."""

    epoch: int
    seq: int


def record_for_covered(
    slave_id: str, market: str, symbol: str, order_id: int, trade_id: int, epoch: int, seq: int, snapshot_seq: int, ts_ms: int | None = None
) -> JournalRecord:
    """A master fill this slave never decided, covered by its reconciliation (actors/control/coverage.py)."""
    return JournalRecord(
        ts_ms=now_ms() if ts_ms is None else ts_ms,
        kind="covered",
        slave_id=slave_id,
        market=market,
        symbol=symbol,
        master_order_id=order_id,
        master_trade_id=trade_id,
        summary=f"fill seq {seq} covered by reconciliation at master snapshot seq {snapshot_seq}",
        body=msgspec.msgpack.encode(CoveredBody(epoch, seq)),
    )


def record_for_event(
    kind: str, summary: str, *, slave_id: str | None = None, error: bool = False, ts_ms: int | None = None
) -> JournalRecord:
    """A row for control's own events: "notify", "control", "actor" ..."""
    return JournalRecord(ts_ms=now_ms() if ts_ms is None else ts_ms, kind=kind, slave_id=slave_id, summary=summary, error=error)
