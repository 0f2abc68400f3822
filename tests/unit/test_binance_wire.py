"""Wire structs decode every documented payload in tests/fixtures/userdata_*.json."""

from __future__ import annotations

import json
import pathlib
from decimal import Decimal

import msgspec
import pytest

from actors.binance import wire
from actors.binance.wire import (
    BinanceExecutionReport,
    BinanceFuturesAccountConfigUpdate,
    BinanceFuturesAccountUpdate,
    BinanceFuturesOrderTradeUpdate,
    BinanceListenKeyExpired,
    MalformedEvent,
    UnknownEvent,
    decode,
    decode_user_event,
)

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
EVENT_FIXTURES = sorted(p.name for p in FIXTURES.glob("userdata_futures_*.json")) + sorted(
    p.name for p in FIXTURES.glob("userdata_spot_*.json")
)


def raw(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_there_are_event_fixtures() -> None:
    assert len(EVENT_FIXTURES) >= 14


@pytest.mark.parametrize("name", EVENT_FIXTURES)
def test_every_event_fixture_decodes(name: str) -> None:
    event = decode_user_event(raw(name))
    expected = json.loads(raw(name))
    expected = expected.get("event", expected)
    assert event.e == expected["e"]
    if expected["e"] in wire.EVENT_TYPES:
        assert type(event) is wire.EVENT_TYPES[expected["e"]]
    else:
        assert isinstance(event, UnknownEvent)


def test_order_trade_update_fields() -> None:
    ev = decode_user_event(raw("userdata_futures_order_trade_update.json"))
    assert isinstance(ev, BinanceFuturesOrderTradeUpdate)
    o = ev.o
    assert (o.s, o.c, o.S, o.x, o.X, o.i, o.ps) == ("BTCUSDT", "TEST", "SELL", "NEW", "NEW", 8886774, "LONG")
    assert o.q == Decimal("0.001") and o.sp == Decimal("7103.04") and o.AP == Decimal("7476.89")
    assert o.l == Decimal("0") and o.t == 0 and o.R is False and o.er == "0"


def test_account_update_positions_and_balances() -> None:
    ev = decode_user_event(raw("userdata_futures_account_update.json"))
    assert isinstance(ev, BinanceFuturesAccountUpdate)
    assert ev.a.m == "ORDER"
    assert [b.a for b in ev.a.B] == ["USDT", "BUSD"] and ev.a.B[1].bc == Decimal("-49.12345678")
    short = ev.a.P[2]
    assert (short.s, short.ps, short.pa, short.ep, short.mt) == ("BTCUSDT", "SHORT", Decimal("-10"), Decimal("6563.86000"), "isolated")
    assert short.iw == Decimal("6570.42511771") and short.cr == Decimal("-45.04000000")


def test_account_config_update_both_shapes() -> None:
    lev = decode_user_event(raw("userdata_futures_account_config_update_leverage.json"))
    assert isinstance(lev, BinanceFuturesAccountConfigUpdate)
    assert lev.ac is not None and (lev.ac.s, lev.ac.l) == ("BTCUSDT", 25) and lev.ai is None
    multi = decode_user_event(raw("userdata_futures_account_config_update_multi_assets.json"))
    assert multi.ai is not None and multi.ai.j is True and multi.ac is None


def test_listen_key_expired_accepts_string_event_time() -> None:
    ev = decode_user_event(raw("userdata_futures_listen_key_expired.json"))
    assert isinstance(ev, BinanceListenKeyExpired)
    assert ev.E == 1736996475556 and ev.listenKey.startswith("WsCMN0a4")


def test_execution_report_wrapped_in_ws_api_envelope() -> None:
    ev = decode_user_event(raw("userdata_spot_execution_report.json"))
    assert isinstance(ev, BinanceExecutionReport)
    assert (ev.s, ev.c, ev.x, ev.X, ev.i, ev.t) == ("ETHBTC", "mUvoqJxFIILMdfAW5iGSOW", "NEW", "NEW", 4293153, -1)
    assert ev.p == Decimal("0.10264410") and ev.N is None and ev.C == ""


def test_unknown_event_is_kept_and_counted() -> None:
    before = wire.decode_stats.unknown
    ev = decode_user_event(raw("userdata_futures_strategy_update.json"))
    assert isinstance(ev, UnknownEvent) and ev.e == "STRATEGY_UPDATE" and b"176054594" in ev.raw
    assert wire.decode_stats.unknown == before + 1


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"{",
        b"not json",
        b"[]",
        b"null",
        b'{"E":1}',
        b'{"e":7}',
        b'{"e":"ORDER_TRADE_UPDATE","E":1,"T":1}',
        b'{"e":"ORDER_TRADE_UPDATE","E":1,"T":1,"o":{"s":"X"}}',
        b'{"e":"balanceUpdate","E":1,"a":"BTC","d":"abc","T":1}',
        b'{"subscriptionId":0,"event":{"e":"executionReport"}}',
    ],
)
def test_garbage_raises_malformed_event(payload: bytes) -> None:
    before = wire.decode_stats.malformed
    with pytest.raises(MalformedEvent):
        decode_user_event(payload)
    assert wire.decode_stats.malformed == before + 1


def test_truncated_fixture_is_malformed() -> None:
    data = raw("userdata_futures_order_trade_update.json")
    with pytest.raises(MalformedEvent):
        decode_user_event(data[: len(data) // 2])


@pytest.mark.parametrize(
    ("name", "type_"),
    [
        ("userdata_rest_futures_order.json", wire.BinanceFuturesOrder),
        ("userdata_rest_spot_order_full.json", wire.BinanceSpotOrder),
        ("userdata_rest_futures_position_risk_v2_hedge.json", list[wire.BinanceFuturesPositionRisk]),
        ("userdata_rest_futures_position_risk_v3_oneway.json", list[wire.BinanceFuturesPositionRisk]),
        ("userdata_rest_futures_position_risk_v3_hedge.json", list[wire.BinanceFuturesPositionRisk]),
        ("userdata_rest_futures_account_v2.json", wire.BinanceFuturesAccount),
        ("userdata_rest_futures_account_v3.json", wire.BinanceFuturesAccount),
        ("userdata_rest_futures_position_mode.json", wire.BinanceFuturesPositionMode),
    ],
)
def test_rest_reply_fixtures_decode(name: str, type_: object) -> None:
    value = decode(raw(name), type_)  # type: ignore[arg-type]
    assert value


def test_rest_reply_details() -> None:
    order = decode(raw("userdata_rest_spot_order_full.json"), wire.BinanceSpotOrder)
    assert order.status == "FILLED" and len(order.fills) == 5
    assert sum(f.qty for f in order.fills) == order.executedQty == Decimal("10")
    v2 = decode(raw("userdata_rest_futures_position_risk_v2_hedge.json"), list[wire.BinanceFuturesPositionRisk])
    assert v2[0].leverage == 4 and v2[0].marginType == "cross" and v2[0].isAutoAddMargin is False
    assert v2[0].positionAmt == Decimal("0.001")
    acct = decode(raw("userdata_rest_futures_account_v3.json"), wire.BinanceFuturesAccount)
    assert acct.totalWalletBalance == Decimal("103.12345678") and acct.positions[0].positionAmt == Decimal("1.000")


def test_ws_api_reply_results_decode() -> None:
    spot = json.loads(raw("userdata_wsapi_spot_order_place_reply.json"))
    order = msgspec.convert(spot["result"], wire.BinanceSpotOrder, strict=False)
    assert order.orderId == 12510053279 and order.origQty == Decimal("10.00000000")
    fut = json.loads(raw("userdata_wsapi_futures_order_place_reply.json"))
    forder = wire.convert(fut["result"], wire.BinanceFuturesOrder)
    assert forder.orderId == 336829446 and forder.price == Decimal("42088.00")
    limits = wire.convert(fut["rateLimits"], list[wire.BinanceRateLimit])
    assert limits[0].limit == 2400


def test_api_restrictions_missing_flags_stay_none() -> None:
    r = decode(b'{"enableReading":true,"enableWithdrawals":false}', wire.BinanceApiRestrictions)
    assert r.enableWithdrawals is False and r.enableFutures is None


def test_every_struct_round_trips() -> None:
    for name in EVENT_FIXTURES:
        ev = decode_user_event(raw(name))
        if isinstance(ev, UnknownEvent):
            continue
        again = decode_user_event(msgspec.json.encode(ev))
        assert again == ev
