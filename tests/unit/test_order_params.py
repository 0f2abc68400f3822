"""actors/binance/orders.py: the one builder of new-order parameters, per market (the endpoint
docs in binance-reference: USD-M `POST /fapi/v1/order`, spot `order.place`, margin
`POST /sapi/v1/margin/order`)."""

from __future__ import annotations

from decimal import Decimal as D

from actors.binance.orders import order_params
from actors.domain.orders import OrderIntent
from tests.helpers.mirror import BTC


def intent(market: str, **kw: object) -> OrderIntent:
    base: dict[str, object] = dict(
        market=market,
        symbol="BTCUSDT",
        side="SELL",
        position_side="BOTH",
        qty=D("0.0100"),
        kind="reduce",
        client_order_id="ct" + "x" * 24,
        ref_price=D("50000"),
    )
    base.update(kw)
    return OrderIntent(**base)  # type: ignore[arg-type]


def test_usdm_one_way_reduction_sends_reduce_only_and_a_result_reply() -> None:
    assert order_params(intent("usdm", reduce_only=True), BTC, position_mode="one_way") == {
        "symbol": "BTCUSDT",
        "side": "SELL",
        "type": "MARKET",
        "quantity": "0.010",
        "newClientOrderId": "ct" + "x" * 24,
        "newOrderRespType": "RESULT",
        "reduceOnly": "true",
    }


def test_usdm_hedge_sends_the_position_side_never_reduce_only() -> None:
    p = order_params(intent("usdm", position_side="LONG", reduce_only=True), BTC, position_mode="hedge")
    assert p["positionSide"] == "LONG" and "reduceOnly" not in p


def test_spot_asks_for_the_fills_and_margin_names_its_side_effect() -> None:
    spot = order_params(intent("spot"), None)
    assert spot["newOrderRespType"] == "FULL" and "sideEffectType" not in spot
    assert spot["quantity"] == "0.01"  # no filters known: trailing zeros dropped
    assert order_params(intent("margin"), None)["sideEffectType"] == "NO_SIDE_EFFECT"
    assert order_params(intent("margin", side_effect="AUTO_REPAY"), None)["sideEffectType"] == "AUTO_REPAY"
