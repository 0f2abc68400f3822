"""Parameter validation of the endpoints added for issue 20 (section 2): Binance's error codes, never a 500.

Plain HTTP against an in-thread simulator; each bad request names what is wrong with Binance's code.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from tests.integration.test_sim_futures_api import FuturesSim

KEY, SECRET = "val-key", "val-secret-0123456789"
NOFUT_KEY, NOFUT_SECRET = "val-nofut", "val-nofut-secret-0123456789"


@pytest.fixture(scope="module")
def fsim() -> Iterator[FuturesSim]:
    sim = FuturesSim(
        {
            "simulator": {"tick_interval": 0, "paused": True},
            "accounts": [
                {
                    "id": "v",
                    "spot": {"USDT": "1000"},
                    "futures": {"USDT": "1000"},
                    "keys": [
                        {"api_key": KEY, "type": "HMAC", "secret": SECRET},
                        {"api_key": NOFUT_KEY, "type": "HMAC", "secret": NOFUT_SECRET, "permissions": {"enableFutures": False}},
                    ],
                }
            ],
        }
    )
    yield sim
    sim.close()


def call(
    fsim: FuturesSim, method: str, path: str, params: dict[str, Any], signed: bool = False, key: str = KEY, secret: str = SECRET
) -> tuple[int, Any]:
    query = urllib.parse.urlencode(params)
    if signed:
        query = urllib.parse.urlencode({**params, "timestamp": int(time.time() * 1000)})
        query += "&signature=" + hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    req = urllib.request.Request(f"{fsim.http}{path}?{query}", method=method, headers={"X-MBX-APIKEY": key})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, orjson.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, orjson.loads(exc.read())


PUBLIC = [
    ("/api/v3/depth", {}, -1102),
    ("/api/v3/depth", {"symbol": "BTCUSDT", "limit": "0"}, -1130),
    ("/api/v3/depth", {"symbol": "BTCUSDT", "limit": "ten"}, -1100),
    ("/api/v3/depth", {"symbol": "BTCUSDT", "depth": "5"}, -1104),
    ("/api/v3/depth", {"symbol": "BTCUSDT", "symbolStatus": "HALT"}, -1220),
    ("/api/v3/depth", {"symbol": "BTCUSDT", "symbolStatus": "OPEN"}, -1130),
    ("/api/v3/klines", {"symbol": "BTCUSDT"}, -1102),
    ("/api/v3/klines", {"symbol": "BTCUSDT", "interval": "2m"}, -1120),
    ("/api/v3/klines", {"symbol": "BTCUSDT", "interval": "1m", "limit": "-3"}, -1130),
    ("/api/v3/ticker/24hr", {"symbol": "BTCUSDT", "symbols": '["BTCUSDT"]'}, -1128),
    ("/api/v3/ticker/24hr", {"symbols": "BTCUSDT"}, -1135),
    ("/api/v3/ticker/24hr", {"symbols": '["BTCUSDT","NOPEUSDT"]'}, -1121),
    ("/api/v3/ticker/24hr", {"type": "BIG"}, -1130),
    ("/api/v3/aggTrades", {"symbol": "NOPEUSDT"}, -1121),
    ("/fapi/v1/depth", {"symbol": "NOPEUSDT"}, -1121),
    ("/fapi/v1/depth", {"symbol": "BTCUSDT", "limit": "7"}, -1130),
    ("/fapi/v1/ticker/24hr", {"symbol": "NOPEUSDT"}, -1121),
    ("/fapi/v2/ticker/price", {"symbol": "NOPEUSDT"}, -1121),
    ("/fapi/v2/ticker/price", {"symbol": "BTCUSDT", "symbols": "x"}, -1104),
]


@pytest.mark.parametrize(("path", "params", "code"), PUBLIC)
def test_public_parameters_are_validated(fsim: FuturesSim, path: str, params: dict[str, Any], code: int) -> None:
    status, body = call(fsim, "GET", path, params)
    assert (status, body["code"]) == (400, code), body


def test_out_of_range_times_answer_empty_lists(fsim: FuturesSim) -> None:
    for params in (
        {"startTime": "9999999999999999999"},
        {"endTime": "-5"},
        {"endTime": "-9999999999999999999"},
        {"startTime": "5", "endTime": "4"},
    ):
        for interval in ("1m", "1M", "1w"):
            status, body = call(fsim, "GET", "/api/v3/klines", {"symbol": "BTCUSDT", "interval": interval, **params})
            assert (status, body) == (200, []), (interval, params, body)
    status, body = call(fsim, "GET", "/api/v3/aggTrades", {"symbol": "BTCUSDT", "startTime": "9999999999999"})
    assert (status, body) == (200, [])


SIGNED = [
    ("GET", "/fapi/v1/userTrades", {}, -1102),
    ("GET", "/fapi/v1/userTrades", {"symbol": "BTCUSDT", "fromId": "1", "startTime": "1"}, -1128),
    ("GET", "/fapi/v1/userTrades", {"symbol": "BTCUSDT", "startTime": "0", "endTime": str(8 * 86_400_000)}, -1127),
    ("GET", "/fapi/v1/userTrades", {"symbol": "BTCUSDT", "limit": "0"}, -1130),
    ("GET", "/fapi/v1/income", {"page": "0"}, -1130),
    ("GET", "/fapi/v1/income", {"incomeType": "TRANSFERS"}, -1130),
    ("GET", "/fapi/v1/income", {"symbol": "NOPEUSDT"}, -1121),
    ("GET", "/fapi/v1/symbolConfig", {"symbol": "BTCUSDT", "leverage": "5"}, -1104),
    ("PUT", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "BUY", "quantity": "0.01", "price": "60000"}, -1102),
    ("PUT", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "BUY", "orderId": "1", "price": "60000"}, -1102),
    ("PUT", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "BUY", "orderId": "1", "quantity": "0.01"}, -1102),
    ("PUT", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "UP", "orderId": "1", "quantity": "0.01", "price": "60000"}, -1117),
    ("PUT", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "BUY", "orderId": "1", "quantity": "1e-2", "price": "60000"}, -1100),
    ("PUT", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "BUY", "orderId": "1", "quantity": "0.01", "price": "60000"}, -2013),
    ("PUT", "/fapi/v1/order", {"symbol": "BTCUSDT", "side": "BUY", "orderId": "1", "quantity": "0.01", "priceMatch": "QUEUE"}, -1106),
    (
        "POST",
        "/api/v3/order/cancelReplace",
        {
            "symbol": "BTCUSDT",
            "side": "BUY",
            "type": "LIMIT",
            "cancelReplaceMode": "STOP_ON_FAILURE",
            "timeInForce": "GTC",
            "quantity": "0.001",
            "price": "50000",
        },
        -1102,
    ),
    (
        "POST",
        "/api/v3/order/cancelReplace",
        {
            "symbol": "BTCUSDT",
            "side": "BUY",
            "type": "LIMIT",
            "cancelReplaceMode": "SOMETIMES",
            "timeInForce": "GTC",
            "quantity": "0.001",
            "price": "50000",
            "cancelOrderId": "1",
        },
        -1130,
    ),
    (
        "POST",
        "/api/v3/order/cancelReplace",
        {
            "symbol": "BTCUSDT",
            "side": "BUY",
            "type": "LIMIT",
            "cancelReplaceMode": "STOP_ON_FAILURE",
            "timeInForce": "GTC",
            "quantity": "0.001",
            "price": "50000",
            "cancelOrderId": "1",
            "cancelRestrictions": "ONLY_OLD",
        },
        -1130,
    ),
    (
        "POST",
        "/api/v3/order/cancelReplace",
        {
            "symbol": "BTCUSDT",
            "side": "BUY",
            "type": "STOP_LOSS",
            "cancelReplaceMode": "STOP_ON_FAILURE",
            "quantity": "0.001",
            "cancelOrderId": "1",
        },
        -1102,  # a stop without its stopPrice (or trailingDelta)
    ),
]


@pytest.mark.parametrize(("method", "path", "params", "code"), SIGNED)
def test_signed_parameters_are_validated(fsim: FuturesSim, method: str, path: str, params: dict[str, Any], code: int) -> None:
    status, body = call(fsim, method, path, params, signed=True)
    assert (status, body["code"]) == (400, code), body


def test_keys_and_permissions(fsim: FuturesSim) -> None:
    for path in ("/fapi/v1/symbolConfig", "/fapi/v1/userTrades", "/fapi/v1/income"):
        status, body = call(fsim, "GET", path, {"symbol": "BTCUSDT"}, signed=True, key=NOFUT_KEY, secret=NOFUT_SECRET)
        assert (status, body["code"]) == (401, -2015), path
    status, body = call(fsim, "GET", "/fapi/v1/income", {"timestamp": "1"}, key=KEY)  # unsigned
    assert status == 400 and body["code"] in (-1021, -1102)
    for path in ("/sapi/v1/margin/allPairs", "/sapi/v1/margin/isolated/allPairs"):  # MARKET_DATA: a key is needed
        status, body = call(fsim, "GET", path, {}, key="")
        assert (status, body["code"]) == (401, -2014), path
    status, body = call(fsim, "GET", "/sapi/v1/capital/config/getall", {}, signed=True, key="unknown-key")
    assert (status, body["code"]) == (401, -2015)
