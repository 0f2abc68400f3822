"""tests/helpers/corrections.py: corrective orders told apart from copies and given their cause
from the order of a slave's reports; the exchange's "cr" orders that no report names."""

from __future__ import annotations

from decimal import Decimal

from actors.domain.decisions import client_order_id, reconcile_client_order_id
from protocol.messages import DesyncDetected, MirrorSkipped, OrderFailed, OrderMirrored, Reconciled
from tests.helpers.corrections import by_cause, classify, unreported


def cr(slave="s1", market="usdm", nonce="1-5-gap", leg=0, failed=False, qty="0.01"):
    cid = reconcile_client_order_id(slave, market, "BTCUSDT", "BOTH", nonce, leg)
    keys = dict(
        slave_id=slave,
        market=market,
        symbol="BTCUSDT",
        position_side="BOTH",
        side="BUY",
        master_order_id=0,
        master_trade_id=0,
        client_order_id=cid,
        qty=Decimal(qty),
    )
    if failed:
        return OrderFailed(**keys, error_code=-2019, error_msg="margin")
    return OrderMirrored(**keys, exchange_order_id=7, status="FILLED", t_order_sent_ns=1, t_order_acked_ns=2)


def copy(slave="s1", market="usdm"):
    cid = client_order_id(slave, 11, 22, 0, market=market, symbol="BTCUSDT")
    return OrderMirrored(
        slave_id=slave,
        market=market,
        symbol="BTCUSDT",
        position_side="BOTH",
        side="BUY",
        master_order_id=11,
        master_trade_id=22,
        master_seq=3,
        client_order_id=cid,
        qty=Decimal("0.1"),
        exchange_order_id=8,
        status="FILLED",
        t_order_sent_ns=1,
        t_order_acked_ns=2,
    )


def desync(cause, slave="s1", market="usdm"):
    return DesyncDetected(slave_id=slave, market=market, cause=cause, t_ns=1)


def synced(slave="s1", market="usdm", epoch=1, orders=1):
    return Reconciled(slave_id=slave, market=market, orders=orders, t_ns=1, master_epoch=epoch, master_seq=5 if epoch else 0)


def test_copies_and_skips_are_not_corrections():
    skip = MirrorSkipped(
        slave_id="s1",
        market="usdm",
        symbol="BTCUSDT",
        position_side="BOTH",
        side="BUY",
        master_order_id=11,
        master_trade_id=22,
        qty=Decimal(0),
        reason="below_min_notional",
    )
    assert classify([synced(orders=0), copy(), skip, synced(epoch=0, orders=0)]) == []


def test_cause_of_each_kind_of_round():
    reports = [
        cr(nonce="1-1-start"),
        synced(),  # first sync of the process: start
        desync("gap"),
        cr(nonce="1-9-gap"),
        synced(),  # resync after a gap
        cr(nonce="1-12-periodic"),
        synced(epoch=0),  # periodic check
        desync("reconnect"),
        cr(nonce="2-1-reconnect"),
        cr(nonce="2-1-reconnect", leg=1),
        synced(epoch=2),
        desync("restart"),
        cr(nonce="3-1-restart", failed=True),
        synced(epoch=3, orders=0),
        cr(nonce="flatten-4"),  # no round closes it
    ]
    found = classify(reports)
    assert [c.cause for c in found] == ["start", "gap", "periodic", "reconnect", "reconnect", "restart", "unclosed"]
    assert [c.accepted for c in found] == [True, True, True, True, True, False, True]
    assert by_cause(found) == {"s1": {"gap": 1, "periodic": 1, "reconnect": 2, "restart": 1, "start": 1, "unclosed": 1}}


def test_rounds_of_slaves_and_markets_interleave():
    reports = [
        desync("gap", slave="s2"),
        cr(slave="s1", nonce="a"),
        cr(slave="s2", nonce="b"),
        cr(slave="s1", market="spot", nonce="c"),
        synced(slave="s1", epoch=0),
        synced(slave="s2"),
        synced(slave="s1", market="spot"),
    ]
    got = {(c.slave_id, c.market): c.cause for c in classify(reports)}
    assert got == {("s1", "usdm"): "periodic", ("s2", "usdm"): "gap", ("s1", "spot"): "start"}


def test_periodic_round_of_refused_orders_is_not_taken_for_the_next_resync():
    # A periodic check whose every correction was refused sends no Reconciled: the next resync
    # must not claim its orders.
    found = classify([cr(nonce="p", failed=True), desync("gap"), cr(nonce="g"), synced()])
    assert [c.cause for c in found] == ["unclosed", "gap"]


def test_exchange_orders_no_report_names_are_unreported():
    reported = classify([cr(nonce="x"), synced()])
    cid = reported[0].client_order_id
    other = reconcile_client_order_id("s1", "usdm", "BTCUSDT", "BOTH", "y", 0)
    exchange = [
        {"clientOrderId": cid, "symbol": "BTCUSDT", "side": "BUY", "origQty": "0.01", "status": "FILLED"},
        {"clientOrderId": cid, "symbol": "BTCUSDT", "side": "BUY", "origQty": "0.01", "status": "FILLED"},
        {"clientOrderId": other, "symbol": "BTCUSDT", "side": "SELL", "origQty": "0.02", "status": "FILLED"},
    ]
    extra = unreported(exchange, reported, slave_id="s1", market="usdm")
    assert [(c.client_order_id, c.cause, c.qty) for c in extra] == [
        (cid, "unreported", Decimal("0.01")),
        (other, "unreported", Decimal("0.02")),
    ]
