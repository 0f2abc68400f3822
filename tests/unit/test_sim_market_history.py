"""simulator.market_history: candles in ring buffers, kline windows, time zones (pure, no server)."""

from __future__ import annotations

import calendar
from decimal import Decimal

import pytest

from simulator.market_history import MINUTE_MS, SECOND_MS, PriceHistory, Trade, bars, parse_time_zone, price_at, window_end, window_start

D = Decimal
T0 = calendar.timegm((2026, 3, 4, 10, 0, 0)) * 1000  # a Wednesday, 10:00 UTC


def test_record_keeps_ohlc_per_bucket_and_stores_only_changes() -> None:
    h = PriceHistory(second_candles=10, minute_candles=10)
    h.record("X", D(100), T0)
    h.record("X", D(105), T0 + 10_000)
    h.record("X", D(95), T0 + 20_000)
    h.record("X", D(95), T0 + 30_000)  # unchanged: nothing new stored in the second buffer
    h.record("X", D(101), T0 + 59_999)
    (m,) = h.candles("X", MINUTE_MS)
    assert (m.start, m.open, m.high, m.low, m.close) == (T0, D(100), D(105), D(95), D(101))
    assert [c.start - T0 for c in h.candles("X", SECOND_MS)] == [0, 10_000, 20_000, 59_000]


def test_buffers_are_bounded() -> None:
    h = PriceHistory(second_candles=3, minute_candles=2)
    for i in range(100):
        h.record("X", D(100 + i), T0 + i * MINUTE_MS)
    assert len(h.candles("X", SECOND_MS)) == 3 and len(h.candles("X", MINUTE_MS)) == 2
    assert h.candles("X", MINUTE_MS)[-1].close == D(199)
    with pytest.raises(ValueError):
        PriceHistory(second_candles=0)


def test_bars_fill_gaps_with_the_last_close_and_count_trades() -> None:
    h = PriceHistory()
    h.record("X", D(100), T0)
    h.record("X", D(110), T0 + 30_000)
    h.record("X", D(90), T0 + 3 * MINUTE_MS + 5_000)  # minutes 1 and 2 are quiet
    trades = [Trade(1, T0 + 1_000, D(100), D(2), buyer_maker=False), Trade(2, T0 + 3 * MINUTE_MS + 6_000, D(90), D(1), buyer_maker=True)]
    now = T0 + 3 * MINUTE_MS + 10_000
    out = bars(h.candles("X", MINUTE_MS), trades, "1m", None, None, 10, now)
    assert [b.open_time - T0 for b in out] == [0, MINUTE_MS, 2 * MINUTE_MS, 3 * MINUTE_MS]
    first, quiet, _, last = out
    assert (first.open, first.high, first.low, first.close) == (D(100), D(110), D(100), D(110))
    assert (first.volume, first.quote_volume, first.count, first.taker_buy_volume) == (D(2), D(200), 1, D(2))
    assert (quiet.open, quiet.high, quiet.low, quiet.close, quiet.volume, quiet.count) == (D(110), D(110), D(110), D(110), D(0), 0)
    assert (last.open, last.high, last.low, last.close) == (D(110), D(110), D(90), D(90))  # opens at the carried price
    assert (last.count, last.taker_buy_volume) == (1, D(0)) and last.close_time == last.open_time + MINUTE_MS - 1
    # limit keeps the most recent windows; startTime counts forward from it
    assert [b.open_time for b in bars(h.candles("X", MINUTE_MS), trades, "1m", None, None, 2, now)] == [
        T0 + 2 * MINUTE_MS,
        T0 + 3 * MINUTE_MS,
    ]
    assert [b.open_time for b in bars(h.candles("X", MINUTE_MS), trades, "1m", T0 + 61_000, None, 2, now)] == [
        T0 + MINUTE_MS,
        T0 + 2 * MINUTE_MS,
    ]
    # windows before the history starts are left out; 5m aggregates the minute candles
    (five,) = bars(h.candles("X", MINUTE_MS), trades, "5m", T0 - 3_600_000, None, 50, now)
    assert (five.open_time, five.open, five.high, five.low, five.close, five.count) == (T0, D(100), D(110), D(90), D(90), 2)


def test_window_alignment_weeks_months_and_time_zones() -> None:
    assert window_start(T0 + 123, "1h") == T0
    monday = calendar.timegm((2026, 3, 2, 0, 0, 0)) * 1000
    assert window_start(T0, "1w") == monday and window_end(monday, "1w") == monday + 7 * 86_400_000
    march = calendar.timegm((2026, 3, 1, 0, 0, 0)) * 1000
    assert window_start(T0, "1M") == march and window_end(march, "1M") == calendar.timegm((2026, 4, 1, 0, 0, 0)) * 1000
    december = calendar.timegm((2026, 12, 5, 0, 0, 0)) * 1000
    assert window_end(window_start(december, "1M"), "1M") == calendar.timegm((2027, 1, 1, 0, 0, 0)) * 1000
    eight = parse_time_zone("8")
    assert eight == 8 * 3_600_000
    # a day in UTC+8 starts at 16:00 UTC the day before
    assert window_start(T0, "1d", eight) == calendar.timegm((2026, 3, 3, 16, 0, 0)) * 1000
    assert parse_time_zone("-1:00") == -3_600_000 and parse_time_zone("05:45") == (5 * 60 + 45) * 60_000
    assert parse_time_zone(None) == 0 and parse_time_zone("0") == 0 and parse_time_zone("+14:00") == 14 * 3_600_000
    for bad in ("15", "-13:00", "x", "1:60", "1:2:3", "123"):
        assert parse_time_zone(bad) is None, bad


def test_price_at_is_the_last_price_before() -> None:
    h = PriceHistory()
    h.record("X", D(1), T0)
    h.record("X", D(2), T0 + MINUTE_MS)
    candles = h.candles("X", MINUTE_MS)
    assert price_at(candles, T0) is None and price_at(candles, T0 + 1) == D(1)
    assert price_at(candles, T0 + 10 * MINUTE_MS) == D(2)
