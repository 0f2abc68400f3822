"""The futures API's read-only handlers: account, balances, positions, brackets, commission, the
listen key, and public market data (ping, time, exchangeInfo, premiumIndex, ticker price).
"""

from __future__ import annotations

from typing import Any

from simulator import errors
from simulator.api import Ctx
from simulator.futures_model import FuturesAccount, FuturesReject, Position, fixed, plain
from simulator.params import Params
from simulator.util import now_ms

from .futures_json import (
    FUNDING_INTERVAL_MS,
    _fail,
    account_json,
    balance_json,
    bracket_json,
    position_risk_v2_json,
    position_risk_v3_json,
    symbol_json,
)


class _FuturesReads:
    """The part of `FuturesService` (futures_api.py) named in this module's docstring; `FuturesService` inherits it."""

    def get_position_mode(self, ctx: Ctx, p: Params) -> dict[str, Any]:
        return {"dualSidePosition": self._ctx_account(ctx).dual_side}

    def get_multi_assets(self, ctx: Ctx, p: Params) -> dict[str, Any]:
        return {"multiAssetsMargin": self._ctx_account(ctx).multi_assets}

    def leverage_bracket(self, ctx: Ctx, p: Params) -> Any:
        self._ctx_account(ctx)
        symbol = p.get("symbol")
        if symbol is not None:
            try:
                return bracket_json(self.engine.spec(symbol.upper()))
            except FuturesReject as exc:
                raise _fail(exc) from None
        return [bracket_json(spec) for spec in self.engine.symbols.values()]

    def commission_rate(self, ctx: Ctx, p: Params) -> dict[str, Any]:
        fa = self._ctx_account(ctx)
        symbol = p.str("symbol").upper()
        try:
            self.engine.spec(symbol)
        except FuturesReject as exc:
            raise _fail(exc) from None
        return {
            "symbol": symbol,
            "makerCommissionRate": plain(fa.maker_rate),
            "takerCommissionRate": plain(fa.taker_rate),
            "rpiCommissionRate": "0",
        }

    def account_v2(self, ctx: Ctx, p: Params) -> dict[str, Any]:
        return account_json(self.engine, self._ctx_account(ctx), version=2)

    def account_v3(self, ctx: Ctx, p: Params) -> dict[str, Any]:
        return account_json(self.engine, self._ctx_account(ctx), version=3)

    def balance(self, ctx: Ctx, p: Params) -> list[dict[str, Any]]:
        return balance_json(self.engine, self._ctx_account(ctx), ctx.require_account().uid)

    def _positions(self, fa: FuturesAccount, p: Params) -> list[Position]:
        symbol = p.get("symbol")
        symbols = list(self.engine.symbols)
        if symbol is not None:
            symbol = symbol.upper()
            try:
                self.engine.spec(symbol)
            except FuturesReject as exc:
                raise _fail(exc) from None
            symbols = [symbol]
        sides = ("LONG", "SHORT") if fa.dual_side else ("BOTH",)
        return [fa.position(s, side) for s in symbols for side in sides]

    def position_risk_v2(self, ctx: Ctx, p: Params) -> list[dict[str, Any]]:
        fa = self._ctx_account(ctx)
        return [position_risk_v2_json(self.engine, fa, pos) for pos in self._positions(fa, p)]

    def position_risk_v3(self, ctx: Ctx, p: Params) -> list[dict[str, Any]]:
        fa = self._ctx_account(ctx)
        return [
            position_risk_v3_json(self.engine, fa, pos)
            for pos in self._positions(fa, p)
            if pos.amt != 0 or any(o.position_side == pos.side for o in fa.open_orders(pos.symbol))
        ]

    def listen_key_start(self, ctx: Ctx, p: Params) -> dict[str, Any]:
        return {"listenKey": self.streams.create(ctx.require_account().id)}

    def listen_key_keepalive(self, ctx: Ctx, p: Params) -> dict[str, Any]:
        return {"listenKey": self.streams.keepalive(ctx.require_account().id, p.get("listenKey"))}

    def listen_key_close(self, ctx: Ctx, p: Params) -> dict[str, Any]:
        self.streams.close_key(ctx.require_account().id, p.get("listenKey"))
        return {}

    # -- public market data ---------------------------------------------------------------------------
    def ping(self, ctx: Ctx, p: Params) -> dict[str, Any]:
        return {}

    def server_time(self, ctx: Ctx, p: Params) -> dict[str, Any]:
        return {"serverTime": now_ms()}

    def exchange_info(self, ctx: Ctx, p: Params) -> dict[str, Any]:
        return {
            "timezone": "UTC",
            "serverTime": now_ms(),
            "futuresType": "U_MARGINED",
            "rateLimits": self.sim.limiters["futures"].exchange_info(),
            "exchangeFilters": [],
            "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
            "symbols": [symbol_json(spec) for spec in self.engine.symbols.values()],
        }

    def premium_index(self, ctx: Ctx, p: Params) -> Any:
        symbol = p.get("symbol")
        if symbol is not None:
            symbol = symbol.upper()
            if symbol not in self.engine.symbols:
                raise errors.invalid_symbol()
            return self._premium(symbol)
        return [self._premium(s) for s in self.engine.symbols]

    def _premium(self, symbol: str) -> dict[str, Any]:
        now = now_ms()
        mark = fixed(self.engine.mark(symbol), 8)
        return {
            "symbol": symbol,
            "markPrice": mark,
            "indexPrice": mark,
            "estimatedSettlePrice": mark,
            "lastFundingRate": "0.00010000",
            "interestRate": "0.00010000",
            "nextFundingTime": (now // FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS,
            "time": now,
        }

    def ticker_price(self, ctx: Ctx, p: Params) -> Any:
        symbol = p.get("symbol")

        def one(s: str) -> dict[str, Any]:
            spec = self.engine.symbols[s]
            return {"symbol": s, "price": fixed(self.sim.prices.price(s), spec.price_precision), "time": now_ms()}

        if symbol is not None:
            if symbol.upper() not in self.engine.symbols:
                raise errors.invalid_symbol()
            return one(symbol.upper())
        return [one(s) for s in self.engine.symbols]
