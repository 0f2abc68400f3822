"""The simulator's USD-M user-data routes, in each form Binance documents since the 2026 URL split.

USD-M "Important WebSocket Change Notice — Base URL Split & Migration" (2026-03-06): ws mode
`/private/ws?listenKey=<k>&events=...`, stream mode `/private/stream?listenKey=<k1>&events=...&listenKey=<k2>&events=...`,
JSON SUBSCRIBE on `/private`; control frames and errors as in binance-spot-api-docs/web-socket-streams.md.
Absence is checked behind a sentinel: events on one connection leave in order, so once a later event
has arrived, an earlier one that did not arrive never will.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from typing import Any

import aiohttp
import orjson
import pytest

from tests.helpers.wait import aeventually
from tests.integration.test_sim_futures_api import ALL_EVENTS, HMAC_KEY, HMAC_SECRET, FuturesSim, Stream, ed25519_pair, sim_doc

OTHER_KEY, OTHER_SECRET = "fut-hmac-key-2", "fut-hmac-secret-2-0123456789"


@pytest.fixture
def fsim() -> Iterator[FuturesSim]:
    doc = sim_doc(ed25519_pair()[2], listen_key_ttl=3600, max_connection_age=86400)
    doc["accounts"].append(
        {"id": "other", "futures": {"USDT": "50000"}, "keys": [{"api_key": OTHER_KEY, "type": "HMAC", "secret": OTHER_SECRET}]}
    )
    sim = FuturesSim(doc)
    yield sim
    sim.close()


class Client:
    """One account's signed REST calls (aiohttp)."""

    def __init__(self, session: aiohttp.ClientSession, fsim: FuturesSim, key: str, secret: str) -> None:
        self.session, self.fsim, self.key, self.secret = session, fsim, key, secret

    async def call(self, method: str, path: str, signed: bool = True, **params: Any) -> tuple[int, Any]:
        query = urllib.parse.urlencode({**params, "timestamp": int(time.time() * 1000)} if signed else params)
        if signed:
            query += "&signature=" + hmac.new(self.secret.encode(), query.encode(), hashlib.sha256).hexdigest()
        async with self.session.request(method, f"{self.fsim.http}{path}?{query}", headers={"X-MBX-APIKEY": self.key}) as resp:
            body = await resp.read()
            return resp.status, orjson.loads(body) if body else None

    async def listen_key(self) -> str:
        status, body = await self.call("POST", "/fapi/v1/listenKey", signed=False)
        assert status == 200
        return str(body["listenKey"])

    async def buy(self, qty: str = "0.010") -> None:
        status, _ = await self.call("POST", "/fapi/v1/order", symbol="BTCUSDT", side="BUY", type="MARKET", quantity=qty)
        assert status == 200

    async def leverage(self, value: int) -> None:
        status, _ = await self.call("POST", "/fapi/v1/leverage", symbol="BTCUSDT", leverage=value)
        assert status == 200


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def reached(check: Any) -> None:
    async def probe() -> bool:
        assert check()
        return True

    await aeventually(probe, timeout=10)


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["e"] for e in events]


async def control(stream: Stream, frame: Any) -> dict[str, Any]:
    """Send one control frame and return the next reply (a frame without "e")."""
    before = len(stream.events)
    await stream.ws.send_str(frame if isinstance(frame, str) else orjson.dumps(frame).decode())
    await reached(lambda: any("e" not in e and "data" not in e for e in stream.events[before:]))
    return next(e for e in stream.events[before:] if "e" not in e and "data" not in e)


# -- ws mode ----------------------------------------------------------------------------------------


async def test_ws_mode_delivers_raw_events_of_the_types_named_only(fsim: FuturesSim, session: aiohttp.ClientSession) -> None:
    master = Client(session, fsim, HMAC_KEY, HMAC_SECRET)
    key = await master.listen_key()
    every = Stream(await session.ws_connect(f"{fsim.ws}/private/ws?listenKey={key}&events={ALL_EVENTS}"))
    narrow = Stream(await session.ws_connect(f"{fsim.ws}/private/ws?listenKey={key}&events=ORDER_TRADE_UPDATE/ACCOUNT_CONFIG_UPDATE"))
    await master.buy()
    await master.leverage(9)  # the sentinel: after the fill's ACCOUNT_UPDATE on every connection
    await reached(lambda: "ACCOUNT_CONFIG_UPDATE" in types(narrow.events))
    await reached(lambda: "ACCOUNT_CONFIG_UPDATE" in types(every.events))
    assert types(every.events) == ["ORDER_TRADE_UPDATE", "ORDER_TRADE_UPDATE", "ACCOUNT_UPDATE", "ACCOUNT_CONFIG_UPDATE"]
    assert types(narrow.events) == ["ORDER_TRADE_UPDATE", "ORDER_TRADE_UPDATE", "ACCOUNT_CONFIG_UPDATE"]
    assert narrow.events[1] == every.events[1] and narrow.events[1]["o"]["X"] == "FILLED"  # raw, unwrapped

    # listenKeyExpired obeys the filter too: named on `every`, not on `narrow`
    async with session.post(f"{fsim.http}/_sim/faults/expire-listen-key", json={"account": "master"}) as r:
        assert (await r.json())["expired"] == 1
    await reached(lambda: "listenKeyExpired" in types(every.events))
    fresh = await master.listen_key()
    sentinel = Stream(await session.ws_connect(f"{fsim.ws}/private/ws?listenKey={fresh}&events=ACCOUNT_CONFIG_UPDATE"))
    await master.leverage(8)
    await reached(lambda: sentinel.events)
    assert "listenKeyExpired" not in types(narrow.events)
    assert types(narrow.events)[-1] == "ACCOUNT_CONFIG_UPDATE" and len(narrow.events) == 3  # nothing after expiry


async def test_a_listen_key_without_events_receives_nothing_until_subscribed(
    fsim: FuturesSim, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    master = Client(session, fsim, HMAC_KEY, HMAC_SECRET)
    key = await master.listen_key()
    with caplog.at_level(logging.WARNING, logger="simulator.futures_stream"):
        bare = Stream(await session.ws_connect(f"{fsim.ws}/private/ws?listenKey={key}"))
        assert await control(bare, {"method": "LIST_SUBSCRIPTIONS", "id": 1}) == {"result": [key], "id": 1}
    assert "without events" in caplog.text and key not in caplog.text  # the key is a credential
    await master.leverage(7)
    # a bare listenKey in SUBSCRIBE follows every event (what the official SDK sends)
    assert await control(bare, {"method": "SUBSCRIBE", "params": [key], "id": 2}) == {"result": None, "id": 2}
    await master.leverage(6)
    await reached(lambda: "ACCOUNT_CONFIG_UPDATE" in types([e for e in bare.events if "e" in e]))
    updates = [e for e in bare.events if e.get("e") == "ACCOUNT_CONFIG_UPDATE"]
    assert [u["ac"]["l"] for u in updates] == [6]  # the change made before SUBSCRIBE was not delivered


# -- stream mode ------------------------------------------------------------------------------------


async def test_stream_mode_follows_several_listen_keys_each_with_its_events(fsim: FuturesSim, session: aiohttp.ClientSession) -> None:
    master = Client(session, fsim, HMAC_KEY, HMAC_SECRET)
    other = Client(session, fsim, OTHER_KEY, OTHER_SECRET)
    k1, k2 = await master.listen_key(), await other.listen_key()
    assert k1 != k2
    stream = Stream(
        await session.ws_connect(
            f"{fsim.ws}/private/stream?listenKey={k1}&events=ORDER_TRADE_UPDATE&listenKey={k2}&events=ACCOUNT_UPDATE/ACCOUNT_CONFIG_UPDATE"
        )
    )
    await master.buy()
    await other.buy("0.020")
    await master.leverage(5)  # not named for k1: never delivered
    await other.leverage(4)  # the sentinel
    await reached(lambda: any(e["data"]["e"] == "ACCOUNT_CONFIG_UPDATE" for e in stream.events))
    got = [(e["stream"], e["data"]["e"]) for e in stream.events]
    assert got == [(k1, "ORDER_TRADE_UPDATE"), (k1, "ORDER_TRADE_UPDATE"), (k2, "ACCOUNT_UPDATE"), (k2, "ACCOUNT_CONFIG_UPDATE")]
    assert stream.events[-1]["data"]["ac"] == {"s": "BTCUSDT", "l": 4}
    assert stream.events[2]["data"]["a"]["P"][0]["pa"] == "0.020"  # the other account's position
    assert set(stream.events[0]) == {"stream", "data"}


# -- SUBSCRIBE and the control frames ---------------------------------------------------------------


async def test_subscribe_unsubscribe_list_and_the_combined_property(fsim: FuturesSim, session: aiohttp.ClientSession) -> None:
    master = Client(session, fsim, HMAC_KEY, HMAC_SECRET)
    key = await master.listen_key()
    stream = Stream(await session.ws_connect(f"{fsim.ws}/private/stream"))
    assert await control(stream, {"method": "SUBSCRIBE", "params": [key], "id": 7}) == {"result": None, "id": 7}
    sid = "0f8c2a9e-6a3e-4f7e-9d3b-2c1d0e9f8a7b"  # the SDK sends UUIDs (36 characters)
    assert await control(stream, {"method": "LIST_SUBSCRIPTIONS", "id": sid}) == {"result": [key], "id": sid}
    assert await control(stream, {"method": "GET_PROPERTY", "params": ["combined"], "id": 8}) == {"result": True, "id": 8}
    await master.leverage(3)
    await reached(lambda: any("data" in e for e in stream.events))
    (wrapped,) = [e for e in stream.events if "data" in e]
    assert wrapped["stream"] == key and wrapped["data"]["e"] == "ACCOUNT_CONFIG_UPDATE"

    assert await control(stream, {"method": "SET_PROPERTY", "params": ["combined", False], "id": 9}) == {"result": None, "id": 9}
    await master.leverage(2)
    await reached(lambda: any(e.get("e") == "ACCOUNT_CONFIG_UPDATE" for e in stream.events))
    assert [e["ac"]["l"] for e in stream.events if e.get("e")] == [2]  # raw now

    assert await control(stream, {"method": "UNSUBSCRIBE", "params": [key], "id": 10}) == {"result": None, "id": 10}
    assert await control(stream, {"method": "LIST_SUBSCRIPTIONS", "id": 11}) == {"result": [], "id": 11}
    await master.leverage(11)
    sentinel = Stream(await session.ws_connect(f"{fsim.ws}/private/ws?listenKey={key}&events=ACCOUNT_CONFIG_UPDATE"))
    await master.leverage(12)
    await reached(lambda: sentinel.events)
    assert [e["ac"]["l"] for e in stream.events if e.get("e")] == [2]


@pytest.mark.parametrize(
    ("frame", "reply"),
    [
        (
            {"method": "SUBSCRIBE", "params": ["NoSuchListenKey"], "id": 1},
            {"error": {"code": 2, "msg": "Invalid request: invalid stream"}, "id": 1},
        ),
        (
            {"method": "SUBSCRIBE", "params": [], "id": 2},
            {"error": {"code": 2, "msg": "Invalid request: streams must have non-zero length"}, "id": 2},
        ),
        (
            {"method": "SUBSCRIB", "params": ["x"], "id": 3},
            {
                "error": {
                    "code": 2,
                    "msg": "Invalid request: unknown variant `SUBSCRIB`, expected one of `SUBSCRIBE`, "
                    "`UNSUBSCRIBE`, `LIST_SUBSCRIPTIONS`, `SET_PROPERTY`, `GET_PROPERTY`",
                },
                "id": 3,
            },
        ),
        (
            {"method": "SUBSCRIBE", "params": ["x"], "id": {"nested": 1}},
            {"error": {"code": 2, "msg": "Invalid request: request ID must be an unsigned integer"}, "id": None},
        ),
        ({"params": ["x"], "id": 5}, {"error": {"code": 2, "msg": "Invalid request: missing field `method`"}, "id": 5}),
        (
            {"method": "SET_PROPERTY", "params": ["combined", "yes"], "id": 6},
            {"error": {"code": 1, "msg": "Invalid value type: expected Boolean"}, "id": 6},
        ),
        ({"method": "GET_PROPERTY", "params": ["colour"], "id": 7}, {"error": {"code": 0, "msg": "Unknown property"}, "id": 7}),
        ([1, 2], {"error": {"code": 3, "msg": "Invalid JSON: expected an object"}, "id": None}),
    ],
)
async def test_control_frame_errors_as_binance_answers_them(
    fsim: FuturesSim, session: aiohttp.ClientSession, frame: Any, reply: dict[str, Any]
) -> None:
    stream = Stream(await session.ws_connect(f"{fsim.ws}/private/stream"))
    assert await control(stream, frame) == reply
    # the connection survives a bad frame
    assert await control(stream, {"method": "LIST_SUBSCRIPTIONS", "id": 99}) == {"result": [], "id": 99}


async def test_invalid_json_is_answered_with_code_3(fsim: FuturesSim, session: aiohttp.ClientSession) -> None:
    stream = Stream(await session.ws_connect(f"{fsim.ws}/private/ws"))
    answer = await control(stream, "{not json")
    assert answer["error"]["code"] == 3 and answer["error"]["msg"].startswith("Invalid JSON")


async def test_market_and_public_routes_accept_frames_and_carry_no_user_data(fsim: FuturesSim, session: aiohttp.ClientSession) -> None:
    master = Client(session, fsim, HMAC_KEY, HMAC_SECRET)
    key = await master.listen_key()
    market = Stream(await session.ws_connect(f"{fsim.ws}/market/stream"))
    assert await control(market, {"method": "SUBSCRIBE", "params": [key, "btcusdt@markPrice"], "id": 1}) == {"result": None, "id": 1}
    await master.leverage(13)
    sentinel = Stream(await session.ws_connect(f"{fsim.ws}/private/ws?listenKey={key}&events=ACCOUNT_CONFIG_UPDATE"))
    await master.leverage(14)
    await reached(lambda: sentinel.events)
    assert [e for e in market.events if "e" in e or "data" in e] == []


# -- refused URLs -----------------------------------------------------------------------------------


async def test_bad_private_urls_are_refused_naming_the_problem(fsim: FuturesSim, session: aiohttp.ClientSession) -> None:
    key = await Client(session, fsim, HMAC_KEY, HMAC_SECRET).listen_key()
    cases = [
        (f"/private/ws?listenKey={key}&events=ORDER_TRADE_UPDATE/ORDER_UPDATE", 400, "ORDER_UPDATE"),
        (f"/private/ws?events=ORDER_TRADE_UPDATE&listenKey={key}", 400, "events must follow the listenKey"),
        ("/private/stream?listenKey=NoSuchKey&events=ACCOUNT_UPDATE", 400, "This listenKey does not exist."),
    ]
    for path, status, text in cases:
        async with session.get(f"{fsim.http}{path}") as r:  # refused before the upgrade
            assert (r.status, text in await r.text()) == (status, True), path


@pytest.mark.parametrize("path", ["/ws/{key}", "/private/ws/{key}", "/stream?streams={key}"])
async def test_retired_forms_are_refused(fsim: FuturesSim, session: aiohttp.ClientSession, path: str) -> None:
    key = await Client(session, fsim, HMAC_KEY, HMAC_SECRET).listen_key()
    with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
        await session.ws_connect(f"{fsim.ws}{path.format(key=key)}")
    assert exc.value.status == 404
    async with session.get(f"{fsim.http}{path.format(key=key)}") as r:
        text = await r.text()
    assert "retired on 2026-04-23" in text and "/private/ws?listenKey=" in text and key not in text
