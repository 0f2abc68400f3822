"""The slave's copies of the master's stops (actors/slave/protective.py) on an in-memory account:
each fill of a triggered master stop copied once (by the slave's own stop, or settled at market
when its own did not trigger), never settled twice, released to a resync's corrections, kept on
record when a cancel has no definite answer, and no stop that opens a position while paused.
Every market order the slave sends is counted."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from actors.binance.errors import Rejected, StatusUnknown
from actors.domain.protective import GuardIntent
from actors.slave.accounts.execution import Executed
from protocol.messages import ConditionalOrder, MasterAlgoOrder, MirrorSkipped, OrderFailed, SlaveConfig
from tests.helpers.mirror import EPOCH, Harness, SimAccount, run_sync

D = Decimal
CONFIG = SlaveConfig(id="s1", sizing="fixed_ratio", ratio=D("0.5"), orders="mirror")


class GuardAccount(SimAccount):
    """SimAccount with the Algo Service: stops rest until `trigger` closes what they close."""

    def __init__(self, filters: Any) -> None:
        super().__init__(filters)
        self.algos: dict[str, GuardIntent] = {}
        self.algo_status: dict[str, str] = {}
        self.cancel_fails = False

    async def place_algo(self, intent: GuardIntent) -> Executed:
        self.algos[intent.client_algo_id] = intent
        self.algo_status[intent.client_algo_id] = "NEW"
        return Executed(result={"algoId": len(self.algos), "algoStatus": "NEW"}, sends=1, recovered=False)

    async def cancel_algo(self, cid: str) -> str:
        if self.cancel_fails:
            raise StatusUnknown(0, -1007, "Timeout waiting for response from backend server.")
        if self.algos.pop(cid, None) is not None:
            self.algo_status[cid] = "CANCELED"
        return self.algo_status.get(cid, "UNKNOWN")

    async def algo_state(self, cid: str) -> str:
        return self.algo_status.get(cid, "UNKNOWN")

    async def cancel_triggered(self, symbol: str, cid: str) -> str:
        return self.algo_status.get(cid, "UNKNOWN")

    def trigger(self, order_type: str | None = None) -> None:
        """The price reached the stops (of `order_type`, or all): each closes what it closes."""
        for cid, g in list(self.algos.items()):
            if order_type is not None and g.order_type != order_type:
                continue
            held = abs(self.positions.get((g.symbol, g.position_side), D(0)))
            self.move(g.symbol, g.position_side, g.side, held if g.close_position else g.qty, reduce_only=True)
            del self.algos[cid]
            self.algo_status[cid] = "FINISHED"


def harness(config: SlaveConfig = CONFIG) -> tuple[Harness, GuardAccount]:
    h = Harness(config)
    acct = GuardAccount(h.account.filters)
    h.account = h.mirror.account = acct
    return h, acct


STOP = ConditionalOrder(
    symbol="BTCUSDT",
    position_side="BOTH",
    side="SELL",
    algo_id=77,
    client_algo_id="web_sl",
    order_type="STOP_MARKET",
    trigger_price=D("49000"),
    close_position=True,
    position_at_place=D("1"),
)


def algo_event(h: Harness, action: str, order: ConditionalOrder = STOP, position: str = "1") -> list[Any]:
    h.seq += 1
    event = MasterAlgoOrder(
        market="usdm",
        epoch=EPOCH,
        seq=h.seq,
        action=action,  # type: ignore[arg-type]
        order=order,
        position=D(position),
        equity=D("10000"),
        t_exchange_ms=1,
        t_master_recv_ns=1,
        t_master_pub_ns=1,
    )
    start = len(h.account.sent)
    h.mirror.tracker.feed(EPOCH, h.seq)
    run_sync(h.mirror._mirror_algo(event, 1))
    return h.account.sent[start:]


def stop_fill(h: Harness, actual: int = 900) -> list[Any]:
    fill = msgspec.structs.replace(h.make_fill("BTCUSDT", "0", price="48999"), order_id=actual, status="FILLED", order_type="MARKET")
    return h.apply(fill)


def opened() -> tuple[Harness, GuardAccount]:
    h, acct = harness()
    assert [i.qty for i in h.fill("BTCUSDT", "1")] == [D("0.5")]
    assert algo_event(h, "placed") == []
    assert list(acct.algos.values())[0].close_position
    return h, acct


def test_the_slaves_own_stop_closes_it_and_nothing_is_sent_or_settled_twice() -> None:
    h, acct = opened()
    acct.trigger()  # ours triggers on the same price, before the master's events arrive
    triggered = msgspec.structs.replace(STOP, actual_order_id=900)
    assert algo_event(h, "triggered", triggered) == []
    assert stop_fill(h) == []  # the master's fill: not copied, nothing to settle
    assert algo_event(h, "finished", triggered, position="0") == []  # and no second settle
    assert h.position("BTCUSDT") == 0 and h.corrections() == []
    assert h.mirror.guards == {} and h.mirror.guard_keys() == set()


def test_a_finished_take_profit_is_not_settled_again_after_our_stop_loss_closed_us() -> None:
    """Seen in the scenario test (session 10): the take-profit was settled at its FILLED fill and
    again at its "finished"; our own stop-loss had closed the position in between, so the second
    settle bought back the old target (cs BUY 0.3) and the stop-loss's fill sold it (cs SELL 0.3)."""
    h, acct = opened()
    tp = msgspec.structs.replace(
        STOP,
        algo_id=79,
        order_type="TAKE_PROFIT_MARKET",
        trigger_price=D("51000"),
        close_position=False,
        quantity=D("0.4"),
        reduce_only=True,
    )
    algo_event(h, "placed", tp)
    assert sorted((g.order_type, g.qty) for g in acct.algos.values()) == [("STOP_MARKET", D(0)), ("TAKE_PROFIT_MARKET", D("0.2"))]
    acct.trigger("TAKE_PROFIT_MARKET")
    tp_hit = msgspec.structs.replace(tp, actual_order_id=901)
    algo_event(h, "triggered", tp_hit)
    fill = msgspec.structs.replace(h.make_fill("BTCUSDT", "0.6", price="51001"), order_id=901, status="FILLED", order_type="MARKET")
    assert h.apply(fill) == [] and h.position("BTCUSDT") == D("0.3")
    acct.trigger("STOP_MARKET")  # the price falls through the stop-loss before "finished" is handled
    assert algo_event(h, "finished", tp_hit, position="0.6") == []
    sl_hit = msgspec.structs.replace(STOP, actual_order_id=902)
    algo_event(h, "triggered", sl_hit)
    assert stop_fill(h, 902) == [] and algo_event(h, "finished", sl_hit, position="0") == []
    assert h.position("BTCUSDT") == 0 and h.corrections() == []


def test_a_stop_of_ours_that_did_not_trigger_is_canceled_and_settled_once_at_market() -> None:
    h, acct = opened()
    triggered = msgspec.structs.replace(STOP, actual_order_id=900)
    algo_event(h, "triggered", triggered)
    sent = stop_fill(h)
    assert [(i.side, i.qty, i.client_order_id[:2]) for i in sent] == [("SELL", D("0.5"), "cs")]
    assert acct.algos == {}  # ours canceled before the market order
    assert algo_event(h, "finished", triggered, position="0") == []
    assert h.position("BTCUSDT") == 0 and h.corrections() == []


def test_a_resync_releases_a_triggered_stop_to_its_corrections() -> None:
    h, acct = opened()
    algo_event(h, "triggered", msgspec.structs.replace(STOP, actual_order_id=900))
    assert h.mirror.guard_keys() == {("BTCUSDT", "BOTH")}  # not corrected while the stop settles
    h.master.clear()  # the master's fill is lost (a gap): the resync's snapshot holds it
    run_sync(h.mirror.release_triggered())
    assert h.mirror.guard_keys() == set() and acct.algos == {}
    assert [(i.side, i.qty) for i in h.correct()] == [("SELL", D("0.5"))]


def test_a_cancel_without_a_definite_answer_stays_on_record_for_the_next_sync() -> None:
    h, acct = opened()
    (cid,) = acct.algos
    acct.cancel_fails = True
    algo_event(h, "canceled")
    assert h.mirror.guards == {}
    assert h.mirror.guard_cids(saved=True) == [("BTCUSDT", cid)]
    acct.cancel_fails = False
    run_sync(h.mirror._cancel_copies())
    assert acct.algos == {} and h.mirror.guard_cids(saved=True) == []


def test_paused_a_stop_that_would_open_is_not_copied_a_close_all_is() -> None:
    h, acct = harness(msgspec.structs.replace(CONFIG, paused=True))
    entry = msgspec.structs.replace(STOP, algo_id=78, side="BUY", close_position=False, quantity=D("0.2"), position_at_place=D("0"))
    algo_event(h, "placed", entry)
    assert acct.algos == {} and h.mirror.guards[78].intent is None
    algo_event(h, "placed")
    assert len(acct.algos) == 1 and h.mirror.guards[77].intent is not None


def test_a_stop_copy_refused_because_the_price_passed_its_trigger_is_journalled_not_paged() -> None:
    h, acct = harness()
    h.fill("BTCUSDT", "1")
    errors: list[Any] = []
    h.slave.notify_error = lambda *a: errors.append(a)

    async def passed(intent: GuardIntent) -> Executed:
        raise Rejected(400, -2021, "Order would immediately trigger.")

    acct.place_algo = passed  # type: ignore[method-assign]
    assert algo_event(h, "placed") == []
    guard = h.mirror.guards[STOP.algo_id]
    assert guard.intent is None and "passed its trigger" in guard.why
    (skipped,) = [r for r in h.reports if isinstance(r, (MirrorSkipped, OrderFailed)) and r.master_order_id == STOP.algo_id]
    assert isinstance(skipped, MirrorSkipped) and skipped.reason == "exchange_rejected" and errors == []
    assert [i.qty for i in stop_fill(h)] == [D("0.5")]  # not mirrored: the master's stop's fill is copied as a fill

    async def refused(intent: GuardIntent) -> Executed:
        raise Rejected(400, -4045, "Reach max stop order limit.")

    acct.place_algo = refused  # type: ignore[method-assign]
    h.fill("BTCUSDT", "1")
    algo_event(h, "placed", msgspec.structs.replace(STOP, algo_id=78))
    assert [r.error_code for r in h.reports if isinstance(r, OrderFailed)] == [-4045] and [e[0] for e in errors] == ["stop_not_copied"]


def test_a_stop_whose_cancel_got_no_answer_is_canceled_again_at_the_next_periodic_check() -> None:
    h, acct = opened()
    acct.cancel_fails = True
    algo_event(h, "canceled")  # the master canceled its stop; ours did not answer
    (cid,) = acct.algos
    assert h.mirror.guard_leftovers == {("BTCUSDT", cid)}
    acct.cancel_fails = False
    run_sync(h.mirror._periodic_check(h.snapshot(), h.mirror.fills_received))  # no resync needed
    assert acct.algos == {} and acct.algo_status[cid] == "CANCELED" and h.mirror.guard_leftovers == set()
