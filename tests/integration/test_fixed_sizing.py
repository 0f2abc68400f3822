"""Fixed-amount and fixed-fraction sizing end to end (issue 22): simulator, master listener and
slaves as real processes, USD-M one-way.

The master opens, scales in with a larger order, scales in again with a limit order the price walk
fills in parts, scales out by half and closes. A reference model written here (not the copier's
code) says what each slave should hold: every master order that adds is one entry of the slave's
notional (1000 USDT; 1 % of its equity of 100000) at the order's fill prices, however large the
order and in however many fills it trades; a reduction takes the same fraction, a close closes.
After every step the slaves' positions at the exchange are compared with it (within the one step
an opening rounds down; the fraction's equity moves with fees and PnL, hence its small relative
margin), no slave sent a corrective order, and every master fill got a decision.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from protocol.messages import MirrorSkipped, OrderFailed, OrderMirrored, SlaveConfig
from tests.helpers.corrections import assert_no_corrections
from tests.helpers.deploy import COPY_ONLY, Deployment, positions, signed
from tests.helpers.sim import TEST_CONFIG, SimProcess
from tests.helpers.wait import eventually

D = Decimal
STEP = D("0.001")  # BTCUSDT futures step in the simulator
SLAVES = [
    SlaveConfig(id="slave01", sizing="fixed_amount", amount=D("1000")),
    SlaveConfig(id="slave02", sizing="fixed_fraction", fraction=D("0.01")),
]
EQUITY = D("100000")
KEY = ("BTCUSDT", "BOTH")


@pytest.fixture
def dep(tmp_path):
    with SimProcess(TEST_CONFIG) as sim:
        sim.set_price("BTCUSDT", "50000", pause=True)
        for account in ["master"] + [s.id for s in SLAVES]:
            sim.admin("POST", "/_sim/balances", {"account": account, "market": "futures", "asset": "USDT", "free": str(EQUITY)})
        deployment = Deployment(tmp_path / "deploy", sim, SLAVES, snapshot_interval_s=COPY_ONLY)
        deployment.start_all()
        try:
            deployment.wait_running(timeout=60)
            yield deployment
        finally:
            deployment.stop()


class Model:
    """What each slave should hold: per master order that adds, its notional at the fills' prices
    (each fill its share of the order); a reduction the same fraction; a close nothing."""

    def __init__(self) -> None:
        self.want = {s.id: D(0) for s in SLAVES}
        self.seen: set[int] = set()

    def notional(self, slave: SlaveConfig) -> D:
        return slave.amount if slave.amount is not None else slave.fraction * EQUITY  # type: ignore[operator]

    def step(self, dep: Deployment, master_before: D, master_after: D, order_qty: D) -> None:
        """The master went from `master_before` to `master_after` with one order of `order_qty`."""
        trades = [t for t in dep.sim.trades("master", "futures") if int(t["id"]) not in self.seen]
        self.seen.update(int(t["id"]) for t in trades)
        assert trades, "the master's order traded"
        for s in SLAVES:
            if master_after == 0:
                self.want[s.id] = D(0)
            elif abs(master_after) < abs(master_before):
                self.want[s.id] *= abs(master_after) / abs(master_before)
            else:
                self.want[s.id] += sum(self.notional(s) * D(t["qty"]) / order_qty / D(t["price"]) for t in trades)


def expect(dep: Deployment, model: Model, master: D) -> None:
    def check() -> bool:
        assert positions(dep.sim, "master").get(KEY, D(0)) == master
        for s in SLAVES:
            have, want = positions(dep.sim, s.id).get(KEY, D(0)), model.want[s.id]
            margin = STEP + (want * D("0.01") if s.sizing == "fixed_fraction" else 0)
            assert abs(have - want) <= margin, f"{s.id}: have {have}, want {want}"
            if want == 0:
                assert have == 0, f"{s.id} still holds {have}"
        return True

    eventually(check, timeout=20, interval=0.1, what=f"slaves at the model's positions (master {master})")
    assert_no_corrections(dep, f"master at {master}")


def market(dep: Deployment, side: str, qty: str) -> None:
    signed(dep.sim, "master", "POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": side, "type": "MARKET", "quantity": qty})


def test_each_entry_is_one_notional_whatever_its_size_and_fills(dep):
    model = Model()
    market(dep, "BUY", "0.1")
    model.step(dep, D(0), D("0.1"), D("0.1"))
    expect(dep, model, D("0.1"))
    assert model.want["slave01"] == D("0.02")  # 1000 USDT at 50000

    market(dep, "BUY", "0.3")  # three times the size: the same notional again
    model.step(dep, D("0.1"), D("0.4"), D("0.3"))
    expect(dep, model, D("0.4"))

    params = {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "1.2", "price": "49990"}
    signed(dep.sim, "master", "POST", "/fapi/v1/order", params)
    for price in ("49985", "49980", "49975", "49970"):  # the walk fills it in parts
        dep.sim.set_price("BTCUSDT", price, pause=True)
    eventually(lambda: positions(dep.sim, "master").get(KEY) == D("1.6"), timeout=10, what="the limit order filled")
    parts = [t for t in dep.sim.trades("master", "futures") if t.get("maker")]
    assert len(parts) >= 2, f"the limit order should fill in parts, got {parts}"
    model.step(dep, D("0.4"), D("1.6"), D("1.2"))
    expect(dep, model, D("1.6"))

    market(dep, "SELL", "0.8")  # half out
    model.step(dep, D("1.6"), D("0.8"), D("0.8"))
    expect(dep, model, D("0.8"))
    market(dep, "SELL", "0.8")
    model.step(dep, D("0.8"), D(0), D("0.8"))
    expect(dep, model, D(0))

    trades = dep.sim.trades("master", "futures")

    def decided() -> bool:
        for s in SLAVES:
            done = {(r.master_order_id, r.master_trade_id) for r in dep.collector.of(OrderMirrored, slave_id=s.id)}
            done |= {(r.master_order_id, r.master_trade_id) for r in dep.collector.of(MirrorSkipped, slave_id=s.id)}
            missing = [t["id"] for t in trades if (int(t["orderId"]), int(t["id"])) not in done]
            assert not missing, f"{s.id}: no decision for master trades {missing}"
            assert not dep.collector.of(OrderFailed, slave_id=s.id)
        return True

    eventually(decided, timeout=20, interval=0.1, what="one decision per master fill")
