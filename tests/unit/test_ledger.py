"""The fill-quality ledger (issue 22, actors/control/ledger.py) and `copytrader report`
(actors/cli/report.py): a scripted journal of copies with known prices and stamps, and every
figure compared with values computed here by hand."""

from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path

import pytest

from actors.cli.report import main_report, parse_since
from actors.control.journal import JournalStore
from actors.control.ledger import copy_rows, percentile, slippage_bps, summarize
from actors.control.records import record_for_equity, record_for_report
from protocol.messages import MirrorSkipped, OrderFailed, OrderMirrored

D = Decimal
MS = 1_000_000
T0 = 1_764_900_000_000  # journal times, epoch ms


def mirrored(slave: str, side: str, master: str, price: str, *, latency_ms: int, executed: str = "1", seq: int = 1, trade: int = 1,
             symbol: str = "BTCUSDT") -> OrderMirrored:  # fmt: skip
    return OrderMirrored(slave_id=slave, market="usdm", symbol=symbol, position_side="BOTH", side=side, master_order_id=trade,  # type: ignore[arg-type]
                         master_trade_id=trade, master_seq=seq, qty=D(1), master_price=D(master), master_time_ms=T0 - 50,
                         t_master_recv_ns=1_000 * MS, t_order_sent_ns=1_001 * MS, t_order_acked_ns=(1_000 + latency_ms) * MS,
                         exchange_order_id=trade, status="FILLED" if executed != "0" else "EXPIRED", executed_qty=D(executed),
                         avg_price=D(price) if executed != "0" else None)  # fmt: skip


def skipped(slave: str, reason: str, text: str = "", seq: int = 1) -> MirrorSkipped:
    return MirrorSkipped(slave_id=slave, market="usdm", symbol="BTCUSDT", position_side="BOTH", side="BUY", master_order_id=9,
                         master_trade_id=9, master_seq=seq, qty=D(0), reason=reason, text=text)  # type: ignore[arg-type]  # fmt: skip


REPORTS = [
    mirrored("a", "BUY", "50000", "50010", latency_ms=12, trade=1),  # paid 10 more: +2 bps
    mirrored("a", "SELL", "3000", "2999.4", latency_ms=8, trade=2, symbol="ETHUSDT"),  # got 0.6 less: +2 bps (adverse)
    mirrored("a", "SELL", "3000", "3001.5", latency_ms=30, trade=3, symbol="ETHUSDT"),  # got 1.5 more: -5 bps
    mirrored("a", "BUY", "100", "100.0", latency_ms=5, trade=4, symbol="SOLUSDT"),  # 0
    mirrored("a", "BUY", "100", "0", latency_ms=20, trade=5, executed="0", symbol="SOLUSDT"),  # an IOC that met nothing
    skipped("a", "slippage", "slippage over 0.5 %"),
    skipped("a", "below_min_notional"),
    skipped("a", "below_min_notional"),
    skipped("a", "not_copied", "covered by reconciliation (gap) at snapshot seq 7"),  # not a decision of the slave's
    mirrored("a", "BUY", "50000", "51000", latency_ms=999, seq=0, trade=6),  # a check's correction: not a copy
    OrderFailed(
        slave_id="a",
        market="usdm",
        symbol="BTCUSDT",
        position_side="BOTH",
        side="BUY",
        master_order_id=7,  # type: ignore[arg-type]
        master_trade_id=7,
        master_seq=3,
        qty=D(1),
        error_code=-2019,
        error_msg="Margin is insufficient.",
    ),  # fmt: skip
    mirrored("b", "BUY", "50000", "49995", latency_ms=40, trade=1),  # -1 bps
]
JOURNAL = [(T0 + i * 1000, r) for i, r in enumerate(REPORTS)]


def test_slippage_is_signed_adverse_positive_and_percentiles_are_nearest_rank() -> None:
    assert slippage_bps("BUY", D(50000), D(50010)) == D(2)
    assert slippage_bps("SELL", D(3000), D("2999.4")) == D(2)
    assert slippage_bps("SELL", D(3000), D("3001.5")) == D(-5)
    assert slippage_bps("BUY", D(0), D(1)) is None and slippage_bps("BUY", D(1), None) is None
    assert percentile([D(3), D(1), D(2), D(4)], 0.5) == D(2) and percentile([D(3), D(1), D(2), D(4)], 0.9) == D(4)
    assert percentile([], 0.5) is None and percentile([D(7)], 0.9) == D(7)


def test_rows_and_summaries_equal_the_hand_computed_figures() -> None:
    rows = copy_rows(JOURNAL)
    assert [(r.slave_id, r.symbol, r.slippage_bps, r.latency_ms) for r in rows] == [
        ("a", "BTCUSDT", D(2), D(12)),
        ("a", "ETHUSDT", D(2), D(8)),
        ("a", "ETHUSDT", D(-5), D(30)),
        ("a", "SOLUSDT", D(0), D(5)),
        ("a", "SOLUSDT", None, D(20)),
        ("b", "BTCUSDT", D(-1), D(40)),
    ]  # the correction (master seq 0) is not a copy
    assert rows[0].master_price == D(50000) and rows[0].price == D(50010) and rows[0].master_time_ms == T0 - 50
    a, b = summarize(JOURNAL)
    assert (a.slave_id, a.copies, a.filled, a.failed) == ("a", 5, 4, 1)
    assert a.skipped == {"below_min_notional": 2, "slippage": 1}  # a reconciliation's cover is not counted
    # slippage sorted -5, 0, 2, 2: p50 the 2nd, p90 the 4th; latency 5, 8, 12, 20, 30: p50 the 3rd, p90 the 5th
    assert (a.slippage_p50_bps, a.slippage_p90_bps, a.latency_p50_ms, a.latency_p90_ms) == (D(0), D(2), D(12), D(30))
    assert (b.copies, b.slippage_p50_bps, b.latency_p90_ms, b.skipped) == (1, D(-1), D(40), {})


@pytest.fixture
def deployment(tmp_path: Path) -> Path:
    (tmp_path / "copytrader.toml").write_text('[exchange]\nnetwork = "simulator"\nurl = "http://127.0.0.1:1"\n')
    store = JournalStore(tmp_path / "var" / "journal.db")
    store.insert_many([record_for_report(r, ts_ms=ts) for ts, r in JOURNAL])
    store.insert_many([record_for_equity("a", D(e), ts_ms=T0 + i) for i, e in enumerate(("1000", "900", "950"))])
    store.close()
    return tmp_path / "copytrader.toml"


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main_report(list(args), stdout=out, stderr=err, now_s=(T0 + 3_600_000) / 1000)
    return code, out.getvalue(), err.getvalue()


def test_the_report_command_reads_the_journal_in_each_format(deployment: Path) -> None:
    code, out, _ = run("--config", str(deployment), "report")
    assert code == 0
    assert "slippage p50 0.00 p90 2.00 bps  latency p50 12.0 p90 30.0 ms  skipped: below_min_notional 2, slippage 1" in out
    assert out.count("FILLED") == 5 and "EXPIRED" in out
    assert "equity 1000 -> 950 (high 1000), max drawdown 10.00 % (100 USDT)" in out

    code, out, _ = run("--config", str(deployment), "report", "--slave", "b", "--format", "csv")
    lines = out.splitlines()
    assert code == 0 and lines[0].split(",")[9] == "slippage_bps" and len(lines) == 2
    assert lines[1].split(",")[7:11] == ["50000", "49995", "-1.00", "40.0"]

    code, out, _ = run("--config", str(deployment), "report", "--format", "json")
    data = json.loads(out)
    assert [s["slave_id"] for s in data["slaves"]] == ["a", "b"] and len(data["copies"]) == 6
    assert D(data["slaves"][0]["slippage_p90_bps"]) == 2

    code, out, _ = run("--config", str(deployment), "report", "--since", "2026-12-31")  # after every row
    assert code == 0 and out == "no copies in that time\n"


def test_bad_input_is_named(deployment: Path, tmp_path: Path) -> None:
    code, _, err = run("--config", str(deployment), "report", "--since", "yesterday")
    assert code == 2 and "--since" in err and "yesterday" in err
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "copytrader.toml").write_text('[exchange]\nnetwork = "simulator"\nurl = "http://127.0.0.1:1"\n')
    code, _, err = run("--config", str(tmp_path / "empty" / "copytrader.toml"), "report")
    assert code == 2 and "no journal" in err
    assert parse_since("2h", 10_000.0) == (10_000 - 7200) * 1000
    assert parse_since("2026-12-01T08:00", 0) == 1_796_112_000_000  # calendar.timegm((2026, 12, 1, 8, 0, 0)) x 1000


def test_the_console_script_dispatches_report(deployment: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from actors.cli import main

    assert main(["--config", str(deployment), "report", "--since", "3650d", "--format", "csv"]) == 0
    assert capsys.readouterr().out.count("\n") == 7  # the header and six copies


def test_income_is_summed_once_per_record_by_type() -> None:
    from protocol.messages import IncomeItem, IncomeReport

    def report(*items: tuple[str, int, str]) -> IncomeReport:
        return IncomeReport(slave_id="a", market="usdm", t_ns=1,
                            items=tuple(IncomeItem(tran_id=t, income_type=k, income=D(v)) for k, t, v in items))  # fmt: skip

    first = report(("REALIZED_PNL", 5, "50"), ("COMMISSION", 5, "-1.25"), ("FUNDING_FEE", 9, "-0.25"))
    again = report(("COMMISSION", 5, "-1.25"), ("TRANSFER", 11, "100"))  # the commission read twice
    (a,) = summarize([(0, first), (1, again)])
    assert (a.realized_pnl, a.commission, a.funding, a.net_income, a.copies) == (D(50), D("-1.25"), D("-0.25"), D("148.5"), 0)


def test_the_income_cursor_reads_on_without_reporting_a_record_twice() -> None:
    import asyncio

    from actors.slave import income as mod

    records = [{"tranId": i, "incomeType": "COMMISSION", "income": "-1", "asset": "USDT", "symbol": "BTCUSDT", "time": t}
               for i, t in ((1, 100), (2, 200), (3, 200))]  # fmt: skip
    calls: list[tuple[int, int]] = []

    async def fake_income(rest: object, start_ms: int, page: int = 1, limit: int = 1000) -> list[dict]:
        calls.append((start_ms, page))
        rows = [r for r in records if r["time"] >= start_ms]
        return rows[(page - 1) * 2 : page * 2]  # pages of 2

    old_income, old_page = mod.usdm_api.income, mod.PAGE
    mod.usdm_api.income, mod.PAGE = fake_income, 2  # type: ignore[assignment]
    try:
        items, cursor = asyncio.run(mod.read_income(None, mod.Cursor(since_ms=150)))
        assert [i.tran_id for i in items] == [2, 3] and (cursor.since_ms, cursor.seen) == (200, [("COMMISSION", 2), ("COMMISSION", 3)])
        records.append({"tranId": 4, "incomeType": "FUNDING_FEE", "income": "-0.5", "time": 200})  # late, in the same ms
        items, cursor = asyncio.run(mod.read_income(None, cursor))
        assert [i.tran_id for i in items] == [4] and len(cursor.seen) == 3
        assert asyncio.run(mod.read_income(None, cursor)) == ([], cursor)  # nothing new
        assert calls[:2] == [(150, 1), (150, 2)]  # a full page: the next one read too
    finally:
        mod.usdm_api.income, mod.PAGE = old_income, old_page  # type: ignore[assignment]


def test_equity_curve_high_water_mark_and_max_drawdown_by_hand() -> None:
    from actors.control.ledger import equity_stats

    stats = equity_stats([D(1000), D(1100), D(990), D(1050), D(1200), D(1080)])
    # running mark 1000, 1100, 1100, 1100, 1200, 1200; falls 0, 0, 110 (10 %), 50, 0, 120 (10 %): the first 10 % is kept
    assert stats is not None and tuple(stats) == (D(1000), D(1080), D(1200), D(10), D(110))
    assert equity_stats([]) is None
    (a,) = summarize([], [(1, "a", D(1000)), (2, "a", D(800)), (3, "a", D(900))])
    assert (a.equity_first, a.equity_last, a.equity_hwm, a.max_drawdown_pct, a.max_drawdown, a.copies) == (
        D(1000), D(900), D(1000), D(20), D(200), 0,
    )  # fmt: skip


def test_control_journals_each_slaves_equity_every_sample_period() -> None:
    from types import SimpleNamespace

    from actors.control import reports as mod
    from protocol.messages import MarketStatus, SlaveStatusReport

    rows: list = []
    fake = SimpleNamespace(equity_sampled={}, journal=SimpleNamespace(append=rows.append))

    def status(*equities: str | None) -> SlaveStatusReport:
        markets = tuple(
            MarketStatus(market=m, equity=None if e is None else D(e)) for m, e in zip(("usdm", "spot"), equities, strict=False)
        )
        return SlaveStatusReport(slave_id="a", state="running", markets=markets, t_ns=1)

    mod.Reports._sample_equity(fake, status("1000", None))  # type: ignore[arg-type]  # a market without equity: none
    mod.Reports._sample_equity(fake, status("1000", "250.5"))  # type: ignore[arg-type]
    mod.Reports._sample_equity(fake, status("1010", "250.5"))  # type: ignore[arg-type]  # within the period: none
    assert [(r.kind, r.slave_id, r.body) for r in rows] == [("equity", "a", b"1250.5")]
    fake.equity_sampled["a"] -= mod.EQUITY_SAMPLE_S
    mod.Reports._sample_equity(fake, status("1010", "250.5"))  # type: ignore[arg-type]
    assert [r.body for r in rows] == [b"1250.5", b"1260.5"]


def test_the_daily_summary_is_due_at_five_past_midnight_utc_and_says_per_slave() -> None:
    from actors.control.ledger import DAY_MS, daily_summary_text, next_summary_ms

    midnight = 20_000 * DAY_MS
    assert next_summary_ms(midnight) == midnight + 300_000
    assert next_summary_ms(midnight + 300_000) == midnight + DAY_MS + 300_000  # just sent: tomorrow's
    assert next_summary_ms(midnight + 299_999) == midnight + 300_000
    a, b = summarize(JOURNAL, [(T0, "a", D(1000)), (T0 + 1, "a", D(990))])
    lines = daily_summary_text([a, b]).splitlines()
    assert lines[0] == (
        "a: pnl 0 fees 0 funding 0 net 0 USDT; max drawdown 1.00 %; slippage p50 0.00 p90 2.00 bps; "
        "5 copies, 1 failed, 3 skipped (below_min_notional 2, slippage 1)"
    )
    assert lines[1].startswith("b: pnl 0") and daily_summary_text([]) == "no copies, income or equity samples"


def test_control_sends_the_days_summary_through_the_notifier(tmp_path: Path) -> None:
    import asyncio
    from types import SimpleNamespace

    from actors.control import reports as mod
    from actors.control.journal import Journal

    day = T0 // 86_400_000 * 86_400_000
    store = JournalStore(tmp_path / "journal.db")
    store.insert_many([record_for_report(r, ts_ms=ts) for ts, r in JOURNAL] + [record_for_report(JOURNAL[0][1], ts_ms=day + 86_400_000)])
    store.close()
    alerts: list = []

    async def main() -> None:
        journal = Journal(tmp_path / "journal.db")
        fake = SimpleNamespace(journal=journal, notifier=SimpleNamespace(alert=alerts.append))
        try:
            await mod.Reports.send_daily_summary(fake, day)  # type: ignore[arg-type]
        finally:
            await journal.close()

    asyncio.run(main())
    (alert,) = alerts
    assert alert.category == "daily_summary" and alert.key.startswith("daily_summary:") and "(UTC)" in alert.title
    assert alert.body.splitlines()[0].endswith(
        "5 copies, 1 failed, 3 skipped (below_min_notional 2, slippage 1)"
    )  # not the next day's copy
