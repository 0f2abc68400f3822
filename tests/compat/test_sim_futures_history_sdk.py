"""binance-sdk-derivatives-trading-usds-futures against the endpoints added by issue 20, section 2.

Market data (`ticker/24hr`, `depth`, `v2/ticker/price`), `PUT /fapi/v1/order` (modify, with the
AMENDMENT event), `symbolConfig`, `userTrades` and `income` (REALIZED_PNL, COMMISSION, FUNDING_FEE
from the funding model, settled through the admin API). User-data events are collected from the
simulator's hub in-process, so this test does not depend on a stream URL form.
"""

from __future__ import annotations

import asyncio
import json
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from binance_common.configuration import ConfigurationRestAPI, ConfigurationWebSocketAPI
from binance_common.errors import BadRequestError
from binance_sdk_derivatives_trading_usds_futures.derivatives_trading_usds_futures import DerivativesTradingUsdsFutures

from tests.integration.test_sim_futures_api import ED_KEY, HMAC_KEY, HMAC_SECRET, FuturesSim, ed25519_pair, sim_doc

TAKER = Decimal("0.0005")  # the default futures taker rate
SLIP = Decimal("0.0005")  # the fixture's slippage (5 bps)


class Collector:
    """A user-data sink on the simulator's hub (runs on the simulator's loop)."""

    def __init__(self, account_id: str) -> None:
        self.account_id = account_id
        self.market = "futures"
        self.events: list[dict[str, Any]] = []

    def push(self, event: dict[str, Any]) -> None:
        self.events.append(event)

    def orders(self) -> list[tuple[str, str]]:
        return [(e["o"]["x"], e["o"]["X"]) for e in self.events if e["e"] == "ORDER_TRADE_UPDATE"]


@pytest.fixture
def env() -> Iterator[tuple[FuturesSim, Any, Collector]]:
    _, pem, pub = ed25519_pair()
    doc = sim_doc(pub)
    doc["simulator"]["slippage_bps"] = 5
    fsim = FuturesSim(doc)
    client = DerivativesTradingUsdsFutures(
        config_rest_api=ConfigurationRestAPI(api_key=HMAC_KEY, api_secret=HMAC_SECRET, base_path=fsim.http),
        config_ws_api=ConfigurationWebSocketAPI(api_key=ED_KEY, private_key=pem, stream_url=f"{fsim.ws}/ws-fapi/v1"),
    )
    fsim.client = client  # type: ignore[attr-defined]
    events = Collector("master")
    fsim.call(fsim.sim.hub.subscribe, events)
    yield fsim, client.rest_api, events
    fsim.close()


def d(value: Any) -> Decimal:
    return Decimal(str(value))


def admin(fsim: FuturesSim, path: str, body: dict[str, Any]) -> Any:
    req = urllib.request.Request(
        f"{fsim.http}{path}", data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())


def one(data: Any) -> Any:
    return getattr(data, "actual_instance", data)


def test_futures_market_data(env) -> None:
    fsim, rest, _ = env
    fsim.set_price("BTCUSDT", "64000")
    price = one(rest.symbol_price_ticker_v2(symbol="BTCUSDT").data())
    assert price.symbol == "BTCUSDT" and price.price == "64000.00" and price.time > 0
    prices = one(rest.symbol_price_ticker_v2().data())
    assert {p.symbol for p in prices} >= {"BTCUSDT", "ETHUSDT", "DOGEUSDT"}

    rest.new_order(symbol="BTCUSDT", side="BUY", type="LIMIT", time_in_force="GTC", quantity=0.01, price=63900)
    book = rest.order_book(symbol="BTCUSDT", limit=5).data()
    # synthetic levels from 64000 -/+ 5 bps on the futures tick (0.10), 0.5 BTC each; the resting buy inside
    assert [(d(p), d(q)) for p, q in book.bids[:3]] == [
        (Decimal("63968.0"), Decimal("0.5")),
        (Decimal("63967.9"), Decimal("0.5")),
        (Decimal("63967.8"), Decimal("0.5")),
    ]
    assert (d(book.asks[0][0]), d(book.asks[0][1])) == (Decimal("64032.0"), Decimal("0.5"))
    assert len(book.bids) == 5 and book.last_update_id > 0 and book.E > 0 and book.T > 0
    full = rest.order_book(symbol="BTCUSDT", limit=1000).data()
    assert len(full.bids) == 1000
    assert (Decimal("63900.00"), Decimal("0.510")) in [(d(p), d(q)) for p, q in full.bids]  # resting + synthetic
    with pytest.raises(BadRequestError) as exc:
        rest.order_book(symbol="BTCUSDT", limit=7)
    assert exc.value.status_code == -1130

    rest.new_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=0.01)
    fsim.set_price("BTCUSDT", "66000")
    t = one(rest.ticker24hr_price_change_statistics(symbol="BTCUSDT").data())
    fill = (Decimal(64000) * (1 + SLIP)).quantize(Decimal("0.1"))
    assert (t.open_price, t.high_price, t.low_price, t.last_price) == ("65000.00", "66000.00", "64000.00", "66000.00")
    assert t.price_change == "1000.00" and t.price_change_percent == "1.538"
    assert t.volume == "0.010" and d(t.quote_volume) == (fill * Decimal("0.01")).quantize(Decimal("0.01"))
    assert t.count == 1 and t.first_id == t.last_id
    everything = one(rest.ticker24hr_price_change_statistics().data())
    assert len(everything) == 6


def test_modify_order_amends_and_publishes_amendment(env) -> None:
    fsim, rest, events = env
    order = rest.new_order(
        symbol="BTCUSDT", side="BUY", type="LIMIT", time_in_force="GTC", quantity=0.01, price=64000, new_client_order_id="mod-1"
    ).data()
    out = rest.modify_order(symbol="BTCUSDT", side="BUY", quantity=0.02, price=64100, orig_client_order_id="mod-1").data()
    assert (out.order_id, out.status, out.price, out.orig_qty) == (order.order_id, "NEW", "64100.00", "0.020")
    assert events.orders()[-1] == ("AMENDMENT", "NEW")
    amended = [e for e in events.events if e["e"] == "ORDER_TRADE_UPDATE"][-1]["o"]
    assert (amended["p"], amended["q"], amended["c"]) == ("64100", "0.020", "mod-1")
    queried = rest.query_order(symbol="BTCUSDT", order_id=order.order_id).data()
    assert (queried.price, queried.orig_qty) == ("64100.00", "0.020")

    with pytest.raises(BadRequestError) as exc:
        rest.modify_order(symbol="BTCUSDT", side="BUY", quantity=0.02, price=64100, order_id=order.order_id)
    assert exc.value.status_code == -5027
    with pytest.raises(BadRequestError) as exc:
        rest.modify_order(symbol="BTCUSDT", side="BUY", quantity=0.02, price=64100.05, order_id=order.order_id)
    assert exc.value.status_code in (-1111, -4014)
    assert rest.query_order(symbol="BTCUSDT", order_id=order.order_id).data().price == "64100.00"  # unchanged
    with pytest.raises(BadRequestError) as exc:
        rest.modify_order(symbol="BTCUSDT", side="BUY", quantity=0.001, price=64100, order_id=order.order_id)
    assert exc.value.status_code == -5029  # notional 64.1 < 100
    with pytest.raises(BadRequestError) as exc:
        rest.modify_order(symbol="BTCUSDT", side="BUY", quantity=0.02, price=64100, order_id=999)
    assert exc.value.status_code == -2013

    # a new price that crosses the market fills at once (after the AMENDMENT)
    out = rest.modify_order(symbol="BTCUSDT", side="BUY", quantity=0.02, price=65100, order_id=order.order_id).data()
    assert out.status == "FILLED" and out.executed_qty == "0.020"
    assert events.orders()[-2:] == [("AMENDMENT", "NEW"), ("TRADE", "FILLED")]
    with pytest.raises(BadRequestError) as exc:
        rest.modify_order(symbol="BTCUSDT", side="BUY", quantity=0.03, price=65100, order_id=order.order_id)
    assert exc.value.status_code == -2013


def test_modify_to_at_most_the_executed_quantity_cancels(env) -> None:
    fsim, rest, events = env
    order = rest.new_order(symbol="BTCUSDT", side="BUY", type="LIMIT", time_in_force="GTC", quantity=0.8, price=64000).data()
    fsim.set_price("BTCUSDT", "63900")  # 0.5 BTC of liquidity per step: a partial fill
    assert rest.query_order(symbol="BTCUSDT", order_id=order.order_id).data().executed_qty == "0.500"
    out = rest.modify_order(symbol="BTCUSDT", side="BUY", quantity=0.5, price=64000, order_id=order.order_id).data()
    assert out.status == "CANCELED" and out.executed_qty == "0.500"
    assert events.orders()[-1] == ("CANCELED", "CANCELED")

    # a post-only (GTX) order moved to a price that would take is cancelled by the amendment
    gtx = rest.new_order(symbol="BTCUSDT", side="BUY", type="LIMIT", time_in_force="GTX", quantity=0.01, price=63000).data()
    out = rest.modify_order(symbol="BTCUSDT", side="BUY", quantity=0.01, price=64000, order_id=gtx.order_id).data()
    assert out.status == "CANCELED" and events.orders()[-1] == ("CANCELED", "CANCELED")

    # more margin than the account has: -2019 and the order stays as it was
    big = rest.new_order(symbol="BTCUSDT", side="BUY", type="LIMIT", time_in_force="GTC", quantity=0.01, price=63000).data()
    with pytest.raises(BadRequestError) as exc:
        rest.modify_order(symbol="BTCUSDT", side="BUY", quantity=40, price=63000, order_id=big.order_id)
    assert exc.value.status_code == -2019
    kept = rest.query_order(symbol="BTCUSDT", order_id=big.order_id).data()
    assert (kept.orig_qty, kept.price, kept.status) == ("0.010", "63000.00", "NEW")


def test_symbol_config_user_trades_and_income(env) -> None:
    fsim, rest, events = env
    rest.change_margin_type(symbol="ETHUSDT", margin_type="ISOLATED")
    rest.change_initial_leverage(symbol="ETHUSDT", leverage=5)
    (eth,) = rest.symbol_configuration(symbol="ETHUSDT").data()
    brackets = one(rest.notional_and_leverage_brackets(symbol="ETHUSDT").data())
    brackets = brackets[0] if isinstance(brackets, list) else brackets
    cap = max(b.notional_cap for b in brackets.brackets if b.initial_leverage >= 5)
    assert (eth.symbol, eth.margin_type, eth.leverage, eth.is_auto_add_margin) == ("ETHUSDT", "ISOLATED", 5, False)
    assert d(eth.max_notional_value) == d(cap)
    everything = {c.symbol: c for c in rest.symbol_configuration().data()}
    assert everything["BTCUSDT"].margin_type == "CROSSED" and everything["BTCUSDT"].leverage == 20
    with pytest.raises(BadRequestError) as exc:
        rest.symbol_configuration(symbol="NOPEUSDT")
    assert exc.value.status_code == -1121

    fsim.set_price("BTCUSDT", "65000")
    rest.new_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity=0.01)
    fsim.set_price("BTCUSDT", "66000")
    rest.new_order(symbol="BTCUSDT", side="SELL", type="MARKET", quantity=0.004, reduce_only="true")
    trades = rest.account_trade_list(symbol="BTCUSDT").data()
    assert [(t.side, t.qty, t.buyer, t.maker) for t in trades] == [("BUY", "0.010", True, False), ("SELL", "0.004", False, False)]
    buy, sell = d(trades[0].price), d(trades[1].price)
    assert buy == Decimal("65032.5") and sell == Decimal("65967")  # 5 bps of slippage on the 0.10 tick
    assert d(trades[0].realized_pnl) == 0 and d(trades[1].realized_pnl) == Decimal("0.004") * (sell - buy)
    for t in trades:
        assert d(t.commission) == (d(t.qty) * d(t.price) * TAKER).quantize(Decimal("1E-8"))
        assert t.commission_asset == "USDT" and d(t.quote_qty) == d(t.qty) * d(t.price)
        assert t.position_side == "BOTH" and t.symbol == "BTCUSDT"
    assert [t.id for t in rest.account_trade_list(symbol="BTCUSDT", from_id=trades[1].id).data()] == [trades[1].id]
    assert rest.account_trade_list(symbol="BTCUSDT", order_id=trades[0].order_id).data()[0].id == trades[0].id

    wallet_before = d(rest.futures_account_balance_v3().data()[0].cross_wallet_balance)
    paid = admin(fsim, "/_sim/futures/funding", {"rate": "0.0001"})
    amount = -Decimal("0.006") * Decimal(66000) * Decimal("0.0001")
    assert [(p["symbol"], d(p["income"])) for p in paid["payments"]] == [("BTCUSDT", amount)]
    wallet_after = d(rest.futures_account_balance_v3().data()[0].cross_wallet_balance)
    assert wallet_after - wallet_before == amount
    with urllib.request.urlopen(f"{fsim.http}/_sim/accounts?account=master", timeout=10) as resp:
        listed = json.loads(resp.read())
    listed = listed[0] if isinstance(listed, list) else listed.get("accounts", [listed])[0]
    assert d(listed["futures"]["USDT"]) == d(rest.futures_account_balance_v3().data()[0].balance)  # mirror in step
    funding_event = [e for e in events.events if e["e"] == "ACCOUNT_UPDATE"][-1]["a"]
    assert funding_event["m"] == "FUNDING_FEE" and funding_event["P"] == []
    assert d(funding_event["B"][0]["cw"]) == wallet_after

    income = rest.get_income_history().data()
    kinds = [(i.income_type, d(i.income)) for i in income]
    fees = [-(d(t.commission)) for t in trades]
    assert kinds == [("COMMISSION", fees[0]), ("COMMISSION", fees[1]), ("REALIZED_PNL", d(trades[1].realized_pnl)), ("FUNDING_FEE", amount)]
    assert all(i.asset == "USDT" and i.symbol == "BTCUSDT" for i in income)
    assert income[2].trade_id == str(trades[1].id) and income[3].trade_id == ""
    assert [i.income_type for i in rest.get_income_history(income_type="FUNDING_FEE").data()] == ["FUNDING_FEE"]
    assert len(rest.get_income_history(limit=2).data()) == 2
    with pytest.raises(BadRequestError) as exc:
        rest.get_income_history(symbol="BTCUSDT", income_type="NOPE")
    assert exc.value.status_code == -1130


def test_isolated_funding_comes_from_the_isolated_wallet(env) -> None:
    fsim, rest, events = env
    rest.change_margin_type(symbol="ETHUSDT", margin_type="ISOLATED")
    fsim.set_price("ETHUSDT", "3000")
    rest.new_order(symbol="ETHUSDT", side="SELL", type="MARKET", quantity=1)
    before = rest.position_information_v3(symbol="ETHUSDT").data()[0]
    paid = admin(fsim, "/_sim/futures/funding", {"rate": "0.0002"})
    assert d(paid["payments"][0]["income"]) == Decimal("0.6")  # a short receives when the rate is positive
    after = rest.position_information_v3(symbol="ETHUSDT").data()[0]
    assert d(after.isolated_wallet) - d(before.isolated_wallet) == Decimal("0.6")
    update = [e for e in events.events if e["e"] == "ACCOUNT_UPDATE"][-1]["a"]
    assert update["m"] == "FUNDING_FEE" and [p["s"] for p in update["P"]] == ["ETHUSDT"]


async def test_modify_and_depth_over_the_websocket_api(env) -> None:
    fsim, rest, events = env
    order = rest.new_order(symbol="BTCUSDT", side="SELL", type="LIMIT", time_in_force="GTC", quantity=0.01, price=65100).data()
    ws = await fsim.client.websocket_api.create_connection()  # type: ignore[attr-defined]
    try:
        out = (await ws.modify_order(symbol="BTCUSDT", side="SELL", quantity=0.015, price=65090, order_id=order.order_id)).data().result
        assert (out.status, out.price, out.orig_qty) == ("NEW", "65090.00", "0.015")
        assert events.orders()[-1] == ("AMENDMENT", "NEW")
        book = (await ws.order_book(symbol="BTCUSDT", limit=1000)).data().result
        asks = book.to_dict()["asks"]  # the SDK's model names lastUpdateId, E, T; bids/asks are extra fields
        assert (d("65090"), d("0.515")) in [(d(p), d(q)) for p, q in asks]  # synthetic 0.5 + the order
        try:  # the SDK logs an error reply and hands it back as {"error": ...} (or raises, by version)
            error = (await ws.modify_order(symbol="BTCUSDT", side="BUY", quantity=0.015, price=65090, order_id=order.order_id)).data()[
                "error"
            ]
        except ValueError as exc:
            error = exc.args[0]
        assert error["code"] == -1130  # the side of an order cannot change
    finally:
        await ws.close_connection()


async def test_funding_loop_settles_on_its_interval() -> None:
    from simulator.app import build_sim
    from simulator.config import parse_config
    from tests.helpers.wait import aeventually

    _, _, pub = ed25519_pair()
    sim = build_sim(parse_config(sim_doc(pub, funding_interval=0.2, funding_rate="0.001")))
    fa = sim.futures.engine.open_account("master", Decimal(1000))
    fa.position("BTCUSDT", "BOTH").amt = Decimal("0.01")
    sim.futures.engine.set_mark("BTCUSDT", Decimal(50000))
    hist = sim.futures_history
    await hist.start(None)
    try:

        async def paid() -> bool:
            assert len(hist.funding) >= 1
            return True

        await aeventually(paid, timeout=5)
    finally:
        await hist.stop(None)
        await asyncio.sleep(0)
    assert hist.funding[0]["income"] == Decimal("-0.5")
    assert fa.cross_wallet <= Decimal(1000) - Decimal("0.5")
