"""Wallet/margin reference data and COIN-M exchangeInfo (issue 20, section 2).

`GET /sapi/v1/capital/config/getall`, `/sapi/v1/margin/allPairs`, `/sapi/v1/margin/isolated/allPairs`
through binance-connector (`Spot.coin_info`, `margin_all_pairs`, `isolated_margin_all_pairs`) and
binance-sdk-margin-trading; `GET /dapi/v1/exchangeInfo` through plain HTTP (no installed SDK offers
COIN-M). Plus the documented request weights of every endpoint added, read from the route table.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import orjson
import pytest

pytest.importorskip("binance")
pytest.importorskip("binance_sdk_margin_trading")

from binance.error import ClientError  # noqa: E402
from binance.spot import Spot  # noqa: E402
from binance_common.configuration import ConfigurationRestAPI  # noqa: E402
from binance_sdk_margin_trading.margin_trading import MarginTrading  # noqa: E402

from simulator.app import build_sim  # noqa: E402
from simulator.config import parse_config  # noqa: E402
from simulator.params import Params  # noqa: E402
from tests.integration.test_sim_futures_api import FuturesSim  # noqa: E402

KEY, SECRET = "wallet-key", "wallet-secret-0123456789"
SPOT_ASSETS = {"BTC", "ETH", "SOL", "BNB", "XRP", "DOGE", "USDT"}


def doc() -> dict[str, Any]:
    return {
        "simulator": {"tick_interval": 0, "paused": True},
        "accounts": [
            {"id": "w", "spot": {"USDT": "1234.5", "BTC": "0.25", "EUR": "7"}, "keys": [{"api_key": KEY, "type": "HMAC", "secret": SECRET}]}
        ],
    }


@pytest.fixture
def fsim() -> Iterator[FuturesSim]:
    sim = FuturesSim(doc())
    yield sim
    sim.close()


def test_coin_info_through_binance_connector(fsim: FuturesSim) -> None:
    client = Spot(api_key=KEY, api_secret=SECRET, base_url=fsim.http)
    coins = {c["coin"]: c for c in client.coin_info()}
    assert set(coins) == SPOT_ASSETS | {"EUR"}  # every spot asset, plus what the account holds
    btc = coins["BTC"]
    assert Decimal(btc["free"]) == Decimal("0.25") and Decimal(btc["locked"]) == 0 and btc["name"] == "Bitcoin"
    assert Decimal(coins["USDT"]["free"]) == Decimal("1234.5") and Decimal(coins["ETH"]["free"]) == 0
    (net,) = btc["networkList"]
    assert net["coin"] == "BTC" and net["isDefault"] is True
    assert (btc["depositAllEnable"], btc["withdrawAllEnable"], net["depositEnable"], net["withdrawEnable"]) == (
        False,
        False,
        False,
        False,
    )  # no chain: said in depositDesc / withdrawDesc
    assert net["depositDesc"] and net["withdrawDesc"]
    with pytest.raises(ClientError) as exc:
        Spot(api_key=KEY, api_secret="wrong", base_url=fsim.http).coin_info()
    assert exc.value.error_code == -1022


def test_margin_pairs_through_connector_and_sdk(fsim: FuturesSim) -> None:
    client = Spot(api_key=KEY, api_secret=SECRET, base_url=fsim.http)
    pairs = client.margin_all_pairs()
    assert {p["symbol"] for p in pairs} == {"BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT", "DOGEUSDT"}
    btc = next(p for p in pairs if p["symbol"] == "BTCUSDT")
    assert (btc["base"], btc["quote"], btc["isMarginTrade"], btc["isBuyAllowed"], btc["isSellAllowed"]) == ("BTC", "USDT", True, True, True)
    assert len({p["id"] for p in pairs}) == len(pairs)
    isolated = client.isolated_margin_all_pairs()
    assert {p["symbol"] for p in isolated} == {p["symbol"] for p in pairs}
    assert all(p["isMarginTrade"] is False for p in isolated)  # isolated margin is not modelled

    rest = MarginTrading(config_rest_api=ConfigurationRestAPI(api_key=KEY, api_secret=SECRET, base_path=fsim.http)).rest_api
    (one,) = rest.get_all_cross_margin_pairs(symbol="ETHUSDT").data()
    assert (one.symbol, one.base, one.quote, one.is_margin_trade) == ("ETHUSDT", "ETH", "USDT", True)
    assert one.id == next(p["id"] for p in pairs if p["symbol"] == "ETHUSDT")
    iso = rest.get_all_isolated_margin_symbol(symbol="BTCUSDT").data()
    assert [(p.symbol, p.is_margin_trade) for p in iso] == [("BTCUSDT", False)]
    with pytest.raises(ClientError) as exc:
        client.margin_all_pairs(symbol="NOPEUSDT")
    assert exc.value.error_code == -1121


def test_coinm_exchange_info_has_no_symbols(fsim: FuturesSim) -> None:
    with urllib.request.urlopen(f"{fsim.http}/dapi/v1/exchangeInfo", timeout=10) as resp:
        body = orjson.loads(resp.read())
        used = resp.headers["X-MBX-USED-WEIGHT-1M"]
    assert body["symbols"] == [] and body["exchangeFilters"] == [] and body["timezone"] == "UTC"
    assert body["serverTime"] > 0 and used == "1"
    assert body["rateLimits"] == [
        {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
        {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
    ]
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(f"{fsim.http}/dapi/v1/exchangeInfo?symbol=BTCUSD_PERP", timeout=10)
    assert exc.value.code == 400 and orjson.loads(exc.value.read())["code"] == -1104


# Binance's documented weights (rest-api.md for spot; the USD-M, margin and wallet docs as quoted
# by the official SDKs), per (method, path, parameters).
WEIGHTS = [
    ("GET", "/api/v3/ticker/24hr", {"symbol": "BTCUSDT"}, 2),
    ("GET", "/api/v3/ticker/24hr", {}, 80),
    ("GET", "/api/v3/ticker/24hr", {"symbols": orjson.dumps(["BTCUSDT"] * 20).decode()}, 2),
    ("GET", "/api/v3/ticker/24hr", {"symbols": orjson.dumps(["BTCUSDT"] * 21).decode()}, 40),
    ("GET", "/api/v3/ticker/24hr", {"symbols": orjson.dumps(["BTCUSDT"] * 101).decode()}, 80),
    ("GET", "/api/v3/depth", {"symbol": "BTCUSDT"}, 5),
    ("GET", "/api/v3/depth", {"limit": "100"}, 5),
    ("GET", "/api/v3/depth", {"limit": "101"}, 25),
    ("GET", "/api/v3/depth", {"limit": "500"}, 25),
    ("GET", "/api/v3/depth", {"limit": "1000"}, 50),
    ("GET", "/api/v3/depth", {"limit": "5000"}, 250),
    ("GET", "/api/v3/klines", {}, 2),
    ("GET", "/api/v3/aggTrades", {}, 4),
    ("POST", "/api/v3/order/cancelReplace", {}, 1),
    ("GET", "/fapi/v1/ticker/24hr", {"symbol": "BTCUSDT"}, 1),
    ("GET", "/fapi/v1/ticker/24hr", {}, 40),
    ("GET", "/fapi/v1/depth", {"limit": "50"}, 2),
    ("GET", "/fapi/v1/depth", {"limit": "100"}, 5),
    ("GET", "/fapi/v1/depth", {}, 10),
    ("GET", "/fapi/v1/depth", {"limit": "1000"}, 20),
    ("GET", "/fapi/v2/ticker/price", {"symbol": "BTCUSDT"}, 1),
    ("GET", "/fapi/v2/ticker/price", {}, 2),
    ("PUT", "/fapi/v1/order", {}, 0),
    ("GET", "/fapi/v1/symbolConfig", {}, 5),
    ("GET", "/fapi/v1/userTrades", {}, 5),
    ("GET", "/fapi/v1/income", {}, 30),
    ("GET", "/sapi/v1/capital/config/getall", {}, 10),
    ("GET", "/sapi/v1/margin/allPairs", {}, 1),
    ("GET", "/sapi/v1/margin/isolated/allPairs", {}, 10),
    ("GET", "/dapi/v1/exchangeInfo", {}, 1),
]


def test_documented_weights() -> None:
    sim = build_sim(parse_config(doc()))
    wrong = [
        (m, path, params, sim.api.rest[(m, path)].weight_of(Params(params)), want)
        for m, path, params, want in WEIGHTS
        if sim.api.rest[(m, path)].weight_of(Params(params)) != want
    ]
    assert wrong == []
    limiters = {path: sim.api.rest[(m, path)].limiter for m, path, _, _ in WEIGHTS}
    assert {p for p, lim in limiters.items() if lim == "futures"} == {
        "/fapi/v1/ticker/24hr",
        "/fapi/v1/depth",
        "/fapi/v2/ticker/price",
        "/fapi/v1/order",
        "/fapi/v1/symbolConfig",
        "/fapi/v1/userTrades",
        "/fapi/v1/income",
    }
    assert limiters["/dapi/v1/exchangeInfo"] == "coinm"
    orders = {(m, p) for (m, p), ep in sim.api.rest.items() if ep.order}
    assert {("POST", "/api/v3/order/cancelReplace"), ("PUT", "/fapi/v1/order")} <= orders  # ORDERS count
