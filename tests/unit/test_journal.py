"""actors/control/journal.py: rows for every report, queries by slave / symbol / kind, acks, batching."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest

from actors.control.journal import Journal, JournalStore, record_for_event, record_for_master_event, record_for_report
from protocol import messages as m


def mirrored(slave: str = "s1", symbol: str = "BTCUSDT", trade: int = 1, **over: Any) -> m.OrderMirrored:
    fields: dict[str, Any] = dict(
        slave_id=slave,
        market="usdm",
        symbol=symbol,
        position_side="BOTH",
        side="BUY",
        master_order_id=10,
        master_trade_id=trade,
        qty=Decimal("0.005"),
        exchange_order_id=77,
        status="FILLED",
        executed_qty=Decimal("0.005"),
        avg_price=Decimal("65000.1"),
        t_master_recv_ns=1_000,
        t_master_pub_ns=1_100,
        t_slave_recv_ns=1_200,
        t_order_sent_ns=1_300,
        t_order_acked_ns=5_000,
    )
    fields.update(over)
    return m.OrderMirrored(**fields)


def failed(slave: str = "s1", symbol: str = "ETHUSDT") -> m.OrderFailed:
    return m.OrderFailed(
        slave_id=slave,
        market="usdm",
        symbol=symbol,
        position_side="BOTH",
        side="SELL",
        master_order_id=11,
        master_trade_id=2,
        qty=Decimal("0.1"),
        error_code=-2019,
        error_msg="Margin is insufficient.",
        t_master_recv_ns=1_000,
        t_failed_ns=9_000,
    )


def skipped(slave: str = "s2") -> m.MirrorSkipped:
    return m.MirrorSkipped(
        slave_id=slave,
        market="usdm",
        symbol="BTCUSDT",
        position_side="BOTH",
        side="BUY",
        master_order_id=10,
        master_trade_id=1,
        qty=Decimal("0.00001"),
        reason="below_min_notional",
    )


@pytest.fixture
def store(tmp_path: Path) -> JournalStore:
    s = JournalStore(tmp_path / "journal.db")
    yield s
    s.close()


def test_database_is_in_wal_mode(store: JournalStore) -> None:
    assert store.journal_mode() == "wal"


def test_report_row_keeps_stamps_latency_and_the_whole_report(store: JournalStore) -> None:
    report = mirrored()
    store.insert_many([record_for_report(report, ts_ms=123)])

    [entry] = store.query(10)

    assert entry.kind == "mirrored" and entry.slave_id == "s1" and entry.symbol == "BTCUSDT"
    assert entry.ts_ms == 123 and entry.market == "usdm" and entry.acked
    assert entry.report == report
    assert "BUY 0.005 BTCUSDT" in entry.summary and "#77 FILLED" in entry.summary
    latency = sqlite3.connect(store.path).execute("SELECT latency_ns, t_order_acked_ns FROM journal").fetchone()
    assert latency == (4_000, 5_000)


def test_query_filters_by_slave_symbol_kind_and_pages(store: JournalStore) -> None:
    store.insert_many([record_for_report(mirrored("s1", "BTCUSDT", trade=i)) for i in range(1, 4)])
    store.insert_many([record_for_report(failed("s1")), record_for_report(skipped("s2"))])

    assert [e.kind for e in store.query(10, slave_id="s2")] == ["skipped"]
    assert {e.symbol for e in store.query(10, symbol="ETHUSDT")} == {"ETHUSDT"}
    assert len(store.query(10, kind="mirrored")) == 3
    recent = store.query(2)
    assert [e.kind for e in recent] == ["skipped", "failed"]  # newest first
    older = store.query(10, before_id=recent[-1].id)
    assert len(older) == 3 and all(e.id < recent[-1].id for e in older)


def test_errors_are_unacked_until_acknowledged(store: JournalStore) -> None:
    store.insert_many([record_for_report(failed()), record_for_report(failed("s2")), record_for_report(mirrored())])
    assert store.unacked_count() == 2
    first = store.query(10, kind="failed")[-1]
    assert not first.acked

    assert store.ack(first.id) == 1
    assert store.unacked_count() == 1
    assert store.ack() == 1
    assert store.unacked_count() == 0


def test_master_fill_is_journalled_and_heartbeat_is_not() -> None:
    fill = m.MasterFill(
        market="usdm",
        epoch=1,
        seq=3,
        symbol="BTCUSDT",
        position_side="BOTH",
        side="BUY",
        order_id=5,
        trade_id=6,
        client_order_id="abc",
        order_type="MARKET",
        price=Decimal("65000"),
        qty=Decimal("0.01"),
        cum_qty=Decimal("0.01"),
        status="FILLED",
        position_before=Decimal(0),
        position_after=Decimal("0.01"),
        equity=Decimal("1000"),
        t_exchange_ms=1,
        t_master_recv_ns=2,
        t_master_pub_ns=3,
    )
    row = record_for_master_event(fill)
    assert row is not None and row.kind == "master.fill" and row.master_trade_id == 6
    assert "0 -> 0.01" in row.summary
    hb = m.Heartbeat(market="usdm", epoch=1, seq=3, t_ns=1, connected=True)
    assert record_for_master_event(hb) is None


def test_a_row_with_an_undecodable_body_keeps_its_summary(store: JournalStore) -> None:
    row = record_for_report(mirrored())
    store.insert_many([msgspec.structs.replace(row, body=b"\xc1junk")])

    [entry] = store.query(1)

    assert entry.report is None and entry.summary == row.summary


async def test_burst_of_1000_reports_is_batched_and_queryable(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.db")
    try:
        for slave in range(20):
            for trade in range(50):
                journal.append(record_for_report(mirrored(f"s{slave}", trade=trade + 1)))
        # the loop is free right away: appends only buffer
        assert journal.written == 0

        entries = await journal.query(5000)

        assert len(entries) == 1000
        assert len(await journal.query(100, slave_id="s7")) == 50
        assert journal.written == 1000
    finally:
        await journal.close()


async def test_events_and_acks_through_the_async_front(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.db")
    try:
        journal.append(record_for_event("notify", "1 alert: order rejected"))
        journal.append(record_for_report(failed()))
        assert await journal.unacked_count() == 1
        [err] = await journal.query(1, kind="failed")
        assert await journal.ack(err.id) == 1
        assert await journal.unacked_count() == 0
        assert [e.kind for e in await journal.query(10)] == ["failed", "notify"]
    finally:
        await journal.close()
