"""The simulator's USD-M Algo Service without the wire: parameter checks (Binance's codes), the
trigger rules, and the book over a real (in-process, price walk off) simulator.

Oracles: POST /fapi/v1/order's notes on conditional orders (trigger rules, -2021, closePosition),
the USD-M error codes page, the official SDK's algo models (field names), and the 2025-11-06 change
log (no margin check before triggering). Prices move only through `sim.prices.set_price`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from simulator.app import build_sim
from simulator.config import parse_config
from simulator.futures_algo_model import AlgoOrder, condition_met, observe, parse_algo_params
from simulator.futures_model import ZERO, FuturesReject, parse_order_params

D = Decimal
BASE = {"algoType": "CONDITIONAL", "symbol": "BTCUSDT", "side": "SELL", "type": "STOP_MARKET", "quantity": "0.010", "triggerPrice": "64000"}


def code(params: dict[str, Any]) -> int:
    with pytest.raises(FuturesReject) as exc:
        parse_algo_params(params)
    return exc.value.code


# -- parameters ---------------------------------------------------------------------------------------


def test_a_plain_stop_market_parses_with_binance_defaults() -> None:
    req = parse_algo_params(BASE)
    assert (req.symbol, req.side, req.type, req.quantity, req.trigger_price) == ("BTCUSDT", "SELL", "STOP_MARKET", D("0.010"), D(64000))
    assert (req.working_type, req.time_in_force, req.reduce_only, req.close_position) == ("CONTRACT_PRICE", "GTC", None, False)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"algoType": None}, -1102),
        ({"algoType": "VP"}, -1130),
        ({"side": "LONG"}, -1117),
        ({"type": "LIMIT"}, -1116),
        ({"type": "MARKET"}, -1116),
        ({"triggerPrice": None}, -1102),  # mandatory for stop / take-profit types
        ({"triggerPrice": "0"}, -4006),
        ({"quantity": None}, -1102),
        ({"quantity": "0"}, -4003),
        ({"quantity": "1e-3"}, -1100),
        ({"closePosition": "true"}, -4137),  # closePosition with quantity
        ({"quantity": None, "closePosition": "true", "reduceOnly": "true"}, -1106),
        ({"type": "STOP", "quantity": "0.010", "closePosition": "true"}, -1106),  # close-all is for *_MARKET only
        ({"type": "STOP"}, -1102),  # STOP needs price
        ({"price": "64000"}, -1106),  # STOP_MARKET takes no price
        ({"timeInForce": "IOC"}, -1106),
        ({"workingType": "LAST_PRICE"}, -4031),
        ({"positionSide": "UP"}, -4060),
        ({"clientAlgoId": "has space"}, -4015),
        ({"clientAlgoId": "x" * 37}, -4015),
        ({"newOrderRespType": "FULL"}, -1136),
        ({"callbackRate": "1"}, -1106),  # trailing parameter on a stop
        ({"reduceOnly": "yes"}, -1130),
    ],
)
def test_bad_parameters_are_refused_with_binance_codes(change: dict[str, Any], expected: int) -> None:
    params = {k: v for k, v in {**BASE, **change}.items() if v is not None}
    assert code(params) == expected


@pytest.mark.parametrize(("rate", "ok"), [("0.1", True), ("10", True), ("0.09", False), ("10.1", False)])
def test_callback_rate_must_lie_in_0_1_to_10(rate: str, ok: bool) -> None:
    params = {**BASE, "type": "TRAILING_STOP_MARKET", "callbackRate": rate}
    del params["triggerPrice"]
    if ok:
        assert parse_algo_params(params).callback_rate == D(rate)
    else:
        assert code(params) == -1130


def test_trailing_needs_a_callback_rate_and_no_trigger_price() -> None:
    params = {**BASE, "type": "TRAILING_STOP_MARKET"}
    assert code(params) == -1106  # triggerPrice sent
    del params["triggerPrice"]
    assert code(params) == -1102  # callbackRate missing
    assert code({**params, "callbackRate": "1", "activatePrice": "0"}) == -4135


def test_close_position_needs_no_quantity() -> None:
    params = {**BASE, "closePosition": "true"}
    del params["quantity"]
    req = parse_algo_params(params)
    assert req.close_position and req.quantity is None


# -- trigger rules ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("otype", "side", "price", "met"),
    [
        ("STOP_MARKET", "BUY", "100", True),
        ("STOP_MARKET", "BUY", "99.9", False),
        ("STOP_MARKET", "SELL", "100", True),
        ("STOP_MARKET", "SELL", "100.1", False),
        ("STOP", "SELL", "99", True),
        ("TAKE_PROFIT_MARKET", "BUY", "100", True),
        ("TAKE_PROFIT_MARKET", "BUY", "100.1", False),
        ("TAKE_PROFIT", "SELL", "101", True),
        ("TAKE_PROFIT", "SELL", "99", False),
    ],
)
def test_stop_and_take_profit_conditions(otype: str, side: str, price: str, met: bool) -> None:
    assert condition_met(otype, side, D(100), D(price)) is met


def trailing(side: str, rate: str, activate: str | None) -> AlgoOrder:
    return AlgoOrder(
        1, "a", "c", "BTCUSDT", side, "BOTH", "TRAILING_STOP_MARKET", "GTC", D(1), ZERO, ZERO, "CONTRACT_PRICE",
        False, False, False, D(activate) if activate else None, D(rate), "EXPIRE_MAKER", 0, 0, 0,
    )  # fmt: skip


def test_trailing_sell_activates_at_the_activation_price_then_triggers_on_the_retrace() -> None:
    algo = trailing("SELL", "1", "110")
    walk = [("100", False), ("109", False), ("110", False), ("120", False), ("118.9", False), ("118.8", True)]
    for price, fires in walk:
        assert observe(algo, D(price)) is fires, price
    assert algo.activated and algo.extreme == D(120)  # 120 * 0.99 = 118.8


def test_trailing_buy_without_activation_price_tracks_the_low_from_placement() -> None:
    algo = trailing("BUY", "2", None)
    assert observe(algo, D(100)) is False and algo.activated
    assert observe(algo, D(90)) is False
    assert observe(algo, D("91.7")) is False
    assert observe(algo, D("91.8")) is True  # 90 * 1.02


# -- the book in a simulator (no sockets) -------------------------------------------------------------


class Book:
    """A simulator with two futures accounts and every user-data event they got, in order."""

    def __init__(self, dual: bool = False) -> None:
        settings = {"dual_side_position": True} if dual else {}
        accounts = [{"id": n, "futures": {"USDT": "100000"}, "futures_settings": settings} for n in ("master", "follower")]
        self.sim = build_sim(parse_config({"simulator": {"tick_interval": 0, "paused": True}, "accounts": accounts}))
        self.svc = self.sim.futures  # type: ignore[attr-defined]
        self.book = self.sim.futures_algo.book  # type: ignore[attr-defined]
        self.events: dict[str, list[dict[str, Any]]] = {"master": [], "follower": []}
        self.svc.publish_hooks.insert(0, lambda acc, evs: self.events[acc].extend(evs))

    def fa(self, account: str) -> Any:
        return self.svc.account(self.sim.store.accounts[account])

    def place(self, account: str = "master", **params: Any) -> AlgoOrder:
        return self.book.place(self.fa(account), parse_algo_params({**BASE, **params}))

    def market(self, account: str, side: str, qty: str) -> None:
        self.fa(account)  # the engine's account, funded from the config
        req = parse_order_params({"symbol": "BTCUSDT", "side": side, "type": "MARKET", "quantity": qty})
        order, events = self.svc.engine.place_order(account, req, 0)
        self.svc.publish(account, events)
        self.svc.execute(account, order, req)

    def price(self, value: str) -> None:
        self.sim.prices.set_price("BTCUSDT", D(value))

    def amt(self, account: str, side: str = "BOTH") -> Decimal:
        pos = self.fa(account).positions.get(("BTCUSDT", side))
        return pos.amt if pos is not None else ZERO

    def algo_states(self, account: str) -> list[str]:
        return [e["o"]["X"] for e in self.events[account] if e["e"] == "ALGO_UPDATE"]

    def kinds(self, account: str) -> list[str]:
        out = []
        for e in self.events[account]:
            if e["e"] == "ALGO_UPDATE":
                out.append("ALGO:" + e["o"]["X"])
            elif e["e"] == "ORDER_TRADE_UPDATE":
                out.append("ORDER:" + e["o"]["x"])
            else:
                out.append(e["e"])
        return out


def test_placement_checks_against_the_account_and_the_price() -> None:
    b = Book()
    with pytest.raises(FuturesReject) as exc:
        b.place(triggerPrice="66000")  # SELL stop above the price (65000): would trigger at once
    assert exc.value.code == -2021
    with pytest.raises(FuturesReject) as exc:
        b.place(positionSide="LONG")
    assert exc.value.code == -4061
    with pytest.raises(FuturesReject) as exc:
        b.place(triggerPrice="64000.05")  # tick 0.10
    assert exc.value.code == -4014
    with pytest.raises(FuturesReject) as exc:
        b.place(triggerPrice="64000.001")  # price precision 2
    assert exc.value.code == -1111
    with pytest.raises(FuturesReject) as exc:
        b.place(quantity="0.0105")
    assert exc.value.code == -1111
    b.place(clientAlgoId="sl-1")
    with pytest.raises(FuturesReject) as exc:
        b.place(clientAlgoId="sl-1")
    assert exc.value.code == -4116
    for _ in range(9):
        b.place()
    with pytest.raises(FuturesReject) as exc:
        b.place()
    assert exc.value.code == -4045  # MAX_NUM_ALGO_ORDERS 10
    assert b.algo_states("master") == ["NEW"] * 10
    assert b.fa("master").open_orders() == []  # nothing reached the matching engine


def test_reduce_only_is_refused_in_hedge_mode_and_position_side_is_required() -> None:
    b = Book(dual=True)
    with pytest.raises(FuturesReject) as exc:
        b.place(positionSide="LONG", reduceOnly="true")
    assert exc.value.code == -1106
    with pytest.raises(FuturesReject) as exc:
        b.place()
    assert exc.value.code == -4061
    algo = b.place(positionSide="LONG")
    assert algo.position_side == "LONG"


def test_no_margin_check_before_trigger() -> None:
    b = Book()
    algo = b.place(side="BUY", triggerPrice="66000", quantity="100")  # 6.6 M notional, 100 k wallet
    assert algo.status == "NEW"


def test_stop_market_triggers_for_every_account_and_closes_the_position() -> None:
    b = Book()
    for account in ("master", "follower"):
        b.market(account, "BUY", "0.010")
        assert b.amt(account) == D("0.010")
    sl = {a: b.place(a, reduceOnly="true", clientAlgoId=f"sl-{a}") for a in ("master", "follower")}
    b.price("64500")
    assert [a.status for a in sl.values()] == ["NEW", "NEW"] and b.amt("master") == D("0.010")
    b.price("64000")
    for account, algo in sl.items():
        assert algo.status == "FINISHED" and b.amt(account) == 0
        order = b.fa(account).orders[algo.actual_order_id]
        assert (order.type, order.orig_type, order.client_order_id, order.status) == ("MARKET", "STOP_MARKET", f"sl-{account}", "FILLED")
        assert algo.actual_qty == D("0.010") and algo.actual_price == order.avg_price
        assert b.kinds(account)[-7:] == [
            "ALGO:NEW",
            "ALGO:TRIGGERING",
            "ALGO:TRIGGERED",
            "ORDER:NEW",
            "ORDER:TRADE",
            "ACCOUNT_UPDATE",
            "ALGO:FINISHED",
        ]
        triggered = [e for e in b.events[account] if e["e"] == "ALGO_UPDATE" and e["o"]["X"] == "TRIGGERED"][0]
        assert triggered["o"]["ai"] == str(order.order_id) and triggered["o"]["act"] == "MARKET"
        trade = [e for e in b.events[account] if e["e"] == "ORDER_TRADE_UPDATE"][-1]
        assert trade["o"]["ot"] == "STOP_MARKET" and trade["o"]["c"] == f"sl-{account}" and trade["o"]["R"] is True


def test_close_position_takes_the_whole_position_at_trigger_time() -> None:
    b = Book()
    b.market("master", "BUY", "0.010")
    params = {k: v for k, v in BASE.items() if k != "quantity"}
    algo = b.book.place(b.fa("master"), parse_algo_params({**params, "closePosition": "true"}))
    b.market("master", "BUY", "0.020")  # the position grows after placement
    b.price("63999.9")
    assert algo.status == "FINISHED" and algo.actual_qty == D("0.030") and b.amt("master") == 0


def test_a_closed_position_leaves_the_reduce_only_order_open_until_it_is_rejected() -> None:
    b = Book()
    b.market("master", "BUY", "0.010")
    algo = b.place(reduceOnly="true")
    b.market("master", "SELL", "0.010")  # closed by hand
    assert algo.status == "NEW" and b.amt("master") == 0
    orders_before = len(b.fa("master").orders)
    b.price("64000")
    assert algo.status == "REJECTED" and algo.reject_reason == "ReduceOnly Order is rejected."
    assert b.algo_states("master")[-3:] == ["NEW", "TRIGGERING", "REJECTED"]
    assert len(b.fa("master").orders) == orders_before  # nothing placed


def test_reduce_only_never_exceeds_the_position() -> None:
    b = Book()
    b.market("master", "BUY", "0.010")
    algo = b.place(reduceOnly="true", quantity="0.050")
    b.price("63000")
    assert algo.status == "FINISHED" and algo.actual_qty == D("0.010") and b.amt("master") == 0


def test_stop_limit_rests_then_finishes_when_it_fills() -> None:
    b = Book()
    algo = b.place(side="BUY", type="STOP", triggerPrice="66000", price="65500", quantity="0.010")
    b.price("66000")  # triggers: a BUY LIMIT 65500 that does not cross 66000, so it rests
    assert algo.status == "TRIGGERED"
    order = b.fa("master").orders[algo.actual_order_id]
    assert (order.type, order.price, order.status, order.time_in_force) == ("LIMIT", D(65500), "NEW", "GTC")
    b.price("65400")  # the resting order fills on the price walk
    assert order.status == "FILLED" and algo.status == "FINISHED" and b.amt("master") == D("0.010")
    assert b.kinds("master")[-2:] == ["ACCOUNT_UPDATE", "ALGO:FINISHED"]


def test_take_profit_market_and_mark_price_working_type() -> None:
    b = Book()
    b.market("master", "BUY", "0.010")
    algo = b.place(type="TAKE_PROFIT_MARKET", triggerPrice="66000", workingType="MARK_PRICE", reduceOnly="true")
    b.price("65999.9")
    assert algo.status == "NEW"
    b.price("66000")
    assert algo.status == "FINISHED" and b.amt("master") == 0


def test_trailing_stop_triggers_on_the_retrace() -> None:
    b = Book()
    b.market("master", "BUY", "0.010")
    params = {k: v for k, v in BASE.items() if k != "triggerPrice"}
    req = parse_algo_params({**params, "type": "TRAILING_STOP_MARKET", "callbackRate": "1", "reduceOnly": "true"})
    algo = b.book.place(b.fa("master"), req)
    for price in ("66000", "67000", "66331"):
        b.price(price)
        assert algo.status == "NEW", price
    b.price("66330")  # 67000 * 0.99
    assert algo.status == "FINISHED" and b.amt("master") == 0


def test_cancel_and_find() -> None:
    b = Book()
    algo = b.place(clientAlgoId="c-1")
    assert b.book.find("master", None, "c-1") is algo
    assert b.book.cancel("master", algo.algo_id, None) is algo and algo.status == "CANCELED"
    assert b.algo_states("master") == ["NEW", "CANCELED"]
    with pytest.raises(FuturesReject) as exc:
        b.book.cancel("master", algo.algo_id, None)
    assert exc.value.code == -2011
    with pytest.raises(FuturesReject) as exc:
        b.book.find("master", 1, None)
    assert exc.value.code == -2013
    with pytest.raises(FuturesReject) as exc:
        b.book.find("master", None, None)
    assert exc.value.code == -1102
    b.price("60000")  # a canceled order never triggers
    assert algo.status == "CANCELED" and b.algo_states("master") == ["NEW", "CANCELED"]


def test_hedge_mode_close_position_closes_that_side_only() -> None:
    b = Book(dual=True)
    for side, ps in (("BUY", "LONG"), ("SELL", "SHORT")):
        b.fa("master")
        req = parse_order_params({"symbol": "BTCUSDT", "side": side, "type": "MARKET", "quantity": "0.010", "positionSide": ps})
        order, _ = b.svc.engine.place_order("master", req, 0)
        b.svc.execute("master", order, req)
    assert (b.amt("master", "LONG"), b.amt("master", "SHORT")) == (D("0.010"), D("-0.010"))
    params = {k: v for k, v in BASE.items() if k != "quantity"}
    with pytest.raises(FuturesReject) as exc:  # close-all SELL on the SHORT side is refused
        b.book.place(b.fa("master"), parse_algo_params({**params, "closePosition": "true", "positionSide": "SHORT"}))
    assert exc.value.code == -1106
    algo = b.book.place(b.fa("master"), parse_algo_params({**params, "closePosition": "true", "positionSide": "LONG"}))
    b.price("64000")
    assert algo.status == "FINISHED" and algo.actual_qty == D("0.010")
    assert (b.amt("master", "LONG"), b.amt("master", "SHORT")) == (0, D("-0.010"))
