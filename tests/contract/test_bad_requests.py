"""The contract check fails on deliberately bad requests, end to end: an actor-tagged client (our
RestClient and WsApiClient with the User-Agent `copytrader/<v> (slave-contract-probe)`, as an
actor process sends) talks to a simulator that records into this test's own directory (not the
session's, so these requests never reach the session's check), and the check names each one."""

from __future__ import annotations

import pytest

from actors.binance import agent
from actors.binance.errors import BinanceAPIError
from actors.binance.rest import RestClient
from actors.binance.signing import make_signer
from actors.binance.wsapi import WsApiClient
from tests.contract import check, plugin, replies, specs
from tests.helpers.deploy import key_secret
from tests.helpers.sim import TEST_CONFIG, InProcessSim

pytestmark = pytest.mark.skipif(specs.available() is not None, reason=str(specs.available()))
PROBE = "slave-contract-probe"


async def send_quietly(call) -> None:  # type: ignore[no-untyped-def]
    try:
        await call
    except BinanceAPIError:
        pass  # the simulator may refuse a bad request: it is recorded all the same


async def test_mistyped_name_wrong_enum_missing_mandatory_and_unknown_path_each_fail_naming_it(tmp_path):
    async with InProcessSim(TEST_CONFIG, overrides={"record_dir": str(tmp_path)}) as sim:
        key = sim.key("slave01", "HMAC")
        signer = make_signer("hmac", key.api_key, key_secret(key))
        rest = RestClient(sim.http_url, signer)
        ws = WsApiClient(sim.ws_api_url, signer, logon=False)
        try:
            agent.set_actor(PROBE)
            await rest.public("GET", "/fapi/v1/time")  # a good request: no finding
            await send_quietly(
                rest.signed(
                    "POST",
                    "/fapi/v1/order",
                    {  # mistyped name
                        "symbol": "BTCUSDT",
                        "side": "BUY",
                        "type": "MARKET",
                        "quantty": "0.01",
                    },
                )
            )
            await send_quietly(
                rest.signed(
                    "POST",
                    "/fapi/v1/order",
                    {  # no side
                        "symbol": "BTCUSDT",
                        "type": "MARKET",
                        "quantity": "0.01",
                    },
                )
            )
            await send_quietly(
                rest.signed(
                    "POST",
                    "/api/v3/order",
                    {  # wrong enum
                        "symbol": "BTCUSDT",
                        "side": "BUY",
                        "type": "MARKETT",
                        "quantity": "0.01",
                    },
                )
            )
            await send_quietly(rest.signed("GET", "/fapi/v1/orderz", {"symbol": "BTCUSDT"}))  # unknown path
            await ws.connect()
            await send_quietly(
                ws.request(
                    "order.place",
                    {  # WebSocket API: mistyped name
                        "symbol": "BTCUSDT",
                        "side": "BUY",
                        "type": "MARKET",
                        "quantity": "0.01",
                        "newClientOrderld": "x1",
                    },
                )
            )
            agent.set_actor(None)  # a test's own request through our client: not the actors' traffic
            await send_quietly(rest.signed("GET", "/fapi/v1/orderz", {"symbol": "BTCUSDT"}))
        finally:
            agent.set_actor(None)
            await ws.close()
            await rest.close()
    records = check.read_records(tmp_path)
    assert {r["agent"] for r in records} >= {f"copytrader/{agent.VERSION} ({PROBE})", f"copytrader/{agent.VERSION}"}
    findings, checked = check.check(records, specs.load())
    assert checked == 6  # the six tagged requests above; the untagged one is not checked
    got = {(f.endpoint, f.problem) for f in findings}
    assert got == {
        ("POST /fapi/v1/order", "unknown parameter 'quantty'"),
        ("POST /fapi/v1/order", "mandatory parameter 'side' missing"),
        (
            "POST /api/v3/order",
            "type='MARKETT' not one of ['LIMIT', 'LIMIT_MAKER', 'MARKET', 'STOP_LOSS', "
            "'STOP_LOSS_LIMIT', 'TAKE_PROFIT', 'TAKE_PROFIT_LIMIT']",
        ),
        ("GET /fapi/v1/orderz", "unknown endpoint (in no spec)"),
        ("order.place on /ws-api/v3", "unknown parameter 'newClientOrderld'"),
    }, findings
    assert all(f.actors == {PROBE} and f.count == 1 for f in findings)
    failures, summary = plugin.run_check(tmp_path)  # what the session hook reports
    assert len(failures) == 5 and all(PROBE in line for line in failures), failures
    assert "5 findings" in summary
    assert replies.check(records)[0] == []  # the good request's reply matches the docs (or has no example)
