"""binance-sdk-spot against the simulator's market data and cancel-replace (issue 20, section 2).

`GET /api/v3/ticker/24hr`, `/api/v3/depth`, `/api/v3/klines`, `/api/v3/aggTrades` and
`POST /api/v3/order/cancelReplace` through Binance's own SDK, base URL changed only; the 409
partial failure (which the SDK reports without its status) through plain signed HTTP.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import orjson
import pytest

pytest.importorskip("binance_sdk_spot")

from binance_common.configuration import ConfigurationRestAPI  # noqa: E402
from binance_common.errors import BadRequestError  # noqa: E402
from binance_sdk_spot.spot import Spot  # noqa: E402

from tests.integration.test_sim_futures_api import FuturesSim  # noqa: E402

KEY, SECRET = "spot-md-key", "spot-md-secret-0123456789"
TICK = Decimal("0.01")


def doc() -> dict[str, Any]:
    return {
        "simulator": {"tick_interval": 0, "paused": True, "slippage_bps": 10},
        "accounts": [
            {
                "id": "trader",
                "spot": {"USDT": "100000", "BTC": "1"},
                "futures": {"USDT": "1000"},
                "keys": [{"api_key": KEY, "type": "HMAC", "secret": SECRET}],
            }
        ],
    }


@pytest.fixture
def env() -> Iterator[tuple[FuturesSim, Any]]:
    fsim = FuturesSim(doc())
    rest = Spot(config_rest_api=ConfigurationRestAPI(api_key=KEY, api_secret=SECRET, base_path=fsim.http)).rest_api
    yield fsim, rest
    fsim.close()


def signed(fsim: FuturesSim, method: str, path: str, **params: Any) -> tuple[int, Any]:
    query = urllib.parse.urlencode({**params, "timestamp": int(time.time() * 1000)})
    sig = hmac.new(SECRET.encode(), query.encode(), hashlib.sha256).hexdigest()
    req = urllib.request.Request(f"{fsim.http}{path}?{query}&signature={sig}", method=method, headers={"X-MBX-APIKEY": KEY})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, orjson.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, orjson.loads(exc.read())


def d(value: Any) -> Decimal:
    return Decimal(str(value))


def test_depth_is_resting_orders_plus_synthetic_levels(env) -> None:
    fsim, rest = env
    fsim.set_price("BTCUSDT", "60000")
    rest.new_order(symbol="BTCUSDT", side="BUY", type="LIMIT", time_in_force="GTC", quantity=0.002, price=59950)
    book = rest.depth(symbol="BTCUSDT", limit=5).data()
    # synthetic liquidity: 0.5 BTC per level (BTCUSDT's liquidity), from price -/+ 10 bps, one tick apart
    assert [(d(p), d(q)) for p, q in book.bids] == [
        (Decimal("59950"), Decimal("0.002")),
        (Decimal("59940"), Decimal("0.5")),
        (Decimal("59939.99"), Decimal("0.5")),
        (Decimal("59939.98"), Decimal("0.5")),
        (Decimal("59939.97"), Decimal("0.5")),
    ]
    assert [(d(p), d(q)) for p, q in book.asks][:2] == [(Decimal("60060"), Decimal("0.5")), (Decimal("60060.01"), Decimal("0.5"))]
    assert len(book.asks) == 5 and all(len(p.split(".")[1]) == 8 for p, _ in book.bids)
    again = rest.depth(symbol="BTCUSDT", limit=5).data()
    assert again.last_update_id == book.last_update_id  # nothing changed
    rest.new_order(symbol="BTCUSDT", side="SELL", type="LIMIT", time_in_force="GTC", quantity=0.001, price=60040)
    changed = rest.depth(symbol="BTCUSDT").data()
    assert changed.last_update_id > book.last_update_id
    assert (d(changed.asks[0][0]), d(changed.asks[0][1])) == (Decimal("60040"), Decimal("0.001"))
    assert len(changed.bids) == 100  # the default limit
    with pytest.raises(BadRequestError) as exc:
        rest.depth(symbol="NOPEUSDT")
    assert exc.value.status_code == -1121


def test_ticker_klines_and_agg_trades_follow_prices_and_fills(env) -> None:
    fsim, rest = env
    fsim.set_price("BTCUSDT", "60000")
    buy = rest.new_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=0.01).data()
    taker_price = d(buy.fills[0].price)
    assert taker_price == Decimal("60060")  # 60000 + 10 bps
    rest.new_order(symbol="BTCUSDT", side="BUY", type="LIMIT", time_in_force="GTC", quantity=0.002, price=59950)
    fsim.set_price("BTCUSDT", "61000")
    fsim.set_price("BTCUSDT", "59000")  # the resting buy fills as maker at 59950
    fsim.set_price("BTCUSDT", "60500")

    t = rest.ticker24hr(symbol="BTCUSDT").data().actual_instance
    assert d(t.open_price) == Decimal("65000")  # the first price the simulator recorded (its start)
    assert (d(t.high_price), d(t.low_price), d(t.last_price)) == (Decimal("65000"), Decimal("59000"), Decimal("60500"))
    assert d(t.price_change) == Decimal("-4500") and t.price_change_percent == "-6.923"
    assert d(t.volume) == Decimal("0.012") and d(t.quote_volume) == Decimal("0.01") * 60060 + Decimal("0.002") * 59950
    assert t.count == 2 and t.last_id == t.first_id + 1 and d(t.last_qty) == Decimal("0.002")
    assert d(t.weighted_avg_price) == (d(t.quote_volume) / d(t.volume)).quantize(Decimal("1E-8"))
    assert d(t.bid_price) == Decimal("60439.50") and d(t.ask_price) == Decimal("60560.50")
    assert t.close_time - t.open_time == 86_400_000

    minis = rest.ticker24hr(symbols=["BTCUSDT", "ETHUSDT"], type="MINI").data().actual_instance
    assert [m.symbol for m in minis] == ["BTCUSDT", "ETHUSDT"]
    assert minis[0].last_price == t.last_price and minis[0].count == 2 and minis[1].count == 0
    with urllib.request.urlopen(f"{fsim.http}/api/v3/ticker/24hr?symbol=ETHUSDT&type=MINI", timeout=10) as resp:
        mini = orjson.loads(resp.read())
    assert list(mini) == [
        "symbol",
        "openPrice",
        "highPrice",
        "lowPrice",
        "lastPrice",
        "volume",
        "quoteVolume",
        "openTime",
        "closeTime",
        "firstId",
        "lastId",
        "count",
    ]

    bars = rest.klines(symbol="BTCUSDT", interval="1m", limit=10).data()
    assert bars, "at least the current minute"
    for bar in bars:
        assert bar[0] % 60_000 == 0 and bar[6] == bar[0] + 59_999
    assert all(b[0] == a[0] + 60_000 for a, b in zip(bars, bars[1:], strict=False))
    assert d(bars[0][1]) == Decimal("65000") and d(bars[-1][4]) == Decimal("60500")
    assert max(d(b[2]) for b in bars) == Decimal("65000") and min(d(b[3]) for b in bars) == Decimal("59000")
    assert sum(d(b[5]) for b in bars) == Decimal("0.012") and sum(b[8] for b in bars) == 2
    assert sum(d(b[9]) for b in bars) == Decimal("0.01")  # taker buys: only the market order
    with pytest.raises(BadRequestError) as exc:
        rest.klines(symbol="BTCUSDT", interval="1m", time_zone="15:00")
    assert exc.value.status_code == -1130

    trades = rest.agg_trades(symbol="BTCUSDT").data()
    mine = rest.my_trades(symbol="BTCUSDT").data()
    assert [a.a for a in trades] == [m.id for m in mine]
    assert [(d(a.p), d(a.q), a.m) for a in trades] == [
        (Decimal("60060"), Decimal("0.01"), False),
        (Decimal("59950"), Decimal("0.002"), True),
    ]
    assert [a.a for a in rest.agg_trades(symbol="BTCUSDT", from_id=trades[1].a).data()] == [trades[1].a]
    assert [a.a for a in rest.agg_trades(symbol="BTCUSDT", limit=1).data()] == [trades[1].a]


def test_cancel_replace_through_the_sdk(env) -> None:
    fsim, rest = env
    fsim.set_price("BTCUSDT", "60000")
    rest.new_order(
        symbol="BTCUSDT", side="BUY", type="LIMIT", time_in_force="GTC", quantity=0.001, price=59000, new_client_order_id="cr-old"
    )
    out = rest.order_cancel_replace(
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        cancel_replace_mode="STOP_ON_FAILURE",
        time_in_force="GTC",
        quantity=0.002,
        price=58000,
        cancel_orig_client_order_id="cr-old",
        new_client_order_id="cr-new",
    ).data()
    assert (out.cancel_result, out.new_order_result) == ("SUCCESS", "SUCCESS")
    assert out.cancel_response.status == "CANCELED" and out.cancel_response.orig_client_order_id == "cr-old"
    assert out.new_order_response.client_order_id == "cr-new" and out.new_order_response.status == "NEW"
    open_ids = [o.client_order_id for o in rest.get_open_orders(symbol="BTCUSDT").data()]
    assert open_ids == ["cr-new"]

    with pytest.raises(BadRequestError) as exc:  # nothing to cancel: the new order is not attempted
        rest.order_cancel_replace(
            symbol="BTCUSDT",
            side="BUY",
            type="LIMIT",
            cancel_replace_mode="STOP_ON_FAILURE",
            time_in_force="GTC",
            quantity=0.002,
            price=57000,
            cancel_orig_client_order_id="nope",
        )
    assert exc.value.status_code == -2022
    assert [o.client_order_id for o in rest.get_open_orders(symbol="BTCUSDT").data()] == ["cr-new"]

    with pytest.raises(BadRequestError) as exc:  # a filter failure is checked before the cancel
        rest.order_cancel_replace(
            symbol="BTCUSDT",
            side="BUY",
            type="LIMIT",
            cancel_replace_mode="STOP_ON_FAILURE",
            time_in_force="GTC",
            quantity=0.002,
            price=57000.005,
            cancel_orig_client_order_id="cr-new",
        )
    assert exc.value.status_code == -1013
    assert [o.client_order_id for o in rest.get_open_orders(symbol="BTCUSDT").data()] == ["cr-new"]


def test_cancel_replace_partial_failures_answer_409_with_data(env) -> None:
    fsim, rest = env
    fsim.set_price("BTCUSDT", "60000")
    rest.new_order(
        symbol="BTCUSDT", side="BUY", type="LIMIT", time_in_force="GTC", quantity=0.001, price=59000, new_client_order_id="p-old"
    )
    # the cancel succeeds, the new LIMIT_MAKER would take: -2021, HTTP 409, and the old order is gone
    status, body = signed(
        fsim,
        "POST",
        "/api/v3/order/cancelReplace",
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT_MAKER",
        cancelReplaceMode="STOP_ON_FAILURE",
        quantity="0.001",
        price="60100",
        cancelOrigClientOrderId="p-old",
    )
    assert status == 409 and body["code"] == -2021 and body["msg"] == "Order cancel-replace partially failed."
    data = body["data"]
    assert (data["cancelResult"], data["newOrderResult"]) == ("SUCCESS", "FAILURE")
    assert data["cancelResponse"]["status"] == "CANCELED"
    assert data["newOrderResponse"] == {"code": -2010, "msg": "Order would immediately match and take."}
    assert rest.get_open_orders(symbol="BTCUSDT").data() == []
    # ALLOW_FAILURE: the cancel fails, the new order is placed anyway: 409 too
    status, body = signed(
        fsim,
        "POST",
        "/api/v3/order/cancelReplace",
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        cancelReplaceMode="ALLOW_FAILURE",
        quantity="0.001",
        price="58000",
        cancelOrderId="1",
        newClientOrderId="p-new",
    )
    assert status == 409 and body["data"]["cancelResult"] == "FAILURE"
    assert body["data"]["cancelResponse"] == {"code": -2011, "msg": "Unknown order sent."}
    assert body["data"]["newOrderResponse"]["clientOrderId"] == "p-new"
    # both fail: 400 -2022
    status, body = signed(
        fsim,
        "POST",
        "/api/v3/order/cancelReplace",
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT_MAKER",
        cancelReplaceMode="ALLOW_FAILURE",
        quantity="0.001",
        price="60100",
        cancelOrderId="1",
    )
    assert status == 400 and body["code"] == -2022 and body["data"]["newOrderResult"] == "FAILURE"
    # missing mode
    status, body = signed(
        fsim,
        "POST",
        "/api/v3/order/cancelReplace",
        symbol="BTCUSDT",
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.001",
        price="58000",
        cancelOrderId="1",
    )
    assert status == 400 and body["code"] == -1102


async def test_market_data_and_cancel_replace_over_the_websocket_api(env) -> None:
    from binance_common.configuration import ConfigurationWebSocketAPI

    fsim, rest = env
    fsim.set_price("BTCUSDT", "60000")
    rest.new_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=0.01)
    old = rest.new_order(symbol="BTCUSDT", side="BUY", type="LIMIT", time_in_force="GTC", quantity=0.001, price=59000).data()
    client = Spot(config_ws_api=ConfigurationWebSocketAPI(api_key=KEY, api_secret=SECRET, stream_url=f"{fsim.ws}/ws-api/v3"))
    conn = await client.websocket_api.create_connection()
    try:
        book = (await conn.depth(symbol="BTCUSDT", limit=5)).data().result
        assert book.bids[0] == ["59940.00000000", "0.50000000"] and len(book.asks) == 5
        assert book.last_update_id == rest.depth(symbol="BTCUSDT", limit=5).data().last_update_id
        bars = (await conn.klines(symbol="BTCUSDT", interval="1s", limit=3)).data().result
        assert bars and d(bars[-1][4]) == Decimal("60000")
        ticker = (await conn.ticker24hr(symbol="BTCUSDT")).data().actual_instance.result
        assert ticker.count == 1 and d(ticker.last_price) == Decimal("60000")
        agg = (await conn.trades_aggregate(symbol="BTCUSDT")).data().result
        assert [(d(a.p), d(a.q), a.m) for a in agg] == [(Decimal("60060"), Decimal("0.01"), False)]

        replaced = (
            (
                await conn.order_cancel_replace(
                    symbol="BTCUSDT",
                    side="BUY",
                    type="LIMIT",
                    cancel_replace_mode="STOP_ON_FAILURE",
                    time_in_force="GTC",
                    quantity=0.002,
                    price=58500,
                    cancel_order_id=old.order_id,
                )
            )
            .data()
            .result
        )
        assert (replaced.cancel_result, replaced.new_order_result) == ("SUCCESS", "SUCCESS")
        # the SDK logs the error reply and hands it back as {"error": ...}
        failed = (
            await conn.order_cancel_replace(
                symbol="BTCUSDT",
                side="BUY",
                type="LIMIT",
                cancel_replace_mode="STOP_ON_FAILURE",
                time_in_force="GTC",
                quantity=0.002,
                price=58500,
                cancel_order_id=old.order_id,
            )
        ).data()
        error = failed["error"]
        assert error["code"] == -2022 and error["data"]["newOrderResult"] == "NOT_ATTEMPTED"
        assert error["data"]["cancelResponse"] == {"code": -2011, "msg": "Unknown order sent."}
    finally:
        await conn.close_connection()
