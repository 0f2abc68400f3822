"""Journal retention (issue 22, actors/control/retention.py): rows older than the retention are
pruned a day at a time, oldest first, in batches, after that day's per-slave aggregates were
written once (kept for ever); unacknowledged errors and recent rows stay."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from actors.control.journal import Journal, JournalStore
from actors.control.records import record_for_report
from actors.control.retention import DAY_MS, daily, prune_step
from protocol.messages import MirrorSkipped, OrderMirrored, SlaveError

D = Decimal
NOW = 1_800_000_000_000 // DAY_MS * DAY_MS + 3_600_000  # 01:00 UTC on some day


def copy(slave: str, master: str, price: str, latency_ms: int) -> OrderMirrored:
    return OrderMirrored(slave_id=slave, market="usdm", symbol="BTCUSDT", position_side="BOTH", side="BUY", master_order_id=1,
                         master_trade_id=1, master_seq=1, qty=D(1), master_price=D(master), t_master_recv_ns=1_000_000,
                         t_order_sent_ns=1_000_000, t_order_acked_ns=1_000_000 + latency_ms * 1_000_000, exchange_order_id=1,
                         status="FILLED", executed_qty=D(1), avg_price=D(price))  # fmt: skip


def skip(slave: str) -> MirrorSkipped:
    return MirrorSkipped(slave_id=slave, market="usdm", symbol="BTCUSDT", position_side="BOTH", side="BUY", master_order_id=2,
                         master_trade_id=2, master_seq=2, qty=D(0), reason="below_min_notional")  # fmt: skip


def store_with_days(path: Path) -> JournalStore:
    store = JournalStore(path)
    old, older, recent = NOW - 95 * DAY_MS, NOW - 100 * DAY_MS, NOW - DAY_MS
    rows = [
        (older, copy("a", "100", "100.1", 10)),  # +10 bps
        (older + 1000, copy("a", "100", "100", 30)),  # 0
        (older + 2000, skip("a")),
        (older + 3000, SlaveError(slave_id="a", code="order_failed", message="nobody looked at it yet", t_ns=1)),
        (old, copy("b", "200", "199.9", 5)),  # -5 bps
        (recent, copy("a", "100", "101", 7)),
    ]
    store.insert_many([record_for_report(r, ts_ms=ts) for ts, r in rows])
    return store


def test_old_days_are_aggregated_once_then_pruned_in_batches_and_the_rest_stays(tmp_path: Path) -> None:
    store = store_with_days(tmp_path / "journal.db")
    db = store._db
    assert store.count() == 6
    steps = []
    while deleted := prune_step(db, NOW, retention_days=90, batch=2):
        steps.append(deleted)
    assert steps == [2, 1, 1]  # the older day in two batches (its error kept), then the other day
    kinds = sorted(k for (k,) in db.execute("SELECT kind FROM journal"))
    assert kinds == ["mirrored", "slaveerr"]  # the recent copy, and the error nobody acknowledged
    (day1, a), (day2, b) = daily(db)
    assert day1 < day2 and (a.slave_id, b.slave_id) == ("a", "b")
    assert (a.copies, a.filled, a.skipped, a.slippage_p50_bps, a.slippage_p90_bps) == (2, 2, {"below_min_notional": 1}, D(0), D(10))
    assert (a.latency_p50_ms, a.latency_p90_ms) == (D(10), D(30))
    assert (b.copies, b.slippage_p50_bps, b.latency_p50_ms) == (1, D(-5), D(5))
    assert prune_step(db, NOW, retention_days=90) == 0 and len(daily(db)) == 2  # nothing left to prune; kept for ever
    assert prune_step(db, NOW + 10 * DAY_MS, retention_days=1) == 1 and store.count() == 1  # a shorter retention: the recent copy
    assert [s.copies for _, s in daily(db)] == [2, 1, 1]
    store.close()


def test_the_asyncio_journal_prunes_on_its_writer_thread(tmp_path: Path) -> None:
    store_with_days(tmp_path / "journal.db").close()

    async def main() -> tuple[int, int]:
        journal = Journal(tmp_path / "journal.db")
        try:
            first = await journal.prune(NOW, 90)
            return first, await journal.prune(NOW, 90)
        finally:
            await journal.close()

    assert asyncio.run(main()) == (3, 1)  # a batch is 20 000: one step per day (the older one keeps its error)


def test_the_daily_report_joins_kept_aggregates_and_live_days(tmp_path: Path) -> None:
    import io

    from actors.cli.report import main_report

    store = store_with_days(tmp_path / "var" / "journal.db")
    while prune_step(store._db, NOW, retention_days=90):
        pass
    store.close()
    (tmp_path / "copytrader.toml").write_text('[exchange]\nnetwork = "simulator"\nurl = "http://127.0.0.1:1"\n')
    out = io.StringIO()
    args = ["--config", str(tmp_path / "copytrader.toml"), "report", "--daily", "--since", "365d", "--format", "csv"]
    assert main_report(args, stdout=out, stderr=io.StringIO(), now_s=NOW / 1000) == 0
    header, *lines = out.getvalue().splitlines()
    assert header.startswith("day,slave,copies")
    assert [line.split(",")[1:6] for line in lines] == [
        ["a", "2", "2", "0", "0.00"],  # pruned: from its kept aggregate
        ["b", "1", "1", "0", "-5.00"],
        ["a", "1", "1", "0", "100.00"],  # yesterday: from the journal's rows (101 against 100: +100 bps)
    ]
