"""`orders = "mirror"` with `protective = "mirror"` on USD-M, end to end (simulator, master listener
and slaves as processes): the master's stop-loss / take-profit orders (Binance's Algo Service,
POST /fapi/v1/algoOrder) are placed and canceled on each slave; when the master's stop triggers, each
slave's own stop triggers on the same price and the master's fills are not copied again; a slave
whose stop did not trigger (it was canceled behind the copier's back) settles with a market order
("cs"). Checked at the exchange after every step: each slave's open conditional orders (type,
side, trigger, quantity or close-all, reduce-only) and positions, every market order each slave
sent, and no corrective order."""

from __future__ import annotations

from decimal import Decimal

import pytest

from protocol.messages import Reconciled, SlaveConfig
from tests.helpers.corrections import assert_no_corrections
from tests.helpers.deploy import COPY_ONLY, Deployment, positions, signed
from tests.helpers.sim import TEST_CONFIG, SimProcess
from tests.helpers.wait import eventually

pytestmark = pytest.mark.timeout(240)
D = Decimal

SLAVES = [
    SlaveConfig(id="slave01", sizing="fixed_ratio", ratio=D("0.5"), orders="mirror"),
    SlaveConfig(id="slave02", sizing="fixed_ratio", ratio=D("2"), orders="mirror"),
]
K = {s.id: s.ratio for s in SLAVES}


@pytest.fixture(params=["hedge", "one_way"])
def dep(tmp_path, request):
    hedge = request.param == "hedge"
    with SimProcess(TEST_CONFIG) as sim:
        sim.set_price("BTCUSDT", "50000", pause=True)
        for account in ["master"] + [s.id for s in SLAVES]:
            sim.admin("POST", "/_sim/balances", {"account": account, "market": "futures", "asset": "USDT", "free": "400000"})
            if hedge:
                signed(sim, account, "POST", "/fapi/v1/positionSide/dual", {"dualSidePosition": "true"})
        deployment = Deployment(tmp_path / "deploy", sim, SLAVES, snapshot_interval_s=COPY_ONLY)
        deployment.hedge = hedge  # type: ignore[attr-defined]
        deployment.start_all()
        try:
            deployment.wait_running(timeout=60)
            yield deployment
        finally:
            deployment.stop()


def ps_of(dep) -> str:
    return "LONG" if dep.hedge else "BOTH"


def market(dep, side: str, qty: str) -> None:
    params = {"symbol": "BTCUSDT", "side": side, "type": "MARKET", "quantity": qty}
    if dep.hedge:
        params["positionSide"] = "LONG"
    signed(dep.sim, "master", "POST", "/fapi/v1/order", params)


def algo(dep, order_type: str, trigger: str, qty: str | None = None) -> dict:
    """The master's SELL stop / take-profit on its long: close-all (which the exchange reports as
    reduce-only), or `qty` (reduce-only one-way)."""
    params = {"algoType": "CONDITIONAL", "symbol": "BTCUSDT", "side": "SELL", "type": order_type, "triggerPrice": trigger}
    if qty is None:
        params["closePosition"] = "true"
    else:
        params["quantity"] = qty
        if not dep.hedge:
            params["reduceOnly"] = "true"
    if dep.hedge:
        params["positionSide"] = "LONG"
    return signed(dep.sim, "master", "POST", "/fapi/v1/algoOrder", params)


def open_algos(dep, account: str) -> list[tuple]:
    rows = signed(dep.sim, account, "GET", "/fapi/v1/openAlgoOrders", {"symbol": "BTCUSDT"})
    return sorted(
        (
            o["orderType"],
            o["side"],
            o["positionSide"],
            D(o["triggerPrice"]),
            D(o["quantity"] or 0),
            bool(o["closePosition"]),
            bool(o["reduceOnly"]),
        )
        for o in rows
    )


def algo_ids(dep, account: str) -> list[str]:
    return sorted(o["clientAlgoId"] for o in signed(dep.sim, account, "GET", "/fapi/v1/openAlgoOrders", {"symbol": "BTCUSDT"}))


def market_orders(dep, account: str) -> list[tuple[str, str, Decimal]]:
    """The slave's own market orders: copies of fills ("ct"), settles ("cs"), anything else."""
    return [
        (o["clientOrderId"][:2], o["side"], D(o["origQty"]))
        for o in dep.sim.orders(account, "futures")
        if o["type"] == "MARKET" and not o["clientOrderId"].startswith("ca")
    ]


def expect(dep, master_long: Decimal, stops: list[tuple], sent: dict[str, list]) -> None:
    """The master holds `master_long` with the conditional orders `stops` open; each slave holds k x
    that, has the master's stops (k x a quantity; close-all as is) and sent exactly `sent`."""
    key = ("BTCUSDT", ps_of(dep))

    def check() -> bool:
        assert positions(dep.sim, "master").get(key, D(0)) == master_long
        assert open_algos(dep, "master") == sorted(stops)
        for s in SLAVES:
            k = K[s.id]
            assert positions(dep.sim, s.id).get(key, D(0)) == k * master_long, (s.id, positions(dep.sim, s.id))
            want = sorted((t, side, ps, trig, k * qty, cp, ro) for t, side, ps, trig, qty, cp, ro in stops)
            assert open_algos(dep, s.id) == want, (s.id, open_algos(dep, s.id))
            assert market_orders(dep, s.id) == sent.get(s.id, []), (s.id, market_orders(dep, s.id))
        return True

    eventually(check, timeout=20, interval=0.1, what=f"slaves at k x long {master_long} with k x {stops}")
    assert_no_corrections(dep, "mirroring stops")


def test_stop_loss_and_take_profit_placed_canceled_and_triggered(dep):
    ps, ro = ps_of(dep), not dep.hedge
    entry = {s.id: [("ct", "BUY", K[s.id] * D("1"))] for s in SLAVES}
    market(dep, "BUY", "1")
    expect(dep, D(1), [], entry)

    # A: a close-all stop-loss at 49000 and a take-profit of 0.4 at 51000: each slave has both
    sl = ("STOP_MARKET", "SELL", ps, D("49000"), D(0), True, True)
    algo(dep, "STOP_MARKET", "49000")
    tp = algo(dep, "TAKE_PROFIT_MARKET", "51000", "0.4")
    expect(dep, D(1), [sl, ("TAKE_PROFIT_MARKET", "SELL", ps, D("51000"), D("0.4"), False, ro)], entry)

    def reported() -> bool:  # each slave's status report lists its stops beside the master's
        for s in SLAVES:
            status = dep.collector.latest_status(s.id)
            rows = sorted((o.order_type, o.price, o.qty, o.master_qty, o.close_position) for m in status.markets for o in m.mirrored)
            assert rows == [
                ("STOP_MARKET", D("49000"), D(0), D(0), True),
                ("TAKE_PROFIT_MARKET", D("51000"), K[s.id] * D("0.4"), D("0.4"), False),
            ]
        return True

    eventually(reported, timeout=10, interval=0.2, what="the stops in each slave's status report")

    # B: the master cancels its take-profit (a move is a cancel and a new order): the copies follow
    signed(dep.sim, "master", "DELETE", "/fapi/v1/algoOrder", {"algoId": tp["algoId"]})
    expect(dep, D(1), [sl], entry)
    algo(dep, "TAKE_PROFIT_MARKET", "50500", "0.4")
    tp2 = ("TAKE_PROFIT_MARKET", "SELL", ps, D("50500"), D("0.4"), False, ro)
    expect(dep, D(1), [sl, tp2], entry)

    # C: the price reaches the take-profit: every account's own order closes 40%, no market order
    dep.sim.set_price("BTCUSDT", "50501", pause=True)
    expect(dep, D("0.6"), [sl], entry)

    # D: the price falls through the stop: every account is closed by its own stop
    dep.sim.set_price("BTCUSDT", "48999", pause=True)
    expect(dep, D(0), [], entry)


@pytest.mark.parametrize("dep", ["hedge"], indirect=True)
def test_stops_survive_a_resync_a_restart_keeps_one_and_a_slave_whose_stop_did_not_trigger_settles_at_market(dep):
    ps = ps_of(dep)
    entry = {s.id: [("ct", "BUY", K[s.id] * D("1"))] for s in SLAVES}
    market(dep, "BUY", "1")
    algo(dep, "STOP_MARKET", "49000")
    sl = ("STOP_MARKET", "SELL", ps, D("49000"), D(0), True, True)
    expect(dep, D(1), [sl], entry)

    # the master listener restarts (a new epoch): every slave resyncs and keeps its stop as it is
    before = {s.id: algo_ids(dep, s.id) for s in SLAVES}
    epochs = {r.master_epoch for r in dep.collector.of(Reconciled)}
    dep.kill("master-usdm")
    dep.start_master("usdm")

    def resynced() -> bool:
        return all(any(r.master_epoch not in epochs for r in dep.collector.of(Reconciled, slave_id=s.id)) for s in SLAVES)

    eventually(resynced, timeout=60, interval=0.2, what="every slave resynced with the restarted master")
    assert {s.id: algo_ids(dep, s.id) for s in SLAVES} == before  # the same orders: never without a stop
    expect(dep, D(1), [sl], entry)

    # slave02 restarts: its sync cancels the stop it had and places one again (never two)
    dep.kill("slave-slave02")
    dep.start_slave("slave02")
    eventually(lambda: algo_ids(dep, "slave02") not in ([], before["slave02"]), timeout=60, what="slave02's stop placed again")
    expect(dep, D(1), [sl], entry)
    assert len(algo_ids(dep, "slave02")) == 1

    # someone cancels slave01's stop behind the copier's back: when the master's stop triggers,
    # slave01 closes at market ("cs", the copy rule), slave02's own stop closes it
    signed(dep.sim, "slave01", "DELETE", "/fapi/v1/algoOpenOrders", {"symbol": "BTCUSDT"})
    dep.sim.set_price("BTCUSDT", "48999", pause=True)
    sent = {"slave01": entry["slave01"] + [("cs", "SELL", D("0.5"))], "slave02": entry["slave02"]}
    expect(dep, D(0), [], sent)


def trailing_rows(dep, account: str) -> list[tuple]:
    rows = signed(dep.sim, account, "GET", "/fapi/v1/openAlgoOrders", {"symbol": "BTCUSDT"})
    return sorted(
        (o["orderType"], o["side"], o["positionSide"], D(o["quantity"]), D(o["activatePrice"] or 0), D(o["callbackRate"])) for o in rows
    )


def test_a_trailing_stop_is_copied_with_its_activation_price_and_callback_rate_and_closes_every_account(dep):
    """ALGO_UPDATE carries neither price: the master reads the order (GET /fapi/v1/algoOrder) and
    publishes it with both; a slave restarted after the price passed the activation price places
    its copy without one (Binance refuses it with -2021), trailing from its placement."""
    ps = ps_of(dep)
    entry = {s.id: [("ct", "BUY", K[s.id] * D("1"))] for s in SLAVES}
    market(dep, "BUY", "1")
    expect(dep, D(1), [], entry)
    params = {"algoType": "CONDITIONAL", "symbol": "BTCUSDT", "side": "SELL", "type": "TRAILING_STOP_MARKET"}
    params |= {"quantity": "0.4", "activatePrice": "51000", "callbackRate": "1"}
    params |= {"positionSide": "LONG"} if dep.hedge else {"reduceOnly": "true"}
    signed(dep.sim, "master", "POST", "/fapi/v1/algoOrder", params)
    row = ("TRAILING_STOP_MARKET", "SELL", ps)

    def copied(activations: dict[str, Decimal]) -> bool:
        assert trailing_rows(dep, "master") == [(*row, D("0.4"), D("51000"), D("1"))]
        for s in SLAVES:
            assert trailing_rows(dep, s.id) == [(*row, K[s.id] * D("0.4"), activations[s.id], D("1"))], s.id
            assert market_orders(dep, s.id) == entry[s.id]
        return True

    eventually(lambda: copied({s.id: D("51000") for s in SLAVES}), timeout=20, interval=0.1, what="each slave's trailing stop")

    # the price passes the activation price (every trailing stop is active, highest 51500);
    # slave02 restarts: its copy is placed again, without an activation price (the price is past it)
    dep.sim.set_price("BTCUSDT", "51500", pause=True)
    dep.kill("slave-slave02")
    dep.start_slave("slave02")
    eventually(lambda: copied({"slave01": D("51000"), "slave02": D(0)}), timeout=60, interval=0.2, what="slave02's trailing stop again")

    # 1 % under the highest price: every account's own trailing stop sells 40 %, no market order
    dep.sim.set_price("BTCUSDT", "50980", pause=True)
    expect(dep, D("0.6"), [], entry)
