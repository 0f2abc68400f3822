"""Fixed control replies for the TUI's deterministic tests (snapshots, tmux, pilot)."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

from protocol import control_api as api, messages as m

MS = 1_000_000


def drift(symbol: str, side: str, actual: str, expected: str, in_sync: bool | None = None) -> m.PositionDrift:
    """A position as a slave reports it; `in_sync` is the slave's own judgement (one step, min
    notional, balance-multiplier tolerance): by default here, within 2% of the expected size."""
    a, e = D(actual), D(expected)
    if in_sync is None:
        in_sync = abs(a - e) <= abs(e) * D("0.02") if e else a == 0
    return m.PositionDrift(symbol=symbol, position_side=side, actual=a, expected=e, in_sync=in_sync)  # type: ignore[arg-type]


COPYABLE = (
    m.Copyability(symbol="BTCUSDT", smallest_master_qty=D("0.004"), leverage=10, margin_ok=True),
    m.Copyability(symbol="SOLUSDT", entries="max open positions (2) reached"),
)


def status_report(
    slave_id: str,
    state: str = "running",
    equity: str = "10000",
    latency_ms: float | None = 12.5,
    positions: tuple[m.PositionDrift, ...] = (),
    errors: tuple[str, ...] = (),
) -> m.SlaveStatusReport:
    return m.SlaveStatusReport(
        slave_id=slave_id,
        state=state,  # type: ignore[arg-type]
        markets=(m.MarketStatus(market="usdm", connected=True, equity=D(equity), k=D("0.5"), positions=positions, copyable=COPYABLE),),
        last_latency_ns=int(latency_ms * MS) if latency_ms is not None else None,
        errors=errors,
        t_ns=1,
    )


SLAVES: tuple[api.SlaveSummary, ...] = (
    api.SlaveSummary(
        config=m.SlaveConfig(id="alice", name="Alice (desk 1)", sizing="fixed_ratio", ratio=D("0.5")),
        process_state="RUNNING",
        state="running",
        status=status_report("alice", positions=(drift("BTCUSDT", "LONG", "0.050", "0.05"), drift("ETHUSDT", "SHORT", "1.20", "1.2"))),
    ),
    api.SlaveSummary(
        config=m.SlaveConfig(id="bob", name="Bob", multiplier=D("2"), symbols_deny=("DOGEUSDT",)),
        process_state="RUNNING",
        state="paused",
        status=status_report(
            "bob", state="paused", equity="2500.5", latency_ms=30.25, positions=(drift("BTCUSDT", "LONG", "0.010", "0.02"),)
        ),
    ),
    api.SlaveSummary(
        config=m.SlaveConfig(id="carol", name="Carol", sizing="fixed_ratio", ratio=D("2"), max_leverage=10),
        process_state="FATAL",
        state="error",
        last_error="API key refused (-2015): trading stopped",
    ),
    api.SlaveSummary(config=m.SlaveConfig(id="dave", sizing="fixed_ratio", ratio=D("0.25")), process_state="STOPPED", state="stopped"),
)

STATUS = api.StatusResult(
    actors=(
        api.ActorInfo(name="control", state="RUNNING", pid=4242, uptime_s=100),
        api.ActorInfo(name="master-usdm", state="RUNNING", pid=4243, uptime_s=100, heartbeat_age_ms=200),
    ),
    slaves_total=4,
    slaves_running=1,
    paused_all=False,
    unacked_errors=2,
    t_ns=1,
    masters=(
        api.MasterStatus(
            market="usdm",
            connected=True,
            heartbeat_age_ms=200,
            equity=D("100000.123"),
            positions=(
                m.PositionEntry(symbol="BTCUSDT", position_side="LONG", qty=D("0.1")),
                m.PositionEntry(symbol="ETHUSDT", position_side="SHORT", qty=D("2.4")),
            ),
        ),
    ),
)


def mirrored(slave_id: str, trade: int, latency_ms: float, symbol: str = "BTCUSDT") -> m.OrderMirrored:
    return m.OrderMirrored(
        slave_id=slave_id,
        market="usdm",
        symbol=symbol,
        position_side="LONG",
        side="BUY",
        master_order_id=100 + trade,
        master_trade_id=trade,
        qty=D("0.005"),
        exchange_order_id=9000 + trade,
        status="FILLED",
        executed_qty=D("0.005"),
        avg_price=D("65000"),
        t_master_recv_ns=1_000 * MS,
        t_order_sent_ns=1_000 * MS + int(latency_ms * MS) - MS,
        t_order_acked_ns=1_000 * MS + int(latency_ms * MS),
    )


LATENCIES_MS = (12.0, 14.5, 11.2, 30.1, 13.3, 12.8, 15.0, 55.4, 12.1, 12.5)
JOURNAL_TS = 1_700_000_000_000  # times in the journal are rendered as local HH:MM:SS


def journal_entries(slave_id: str = "alice") -> tuple[api.JournalEntry, ...]:
    """Newest first, as control returns them."""
    entries: list[api.JournalEntry] = []
    for i, ms in enumerate(LATENCIES_MS, start=1):
        report = mirrored(slave_id, i, ms)
        entries.append(
            api.JournalEntry(
                id=i,
                ts_ms=JOURNAL_TS + i * 1000,
                slave_id=slave_id,
                market="usdm",
                symbol="BTCUSDT",
                kind="mirrored",
                summary=f"BUY 0.005 BTCUSDT LONG -> #{9000 + i} FILLED 0.005 @ 65000",
                report=report,
            )
        )
    skipped = m.MirrorSkipped(
        slave_id=slave_id,
        market="usdm",
        symbol="ETHUSDT",
        position_side="SHORT",
        side="SELL",
        master_order_id=300,
        master_trade_id=30,
        qty=D("0.001"),
        reason="below_min_notional",
        text="3.2 < 5 USDT",
    )
    entries.append(
        api.JournalEntry(
            id=11,
            ts_ms=JOURNAL_TS + 11_000,
            slave_id=slave_id,
            market="usdm",
            symbol="ETHUSDT",
            kind="skipped",
            summary="skip SELL 0.001 ETHUSDT: below_min_notional (3.2 < 5 USDT)",
            report=skipped,
        )
    )
    entries.append(
        api.JournalEntry(
            id=12, ts_ms=JOURNAL_TS + 12_000, slave_id=slave_id, kind="slaveerr", summary="ws_down: user data stream lost", acked=False
        )
    )
    return tuple(reversed(entries))


LOG_LINES = ("2024-01-01 00:00:00 INFO slave alice started", "2024-01-01 00:00:01 INFO usdm: in sync (2 positions)")


LEDGER = api.LedgerResult(
    slave_id="alice",
    summary=api.SlaveLedger(slave_id="alice", copies=12, filled=11, failed=1, skipped={"below_min_notional": 2}, slippage_p50_bps=D("1.20"),
                            slippage_p90_bps=D("4.80"), latency_p50_ms=D("12.8"), latency_p90_ms=D("41.0"), realized_pnl=D("152.5"),
                            commission=D("-6.12"), funding=D("-0.85"), net_income=D("145.53"), equity_first=D("50000"),
                            equity_last=D("50145.5"), equity_hwm=D("50310"), max_drawdown_pct=D("0.62"), max_drawdown=D("310")),
    equity=tuple(D(v) for v in ("50000", "50120", "50310", "50000", "49998", "50080", "50145.5")),
    slippage_bps=tuple(D(v) for v in ("0.5", "1.2", "-2.0", "4.8", "1.0", "0.0", "2.2", "1.2", "3.1", "-0.4", "0.9")),
    latency_ms=tuple(D(v) for v in ("12.8", "10.1", "41.0", "13.5", "9.9", "12.0", "55.4", "11.2", "12.9", "14.0", "12.1")),
)  # fmt: skip


def replies(**over: Any) -> dict[type, Any]:
    """Fixed replies for every request the TUI sends."""
    table: dict[type, Any] = {
        api.GetStatus: STATUS,
        api.ListSlaves: api.SlaveListResult(slaves=SLAVES),
        api.GetSlave: lambda req: next(
            (api.SlaveResult(slave=s) for s in SLAVES if s.config.id == req.slave_id),
            m.Error(id=0, code=6, reason=f"no slave {req.slave_id!r}"),
        ),
        api.QueryJournal: lambda req: api.JournalResult(entries=journal_entries(req.slave_id or "alice")),
        api.GetLogTail: api.LogTailResult(name="slave-alice", lines=LOG_LINES),
        api.GetLedger: LEDGER,
    }
    table.update(over)
    return table
