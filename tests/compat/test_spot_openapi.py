"""Response field sets of the spot and margin endpoints against Binance's OpenAPI spec.

The spec (`../shared/binance-reference/binance-api-swagger/spot_api.yaml`, 2024) is stale in
places: a response must carry every required field (except documented conditional ones) and may carry
only the spec's fields plus the few that rest-api.md documents as newer (listed below).
Skipped where the reference folder is absent.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import urllib.request
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.helpers.sim import REPO, SimProcess

SPEC = REPO.parent / "shared" / "binance-reference" / "binance-api-swagger" / "spot_api.yaml"
pytestmark = pytest.mark.skipif(not SPEC.exists(), reason=f"{SPEC} not present")

# Fields missing from the 2024 spec but in Binance's docs: `origQuoteOrderQty` (binance-spot-api-docs/
# rest-api.md, New order / Query order), `isIsolated` (margin "Cancel Order" response example),
# `enableFixApiTrade` / `enableFixReadOnly` (wallet "Get API Key Permission" response example, 2025).
NEWER = {"origQuoteOrderQty", "isIsolated", "enableFixApiTrade", "enableFixReadOnly"}
# Fields the spec marks required that Binance sends only when they apply.
CONDITIONAL = {"marginBuyBorrowAmount", "marginBuyBorrowAsset", "strategyId", "strategyType", "preventedMatchId", "preventedQuantity"}


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load(Path(SPEC).read_text())


def schema_of(spec: dict[str, Any], path: str, method: str, variant: int | None = None) -> dict[str, Any]:
    schemas = spec["components"]["schemas"]

    def resolve(s: dict[str, Any]) -> dict[str, Any]:
        return resolve(schemas[s["$ref"].rsplit("/", 1)[1]]) if "$ref" in s else s

    s = resolve(spec["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"])
    if "oneOf" in s:
        s = resolve(s["oneOf"][variant or 0])
    if s.get("type") == "array":
        s = resolve(s["items"])
    return s


def check(row: dict[str, Any], schema: dict[str, Any]) -> None:
    props = set(schema.get("properties", {}))
    required = set(schema.get("required", [])) - CONDITIONAL
    assert required <= set(row), f"missing {sorted(required - set(row))}"
    assert set(row) <= props | NEWER, f"not in spec {sorted(set(row) - props - NEWER)}"


def call(sim: SimProcess, method: str, path: str, params: dict[str, Any], account: str = "master") -> Any:
    key = sim.key(account, "HMAC")
    assert key.secret is not None
    query = "&".join(f"{k}={v}" for k, v in {**params, "timestamp": int(time.time() * 1000)}.items())
    sig = hmac.new(key.secret.encode(), query.encode(), hashlib.sha256).hexdigest()
    req = urllib.request.Request(f"{sim.http_url}{path}?{query}&signature={sig}", method=method, headers={"X-MBX-APIKEY": key.api_key})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return orjson.loads(resp.read())


def test_spot_field_sets(sim: SimProcess, spec: dict[str, Any]) -> None:
    sim.set_price("BTCUSDT", "60000")
    ack = call(
        sim, "POST", "/api/v3/order", {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001", "newOrderRespType": "ACK"}
    )
    result = call(
        sim,
        "POST",
        "/api/v3/order",
        {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001", "newOrderRespType": "RESULT"},
    )
    full = call(
        sim,
        "POST",
        "/api/v3/order",
        {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.001", "price": "50000"},
    )

    check(ack, schema_of(spec, "/api/v3/order", "post", 0))
    check(result, schema_of(spec, "/api/v3/order", "post", 1))
    check(full, schema_of(spec, "/api/v3/order", "post", 2))
    check(call(sim, "GET", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": full["orderId"]}), schema_of(spec, "/api/v3/order", "get"))
    (open_row,) = call(sim, "GET", "/api/v3/openOrders", {"symbol": "BTCUSDT"})
    check(open_row, schema_of(spec, "/api/v3/openOrders", "get"))
    check(
        call(sim, "DELETE", "/api/v3/order", {"symbol": "BTCUSDT", "orderId": full["orderId"]}), schema_of(spec, "/api/v3/order", "delete")
    )
    trades = call(sim, "GET", "/api/v3/myTrades", {"symbol": "BTCUSDT"})
    assert len(trades) == 2
    check(trades[0], schema_of(spec, "/api/v3/myTrades", "get"))
    check(call(sim, "GET", "/api/v3/account", {}), schema_of(spec, "/api/v3/account", "get"))
    info = call(sim, "GET", "/api/v3/exchangeInfo", {})
    check(info, schema_of(spec, "/api/v3/exchangeInfo", "get"))
    check(call(sim, "GET", "/api/v3/ticker/price", {"symbol": "BTCUSDT"}), schema_of(spec, "/api/v3/ticker/price", "get", 0))
    check(call(sim, "GET", "/api/v3/time", {}), schema_of(spec, "/api/v3/time", "get"))


def test_margin_and_wallet_field_sets(sim: SimProcess, spec: dict[str, Any]) -> None:
    sim.set_price("BTCUSDT", "60000")
    ack = call(
        sim,
        "POST",
        "/sapi/v1/margin/order",
        {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001", "newOrderRespType": "ACK"},
    )
    result = call(
        sim,
        "POST",
        "/sapi/v1/margin/order",
        {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.001", "newOrderRespType": "RESULT"},
    )
    full = call(
        sim,
        "POST",
        "/sapi/v1/margin/order",
        {"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "1", "sideEffectType": "MARGIN_BUY"},
    )
    resting = call(
        sim,
        "POST",
        "/sapi/v1/margin/order",
        {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01", "price": "70000"},
    )

    check(ack, schema_of(spec, "/sapi/v1/margin/order", "post", 0))
    check(result, schema_of(spec, "/sapi/v1/margin/order", "post", 1))
    check(full, schema_of(spec, "/sapi/v1/margin/order", "post", 2))
    assert full["marginBuyBorrowAsset"] == "USDT"
    check(
        call(sim, "GET", "/sapi/v1/margin/order", {"symbol": "BTCUSDT", "orderId": resting["orderId"]}),
        schema_of(spec, "/sapi/v1/margin/order", "get"),
    )
    (open_row,) = call(sim, "GET", "/sapi/v1/margin/openOrders", {"symbol": "BTCUSDT"})
    check(open_row, schema_of(spec, "/sapi/v1/margin/openOrders", "get"))
    check(
        call(sim, "DELETE", "/sapi/v1/margin/order", {"symbol": "BTCUSDT", "orderId": resting["orderId"]}),
        schema_of(spec, "/sapi/v1/margin/order", "delete"),
    )
    trades = call(sim, "GET", "/sapi/v1/margin/myTrades", {"symbol": "BTCUSDT"})
    check(trades[0], schema_of(spec, "/sapi/v1/margin/myTrades", "get"))
    check(call(sim, "GET", "/sapi/v1/margin/account", {}), schema_of(spec, "/sapi/v1/margin/account", "get"))
    check(call(sim, "GET", "/sapi/v1/margin/maxBorrowable", {"asset": "BTC"}), schema_of(spec, "/sapi/v1/margin/maxBorrowable", "get"))
    check(
        call(sim, "POST", "/sapi/v1/margin/borrow-repay", {"asset": "BTC", "isIsolated": "FALSE", "amount": "0.001", "type": "BORROW"}),
        schema_of(spec, "/sapi/v1/margin/borrow-repay", "post"),
    )
    check(call(sim, "GET", "/sapi/v1/account/apiRestrictions", {}), schema_of(spec, "/sapi/v1/account/apiRestrictions", "get"))
