"""The ledger's USD-M income end to end (issue 22): a follower copies a scripted round trip with
known prices while a funding payment falls in between; it reads its income from the exchange
(GET /fapi/v1/income, polled every 0.5 s here) and reports it; the ledger's totals equal the
figures computed here by hand from the prices, the simulator's taker rate (0.05 %) and the
funding rate. Simulator, master listener and slave as real processes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from actors.control.ledger import summarize
from protocol.messages import IncomeReport, SlaveConfig
from tests.helpers.deploy import Deployment, positions
from tests.helpers.sim import TEST_CONFIG
from tests.helpers.wait import eventually
from tests.integration.test_usdm_faults import fresh_sim, master_order, prepare

pytestmark = pytest.mark.timeout(150)
D = Decimal


def test_realized_pnl_fees_and_funding_equal_the_hand_computed_figures(tmp_path, monkeypatch):
    monkeypatch.setenv("COPYTRADER_INCOME_POLL_S", "0.5")
    slave = SlaveConfig(id="slave01", sizing="fixed_ratio", ratio=D("0.5"))
    with fresh_sim(TEST_CONFIG, tmp_path) as sim:
        prepare(sim, ["master", "slave01"], usdt="100000")  # BTCUSDT at 50000
        dep = Deployment(tmp_path / "deploy", sim, [slave])
        dep.start_all()
        assert dep.collector is not None
        try:
            dep.wait_running(timeout=60)
            master_order(sim, "BTCUSDT", "BUY", "0.1")
            eventually(lambda: positions(sim, "slave01") == {("BTCUSDT", "BOTH"): D("0.05")}, timeout=20, what="the entry copied")
            paid = sim.admin("POST", "/_sim/futures/funding", {"rate": "0.0001"})["payments"]
            assert {p["account"]: D(p["income"]) for p in paid}["slave01"] == D("-0.25")  # 0.05 x 50000 x 0.0001, a long pays
            sim.set_price("BTCUSDT", "51000", pause=True)
            master_order(sim, "BTCUSDT", "SELL", "0.1")
            eventually(lambda: positions(sim, "slave01") == {}, timeout=20, what="the close copied")

            # by hand: bought 0.05 at 50000 (fee 0.05 x 50000 x 0.0005 = 1.25), sold at 51000 (fee 1.275),
            # realized 0.05 x (51000 - 50000) = 50, funding -0.25; net 50 - 2.525 - 0.25 = 47.225
            def totals() -> tuple[D, D, D, D]:
                reports = [(0, r) for r in dep.collector.of(IncomeReport, slave_id="slave01")]
                (s,) = summarize(reports) or [None]
                assert s is not None
                return s.realized_pnl, s.commission, s.funding, s.net_income

            eventually(lambda: totals() == (D(50), D("-2.525"), D("-0.25"), D("47.225")), timeout=20, what="the ledger's income")
            items = [(i.income_type, i.tran_id) for r in dep.collector.of(IncomeReport, slave_id="slave01") for i in r.items]
            assert len(items) == len(set(items)) == 4  # two commissions, one realized PnL, one funding: each reported once
        finally:
            dep.stop()
