"""actors/slave/accounts/spot.py Ledger and reply parsing (pure): each trade moves the balances exactly once,
whether the order reply or the user data stream reports it first; REST contains older trades."""

from __future__ import annotations

from decimal import Decimal as D

from actors.binance import wire
from actors.slave.accounts.execution import Executed
from actors.slave.accounts.spot import Ledger, Trade, trade_of_report, trades_of_reply, with_avg_price

FULL_BUY = {  # a FULL reply as the spot WebSocket API / margin REST give it (rest-api.md "Response FULL")
    "symbol": "BTCUSDT",
    "orderId": 28,
    "orderListId": -1,
    "clientOrderId": "ctabc",
    "transactTime": 1000,
    "price": "0",
    "origQty": "0.3",
    "executedQty": "0.3",
    "cummulativeQuoteQty": "15000",
    "status": "FILLED",
    "timeInForce": "GTC",
    "type": "MARKET",
    "side": "BUY",
    "fills": [
        {"price": "50000", "qty": "0.2", "commission": "0.0002", "commissionAsset": "BTC", "tradeId": 7},
        {"price": "50000", "qty": "0.1", "commission": "0.0001", "commissionAsset": "BTC", "tradeId": 8},
    ],
}


def ledger(btc: str = "0", usdt: str = "20000", rest_ms: int = 500) -> Ledger:
    book = Ledger()
    book.set_from_rest([("BTC", D(btc), D(0), D(0), D(0)), ("USDT", D(usdt), D(0), D(0), D(0))], rest_ms)
    return book


def report(trade_id: int, qty: str, t: int = 1000) -> wire.BinanceExecutionReport:
    return wire.convert(
        {
            "e": "executionReport",
            "E": t,
            "s": "BTCUSDT",
            "c": "ctabc",
            "S": "BUY",
            "o": "MARKET",
            "q": "0.3",
            "p": "0",
            "x": "TRADE",
            "X": "FILLED",
            "i": 28,
            "l": qty,
            "z": "0.3",
            "L": "50000",
            "n": str(D(qty) / 1000),
            "N": "BTC",
            "T": t,
            "t": trade_id,
            "Y": str(D(qty) * 50000),
        },
        wire.BinanceExecutionReport,
    )


def apply_all(book: Ledger, trades: list[Trade]) -> None:
    for t in trades:
        book.apply_trade(t, "BTC", "USDT")


def test_full_reply_moves_base_net_of_commission_and_quote_by_the_cost() -> None:
    book = ledger()

    apply_all(book, trades_of_reply(FULL_BUY) or [])

    assert (book.holding("BTC").free, book.holding("USDT").free) == (D("0.2997"), D("5000"))


def test_reply_then_stream_or_stream_then_reply_count_each_trade_once() -> None:
    reply_first, stream_first = ledger(), ledger()
    from_reply = trades_of_reply(FULL_BUY) or []
    from_stream = [trade_of_report(report(7, "0.2")), trade_of_report(report(8, "0.1"))]

    apply_all(reply_first, from_reply + from_stream)  # type: ignore[operator]
    apply_all(stream_first, from_stream + from_reply)  # type: ignore[operator]

    assert reply_first.holding("BTC") == stream_first.holding("BTC")
    assert reply_first.holding("BTC").free == D("0.2997")


def test_a_trade_not_after_the_rest_read_is_already_in_it() -> None:
    book = ledger(btc="0.2997", usdt="5000", rest_ms=2000)

    apply_all(book, trades_of_reply(FULL_BUY) or [])

    assert book.holding("BTC").free == D("0.2997")


def test_a_lookup_reply_has_no_trades_and_other_executions_are_not_trades() -> None:
    lookup = {k: v for k, v in FULL_BUY.items() if k != "fills"}
    new = wire.convert(
        {
            "e": "executionReport",
            "E": 1,
            "s": "BTCUSDT",
            "c": "c",
            "S": "BUY",
            "o": "MARKET",
            "q": "1",
            "p": "0",
            "x": "NEW",
            "X": "NEW",
            "i": 1,
            "l": "0",
            "z": "0",
            "L": "0",
            "T": 1,
        },
        wire.BinanceExecutionReport,
    )

    assert trades_of_reply(lookup) is None
    assert trade_of_report(new) is None


def test_margin_loans_move_free_and_borrowed_together() -> None:
    book = ledger(usdt="25000")

    book.borrow("USDT", D("12500"))
    apply_all(
        book,
        trades_of_reply(
            dict(
                FULL_BUY,
                cummulativeQuoteQty="37500",
                fills=[{"price": "50000", "qty": "0.75", "commission": "0.00075", "commissionAsset": "BTC", "tradeId": 9}],
            )
        )
        or [],
    )

    usdt, btc = book.holding("USDT"), book.holding("BTC")
    assert (usdt.free, usdt.borrowed, usdt.net) == (D(0), D("12500"), D("-12500"))
    assert btc.net == D("0.74925")


def test_avg_price_is_added_for_the_reports() -> None:
    done = with_avg_price(Executed(FULL_BUY, 1, False))

    assert done.result["avgPrice"] == "50000"


def test_taker_commission_from_the_spot_account() -> None:
    from actors.binance.wire import BinanceSpotAccount, convert
    from actors.slave.accounts.spot import taker_commission

    def rate(reply: dict) -> D:
        return taker_commission(convert(reply, BinanceSpotAccount))

    assert rate({"commissionRates": {"maker": "0.0009", "taker": "0.001"}}) == D("0.001")
    assert rate({"takerCommission": 10}) == D("0.001")
    assert rate({"commissionRates": {"taker": "bad"}}) == 0
    assert rate({}) == 0
    # a number where Binance sends text, or text where it sends a number, still reads (helper
    # review, session 9: the typed struct failed the whole spot/margin account read on these)
    assert rate({"commissionRates": {"maker": 0.0009, "taker": 0.001}}) == D("0.001")
    assert rate({"takerCommission": "7.5"}) == D("0.00075")
    assert rate({"takerCommission": "bad"}) == 0
    assert rate({"commissionRates": {"taker": "NaN"}}) == 0
    assert rate({"commissionRates": {"taker": "-0.001"}}) == 0
    assert rate({"commissionRates": {"taker": "1e999999"}}) == 0


def test_our_own_trade_counts_even_when_its_time_is_not_after_the_rest_read() -> None:
    """Chaos seed 101 (2026-12-03): a correction sold the millisecond of the REST read it was
    decided on (or the clock offset was a few ms off); its trade was taken as "already in REST"
    and lost, the slave later sold what it no longer held (-2010). A read is never taken while our
    order is in flight, so our order's trades are never in it: they count whatever their time."""
    book = ledger(btc="0.3003", usdt="5000", rest_ms=2000)  # 0.3 sold, 0.0003 commission in BTC
    sold = wire.convert({**FULL_BUY, "side": "SELL", "transactTime": 2000}, dict)

    for t in trades_of_reply(sold) or []:
        book.apply_trade(t, "BTC", "USDT", own=True)

    assert book.holding("BTC").free == D("0")
    # an order of someone else at that time stays "contained in the read"
    book.apply_trade(
        Trade(symbol="BTCUSDT", order_id=99, trade_id=1, side="BUY", qty=D("1"), quote_qty=D("50000"), time_ms=2000, price=D("50000")),
        "BTC",
        "USDT",
    )
    assert book.holding("BTC").free == D("0")


def test_a_settled_order_never_applies_its_trades_again() -> None:
    """An order found by lookup (no fills in the reply) is settled by the REST read that follows:
    its stream trades arriving later are in that read already."""
    book = ledger(btc="0.2997", usdt="5000", rest_ms=500)
    book.settle_order("BTCUSDT", 28)

    assert book.apply_trade(trade_of_report(report(7, "0.2")), "BTC", "USDT", own=True) is False  # type: ignore[arg-type]
    assert book.holding("BTC").free == D("0.2997")


def copy_trade(trade_id: int, qty: str, t: int) -> Trade:
    """A trade of a resting copy (not `own`: judged by time against the REST reads)."""
    q = D(qty)
    return Trade(symbol="BTCUSDT", order_id=7, trade_id=trade_id, side="BUY", qty=q, quote_qty=q * 50000, time_ms=t, price=D("50000"))


def test_a_copys_trade_applied_while_a_read_was_on_its_way_is_applied_again_over_it() -> None:
    book = ledger(rest_ms=500)
    assert book.apply_trade(copy_trade(1, "0.1", 900), "BTC", "USDT")  # arrives while the next read is out
    book.set_from_rest([("BTC", D("0"), D("0"), D("0"), D("0")), ("USDT", D("20000"), D("0"), D("0"), D("0"))], 800)  # read before it
    assert book.holding("BTC").free == D("0.1") and book.filled("BTCUSDT", 7) == D("0.1")
    book.set_from_rest([("BTC", D("0.1"), D("0"), D("0"), D("0")), ("USDT", D("15000"), D("0"), D("0"), D("0"))], 950)  # holds it
    assert book.holding("BTC").free == D("0.1") and not book.unsure


def test_margin_a_copys_trade_inside_a_reads_window_asks_for_another_read() -> None:
    book = ledger(rest_ms=500)
    book.set_from_rest([("BTC", D("0"), D("0"), D("0"), D("0"))], 1000, 1040)  # sent at 1000, arrived at 1040
    assert not book.apply_trade(copy_trade(1, "0.1", 1020), "BTC", "USDT")  # in it or not: unknown
    assert book.unsure and book.holding("BTC").free == 0
    assert book.apply_trade(copy_trade(2, "0.1", 1041), "BTC", "USDT")  # after it: not in it
    assert book.filled("BTCUSDT", 7) == D("0.2")
