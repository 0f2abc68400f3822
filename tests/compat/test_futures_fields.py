"""Futures response and event field sets against the USD-M docs (thirdparty-coincise-scrape).

Every field name in a doc's response example must be present in the simulator's answer. Fields
the docs mark as trailing-stop only (`activatePrice`, `priceRate`, `AP`, `cr` of an order) are not
expected on LIMIT/MARKET orders. Skips cleanly where ../shared is absent.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from tests.helpers.wait import aeventually
from tests.integration.test_sim_futures_api import FuturesSim, ed25519_pair, market_buy, open_stream, rest, sim_doc

DOCS = Path(__file__).resolve().parents[2].parent / "shared/binance-reference/thirdparty-coincise-scrape/docs/binance/usdm"
pytestmark = pytest.mark.skipif(not DOCS.is_dir(), reason=f"{DOCS} not present")
FIELD = re.compile(r'"([A-Za-z][A-Za-z0-9]*)"\s*:')
TRAILING_ONLY = {"activatePrice", "priceRate"}


def fields_of_block(block: str) -> set[str]:
    """Field names in a doc example (comments dropped: they sometimes hold quoted words)."""
    names: set[str] = set()
    for line in block.splitlines():
        names.update(FIELD.findall(line.split("//")[0]))
    return names


def example_after(text: str, heading: str) -> str:
    """The first ``` block of the 'Response Example' that follows `heading`."""
    start = text.index(heading)
    start = text.index("### Response Example", start)
    start = text.index("```", start)
    start = text.index("\n", start) + 1
    return text[start : text.index("```", start)]


def doc_fields(rel: str, heading: str = "### Response Example") -> set[str]:
    return fields_of_block(example_after((DOCS / rel).read_text(encoding="utf-8"), heading))


def flat_keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        out = set(value)
        for v in value.values():
            out |= flat_keys(v)
        return out
    if isinstance(value, list):
        out = set()
        for v in value:
            out |= flat_keys(v)
        return out
    return set()


def missing(doc: set[str], ours: Any) -> set[str]:
    return doc - flat_keys(ours)


@pytest.fixture
def fsim():
    sim = FuturesSim(sim_doc(ed25519_pair()[2]))
    yield sim
    sim.close()


def test_the_doc_parser_sees_fields() -> None:
    assert {"dualSidePosition"} == doc_fields("endpoints/private/get_fapi_v1_positionside_dual.md")
    assert fields_of_block('{"a": 1, // "b": 2\n "c":{"d":"x"}}') == {"a", "c", "d"}


async def test_rest_fields_match_the_docs(fsim: FuturesSim) -> None:
    async with aiohttp.ClientSession() as s:
        _, placed, _ = await market_buy(s, fsim, newOrderRespType="RESULT")
        assert not missing(doc_fields("endpoints/public/post_fapi_v1_order.md") - TRAILING_ONLY, placed)
        _, resting, _ = await rest(
            s,
            fsim,
            "POST",
            "/fapi/v1/order",
            symbol="BTCUSDT",
            side="SELL",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.005",
            price="66000",
        )
        checks: list[tuple[str, str, str, dict[str, Any]]] = [
            ("endpoints/private/get_fapi_v2_account.md", "GET", "/fapi/v2/account", {}),
            ("endpoints/private/get_fapi_v3_account.md", "GET", "/fapi/v3/account", {}),
            ("endpoints/private/get_fapi_v2_positionrisk.md", "GET", "/fapi/v2/positionRisk", {"symbol": "BTCUSDT"}),
            ("endpoints/private/get_fapi_v3_positionrisk.md", "GET", "/fapi/v3/positionRisk", {}),
            ("endpoints/private/get_fapi_v1_positionside_dual.md", "GET", "/fapi/v1/positionSide/dual", {}),
            ("endpoints/private/post_fapi_v1_leverage.md", "POST", "/fapi/v1/leverage", {"symbol": "ETHUSDT", "leverage": 3}),
            (
                "endpoints/private/post_fapi_v1_margintype.md",
                "POST",
                "/fapi/v1/marginType",
                {"symbol": "ETHUSDT", "marginType": "ISOLATED"},
            ),
            (
                "endpoints/private/post_fapi_v1_positionside_dual.md",
                "POST",
                "/fapi/v1/positionSide/dual",
                {"dualSidePosition": "true"},
            ),  # refused (-4068: open position) -> the error shape is checked below
        ]
        for doc, method, path, params in checks[:-1]:
            status, body, _ = await rest(s, fsim, method, path, **params)
            assert status == 200, (path, body)
            assert not missing(doc_fields(doc), body), (path, missing(doc_fields(doc), body))
        doc, method, path, params = checks[-1]
        status, body, _ = await rest(s, fsim, method, path, **params)
        assert status == 400 and set(body) == {"code", "msg"} and body["code"] in (-4067, -4068)

        ws_doc = (DOCS / "private_websocket_api.md").read_text(encoding="utf-8")
        _, queried, _ = await rest(s, fsim, "GET", "/fapi/v1/order", symbol="BTCUSDT", orderId=resting["orderId"])
        assert not missing(
            fields_of_block(example_after(ws_doc, "## Query Order (USER_DATA)")) - {"id", "status", "result"} - TRAILING_ONLY, queried
        )
        _, canceled, _ = await rest(s, fsim, "DELETE", "/fapi/v1/order", symbol="BTCUSDT", orderId=resting["orderId"])
        assert not missing(
            fields_of_block(example_after(ws_doc, "## Cancel Order (TRADE)"))
            - {"id", "status", "result", "rateLimits", "rateLimitType", "interval", "intervalNum", "limit", "count"}
            - TRAILING_ONLY,
            canceled,
        )
        _, listen, _ = await rest(s, fsim, "POST", "/fapi/v1/listenKey", signed=False)
        assert set(listen) == fields_of_block(example_after(ws_doc, "## Start User Data Stream (USER_STREAM)"))


async def test_event_fields_match_the_docs(fsim: FuturesSim) -> None:
    ws_doc = (DOCS / "private_websocket_api.md").read_text(encoding="utf-8")
    async with aiohttp.ClientSession() as s:
        _, body, _ = await rest(s, fsim, "POST", "/fapi/v1/listenKey", signed=False)
        stream = await open_stream(s, fsim, body["listenKey"])
        await rest(s, fsim, "POST", "/fapi/v1/leverage", symbol="BTCUSDT", leverage=9)
        await market_buy(s, fsim)
        async with s.post(f"{fsim.http}/_sim/faults/expire-listen-key", json={}) as r:
            assert r.status == 200

        async def all_there() -> bool:
            assert {e["e"] for e in stream.events} >= {"ORDER_TRADE_UPDATE", "ACCOUNT_UPDATE", "ACCOUNT_CONFIG_UPDATE", "listenKeyExpired"}
            return True

        await aeventually(all_there)
        by_type = {e["e"]: e for e in stream.events}
        order_doc = fields_of_block(example_after(ws_doc, "## Event: Order Update")) - {"AP", "cr"}
        assert not missing(order_doc, by_type["ORDER_TRADE_UPDATE"])
        assert set(by_type["ORDER_TRADE_UPDATE"]["o"]) == order_doc - {"e", "E"}  # "T" and "o" exist inside too
        assert not missing(fields_of_block(example_after(ws_doc, "## Event: Balance and Position Update")), by_type["ACCOUNT_UPDATE"])
        assert not missing(fields_of_block(example_after(ws_doc, "## Event: User Data Stream Expired")), by_type["listenKeyExpired"])
        config_doc = ws_doc[ws_doc.index("## Event: Account Configuration Update") :]
        config_block = config_doc[config_doc.index("```json") + 7 :]
        config_block = config_block[: config_block.index("```")]
        assert not missing(fields_of_block(config_block), by_type["ACCOUNT_CONFIG_UPDATE"])
        # event times are integers except listenKeyExpired's, which Binance sends as a string
        assert isinstance(by_type["ORDER_TRADE_UPDATE"]["E"], int)
        assert isinstance(by_type["listenKeyExpired"]["E"], str)
        assert orjson.loads(orjson.dumps(by_type["ACCOUNT_UPDATE"]))["a"]["B"][0]["a"] == "USDT"
