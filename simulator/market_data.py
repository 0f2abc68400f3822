"""Public market data from the simulator's own price walk, resting orders and fills.

Spot (`/api/v3`, and the WebSocket API `/ws-api/v3`): `ticker/24hr`, `depth`, `klines`,
`aggTrades`. USD-M (`/fapi`): `v1/ticker/24hr`, `v1/depth`, `v2/ticker/price`. Weights as
Binance documents them (binance-spot-api-docs/rest-api.md; the USD-M docs as quoted in
binance-sdk-derivatives-trading-usds-futures).

What is modelled (see simulator/README.md, "Endpoints served"):
- last price, OHLC and the 24 h open/high/low are the price walk (`market_history.PriceHistory`,
  bounded); volumes, trade counts and trade ids are the fills of the simulator's own orders;
- the order book is the resting limit orders of every account plus synthetic liquidity: levels
  one tick apart starting at the price -/+ the configured slippage, each holding the symbol's
  per-step `liquidity` (what a crossing limit order may take in one price step).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Any

import orjson

from simulator import errors
from simulator.api import Ctx
from simulator.futures_model import FuturesOrder, fixed
from simulator.market_history import (
    DAY_MS,
    INTERVALS,
    MINUTE_MS,
    SECOND_MS,
    Bar,
    PriceHistory,
    Trade,
    bars,
    parse_time_zone,
    price_at,
    range_of,
)
from simulator.params import Params
from simulator.util import ZERO, fmt, now_ms

if TYPE_CHECKING:
    from simulator.core import Sim

SPOT_WS = "/ws-api/v3"
FAPI_WS = "/ws-fapi/v1"
SYMBOL_STATUSES = ("TRADING", "HALT", "BREAK")
FAPI_DEPTH_LIMITS = (5, 10, 20, 50, 100, 500, 1000)
Level = tuple[Decimal, Decimal]


def spot_depth_weight(p: Params) -> int:
    limit = _limit_value(p, 100, 5000)
    return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250


def fapi_depth_weight(p: Params) -> int:
    limit = _limit_value(p, 500, 1000)
    return 2 if limit <= 50 else 5 if limit <= 100 else 10 if limit <= 500 else 20


def spot_ticker_weight(p: Params) -> int:
    if p.get("symbol"):
        return 2
    raw = p.get("symbols")
    if raw is None:
        return 80
    try:
        count = len(orjson.loads(raw))
    except (orjson.JSONDecodeError, TypeError):
        return 2
    return 2 if count <= 20 else 40 if count <= 100 else 80


def _limit_value(p: Params, default: int, maximum: int) -> int:
    """The limit for weighting (malformed values are refused later by the handler)."""
    raw = p.get("limit")
    try:
        return min(int(raw), maximum) if raw else default
    except ValueError:
        return default


def _limit(p: Params, default: int, maximum: int) -> int:
    limit = p.opt_int("limit", default)
    assert limit is not None
    if limit < 1:
        raise errors.invalid_param("limit")
    return min(limit, maximum)


def _symbols_list(raw: str) -> list[str]:
    try:
        wanted = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise errors.BinanceError(errors.INVALID_JSON, "JSON sent for parameter 'symbols' is not valid") from None
    if not isinstance(wanted, list) or not wanted or not all(isinstance(s, str) for s in wanted):
        raise errors.BinanceError(errors.INVALID_JSON, "JSON sent for parameter 'symbols' is not valid")
    return wanted


def _check_status(p: Params) -> None:
    status = p.get("symbolStatus")
    if status is None:
        return
    if status not in SYMBOL_STATUSES:
        raise errors.invalid_param("symbolStatus")
    if status != "TRADING":  # every simulated symbol is TRADING
        raise errors.BinanceError(-1220, "The symbol's status does not match the requested symbolStatus.")


class MarketData:
    """Price history, trade tape and order-book views of one simulator."""

    def __init__(self, sim: "Sim") -> None:
        self.sim = sim
        raw = sim.config.raw.get("market_data", {}) if isinstance(sim.config.raw, dict) else {}
        self.history = PriceHistory(int(raw.get("second_candles", 3600)), int(raw.get("minute_candles", 1440)))
        self.update_id = 1
        self._book_state: dict[tuple[str, str], Any] = {}
        now = now_ms()
        for symbol, price in sim.prices.prices.items():
            self.history.record(symbol, price, now)
        sim.prices.add_listener(self.on_prices)

    def on_prices(self, prices: dict[str, Decimal]) -> None:
        now = now_ms()
        for symbol, price in prices.items():
            self.history.record(symbol, price, now)

    # -- trades -------------------------------------------------------------------------------------
    def spot_trades(self, symbol: str) -> list[Trade]:
        """Fills of spot and cross-margin orders on `symbol` (both trade the spot market)."""
        out = []
        for name in ("spot", "margin"):
            engine = self.sim.markets.get(name)
            for book in getattr(engine, "accounts", {}).values():
                for order, fill in book.trades:
                    if order.symbol == symbol:
                        out.append(Trade(fill.trade_id, fill.time, fill.price, fill.qty, (order.side == "BUY") == fill.maker))
        out.sort(key=lambda t: t.id)
        return out

    def futures_trades(self, symbol: str) -> list[Trade]:
        svc = getattr(self.sim, "futures", None)
        out = [
            Trade(t["id"], t["time"], Decimal(t["price"]), Decimal(t["qty"]), (t["side"] == "BUY") == t["maker"])
            for t in (svc.trades if svc is not None else ())
            if t["symbol"] == symbol
        ]
        out.sort(key=lambda t: t.id)
        return out

    # -- order book ---------------------------------------------------------------------------------
    def book(self, symbol: str, market: str, tick: Decimal, levels: int) -> tuple[int, list[Level], list[Level]]:
        """(lastUpdateId, bids best first, asks best first): resting orders + synthetic levels."""
        price = self.sim.prices.price(symbol)
        spec = self.sim.symbols.find(symbol, "spot")
        liquidity = spec.liquidity if spec is not None else Decimal(1)
        bids: dict[Decimal, Decimal] = {}
        asks: dict[Decimal, Decimal] = {}
        resting = []
        for entry in self.sim.matcher.books.get(symbol, ()):
            if not entry.active or entry.leaves <= 0:
                continue
            if isinstance(entry.ref, FuturesOrder) != (market == "futures"):
                continue
            side = bids if entry.side == "BUY" else asks
            side[entry.price] = side.get(entry.price, ZERO) + entry.leaves
            resting.append((entry.side, entry.price, entry.leaves))
        state = (price, liquidity, self.sim.slippage, tuple(resting))
        if self._book_state.get((market, symbol)) != state:
            self._book_state[(market, symbol)] = state
            self.update_id += 1
        slip = self.sim.slippage
        best_bid = (price * (1 - slip) / tick).to_integral_value(ROUND_FLOOR) * tick
        best_ask = (price * (1 + slip) / tick).to_integral_value(ROUND_CEILING) * tick
        if best_ask <= best_bid:
            best_ask = best_bid + tick
        for i in range(levels):
            bid = best_bid - i * tick
            if bid > 0:
                bids[bid] = bids.get(bid, ZERO) + liquidity
            ask = best_ask + i * tick
            asks[ask] = asks.get(ask, ZERO) + liquidity
        bid_rows = sorted(bids.items(), key=lambda kv: kv[0], reverse=True)[:levels]
        ask_rows = sorted(asks.items(), key=lambda kv: kv[0])[:levels]
        return self.update_id, bid_rows, ask_rows

    # -- 24 h statistics ----------------------------------------------------------------------------
    def day_stats(self, symbol: str, trades: list[Trade], now: int) -> dict[str, Any]:
        start = now - DAY_MS
        candles = self.history.candles(symbol, MINUTE_MS)
        last = self.sim.prices.price(symbol)
        before = price_at(candles, start)
        open_ = before if before is not None else (candles[0].open if candles else last)
        high, low = range_of(candles, start)
        high = max(x for x in (high, open_, last) if x is not None)
        low = min(x for x in (low, open_, last) if x is not None)
        inside = [t for t in trades if t.time >= start]
        volume = sum((t.qty for t in inside), ZERO)
        quote = sum((t.quote for t in inside), ZERO)
        return {
            "open": open_,
            "high": high,
            "low": low,
            "last": last,
            "prev_close": open_,
            "last_qty": inside[-1].qty if inside else ZERO,
            "volume": volume,
            "quote": quote,
            "vwap": quote / volume if volume else ZERO,
            "first_id": inside[0].id if inside else -1,
            "last_id": inside[-1].id if inside else -1,
            "count": len(inside),
            "open_time": start,
            "close_time": now,
        }


def _pct(change: Decimal, base: Decimal) -> str:
    return fmt(change / base * 100, 3) if base else "0.000"


# -- spot handlers ---------------------------------------------------------------------------------


def make_spot_handlers(md: MarketData) -> dict[str, Callable[[Ctx, Params], Any]]:
    sim = md.sim

    def spot_symbol(p: Params) -> str:
        symbol = p.str("symbol")
        sim.symbols.get(symbol, "spot")
        return symbol

    def ticker_24hr(ctx: Ctx, p: Params) -> Any:
        kind = p.enum("type", ("FULL", "MINI"), "FULL")
        symbol = p.get("symbol")
        symbols_raw = p.get("symbols")
        if symbol is not None and symbols_raw is not None:
            raise errors.BinanceError(errors.OPTIONAL_PARAMS_BAD_COMBO, "Combination of optional parameters invalid.")
        status = p.get("symbolStatus")
        if status is not None and status not in SYMBOL_STATUSES:
            raise errors.invalid_param("symbolStatus")
        now = now_ms()
        if symbol is not None:
            sim.symbols.get(symbol, "spot")
            _check_status(p)
            return one(symbol, kind, now)
        if symbols_raw is not None:
            names = _symbols_list(symbols_raw)
            for name in names:
                sim.symbols.get(name, "spot")
        else:
            names = [s.symbol for s in sim.symbols.by_market("spot")]
        if status not in (None, "TRADING"):
            return []
        return [one(name, kind, now) for name in names]

    def one(symbol: str, kind: str, now: int) -> dict[str, Any]:
        s = md.day_stats(symbol, md.spot_trades(symbol), now)
        out: dict[str, Any] = {"symbol": symbol}
        if kind == "FULL":
            tick = sim.symbols.get(symbol, "spot").tick_size
            _, bids, asks = md.book(symbol, "spot", tick, 1)
            change = s["last"] - s["open"]
            out.update(
                priceChange=fmt(change),
                priceChangePercent=_pct(change, s["open"]),
                weightedAvgPrice=fmt(s["vwap"]),
                prevClosePrice=fmt(s["prev_close"]),
                lastPrice=fmt(s["last"]),
                lastQty=fmt(s["last_qty"]),
                bidPrice=fmt(bids[0][0]),
                bidQty=fmt(bids[0][1]),
                askPrice=fmt(asks[0][0]),
                askQty=fmt(asks[0][1]),
                openPrice=fmt(s["open"]),
                highPrice=fmt(s["high"]),
                lowPrice=fmt(s["low"]),
            )
        else:
            out.update(openPrice=fmt(s["open"]), highPrice=fmt(s["high"]), lowPrice=fmt(s["low"]), lastPrice=fmt(s["last"]))
        out.update(
            volume=fmt(s["volume"]),
            quoteVolume=fmt(s["quote"]),
            openTime=s["open_time"],
            closeTime=s["close_time"],
            firstId=s["first_id"],
            lastId=s["last_id"],
            count=s["count"],
        )
        return out

    def depth(ctx: Ctx, p: Params) -> dict[str, Any]:
        symbol = spot_symbol(p)
        limit = _limit(p, 100, 5000)
        _check_status(p)
        update_id, bids, asks = md.book(symbol, "spot", sim.symbols.get(symbol, "spot").tick_size, limit)
        return {"lastUpdateId": update_id, "bids": [[fmt(a), fmt(b)] for a, b in bids], "asks": [[fmt(a), fmt(b)] for a, b in asks]}

    def klines(ctx: Ctx, p: Params) -> list[list[Any]]:
        symbol = spot_symbol(p)
        interval = p.str("interval")
        if interval not in INTERVALS:
            raise errors.BinanceError(-1120, "Invalid interval.")
        start, end = p.opt_int("startTime"), p.opt_int("endTime")
        offset = parse_time_zone(p.get("timeZone"))
        if offset is None:
            raise errors.invalid_param("timeZone")
        limit = _limit(p, 500, 1000)
        width = SECOND_MS if interval == "1s" else MINUTE_MS
        rows = bars(md.history.candles(symbol, width), md.spot_trades(symbol), interval, start, end, limit, now_ms(), offset)
        return [_kline(b) for b in rows]

    def agg_trades(ctx: Ctx, p: Params) -> list[dict[str, Any]]:
        symbol = spot_symbol(p)
        from_id, start, end = p.opt_int("fromId"), p.opt_int("startTime"), p.opt_int("endTime")
        limit = _limit(p, 500, 1000)
        trades = md.spot_trades(symbol)
        if from_id is not None:
            rows = [t for t in trades if t.id >= from_id and (end is None or t.time <= end)][:limit]
        elif start is not None or end is not None:
            rows = [t for t in trades if (start is None or t.time >= start) and (end is None or t.time <= end)]
            rows = rows[:limit] if start is not None else rows[-limit:]
        else:
            rows = trades[-limit:]
        return [
            {"a": t.id, "p": fmt(t.price), "q": fmt(t.qty), "f": t.id, "l": t.id, "T": t.time, "m": t.buyer_maker, "M": True} for t in rows
        ]

    return {"ticker_24hr": ticker_24hr, "depth": depth, "klines": klines, "agg_trades": agg_trades}


def _kline(b: Bar) -> list[Any]:
    return [
        b.open_time,
        fmt(b.open),
        fmt(b.high),
        fmt(b.low),
        fmt(b.close),
        fmt(b.volume),
        b.close_time,
        fmt(b.quote_volume),
        b.count,
        fmt(b.taker_buy_volume),
        fmt(b.taker_buy_quote),
        "0",
    ]


# -- USD-M handlers --------------------------------------------------------------------------------


def make_futures_handlers(md: MarketData) -> dict[str, Callable[[Ctx, Params], Any]]:
    sim = md.sim
    engine = sim.futures.engine  # type: ignore[attr-defined]

    def spec_of(symbol: str) -> Any:
        spec = engine.symbols.get(symbol.upper())
        if spec is None:
            raise errors.invalid_symbol()
        return spec

    def ticker_24hr(ctx: Ctx, p: Params) -> Any:
        symbol = p.get("symbol")
        now = now_ms()
        if symbol is not None:
            return one(spec_of(symbol), now)
        return [one(spec, now) for spec in engine.symbols.values()]

    def one(spec: Any, now: int) -> dict[str, Any]:
        s = md.day_stats(spec.symbol, md.futures_trades(spec.symbol), now)
        pp, qp = spec.price_precision, spec.quantity_precision
        change = s["last"] - s["open"]
        return {
            "symbol": spec.symbol,
            "priceChange": fixed(change, pp),
            "priceChangePercent": _pct(change, s["open"]),
            "weightedAvgPrice": fixed(s["vwap"], pp),
            "lastPrice": fixed(s["last"], pp),
            "lastQty": fixed(s["last_qty"], qp),
            "openPrice": fixed(s["open"], pp),
            "highPrice": fixed(s["high"], pp),
            "lowPrice": fixed(s["low"], pp),
            "volume": fixed(s["volume"], qp),
            "quoteVolume": fixed(s["quote"], pp),
            "openTime": s["open_time"],
            "closeTime": s["close_time"],
            "firstId": s["first_id"],
            "lastId": s["last_id"],
            "count": s["count"],
        }

    def depth(ctx: Ctx, p: Params) -> dict[str, Any]:
        spec = spec_of(p.str("symbol"))
        limit = p.opt_int("limit", 500)
        if limit not in FAPI_DEPTH_LIMITS:
            raise errors.invalid_param("limit")
        update_id, bids, asks = md.book(spec.symbol, "futures", spec.tick_size, limit)
        now = now_ms()
        pp, qp = spec.price_precision, spec.quantity_precision
        return {
            "lastUpdateId": update_id,
            "E": now,
            "T": now,
            "bids": [[fixed(a, pp), fixed(b, qp)] for a, b in bids],
            "asks": [[fixed(a, pp), fixed(b, qp)] for a, b in asks],
        }

    def ticker_price_v2(ctx: Ctx, p: Params) -> Any:
        symbol = p.get("symbol")
        now = now_ms()

        def row(spec: Any) -> dict[str, Any]:
            return {"symbol": spec.symbol, "price": fixed(sim.prices.price(spec.symbol), spec.price_precision), "time": now}

        if symbol is not None:
            return row(spec_of(symbol))
        return [row(spec) for spec in engine.symbols.values()]

    return {"ticker_24hr": ticker_24hr, "depth": depth, "ticker_price_v2": ticker_price_v2}


def register(sim: "Sim") -> MarketData:
    md = MarketData(sim)
    sim.market_data = md  # type: ignore[attr-defined]
    api = sim.api
    h = make_spot_handlers(md)
    api.route(
        "GET",
        "/api/v3/ticker/24hr",
        h["ticker_24hr"],
        weight=spot_ticker_weight,
        allowed=frozenset({"symbol", "symbols", "type", "symbolStatus"}),
        ws=[(SPOT_WS, "ticker.24hr")],
    )
    api.route(
        "GET",
        "/api/v3/depth",
        h["depth"],
        weight=spot_depth_weight,
        allowed=frozenset({"symbol", "limit", "symbolStatus"}),
        ws=[(SPOT_WS, "depth")],
    )
    api.route(
        "GET",
        "/api/v3/klines",
        h["klines"],
        weight=2,
        allowed=frozenset({"symbol", "interval", "startTime", "endTime", "timeZone", "limit"}),
        ws=[(SPOT_WS, "klines")],
    )
    api.route(
        "GET",
        "/api/v3/aggTrades",
        h["agg_trades"],
        weight=4,
        allowed=frozenset({"symbol", "fromId", "startTime", "endTime", "limit"}),
        ws=[(SPOT_WS, "trades.aggregate")],
    )
    if getattr(sim, "futures", None) is not None:
        f = make_futures_handlers(md)
        kw: dict[str, Any] = {"market": "futures", "limiter": "futures"}
        api.route(
            "GET",
            "/fapi/v1/ticker/24hr",
            f["ticker_24hr"],
            weight=lambda p: 1 if p.get("symbol") else 40,
            allowed=frozenset({"symbol"}),
            **kw,
        )
        api.route(
            "GET",
            "/fapi/v1/depth",
            f["depth"],
            weight=fapi_depth_weight,
            allowed=frozenset({"symbol", "limit"}),
            ws=[(FAPI_WS, "depth")],
            **kw,
        )
        api.route(
            "GET",
            "/fapi/v2/ticker/price",
            f["ticker_price_v2"],
            weight=lambda p: 1 if p.get("symbol") else 2,
            allowed=frozenset({"symbol"}),
            **kw,
        )
    return md
