"""Binance's own `binance-sdk-derivatives-trading-usds-futures` against the simulator's Algo Service.

The SDK's algo calls (REST `new_algo_order`, `query_algo_order`, `current_all_algo_open_orders`,
`query_all_algo_orders`, `cancel_algo_order`, `cancel_all_algo_open_orders`; WebSocket API
`new_algo_order`, `cancel_algo_order`) decode the simulator's replies into their models, and its
user-data stream decodes ALGO_UPDATE as `AlgoUpdate`. Only the base URLs change (see
test_futures_sdk.py). Prices move only when the test sets them.
"""

from __future__ import annotations

import asyncio
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import orjson
import pytest
from binance_common.configuration import ConfigurationRestAPI, ConfigurationWebSocketAPI, ConfigurationWebSocketStreams
from binance_common.errors import BadRequestError
from binance_sdk_derivatives_trading_usds_futures.derivatives_trading_usds_futures import DerivativesTradingUsdsFutures
from binance_sdk_derivatives_trading_usds_futures.rest_api.models import (
    NewAlgoOrderAlgoTypeEnum,
    NewAlgoOrderReduceOnlyEnum,
    NewAlgoOrderSideEnum,
    NewAlgoOrderTypeEnum,
)

from tests.helpers.wait import aeventually
from tests.integration.test_sim_futures_api import ED_KEY, HMAC_KEY, HMAC_SECRET, FuturesSim, ed25519_pair, sim_doc

COND = NewAlgoOrderAlgoTypeEnum.CONDITIONAL
SELL = NewAlgoOrderSideEnum.SELL


@pytest.fixture
def env() -> Iterator[tuple[FuturesSim, DerivativesTradingUsdsFutures]]:
    _, pem, pub = ed25519_pair()
    fsim = FuturesSim(sim_doc(pub))
    client = DerivativesTradingUsdsFutures(
        config_rest_api=ConfigurationRestAPI(api_key=HMAC_KEY, api_secret=HMAC_SECRET, base_path=fsim.http),
        config_ws_streams=ConfigurationWebSocketStreams(stream_url=fsim.ws),
        config_ws_api=ConfigurationWebSocketAPI(api_key=ED_KEY, private_key=pem, stream_url=f"{fsim.ws}/ws-fapi/v1"),
    )
    yield fsim, client
    fsim.close()


def code_of(exc: pytest.ExceptionInfo[BadRequestError]) -> int:
    return int(exc.value.status_code)  # the SDK puts Binance's code here


def rows(data: Any) -> list[Any]:
    return list(getattr(data, "root", data))


def test_algo_orders_over_the_sdk_rest_api(env) -> None:
    _, client = env
    rest = client.rest_api
    placed = rest.new_algo_order(
        algo_type=COND, symbol="BTCUSDT", side=SELL, type=NewAlgoOrderTypeEnum.STOP_MARKET, quantity=0.01, trigger_price=64000.0,
        client_algo_id="sdk-sl",
    ).data()  # fmt: skip
    assert (placed.algo_status, placed.order_type, placed.algo_type, placed.client_algo_id) == (
        "NEW",
        "STOP_MARKET",
        "CONDITIONAL",
        "sdk-sl",
    )
    assert placed.quantity == "0.010" and placed.trigger_price == "64000.00" and placed.additional_properties == {}
    query = rest.query_algo_order(algo_id=placed.algo_id).data()
    assert query.algo_status == "NEW" and query.actual_order_id == "" and query.client_algo_id == "sdk-sl"
    assert [o.algo_id for o in rows(rest.current_all_algo_open_orders(symbol="BTCUSDT").data())] == [placed.algo_id]
    with urllib.request.urlopen(f"{env[0].http}/_sim/algoOrders?account=master") as resp:  # the admin listing, no weight
        listed = orjson.loads(resp.read())
    assert [(a["account"], a["algoId"], a["algoStatus"]) for a in listed] == [("master", placed.algo_id, "NEW")]

    with pytest.raises(BadRequestError) as exc:
        rest.new_algo_order(algo_type=COND, symbol="BTCUSDT", side=SELL, type=NewAlgoOrderTypeEnum.STOP_MARKET, quantity=0.01)
    assert code_of(exc) == -1102  # no triggerPrice
    with pytest.raises(BadRequestError) as exc:
        rest.new_algo_order(
            algo_type=COND, symbol="BTCUSDT", side=SELL, type=NewAlgoOrderTypeEnum.TRAILING_STOP_MARKET, quantity=0.01, callback_rate=20.0
        )
    assert code_of(exc) == -1130  # callbackRate 0.1 .. 10

    trailing = rest.new_algo_order(
        algo_type=COND, symbol="BTCUSDT", side=SELL, type=NewAlgoOrderTypeEnum.TRAILING_STOP_MARKET, quantity=0.01, callback_rate=1.0,
        activate_price=66000.0,
    ).data()  # fmt: skip
    assert trailing.callback_rate == "1" and trailing.activate_price == "66000.00"

    canceled = rest.cancel_algo_order(client_algo_id="sdk-sl").data()
    assert (canceled.algo_id, canceled.code, canceled.msg) == (placed.algo_id, "200", "success")
    with pytest.raises(BadRequestError) as exc:
        rest.cancel_algo_order(algo_id=placed.algo_id)
    assert code_of(exc) == -2011
    done = rest.cancel_all_algo_open_orders(symbol="BTCUSDT").data()
    assert done.code == 200
    history = rows(rest.query_all_algo_orders(symbol="BTCUSDT").data())
    assert [(o.algo_id, o.algo_status) for o in history] == [(placed.algo_id, "CANCELED"), (trailing.algo_id, "CANCELED")]


async def test_algo_update_through_the_sdk_stream_and_websocket_api(env) -> None:
    fsim, client = env
    rest = client.rest_api
    key = rest.start_user_data_stream().data().listen_key
    events: list[Any] = []
    streams = await client.websocket_streams.create_connection()
    ws = await client.websocket_api.create_connection()
    try:
        handle = await streams.user_data(key)
        handle.on("message", events.append)

        async def subscribed() -> bool:  # the SDK subscribes asynchronously (see test_futures_sdk.py)
            if not events:
                await asyncio.to_thread(rest.change_initial_leverage, symbol="BTCUSDT", leverage=10)
            return bool(events)

        await aeventually(subscribed, interval=0.2)
        await asyncio.to_thread(rest.new_order, symbol="BTCUSDT", side="BUY", type="MARKET", quantity=0.01)
        placed = await ws.new_algo_order(
            algo_type="CONDITIONAL", symbol="BTCUSDT", side="SELL", type="STOP_MARKET", quantity=0.01, trigger_price=64500.0,
            reduce_only=NewAlgoOrderReduceOnlyEnum.TRUE.value, client_algo_id="sdk-ws-sl",
        )  # fmt: skip
        result = placed.data().result
        assert result.algo_status == "NEW" and result.reduce_only is True and result.client_algo_id == "sdk-ws-sl"
        other = (await ws.new_algo_order(algo_type="CONDITIONAL", symbol="BTCUSDT", side="SELL", type="STOP_MARKET", quantity=0.01,
                                         trigger_price=60000.0)).data().result  # fmt: skip
        canceled = (await ws.cancel_algo_order(algo_id=other.algo_id)).data().result
        assert (canceled.algo_id, canceled.code) == (other.algo_id, "200")

        await asyncio.to_thread(fsim.set_price, "BTCUSDT", "64400")

        def algo_updates() -> list[Any]:
            return [e.actual_instance for e in events if type(e.actual_instance).__name__ == "AlgoUpdate"]

        async def finished() -> bool:
            assert [u.o.X for u in algo_updates() if u.o.aid == result.algo_id][-1:] == ["FINISHED"]
            return True

        await aeventually(finished)
        mine = [u.o for u in algo_updates() if u.o.aid == result.algo_id]
        assert [o.X for o in mine] == ["NEW", "TRIGGERING", "TRIGGERED", "FINISHED"]
        assert [u.o.X for u in algo_updates() if u.o.aid == other.algo_id] == ["NEW", "CANCELED"]
        assert mine[2].ai and mine[3].ai == mine[2].ai and mine[3].aq == "0.010" and mine[3].caid == "sdk-ws-sl"
        assert mine[0].additional_properties == {}  # every field we send is one the SDK knows
        query = rest.query_algo_order(client_algo_id="sdk-ws-sl").data()
        assert query.algo_status == "FINISHED" and query.actual_order_id == mine[2].ai and query.actual_qty == "0.010"
        order = rest.query_order(symbol="BTCUSDT", order_id=int(mine[2].ai)).data()
        assert order.status == "FILLED" and order.orig_type == "STOP_MARKET" and Decimal(order.executed_qty) == Decimal("0.01")
        position = [p for p in rest.position_information_v2(symbol="BTCUSDT").data() if p.symbol == "BTCUSDT"]
        assert Decimal(position[0].position_amt) == 0
    finally:
        await ws.close_connection()
        await streams.close_connection()
