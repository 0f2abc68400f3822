"""The master's conditional orders (actors/master/conditional.py) through the USD-M adapter's
`handle`: what each ALGO_UPDATE publishes, in Binance's shape ("Event: Algo Order Update": X NEW /
CANCELED / TRIGGERING / TRIGGERED / FINISHED / REJECTED / EXPIRED, `ai` the order once triggered),
and that the fills of a triggered stop always reach the slaves after its "triggered" event."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from actors.binance.wire import BinanceAlgoOrder, BinanceAlgoUpdate, convert
from actors.master.outputs import AlgoOrder, Fill, Lookup, Order
from actors.master.usdm import UsdmAdapter, UsdmRest
from tests.unit.test_master_resting import adapter as resting_adapter, event as order_event
from tests.unit.test_master_state_futures import account, risk

D = Decimal


def algo(status: str, *, aid: int = 2148719, ai: str = "", **over: Any) -> Any:
    o: dict[str, Any] = {
        "caid": "web_sl1",
        "aid": aid,
        "at": "CONDITIONAL",
        "o": "STOP_MARKET",
        "s": "BTCUSDT",
        "S": "SELL",
        "ps": "BOTH",
        "f": "GTC",
        "q": "0",
        "X": status,
        "ai": ai,
        "ap": "0",
        "aq": "0",
        "act": "0",
        "tp": "58000",
        "p": "0",
        "V": "EXPIRE_MAKER",
        "wt": "MARK_PRICE",
        "pm": "NONE",
        "cp": True,
        "pP": False,
        "R": False,
        "tt": 0,
        "gtd": 0,
        "rm": "",
    }
    o.update(over)
    return convert({"e": "ALGO_UPDATE", "T": 2000, "E": 2001, "o": o}, BinanceAlgoUpdate)


def only_algo(outputs: list[Any]) -> AlgoOrder:
    assert len(outputs) == 1 and isinstance(outputs[0], AlgoOrder), outputs
    return outputs[0]


def trigger_fill(**over: Any) -> Any:
    fields: dict[str, Any] = {"i": 8001, "c": "web_sl1", "o": "MARKET", "ot": "STOP_MARKET", "S": "SELL", "q": "0.5", "T": 3000}
    fields.update(over)
    return order_event("TRADE", "FILLED", qty=fields.pop("q"), price="57990", filled="0.5", last="0.5", **fields)


def test_a_close_all_stop_placed_triggered_filled_and_finished() -> None:
    a = resting_adapter(position="0.5")
    placed = only_algo(a.handle(algo("NEW"), 1))
    assert placed.action == "placed"
    o = placed.order
    assert (o.algo_id, o.order_type, o.trigger_price, o.close_position, o.working_type) == (
        2148719,
        "STOP_MARKET",
        D("58000"),
        True,
        "MARK_PRICE",
    )
    assert o.position_at_place == D("0.5") and placed.fields["position"] == D("0.5")
    assert a.snapshot_fields()["open_algo_orders"] == (o,)

    assert a.handle(algo("TRIGGERING"), 2) == []
    triggered = only_algo(a.handle(algo("TRIGGERED", ai="8001"), 3))
    assert triggered.action == "triggered" and triggered.order.actual_order_id == 8001
    assert a.snapshot_fields()["open_algo_orders"] == ()  # a triggered stop is not an open one

    # the order it became: its NEW is not a resting order, its fill is an ordinary fill
    assert a.handle(order_event("NEW", "NEW", i=8001, c="web_sl1", o="MARKET", ot="STOP_MARKET", S="SELL", q="0.5", price="0"), 4) == []
    out = a.handle(trigger_fill(), 5)
    assert len(out) == 1 and isinstance(out[0], Fill)
    assert out[0].fields["order_id"] == 8001 and out[0].fields["position_after"] == D("0")

    finished = only_algo(a.handle(algo("FINISHED", ai="8001", aq="0.5", ap="57990"), 6))
    assert finished.action == "finished" and finished.order.actual_order_id == 8001
    assert a.conditional.orders == {} and a.conditional.by_actual == {}


def test_a_fill_before_its_algo_update_is_linked_first_by_the_client_id() -> None:
    """Binance does not order ALGO_UPDATE and ORDER_TRADE_UPDATE on one connection: the fill of a
    triggered stop that comes first is preceded by the "triggered" event it implies."""
    a = resting_adapter(position="0.5")
    a.handle(algo("NEW"), 1)
    out = a.handle(trigger_fill(), 2)
    assert [type(x) for x in out] == [AlgoOrder, Fill]
    assert out[0].action == "triggered" and out[0].order.actual_order_id == 8001  # type: ignore[union-attr]
    # the ALGO_UPDATE that follows adds nothing
    assert a.handle(algo("TRIGGERED", ai="8001"), 3) == []
    assert only_algo(a.handle(algo("FINISHED", ai="8001"), 4)).action == "finished"


def test_without_the_client_id_the_one_matching_stop_is_linked() -> None:
    a = resting_adapter(position="0.5")
    a.handle(algo("NEW"), 1)
    out = a.handle(trigger_fill(c="x-engine-1"), 2)
    assert [type(x) for x in out] == [AlgoOrder, Fill]
    # two candidates: nothing is guessed (the fill is published as it is)
    b = resting_adapter(position="0.5")
    b.handle(algo("NEW", aid=1, caid="a"), 1)
    b.handle(algo("NEW", aid=2, caid="b"), 1)
    assert [type(x) for x in b.handle(trigger_fill(c="x-engine-1"), 2)] == [Fill]


def test_cancel_expire_and_reject_end_the_order() -> None:
    a = resting_adapter(position="0.5")
    for n, end in enumerate(("CANCELED", "EXPIRED", "REJECTED")):
        a.handle(algo("NEW", aid=n), 1)
        change = only_algo(a.handle(algo(end, aid=n), 2))
        assert change.action == end.lower()
        assert a.handle(algo(end, aid=n), 3) == []  # told once
    assert a.snapshot_fields()["open_algo_orders"] == ()


def trailing(aid: int, status: str = "NEW", activate: str = "61000", rate: str = "1.5") -> BinanceAlgoOrder:
    """GET /fapi/v1/algoOrder's record of a trailing stop (what ALGO_UPDATE lacks: both its prices)."""
    fields = {"algoId": aid, "clientAlgoId": "web_tr", "orderType": "TRAILING_STOP_MARKET", "symbol": "BTCUSDT", "side": "SELL"}
    return convert({**fields, "algoStatus": status, "quantity": "0.2", "activatePrice": activate, "callbackRate": rate}, BinanceAlgoOrder)


def test_a_trailing_stop_is_published_from_its_record_read_by_algo_id() -> None:
    a = resting_adapter(position="0.5")
    new = algo("NEW", aid=7, o="TRAILING_STOP_MARKET", tp="0", q="0.2", cp=False, R=True, ia=False)
    out = a.handle(new, 11)
    assert out == [Lookup(7, 11)]  # held: ALGO_UPDATE has neither its activation price nor its callback rate
    assert a.handle(new, 12) == []  # asked once
    assert a.snapshot_fields()["open_algo_orders"] == ()
    change = only_algo(a.looked_up(7, trailing(7), 11))
    assert change.action == "placed" and change.fields["t_master_recv_ns"] == 11
    o = change.order
    assert (o.order_type, o.trigger_price, o.activate_price, o.callback_rate) == ("TRAILING_STOP_MARKET", 0, D("61000"), D("1.5"))
    assert o.quantity == D("0.2")
    assert o.position_at_place == D("0.5") and o.reduce_only
    assert a.snapshot_fields()["open_algo_orders"] == (o,)
    # it triggers: linked by its fill as any stop is
    out = a.handle(trigger_fill(c="web_tr", ot="TRAILING_STOP_MARKET", q="0.2"), 13)
    assert out[0].action == "triggered" and isinstance(out[1], Fill)


def test_a_trailing_stop_that_ends_or_triggers_before_its_record_is_not_published() -> None:
    a = resting_adapter(position="0.5")
    for n, end in enumerate(["CANCELED", "TRIGGERING", "EXPIRED"]):
        new = algo("NEW", aid=20 + n, o="TRAILING_STOP_MARKET", tp="0", q="0.2", cp=False)
        assert a.handle(new, 1) == [Lookup(20 + n, 1)]
        assert a.handle(algo(end, aid=20 + n, o="TRAILING_STOP_MARKET"), 2) == []
        assert a.looked_up(20 + n, trailing(20 + n), 1) == []  # its fills are copied as fills
    new = algo("NEW", aid=30, o="TRAILING_STOP_MARKET", tp="0", q="0.2", cp=False)
    a.handle(new, 1)
    assert a.looked_up(30, trailing(30, status="TRIGGERED"), 1) == []  # the record says it is gone
    a.handle(algo("NEW", aid=31, o="TRAILING_STOP_MARKET", tp="0", q="0.2", cp=False), 1)
    assert a.looked_up(31, None, 1) == []  # not read (twice): not mirrored
    a.handle(algo("NEW", aid=32, o="TRAILING_STOP_MARKET", tp="0", q="0.2", cp=False), 1)
    assert a.looked_up(32, trailing(32, rate=""), 1) == []  # a record without a callback rate: not copyable
    assert a.snapshot_fields()["open_algo_orders"] == ()


def test_orders_without_a_trigger_are_not_published() -> None:
    a = resting_adapter(position="0.5")
    assert a.handle(algo("NEW", aid=5, tp="0"), 1) == []
    assert a.handle(algo("NEW", aid=6, cp=False, q="0"), 1) == []  # neither close-all nor a quantity


def test_a_limit_order_is_still_a_resting_order() -> None:
    a = resting_adapter(position="0.5")
    a.handle(algo("NEW"), 1)
    out = a.handle(order_event("NEW", "NEW"), 2)
    assert len(out) == 1 and isinstance(out[0], Order)


def test_the_rebuild_reads_the_untriggered_stops() -> None:
    a = UsdmAdapter.__new__(UsdmAdapter)
    a.__init__(resting_adapter().endpoints, resting_adapter().rest.signer)  # type: ignore[misc]
    rest = [
        convert(
            {
                "algoId": 11,
                "clientAlgoId": "tp1",
                "algoType": "CONDITIONAL",
                "orderType": "TAKE_PROFIT",
                "symbol": "BTCUSDT",
                "side": "SELL",
                "positionSide": "LONG",
                "timeInForce": "GTX",
                "quantity": "0.2",
                "algoStatus": "NEW",
                "triggerPrice": "70000",
                "price": "70010",
                "workingType": "CONTRACT_PRICE",
                "closePosition": False,
                "priceProtect": True,
                "reduceOnly": False,
                "updateTime": 5,
            },
            BinanceAlgoOrder,
        ),
        convert(
            {
                "algoId": 12,
                "clientAlgoId": "t",
                "orderType": "STOP_MARKET",
                "symbol": "BTCUSDT",
                "side": "SELL",
                "algoStatus": "TRIGGERED",
                "triggerPrice": "1",
                "closePosition": True,
            },
            BinanceAlgoOrder,
        ),
        convert(
            {
                "algoId": 13,
                "clientAlgoId": "u",
                "orderType": "TRAILING_STOP_MARKET",
                "symbol": "BTCUSDT",
                "side": "SELL",
                "triggerPrice": "1",
                "quantity": "1",
            },
            BinanceAlgoOrder,
        ),
    ]
    a.rebuild(UsdmRest(True, [risk(side="LONG", amt="0.8", update=50)], account(), [], rest))
    (o,) = a.snapshot_fields()["open_algo_orders"]
    assert (o.algo_id, o.order_type, o.price, o.quantity, o.time_in_force, o.position_side) == (
        11,
        "TAKE_PROFIT",
        D("70010"),
        D("0.2"),
        "GTX",
        "LONG",
    )
    assert o.position_at_place == D("0.8") and o.price_protect


def test_a_finished_that_comes_before_the_fill_is_published_after_it() -> None:
    """Review finding (session 10): FINISHED published before the triggered order's fill made a
    slave settle to the old target (buy back what its own stop sold), then sell again."""
    a = resting_adapter(position="0.5")
    a.handle(algo("NEW"), 1)
    only_algo(a.handle(algo("TRIGGERED", ai="8001"), 2))
    assert a.handle(algo("FINISHED", ai="8001", aq="0.5"), 3) == []  # held: its fill has not come
    out = a.handle(trigger_fill(), 4)
    assert [type(x) for x in out] == [Fill, AlgoOrder]
    assert out[1].action == "finished" and out[1].order.actual_order_id == 8001  # type: ignore[union-attr]
    assert a.conditional.orders == {} and a.conditional.held_finish == set()


def test_a_triggered_limit_canceled_in_the_engine_finishes_at_its_cancel() -> None:
    a = resting_adapter(position="0.5")
    a.handle(algo("NEW", o="STOP", p="57900"), 1)
    only_algo(a.handle(algo("TRIGGERED", ai="8001", o="STOP", p="57900"), 2))
    a.handle(order_event("NEW", "NEW", i=8001, c="web_sl1", ot="STOP", S="SELL", q="0.5", price="57900"), 3)
    assert a.handle(algo("FINISHED", ai="8001", o="STOP", p="57900"), 4) == []
    out = a.handle(order_event("CANCELED", "CANCELED", i=8001, c="web_sl1", ot="STOP", S="SELL", q="0.5", price="57900"), 5)
    assert len(out) == 1 and out[0].action == "finished"  # type: ignore[union-attr]
    # a FINISHED after the order's last update is published at once
    b = resting_adapter(position="0.5")
    b.handle(algo("NEW"), 1)
    b.handle(algo("TRIGGERED", ai="8001"), 2)
    b.handle(trigger_fill(), 3)
    assert only_algo(b.handle(algo("FINISHED", ai="8001"), 4)).action == "finished"


def test_the_type_fallback_also_matches_the_stop_price() -> None:
    a = resting_adapter(position="0.5")
    a.handle(algo("NEW"), 1)  # trigger 58000
    assert [type(x) for x in a.handle(trigger_fill(c="x-engine-1", sp="57000"), 2)] == [Fill]


def test_empty_prices_in_an_algo_update_do_not_drop_the_event() -> None:
    a = resting_adapter(position="0.5")
    placed = only_algo(a.handle(algo("NEW", p="", q="", ap="", aq=""), 1))
    assert placed.order.close_position and placed.order.price == 0


def test_the_rebuild_reads_a_trailing_stop_with_its_prices() -> None:
    a = resting_adapter(position="0.5")
    a.handle(algo("NEW", aid=40, o="TRAILING_STOP_MARKET", tp="0", q="0.2", cp=False), 1)  # held, then a rebuild
    a.rebuild(UsdmRest(False, [risk(amt="0.5", update=50)], account(), [], [trailing(41, activate="", rate="2")]))
    (o,) = a.snapshot_fields()["open_algo_orders"]
    assert (o.algo_id, o.activate_price, o.callback_rate, o.position_at_place) == (41, 0, D("2"), D("0.5"))
    assert a.looked_up(40, trailing(40), 1) == []  # the rebuild took REST's word (40 was not in it)
