"""SpotState (actors/master_state.py): spot holdings and cross margin net positions, pure."""

from __future__ import annotations

from decimal import Decimal

from actors.binance.wire import BinanceExecutionReport, BinanceMarginUserAsset, BinanceOutboundAccountPosition, BinanceSpotBalance, convert
from actors.master.spot_state import SpotState, SymbolInfo

D = Decimal
SYMBOLS = {"BTCUSDT": SymbolInfo("BTC", "USDT"), "ETHUSDT": SymbolInfo("ETH", "USDT")}


def report(
    side: str,
    qty: str,
    price: str = "100",
    *,
    fee: str = "0",
    fee_asset: str | None = None,
    t: int = 1000,
    order_id: int = 1,
    trade_id: int = 1,
    symbol: str = "BTCUSDT",
) -> BinanceExecutionReport:
    q, p = D(qty), D(price)
    return convert(
        {
            "e": "executionReport",
            "E": t,
            "s": symbol,
            "c": "c",
            "S": side,
            "o": "MARKET",
            "q": qty,
            "p": "0",
            "x": "TRADE",
            "X": "FILLED",
            "i": order_id,
            "l": qty,
            "z": qty,
            "L": price,
            "n": fee,
            "N": fee_asset,
            "T": t,
            "t": trade_id,
            "Y": str(q * p),
        },
        BinanceExecutionReport,
    )


def balances(u: int, **rows: tuple[str, str]) -> BinanceOutboundAccountPosition:
    return convert(
        {"e": "outboundAccountPosition", "E": u, "u": u, "B": [{"a": a, "f": f, "l": lk} for a, (f, lk) in rows.items()]},
        BinanceOutboundAccountPosition,
    )


def spot_state(btc: str = "2", usdt: str = "1000", rest_ms: int = 500) -> SpotState:
    state = SpotState(kind="spot")
    state.set_symbols(SYMBOLS)
    state.rebuild_spot(
        [BinanceSpotBalance(asset="BTC", free=D(btc), locked=D(0)), BinanceSpotBalance(asset="USDT", free=D(usdt), locked=D(0))], rest_ms
    )
    state.set_prices({"BTCUSDT": D(100)})
    return state


def margin_asset(asset: str, free: str, borrowed: str = "0", locked: str = "0") -> BinanceMarginUserAsset:
    f, b, lk = D(free), D(borrowed), D(locked)
    return BinanceMarginUserAsset(asset=asset, free=f, locked=lk, borrowed=b, interest=D(0), netAsset=f + lk - b)


def margin_state(btc: str = "1", btc_borrowed: str = "0", usdt: str = "1000", usdt_borrowed: str = "0") -> SpotState:
    state = SpotState(kind="margin")
    state.set_symbols(SYMBOLS)
    state.rebuild_margin([margin_asset("BTC", btc, btc_borrowed), margin_asset("USDT", usdt, usdt_borrowed)], 500)
    state.set_prices({"BTCUSDT": D(100)})
    return state


def test_spot_buy_with_base_commission_reflects_the_real_holding_change() -> None:
    state = spot_state()

    fill = state.apply_trade(report("BUY", "1", fee="0.001", fee_asset="BTC"))

    assert fill is not None and (fill.before, fill.after) == (D(2), D("2.999"))
    assert state.balances["USDT"].free == D(900)


def test_spot_sell_with_quote_commission() -> None:
    state = spot_state()

    fill = state.apply_trade(report("SELL", "0.5", fee="0.05", fee_asset="USDT"))

    assert fill is not None and (fill.before, fill.after) == (D(2), D("1.5"))
    assert state.balances["USDT"].free == D("1049.95")


def test_spot_balance_event_first_or_second_gives_the_same_fill_and_holdings() -> None:
    report_first, balance_first = spot_state(), spot_state()
    event = report("BUY", "1", fee="0.001", fee_asset="BTC", t=1000)
    after = balances(1000, BTC=("2.999", "0"), USDT=("900", "0"))

    fill_a = report_first.apply_trade(event)
    report_first.apply_balances(after)
    balance_first.apply_balances(after)
    fill_b = balance_first.apply_trade(event)

    assert fill_a is not None and fill_b is not None
    assert (fill_a.before, fill_a.after) == (fill_b.before, fill_b.after) == (D(2), D("2.999"))
    for state in (report_first, balance_first):
        assert (state.position("BTC"), state.balances["USDT"].free) == (D("2.999"), D(900))


def test_spot_stale_balance_event_does_not_undo_a_fill() -> None:
    state = spot_state()
    state.apply_trade(report("SELL", "1", t=1000))

    state.apply_balances(balances(900, BTC=("2", "0")))

    assert state.position("BTC") == D(1)


def test_spot_fill_contained_in_rest_and_duplicates_are_skipped() -> None:
    state = spot_state(rest_ms=2000)

    assert state.apply_trade(report("BUY", "1", t=2000)) is None
    assert state.apply_trade(report("BUY", "1", t=2001, trade_id=2)) is not None
    assert state.apply_trade(report("BUY", "1", t=2001, trade_id=2)) is None
    assert state.position("BTC") == D(3)


def test_spot_equity_and_snapshot_views() -> None:
    state = spot_state()
    state.apply_trade(report("SELL", "2", t=1000))

    assert state.equity() == D(1200)
    assert [(p.symbol, p.qty) for p in state.entries()] == [("BTCUSDT", D(0))]  # sold out, still shown
    assert {h.asset: h.free for h in state.holdings()} == {"USDT": D(1200)}


def test_margin_short_borrows_the_base_and_net_ignores_the_loan_in_balance_events() -> None:
    state = margin_state(btc="1")

    short = state.apply_trade(report("SELL", "1.5", t=1000))
    # The exchange borrowed 0.5 BTC: free 1 + 0.5 - 1.5 = 0; the balance event shows no loan.
    state.apply_balances(balances(1000, BTC=("0", "0"), USDT=("1150", "0")))

    assert short is not None and (short.before, short.after) == (D(1), D("-0.5"))
    assert (short.side_effect, short.borrowed_before, short.borrowed_after) == ("MARGIN_BUY", D(0), D("0.5"))
    assert state.position("BTC") == D("-0.5")


def test_margin_cover_with_base_fee_estimates_the_repayment() -> None:
    state = margin_state(btc="0", btc_borrowed="0.5")

    cover = state.apply_trade(report("BUY", "0.5", fee="0.0005", fee_asset="BTC", t=1000))

    assert cover is not None and (cover.before, cover.after) == (D("-0.5"), D("-0.0005"))
    assert (cover.side_effect, cover.borrowed_before, cover.borrowed_after) == ("AUTO_REPAY", D("0.5"), D("0.0005"))


def test_margin_long_on_borrowed_quote_hints_margin_buy_and_reducing_hints_auto_repay() -> None:
    state = margin_state(btc="0", usdt="100", usdt_borrowed="900")

    buy = state.apply_trade(report("BUY", "1", t=1000, trade_id=1))
    sell = state.apply_trade(report("SELL", "0.5", t=1001, trade_id=2))

    assert buy is not None and (buy.before, buy.after, buy.side_effect) == (D(0), D(1), "MARGIN_BUY")
    assert sell is not None and (sell.before, sell.after, sell.side_effect) == (D(1), D("0.5"), "AUTO_REPAY")
    assert buy.borrowed_after == D(0)  # the base loan: none


def test_margin_drift_finds_wrong_estimates_and_takes_rest() -> None:
    state = margin_state(btc="0", btc_borrowed="0.5")
    state.apply_trade(report("BUY", "0.5", t=1000))  # estimate: repaid; say the master did not repay
    rest = [margin_asset("BTC", "0.5", "0.5"), margin_asset("USDT", "950")]

    drifted = state.margin_drift(rest)
    state.take_margin_assets(rest, drifted, 2000)

    assert drifted == ["BTC"]
    assert (state.position("BTC"), state.balances["BTC"].borrowed) == (D(0), D("0.5"))
    assert state.margin_drift(rest) == []


def test_spot_two_trades_in_one_millisecond_with_the_first_ones_balance_event_between() -> None:
    # Two resting sells filled by one taker in the same millisecond: the first's balance event
    # (u = that ms) comes before the second's report and does not hold the second trade.
    state = spot_state()
    first = state.apply_trade(report("SELL", "0.5", t=1000, order_id=1, trade_id=1))
    state.apply_balances(balances(1000, BTC=("1.5", "0"), USDT=("1050", "0")))
    second = state.apply_trade(report("SELL", "0.3", t=1000, order_id=2, trade_id=2))
    state.apply_balances(balances(1000, BTC=("1.2", "0"), USDT=("1080", "0")))

    assert first is not None and (first.before, first.after) == (D(2), D("1.5"))
    assert second is not None and (second.before, second.after) == (D("1.5"), D("1.2"))
    assert (state.position("BTC"), state.balances["USDT"].free) == (D("1.2"), D(1080))


def test_spot_one_balance_event_first_holding_two_trades_of_its_millisecond() -> None:
    state = spot_state()
    state.apply_balances(balances(1000, BTC=("1.2", "0"), USDT=("1080", "0")))  # out of order: before both reports
    first = state.apply_trade(report("SELL", "0.5", t=1000, order_id=1, trade_id=1))
    second = state.apply_trade(report("SELL", "0.3", t=1000, order_id=2, trade_id=2))

    assert first is not None and second is not None
    assert (first.before, first.after, second.before, second.after) == (D(2), D("1.5"), D("1.5"), D("1.2"))
    assert (state.position("BTC"), state.balances["USDT"].free) == (D("1.2"), D(1080))  # each counted once
