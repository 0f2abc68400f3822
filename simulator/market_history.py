"""Bounded market history for the market-data endpoints: price candles and the public trade tape.

Prices: every price step (tick loop, admin price change) is recorded into per-symbol candles of
one second and one minute, kept in ring buffers (`deque(maxlen=...)`, sizes from the
`[market_data]` config table: `second_candles`, default 3600 = 1 h; `minute_candles`, default
1440 = 24 h). A candle is only stored when the price moved or a new bucket began with a different
price, so a paused simulator stores nothing; gaps are filled with the last close when read.

Trades: the simulator has no other traders, so the public tape of a symbol is the fills of the
simulator's own orders (spot + cross margin for `/api/v3`, USD-M for `/fapi`). They are read by
iterating the engines' trade lists (bounded by their owners), never assumed complete.

Pure logic (no I/O, no asyncio): callers pass `now` in ms.
"""

from __future__ import annotations

import bisect
import calendar
import datetime as dt
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal(0)
SECOND_MS = 1000
MINUTE_MS = 60_000
DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS
MONDAY_OFFSET_MS = 4 * DAY_MS  # 1970-01-01 was a Thursday: Binance's weeks start on Monday 00:00 UTC

# interval -> width in ms (None: calendar month)
INTERVALS: dict[str, int | None] = {
    "1s": SECOND_MS,
    "1m": MINUTE_MS,
    "3m": 3 * MINUTE_MS,
    "5m": 5 * MINUTE_MS,
    "15m": 15 * MINUTE_MS,
    "30m": 30 * MINUTE_MS,
    "1h": 3600_000,
    "2h": 7200_000,
    "4h": 4 * 3600_000,
    "6h": 6 * 3600_000,
    "8h": 8 * 3600_000,
    "12h": 12 * 3600_000,
    "1d": DAY_MS,
    "3d": 3 * DAY_MS,
    "1w": WEEK_MS,
    "1M": None,
}


class Candle:
    __slots__ = ("start", "open", "high", "low", "close")

    def __init__(self, start: int, price: Decimal) -> None:
        self.start = start
        self.open = self.high = self.low = self.close = price

    def update(self, price: Decimal) -> None:
        if price > self.high:
            self.high = price
        elif price < self.low:
            self.low = price
        self.close = price


@dataclass(frozen=True)
class Trade:
    """One public trade (a fill of one of the simulator's orders)."""

    id: int
    time: int
    price: Decimal
    qty: Decimal
    buyer_maker: bool  # the buyer was the maker (Binance's `m` / `isBuyerMaker`)

    @property
    def quote(self) -> Decimal:
        return self.price * self.qty


@dataclass(frozen=True)
class Bar:
    """One kline: OHLC from the price walk, volumes from the trades inside it."""

    open_time: int
    close_time: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    quote_volume: Decimal
    count: int
    taker_buy_volume: Decimal
    taker_buy_quote: Decimal


class PriceHistory:
    """Per-symbol one-second and one-minute candles in ring buffers."""

    def __init__(self, second_candles: int = 3600, minute_candles: int = 1440) -> None:
        if second_candles < 1 or minute_candles < 1:
            raise ValueError("market_data: second_candles and minute_candles must be >= 1")
        self.sizes = {SECOND_MS: second_candles, MINUTE_MS: minute_candles}
        self.stores: dict[int, dict[str, deque[Candle]]] = {SECOND_MS: {}, MINUTE_MS: {}}

    def record(self, symbol: str, price: Decimal, now: int) -> None:
        for width, store in self.stores.items():
            candles = store.get(symbol)
            if candles is None:
                candles = store[symbol] = deque(maxlen=self.sizes[width])
            start = now - now % width
            if candles and candles[-1].start >= start:  # same bucket (or the wall clock stepped back)
                candles[-1].update(price)
            elif not candles or candles[-1].close != price:
                candles.append(Candle(start, price))

    def candles(self, symbol: str, width: int) -> list[Candle]:
        return list(self.stores[width].get(symbol, ()))

    def first_time(self, symbol: str, width: int) -> int | None:
        candles = self.stores[width].get(symbol)
        return candles[0].start if candles else None


def window_start(t: int, interval: str, offset_ms: int = 0) -> int:
    """Start (UTC ms) of the kline window holding `t`, windows aligned in a time zone `offset_ms`."""
    width = INTERVALS[interval]
    local = t + offset_ms
    if width is None:
        day = dt.datetime.fromtimestamp(local / 1000, tz=dt.UTC)
        return calendar.timegm((day.year, day.month, 1, 0, 0, 0)) * 1000 - offset_ms
    if width == WEEK_MS:
        return (local - MONDAY_OFFSET_MS) // WEEK_MS * WEEK_MS + MONDAY_OFFSET_MS - offset_ms
    return local // width * width - offset_ms


def window_end(start: int, interval: str, offset_ms: int = 0) -> int:
    """Exclusive end of the window that starts at `start`."""
    width = INTERVALS[interval]
    if width is not None:
        return start + width
    day = dt.datetime.fromtimestamp((start + offset_ms) / 1000, tz=dt.UTC)
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return calendar.timegm((year, month, 1, 0, 0, 0)) * 1000 - offset_ms


def bars(
    candles: list[Candle], trades: list[Trade], interval: str, start: int | None, end: int | None, limit: int, now: int, offset_ms: int = 0
) -> list[Bar]:
    """Klines of `interval` from candles (sorted by start) and trades (sorted by time).

    startTime given: `limit` windows from it; else `limit` windows up to endTime (or now). Windows
    before the first candle are left out (the history does not reach them); a window without a
    candle repeats the previous close with zero volume, as Binance does for a quiet interval.
    """
    if not candles:
        return []
    first = candles[0].start
    last_time = min(end, now) if end is not None else now
    if last_time < first or (start is not None and start > last_time):
        return []  # before the history begins, or an empty range
    windows: list[int] = []
    if start is not None:
        w = window_start(max(start, first), interval, offset_ms)
        while w <= last_time and len(windows) < limit:
            windows.append(w)
            w = window_end(w, interval, offset_ms)
    else:
        w = window_start(last_time, interval, offset_ms)
        while len(windows) < limit and window_end(w, interval, offset_ms) > first:
            windows.append(w)
            w = window_start(w - 1, interval, offset_ms)
        windows.reverse()
    starts = [c.start for c in candles]
    times = [t.time for t in trades]
    out = []
    for w in windows:
        we = window_end(w, interval, offset_ms)
        lo, hi = bisect.bisect_left(starts, w), bisect.bisect_left(starts, we)
        inside = candles[lo:hi]
        if inside:
            o, c = inside[0].open, inside[-1].close
            h = max(x.high for x in inside)
            low = min(x.low for x in inside)
            if lo > 0:  # the price that carried into the window opens it
                o = candles[lo - 1].close
                h, low = max(h, o), min(low, o)
        elif lo > 0:
            o = h = low = c = candles[lo - 1].close
        else:
            continue
        t_lo, t_hi = bisect.bisect_left(times, w), bisect.bisect_left(times, we)
        volume = quote = buy_vol = buy_quote = ZERO
        for trade in trades[t_lo:t_hi]:
            volume += trade.qty
            quote += trade.quote
            if not trade.buyer_maker:  # the taker bought
                buy_vol += trade.qty
                buy_quote += trade.quote
        out.append(Bar(w, we - 1, o, h, low, c, volume, quote, t_hi - t_lo, buy_vol, buy_quote))
    return out


def price_at(candles: list[Candle], t: int) -> Decimal | None:
    """The last recorded price before `t` (None if the history does not reach back that far)."""
    starts = [c.start for c in candles]
    i = bisect.bisect_left(starts, t)
    return candles[i - 1].close if i > 0 else None


def range_of(candles: Iterable[Candle], t: int) -> tuple[Decimal | None, Decimal | None]:
    """(high, low) of the candles that start at or after `t`."""
    high = low = None
    for c in candles:
        if c.start < t:
            continue
        high = c.high if high is None or c.high > high else high
        low = c.low if low is None or c.low < low else low
    return high, low


def parse_time_zone(text: str | None) -> int | None:
    """Binance's `timeZone` (`0`, `8`, `-1:00`, `05:45`; range [-12:00, +14:00]) as an offset in ms;
    None if malformed or out of range."""
    if text is None or text == "":
        return 0
    sign = -1 if text.startswith("-") else 1
    body = text[1:] if text[:1] in "+-" else text
    hours, _, minutes = body.partition(":")
    if not hours.isdigit() or (minutes and not minutes.isdigit()) or len(hours) > 2 or len(minutes) > 2:
        return None
    total = int(hours) * 60 + (int(minutes) if minutes else 0)
    if minutes and int(minutes) >= 60:
        return None
    offset = sign * total
    if offset < -12 * 60 or offset > 14 * 60:
        return None
    return offset * MINUTE_MS
