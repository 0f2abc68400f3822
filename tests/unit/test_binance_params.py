"""Parameter formatting (no floats, no exponents) and endpoint URLs."""

from __future__ import annotations

import pathlib
import re
from decimal import Decimal

import pytest

from actors.binance.endpoints import Endpoints, futures_user_stream_url
from actors.binance.params import encode_query, fmt_decimal, fmt_value, ws_params, ws_payload


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("1E-5"), "0.00001"),
        (Decimal("0.00001000"), "0.00001000"),
        (Decimal("1E+3"), "1000"),
        (Decimal("-0"), "0"),
        (Decimal("123.450"), "123.450"),
        (Decimal("-2.5"), "-2.5"),
    ],
)
def test_decimals_are_plain_strings(value: Decimal, text: str) -> None:
    assert fmt_decimal(value) == text
    assert "E" not in fmt_value(value)


@pytest.mark.parametrize(("value", "text"), [(True, "true"), (False, "false"), (5000, "5000"), ("GTC", "GTC")])
def test_scalars(value: object, text: str) -> None:
    assert fmt_value(value) == text


def test_float_is_refused() -> None:
    with pytest.raises(TypeError, match="float"):
        fmt_value(0.1)
    with pytest.raises(TypeError, match="float"):
        ws_params({"price": 0.1})


def test_non_finite_decimal_is_refused() -> None:
    with pytest.raises(ValueError, match="finite"):
        fmt_decimal(Decimal("NaN"))


def test_query_keeps_insertion_order_and_drops_none() -> None:
    q = encode_query({"symbol": "BTCUSDT", "side": "BUY", "price": None, "quantity": Decimal("0.001"), "reduceOnly": True})
    assert q == "symbol=BTCUSDT&side=BUY&quantity=0.001&reduceOnly=true"


def test_query_percent_encodes_reserved_characters_and_lists() -> None:
    q = encode_query([("newClientOrderId", "a b/c+d"), ("symbols", ["BTCUSDT", "ETHUSDT"])])
    assert q == "newClientOrderId=a+b%2Fc%2Bd&symbols=%5B%22BTCUSDT%22%2C%22ETHUSDT%22%5D"


def test_ws_params_keep_json_types() -> None:
    p = ws_params({"quantity": Decimal("1E-3"), "timestamp": 1, "reduceOnly": "true", "returnRateLimits": False})
    assert p == {"quantity": "0.001", "timestamp": 1, "reduceOnly": "true", "returnRateLimits": False}
    assert ws_payload(p) == "quantity=0.001&reduceOnly=true&returnRateLimits=false&timestamp=1"


def test_endpoints_live_and_testnet_urls() -> None:
    live = Endpoints.live()
    assert live.spot_rest == "https://api.binance.com"
    assert live.spot_ws_api == "wss://ws-api.binance.com:443/ws-api/v3"
    assert live.futures_ws_api == "wss://ws-fapi.binance.com/ws-fapi/v1"
    events = "ORDER_TRADE_UPDATE/ACCOUNT_UPDATE/ACCOUNT_CONFIG_UPDATE/ALGO_UPDATE/listenKeyExpired"
    # ws mode of the /private route (USD-M "Important WebSocket Change Notice", 2026-03-06)
    assert live.futures_user_stream_url("KEY") == f"wss://fstream.binance.com/private/ws?listenKey=KEY&events={events}"
    test = Endpoints.testnet()
    assert test.spot_ws_api == "wss://ws-api.testnet.binance.vision/ws-api/v3"
    assert test.futures_ws_api == "wss://testnet.binancefuture.com/ws-fapi/v1"
    assert test.futures_user_stream_url("KEY") == f"wss://fstream.binancefuture.com/private/ws?listenKey=KEY&events={events}"


def test_endpoints_local_serves_everything_on_one_port() -> None:
    local = Endpoints.local("http://127.0.0.1:8123/")
    assert local.spot_rest == local.futures_rest == "http://127.0.0.1:8123"
    assert local.spot_ws_api == "ws://127.0.0.1:8123/ws-api/v3"
    assert local.futures_ws_api == "ws://127.0.0.1:8123/ws-fapi/v1"
    assert local.futures_user_stream_url("K", ["ORDER_TRADE_UPDATE"]) == (
        "ws://127.0.0.1:8123/private/ws?listenKey=K&events=ORDER_TRADE_UPDATE"
    )
    assert Endpoints.local("127.0.0.1:9").spot_rest == "http://127.0.0.1:9"


@pytest.mark.parametrize(
    "events, what",
    [
        ([], "at least one event name"),
        (["ORDER_TRADE_UPDATE", "ACCOUNT_UPDATE&x=1"], "ACCOUNT_UPDATE&x=1"),
        (["ORDER/TRADE"], "ORDER/TRADE"),
    ],
)
def test_futures_user_stream_url_refuses_bad_event_names(events: list[str], what: str) -> None:
    with pytest.raises(ValueError, match=re.escape(what)):
        futures_user_stream_url("wss://fstream.binance.com", "KEY", events)


def test_futures_user_stream_url_quotes_the_listen_key() -> None:
    assert futures_user_stream_url("ws://h:1/", "a/b?c", ["ACCOUNT_UPDATE"]) == (
        "ws://h:1/private/ws?listenKey=a%2Fb%3Fc&events=ACCOUNT_UPDATE"
    )


def test_no_actor_uses_the_retired_path_form() -> None:
    """The listenKey as a path segment under /private/ws is not a form Binance documents."""
    root = pathlib.Path(__file__).resolve().parents[2] / "actors"
    offenders = [str(p) for p in root.rglob("*.py") if "/private/ws/" in p.read_text()]
    assert offenders == []
