"""Spot OTO and OTOCO order lists mirrored (`orders = "mirror"`), end to end (simulator, master
listener and slaves as processes). The master's *working* order (a LIMIT or LIMIT_MAKER) is copied
as a plain resting copy; its *pending* orders (PENDING_NEW until the working order is fully filled)
are copied when they go on the master's book: an OTO's one order as a single copy, an OTOCO's pair
as an OCO of the slave's own. A working order the master's filled while the copies did not is
settled at market first, so the stop that follows is sized on the settled position. Checked at the
exchange after every step: each account's open orders (type, side, price, stop price, quantity,
status, whether it is in a list), its holdings, the settle orders each step needs and no more, and
no corrective order.

The simulator fills resting orders in price-time order with 0.5 BTC of liquidity per price step
(BTCUSDT), the master's first; every account pays 0.1 % commission in the asset it receives.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

import pytest

from tests.helpers.deploy import signed
from tests.helpers.wait import eventually
from tests.integration import test_spot_resting as resting
from tests.integration.test_spot_resting import STEP, K, btc, expect, settles

pytestmark = pytest.mark.timeout(180)

D = Decimal
dep = resting.dep  # the fixture: a deployment with master + slave01, slave02


def book(dep, account: str) -> list[tuple[str, str, Decimal, Decimal, Decimal, str, bool]]:
    """(type, side, price, stop price, quantity, status, in a list) of each open order."""
    rows = signed(dep.sim, account, "GET", "/api/v3/openOrders", {"symbol": "BTCUSDT"})
    return sorted(
        (o["type"], o["side"], D(o["price"]), D(o["stopPrice"]), D(o["origQty"]), o["status"], o["orderListId"] >= 0) for o in rows
    )


def row(kind: str, side: str, qty: Decimal, price: str = "0", stop: str = "0", status: str = "NEW", listed: bool = True) -> tuple:
    return (kind, side, D(price), D(stop), qty, status, listed)


@pytest.mark.parametrize("dep", ["spot"], indirect=True)
def test_an_oto_whose_working_buy_the_master_filled_settles_then_its_stop_is_copied_and_triggers(dep):
    # A: the master (2 BTC) rests an OTO: BUY 1 @ 49990, and when that is filled, SELL STOP_LOSS 1
    # @ 49000. Each slave rests only its copy of the working buy (k x 1, not in a list): the stop
    # is pending on the master, not on its book.
    signed(dep.sim, "master", "POST", "/api/v3/orderList/oto", {
        "symbol": "BTCUSDT", "workingType": "LIMIT", "workingSide": "BUY", "workingPrice": "49990", "workingQuantity": "1",
        "workingTimeInForce": "GTC", "pendingType": "STOP_LOSS", "pendingSide": "SELL", "pendingQuantity": "1",
        "pendingStopPrice": "49000",
    })  # fmt: skip
    master = [row("LIMIT", "BUY", D(1), price="49990"), row("STOP_LOSS", "SELL", D(1), stop="49000", status="PENDING_NEW")]
    copies = {sid: [row("LIMIT", "BUY", k, price="49990", listed=False)] for sid, k in K.items()}
    expect(dep, D(2), master, copies, {}, view=book)

    # B: one step through it fills half of the master's (first in the queue), none of the copies.
    dep.sim.set_price("BTCUSDT", "49989", pause=True)
    half = D("0.5") * D("0.999")
    master[0] = row("LIMIT", "BUY", D(1), price="49990", status="PARTIALLY_FILLED")
    expect(dep, 2 + half, master, copies, {}, held={sid: 2 * k for sid, k in K.items()}, view=book)

    # C: a second step fills the rest: the master's stop goes on its book. Each slave cancels its
    # copy and buys k x 1 at market, then copies the stop as the same share of its settled holding
    # (1 of the master's 2.999).
    dep.sim.set_price("BTCUSDT", "49988", pause=True)
    held_btc = 2 + 2 * half
    bought = {sid: [("BUY", k)] for sid, k in K.items()}
    eventually(lambda: all(settles(dep, sid) == bought[sid] for sid in K), timeout=20, what="each slave's settle of the working buy")
    share = {sid: (btc(dep, sid) / held_btc).quantize(STEP, ROUND_DOWN) for sid in K}
    stop = [row("STOP_LOSS", "SELL", D(1), stop="49000", listed=True)]
    stops = {sid: [row("STOP_LOSS", "SELL", share[sid], stop="49000", listed=False)] for sid in K}
    held = {sid: btc(dep, sid) for sid in K}
    expect(dep, held_btc, stop, stops, bought, held=held, view=book)

    # D: the price falls through the stop: every stop sells at market; nothing is sent.
    dep.sim.set_price("BTCUSDT", "48990", pause=True)
    expect(dep, held_btc - 1, [], {}, bought, held={sid: held[sid] - share[sid] for sid in K}, view=book)


@pytest.mark.parametrize("dep", ["spot"], indirect=True)
def test_an_otoco_whose_maker_sell_everyone_filled_places_its_pair_as_ocos_and_a_cancel_ends_them(dep):
    # A: the master rests an OTOCO: SELL LIMIT_MAKER 0.1 @ 50010 (a LIMIT_MAKER: whether it is an
    # OCO's or an OTO's is known only from its list's events), and when that is filled a BUY 0.1
    # pair: STOP_LOSS @ 50500 above, TAKE_PROFIT @ 49500 below. Each slave rests its plain copy of
    # the sell (the same share of its BTC: k x 0.1).
    placed = signed(dep.sim, "master", "POST", "/api/v3/orderList/otoco", {
        "symbol": "BTCUSDT", "workingType": "LIMIT_MAKER", "workingSide": "SELL", "workingPrice": "50010",
        "workingQuantity": "0.1", "pendingSide": "BUY", "pendingQuantity": "0.1", "pendingAboveType": "STOP_LOSS",
        "pendingAboveStopPrice": "50500", "pendingBelowType": "TAKE_PROFIT", "pendingBelowStopPrice": "49500",
    })  # fmt: skip
    pair = [row("STOP_LOSS", "BUY", D("0.1"), stop="50500"), row("TAKE_PROFIT", "BUY", D("0.1"), stop="49500")]
    pending = [r[:5] + ("PENDING_NEW", True) for r in pair]
    working = row("LIMIT_MAKER", "SELL", D("0.1"), price="50010")
    copies = {sid: [row("LIMIT_MAKER", "SELL", k * D("0.1"), price="50010", listed=False)] for sid, k in K.items()}
    expect(dep, D(2), [working, *pending], copies, {}, view=book)

    # slave02 dies and comes back while the working order rests: its sync places one copy again
    def ids() -> list[str]:
        return [o["clientOrderId"] for o in signed(dep.sim, "slave02", "GET", "/api/v3/openOrders", {"symbol": "BTCUSDT"})]

    before = ids()
    dep.kill("slave-slave02")
    dep.start_slave("slave02")
    eventually(lambda: ids() not in ([], before), timeout=60, what="slave02's copy placed again")
    expect(dep, D(2), [working, *pending], copies, {}, view=book)

    # B: one step up through 50010: the master's 0.1 and the copies' 0.05 and 0.2 all fill within
    # the step's 0.5. The master's pair goes on its book; each slave places k x 0.1 as an OCO of
    # its own; nothing is settled.
    dep.sim.set_price("BTCUSDT", "50011", pause=True)
    ocos = {sid: [r[:4] + (k * D("0.1"), "NEW", True) for r in pair] for sid, k in K.items()}
    expect(dep, D("1.9"), pair, ocos, {}, view=book)
    for sid in K:
        assert len({o["orderListId"] for o in signed(dep.sim, sid, "GET", "/api/v3/openOrders", {"symbol": "BTCUSDT"})}) == 1

    # C: the master cancels its list: every slave's OCO is canceled, nothing is settled.
    signed(dep.sim, "master", "DELETE", "/api/v3/orderList", {"symbol": "BTCUSDT", "orderListId": placed["orderListId"]})
    expect(dep, D("1.9"), [], {}, {}, view=book)
