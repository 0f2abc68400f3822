"""tests/chaos/corrections.py: which injected fault explains a corrective order (pure parts)."""

from __future__ import annotations

from decimal import Decimal

from tests.chaos.corrections import EXPLAIN_WINDOW_S, Cause, compatible, fault_causes, order_fault_causes
from tests.chaos.faults import BAN_S, Fault
from tests.helpers.corrections import Correction


def corr(cause="periodic", slave="slave01", market="usdm", symbol="BTCUSDT"):
    return Correction(
        slave_id=slave,
        market=market,
        symbol=symbol,
        position_side="BOTH",
        side="BUY",
        qty=Decimal("0.01"),
        client_order_id="crX",
        cause=cause,
        accepted=True,
    )


def explained(c, causes, t):
    return [x.kind for x in causes if compatible(c.cause, x.kind) and x.hits(c, t)]


def test_a_start_sync_is_explained_only_by_a_kill_of_that_slave():
    causes = fault_causes(
        [Fault(at_s=20, kind="kill_slave", target="slave-slave01", t_wall=1000.0), Fault(at_s=30, kind="drop_user_data", t_wall=1010.0)]
    )
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
    rows = [
        {"fault": "timeout", "account": "slave02", "arrivalNs": 5_000_000_000, "params": {"symbol": "ETHUSDT"}},
        {"fault": None, "account": "slave01", "arrivalNs": 5_000_000_000, "params": {"symbol": "BTCUSDT"}},
    ]
    causes = order_fault_causes(rows, wall_minus_mono=4000.0)  # arrival at wall 4005
    assert explained(corr(slave="slave02", symbol="ETHUSDT"), causes, 4010.0) == ["order_timeout"]
    assert explained(corr(slave="slave02", symbol="BTCUSDT"), causes, 4010.0) == []
    assert explained(corr(slave="slave01"), causes, 4010.0) == []


def test_unreported_orders_need_a_dead_slave_or_control():
    causes = [Cause(kind="kill_control", t0=10.0, t1=10.0), Cause(kind="drop_user_data", t0=10.0, t1=10.0)]
    assert explained(corr("unreported"), causes, 12.0) == ["kill_control"]
    assert explained(corr("periodic"), causes, 12.0) == ["drop_user_data"]  # control's death moves no position


class FakeService:
    """What check_corrections reads: slaves, the journal file, the simulator's admin API."""

    def __init__(self, path, slaves, orders, requests):
        self.path, self.slaves, self._orders, self._requests = path, slaves, orders, requests

    def journal_path(self):
        return self.path

    def admin(self, method, path, body=None):
        if path.startswith("/_sim/requests"):
            return self._requests
        assert path.startswith("/_sim/orders?"), path
        query = dict(part.split("=") for part in path.split("?", 1)[1].split("&"))
        return self._orders.get((query["account"], query["market"]), [])


def test_check_corrections_end_to_end(tmp_path):
    import time as _time

    from actors.control.journal import JournalStore, record_for_report
    from protocol.messages import DesyncDetected, OrderMirrored, Reconciled, SlaveConfig
    from tests.chaos.corrections import check_corrections

    now_ms = int(_time.time() * 1000)

    def cr(slave, nonce, symbol="BTCUSDT"):
        from actors.domain.decisions import reconcile_client_order_id

        return OrderMirrored(
            slave_id=slave,
            market="usdm",
            symbol=symbol,
            position_side="BOTH",
            side="BUY",
            master_order_id=0,
            master_trade_id=0,
            qty=Decimal("0.01"),
            exchange_order_id=1,
            status="FILLED",
            t_order_sent_ns=1,
            t_order_acked_ns=2,
            client_order_id=reconcile_client_order_id(slave, "usdm", symbol, "BOTH", nonce, 0),
        )

    def synced(slave, epoch):
        return Reconciled(slave_id=slave, market="usdm", orders=1, t_ns=1, master_epoch=epoch, master_seq=epoch)

    reports = [  # (seconds after trading started, report)
        (-5, cr("slave01", "boot")),
        (-5, synced("slave01", 1)),  # deployment start
        (30, cr("slave02", "after-kill")),
        (30, synced("slave02", 1)),  # start after its kill at 25 s
        (40, cr("slave01", "p1")),
        (40, synced("slave01", 0)),  # periodic, nothing explains it
        (50, DesyncDetected(slave_id="slave03", market="usdm", cause="gap", t_ns=1)),
        (50, cr("slave03", "g", symbol="ETHUSDT")),
        (50, synced("slave03", 2)),  # an order fault on ETHUSDT at 45 s
    ]
    started = now_ms / 1000 - 100
    store = JournalStore(tmp_path / "journal.db")
    store.insert_many([record_for_report(r, ts_ms=int((started + t) * 1000)) for t, r in reports])
    store.close()
    unreported_cid = "crUNREPORTEDxxxxxxxxxxxxx"
    orders = {
        ("slave01", "futures"): [
            {
                "clientOrderId": unreported_cid,
                "symbol": "BTCUSDT",
                "side": "SELL",
                "origQty": "0.02",
                "status": "FILLED",
                "time": int((started + 60) * 1000),
            }
        ]
    }
    mono_offset = _time.time() - _time.monotonic()
    requests = [
        {"fault": "timeout", "account": "slave03", "params": {"symbol": "ETHUSDT"}, "arrivalNs": int((started + 45 - mono_offset) * 1e9)}
    ]
    svc = FakeService(tmp_path / "journal.db", [SlaveConfig(id=f"slave0{i}") for i in (1, 2, 3)], orders, requests)
    done = [Fault(at_s=25, kind="kill_slave", target="slave-slave02", t_wall=started + 25)]
    got = check_corrections(svc, done, started)
    assert got["corrections"] == 5
    assert got["by_cause"] == {"gap": 1, "periodic": 1, "start": 2, "unreported": 1}
    assert got["explained_by"] == {"deployment_start": 1, "kill_slave": 1, "order_timeout": 1}
    assert got["unexplained"] == 2
    assert sorted((d["slave"], d["cause"]) for d in got["details"]) == [("slave01", "periodic"), ("slave01", "unreported")]
