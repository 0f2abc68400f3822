"""One sample of every protocol message, per socket (tests/unit/test_protocol.py round-trips them)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal as D
from typing import Any

from protocol import codec, control_api as api, messages as m
from protocol.errors import ErrorCode


def fill(**over: Any) -> m.MasterFill:
    fields: dict[str, Any] = dict(
        market="usdm",
        epoch=77,
        seq=5,
        symbol="BTCUSDT",
        position_side="BOTH",
        side="BUY",
        order_id=8886774,
        trade_id=1234,
        client_order_id="web_x1",
        order_type="MARKET",
        price=D("67250.10"),
        qty=D("0.015"),
        cum_qty=D("0.015"),
        status="FILLED",
        position_before=D("0.010"),
        position_after=D("0.025"),
        equity=D("10234.55"),
        leverage=20,
        margin_type="CROSSED",
        trade_time_ms=1_700_000_000_000,
        t_exchange_ms=1_700_000_000_001,
        t_master_recv_ns=111,
        t_master_pub_ns=222,
    )
    fields.update(over)
    return m.MasterFill(**fields)


CONFIG = m.SlaveConfig(
    id="alice-1",
    name="Alice",
    markets=("usdm", "margin"),
    sizing="fixed_ratio",
    ratio=D("0.5"),
    symbols_allow=("BTCUSDT", "ETHUSDT"),
    symbols_deny=("DOGEUSDT",),
    max_leverage=10,
    max_position_notional=D("5000"),
    symbol_max_notional={"ETHUSDT": D("1000")},
    reverse=True,
    min_notional_policy="round_up",
    on_start="new_only",
    margin_level_min=D("1.5"),
    settle_after_ms=250,
)
RESTING = m.RestingOrder(
    symbol="BTCUSDT",
    position_side="LONG",
    side="SELL",
    order_id=4411,
    client_order_id="web_tp1",
    order_type="LIMIT",
    time_in_force="GTX",
    price=D("71000.5"),
    orig_qty=D("0.25"),
    cum_qty=D("0.1"),
    reduce_only=True,
    position_at_place=D("0.5"),
    update_ms=1_700_000_000_100,
)
STOP = m.ConditionalOrder(
    symbol="BTCUSDT",
    position_side="LONG",
    side="SELL",
    algo_id=2148719,
    client_algo_id="web_sl1",
    order_type="STOP_MARKET",
    trigger_price=D("65000.1"),
    close_position=True,
    working_type="MARK_PRICE",
    price_protect=True,
    position_at_place=D("0.5"),
    actual_order_id=99001,
    update_ms=1_700_000_000_200,
)
TAKE_PROFIT = m.ConditionalOrder(
    symbol="ETHUSDT",
    position_side="BOTH",
    side="BUY",
    algo_id=7,
    client_algo_id="tp",
    order_type="TAKE_PROFIT",
    trigger_price=D("3000"),
    price=D("2999.5"),
    quantity=D("1.5"),
    reduce_only=True,
    time_in_force="GTX",
    position_at_place=D("-3"),
)
SNAP = m.PositionSnapshot(
    market="usdm",
    epoch=77,
    seq=9,
    equity=D("1000.5"),
    positions=(
        m.PositionEntry(symbol="BTCUSDT", position_side="LONG", qty=D("0.5"), entry_price=D("60000"), leverage=5, margin_type="ISOLATED"),
    ),
    holdings=(m.AssetHolding(asset="BTC", free=D("1"), locked=D("0.1"), borrowed=D("0.2"), interest=D("0.0001")),),
    position_mode="hedge",
    open_orders=(RESTING,),
    reason="reconnect",
    t_ns=5,
)
MIRROR_KEYS: dict[str, Any] = dict(
    slave_id="alice-1",
    market="usdm",
    symbol="BTCUSDT",
    position_side="SHORT",
    side="SELL",
    master_order_id=1,
    master_trade_id=2,
    master_epoch=77,
    master_seq=5,
    client_order_id="ctABC",
    leg=1,
    qty=D("0.007"),
    t_master_recv_ns=1,
    t_master_pub_ns=2,
    t_slave_recv_ns=3,
)
DRIFT = m.PositionDrift(symbol="BTCUSDT", position_side="BOTH", actual=D("0.1"), expected=D("0.2"))
STATUS = m.SlaveStatusReport(
    slave_id="alice-1",
    state="running",
    last_latency_ns=1_500_000,
    errors=("ws reconnect",),
    markets=(m.MarketStatus(market="usdm", connected=True, equity=D("500"), k=D("0.05"), positions=(DRIFT,)),),
    t_ns=9,
)
MIRRORED = m.OrderMirrored(
    **MIRROR_KEYS,
    reduce_only=True,
    exchange_order_id=99,
    status="FILLED",
    executed_qty=D("0.007"),
    avg_price=D("67000.1"),
    summary="filled",
    t_order_sent_ns=4,
    t_order_acked_ns=5,
)
SKIPPED = m.MirrorSkipped(**MIRROR_KEYS, reason="below_min_notional", text="3.2 < 5 USDT")
SUMMARY = api.SlaveSummary(config=CONFIG, process_state="RUNNING", status=STATUS, state="running", last_error="ws reconnect")

MASTER_EVENTS: list[Any] = [
    fill(),
    fill(
        market="margin",
        position_side="BOTH",
        side="SELL",
        reduce_only=False,
        position_before=D("-1"),
        position_after=D("-1.5"),
        borrowed_before=D("1"),
        borrowed_after=D("1.5"),
        side_effect="MARGIN_BUY",
        leverage=None,
        margin_type=None,
    ),
    SNAP,
    m.PositionSnapshot(market="spot", epoch=1, seq=0, equity=D("0"), reason="start", t_ns=1),
    m.MasterOrder(
        market="usdm",
        epoch=77,
        seq=6,
        action="amended",
        order=RESTING,
        position=D("0.4"),
        equity=D("10234.55"),
        t_exchange_ms=1_700_000_000_101,
        t_master_recv_ns=3,
        t_master_pub_ns=4,
    ),
    m.AccountConfigChanged(
        market="usdm", epoch=77, seq=6, symbol="BTCUSDT", leverage=25, margin_type="CROSSED", t_exchange_ms=1, t_master_recv_ns=2
    ),
    m.AccountConfigChanged(market="usdm", epoch=77, seq=7, position_mode="one_way"),
    m.Heartbeat(market="spot", epoch=77, seq=0, t_ns=3, connected=False),
    m.Heartbeat(market="usdm", epoch=77, seq=7, t_ns=3, connected=True, last_event_ms=10),
    m.MasterAlgoOrder(
        market="usdm",
        epoch=77,
        seq=8,
        action="triggered",
        order=STOP,
        position=D("0.5"),
        equity=D("10234.55"),
        t_exchange_ms=1_700_000_000_201,
        t_master_recv_ns=3,
        t_master_pub_ns=4,
    ),
    m.PositionSnapshot(market="usdm", epoch=3, seq=2, equity=D("5"), open_algo_orders=(TAKE_PROFIT,), reason="request", t_ns=1),
]
SLAVE_REPORTS: list[Any] = [
    MIRRORED,
    SKIPPED,
    m.OrderFailed(
        **MIRROR_KEYS, error_code=-2019, error_msg="Margin is insufficient.", status_unknown=False, t_order_sent_ns=4, t_failed_ns=6
    ),
    STATUS,
    m.DesyncDetected(slave_id="alice-1", market="usdm", cause="gap", detail="5..7", drifts=(DRIFT,), t_ns=1),
    m.Reconciled(slave_id="alice-1", market="spot", orders=2, t_ns=1),
    m.SlaveError(slave_id="alice-1", code="key_invalid", message="-2015", market="usdm", fatal=True, t_ns=1),
    m.IncomeReport(
        slave_id="alice-1",
        market="usdm",
        items=(
            m.IncomeItem(tran_id=9, income_type="REALIZED_PNL", income=D("12.5"), symbol="BTCUSDT", time_ms=1),
            m.IncomeItem(tran_id=10, income_type="FUNDING_FEE", income=D("-0.35"), symbol="BTCUSDT", time_ms=2),
        ),
        t_ns=3,
    ),
]
CONTROL_REQUESTS: list[Any] = [
    api.GetStatus(id=1),
    api.ListSlaves(id=2),
    api.GetSlave(id=3, slave_id="alice-1"),
    api.SetSlaveConfig(id=4, config=CONFIG),
    api.AddSlave(id=5, config=m.SlaveConfig(id="bob")),
    api.RemoveSlave(id=6, slave_id="bob"),
    api.PauseSlave(id=7, slave_id="bob"),
    api.ResumeSlave(id=8, slave_id="bob"),
    api.PauseAll(id=9),
    api.ResumeAll(id=10),
    api.RestartActor(id=11, name="master-usdm"),
    api.FlattenSlave(id=12, slave_id="bob", market="usdm", symbol="BTCUSDT"),
    api.QueryJournal(id=13, limit=50, slave_id="bob", symbol="ETHUSDT", kind="skipped", before_id=9),
    api.AckError(id=14, error_id=3),
    api.AckError(id=15),
    api.Subscribe(id=16, kinds=("mirrored",)),
    api.Unsubscribe(id=17),
    api.GetLogTail(id=18, name="slave-bob", lines=20),
    api.GetLedger(id=19, slave_id="bob", hours=48),
]
CONTROL_SERVER_MSGS: list[Any] = [
    api.Ok(id=1, result=api.Done(detail="paused")),
    api.Ok(
        id=2,
        result=api.StatusResult(
            actors=(api.ActorInfo(name="master-usdm", state="RUNNING", pid=42, uptime_s=9, heartbeat_age_ms=300),),
            slaves_total=3,
            slaves_running=2,
            paused_all=True,
            unacked_errors=1,
            t_ns=5,
            masters=(api.MasterStatus(market="usdm", connected=True, heartbeat_age_ms=300, equity=D("1000.5"), positions=SNAP.positions),),
        ),
    ),
    api.Ok(id=3, result=api.SlaveListResult(slaves=(SUMMARY,))),
    api.Ok(id=4, result=api.SlaveResult(slave=api.SlaveSummary(config=CONFIG))),
    api.Ok(
        id=5,
        result=api.JournalResult(
            entries=(
                api.JournalEntry(
                    id=1,
                    ts_ms=5,
                    slave_id="alice-1",
                    market="usdm",
                    symbol="BTCUSDT",
                    kind="skipped",
                    summary="below min notional",
                    report=SKIPPED,
                    acked=False,
                ),
                api.JournalEntry(id=2, ts_ms=6, kind="pause_all"),
            )
        ),
    ),
    api.Ok(id=6, result=api.SubscribedResult(kinds=("mirrored", "failed"))),
    api.Ok(id=8, result=api.LogTailResult(name="slave-bob", lines=("started", "running"))),
    api.Ok(
        id=9,
        result=api.LedgerResult(
            slave_id="bob",
            summary=api.SlaveLedger(
                slave_id="bob",
                copies=3,
                filled=2,
                failed=0,
                skipped={"slippage": 1},
                slippage_p50_bps=D("1.5"),
                slippage_p90_bps=D(4),
                latency_p50_ms=D("12.5"),
                latency_p90_ms=None,
                realized_pnl=D(50),
                max_drawdown_pct=D("2.5"),
            ),  # fmt: skip
            equity=(D(1000), D(990)),
            slippage_bps=(D("1.5"), D(4)),
            latency_ms=(D("12.5"),),
        ),
    ),
    m.Error(id=7, code=ErrorCode.NOT_FOUND, reason="no slave 'zed'"),
    api.Push(event=MIRRORED),
    api.Push(event=STATUS),
    api.Push(event=api.ActorStateChanged(name="slave-bob", state="FATAL", t_ns=1)),
    api.Push(event=m.SlaveConfigChanged(slave_id="bob", config=None, version=3)),
]
CONTROL_EVENTS: list[Any] = [
    m.SlaveConfigChanged(slave_id="alice-1", config=CONFIG, version=2),
    m.SlaveConfigChanged(slave_id="bob", config=None, version=3),
    m.PauseAllChanged(paused=True, version=1),
    m.FlattenCommand(request_id=12, slave_id="bob", market="usdm", symbol="BTCUSDT"),
]
SNAPSHOT_REQUESTS: list[Any] = [m.SnapshotRequest(id=1, market="usdm")]
SNAPSHOT_REPLIES: list[Any] = [
    m.SnapshotReply(id=1, snapshot=SNAP),
    m.ErrorReply(id=1, code=ErrorCode.WRONG_MARKET, reason="this is master-usdm"),
]

DECODERS: list[tuple[str, Callable[[bytes], Any], list[Any]]] = [
    ("master_event", codec.decode_master_event, MASTER_EVENTS),
    ("slave_report", codec.decode_slave_report, SLAVE_REPORTS),
    ("control_request", codec.decode_control_request, CONTROL_REQUESTS),
    ("control_server_msg", codec.decode_control_server_msg, CONTROL_SERVER_MSGS),
    ("control_event", codec.decode_control_event, CONTROL_EVENTS),
    ("snapshot_request", codec.decode_snapshot_request, SNAPSHOT_REQUESTS),
    ("snapshot_reply", codec.decode_snapshot_reply, SNAPSHOT_REPLIES),
]
ALL_SAMPLES = [(name, dec, msg) for name, dec, msgs in DECODERS for msg in msgs]
