"""Spot and cross margin stops mirrored (`orders = "mirror"`), end to end (simulator, master
listener and slaves as processes): the master's STOP_LOSS(_LIMIT) / TAKE_PROFIT(_LIMIT) orders are
placed on each slave as the same stop (k x what adds, the same share of the slave's holding for
what reduces); when the price triggers the master's, the slaves' trigger at the same last price
and fill on their own, and nothing is sent; a copy that did not fill by the time the master's
order is done is canceled and its share settled at market ("cs"), once; a canceled stop is
canceled on each slave. Checked at the exchange after every step: each slave's open orders (type,
side, limit, stop price, quantity), its holdings, its loans (margin), the settle orders each step
needs and no more, and no corrective order.

The simulator triggers the stops of a symbol in the order they were placed (the master's first)
within one price step, fills a triggered STOP_LOSS / TAKE_PROFIT at once at that step's price, and
lets a triggered limit stop take what is left of the step's liquidity (0.5 BTC on BTCUSDT).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.helpers.deploy import margin_assets, signed
from tests.integration import test_spot_resting as resting
from tests.integration.test_spot_resting import OPEN_PATH, ORDER_PATH, K, expect

dep = resting.dep  # the fixture: spot and margin deployments with master + slave01, slave02

pytestmark = pytest.mark.timeout(180)

D = Decimal


def stops(dep, account: str) -> list[tuple[str, str, Decimal, Decimal, Decimal]]:
    """(type, side, limit price, stop price, quantity) of each open order."""
    rows = signed(dep.sim, account, "GET", OPEN_PATH[dep.market], {"symbol": "BTCUSDT"})
    return sorted((o["type"], o["side"], D(o["price"]), D(o["stopPrice"]), D(o["origQty"])) for o in rows)


def place_stop(dep, side: str, kind: str, qty: str, stop: str, price: str | None = None, **extra: str) -> dict:
    params = {"symbol": "BTCUSDT", "side": side, "type": kind, "quantity": qty, "stopPrice": stop} | extra
    if price is not None:
        params |= {"price": price, "timeInForce": "GTC"}
    return signed(dep.sim, "master", "POST", ORDER_PATH[dep.market], params)


def scaled(rows: list, k: Decimal) -> list:
    return [(t, side, price, stop, k * qty) for t, side, price, stop, qty in rows]


def test_a_stop_loss_triggered_a_take_profit_canceled_and_a_buy_stop_entry(dep):
    # A: the master holds 2 BTC and protects half with SELL STOP_LOSS 1 @ 49000 and takes profit
    # on the other half with SELL TAKE_PROFIT_LIMIT 1 @ 51000 (stop 50900). Each slave holds
    # k x 2: its copies sell the same share (half) of its own.
    place_stop(dep, "SELL", "STOP_LOSS", "1", "49000")
    tp = place_stop(dep, "SELL", "TAKE_PROFIT_LIMIT", "1", "50900", price="51000")
    both = [("STOP_LOSS", "SELL", D(0), D(49000), D(1)), ("TAKE_PROFIT_LIMIT", "SELL", D(51000), D(50900), D(1))]
    expect(dep, D(2), both, {sid: scaled(both, k) for sid, k in K.items()}, {}, view=stops)

    # B: the price moves between them: nothing happens anywhere.
    dep.sim.set_price("BTCUSDT", "49500", pause=True)
    expect(dep, D(2), both, {sid: scaled(both, k) for sid, k in K.items()}, {}, view=stops)

    # C: it falls through the stop: the master's and every copy trigger at 48990 and sell at
    # market on their own: each slave holds k x 1, no order of ours is sent, the take-profit
    # copies wait.
    dep.sim.set_price("BTCUSDT", "48990", pause=True)
    tp_only = both[1:]
    expect(dep, D(1), tp_only, {sid: scaled(tp_only, k) for sid, k in K.items()}, {}, view=stops)

    # D: the master cancels its take-profit: the copies are canceled, nothing is settled.
    signed(dep.sim, "master", "DELETE", ORDER_PATH[dep.market], {"symbol": "BTCUSDT", "orderId": tp["orderId"]})
    expect(dep, D(1), [], {}, {}, view=stops)

    # E: a BUY STOP_LOSS entry 0.4 @ 49500 above the price (it adds: k x 0.4), triggered by a rise.
    place_stop(dep, "BUY", "STOP_LOSS", "0.4", "49500")
    entry = [("STOP_LOSS", "BUY", D(0), D(49500), D("0.4"))]
    expect(dep, D(1), entry, {sid: scaled(entry, k) for sid, k in K.items()}, {}, view=stops)
    dep.sim.set_price("BTCUSDT", "49510", pause=True)
    expect(dep, 1 + D("0.4") * D("0.999"), [], {}, {}, view=stops)


def test_a_triggered_stop_limit_whose_copies_do_not_fill_is_settled_once(dep):
    # The master's SELL STOP_LOSS_LIMIT 1 @ 48900 (stop 49000) and its copies trigger on the same
    # step at 48950; the master's, first, takes the step's 0.5 BTC, so the copies rest unfilled at
    # their limit. The next step fills the master's other 0.5: its order is done, each slave
    # cancels its copy and sells its share at market, once.
    place_stop(dep, "SELL", "STOP_LOSS_LIMIT", "1", "49000", price="48900")
    sl = [("STOP_LOSS_LIMIT", "SELL", D(48900), D(49000), D(1))]
    expect(dep, D(2), sl, {sid: scaled(sl, k) for sid, k in K.items()}, {}, view=stops)
    dep.sim.set_price("BTCUSDT", "48950", pause=True)
    held = {sid: 2 * k for sid, k in K.items()}
    expect(dep, D("1.5"), sl, {sid: scaled(sl, k) for sid, k in K.items()}, {}, held=held, view=stops)
    dep.sim.set_price("BTCUSDT", "48951", pause=True)
    expect(dep, D(1), [], {}, {sid: [("SELL", k)] for sid, k in K.items()}, view=stops)


@pytest.mark.parametrize("dep", ["margin"], indirect=True)
def test_margin_a_sell_stop_that_opens_a_short_borrows_when_placed(dep):
    # The master holds 2 BTC and places SELL STOP_LOSS 3 @ 49000 with MARGIN_BUY: the 1 BTC
    # beyond what it holds is borrowed when the stop is placed. Each slave's copy sells k x 3 with
    # MARGIN_BUY: its loan of k x 1 is taken then too. Triggered, every account is short its
    # share on that loan and nothing is settled.
    place_stop(dep, "SELL", "STOP_LOSS", "3", "49000", sideEffectType="MARGIN_BUY")
    sl = [("STOP_LOSS", "SELL", D(0), D(49000), D(3))]
    expect(dep, D(2), sl, {sid: scaled(sl, k) for sid, k in K.items()}, {}, view=stops)
    assert margin_assets(dep.sim, "master")["BTC"][1] == 1
    for sid, k in K.items():
        assert margin_assets(dep.sim, sid)["BTC"][1] == k, (sid, margin_assets(dep.sim, sid))
    dep.sim.set_price("BTCUSDT", "48990", pause=True)
    expect(dep, D(-1), [], {}, {}, view=stops)
    for sid, k in K.items():
        assert margin_assets(dep.sim, sid)["BTC"][1] == k, (sid, margin_assets(dep.sim, sid))
