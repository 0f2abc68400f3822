"""binance-sdk-margin-trading against the simulator (base URL changed only): cross-margin orders with
borrowing and auto-repay, balances computed by hand, and margin user data via listenToken."""

from __future__ import annotations

import asyncio
import urllib.request
from decimal import Decimal
from typing import Any

import aiohttp
import orjson
import pytest

pytest.importorskip("binance_sdk_margin_trading")

from binance_common.configuration import ConfigurationRestAPI  # noqa: E402
from binance_common.errors import BadRequestError  # noqa: E402
from binance_sdk_margin_trading.margin_trading import MarginTrading  # noqa: E402

from tests.helpers.sim import SimKey, SimProcess  # noqa: E402


def margin_client(sim: SimProcess, key: SimKey) -> Any:
    if key.type == "HMAC":
        cfg = ConfigurationRestAPI(api_key=key.api_key, api_secret=key.secret, base_path=sim.http_url)
    else:
        cfg = ConfigurationRestAPI(api_key=key.api_key, private_key=key.private_key, base_path=sim.http_url)
    return MarginTrading(config_rest_api=cfg).rest_api


def assets(rest: Any) -> dict[str, dict[str, Decimal]]:
    details = rest.query_cross_margin_account_details().data()
    return {
        a.asset: {"free": Decimal(a.free), "locked": Decimal(a.locked), "borrowed": Decimal(a.borrowed), "net": Decimal(a.net_asset)}
        for a in details.user_assets
    }


def test_margin_buy_borrows_and_auto_repay_repays(sim: SimProcess) -> None:
    sim.set_price("BTCUSDT", "60000")
    rest = margin_client(sim, sim.key("slave01"))  # margin: 5000 USDT

    buy = rest.margin_account_new_order(
        symbol="BTCUSDT", side="BUY", type="MARKET", quantity=0.1, side_effect_type="MARGIN_BUY", new_order_resp_type="FULL"
    ).data()

    assert buy.status == "FILLED"
    assert Decimal(buy.margin_buy_borrow_amount) == Decimal("1000")  # 6000 needed, 5000 free
    assert buy.margin_buy_borrow_asset == "USDT"
    after_buy = assets(rest)
    assert after_buy["USDT"] == {"free": 0, "locked": 0, "borrowed": Decimal("1000"), "net": Decimal("-1000")}
    assert after_buy["BTC"]["free"] == Decimal("0.0999")  # 0.1 minus 0.1% commission

    sim.set_price("BTCUSDT", "61000")
    sell = rest.margin_account_new_order(
        symbol="BTCUSDT", side="SELL", type="MARKET", quantity=0.0999, side_effect_type="AUTO_REPAY"
    ).data()

    assert sell.status == "FILLED"
    after_sell = assets(rest)
    proceeds = Decimal("0.0999") * 61000 * Decimal("0.999")  # 6093.9 minus commission 6.0939
    assert after_sell["USDT"]["borrowed"] == 0
    assert after_sell["USDT"]["free"] == proceeds - 1000
    assert after_sell["BTC"]["free"] == 0


def test_margin_limit_order_query_open_orders_cancel(sim: SimProcess) -> None:
    sim.set_price("ETHUSDT", "3000")
    rest = margin_client(sim, sim.key("slave02", "ED25519"))  # margin: 10000 USDT

    placed = rest.margin_account_new_order(
        symbol="ETHUSDT", side="BUY", type="LIMIT", quantity=1, price=2500, time_in_force="GTC", new_client_order_id="m-1"
    ).data()
    open_ids = [o.order_id for o in rest.query_margin_accounts_open_orders(symbol="ETHUSDT").data()]
    locked = assets(rest)["USDT"]["locked"]
    queried = rest.query_margin_accounts_order(symbol="ETHUSDT", orig_client_order_id="m-1").data()
    cancelled = rest.margin_account_cancel_order(symbol="ETHUSDT", order_id=placed.order_id).data()

    assert open_ids == [placed.order_id]
    assert locked == Decimal("2500")
    assert queried.status == "NEW"
    assert cancelled.status == "CANCELED"
    assert assets(rest)["USDT"] == {"free": Decimal("10000"), "locked": 0, "borrowed": 0, "net": Decimal("10000")}


def test_borrow_repay_and_limits(sim: SimProcess) -> None:
    sim.set_price("BTCUSDT", "50000")
    rest = margin_client(sim, sim.key("slave03", "RSA"))  # margin: 2000 USDT, max leverage 3

    max_btc = Decimal(rest.query_max_borrow(asset="BTC").data().amount)
    rest.margin_account_borrow_repay(asset="BTC", is_isolated="FALSE", amount="0.01", type="BORROW")
    borrowed = assets(rest)["BTC"]
    with pytest.raises(BadRequestError) as too_much:
        rest.margin_account_borrow_repay(asset="USDT", is_isolated="FALSE", amount="100000", type="BORROW")
    rest.margin_account_borrow_repay(asset="BTC", is_isolated="FALSE", amount="0.004", type="REPAY")
    repaid = assets(rest)["BTC"]

    assert max_btc == Decimal("0.08")  # (3 - 1) x 2000 USDT / 50000
    assert borrowed == {"free": Decimal("0.01"), "locked": 0, "borrowed": Decimal("0.01"), "net": 0}
    assert "exceed maximum borrow amount" in str(too_much.value)
    assert repaid == {"free": Decimal("0.006"), "locked": 0, "borrowed": Decimal("0.006"), "net": 0}


def test_insufficient_margin_balance_without_side_effect(sim: SimProcess) -> None:
    sim.set_price("BTCUSDT", "60000")
    rest = margin_client(sim, sim.key("slave01"))

    with pytest.raises(BadRequestError) as exc:
        rest.margin_account_new_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=0.1)

    assert "insufficient balance" in str(exc.value)
    assert assets(rest)["USDT"]["borrowed"] == 0


async def test_margin_user_data_via_listen_token(sim: SimProcess) -> None:
    sim.set_price("BTCUSDT", "60000")
    key = sim.key("slave01")
    rest = margin_client(sim, key)
    # USER_STREAM: API key only (the SDK has no method for it, and its generic send_request is broken)
    request = urllib.request.Request(sim.http_url + "/sapi/v1/userListenToken", method="POST", headers={"X-MBX-APIKEY": key.api_key})
    with urllib.request.urlopen(request, timeout=5) as resp:
        token = orjson.loads(resp.read())

    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(sim.ws_api_url) as ws:
            await ws.send_str(
                orjson.dumps(
                    {"id": 1, "method": "userDataStream.subscribe.listenToken", "params": {"listenToken": token["token"]}}
                ).decode()
            )
            reply = orjson.loads((await ws.receive(timeout=5)).data)
            sub_id = reply["result"]["subscriptionId"]
            await asyncio.to_thread(
                rest.margin_account_new_order, symbol="BTCUSDT", side="BUY", type="MARKET", quantity=0.1, side_effect_type="MARGIN_BUY"
            )
            events = []
            while not any(e["event"]["e"] == "outboundAccountPosition" for e in events):
                events.append(orjson.loads((await ws.receive(timeout=5)).data))
            sim.admin("POST", "/_sim/faults/expire-listen-key", {"account": "slave01"})
            terminated = orjson.loads((await ws.receive(timeout=5)).data)

    assert reply["status"] == 200 and reply["result"]["expirationTime"] == token["expirationTime"]
    assert all(e["subscriptionId"] == sub_id for e in events)
    reports = [e["event"] for e in events if e["event"]["e"] == "executionReport"]
    assert [r["X"] for r in reports] == ["NEW", "FILLED"]
    assert terminated == {"subscriptionId": sub_id, "event": {"e": "eventStreamTerminated", "E": terminated["event"]["E"]}}


async def test_invalid_listen_token_is_1209(sim: SimProcess) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(sim.ws_api_url) as ws:
            await ws.send_str(
                orjson.dumps({"id": "x", "method": "userDataStream.subscribe.listenToken", "params": {"listenToken": "nope"}}).decode()
            )
            reply = orjson.loads((await ws.receive(timeout=5)).data)

    assert reply["id"] == "x" and reply["status"] == 400
    assert reply["error"]["code"] == -1209
