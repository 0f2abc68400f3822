"""binance-sdk-spot (Binance's official Python SDK) against the simulator, base URLs changed only.

REST with HMAC, Ed25519 and RSA keys; WebSocket API with session.logon (Ed25519) and per-request
HMAC signatures; user data over the WebSocket API (executionReport, outboundAccountPosition).
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import pytest

binance_sdk_spot = pytest.importorskip("binance_sdk_spot")

from binance_common.configuration import ConfigurationRestAPI, ConfigurationWebSocketAPI  # noqa: E402
from binance_common.errors import BadRequestError, UnauthorizedError  # noqa: E402
from binance_sdk_spot.spot import Spot  # noqa: E402

from tests.helpers.sim import SimKey, SimProcess  # noqa: E402
from tests.helpers.wait import aeventually  # noqa: E402


def rest_client(sim: SimProcess, key: SimKey) -> Any:
    if key.type == "HMAC":
        cfg = ConfigurationRestAPI(api_key=key.api_key, api_secret=key.secret, base_path=sim.http_url)
    else:
        cfg = ConfigurationRestAPI(api_key=key.api_key, private_key=key.private_key, base_path=sim.http_url)
    return Spot(config_rest_api=cfg).rest_api


def ws_config(sim: SimKey | Any, key: SimKey, url: str) -> ConfigurationWebSocketAPI:
    if key.type == "HMAC":
        return ConfigurationWebSocketAPI(api_key=key.api_key, api_secret=key.secret, stream_url=url)
    return ConfigurationWebSocketAPI(api_key=key.api_key, private_key=key.private_key, stream_url=url)


def dec(value: Any) -> Decimal:
    return Decimal(str(value))


def balances(rest: Any) -> dict[str, tuple[Decimal, Decimal]]:
    data = rest.get_account().data()
    return {b.asset: (dec(b.free), dec(b.locked)) for b in data.balances}


def test_rest_hmac_market_order_query_and_balances(sim: SimProcess) -> None:
    sim.set_price("BTCUSDT", "60000")
    rest = rest_client(sim, sim.key("slave01", "HMAC"))
    before = balances(rest)

    resp = rest.new_order(
        symbol="BTCUSDT", side="BUY", type="MARKET", quantity=0.01, new_client_order_id="copy-1-1", new_order_resp_type="FULL"
    )
    order = resp.data()

    assert order.status == "FILLED"
    assert dec(order.executed_qty) == Decimal("0.01")
    assert dec(order.cummulative_quote_qty) == Decimal("600")
    assert order.fills[0].commission_asset == "BTC"
    assert any(r.rateLimitType == "REQUEST_WEIGHT" for r in resp.rate_limits)
    after = balances(rest)
    # 0.01 BTC bought at 60000: 600 USDT paid, commission 0.1% of the BTC received
    assert after["USDT"][0] == before["USDT"][0] - Decimal("600")
    assert after["BTC"][0] == before["BTC"][0] + Decimal("0.01") - Decimal("0.00001")
    queried = rest.get_order(symbol="BTCUSDT", orig_client_order_id="copy-1-1").data()
    assert queried.order_id == order.order_id and queried.status == "FILLED"
    trades = rest.my_trades(symbol="BTCUSDT").data()
    assert [t.order_id for t in trades] == [order.order_id]
    # a filled order's client id may be reused (uniqueness only among open orders)
    again = rest.new_order(symbol="BTCUSDT", side="SELL", type="MARKET", quantity=0.01, new_client_order_id="copy-1-1").data()
    assert again.order_id != order.order_id


def test_rest_limit_order_rests_partially_fills_and_cancels(sim: SimProcess) -> None:
    sim.set_price("ETHUSDT", "3000")
    rest = rest_client(sim, sim.key("master", "HMAC"))

    placed = rest.new_order(
        symbol="ETHUSDT", side="BUY", type="LIMIT", time_in_force="GTC", quantity=15, price=2900, new_client_order_id="lim-1"
    ).data()
    assert placed.status == "NEW"
    assert [o.order_id for o in rest.get_open_orders(symbol="ETHUSDT").data()] == [placed.order_id]
    usdt = balances(rest)["USDT"]
    assert usdt[1] == Decimal("43500")  # 15 x 2900 locked

    sim.set_price("ETHUSDT", "2899")  # crosses: liquidity is 10 ETH per step, so a partial fill first
    partial = rest.get_order(symbol="ETHUSDT", order_id=placed.order_id).data()
    assert partial.status == "PARTIALLY_FILLED" and dec(partial.executed_qty) == Decimal("10")

    cancelled = rest.delete_order(symbol="ETHUSDT", orig_client_order_id="lim-1").data()
    assert cancelled.status == "CANCELED"
    assert dec(cancelled.executed_qty) == Decimal("10")
    assert rest.get_open_orders(symbol="ETHUSDT").data() == []
    usdt_after = balances(rest)["USDT"]
    assert usdt_after[1] == 0
    assert usdt_after[0] == usdt[0] + usdt[1] - Decimal("29000")  # only the filled 10 ETH were paid


def test_rest_errors_are_binance_errors(sim: SimProcess) -> None:
    rest = rest_client(sim, sim.key("slave01"))

    with pytest.raises(BadRequestError) as unknown:
        rest.get_order(symbol="BTCUSDT", order_id=123)
    with pytest.raises(BadRequestError) as lot:
        rest.new_order(symbol="ETHUSDT", side="BUY", type="MARKET", quantity=0.00015)
    with pytest.raises(BadRequestError) as exponent:  # the SDK sends the float as "1e-06"
        rest.new_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=0.000001)
    with pytest.raises(BadRequestError) as notional:
        rest.new_order(symbol="DOGEUSDT", side="BUY", type="LIMIT", time_in_force="GTC", quantity=1, price=0.1)
    with pytest.raises(BadRequestError) as balance:
        rest.new_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=10)
    with pytest.raises(BadRequestError) as symbol:
        rest.new_order(symbol="NOPEUSDT", side="BUY", type="MARKET", quantity=1)

    assert "Order does not exist." in str(unknown.value)
    assert "Filter failure: LOT_SIZE" in str(lot.value)
    assert "Illegal characters found in parameter 'quantity'" in str(exponent.value)
    assert "Filter failure: NOTIONAL" in str(notional.value)
    assert "insufficient balance" in str(balance.value)
    assert "Invalid symbol." in str(symbol.value)


def test_rest_wrong_secret_and_revoked_key(sim: SimProcess) -> None:
    good = sim.key("slave01")
    bad = SimKey(good.account, good.api_key, "HMAC", secret="0" * 64)

    with pytest.raises(BadRequestError) as wrong:
        rest_client(sim, bad).get_account()
    sim.admin("POST", "/_sim/keys/revoke", {"api_key": good.api_key})
    with pytest.raises(UnauthorizedError) as revoked:
        rest_client(sim, good).get_account()

    assert "Signature for this request is not valid." in str(wrong.value)
    assert "Invalid API-key, IP, or permissions for action." in str(revoked.value)


@pytest.mark.parametrize("account,key_type", [("slave02", "ED25519"), ("slave03", "RSA")])
def test_rest_asymmetric_keys(sim: SimProcess, account: str, key_type: str) -> None:
    sim.set_price("SOLUSDT", "100")
    rest = rest_client(sim, sim.key(account, key_type))

    order = rest.new_order(symbol="SOLUSDT", side="BUY", type="MARKET", quantity=1).data()

    assert order.status == "FILLED"
    assert balances(rest)["SOL"][0] == Decimal("0.999")  # 1 SOL minus 0.1% commission


def test_exchange_info_filters(sim: SimProcess) -> None:
    rest = rest_client(sim, sim.key("slave01"))

    info = rest.exchange_info(symbol="BTCUSDT").data()

    (symbol,) = info.symbols
    kinds = {f.actual_instance.filter_type for f in symbol.filters}
    assert {"PRICE_FILTER", "LOT_SIZE", "MARKET_LOT_SIZE", "NOTIONAL"} <= kinds


async def test_wsapi_session_logon_orders_and_user_data(sim: SimProcess) -> None:
    sim.set_price("BTCUSDT", "60000")
    key = sim.key("slave02", "ED25519")
    client = Spot(config_ws_api=ws_config(sim, key, sim.ws_api_url))
    conn = await client.websocket_api.create_connection()
    events: list[Any] = []
    try:
        await conn.session_logon()
        sub = await conn.user_data_stream_subscribe()
        sub.stream.on("message", lambda e: events.append(e.actual_instance))

        placed = await conn.order_place(
            symbol="BTCUSDT", side="BUY", type="LIMIT", time_in_force="GTC", quantity=0.01, price=59000, new_client_order_id="ws-1"
        )
        data = placed.data().result
        assert data.status == "NEW"
        assert placed.rate_limits  # rateLimits in the reply
        status = (await conn.order_status(symbol="BTCUSDT", orig_client_order_id="ws-1")).data().result
        assert status.order_id == data.order_id
        cancelled = (await conn.order_cancel(symbol="BTCUSDT", order_id=data.order_id)).data().result
        assert cancelled.status == "CANCELED"

        async def got_cancel() -> bool:
            kinds = [(type(e).__name__, getattr(e, "x", None)) for e in events]
            return (
                ("ExecutionReport", "NEW") in kinds
                and ("ExecutionReport", "CANCELED") in kinds
                and ("OutboundAccountPosition", None) in kinds
            )

        await aeventually(got_cancel, timeout=5, what="executionReport NEW + CANCELED + account position")
    finally:
        await conn.close_connection(close_session=True)


async def test_wsapi_hmac_signature_subscription_and_order(sim: SimProcess) -> None:
    sim.set_price("BTCUSDT", "60000")
    key = sim.key("slave01", "HMAC")
    client = Spot(config_ws_api=ws_config(sim, key, sim.ws_api_url))
    conn = await client.websocket_api.create_connection()
    events: list[Any] = []
    try:
        sub = await conn.user_data_stream_subscribe_signature()
        sub.stream.on("message", lambda e: events.append(e.actual_instance))

        placed = (await conn.order_place(symbol="BTCUSDT", side="SELL", type="MARKET", quantity=0.01)).data().result

        assert placed.status == "FILLED"

        async def got_trade() -> bool:
            return any(type(e).__name__ == "ExecutionReport" and e.x == "TRADE" and e.X == "FILLED" for e in events)

        await aeventually(got_trade, timeout=5, what="executionReport TRADE FILLED")
    finally:
        await conn.close_connection(close_session=True)


@pytest.fixture(autouse=True)
def _quiet_sdk_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.CRITICAL, logger="root")
