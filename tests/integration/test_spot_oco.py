"""Spot OCO order lists mirrored (`orders = "mirror"`), end to end (simulator, master listener and
slaves as processes): the master's OCO (`POST /api/v3/orderList/oco`) is placed on each slave as an
OCO of its own (the same types, prices and stop prices; the quantity the same share of the slave's
holding, or k x what it adds). One order of each list starts working (the LIMIT_MAKER fills, or the
stop triggers) and the other expires, on the master and on every slave alike, and nothing is sent;
a list the master's filled while ours did not is canceled and settled at market, once; a list the
master cancels is canceled; a slave restarted while the list rests has one list again. Checked at
the exchange after every step: each slave's open orders (type, side, price, stop price, quantity,
and that they are one list), its holdings, the settle orders each step needs and no more, and no
corrective order.

The simulator fills resting orders in price-time order with 0.5 BTC of liquidity per price step
(BTCUSDT), the master's first; stops trigger in the order they were placed; a triggered STOP_LOSS
sells at once at the step's price. Every account pays 0.1 % commission in the asset it receives.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.helpers.deploy import margin_assets, signed
from tests.helpers.wait import eventually
from tests.integration import test_spot_resting as resting
from tests.integration.test_spot_resting import K, expect

pytestmark = pytest.mark.timeout(180)

D = Decimal
dep = resting.dep  # the fixture: a deployment with master + slave01, slave02


def lists(dep, account: str) -> list[tuple[str, str, Decimal, Decimal, Decimal]]:
    """(type, side, price, stop price, quantity) of each open order; the open orders are one OCO."""
    rows = signed(dep.sim, account, "GET", "/api/v3/openOrders", {"symbol": "BTCUSDT"})
    assert len({o["orderListId"] for o in rows}) <= 1 and all(o["orderListId"] >= 0 for o in rows), (account, rows)
    return sorted((o["type"], o["side"], D(o["price"]), D(o["stopPrice"]), D(o["origQty"])) for o in rows)


def place_oco(dep, qty: str, above: dict, below: dict, side: str = "SELL") -> dict:
    params = {"symbol": "BTCUSDT", "side": side, "quantity": qty}
    params |= {f"above{k}": v for k, v in above.items()} | {f"below{k}": v for k, v in below.items()}
    return signed(dep.sim, "master", "POST", "/api/v3/orderList/oco", params)


def oco(qty: Decimal, maker: str = "50100", stop: str = "49900") -> list:
    return sorted([("LIMIT_MAKER", "SELL", D(maker), D(0), qty), ("STOP_LOSS", "SELL", D(0), D(stop), qty)])


MAKER = {"Type": "LIMIT_MAKER", "Price": "50100"}
STOP = {"Type": "STOP_LOSS", "StopPrice": "49900"}


@pytest.mark.parametrize("dep", ["spot"], indirect=True)
def test_an_oco_whose_limit_fills_whose_stop_triggers_and_one_canceled(dep):
    # A: the master (2 BTC) sells 0.1 above at 50100 or below at 49900: each slave's OCO sells the
    # same share of its own 2 x k (0.05 and 0.2).
    place_oco(dep, "0.1", MAKER, STOP)
    expect(dep, D(2), oco(D("0.1")), {sid: oco(k * D("0.1")) for sid, k in K.items()}, {}, view=lists)

    # B: one step up through the LIMIT_MAKER: 0.1 + 0.05 + 0.2 fill within the step's 0.5; every
    # stop expires; nothing is sent.
    dep.sim.set_price("BTCUSDT", "50101", pause=True)
    expect(dep, D("1.9"), [], {}, {}, view=lists)

    # C: a second OCO, its stop triggered by a fall: every STOP_LOSS sells at market, every
    # LIMIT_MAKER expires; nothing is sent.
    dep.sim.set_price("BTCUSDT", "50000", pause=True)
    place_oco(dep, "0.1", MAKER, STOP)
    expect(dep, D("1.9"), oco(D("0.1")), {sid: oco(k * D("0.1")) for sid, k in K.items()}, {}, view=lists)
    dep.sim.set_price("BTCUSDT", "49890", pause=True)
    expect(dep, D("1.8"), [], {}, {}, view=lists)

    # D: a third, canceled by the master: every slave's list is canceled, nothing settled.
    dep.sim.set_price("BTCUSDT", "50000", pause=True)
    third = place_oco(dep, "0.1", MAKER, STOP)
    expect(dep, D("1.8"), oco(D("0.1")), {sid: oco(k * D("0.1")) for sid, k in K.items()}, {}, view=lists)
    signed(dep.sim, "master", "DELETE", "/api/v3/orderList", {"symbol": "BTCUSDT", "orderListId": third["orderListId"]})
    expect(dep, D("1.8"), [], {}, {}, view=lists)


@pytest.mark.parametrize("dep", ["spot"], indirect=True)
def test_an_oco_the_master_filled_and_ours_did_not_is_settled_once_and_a_restart_keeps_one_list(dep):
    # The master's OCO sells 1 (half of its 2); each slave's, k x 1, rests.
    place_oco(dep, "1", MAKER, STOP)
    expect(dep, D(2), oco(D(1)), {sid: oco(k) for sid, k in K.items()}, {}, view=lists)

    # slave02 dies and comes back: its sync cancels its list and places one again
    def list_ids() -> list[str]:
        return [ol["listClientOrderId"] for ol in signed(dep.sim, "slave02", "GET", "/api/v3/openOrderList", {})]

    before = list_ids()
    dep.kill("slave-slave02")
    dep.start_slave("slave02")
    eventually(lambda: list_ids() not in ([], before), timeout=60, what="slave02's OCO placed again")
    expect(dep, D(2), oco(D(1)), {sid: oco(k) for sid, k in K.items()}, {}, view=lists)

    # Two steps through the LIMIT_MAKER fill the master's 1 (0.5 each, the master first in the
    # queue; none left for the copies). The master's stop expired at the first fill; ours still
    # rest whole. When the master's list is done, each slave cancels its own and sells k x 1.
    dep.sim.set_price("BTCUSDT", "50101", pause=True)
    held = {sid: 2 * k for sid, k in K.items()}
    expect(dep, D("1.5"), [("LIMIT_MAKER", "SELL", D(50100), D(0), D(1))], {sid: oco(k) for sid, k in K.items()}, {}, held=held, view=lists)
    dep.sim.set_price("BTCUSDT", "50102", pause=True)
    expect(dep, D(1), [], {}, {sid: [("SELL", k)] for sid, k in K.items()}, view=lists)


def margin_lists(dep, account: str) -> list[tuple[str, str, Decimal, Decimal, Decimal]]:
    """As `lists`, on cross margin: its open orders carry no orderListId, so they must be the
    orders of its one open list (`GET /sapi/v1/margin/openOrderList`)."""
    rows = signed(dep.sim, account, "GET", "/sapi/v1/margin/openOrders", {"symbol": "BTCUSDT"})
    open_lists = signed(dep.sim, account, "GET", "/sapi/v1/margin/openOrderList", {})
    in_lists = sorted(o["orderId"] for ol in open_lists for o in ol["orders"])
    assert len(open_lists) <= 1 and in_lists == sorted(o["orderId"] for o in rows), (account, rows, open_lists)
    return sorted((o["type"], o["side"], D(o["price"]), D(o["stopPrice"]), D(o["origQty"])) for o in rows)


@pytest.mark.parametrize("dep", ["margin"], indirect=True)
def test_margin_an_oco_that_opens_a_short_borrows_when_placed_survives_a_restart_and_triggers(dep):
    # The master holds 2 BTC and sends the older OCO form margin has: SELL 3, a LIMIT_MAKER at
    # 50100 or a STOP_LOSS at 49900, with MARGIN_BUY (the 1 BTC beyond what it holds is borrowed
    # when placed). Each slave's OCO sells k x 3 with MARGIN_BUY: its loan of k x 1 is taken then.
    params = {"symbol": "BTCUSDT", "side": "SELL", "quantity": "3", "price": "50100", "stopPrice": "49900", "sideEffectType": "MARGIN_BUY"}
    signed(dep.sim, "master", "POST", "/sapi/v1/margin/order/oco", params)
    expect(dep, D(2), oco(D(3)), {sid: oco(3 * k) for sid, k in K.items()}, {}, view=margin_lists)
    for account, k in [("master", D(1)), *K.items()]:
        assert margin_assets(dep.sim, account)["BTC"][1] == k, (account, margin_assets(dep.sim, account))

    # The master listener and slave01 die and come back: the listener's snapshot names the list
    # from the master's open lists (margin's open orders carry no list id); slave01's sync cancels
    # its OCO and places one again.
    def list_ids() -> list[str]:
        return [ol["listClientOrderId"] for ol in signed(dep.sim, "slave01", "GET", "/sapi/v1/margin/openOrderList", {})]

    before = list_ids()
    dep.kill("master-margin")
    dep.kill("slave-slave01")
    dep.start_master("margin")
    dep.start_slave("slave01")
    eventually(lambda: list_ids() not in ([], before), timeout=60, what="slave01's OCO placed again")
    expect(dep, D(2), oco(D(3)), {sid: oco(3 * k) for sid, k in K.items()}, {}, view=margin_lists)

    # The stop triggers: every account sells at market and is short its share; every LIMIT_MAKER
    # expires; nothing is sent.
    dep.sim.set_price("BTCUSDT", "49890", pause=True)
    expect(dep, D(-1), [], {}, {}, view=margin_lists)
    for account, k in [("master", D(1)), *K.items()]:
        assert margin_assets(dep.sim, account)["BTC"][1] >= k, (account, margin_assets(dep.sim, account))
