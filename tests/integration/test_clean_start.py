"""A clean start (issue 22, `on_start = "flatten"`): at its first start a follower cancels every
open order of its account (its own limit order and its own conditional order on the Algo Service
too) and closes every position it holds, joins none of the master's, then copies what the master
does next; restarted, it does neither again. Simulator, master listener and slave as real
processes; the account's orders and positions read at the exchange after every step."""

from __future__ import annotations

from decimal import Decimal

import pytest

from protocol.messages import DesyncDetected, SlaveConfig
from tests.helpers.deploy import Deployment, positions, signed
from tests.helpers.sim import TEST_CONFIG
from tests.helpers.wait import eventually
from tests.integration.test_usdm_faults import fresh_sim, master_order, prepare

pytestmark = pytest.mark.timeout(150)
D = Decimal


def open_orders(sim, account: str) -> list[dict]:
    return signed(sim, account, "GET", "/fapi/v1/openOrders") + signed(sim, account, "GET", "/fapi/v1/openAlgoOrders")


def test_a_clean_start_cancels_the_accounts_orders_closes_its_positions_and_is_done_once(tmp_path):
    slave = SlaveConfig(id="slave01", sizing="fixed_ratio", ratio=D("0.5"), on_start="flatten")
    with fresh_sim(TEST_CONFIG, tmp_path) as sim:
        prepare(sim, ["master", "slave01"], usdt="500000")
        master_order(sim, "BTCUSDT", "BUY", "0.1")  # the master's position before the follower starts
        signed(sim, "slave01", "POST", "/fapi/v1/order", {"symbol": "SOLUSDT", "side": "SELL", "type": "MARKET", "quantity": "4"})
        signed(sim, "slave01", "POST", "/fapi/v1/order", {"symbol": "ETHUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                                                          "quantity": "0.2", "price": "2000"})  # fmt: skip
        signed(sim, "slave01", "POST", "/fapi/v1/algoOrder", {"algoType": "CONDITIONAL", "symbol": "SOLUSDT", "side": "BUY",
                                                              "type": "STOP_MARKET", "quantity": "4", "triggerPrice": "200"})  # fmt: skip
        assert positions(sim, "slave01") == {("SOLUSDT", "BOTH"): D(-4)} and len(open_orders(sim, "slave01")) == 2

        dep = Deployment(tmp_path / "deploy", sim, [slave])
        dep.start_all()
        try:
            dep.wait_running(timeout=60)
            eventually(lambda: positions(sim, "slave01") == {} and open_orders(sim, "slave01") == [], timeout=20, what="a clean account")
            assert "clean start (on_start = flatten): 2 open orders canceled" in dep.log("slave-slave01")
            master_order(sim, "ETHUSDT", "BUY", "1")  # what the master does next is copied ...
            eventually(lambda: positions(sim, "slave01") == {("ETHUSDT", "BOTH"): D("0.5")}, timeout=20, what="the entry copied")
            master_order(sim, "BTCUSDT", "BUY", "0.1")  # ... but not an increase of what it held before
            sent = len(sim.orders("slave01", "futures"))

            starts = dep.log("slave-slave01").count("synced (start)")
            dep.kill("slave-slave01")
            dep.start_slave("slave01")
            eventually(lambda: dep.log("slave-slave01").count("synced (start)") > starts, timeout=30, what="restarted and synced")
            assert positions(sim, "slave01") == {("ETHUSDT", "BOTH"): D("0.5")}  # neither flattened nor joined
            assert len(sim.orders("slave01", "futures")) == sent
            assert dep.log("slave-slave01").count("clean start (on_start = flatten)") == 1
        finally:
            dep.stop()


def test_better_price_joins_the_masters_position_once_the_price_is_back_at_its_entry(tmp_path):
    # on_start = better_price: the master's long (entry 50000) is not joined at 50500 nor at 50200,
    # and is joined at k x its size once the mark price is at or under 50000; what the master does
    # next is copied as ever, and the join is no desync
    slave = SlaveConfig(id="slave01", sizing="fixed_ratio", ratio=D("0.5"), on_start="better_price")
    with fresh_sim(TEST_CONFIG, tmp_path) as sim:
        prepare(sim, ["master", "slave01"], usdt="500000")  # BTCUSDT at 50000
        master_order(sim, "BTCUSDT", "BUY", "0.1")
        sim.set_price("BTCUSDT", "50500", pause=True)
        dep = Deployment(tmp_path / "deploy", sim, [slave])
        dep.start_all()
        assert dep.collector is not None
        try:
            dep.wait_running(timeout=60)
            log = lambda: dep.log("slave-slave01")  # noqa: E731
            eventually(lambda: "BTCUSDT BOTH at 50500 waits for the master's entry 50000" in log(), timeout=20, what="waiting at 50500")
            sim.set_price("BTCUSDT", "50200", pause=True)
            eventually(lambda: "BTCUSDT BOTH at 50200 waits" in log(), timeout=20, what="still waiting at 50200")
            assert positions(sim, "slave01") == {} and sim.orders("slave01", "futures") == []
            dep.kill("slave-slave01")  # a restart keeps the waiting list (and neither joins nor starts over)
            waits = log().count("waits for the master's entry")
            dep.start_slave("slave01")
            eventually(lambda: log().count("waits for the master's entry") > waits, timeout=30, what="still waiting after a restart")
            assert log().count("on_start = better_price: 1 position(s) wait") == 1 and positions(sim, "slave01") == {}
            sim.set_price("BTCUSDT", "49900", pause=True)
            eventually(lambda: positions(sim, "slave01") == {("BTCUSDT", "BOTH"): D("0.05")}, timeout=20, what="joined at 49900")
            master_order(sim, "BTCUSDT", "BUY", "0.1")  # copied as any increase: k x 0.1
            eventually(lambda: positions(sim, "slave01") == {("BTCUSDT", "BOTH"): D("0.1")}, timeout=20, what="the increase copied")
            assert len(sim.orders("slave01", "futures")) == 2
            assert not dep.collector.of(DesyncDetected)
        finally:
            dep.stop()
