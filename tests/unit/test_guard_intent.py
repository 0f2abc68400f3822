"""The copy of one conditional master order (actors/domain/protective.py) and its parameters
(actors/binance/orders.py `algo_order_params`, checked against the Postman collection's New Algo
Order parameters: closePosition cannot go with quantity or reduceOnly, reduceOnly not in hedge mode)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from actors.binance.orders import algo_order_params
from actors.domain.orders import Skip
from actors.domain.protective import GuardIntent, guard_client_algo_id, guard_intent
from protocol.messages import ConditionalOrder, SlaveConfig
from tests.helpers.mirror import futures_filters

D = Decimal
FILTERS = futures_filters("BTCUSDT", "0.001", "100")
CONFIG = SlaveConfig(id="s1", sizing="fixed_ratio", ratio=D("0.5"), orders="mirror")


def stop(side: str = "SELL", qty: str = "0", *, ps: str = "BOTH", at_place: str = "1", **over: Any) -> ConditionalOrder:
    fields: dict[str, Any] = {
        "symbol": "BTCUSDT",
        "position_side": ps,
        "side": side,
        "algo_id": 9001,
        "client_algo_id": "web_sl",
        "order_type": "STOP_MARKET",
        "trigger_price": D("48000.004"),
        "quantity": D(qty),
        "close_position": qty == "0",
        "position_at_place": D(at_place),
    }
    fields.update(over)
    return ConditionalOrder(**fields)


def copy(o: ConditionalOrder, held: str = "0.5", k: str = "0.5", config: SlaveConfig = CONFIG) -> GuardIntent | Skip:
    return guard_intent(o, market="usdm", slave_id="s1", config=config, k=D(k), filters=FILTERS, held=D(held))


def test_a_close_all_stop_is_copied_as_close_all_on_the_tick() -> None:
    g = copy(stop(working_type="MARK_PRICE", price_protect=True))
    assert isinstance(g, GuardIntent)
    assert g.close_position and g.qty == 0 and not g.reduce_only
    assert g.trigger_price == D("48000.00") and g.working_type == "MARK_PRICE" and g.price_protect
    assert g.client_algo_id == guard_client_algo_id("s1", "usdm", "BTCUSDT", 9001, "live")
    assert g.client_algo_id.startswith("ca") and len(g.client_algo_id) == 26
    # another sync round: another id (a cancelled copy's id is never reused)
    assert (
        copy(stop()).client_algo_id
        != guard_intent(  # type: ignore[union-attr]
            stop(), market="usdm", slave_id="s1", config=CONFIG, k=D("0.5"), filters=FILTERS, held=D("0.5"), nonce="7-3"
        ).client_algo_id
    )


def test_a_quantity_stop_closes_the_same_fraction_of_the_slaves_position() -> None:
    # the master's stop closes 0.4 of its 1.0 long: ours 40% of our 0.5
    g = copy(stop(qty="0.4", reduce_only=True))
    assert isinstance(g, GuardIntent)
    assert g.qty == D("0.2") and g.reduce_only and not g.close_position
    # hedge: SELL LONG reduces, never reduce-only (hedge mode refuses it)
    h = copy(stop(qty="0.4", ps="LONG"))
    assert isinstance(h, GuardIntent) and h.qty == D("0.2") and not h.reduce_only


def test_a_stop_entry_adds_k_times_and_takes_the_limit_price_never_more_aggressive() -> None:
    o = stop(side="BUY", qty="0.3", at_place="0", order_type="STOP", price=D("50000.019"), trigger_price=D("50000"))
    g = copy(o, held="0")
    assert isinstance(g, GuardIntent)
    assert g.qty == D("0.15") and not g.reduce_only
    assert g.price == D("50000.01")  # a BUY limit rounds down
    sell = copy(stop(qty="0.4", order_type="TAKE_PROFIT", price=D("52000.011"), trigger_price=D("52000"), reduce_only=True))
    assert isinstance(sell, GuardIntent) and sell.price == D("52000.02")  # a SELL limit rounds up


@pytest.mark.parametrize(
    ("o", "held", "reason"),
    [
        (stop(qty="0.4", reduce_only=True), "0", "no_position"),
        (stop(qty="0.001", reduce_only=True, at_place="1"), "0.5", "below_min_qty"),
        (stop(order_type="STOP"), "0.5", "exchange_rejected"),  # a STOP without its limit price
        (stop(time_in_force="GTD"), "0.5", "not_copied"),  # its goodTillDate is not published
    ],
)
def test_what_cannot_be_copied_says_why(o: ConditionalOrder, held: str, reason: str) -> None:
    result = copy(o, held=held)
    assert isinstance(result, Skip) and result.reason == reason, result


def test_a_symbol_without_filters_is_not_copied() -> None:
    result = guard_intent(stop(), market="usdm", slave_id="s1", config=CONFIG, k=D("1"), filters=None, held=D("1"))
    assert isinstance(result, Skip) and result.reason == "unknown_symbol"


def test_a_denied_symbol_is_not_copied() -> None:
    denied = SlaveConfig(id="s1", sizing="fixed_ratio", ratio=D("0.5"), orders="mirror", symbols_deny=("BTCUSDT",))
    result = copy(stop(), config=denied)
    assert isinstance(result, Skip) and result.reason == "symbol_filtered"


def test_params_close_all_send_no_quantity_and_no_reduce_only() -> None:
    g = copy(stop())
    assert isinstance(g, GuardIntent)
    p = algo_order_params(g, FILTERS, position_mode="one_way")
    assert p == {
        "algoType": "CONDITIONAL",
        "symbol": "BTCUSDT",
        "side": "SELL",
        "type": "STOP_MARKET",
        "triggerPrice": "48000.00",
        "workingType": "CONTRACT_PRICE",
        "clientAlgoId": g.client_algo_id,
        "closePosition": "true",
    }


def test_params_quantity_forms_one_way_and_hedge() -> None:
    g = copy(stop(qty="0.4", reduce_only=True, order_type="TAKE_PROFIT", price=D("52000"), trigger_price=D("52000")))
    assert isinstance(g, GuardIntent)
    one_way = algo_order_params(g, FILTERS, position_mode="one_way")
    assert one_way["quantity"] == "0.200" and one_way["reduceOnly"] == "true" and "positionSide" not in one_way
    assert one_way["price"] == "52000.00" and one_way["timeInForce"] == "GTC"
    h = copy(stop(qty="0.4", ps="LONG"))
    assert isinstance(h, GuardIntent)
    hedge = algo_order_params(h, FILTERS, position_mode="hedge")
    assert hedge["positionSide"] == "LONG" and "reduceOnly" not in hedge and hedge["quantity"] == "0.200"


def trailing_stop(qty: str = "0.4", activate: str = "51000.006", rate: str = "1.5", **over: Any) -> ConditionalOrder:
    return stop(
        qty=qty,
        order_type="TRAILING_STOP_MARKET",
        trigger_price=D(0),
        activate_price=D(activate),
        callback_rate=D(rate),
        **{"reduce_only": True, **over},
    )


def test_a_trailing_stop_keeps_its_callback_rate_and_its_activation_price_on_the_tick() -> None:
    g = copy(trailing_stop())
    assert isinstance(g, GuardIntent)
    assert (g.order_type, g.qty, g.reduce_only, g.close_position) == ("TRAILING_STOP_MARKET", D("0.2"), True, False)
    assert (g.trigger_price, g.activate_price, g.callback_rate) == (0, D("51000.01"), D("1.5"))
    p = algo_order_params(g, FILTERS, position_mode="one_way")
    assert "triggerPrice" not in p and "closePosition" not in p  # Binance refuses both with a trailing stop
    assert (p["type"], p["callbackRate"], p["activatePrice"], p["quantity"], p["reduceOnly"]) == (
        "TRAILING_STOP_MARKET",
        "1.5",
        "51000.01",
        "0.200",
        "true",
    )
    # without an activation price it trails from its placement, and none is sent
    bare = copy(trailing_stop(activate="0"))
    assert isinstance(bare, GuardIntent) and bare.activate_price is None
    assert "activatePrice" not in algo_order_params(bare, FILTERS, position_mode="one_way")


def test_a_trailing_stop_is_refused_by_the_protocol_without_a_valid_callback_rate_or_as_close_all() -> None:
    with pytest.raises(ValueError, match="callback rate"):
        trailing_stop(rate="0")
    with pytest.raises(ValueError, match="callback rate"):
        trailing_stop(rate="11")
    with pytest.raises(ValueError, match="close-all"):
        stop(order_type="TRAILING_STOP_MARKET", trigger_price=D(0), callback_rate=D(1))


def test_a_trailing_entry_without_an_activation_price_uses_the_last_price_for_the_minimum() -> None:
    entry = trailing_stop(qty="0.001", activate="0", side="BUY", reduce_only=False, at_place="0")
    tiny = guard_intent(entry, market="usdm", slave_id="s1", config=CONFIG, k=D(1), filters=FILTERS, held=D(0), last_price=D("50000"))
    assert isinstance(tiny, Skip) and tiny.reason == "below_min_notional"  # 0.001 x 50000 = 50 < 100
    unknown = guard_intent(entry, market="usdm", slave_id="s1", config=CONFIG, k=D(1), filters=FILTERS, held=D(0))
    assert isinstance(unknown, GuardIntent)  # no price known: the exchange decides
