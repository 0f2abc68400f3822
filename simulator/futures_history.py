"""USD-M account history and settings: `GET /fapi/v1/userTrades`, `/fapi/v1/income`, `/fapi/v1/symbolConfig`,
and the funding model that produces FUNDING_FEE income.

Fills (realizedPnl, commission) are read from the futures service's trade list (`sim.futures.trades`,
bounded by its owner: history older than it holds is gone, as Binance forgets after 3 months).
Funding: every `[futures] funding_interval` seconds (default 28800, Binance's 8 h, aligned to
00:00 UTC; 0 turns it off) each open position pays `positionAmt x markPrice x funding_rate`
(`funding_rate`, default 0.0001: longs pay when positive) from its wallet (the cross wallet, or
the position's isolated wallet), with Binance's `ACCOUNT_UPDATE` (reason FUNDING_FEE). Nobody
receives the other side: the simulator has no counterparties. Admin `POST /_sim/futures/funding`
`{rate?}` settles one funding now. The funding records are kept in a ring buffer of
`[futures] income_history` entries (default 10000).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from simulator import errors
from simulator.api import USER_DATA, Ctx
from simulator.futures_model import FuturesAccount, fixed, plain, price_text
from simulator.params import Params
from simulator.util import now_ms

if TYPE_CHECKING:
    from aiohttp import web

    from simulator.core import Sim

log = logging.getLogger("simulator.futures")

WEEK_MS = 7 * 86_400_000
INCOME_TYPES = (
    "TRANSFER",
    "WELCOME_BONUS",
    "REALIZED_PNL",
    "FUNDING_FEE",
    "COMMISSION",
    "INSURANCE_CLEAR",
    "REFERRAL_KICKBACK",
    "COMMISSION_REBATE",
    "API_REBATE",
    "CONTEST_REWARD",
    "CROSS_COLLATERAL_TRANSFER",
    "OPTIONS_PREMIUM_FEE",
    "OPTIONS_SETTLE_PROFIT",
    "INTERNAL_TRANSFER",
    "AUTO_EXCHANGE",
    "DELIVERED_SETTELMENT",
    "COIN_SWAP_DEPOSIT",
    "COIN_SWAP_WITHDRAW",
    "POSITION_LIMIT_INCREASE_FEE",
    "STRATEGY_UMFUTURES_TRANSFER",
    "FEE_RETURN",
    "BFUSD_REWARD",
)


class FuturesHistory:
    """Funding settlement and the history endpoints over `sim.futures`."""

    def __init__(self, sim: "Sim") -> None:
        self.sim = sim
        self.svc = sim.futures  # type: ignore[attr-defined]
        settings = sim.config.raw.get("futures", {}) if isinstance(sim.config.raw, dict) else {}
        self.funding_interval_ms = int(float(settings.get("funding_interval", 28800)) * 1000)
        self.funding_rate = Decimal(str(settings.get("funding_rate", "0.0001")))
        size = int(settings.get("income_history", 10000))
        if size < 1 or self.funding_interval_ms < 0:
            raise ValueError("futures: income_history must be >= 1 and funding_interval >= 0")
        self.funding: deque[dict[str, Any]] = deque(maxlen=size)  # FUNDING_FEE income rows
        self._tran_ids = 1
        self._task: asyncio.Task[None] | None = None

    # -- funding ------------------------------------------------------------------------------------
    def settle_funding(self, rate: Decimal, now: int) -> list[dict[str, Any]]:
        """One funding settlement for every open position; returns the income rows it wrote."""
        engine = self.svc.engine
        rows = []
        for acct in list(engine.accounts.values()):
            touched_isolated = []
            paid = False
            for pos in list(acct.positions.values()):
                if pos.amt == 0:
                    continue
                amount = (-pos.amt * engine.mark(pos.symbol) * rate).quantize(Decimal("1E-8"))
                if amount == 0:
                    continue
                if acct.is_isolated(pos.symbol):
                    pos.isolated_wallet += amount
                    touched_isolated.append(pos)
                else:
                    acct.cross_wallet += amount
                paid = True
                row = {
                    "account": acct.account_id,
                    "symbol": pos.symbol,
                    "incomeType": "FUNDING_FEE",
                    "income": amount,
                    "time": now,
                    "tranId": self._tran_ids,
                    "tradeId": "",
                    "positionSide": pos.side,
                }
                self._tran_ids += 1
                self.funding.append(row)
                rows.append(row)
            if paid:
                acct.update_time = now
                self.svc._write_back(acct.account_id)
                # Binance: cross funding carries the balance only; isolated funding adds its position
                event = engine._account_update(acct, "FUNDING_FEE", touched_isolated, now)
                self.svc.publish(acct.account_id, [event])
        return rows

    async def funding_loop(self) -> None:
        interval = self.funding_interval_ms
        while True:
            now = now_ms()
            await asyncio.sleep(((now // interval + 1) * interval - now) / 1000)
            try:
                self.settle_funding(self.funding_rate, now_ms())
            except Exception:  # noqa: BLE001 - one bad settlement never stops the exchange
                log.exception("funding settlement failed")

    async def start(self, app: "web.Application") -> None:
        if self.funding_interval_ms > 0:
            self._task = asyncio.get_running_loop().create_task(self.funding_loop())

    async def stop(self, app: "web.Application") -> None:
        if self._task is not None:
            self._task.cancel()

    def admin_funding(self, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        """POST /_sim/futures/funding {rate?}: settle one funding now."""
        rate = Decimal(str(body.get("rate", self.funding_rate)))
        now = now_ms()
        rows = self.settle_funding(rate, now)
        return {
            "time": now,
            "rate": plain(rate),
            "payments": [
                {"account": r["account"], "symbol": r["symbol"], "positionSide": r["positionSide"], "income": fixed(r["income"], 8)}
                for r in rows
            ],
        }

    # -- handlers -----------------------------------------------------------------------------------
    def _account(self, ctx: Ctx) -> FuturesAccount:
        return self.svc.account(ctx.require_account())

    def _symbol(self, p: Params, required: bool) -> str | None:
        raw = p.str("symbol") if required else p.get("symbol")
        if raw is None:
            return None
        symbol = raw.upper()
        if symbol not in self.svc.engine.symbols:
            raise errors.invalid_symbol()
        return symbol

    def _trades(self, account_id: str, symbol: str | None) -> list[dict[str, Any]]:
        rows = [t for t in self.svc.trades if t["account"] == account_id and (symbol is None or t["symbol"] == symbol)]
        rows.sort(key=lambda t: t["id"])
        return rows

    def symbol_config(self, ctx: Ctx, p: Params) -> list[dict[str, Any]]:
        fa = self._account(ctx)
        symbol = self._symbol(p, required=False)
        engine = self.svc.engine
        specs = [engine.spec(symbol)] if symbol is not None else list(engine.symbols.values())
        return [
            {
                "symbol": spec.symbol,
                "marginType": "ISOLATED" if fa.is_isolated(spec.symbol) else "CROSSED",
                "isAutoAddMargin": False,
                "leverage": fa.lev(spec.symbol),
                "maxNotionalValue": plain(spec.max_notional(fa.lev(spec.symbol))),
            }
            for spec in specs
        ]

    def user_trades(self, ctx: Ctx, p: Params) -> list[dict[str, Any]]:
        fa = self._account(ctx)
        symbol = self._symbol(p, required=True)
        order_id, from_id = p.opt_int("orderId"), p.opt_int("fromId")
        start, end = p.opt_int("startTime"), p.opt_int("endTime")
        limit = p.opt_int("limit", 500)
        assert limit is not None
        if limit < 1:
            raise errors.invalid_param("limit")
        limit = min(limit, 1000)
        if from_id is not None and (start is not None or end is not None):
            raise errors.BinanceError(errors.OPTIONAL_PARAMS_BAD_COMBO, "Combination of optional parameters invalid.")
        if start is not None and end is not None and end - start > WEEK_MS:
            raise errors.BinanceError(-1127, "More than 168 hours between startTime and endTime.")
        rows = self._trades(fa.account_id, symbol)
        if order_id is not None:
            rows = [t for t in rows if t["orderId"] == order_id]
        if from_id is not None:
            rows = [t for t in rows if t["id"] >= from_id][:limit]
        else:
            now = now_ms()
            if start is None and end is None:
                lo, hi = now - WEEK_MS, now
            elif start is None:
                lo, hi = end - WEEK_MS, end  # type: ignore[operator]
            else:
                lo, hi = start, end if end is not None else start + WEEK_MS
            rows = [t for t in rows if lo <= t["time"] <= hi]
            rows = rows[:limit] if start is not None else rows[-limit:]
        spec_of = self.svc.engine.spec
        out = []
        for t in rows:
            price, qty = Decimal(t["price"]), Decimal(t["qty"])
            spec = spec_of(t["symbol"])
            out.append(
                {
                    "buyer": t["side"] == "BUY",
                    "commission": fixed(Decimal(t["commission"]), 8),
                    "commissionAsset": "USDT",
                    "id": t["id"],
                    "maker": t["maker"],
                    "orderId": t["orderId"],
                    "price": price_text(price),
                    "qty": fixed(qty, spec.quantity_precision),
                    "quoteQty": price_text(price * qty),
                    "realizedPnl": fixed(Decimal(t["realizedPnl"]), 8),
                    "side": t["side"],
                    "positionSide": t["positionSide"],
                    "symbol": t["symbol"],
                    "time": t["time"],
                }
            )
        return out

    def income(self, ctx: Ctx, p: Params) -> list[dict[str, Any]]:
        fa = self._account(ctx)
        symbol = self._symbol(p, required=False)
        kind = p.get("incomeType")
        if kind is not None and kind not in INCOME_TYPES:
            raise errors.invalid_param("incomeType")
        start, end = p.opt_int("startTime"), p.opt_int("endTime")
        page = p.opt_int("page", 1)
        limit = p.opt_int("limit", 100)
        assert page is not None and limit is not None
        if page < 1:
            raise errors.invalid_param("page")
        if limit < 1:
            raise errors.invalid_param("limit")
        limit = min(limit, 1000)
        now = now_ms()
        if start is None and end is None:
            lo, hi = now - WEEK_MS, now
        else:
            lo, hi = (start if start is not None else 0), (end if end is not None else now)
        rows: list[tuple[int, int, str, dict[str, Any]]] = []
        for t in self._trades(fa.account_id, symbol):
            if not lo <= t["time"] <= hi:
                continue
            pnl, fee = Decimal(t["realizedPnl"]), Decimal(t["commission"])
            if pnl != 0:
                rows.append(
                    (t["time"], t["id"], "REALIZED_PNL", {"symbol": t["symbol"], "income": pnl, "tranId": t["id"], "tradeId": str(t["id"])})
                )
            if fee != 0:
                rows.append(
                    (t["time"], t["id"], "COMMISSION", {"symbol": t["symbol"], "income": -fee, "tranId": t["id"], "tradeId": str(t["id"])})
                )
        for f in self.funding:
            if f["account"] == fa.account_id and (symbol is None or f["symbol"] == symbol) and lo <= f["time"] <= hi:
                rows.append((f["time"], 1 << 62, "FUNDING_FEE", f))  # after the fills of its ms
        rows = [r for r in rows if kind is None or r[2] == kind]
        rows.sort(key=lambda r: (r[0], r[1], r[2]))
        chosen = rows[(page - 1) * limit : page * limit]
        return [
            {
                "symbol": r["symbol"],
                "incomeType": k,
                "income": fixed(r["income"], 8),
                "asset": "USDT",
                "info": k,
                "time": t,
                "tranId": r["tranId"],
                "tradeId": r["tradeId"],
            }
            for t, _, k, r in chosen
        ]


def register(sim: "Sim") -> FuturesHistory | None:
    if getattr(sim, "futures", None) is None:
        return None
    hist = FuturesHistory(sim)
    sim.futures_history = hist  # type: ignore[attr-defined]
    sim.admin.add("POST", "/_sim/futures/funding", hist.admin_funding)  # type: ignore[attr-defined]
    sim.on_startup(hist.start)
    sim.on_cleanup(hist.stop)
    kw: dict[str, Any] = {"security": USER_DATA, "market": "futures", "limiter": "futures", "permission": "enableFutures"}
    sim.api.route("GET", "/fapi/v1/symbolConfig", hist.symbol_config, weight=5, allowed=frozenset({"symbol"}), **kw)
    sim.api.route(
        "GET",
        "/fapi/v1/userTrades",
        hist.user_trades,
        weight=5,
        allowed=frozenset({"symbol", "orderId", "startTime", "endTime", "fromId", "limit"}),
        **kw,
    )
    sim.api.route(
        "GET",
        "/fapi/v1/income",
        hist.income,
        weight=30,
        allowed=frozenset({"symbol", "incomeType", "startTime", "endTime", "page", "limit"}),
        **kw,
    )
    return hist
