"""USD-M futures mirrored end to end: simulator, master listener and slaves as real processes.

Three slaves in different sizing modes follow the master through open, scale in, scale out, a
short on the same symbol (hedge mode), a leverage change, a limit order placed and canceled (the
master publishes both; the slaves count them in its sequence), a partially filled limit order and a
full close; the same in one-way mode with a flip through zero. After each step every slave's
positions at the exchange equal k x the master's (exactly for a fixed ratio; within one step for
the balance multiplier, whose k moves with equity), no slave sent a corrective order (no periodic
check runs within the test: a wrong copy is not repaired behind its back), and every master fill
produced exactly one decision (order or recorded skip) per slave.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from protocol.messages import Heartbeat, MasterOrder, MirrorSkipped, OrderFailed, OrderMirrored, Reconciled, SlaveConfig
from tests.helpers.corrections import assert_no_corrections
from tests.helpers.deploy import COPY_ONLY, Deployment, MasterEvents, positions, signed
from tests.helpers.sim import TEST_CONFIG, SimProcess
from tests.helpers.wait import eventually

STEP = Decimal("0.001")  # BTCUSDT / ETHUSDT futures step size in the simulator
SLAVES = [
    SlaveConfig(id="slave01", sizing="fixed_ratio", ratio=Decimal("0.5")),
    SlaveConfig(id="slave02", sizing="fixed_ratio", ratio=Decimal("2")),
    SlaveConfig(id="slave03", sizing="balance_multiplier", multiplier=Decimal("1")),
]
K = {"slave01": Decimal("0.5"), "slave02": Decimal("2"), "slave03": Decimal("2")}  # slave03: 2x the master's equity
# How far a slave may be from k x master: a fixed ratio's copies are exact here (every k x q is a
# multiple of the step); the balance multiplier's k follows equity (fees, PnL), one step either way.
TOLERANCE = {s.id: STEP if s.sizing == "balance_multiplier" else Decimal(0) for s in SLAVES}


@pytest.fixture
def deployment(tmp_path, request):
    hedge = request.param == "hedge"
    with SimProcess(TEST_CONFIG) as sim:
        sim.set_price("BTCUSDT", "50000", pause=True)
        sim.set_price("ETHUSDT", "3000", pause=True)
        # Enough margin for 2x the master's positions; slave03 holds twice the master's equity (k = 2).
        for account, usdt in (("master", "100000"), ("slave01", "100000"), ("slave02", "400000"), ("slave03", "200000")):
            sim.admin("POST", "/_sim/balances", {"account": account, "market": "futures", "asset": "USDT", "free": usdt})
        for account in ["master"] + [s.id for s in SLAVES]:
            # Slaves start in the other mode than the master: they must switch when flat.
            mode = hedge if account == "master" else not hedge
            set_position_mode(sim, account, mode)
        dep = Deployment(tmp_path / "deploy", sim, SLAVES, snapshot_interval_s=COPY_ONLY)
        dep.start_all()
        try:
            dep.wait_running(timeout=60)
            yield dep
        finally:
            dep.stop()


def set_position_mode(sim, account: str, hedge: bool) -> None:
    current = signed(sim, account, "GET", "/fapi/v1/positionSide/dual")["dualSidePosition"]
    if current != hedge:
        signed(sim, account, "POST", "/fapi/v1/positionSide/dual", {"dualSidePosition": str(hedge).lower()})


def master_order(dep, **params):
    return signed(dep.sim, "master", "POST", "/fapi/v1/order", {"type": "MARKET", **params})


def master_fills(dep) -> list[dict]:
    return [t for t in dep.sim.trades("master", "futures")]


def expect(dep, master_positions: dict) -> None:
    """Every slave reaches k x master (positions read from the exchange; TOLERANCE) and no slave
    sent a corrective order."""

    def check():
        got_master = positions(dep.sim, "master")
        assert got_master == {k: v for k, v in master_positions.items() if v}, got_master
        for s in SLAVES:
            got = positions(dep.sim, s.id)
            for key, qty in master_positions.items():
                want = qty * K[s.id]
                have = got.get(key, Decimal(0))
                assert abs(have - want) <= TOLERANCE[s.id], f"{s.id} {key}: have {have}, want {want} (all: {got})"
            extra = {k: v for k, v in got.items() if k not in master_positions or not master_positions[k]}
            assert not extra, f"{s.id} holds positions the master does not: {extra}"
        return True

    eventually(check, timeout=20, interval=0.1, what=f"slaves at k x {master_positions}")
    assert_no_corrections(dep, f"reaching {master_positions}")


def one_decision_per_fill(dep) -> None:
    """Each master trade -> exactly one executed order (or one recorded skip) per slave and leg."""
    trades = master_fills(dep)

    def check():
        for s in SLAVES:
            decided: dict[tuple[int, int], int] = {}
            for r in dep.collector.of(OrderMirrored, slave_id=s.id) + dep.collector.of(MirrorSkipped, slave_id=s.id):
                if r.master_trade_id:
                    decided[(r.master_order_id, r.master_trade_id)] = decided.get((r.master_order_id, r.master_trade_id), 0) + 1
            for t in trades:
                key = (int(t["orderId"]), int(t["id"]))
                assert decided.get(key, 0) >= 1, f"{s.id}: no decision for master trade {key}"
            failed = dep.collector.of(OrderFailed, slave_id=s.id)
            assert not failed, f"{s.id} failed orders: {failed}"
        return True

    eventually(check, timeout=20, interval=0.1, what="one decision per master fill")
    # exactly one executed order per (slave, master trade, leg): client ids are unique at the exchange
    for s in SLAVES:
        cids = [o["clientOrderId"] for o in dep.sim.orders(s.id, "futures") if o["clientOrderId"].startswith("ct")]
        assert len(cids) == len(set(cids)), f"{s.id} has duplicate copied orders"


@pytest.mark.parametrize("deployment", ["hedge"], indirect=True)
def test_hedge_mode_scenario(deployment):
    dep = deployment
    L, S = ("BTCUSDT", "LONG"), ("BTCUSDT", "SHORT")
    master_order(dep, symbol="BTCUSDT", side="BUY", positionSide="LONG", quantity="0.1")
    expect(dep, {L: Decimal("0.1")})
    master_order(dep, symbol="BTCUSDT", side="BUY", positionSide="LONG", quantity="0.1")
    master_order(dep, symbol="BTCUSDT", side="BUY", positionSide="LONG", quantity="0.1")
    expect(dep, {L: Decimal("0.3")})
    master_order(dep, symbol="BTCUSDT", side="SELL", positionSide="LONG", quantity="0.1")  # a third out
    expect(dep, {L: Decimal("0.2")})
    master_order(dep, symbol="BTCUSDT", side="SELL", positionSide="SHORT", quantity="0.1")  # short beside the long
    expect(dep, {L: Decimal("0.2"), S: Decimal("0.1")})

    signed(dep.sim, "master", "POST", "/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": 7})

    def leverage_followed():
        for s in SLAVES:
            risk = signed(dep.sim, s.id, "GET", "/fapi/v2/positionRisk", {"symbol": "BTCUSDT"})
            assert {int(r["leverage"]) for r in risk} == {7}, (s.id, risk)
        return True

    eventually(leverage_followed, timeout=10, what="slaves follow the leverage change")

    # A resting master limit order filled in parts as the price walks through it; before it, one
    # placed and canceled (published as MasterOrder events: slaves copying fills count them).
    events = MasterEvents(dep.ends.master_pub("usdm"))
    eventually(lambda: events.of(Heartbeat), timeout=10, what="the test's subscription to the master live (a heartbeat came)")
    params = {"symbol": "BTCUSDT", "side": "BUY", "positionSide": "LONG", "type": "LIMIT", "timeInForce": "GTC"}
    far = signed(dep.sim, "master", "POST", "/fapi/v1/order", params | {"quantity": "0.1", "price": "40000"})
    signed(dep.sim, "master", "DELETE", "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": far["orderId"]})
    signed(
        dep.sim,
        "master",
        "POST",
        "/fapi/v1/order",
        {
            "symbol": "BTCUSDT",
            "side": "BUY",
            "positionSide": "LONG",
            "type": "LIMIT",
            "timeInForce": "GTC",
            "quantity": "1.2",
            "price": "49990",
        },
    )
    # A small move (as in a real book): balance-multiplier k follows mark-to-market equity, so a big
    # move between the master's and the slave's equity updates would shift k by its percentage.
    for price in ("49985", "49980", "49975", "49970"):
        dep.sim.set_price("BTCUSDT", price, pause=True)
    fills = [t for t in master_fills(dep) if t.get("maker")]
    assert len(fills) >= 2, f"the limit order should fill in parts, got {fills}"
    expect(dep, {L: Decimal("1.4"), S: Decimal("0.1")})
    orders = [(e.action, e.order.order_id, e.order.price) for e in events.of(MasterOrder)]
    events.close()
    limit_id = max(int(t["orderId"]) for t in fills)
    assert orders[-3:] == [
        ("placed", int(far["orderId"]), Decimal("40000")),
        ("canceled", int(far["orderId"]), Decimal("40000")),
        ("placed", limit_id, Decimal("49990")),
    ], orders
    for s in SLAVES:  # the orders took numbers in the master's sequence: no slave saw a gap
        assert len(dep.collector.of(Reconciled, slave_id=s.id)) == 1, (s.id, dep.collector.of(Reconciled, slave_id=s.id))

    master_order(dep, symbol="BTCUSDT", side="SELL", positionSide="LONG", quantity="1.4")
    master_order(dep, symbol="BTCUSDT", side="BUY", positionSide="SHORT", quantity="0.1")
    expect(dep, {L: Decimal(0), S: Decimal(0)})
    one_decision_per_fill(dep)


@pytest.mark.parametrize("deployment", ["one_way"], indirect=True)
def test_one_way_scenario_with_flip_through_zero(deployment):
    dep = deployment
    B = ("BTCUSDT", "BOTH")
    E = ("ETHUSDT", "BOTH")
    master_order(dep, symbol="BTCUSDT", side="BUY", quantity="0.3")
    master_order(dep, symbol="ETHUSDT", side="SELL", quantity="1")
    expect(dep, {B: Decimal("0.3"), E: Decimal("-1")})
    master_order(dep, symbol="BTCUSDT", side="SELL", quantity="0.1")
    expect(dep, {B: Decimal("0.2"), E: Decimal("-1")})
    master_order(dep, symbol="BTCUSDT", side="SELL", quantity="0.5")  # +0.2 -> -0.3 in one order
    expect(dep, {B: Decimal("-0.3"), E: Decimal("-1")})
    master_order(dep, symbol="BTCUSDT", side="BUY", quantity="0.3", reduceOnly="true")
    master_order(dep, symbol="ETHUSDT", side="BUY", quantity="1")
    expect(dep, {B: Decimal(0), E: Decimal(0)})
    one_decision_per_fill(dep)
