"""`orders = "mirror"` on USD-M, end to end (simulator, master listener and slaves as processes):
the master's resting LIMIT orders are placed, amended and canceled on each slave, the copies fill
on their own queue position, and when the master's order is done what is left is canceled and the
difference settled with a market order ("cs"). Checked at the exchange after every step: each
slave's open orders (type, side, price, quantity, time in force) and positions, the settle orders
each step needs and no more, and no corrective order.

The simulator fills resting orders in price-time order with a shared budget per price step (0.5
BTC on BTCUSDT), so the master's order, placed first, fills before its copies at the same price.
"""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from protocol.messages import SlaveConfig
from tests.helpers.corrections import assert_no_corrections
from tests.helpers.deploy import COPY_ONLY, Deployment, positions, signed
from tests.helpers.sim import TEST_CONFIG, SimProcess
from tests.helpers.wait import eventually

pytestmark = pytest.mark.timeout(180)

SLAVES = [
    SlaveConfig(id="slave01", sizing="fixed_ratio", ratio=Decimal("0.5"), orders="mirror"),
    SlaveConfig(id="slave02", sizing="fixed_ratio", ratio=Decimal("2"), orders="mirror"),
]
K = {s.id: s.ratio for s in SLAVES}
LIMIT = {"symbol": "BTCUSDT", "type": "LIMIT", "timeInForce": "GTC"}


@pytest.fixture(params=["hedge"])
def dep(tmp_path, request):
    hedge = request.param == "hedge"
    with SimProcess(TEST_CONFIG) as sim:
        sim.set_price("BTCUSDT", "50000", pause=True)
        for account in ["master"] + [s.id for s in SLAVES]:
            sim.admin("POST", "/_sim/balances", {"account": account, "market": "futures", "asset": "USDT", "free": "400000"})
            if hedge:
                signed(sim, account, "POST", "/fapi/v1/positionSide/dual", {"dualSidePosition": "true"})
        deployment = Deployment(tmp_path / "deploy", sim, SLAVES, snapshot_interval_s=COPY_ONLY)
        deployment.start_all()
        try:
            deployment.wait_running(timeout=60)
            yield deployment
        finally:
            deployment.stop()


def open_orders(dep, account: str) -> list[tuple[str, str, str, Decimal, Decimal, str]]:
    rows = signed(dep.sim, account, "GET", "/fapi/v1/openOrders", {"symbol": "BTCUSDT"})
    return sorted((o["type"], o["side"], o["positionSide"], Decimal(o["price"]), Decimal(o["origQty"]), o["timeInForce"]) for o in rows)


def settles(dep, account: str) -> list[tuple[str, Decimal]]:
    return [(o["side"], Decimal(o["origQty"])) for o in dep.sim.orders(account, "futures") if o["clientOrderId"].startswith("cs")]


def expect(
    dep, master_long: Decimal, master_orders: list, settled: dict[str, list], copied_long: Decimal | None = None, ps: str = "LONG"
) -> None:
    """The master holds `master_long` with `master_orders` open; each slave holds k x that long (k x
    `copied_long` while its copies rest unfilled), has the master's orders at k x (same type, side,
    price, time in force) and sent exactly the `settled` market orders."""
    copied = master_long if copied_long is None else copied_long
    key = ("BTCUSDT", ps)

    def check() -> bool:
        assert positions(dep.sim, "master").get(key, Decimal(0)) == master_long
        assert open_orders(dep, "master") == sorted(master_orders)
        for s in SLAVES:
            k = K[s.id]
            assert positions(dep.sim, s.id).get(key, Decimal(0)) == k * copied, (s.id, positions(dep.sim, s.id))
            want = sorted((t, side, ps, price, k * qty, tif) for t, side, ps, price, qty, tif in master_orders)
            assert open_orders(dep, s.id) == want, (s.id, open_orders(dep, s.id))
            assert settles(dep, s.id) == settled.get(s.id, []), (s.id, settles(dep, s.id))
        return True

    eventually(check, timeout=20, interval=0.1, what=f"slaves at k x long {master_long} with k x {master_orders}")
    assert_no_corrections(dep, "mirroring resting orders")


def test_a_limit_entry_amended_filled_in_part_canceled_then_a_reduce_only_exit_and_a_fill_of_the_copies(dep):
    D = Decimal
    # A: the master rests a BUY LONG 1.0 @ 49990; each slave rests k x 1.0 at the same price.
    placed = signed(
        dep.sim, "master", "POST", "/fapi/v1/order", LIMIT | {"side": "BUY", "positionSide": "LONG", "quantity": "1", "price": "49990"}
    )
    expect(dep, D(0), [("LIMIT", "BUY", "LONG", D("49990"), D("1"), "GTC")], {})

    # B: amended to 1.2 @ 49980 (PUT /fapi/v1/order): the copies follow.
    signed(
        dep.sim,
        "master",
        "PUT",
        "/fapi/v1/order",
        {"symbol": "BTCUSDT", "orderId": placed["orderId"], "side": "BUY", "quantity": "1.2", "price": "49980"},
    )
    expect(dep, D(0), [("LIMIT", "BUY", "LONG", D("49980"), D("1.2"), "GTC")], {})

    # C: one price step through it: the step's 0.5 fills the master's order (first in the queue)
    # and none of the copies; the target moved, no market order is sent while the copies rest.
    dep.sim.set_price("BTCUSDT", "49979", pause=True)
    expect(dep, D("0.5"), [("LIMIT", "BUY", "LONG", D("49980"), D("1.2"), "GTC")], {}, copied_long=D(0))

    # D: the master cancels the rest: each slave cancels its copy and settles k x 0.5 at market.
    signed(dep.sim, "master", "DELETE", "/fapi/v1/order", {"symbol": "BTCUSDT", "orderId": placed["orderId"]})
    expect(dep, D("0.5"), [], {s.id: [("BUY", K[s.id] * D("0.5"))] for s in SLAVES})

    # E: a closing exit, SELL LONG 0.5 @ 50010 (all of the master's long): each slave rests all of
    # its own long. One step fills the master's; the copies are canceled and settled at market.
    dep.sim.set_price("BTCUSDT", "50000", pause=True)
    signed(
        dep.sim, "master", "POST", "/fapi/v1/order", LIMIT | {"side": "SELL", "positionSide": "LONG", "quantity": "0.5", "price": "50010"}
    )
    expect(dep, D("0.5"), [("LIMIT", "SELL", "LONG", D("50010"), D("0.5"), "GTC")], {s.id: [("BUY", K[s.id] * D("0.5"))] for s in SLAVES})
    dep.sim.set_price("BTCUSDT", "50011", pause=True)
    after_exit = {s.id: [("BUY", K[s.id] * D("0.5")), ("SELL", K[s.id] * D("0.5"))] for s in SLAVES}
    expect(dep, D(0), [], after_exit)

    # F: a BUY LONG 0.1 @ 49990 and one step under it: the master's 0.1 and the copies' 0.05 and
    # 0.2 all fill within the step's 0.5; the copies filled themselves: nothing to settle.
    dep.sim.set_price("BTCUSDT", "50000", pause=True)
    signed(
        dep.sim, "master", "POST", "/fapi/v1/order", LIMIT | {"side": "BUY", "positionSide": "LONG", "quantity": "0.1", "price": "49990"}
    )
    expect(dep, D(0), [("LIMIT", "BUY", "LONG", D("49990"), D("0.1"), "GTC")], after_exit)
    dep.sim.set_price("BTCUSDT", "49989", pause=True)
    expect(dep, D("0.1"), [], after_exit)
    for s in SLAVES:  # the copies' fills were maker fills at the master's price
        own = [t for t in dep.sim.trades(s.id, "futures") if t.get("maker")]
        assert own and all(D(t["price"]) == D("49990") for t in own[-1:]), (s.id, own)


def copy_ids(dep, account: str) -> list[str]:
    return [o["clientOrderId"] for o in signed(dep.sim, account, "GET", "/fapi/v1/openOrders", {"symbol": "BTCUSDT"})]


@pytest.mark.parametrize("dep", ["one_way"], indirect=True)
def test_one_way_a_slave_restarted_while_an_order_rests_then_the_copies_fill_in_part(dep):
    D = Decimal
    signed(dep.sim, "master", "POST", "/fapi/v1/order", LIMIT | {"side": "BUY", "quantity": "0.8", "price": "49990"})
    resting = [("LIMIT", "BUY", "BOTH", D("49990"), D("0.8"), "GTC")]
    expect(dep, D(0), resting, {}, ps="BOTH")

    # slave01 dies and comes back: its sync cancels the copy it had and copies the order again
    before = copy_ids(dep, "slave01")
    dep.kill("slave-slave01")
    dep.start_slave("slave01")
    eventually(lambda: copy_ids(dep, "slave01") not in ([], before), timeout=60, what="slave01's copy placed again")
    expect(dep, D(0), resting, {}, ps="BOTH")

    # one step: 0.5 of the master's order fills (first in the queue), none of the copies
    dep.sim.set_price("BTCUSDT", "49989", pause=True)
    expect(dep, D("0.5"), [resting[0][:4] + (D("0.8"), "GTC")], {}, copied_long=D(0), ps="BOTH")

    # the next step: the master's last 0.3, then 0.2 for the copies in queue order (slave02's
    # copy is older than slave01's new one): slave02 fills 0.2 of its 1.6 and settles the other
    # 1.4 once the master's order is filled; slave01 settles all of its 0.4
    dep.sim.set_price("BTCUSDT", "49988", pause=True)
    expect(dep, D("0.8"), [], {"slave01": [("BUY", D("0.4"))], "slave02": [("BUY", D("1.4"))]}, ps="BOTH")


@pytest.mark.parametrize("dep", ["one_way"], indirect=True)
def test_a_slave_restarted_with_orders_fills_cancels_the_copies_it_left_and_copies_fills(dep):
    D = Decimal
    signed(dep.sim, "master", "POST", "/fapi/v1/order", LIMIT | {"side": "BUY", "quantity": "0.8", "price": "49990"})
    resting = [("LIMIT", "BUY", "BOTH", D("49990"), D("0.8"), "GTC")]
    expect(dep, D(0), resting, {}, ps="BOTH")

    dep.kill("slave-slave02")
    dep.slaves[1] = msgspec.structs.replace(dep.slaves[1], orders="fills")
    dep.write_config()
    dep.start_slave("slave02")
    eventually(lambda: copy_ids(dep, "slave02") == [], timeout=60, what="slave02's copy canceled at its start")

    dep.sim.set_price("BTCUSDT", "49989", pause=True)  # 0.5 of the master's order fills

    def copied() -> bool:
        assert positions(dep.sim, "slave02").get(("BTCUSDT", "BOTH"), D(0)) == D("1.0")  # 2 x 0.5, at market
        assert open_orders(dep, "slave02") == []
        assert positions(dep.sim, "slave01").get(("BTCUSDT", "BOTH"), D(0)) == D(0)  # its copy still rests
        assert open_orders(dep, "slave01") == [("LIMIT", "BUY", "BOTH", D("49990"), D("0.4"), "GTC")]
        return True

    eventually(copied, timeout=20, interval=0.1, what="slave02 copies fills, slave01's copy rests")
    assert_no_corrections(dep, "after a switch from mirror to fills")
