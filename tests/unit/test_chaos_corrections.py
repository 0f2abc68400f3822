"""tests/chaos/corrections.py: which injected fault explains a corrective order (pure parts)."""
from __future__ import annotations

from decimal import Decimal

from tests.chaos.corrections import EXPLAIN_WINDOW_S, Cause, compatible, fault_causes, order_fault_causes
from tests.chaos.faults import BAN_S, Fault
from tests.helpers.corrections import Correction


def corr(cause="periodic", slave="slave01", market="usdm", symbol="BTCUSDT"):
    return Correction(slave_id=slave, market=market, symbol=symbol, position_side="BOTH", side="BUY",
                      qty=Decimal("0.01"), client_order_id="crX", cause=cause, accepted=True)


def explained(c, causes, t):
    return [x.kind for x in causes if compatible(c.cause, x.kind) and x.hits(c, t)]


def test_a_start_sync_is_explained_only_by_a_kill_of_that_slave():
    causes = fault_causes([Fault(at_s=20, kind="kill_slave", target="slave-slave01", t_wall=1000.0),
                           Fault(at_s=30, kind="drop_user_data", t_wall=1010.0)])
    assert explained(corr("start"), causes, 1005.0) == ["kill_slave"]
    assert explained(corr("start", slave="slave02"), causes, 1015.0) == []  # the drop does not restart it
    assert explained(corr("start"), causes, 999.0) == []  # before the kill
    assert explained(corr("start"), causes, 1000.0 + EXPLAIN_WINDOW_S + 1) == []  # long after it


def test_a_master_restart_explains_restarts_of_its_market_only():
    causes = fault_causes([Fault(at_s=40, kind="kill_master", target="master-spot", t_wall=2000.0)])
    assert explained(corr("restart", market="spot"), causes, 2003.0) == ["kill_master"]
    assert explained(corr("restart", market="usdm"), causes, 2003.0) == []
    assert explained(corr("gap", market="spot"), causes, 2003.0) == ["kill_master"]


def test_a_ban_explains_that_slave_until_it_ends_plus_the_window():
    causes = fault_causes([Fault(at_s=50, kind="ban_418", target="slave03", t_wall=3000.0)])
    assert explained(corr(slave="slave03"), causes, 3000.0 + BAN_S + EXPLAIN_WINDOW_S - 1) == ["ban_418"]
    assert explained(corr(slave="slave01"), causes, 3010.0) == []


def test_an_order_fault_explains_that_slave_and_symbol_only():
    rows = [{"fault": "timeout", "account": "slave02", "arrivalNs": 5_000_000_000, "params": {"symbol": "ETHUSDT"}},
            {"fault": None, "account": "slave01", "arrivalNs": 5_000_000_000, "params": {"symbol": "BTCUSDT"}}]
    causes = order_fault_causes(rows, wall_minus_mono=4000.0)  # arrival at wall 4005
    assert explained(corr(slave="slave02", symbol="ETHUSDT"), causes, 4010.0) == ["order_timeout"]
    assert explained(corr(slave="slave02", symbol="BTCUSDT"), causes, 4010.0) == []
    assert explained(corr(slave="slave01"), causes, 4010.0) == []


def test_unreported_orders_need_a_dead_slave_or_control():
    causes = [Cause(kind="kill_control", t0=10.0, t1=10.0), Cause(kind="drop_user_data", t0=10.0, t1=10.0)]
    assert explained(corr("unreported"), causes, 12.0) == ["kill_control"]
    assert explained(corr("periodic"), causes, 12.0) == ["drop_user_data"]  # control's death moves no position
