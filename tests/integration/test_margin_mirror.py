"""Cross margin mirrored end to end: simulator, master-margin and slaves as real processes.

The master borrows to buy, sells part with AUTO_REPAY, goes short with a MARGIN_BUY sell (a flip
through zero), and covers with AUTO_REPAY. Each slave is funded with k x the master's USDT, so
after every step its net BTC position, its BTC loan and its USDT loan are k x the master's within
one step (BTC 0.00001; USDT one step's worth, 0.5), and no slave sent a corrective order (no
periodic check runs within the test: a wrong copy is not repaired behind its back). Simulator facts (simulator/README.md):
MARGIN_BUY borrows the shortfall, AUTO_REPAY repays the received asset's debt, the commission
(0.1 %) is taken from the asset received, interest is zero.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from protocol.messages import MirrorSkipped, OrderMirrored, SlaveConfig, SlaveError
from tests.helpers.corrections import assert_no_corrections
from tests.helpers.deploy import COPY_ONLY, Deployment, margin_assets, signed
from tests.helpers.sim import TEST_CONFIG, SimProcess
from tests.helpers.wait import eventually
from tests.integration.test_spot_mirror import one_decision_per_fill

pytestmark = pytest.mark.timeout(120)

STEP = Decimal("0.00001")
USDT_STEP = STEP * 50000
SLAVES = [
    SlaveConfig(id="slave01", markets=("margin",), sizing="fixed_ratio", ratio=Decimal("0.5")),
    SlaveConfig(id="slave02", markets=("margin",), sizing="fixed_ratio", ratio=Decimal("2")),
    SlaveConfig(id="slave03", markets=("margin",), sizing="balance_multiplier", multiplier=Decimal("1")),
]
K = {"slave01": Decimal("0.5"), "slave02": Decimal("2"), "slave03": Decimal("2")}
USDT = {"master": "50000", "slave01": "25000", "slave02": "100000", "slave03": "100000"}  # k x the master's


def prepare_margin(sim, usdt: dict[str, str] = USDT) -> None:
    sim.set_price("BTCUSDT", "50000", pause=True)
    for account, amount in usdt.items():
        sim.admin("POST", "/_sim/balances", {"account": account, "market": "margin", "asset": "BTC", "free": "0"})
        sim.admin("POST", "/_sim/balances", {"account": account, "market": "margin", "asset": "USDT", "free": amount})


def deploy(tmp_path, slaves):
    sim = SimProcess(TEST_CONFIG).start()
    try:
        prepare_margin(sim, {a: v for a, v in USDT.items() if a == "master" or a in {s.id for s in slaves}})
        dep = Deployment(tmp_path / "deploy", sim, slaves, markets=("margin",), snapshot_interval_s=COPY_ONLY)
        dep.start_all()
        dep.wait_running(timeout=60)
    except BaseException:
        sim.stop()
        raise
    return dep


@pytest.fixture
def margin_dep(tmp_path):
    dep = deploy(tmp_path, SLAVES)
    try:
        yield dep
    finally:
        dep.stop()
        dep.sim.stop()


def master_margin_order(dep, side: str, qty: str, effect: str) -> dict:
    return signed(
        dep.sim,
        "master",
        "POST",
        "/sapi/v1/margin/order",
        {"symbol": "BTCUSDT", "side": side, "type": "MARKET", "quantity": qty, "sideEffectType": effect},
    )


def expect_margin(dep, k: dict[str, Decimal], timeout: float = 20) -> dict[str, tuple[Decimal, Decimal]]:
    """Slaves' net BTC, BTC loan and USDT loan at k x the master's; returns the master's assets."""
    seen: dict[str, tuple[Decimal, Decimal]] = {}
    zero = (Decimal(0), Decimal(0))

    def check():
        master = margin_assets(dep.sim, "master")
        for sid, ratio in k.items():
            got = margin_assets(dep.sim, sid)
            m_btc, s_btc = master.get("BTC", zero), got.get("BTC", zero)
            assert abs(s_btc[0] - ratio * m_btc[0]) <= STEP, f"{sid} net BTC {s_btc[0]}, want {ratio} x {m_btc[0]}"
            assert abs(s_btc[1] - ratio * m_btc[1]) <= STEP, f"{sid} BTC loan {s_btc[1]}, want {ratio} x {m_btc[1]}"
            m_usdt, s_usdt = master.get("USDT", zero)[1], got.get("USDT", zero)[1]
            assert abs(s_usdt - ratio * m_usdt) <= USDT_STEP, f"{sid} USDT loan {s_usdt}, want {ratio} x {m_usdt}"
        seen.update(master)
        return True

    eventually(check, timeout=timeout, interval=0.1, what="slaves' net positions and loans at k x the master's")
    assert_no_corrections(dep, "reaching k x the master's margin position")
    return seen


def test_margin_borrow_buy_repay_sell_short_and_cover(margin_dep):
    dep = margin_dep
    master_margin_order(dep, "BUY", "1.5", "MARGIN_BUY")  # 75,000 USDT with 50,000: borrows 25,000
    m = expect_margin(dep, K)
    assert m["BTC"][0] == Decimal("1.4985") and m["USDT"][1] == Decimal("25000")

    master_margin_order(dep, "SELL", "0.5", "AUTO_REPAY")  # 24,975 USDT received repay the loan
    m = expect_margin(dep, K)
    assert m["BTC"][0] == Decimal("0.9985") and m["USDT"][1] == Decimal("25")

    master_margin_order(dep, "SELL", "2", "MARGIN_BUY")  # sells its 0.9985 and 1.0015 borrowed: short
    m = expect_margin(dep, K)
    assert m["BTC"] == (Decimal("-1.0015"), Decimal("1.0015"))

    master_margin_order(dep, "BUY", "1.0025", "AUTO_REPAY")  # 1.0014975 BTC after fee repay the short
    m = expect_margin(dep, K)
    assert abs(m["BTC"][0]) < STEP and m["BTC"][1] < STEP

    one_decision_per_fill(dep, "margin")
    effects = {r.master_order_id: r for r in dep.collector.of(OrderMirrored, slave_id="slave01")}
    assert len(effects) == 4


def test_margin_level_floor_skips_borrowing_and_notifies(tmp_path):
    guarded = SlaveConfig(id="slave01", markets=("margin",), sizing="fixed_ratio", ratio=Decimal("0.5"), margin_level_min=Decimal("3.5"))
    dep = deploy(tmp_path, [guarded])
    try:
        master_margin_order(dep, "BUY", "0.1", "NO_SIDE_EFFECT")  # own funds: copied, no borrowing
        eventually(lambda: dep.collector.of(OrderMirrored, slave_id="slave01"), timeout=20, what="the small buy copied")

        # 75,000 USDT with 45,000: the master borrows. The slave would buy 0.75 BTC with 22,500
        # USDT, borrowing 15,000: margin level about 40,000 / 15,000 = 2.7 < 3.5.
        master_margin_order(dep, "BUY", "1.5", "MARGIN_BUY")
        eventually(
            lambda: dep.collector.of(SlaveError, slave_id="slave01", code="margin_level_low"),
            timeout=20,
            what="a margin_level_low notification",
        )
        skipped = dep.collector.of(MirrorSkipped, slave_id="slave01", reason="cap_reached")
        assert skipped and "margin level" in skipped[0].text
        btc = margin_assets(dep.sim, "slave01")["BTC"]
        assert btc == (Decimal("0.04995"), Decimal(0))  # only the first copy: nothing borrowed
        assert margin_assets(dep.sim, "slave01")["USDT"][1] == 0
        assert_no_corrections(dep, "after a copy the margin floor refused")
    finally:
        dep.stop()
        dep.sim.stop()
