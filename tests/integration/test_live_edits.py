"""Control commands and live config edits reaching a running slave (issue 21 defects 4 and 5).

The test stands in for the control actor: it binds the control PUB endpoint and publishes the
events control would (FlattenCommand, SlaveConfigChanged)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec
import pytest
import zmq

from protocol.codec import pack_control_event
from protocol.messages import FlattenCommand, MirrorSkipped, SlaveConfig, SlaveConfigChanged, SlaveError
from tests.helpers.corrections import assert_no_corrections
from tests.helpers.deploy import Deployment, positions, signed, signed_get
from tests.helpers.sim import TEST_CONFIG
from tests.helpers.wait import eventually
from tests.integration.test_usdm_faults import PRICES, fresh_sim, master_order, prepare

pytestmark = pytest.mark.timeout(150)


def _deployment(tmp_path: Any, sim: Any, slave: SlaveConfig) -> tuple[Deployment, zmq.Socket]:
    prepare(sim, ["master", slave.id], usdt="500000")
    dep = Deployment(tmp_path / "deploy", sim, [slave])
    pub = zmq.Context.instance().socket(zmq.PUB)
    pub.bind(dep.ends.config_pub)  # stands in for the control actor
    dep.start_all()
    dep.wait_running(timeout=60)
    return dep, pub


def _sender(pub: zmq.Socket, event: Any) -> Callable[[], None]:
    return lambda: pub.send_multipart(pack_control_event(event))


def _at(sim: Any) -> Callable[[dict], None]:
    """Wait until slave01 holds exactly `want` at the exchange."""
    return lambda want: eventually(lambda: positions(sim, "slave01") == want, timeout=20, what=f"slave01 at {want}")


def _leverage(sim: Any, account: str, symbol: str) -> int:
    return next(int(p["leverage"]) for p in signed_get(sim, account, "/fapi/v2/positionRisk") if p["symbol"] == symbol)


def test_flatten_closes_denied_and_not_allowed_symbols_too(tmp_path):
    slave = SlaveConfig(id="slave01", sizing="fixed_ratio", ratio=Decimal("1"), symbols_deny=("ETHUSDT",))
    with fresh_sim(TEST_CONFIG, tmp_path) as sim:
        dep, pub = _deployment(tmp_path, sim, slave)
        try:
            master_order(sim, "BTCUSDT", "BUY", "0.1")
            eventually(lambda: positions(sim, "slave01").get(("BTCUSDT", "BOTH")) == Decimal("0.1"), timeout=20)
            # the slave's own ETH position (the symbol it does not copy)
            signed(sim, "slave01", "POST", "/fapi/v1/order", {"symbol": "ETHUSDT", "side": "SELL", "type": "MARKET", "quantity": "2"})
            assert positions(sim, "slave01") == {("BTCUSDT", "BOTH"): Decimal("0.1"), ("ETHUSDT", "BOTH"): Decimal("-2")}
            send = _sender(pub, FlattenCommand(request_id=9, slave_id="slave01", market="usdm"))
            eventually(
                lambda: send() or positions(sim, "slave01") == {},
                timeout=30,
                interval=0.5,
                what="every position closed, the denied one too",
            )
            flattening = [o for o in sim.orders("slave01", "futures") if o["clientOrderId"].startswith("cr")]
            assert sorted(o["symbol"] for o in flattening) == ["BTCUSDT", "ETHUSDT"]
        finally:
            pub.close(0)
            dep.stop()


def test_a_lowered_max_leverage_applies_to_the_open_position_and_later_opens(tmp_path):
    slave = SlaveConfig(id="slave01", sizing="fixed_ratio", ratio=Decimal("1"), max_leverage=20)
    with fresh_sim(TEST_CONFIG, tmp_path) as sim:
        dep, pub = _deployment(tmp_path, sim, slave)
        try:
            for symbol in ("BTCUSDT", "ETHUSDT"):
                signed(sim, "master", "POST", "/fapi/v1/leverage", {"symbol": symbol, "leverage": 20})
            master_order(sim, "BTCUSDT", "BUY", "0.1")
            master_order(sim, "ETHUSDT", "BUY", "1")
            master_order(sim, "ETHUSDT", "SELL", "1")  # ETH opened (aligned at 20) and closed
            eventually(lambda: positions(sim, "slave01") == {("BTCUSDT", "BOTH"): Decimal("0.1")}, timeout=20)
            assert (_leverage(sim, "slave01", "BTCUSDT"), _leverage(sim, "slave01", "ETHUSDT")) == (20, 20)

            lowered = msgspec.structs.replace(slave, max_leverage=5)
            send = _sender(pub, SlaveConfigChanged(slave_id="slave01", config=lowered, version=2))
            eventually(
                lambda: send() or _leverage(sim, "slave01", "BTCUSDT") == 5,
                timeout=30,
                interval=0.5,
                what="the open BTC position's leverage lowered to the new cap at once",
            )
            assert _leverage(sim, "slave01", "ETHUSDT") == 20  # nothing held there: set at its next opening
            master_order(sim, "ETHUSDT", "BUY", "1")
            eventually(lambda: positions(sim, "slave01").get(("ETHUSDT", "BOTH")) == Decimal("1"), timeout=20)
            assert _leverage(sim, "slave01", "ETHUSDT") == 5
        finally:
            pub.close(0)
            dep.stop()


def test_the_close_only_guard_set_live_skips_entries_copies_exits_tells_once_and_is_lifted(tmp_path):
    # issue 22: the guard acts at once when set (not before), is journalled (each skip with its
    # reason) and told once, never blocks a reduction or a close, and is lifted by setting it back
    slave = SlaveConfig(id="slave01", sizing="fixed_ratio", ratio=Decimal("1"))
    with fresh_sim(TEST_CONFIG, tmp_path) as sim:
        dep, pub = _deployment(tmp_path, sim, slave)
        assert dep.collector is not None
        try:
            at = _at(sim)

            def set_guard(on: bool, version: int) -> None:
                config = msgspec.structs.replace(slave, close_only=on)
                line = f"close-only guard {'set' if on else 'lifted'}"
                send = _sender(pub, SlaveConfigChanged(slave_id="slave01", config=config, version=version))
                eventually(lambda: send() or line in dep.log("slave-slave01"), timeout=20, interval=0.3, what=line)

            master_order(sim, "BTCUSDT", "BUY", "0.2")
            at({("BTCUSDT", "BOTH"): Decimal("0.2")})  # before the guard: copied
            set_guard(True, 1)
            master_order(sim, "BTCUSDT", "BUY", "0.2")  # an increase: skipped
            master_order(sim, "ETHUSDT", "BUY", "1")  # an entry: skipped
            eventually(
                lambda: [s.reason for s in dep.collector.of(MirrorSkipped) if s.reason == "close_only"] == ["close_only"] * 2,
                timeout=20,
                what="two skips with reason close_only",
            )
            assert positions(sim, "slave01") == {("BTCUSDT", "BOTH"): Decimal("0.2")}
            master_order(sim, "BTCUSDT", "SELL", "0.2")  # the master sells half of its 0.4: the slave half of its 0.2
            at({("BTCUSDT", "BOTH"): Decimal("0.1")})
            master_order(sim, "BTCUSDT", "SELL", "0.2")  # closed: the slave too
            at({})
            told = [e.code for e in dep.collector.of(SlaveError) if e.code.startswith("guard_")]
            assert told == ["guard_close_only"]  # once

            set_guard(False, 2)
            master_order(sim, "BTCUSDT", "BUY", "0.3")  # lifted: the next entry is copied
            at({("BTCUSDT", "BOTH"): Decimal("0.3")})
            assert_no_corrections(dep, "the close-only guard")
        finally:
            pub.close(0)
            dep.stop()


def test_the_max_open_positions_guard_skips_the_entry_past_the_max_not_before_and_a_close_makes_room(tmp_path):
    # issue 22: at the threshold and not before; journalled and told once per time it is full;
    # never blocks an increase, a reduction or a close; lifted by itself when a position closes
    slave = SlaveConfig(id="slave01", sizing="fixed_ratio", ratio=Decimal("1"))
    with fresh_sim(TEST_CONFIG, tmp_path) as sim:
        dep, pub = _deployment(tmp_path, sim, slave)
        assert dep.collector is not None
        try:
            at = _at(sim)
            master_order(sim, "BTCUSDT", "BUY", "0.1")
            at({("BTCUSDT", "BOTH"): Decimal("0.1")})
            config = msgspec.structs.replace(slave, max_open_positions=2)
            send = _sender(pub, SlaveConfigChanged(slave_id="slave01", config=config, version=1))
            eventually(lambda: send() or "max open positions guard: 2" in dep.log("slave-slave01"), timeout=20, interval=0.3)
            master_order(sim, "ETHUSDT", "BUY", "1")  # the second position: at the max, copied
            at({("BTCUSDT", "BOTH"): Decimal("0.1"), ("ETHUSDT", "BOTH"): Decimal("1")})
            master_order(sim, "SOLUSDT", "BUY", "10")  # the third: skipped
            master_order(sim, "BTCUSDT", "BUY", "0.1")  # an increase of an open one: copied
            at({("BTCUSDT", "BOTH"): Decimal("0.2"), ("ETHUSDT", "BOTH"): Decimal("1")})
            assert [s.symbol for s in dep.collector.of(MirrorSkipped) if s.reason == "max_positions"] == ["SOLUSDT"]
            master_order(sim, "ETHUSDT", "SELL", "1")  # a close: room again
            at({("BTCUSDT", "BOTH"): Decimal("0.2")})
            master_order(sim, "SOLUSDT", "BUY", "10")  # the master's SOL increase now opens the slave's (k x 10)
            at({("BTCUSDT", "BOTH"): Decimal("0.2"), ("SOLUSDT", "BOTH"): Decimal("10")})
            told = [e.code for e in dep.collector.of(SlaveError) if e.code.startswith("guard_")]
            assert told == ["guard_max_positions"]
            assert_no_corrections(dep, "the max open positions guard")
        finally:
            pub.close(0)
            dep.stop()


def test_the_equity_stop_acts_under_its_floor_refuses_entries_copies_exits_flattens_and_is_lifted(tmp_path):
    # issue 22: the slave holds about 500,000 USDT. A floor under it does nothing; one above it acts
    # within the second (journalled skips, told once); reductions are copied; set again with
    # on_stop = "flatten" it closes the slave's positions and opens none again; lifted, the next
    # entry is copied
    slave = SlaveConfig(id="slave01", sizing="fixed_ratio", ratio=Decimal("1"))
    with fresh_sim(TEST_CONFIG, tmp_path) as sim:
        dep, pub = _deployment(tmp_path, sim, slave)
        assert dep.collector is not None
        try:
            at = _at(sim)

            def edit(version: int, line: str, **changes: Any) -> None:
                send = _sender(
                    pub, SlaveConfigChanged(slave_id="slave01", config=msgspec.structs.replace(slave, **changes), version=version)
                )
                eventually(lambda: send() or line in dep.log("slave-slave01"), timeout=20, interval=0.3, what=line)

            def skipped() -> list[str]:
                return [s.symbol for s in dep.collector.of(MirrorSkipped) if s.reason == "equity_stop"]

            master_order(sim, "BTCUSDT", "BUY", "0.2")
            at({("BTCUSDT", "BOTH"): Decimal("0.2")})
            edit(1, "equity stop set (floor=400000", equity_floor=Decimal("400000"))
            master_order(sim, "ETHUSDT", "BUY", "1")  # the floor is under the equity: copied
            at({("BTCUSDT", "BOTH"): Decimal("0.2"), ("ETHUSDT", "BOTH"): Decimal("1")})
            edit(2, "equity stop acted: equity", equity_floor=Decimal("900000"))
            master_order(sim, "BTCUSDT", "BUY", "0.2")  # an increase: skipped
            master_order(sim, "SOLUSDT", "BUY", "10")  # an entry: skipped
            eventually(lambda: skipped() == ["BTCUSDT", "SOLUSDT"], timeout=20, what="two skips with reason equity_stop")
            master_order(sim, "BTCUSDT", "SELL", "0.2")  # half of the master's 0.4: half of the slave's 0.2
            at({("BTCUSDT", "BOTH"): Decimal("0.1"), ("ETHUSDT", "BOTH"): Decimal("1")})
            told = [e.code for e in dep.collector.of(SlaveError) if e.code.startswith("guard_")]
            assert told == ["guard_equity_stop"]  # once
            assert_no_corrections(dep, "the equity stop (pause)")

            edit(3, "equity stop set (floor=900001", equity_floor=Decimal("900001"), on_stop="flatten")  # changed: lifted, acts again
            at({})  # flattened
            told = [e.code for e in dep.collector.of(SlaveError) if e.code.startswith("guard_")]
            assert told == ["guard_equity_stop"] * 2
            master_order(sim, "ETHUSDT", "SELL", "0.5")  # a reduction: nothing left to reduce, nothing opened
            edit(4, "equity stop off", equity_floor=None)  # lifted
            master_order(sim, "XRPUSDT", "BUY", "100")  # the master's next entry: copied; what it held before is not joined
            at({("XRPUSDT", "BOTH"): Decimal("100")})
        finally:
            pub.close(0)
            dep.stop()


def test_the_slippage_guard_set_live_sends_entries_as_ioc_limits_journals_a_miss_never_chases_and_exits_at_market(tmp_path):
    # issue 22: the guard set live; an entry within the tolerance fills as an IOC LIMIT; one the
    # price ran away from (the order held 1 s on its way while the price moved 0.8 %) expires,
    # journalled "slippage" and told once, and no check buys it at market; the exit is a MARKET order
    slave = SlaveConfig(id="slave01", sizing="fixed_ratio", ratio=Decimal("0.5"))
    with fresh_sim(TEST_CONFIG, tmp_path) as sim:
        dep, pub = _deployment(tmp_path, sim, slave)
        assert dep.collector is not None
        try:
            at = _at(sim)
            config = msgspec.structs.replace(slave, max_slippage_pct=Decimal("0.5"))
            send = _sender(pub, SlaveConfigChanged(slave_id="slave01", config=config, version=1))
            eventually(lambda: send() or "entry slippage guard: 0.5" in dep.log("slave-slave01"), timeout=20, interval=0.3)
            master_order(sim, "BTCUSDT", "BUY", "0.1")
            at({("BTCUSDT", "BOTH"): Decimal("0.05")})
            (entry,) = [o for o in sim.orders("slave01", "futures") if o["side"] == "BUY"]
            assert (entry["type"], entry["timeInForce"], entry["status"]) == ("LIMIT", "IOC", "FILLED"), entry

            sim.admin("POST", "/_sim/faults/latency", {"transport": "wsapi", "seconds": 1.0})
            master_order(sim, "BTCUSDT", "BUY", "0.1")  # at the old price ...
            sim.set_price("BTCUSDT", str(Decimal(PRICES["BTCUSDT"]) * Decimal("1.008")), pause=True)  # ... which then runs away
            eventually(lambda: [s.reason for s in dep.collector.of(MirrorSkipped)] == ["slippage"], timeout=20, what="the miss journalled")
            sim.admin("POST", "/_sim/faults/clear", {})
            missed = [o for o in sim.orders("slave01", "futures") if o["side"] == "BUY"][-1]
            assert (missed["type"], missed["status"], Decimal(missed["executedQty"])) == ("LIMIT", "EXPIRED", 0), missed
            assert positions(sim, "slave01") == {("BTCUSDT", "BOTH"): Decimal("0.05")}
            master_order(sim, "BTCUSDT", "SELL", "0.2")  # the close: at market, whatever the price did
            at({})
            close = [o for o in sim.orders("slave01", "futures") if o["side"] == "SELL"][-1]
            assert close["type"] == "MARKET", close
            told = [e.code for e in dep.collector.of(SlaveError) if e.code.startswith("guard_")]
            assert told == ["guard_slippage"]
            assert_no_corrections(dep, "the slippage guard")  # the missed entry was never bought at market
        finally:
            pub.close(0)
            dep.stop()
