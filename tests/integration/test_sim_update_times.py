"""`updateTime` fields: the time of the last change, as Binance's documented examples show them.

- USD-M `GET /fapi/v2/account` and `/fapi/v3/account` `assets[].updateTime` ("last update time",
  e.g. 1625474304765), `GET /fapi/v2/balance` and `/fapi/v3/balance` `updateTime`
  (thirdparty-coincise-scrape usdm/endpoints/private/get_fapi_v{2,3}_account.md): clients drop an asset
  whose updateTime is 0, so a funded asset must carry the time it was funded or last changed. The v2
  top-level `updateTime` is "reserved property, please ignore" and 0 in the example: it stays 0.
  Positions never traded report 0 (the positionRisk examples' flat sides), traded ones their last change.
- Spot `GET /api/v3/account` `updateTime` (binance-spot-api-docs/rest-api.md): the account's last
  balance change, not the time of the request.
- Margin `GET /sapi/v1/margin/account` has no time field (spot_api.yaml): nothing to check.
"""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import orjson
import pytest

from tests.helpers.sim import InProcessSim
from tests.helpers.wait import aeventually
from tests.integration.test_sim_rest import signed


@pytest.fixture
async def sim():  # type: ignore[no-untyped-def]
    async with InProcessSim() as running:
        yield running


async def call(sim: InProcessSim, method: str, path: str, account: str = "slave01", query: str = "") -> Any:
    key = sim.key(account, "HMAC")
    async with aiohttp.ClientSession() as session:
        async with session.request(
            method, f"{sim.http_url}{path}?{signed(key.secret or '', query)}", headers={"X-MBX-APIKEY": key.api_key}
        ) as resp:
            body = orjson.loads(await resp.read())
            assert resp.status == 200, body
            return body


def now_ms() -> int:
    return time.time_ns() // 1_000_000


async def clock_past(ms: int) -> None:
    """Wait until the wall clock has moved past `ms`, so a later change gets a later time."""

    async def moved() -> bool:
        return now_ms() > ms

    await aeventually(moved, timeout=5, interval=0.002)


async def futures_times(sim: InProcessSim, account: str = "slave01") -> dict[str, Any]:
    v2 = await call(sim, "GET", "/fapi/v2/account", account)
    v3 = await call(sim, "GET", "/fapi/v3/account", account)
    b2 = await call(sim, "GET", "/fapi/v2/balance", account)
    b3 = await call(sim, "GET", "/fapi/v3/balance", account)
    (a2,) = [a for a in v2["assets"] if a["asset"] == "USDT"]
    (a3,) = [a for a in v3["assets"] if a["asset"] == "USDT"]
    (r2,) = [b for b in b2 if b["asset"] == "USDT"]
    (r3,) = [b for b in b3 if b["asset"] == "USDT"]
    return {
        "top": v2["updateTime"],
        "v2": a2["updateTime"],
        "v3": a3["updateTime"],
        "b2": r2["updateTime"],
        "b3": r3["updateTime"],
        "wallet": a3["walletBalance"],
        "positions": v2["positions"],
    }


async def test_a_fresh_funded_futures_asset_carries_its_funding_time_and_moves_with_the_wallet(sim: InProcessSim) -> None:
    before = await futures_times(sim)
    assert before["wallet"] == "10000.00000000"
    funded = before["v3"]
    assert 0 < funded <= now_ms()
    assert before["v2"] == before["b2"] == before["b3"] == funded
    assert before["top"] == 0  # "reserved property, please ignore", 0 in Binance's example
    assert {p["updateTime"] for p in before["positions"]} == {0}  # never traded

    # a configuration change is not a change of the asset
    await clock_past(funded)
    await call(sim, "POST", "/fapi/v1/leverage", query="symbol=BTCUSDT&leverage=7")
    assert (await futures_times(sim))["v3"] == funded

    # a fill (commission) changes the wallet: updateTime moves to the fill's time
    await call(sim, "POST", "/fapi/v1/order", query="symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.010")
    after = await futures_times(sim)
    assert after["wallet"] != before["wallet"]
    assert funded < after["v3"] <= now_ms() and after["v2"] == after["b2"] == after["b3"] == after["v3"]
    assert after["top"] == 0
    (btc,) = [p for p in after["positions"] if p["symbol"] == "BTCUSDT"]
    assert btc["updateTime"] == after["v3"]  # the same fill moved the position


async def test_a_futures_deposit_moves_updatetime(sim: InProcessSim) -> None:
    funded = (await futures_times(sim))["v3"]
    await clock_past(funded)
    await sim.aadmin("POST", "/_sim/balances", {"account": "slave01", "market": "futures", "asset": "USDT", "free": "25000"})
    after = await futures_times(sim)
    assert after["wallet"] == "25000.00000000" and after["v3"] > funded


async def test_spot_account_updatetime_is_the_last_balance_change_not_the_request_time(sim: InProcessSim) -> None:
    first = await call(sim, "GET", "/api/v3/account")
    funded = first["updateTime"]
    assert 0 < funded <= now_ms()
    await clock_past(funded)
    assert (await call(sim, "GET", "/api/v3/account"))["updateTime"] == funded  # asking changes nothing

    order = await call(sim, "POST", "/api/v3/order", query="symbol=BTCUSDT&side=BUY&type=MARKET&quantity=0.001&newOrderRespType=FULL")
    assert order["status"] == "FILLED"
    traded = (await call(sim, "GET", "/api/v3/account"))["updateTime"]
    assert funded < traded <= now_ms()
    assert traded >= order["transactTime"]

    await clock_past(traded)
    await sim.aadmin("POST", "/_sim/balances", {"account": "slave01", "market": "spot", "asset": "USDT", "free": "12345"})
    assert (await call(sim, "GET", "/api/v3/account"))["updateTime"] > traded
