"""A slave's own liquidation and ADL on USD-M (issue 21 defect 1), against the simulator.

The exchange closes part of the slave's position by itself (the simulator's admin liquidation
sends what Binance sends: x CALCULATED, type LIQUIDATION, client id autoclose-... / adl_autoclose).
The slave tracks it, says so (journalled, notified), does not buy it back while the master's
position stays open (periodic checks run meanwhile), copies the master's later reductions from what
is left with reduce-only orders that all succeed, and copies normally once the master closed. A
restart in between keeps it so (the liquidated set is saved in the state dir)."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
import zmq

from protocol import codec
from protocol.messages import PositionSnapshot, Reconciled, SlaveConfig, SlaveError
from protocol.topics import master_prefix
from tests.helpers.deploy import Deployment, positions
from tests.helpers.sim import TEST_CONFIG
from tests.helpers.wait import eventually
from tests.integration.test_usdm_faults import fresh_sim, master_order, prepare

pytestmark = pytest.mark.timeout(150)
BTC = ("BTCUSDT", "BOTH")


@pytest.mark.parametrize("kind, code", [("liquidation", "liquidated"), ("adl", "adl")])
def test_a_liquidated_slave_is_not_bought_back_and_copies_from_what_is_left(tmp_path, kind, code):
    with fresh_sim(TEST_CONFIG, tmp_path) as sim:
        prepare(sim, ["master", "slave01"], usdt="500000")
        dep = Deployment(tmp_path / "deploy", sim, [SlaveConfig(id="slave01", sizing="fixed_ratio", ratio=Decimal("1"))])
        sub = zmq.Context.instance().socket(zmq.SUB)
        sub.setsockopt(zmq.SUBSCRIBE, master_prefix("usdm"))
        sub.connect(dep.ends.master_pub("usdm"))
        dep.start_all()
        try:
            dep.wait_running(timeout=60)
            master_order(sim, "BTCUSDT", "BUY", "0.2")
            eventually(lambda: positions(sim, "slave01") == {BTC: Decimal("0.2")}, timeout=20, what="the copy")

            sim.admin("POST", "/_sim/futures/liquidate", {"account": "slave01", "symbol": "BTCUSDT", "qty": "0.1", "kind": kind})
            assert positions(sim, "slave01") == {BTC: Decimal("0.1")}
            told = eventually(
                lambda: [e for e in dep.collector.of(SlaveError, slave_id="slave01") if e.code == code],
                timeout=20,
                what="the liquidation journalled and notified",
            )
            assert "BTCUSDT" in told[0].message
            periodic_after(sub, time.monotonic(), count=2)  # the master's periodic snapshots: checks ran
            assert positions(sim, "slave01") == {BTC: Decimal("0.1")}, "the liquidated part was bought back"
            dep.kill("slave-slave01")  # a restart: its first sync must not buy it back either
            dep.start_slave("slave01")
            eventually(lambda: len(dep.collector.of(Reconciled, slave_id="slave01")) >= 2, timeout=30, what="the restarted slave synced")
            periodic_after(sub, time.monotonic(), count=1)
            assert positions(sim, "slave01") == {BTC: Decimal("0.1")}, "bought back after a restart"

            master_order(sim, "BTCUSDT", "SELL", "0.1")  # the master halves: the slave halves what is left
            eventually(lambda: positions(sim, "slave01") == {BTC: Decimal("0.05")}, timeout=20, what="half of 0.1")
            master_order(sim, "BTCUSDT", "SELL", "0.1")  # the master closes: so does the slave
            eventually(lambda: positions(sim, "slave01") == {}, timeout=20, what="the slave closed")
            master_order(sim, "BTCUSDT", "BUY", "0.3")  # a new position: copied as usual
            eventually(lambda: positions(sim, "slave01") == {BTC: Decimal("0.3")}, timeout=20, what="copied again")

            ours = [o for o in sim.orders("slave01", "futures") if o["type"] != "LIQUIDATION"]
            assert all(not o["clientOrderId"].startswith("cr") for o in ours), "a corrective order was sent"
            assert [r for r in sim.admin("GET", "/_sim/requests?account=slave01") if r["errorCode"]] == []
        finally:
            sub.close(0)
            dep.stop()


def periodic_after(sub: zmq.Socket, since: float, count: int, timeout: float = 30.0) -> None:
    """Wait for `count` periodic snapshots published by the master after `since` (monotonic)."""
    deadline = time.monotonic() + timeout
    seen = 0
    while seen < count:
        left = deadline - time.monotonic()
        assert left > 0, f"only {seen} periodic snapshots within {timeout}s"
        if not sub.poll(int(left * 1000)):
            continue
        event = codec.unpack_master_event(sub.recv_multipart())
        if isinstance(event, PositionSnapshot) and event.reason == "periodic" and time.monotonic() >= since:
            seen += 1
