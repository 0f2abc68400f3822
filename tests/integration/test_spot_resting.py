"""`orders = "mirror"` on spot and cross margin, end to end (simulator, master listener and slaves
as processes): the master's resting LIMIT and LIMIT_MAKER orders are placed and canceled on each
slave, the copies fill on their own queue position, and when the master's order is done what is
left is canceled and the difference settled with a market order ("cs"). Checked at the exchange
after every step: each slave's open orders (type, side, price, quantity, time in force) and its
holdings, the settle orders each step needs and no more, and no corrective order.

The simulator fills resting orders in price-time order with a budget per price step shared by
every market (0.5 BTC on BTCUSDT), so the master's order, placed first, fills before its copies
at the same price. Every account pays 0.1 % commission in the asset it receives.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from protocol.messages import SlaveConfig
from tests.helpers.corrections import assert_no_corrections
from tests.helpers.deploy import COPY_ONLY, Deployment, margin_assets, signed, spot_holdings
from tests.helpers.sim import TEST_CONFIG, SimProcess
from tests.helpers.wait import eventually

pytestmark = pytest.mark.timeout(180)

D = Decimal
STEP = D("0.00001")  # BTCUSDT's step
K = {"slave01": D("0.5"), "slave02": D("2")}
ORDER_PATH = {"spot": "/api/v3/order", "margin": "/sapi/v1/margin/order"}
OPEN_PATH = {"spot": "/api/v3/openOrders", "margin": "/sapi/v1/margin/openOrders"}


@pytest.fixture(params=["spot", "margin"])
def dep(tmp_path, request):
    market = request.param
    slaves = [SlaveConfig(id=sid, markets=(market,), sizing="fixed_ratio", ratio=k, orders="mirror") for sid, k in K.items()]
    with SimProcess(TEST_CONFIG) as sim:
        sim.set_price("BTCUSDT", "50000", pause=True)
        for account, k in {"master": D(1), **K}.items():  # k x the master's BTC and USDT, no ETH
            sim.admin("POST", "/_sim/balances", {"account": account, "market": market, "asset": "ETH", "free": "0"})
            sim.admin("POST", "/_sim/balances", {"account": account, "market": market, "asset": "BTC", "free": str(2 * k)})
            sim.admin("POST", "/_sim/balances", {"account": account, "market": market, "asset": "USDT", "free": str(100000 * k)})
        deployment = Deployment(tmp_path / "deploy", sim, slaves, markets=(market,), snapshot_interval_s=COPY_ONLY)
        deployment.market = market  # type: ignore[attr-defined]
        deployment.start_all()
        try:
            deployment.wait_running(timeout=60)
            yield deployment
        finally:
            deployment.stop()


def btc(dep, account: str) -> Decimal:
    if dep.market == "margin":
        return margin_assets(dep.sim, account).get("BTC", (D(0), D(0)))[0]
    return spot_holdings(dep.sim, account).get("BTC", D(0))


def open_orders(dep, account: str) -> list[tuple[str, str, Decimal, Decimal, str]]:
    rows = signed(dep.sim, account, "GET", OPEN_PATH[dep.market], {"symbol": "BTCUSDT"})
    return sorted((o["type"], o["side"], D(o["price"]), D(o["origQty"]), o["timeInForce"]) for o in rows)


def settles(dep, account: str) -> list[tuple[str, Decimal]]:
    return [(o["side"], D(o["origQty"])) for o in dep.sim.orders(account, dep.market) if o["clientOrderId"].startswith("cs")]


def place(dep, side: str, qty: str, price: str, kind: str = "LIMIT", **extra: str) -> dict:
    params = {"symbol": "BTCUSDT", "side": side, "type": kind, "quantity": qty, "price": price} | extra
    if kind == "LIMIT":
        params["timeInForce"] = "GTC"
    return signed(dep.sim, "master", "POST", ORDER_PATH[dep.market], params)


def expect(
    dep, master_btc: Decimal, master_orders: list, copies: dict[str, list], settled: dict[str, list], held: dict | None = None, view=None
):
    """The master holds `master_btc` with `master_orders` open; each slave has `copies` open (its
    own quantities), holds k x the master's BTC (or `held`, within one step: a settle buying
    grosses up for the commission) and sent exactly the `settled` market orders. `view`: how an
    account's open orders are read (default `open_orders`)."""
    view = view or open_orders

    def check() -> bool:
        assert btc(dep, "master") == master_btc
        assert view(dep, "master") == sorted(master_orders)
        for sid, k in K.items():
            want = (held or {}).get(sid, k * master_btc)
            assert abs(btc(dep, sid) - want) <= STEP, (sid, btc(dep, sid), want)
            assert view(dep, sid) == sorted(copies.get(sid, [])), (sid, view(dep, sid))
            assert settles(dep, sid) == settled.get(sid, []), (sid, settles(dep, sid))
        return True

    eventually(check, timeout=20, interval=0.1, what=f"slaves at k x {master_btc} BTC with the copies of {master_orders}")
    assert_no_corrections(dep, "mirroring resting orders")


def scaled(rows: list, k: Decimal) -> list:
    return [(t, side, price, k * qty, tif) for t, side, price, qty, tif in rows]


def test_a_limit_entry_filled_in_part_and_canceled_a_full_exit_and_a_maker_entry_the_copies_fill(dep):
    # A: the master rests BUY 1.0 @ 49990; each slave rests k x 1.0 at the same price.
    placed = place(dep, "BUY", "1", "49990")
    entry = [("LIMIT", "BUY", D("49990"), D("1"), "GTC")]
    expect(dep, D(2), entry, {sid: scaled(entry, k) for sid, k in K.items()}, {})

    # B: one step through it: its 0.5 fills the master's order (first in the queue) and none of
    # the copies; the target moved, no market order is sent while the copies rest.
    dep.sim.set_price("BTCUSDT", "49989", pause=True)
    bought = D("0.5") * D("0.999")  # the commission is taken from the BTC received
    before = {sid: 2 * k for sid, k in K.items()}
    expect(dep, 2 + bought, entry, {sid: scaled(entry, k) for sid, k in K.items()}, {}, held=before)

    # C: the master cancels the rest: each slave cancels its copy and buys k x 0.5 at market.
    signed(dep.sim, "master", "DELETE", ORDER_PATH[dep.market], {"symbol": "BTCUSDT", "orderId": placed["orderId"]})
    after_entry = {sid: [("BUY", k * D("0.5"))] for sid, k in K.items()}
    expect(dep, 2 + bought, [], {}, after_entry)

    # D: the master rests SELL 1.0 @ 50010, a share of its BTC: each slave rests the same share
    # of its own. Two steps fill the master's 1.0 (0.5 each, none left for the copies): its order
    # is filled, the copies are canceled and each slave sells its share at market.
    dep.sim.set_price("BTCUSDT", "50000", pause=True)
    master_btc = 2 + bought
    place(dep, "SELL", "1", "50010")
    exit_ = [("LIMIT", "SELL", D("50010"), D("1"), "GTC")]
    held = {sid: btc(dep, sid) for sid in K}  # k x the master's, within the settle's step
    share = {sid: (held[sid] / master_btc).quantize(STEP, rounding="ROUND_DOWN") for sid in K}
    copies = {sid: [("LIMIT", "SELL", D("50010"), share[sid], "GTC")] for sid in K}
    expect(dep, master_btc, exit_, copies, after_entry)
    dep.sim.set_price("BTCUSDT", "50011", pause=True)
    expect(dep, master_btc - D("0.5"), exit_, copies, after_entry, held=held)
    dep.sim.set_price("BTCUSDT", "50012", pause=True)
    after_exit = {sid: after_entry[sid] + [("SELL", held[sid] - k * (master_btc - 1))] for sid, k in K.items()}
    expect(dep, master_btc - 1, [], {}, after_exit)

    # E: a LIMIT_MAKER BUY 0.1 under the price and one step down to it: the master's 0.1 and the
    # copies' 0.05 and 0.2 all fill within the step's 0.5: nothing to settle.
    place(dep, "BUY", "0.1", "50000", kind="LIMIT_MAKER")
    maker = [("LIMIT_MAKER", "BUY", D("50000"), D("0.1"), "GTC")]
    expect(dep, master_btc - 1, maker, {sid: scaled(maker, k) for sid, k in K.items()}, after_exit)
    dep.sim.set_price("BTCUSDT", "49999", pause=True)
    expect(dep, master_btc - 1 + D("0.1") * D("0.999"), [], {}, after_exit)
    trades_path = {"spot": "/api/v3/myTrades", "margin": "/sapi/v1/margin/myTrades"}[dep.market]
    for sid in K:  # the copies' fills were maker fills at the master's price
        last = signed(dep.sim, sid, "GET", trades_path, {"symbol": "BTCUSDT"})[-1]
        assert last["isMaker"] and D(last["price"]) == D("50000"), (sid, last)


@pytest.mark.parametrize("dep", ["margin"], indirect=True)
def test_margin_a_short_entry_on_borrowed_btc_and_its_cover(dep):
    # The master rests SELL 3 @ 50010 with MARGIN_BUY: 1 more than its 2 BTC, borrowed. Each slave
    # rests k x 3 with MARGIN_BUY: its loan is taken when the copy is placed.
    dep.sim.set_price("BTCUSDT", "50000", pause=True)
    place(dep, "SELL", "3", "50010", sideEffectType="MARGIN_BUY")
    short = [("LIMIT", "SELL", D("50010"), D("3"), "GTC")]
    expect(dep, D(2), short, {sid: scaled(short, k) for sid, k in K.items()}, {})
    for sid, k in K.items():
        assert margin_assets(dep.sim, sid)["BTC"][1] == k * 1, (sid, margin_assets(dep.sim, sid))

    # six steps fill the master's 3 (0.5 each); its order is filled: each slave cancels its copy
    # and sells k x 3 at market, in two legs through zero (close the long, open the short), and is
    # short k x 1 on the loan its copy took, like the master.
    for i in range(1, 7):
        dep.sim.set_price("BTCUSDT", str(50010 + i), pause=True)
    after = {sid: [("SELL", k * 2), ("SELL", k * 1)] for sid, k in K.items()}
    expect(dep, D(-1), [], {}, after)
    assert margin_assets(dep.sim, "master")["BTC"][1] == 1
    for sid, k in K.items():
        assert margin_assets(dep.sim, sid)["BTC"][1] == k * 1, (sid, margin_assets(dep.sim, sid))


def copy_ids(dep, account: str) -> list[str]:
    return [o["clientOrderId"] for o in signed(dep.sim, account, "GET", OPEN_PATH[dep.market], {"symbol": "BTCUSDT"})]


@pytest.mark.parametrize("dep", ["spot"], indirect=True)
def test_spot_a_slave_restarted_while_an_order_rests_has_one_copy_and_settles_once(dep):
    placed = place(dep, "BUY", "1", "49990")
    entry = [("LIMIT", "BUY", D("49990"), D("1"), "GTC")]
    expect(dep, D(2), entry, {sid: scaled(entry, k) for sid, k in K.items()}, {})

    # slave02 dies and comes back: its sync cancels the copy it had and places one again
    before = copy_ids(dep, "slave02")
    dep.kill("slave-slave02")
    dep.start_slave("slave02")
    eventually(lambda: copy_ids(dep, "slave02") not in ([], before), timeout=60, what="slave02's copy placed again")
    expect(dep, D(2), entry, {sid: scaled(entry, k) for sid, k in K.items()}, {})

    # half of the master's order fills, then it is canceled: each slave buys k x 0.5, once
    dep.sim.set_price("BTCUSDT", "49989", pause=True)
    eventually(lambda: btc(dep, "master") > 2, timeout=20, what="the master's order filled in part")
    signed(dep.sim, "master", "DELETE", ORDER_PATH[dep.market], {"symbol": "BTCUSDT", "orderId": placed["orderId"]})
    expect(dep, 2 + D("0.5") * D("0.999"), [], {}, {sid: [("BUY", k * D("0.5"))] for sid, k in K.items()})
