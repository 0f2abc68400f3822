"""Binance's own `binance-sdk-derivatives-trading-usds-futures` against the simulator.

Only the base URLs change. REST is driven through `rest_api`, the user-data stream through the SDK's
`websocket_streams.user_data(listenKey)` (it connects to `<stream_url>/private/stream` and
subscribes the listenKey), orders over the WebSocket API through `websocket_api` with Ed25519.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from binance_common.configuration import ConfigurationRestAPI, ConfigurationWebSocketAPI, ConfigurationWebSocketStreams
from binance_common.errors import BadRequestError
from binance_sdk_derivatives_trading_usds_futures.derivatives_trading_usds_futures import DerivativesTradingUsdsFutures

from tests.helpers.wait import aeventually
from tests.integration.test_sim_futures_api import ED_KEY, HMAC_KEY, HMAC_SECRET, FuturesSim, ed25519_pair, sim_doc

SYMBOLS = {"BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT", "DOGEUSDT"}


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


def test_market_data_through_the_sdk(env) -> None:
    _, client = env
    rest = client.rest_api
    assert rest.test_connectivity().data() is not None
    assert rest.check_server_time().data().server_time > 0
    info = rest.exchange_information().data()
    by_symbol = {s.symbol: s for s in info.symbols}
    assert SYMBOLS <= set(by_symbol)
    filters = {f.filter_type: f for f in by_symbol["BTCUSDT"].filters}
    assert {"PRICE_FILTER", "LOT_SIZE", "MARKET_LOT_SIZE", "MIN_NOTIONAL", "PERCENT_PRICE"} <= set(filters)
    assert filters["MIN_NOTIONAL"].notional == "100" and filters["LOT_SIZE"].step_size == "0.001"
    mark = rest.mark_price(symbol="BTCUSDT").data().actual_instance
    assert mark.mark_price == "65000.00000000" and mark.next_funding_time > 0


def test_trading_configuration_positions_and_balances(env) -> None:
    _, client = env
    rest = client.rest_api
    # hedge mode, isolated ETH at 5x
    rest.change_position_mode(dual_side_position="true")
    assert rest.get_current_position_mode().data().dual_side_position is True
    with pytest.raises(BadRequestError) as exc:
        rest.change_position_mode(dual_side_position="true")
    assert code_of(exc) == -4059
    rest.change_margin_type(symbol="ETHUSDT", margin_type="ISOLATED")
    with pytest.raises(BadRequestError) as exc:
        rest.change_margin_type(symbol="ETHUSDT", margin_type="ISOLATED")
    assert code_of(exc) == -4046
    lev = rest.change_initial_leverage(symbol="ETHUSDT", leverage=5).data()
    assert lev.leverage == 5 and lev.symbol == "ETHUSDT"

    # hedge mode needs positionSide
    with pytest.raises(BadRequestError) as exc:
        rest.new_order(symbol="ETHUSDT", side="BUY", type="MARKET", quantity=1.0)
    assert code_of(exc) == -4061

    order = rest.new_order(
        symbol="ETHUSDT",
        side="BUY",
        type="MARKET",
        quantity=1.5,
        position_side="LONG",
        new_client_order_id="sdk-long-1",
        new_order_resp_type="RESULT",
    ).data()
    assert order.status == "FILLED" and order.executed_qty == "1.500" and order.position_side == "LONG"
    queried = rest.query_order(symbol="ETHUSDT", orig_client_order_id="sdk-long-1").data()
    assert queried.order_id == order.order_id and queried.status == "FILLED"

    resting = rest.new_order(
        symbol="ETHUSDT", side="SELL", type="LIMIT", time_in_force="GTC", quantity=1.0, price=3300.0, position_side="SHORT"
    ).data()
    open_ids = [o.order_id for o in rest.current_all_open_orders(symbol="ETHUSDT").data()]
    assert open_ids == [resting.order_id]
    with pytest.raises(BadRequestError) as exc:  # margin type is locked while orders are open
        rest.change_margin_type(symbol="ETHUSDT", margin_type="CROSSED")
    assert code_of(exc) in (-4047, -4048)
    canceled = rest.cancel_order(symbol="ETHUSDT", order_id=resting.order_id).data()
    assert canceled.status == "CANCELED"

    # positions: ETH LONG 1.5 at 3200, isolated wallet 1.5 * 3200 / 5 = 960
    positions = {(p.symbol, p.position_side): p for p in rest.position_information_v3(symbol="ETHUSDT").data()}
    long = positions[("ETHUSDT", "LONG")]
    assert long.position_amt == "1.500" and long.entry_price == "3200"
    assert Decimal(long.isolated_wallet) == Decimal("1.5") * 3200 / 5
    v2 = {(p.symbol, p.position_side): p for p in rest.position_information_v2().data()}
    assert v2[("ETHUSDT", "LONG")].margin_type == "isolated" and v2[("ETHUSDT", "LONG")].leverage == "5"
    assert ("BTCUSDT", "SHORT") in v2  # v2 lists every symbol and side

    # balances agree with each other: wallet = 100000 - taker fee on 1.5 * 3200
    fee = Decimal("1.5") * 3200 * Decimal("0.0005")
    account = rest.account_information_v3().data()
    assert Decimal(account.total_wallet_balance) == Decimal("100000") - fee
    assert Decimal(account.total_cross_wallet_balance) == Decimal("100000") - fee - 960
    assert Decimal(account.total_margin_balance) == Decimal(account.total_wallet_balance) + Decimal(account.total_unrealized_profit)
    (balance,) = rest.futures_account_balance_v2().data()
    assert balance.asset == "USDT" and balance.balance == account.total_wallet_balance
    assert balance.available_balance == account.available_balance
    v2_account = rest.account_information_v2().data()
    assert v2_account.total_wallet_balance == account.total_wallet_balance and len(v2_account.positions) == 12

    brackets = rest.notional_and_leverage_brackets(symbol="ETHUSDT").data().actual_instance
    assert brackets.brackets[0].initial_leverage == 125


async def test_user_data_events_through_the_sdk_stream(env) -> None:
    fsim, client = env
    rest = client.rest_api
    key = rest.start_user_data_stream().data().listen_key
    events: list[Any] = []
    streams = await client.websocket_streams.create_connection()
    try:
        handle = await streams.user_data(key)
        handle.on("message", events.append)

        def names() -> list[str]:
            return [type(e.actual_instance).__name__ for e in events]

        # the SDK subscribes asynchronously: re-send a harmless config change until events flow
        async def subscribed() -> bool:
            if not events:
                await asyncio.to_thread(rest.change_initial_leverage, symbol="BTCUSDT", leverage=10)
            return bool(events)

        await aeventually(subscribed, interval=0.2)
        config = events[0].actual_instance
        # it came over SUBSCRIBE on /private/stream: a stream-mode connection following the key, all events
        following = fsim.call(
            lambda: [
                (c.private, c.combined, {k: f.events for k, f in c.follows.items()}) for c in fsim.sim.futures.streams.conns if c.follows
            ]
        )
        assert following == [(True, True, {key: None})]
        assert type(config).__name__ == "AccountConfigUpdate" and config.ac.s == "BTCUSDT" and config.ac.l == 10

        await asyncio.to_thread(rest.new_order, symbol="BTCUSDT", side="BUY", type="MARKET", quantity=0.01, new_client_order_id="sdk-evt")

        async def got_fill() -> bool:
            assert "AccountUpdate" in names()
            return True

        await aeventually(got_fill)
        orders = [e.actual_instance for e in events if type(e.actual_instance).__name__ == "OrderTradeUpdate"]
        assert [(o.o.x, o.o.X) for o in orders] == [("NEW", "NEW"), ("TRADE", "FILLED")]
        assert orders[1].o.c == "sdk-evt" and orders[1].o.l == "0.010" and orders[1].o.ps == "BOTH"
        update = next(e.actual_instance for e in events if type(e.actual_instance).__name__ == "AccountUpdate")
        assert update.a.m == "ORDER" and update.a.P[0].pa == "0.010" and update.a.P[0].mt == "cross"
        assert Decimal(update.a.B[0].wb) == Decimal("100000") - Decimal("0.01") * 65000 * Decimal("0.0005")
    finally:
        await streams.close_connection()


async def test_orders_over_the_sdk_websocket_api(env) -> None:
    _, client = env
    ws = await client.websocket_api.create_connection()
    try:
        placed = await ws.new_order(
            symbol="BTCUSDT", side="BUY", type="LIMIT", time_in_force="GTC", quantity=0.01, price=60000.0, new_client_order_id="sdk-ws-1"
        )
        result = placed.data().result
        assert result.status == "NEW" and result.client_order_id == "sdk-ws-1"
        assert {r.rateLimitType for r in placed.rate_limits} == {"ORDERS", "REQUEST_WEIGHT"}
        status = await ws.query_order(symbol="BTCUSDT", orig_client_order_id="sdk-ws-1")
        assert status.data().result.order_id == result.order_id
        canceled = await ws.cancel_order(symbol="BTCUSDT", order_id=result.order_id)
        assert canceled.data().result.status == "CANCELED"
    finally:
        await ws.close_connection()
