"""binance-connector (the legacy official connector) against the simulator, base URLs changed only:
spot and margin orders over REST with HMAC, Ed25519 and RSA keys, API key permissions, and an
order placed through its WebSocket-API client."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest

pytest.importorskip("binance.spot")

import orjson  # noqa: E402
from binance.error import ClientError  # noqa: E402
from binance.spot import Spot  # noqa: E402
from binance.websocket.spot.websocket_api import SpotWebsocketAPIClient  # noqa: E402

from tests.helpers.sim import SimKey, SimProcess  # noqa: E402
from tests.helpers.wait import eventually  # noqa: E402


def client(sim: SimProcess, key: SimKey, **kw: Any) -> Spot:
    if key.type == "HMAC":
        return Spot(api_key=key.api_key, api_secret=key.secret, base_url=sim.http_url, **kw)
    return Spot(api_key=key.api_key, private_key=key.private_key, base_url=sim.http_url, **kw)


def free(account: dict[str, Any], asset: str) -> Decimal:
    return next(Decimal(b["free"]) for b in account["balances"] if b["asset"] == asset)


@pytest.mark.parametrize("account,key_type", [("master", "HMAC"), ("slave02", "ED25519"), ("slave03", "RSA")])
def test_connector_spot_order_lifecycle(sim: SimProcess, account: str, key_type: str) -> None:
    sim.set_price("BTCUSDT", "50000")
    spot = client(sim, sim.key(account, key_type))
    usdt_before = free(spot.account(), "USDT")

    placed = spot.new_order(
        symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.01", price="49000.00", newClientOrderId=f"c-{account}"
    )
    opened = spot.get_open_orders(symbol="BTCUSDT")
    queried = spot.get_order(symbol="BTCUSDT", origClientOrderId=f"c-{account}")
    cancelled = spot.cancel_order(symbol="BTCUSDT", orderId=placed["orderId"])
    market = spot.new_order(symbol="BTCUSDT", side="BUY", type="MARKET", quoteOrderQty="100")
    trades = spot.my_trades(symbol="BTCUSDT")

    assert placed["status"] == "NEW" and placed["price"] == "49000.00000000"
    assert [o["orderId"] for o in opened] == [placed["orderId"]]
    assert queried["orderId"] == placed["orderId"]
    assert cancelled["status"] == "CANCELED" and cancelled["origClientOrderId"] == f"c-{account}"
    assert market["status"] == "FILLED" and market["executedQty"] == "0.00200000"  # 100 USDT / 50000
    assert [t["orderId"] for t in trades] == [market["orderId"]]
    assert free(spot.account(), "USDT") == usdt_before - Decimal("100")


def test_connector_errors_and_limit_usage(sim: SimProcess) -> None:
    spot = client(sim, sim.key("slave01"), show_limit_usage=True)

    with pytest.raises(ClientError) as precision:
        spot.new_order(symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.000000001", price="50000")
    with pytest.raises(ClientError) as missing:
        spot.new_order(symbol="BTCUSDT", side="BUY", type="LIMIT", quantity="0.01", price="50000")
    with pytest.raises(ClientError) as cancel:
        spot.cancel_order(symbol="BTCUSDT", orderId=42)
    usage = spot.time()

    assert precision.value.error_code == -1111
    assert missing.value.error_code == -1102 and "timeInForce" in missing.value.error_message
    assert cancel.value.error_code == -2011 and cancel.value.error_message == "Unknown order sent."
    assert "x-mbx-used-weight-1m" in {k.lower() for k in usage["limit_usage"]}


def test_connector_margin_and_api_restrictions(sim: SimProcess) -> None:
    sim.set_price("ETHUSDT", "2000")
    spot = client(sim, sim.key("slave01"))

    perms = spot.api_key_permissions()
    order = spot.new_margin_order(symbol="ETHUSDT", side="BUY", type="MARKET", quantity="3", sideEffectType="AUTO_BORROW_REPAY")
    account = spot.margin_account()
    usdt = next(a for a in account["userAssets"] if a["asset"] == "USDT")
    opened = spot.margin_open_orders(symbol="ETHUSDT")

    assert perms["enableWithdrawals"] is False and perms["enableMargin"] is True
    assert order["marginBuyBorrowAmount"] == "1000.00000000"  # 6000 needed, 5000 free
    assert usdt["borrowed"] == "1000.00000000" and usdt["netAsset"] == "-1000.00000000"
    assert opened == []


def test_connector_websocket_api_order(sim: SimProcess) -> None:
    sim.set_price("BTCUSDT", "50000")
    key = sim.key("slave01")
    replies: list[dict[str, Any]] = []
    done = threading.Event()

    def on_message(_: Any, message: str) -> None:
        replies.append(orjson.loads(message))
        done.set()

    ws = SpotWebsocketAPIClient(stream_url=sim.ws_api_url, api_key=key.api_key, api_secret=key.secret, on_message=on_message)
    try:
        ws.new_order(id="conn-1", symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.01")
        eventually(lambda: replies, timeout=10, what="order.place reply")
    finally:
        ws.stop()

    (reply,) = replies
    assert reply["id"] == "conn-1" and reply["status"] == 200
    assert reply["result"]["status"] == "FILLED"
    assert {r["rateLimitType"] for r in reply["rateLimits"]} == {"ORDERS", "REQUEST_WEIGHT"}
