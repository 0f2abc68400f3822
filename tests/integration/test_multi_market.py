"""One slave process copying USD-M futures and spot at once (one MarketMirror per market).

The master trades both markets alternately, several orders in a row; each slave ends at k x the
master in both, with no corrective order (no periodic check runs within the test), every master
fill got exactly one decision, and within each market and symbol the slave handled the master's
fills in the master's order (increasing `seq`).
"""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest

from protocol.messages import OrderMirrored, SlaveConfig
from tests.helpers.corrections import assert_no_corrections
from tests.helpers.deploy import COPY_ONLY, Deployment, positions, signed, spot_holdings
from tests.helpers.sim import TEST_CONFIG, SimProcess
from tests.helpers.wait import eventually
from tests.integration.test_spot_mirror import one_decision_per_fill, prepare_spot

pytestmark = pytest.mark.timeout(120)

SLAVES = [
    SlaveConfig(id="slave01", markets=("usdm", "spot"), sizing="fixed_ratio", ratio=Decimal("0.5")),
    SlaveConfig(id="slave02", markets=("spot", "usdm"), sizing="fixed_ratio", ratio=Decimal("2")),
]
K = {s.id: s.ratio for s in SLAVES}


def test_spot_and_futures_fills_interleaved(tmp_path):
    with SimProcess(TEST_CONFIG) as sim:
        prepare_spot(sim, {"master": "100000", "slave01": "100000", "slave02": "300000"})
        for account in ("master", "slave01", "slave02"):
            sim.admin("POST", "/_sim/balances", {"account": account, "market": "futures", "asset": "USDT", "free": "400000"})
        dep = Deployment(tmp_path / "deploy", sim, SLAVES, markets=("usdm", "spot"), snapshot_interval_s=COPY_ONLY)
        dep.start_all()
        try:
            dep.wait_running(timeout=60)

            def futures(side: str, qty: str) -> None:
                signed(sim, "master", "POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": side, "type": "MARKET", "quantity": qty})

            def spot(side: str, qty: str, symbol: str = "BTCUSDT") -> None:
                signed(sim, "master", "POST", "/api/v3/order", {"symbol": symbol, "side": side, "type": "MARKET", "quantity": qty})

            # Two threads: the markets' events interleave at the slaves as they would live.
            steps_f = [("BUY", "0.1"), ("BUY", "0.2"), ("SELL", "0.1"), ("SELL", "0.4"), ("BUY", "0.3")]
            steps_s = [
                ("BUY", "0.2", "BTCUSDT"),
                ("BUY", "2", "ETHUSDT"),
                ("BUY", "0.1", "BTCUSDT"),
                ("SELL", "0.0999", "BTCUSDT"),
                ("SELL", "1", "ETHUSDT"),
            ]
            tf = threading.Thread(target=lambda: [futures(*s) for s in steps_f])
            ts = threading.Thread(target=lambda: [spot(*s) for s in steps_s])
            tf.start()
            ts.start()  # noqa: E702
            tf.join(30)
            ts.join(30)  # noqa: E702

            def converged():
                fm, sm = positions(sim, "master"), spot_holdings(sim, "master")
                assert fm == {("BTCUSDT", "BOTH"): Decimal("0.1")}, fm
                for sid, k in K.items():
                    fs, ss = positions(sim, sid), spot_holdings(sim, sid)
                    assert fs == {("BTCUSDT", "BOTH"): k * Decimal("0.1")}, (sid, fs)
                    for asset, _step in (("BTC", Decimal("0.00001")), ("ETH", Decimal("0.0001"))):
                        want, have = k * sm.get(asset, Decimal(0)), ss.get(asset, Decimal(0))
                        assert have == want, f"{sid} {asset}: have {have}, want {want}"
                return True

            eventually(converged, timeout=30, interval=0.2, what="both markets at k x the master")
            assert_no_corrections(dep, "copying two markets at once")
            one_decision_per_fill(dep, "spot")
            one_decision_per_fill(dep, "usdm")
            for s in SLAVES:
                for market in ("usdm", "spot"):
                    for symbol in ("BTCUSDT", "ETHUSDT"):
                        seqs = [
                            r.master_seq
                            for r in dep.collector.of(OrderMirrored, slave_id=s.id, market=market, symbol=symbol)
                            if r.master_seq
                        ]
                        assert seqs == sorted(seqs), f"{s.id} {market} {symbol} out of order: {seqs}"
                assert {r.market for r in dep.collector.of(OrderMirrored, slave_id=s.id)} == {"usdm", "spot"}
        finally:
            dep.stop()


def test_a_market_added_to_a_running_slave_is_copied_and_a_removed_one_stops(tmp_path):
    """Issue 21 defect 9: a config edit of `markets` used to do nothing until a restart."""
    import msgspec
    import zmq

    from protocol.codec import pack_control_event
    from protocol.messages import SlaveConfigChanged

    first = SlaveConfig(id="slave01", markets=("usdm",), sizing="fixed_ratio", ratio=Decimal("0.5"))
    with SimProcess(TEST_CONFIG) as sim:
        prepare_spot(sim, {"master": "100000", "slave01": "100000"})
        for account in ("master", "slave01"):
            sim.admin("POST", "/_sim/balances", {"account": account, "market": "futures", "asset": "USDT", "free": "400000"})
        dep = Deployment(tmp_path / "deploy", sim, [first], markets=("usdm", "spot"))
        pub = zmq.Context.instance().socket(zmq.PUB)
        pub.bind(dep.ends.config_pub)  # stands in for the control actor
        dep.start_all()
        try:
            dep.wait_running(timeout=60)

            def markets_now() -> set[str]:
                status = dep.collector.latest_status("slave01")
                return {m.market for m in status.markets} if status is not None else set()

            def publish(markets: tuple[str, ...], version: int):
                cfg = msgspec.structs.replace(first, markets=markets)
                return lambda: pub.send_multipart(pack_control_event(SlaveConfigChanged(slave_id="slave01", config=cfg, version=version)))

            assert markets_now() == {"usdm"}
            send = publish(("usdm", "spot"), 2)
            eventually(
                lambda: send() or markets_now() == {"usdm", "spot"},
                timeout=30,
                interval=0.3,
                what="the spot market started in the running slave",
            )
            signed(sim, "master", "POST", "/api/v3/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.2"})

            def copied(asset: str, step: str) -> bool:  # k x the master's holding (net of commission), within a step
                want = Decimal("0.5") * spot_holdings(sim, "master").get(asset, Decimal(0))
                return want > 0 and abs(spot_holdings(sim, "slave01").get(asset, Decimal(0)) - want) <= Decimal(step)

            eventually(lambda: copied("BTC", "0.00001"), timeout=30, what="the master's spot buy copied by the market added live")
            send = publish(("spot",), 3)
            eventually(lambda: send() or markets_now() == {"spot"}, timeout=30, interval=0.3, what="the usdm market stopped")
            signed(sim, "master", "POST", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.1"})
            signed(sim, "master", "POST", "/api/v3/order", {"symbol": "ETHUSDT", "side": "BUY", "type": "MARKET", "quantity": "2"})
            # the spot copy that came after the futures fill is the barrier: by then a running usdm
            # mirror would have copied the futures fill
            eventually(lambda: copied("ETH", "0.0001"), timeout=30, what="spot still copied")
            assert positions(sim, "slave01") == {}, "a removed market is not copied"
            assert dep.procs["slave-slave01"].poll() is None
        finally:
            pub.close(0)
            dep.stop()
