"""The master's resting and conditional orders in the chaos run (for the slaves in `orders =
"mirror"`): USD-M LIMIT GTC entries and reduce-only-side exits near the price, amended (`PUT
/fapi/v1/order`) and canceled; USD-M stops on the Algo Service (STOP_MARKET close-all,
TAKE_PROFIT_MARKET on a part, TRAILING_STOP_MARKET), canceled now and then; spot LIMIT,
LIMIT_MAKER, STOP_LOSS_LIMIT, OCO, OTO and OTOCO; cross margin LIMIT with MARGIN_BUY / AUTO_REPAY,
STOP_LOSS_LIMIT and OCO. Prices sit
within a few tenths of a percent of the last price, so the simulator's price walk fills limits in
parts and triggers stops while the run goes on. `wind_down` cancels everything the master has open
at the end, so the run's end state (every slave at the copy rule, no copy left open) is defined.
"""

from __future__ import annotations

import logging
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from typing import Any

from simulator.trader import SIZES

log = logging.getLogger("chaos.orders")

SPOT_SYMBOLS = {"BTCUSDT": Decimal("0.005"), "ETHUSDT": Decimal("0.1")}


def _on_tick(price: Decimal, tick: Decimal, up: bool) -> Decimal:
    return (price / tick).to_integral_value(ROUND_UP if up else ROUND_DOWN) * tick


class OrderActions:
    """Mixin of ChaosTrader (trading.py, after simulator.trader.Trader, whose `call`, `positions`
    and `_qty` it uses): one order action at a time."""

    rng: Any
    hedge: bool
    steps: dict[str, Decimal]

    async def _ticks(self, market: str) -> dict[str, Decimal]:
        cache = getattr(self, f"_ticks_{market}", None)
        if cache is None:
            path = "/fapi/v1/exchangeInfo" if market == "usdm" else "/api/v3/exchangeInfo"
            info = await self.call("GET", path)
            cache = {
                s["symbol"]: Decimal(f["tickSize"]) for s in info["symbols"] for f in s["filters"] if f["filterType"] == "PRICE_FILTER"
            }
            setattr(self, f"_ticks_{market}", cache)
        return cache

    async def _price(self, market: str, symbol: str) -> Decimal:
        path = "/fapi/v1/ticker/price" if market == "usdm" else "/api/v3/ticker/price"
        return Decimal((await self.call("GET", path, {"symbol": symbol}))["price"])

    async def _away(self, market: str, symbol: str, up: bool, lo: float = 0.0005, hi: float = 0.004) -> Decimal:
        """A price `lo`..`hi` above (`up`) or below the last, on the tick."""
        price = await self._price(market, symbol)
        tick = (await self._ticks(market))[symbol]
        moved = price * (1 + Decimal(str(round(self.rng.uniform(lo, hi), 5))) * (1 if up else -1))
        return _on_tick(moved, tick, up)

    # -- USD-M -------------------------------------------------------------------------------------
    async def usdm_limit(self) -> str:
        pos = await self.positions()
        if pos and self.rng.random() < 0.4:  # an exit: a part of a position, resting beyond the price
            (symbol, ps), amt = self.rng.choice(sorted(pos.items()))
            long_ = amt > 0 if ps == "BOTH" else ps == "LONG"
            step = SIZES[symbol][1]
            qty = (abs(amt) * Decimal(self.rng.choice(["0.3", "0.5", "1"])) / step).to_integral_value(ROUND_DOWN) * step
            if qty <= 0:
                return "usdm_limit_none"
            side = "SELL" if long_ else "BUY"
            params: dict[str, Any] = {"symbol": symbol, "side": side, "quantity": f"{qty:f}"}
            params |= {"positionSide": ps} if self.hedge else {"reduceOnly": "true"}
            kind = "usdm_limit_exit"
        else:
            symbol = self.rng.choice(list(SIZES))
            side = self.rng.choice(["BUY", "SELL"])
            params = {"symbol": symbol, "side": side, "quantity": f"{self._qty(symbol):f}"}
            if self.hedge:
                params["positionSide"] = "LONG" if side == "BUY" else "SHORT"
            kind = "usdm_limit_entry"
        price = await self._away("usdm", params["symbol"], up=params["side"] == "SELL")
        await self.call("POST", "/fapi/v1/order", params | {"type": "LIMIT", "timeInForce": "GTC", "price": f"{price:f}"})
        return kind

    async def usdm_amend(self) -> str:
        open_ = [o for o in await self.call("GET", "/fapi/v1/openOrders") if o["type"] == "LIMIT"]
        if not open_:
            return await self.usdm_limit()
        o = self.rng.choice(open_)
        price = await self._away("usdm", o["symbol"], up=o["side"] == "SELL")
        left = Decimal(o["origQty"])
        step = SIZES[o["symbol"]][1]
        qty = max(
            Decimal(o["executedQty"]) + step, (left * Decimal(self.rng.choice(["0.7", "1", "1.3"])) / step).to_integral_value() * step
        )
        params = {"symbol": o["symbol"], "orderId": o["orderId"], "side": o["side"], "quantity": f"{qty:f}", "price": f"{price:f}"}
        await self.call("PUT", "/fapi/v1/order", params)
        return "usdm_amend"

    async def usdm_cancel(self) -> str:
        open_ = await self.call("GET", "/fapi/v1/openOrders")
        if not open_:
            return "usdm_cancel_none"
        o = self.rng.choice(open_)
        await self.call("DELETE", "/fapi/v1/order", {"symbol": o["symbol"], "orderId": o["orderId"]})
        return "usdm_cancel"

    async def usdm_stop(self) -> str:
        pos = await self.positions()
        if not pos:
            return await self.usdm_limit()
        (symbol, ps), amt = self.rng.choice(sorted(pos.items()))
        long_ = amt > 0 if ps == "BOTH" else ps == "LONG"
        side = "SELL" if long_ else "BUY"
        params: dict[str, Any] = {"algoType": "CONDITIONAL", "symbol": symbol, "side": side, "workingType": "CONTRACT_PRICE"}
        if self.hedge:
            params["positionSide"] = ps
        r = self.rng.random()
        if r < 0.4:  # a stop-loss closing it all, on the losing side
            price = await self._away("usdm", symbol, up=not long_, lo=0.001, hi=0.006)
            params |= {"type": "STOP_MARKET", "triggerPrice": f"{price:f}", "closePosition": "true"}
            kind = "usdm_stop_loss"
        elif r < 0.8:  # a take-profit on a part
            step = SIZES[symbol][1]
            qty = max(step, (abs(amt) * Decimal("0.5") / step).to_integral_value(ROUND_DOWN) * step)
            price = await self._away("usdm", symbol, up=long_, lo=0.001, hi=0.006)
            params |= {"type": "TAKE_PROFIT_MARKET", "triggerPrice": f"{price:f}", "quantity": f"{qty:f}"}
            if not self.hedge:
                params["reduceOnly"] = "true"
            kind = "usdm_take_profit"
        else:  # a trailing stop on all of it
            step = SIZES[symbol][1]
            params |= {"type": "TRAILING_STOP_MARKET", "quantity": f"{abs(amt):f}", "callbackRate": self.rng.choice(["0.2", "0.5", "1"])}
            if not self.hedge:
                params["reduceOnly"] = "true"
            kind = "usdm_trailing"
        await self.call("POST", "/fapi/v1/algoOrder", params)
        return kind

    async def usdm_cancel_stop(self) -> str:
        open_ = await self.call("GET", "/fapi/v1/openAlgoOrders")
        if not open_:
            return "usdm_cancel_stop_none"
        o = self.rng.choice(open_)
        await self.call("DELETE", "/fapi/v1/algoOrder", {"algoId": o["algoId"]})
        return "usdm_cancel_stop"

    # -- spot and cross margin ---------------------------------------------------------------------------
    async def _held(self, market: str, base: str) -> Decimal:
        if market == "spot":
            acct = await self.call("GET", "/api/v3/account")
            return next((Decimal(b["free"]) for b in acct["balances"] if b["asset"] == base), Decimal(0))
        acct = await self.call("GET", "/sapi/v1/margin/account")
        asset = next((a for a in acct["userAssets"] if a["asset"] == base), None)
        return Decimal(asset["free"]) if asset else Decimal(0)

    async def spot_order(self, market: str) -> str:
        symbol = self.rng.choice(list(SPOT_SYMBOLS))
        step = self.steps.get(symbol, Decimal("0.0001"))
        size = SPOT_SYMBOLS[symbol] * Decimal(str(round(self.rng.uniform(0.5, 1.5), 3)))
        qty = max(step, (size / step).to_integral_value(ROUND_DOWN) * step)
        held = await self._held(market, symbol.removesuffix("USDT"))
        path = "/api/v3/order" if market == "spot" else "/sapi/v1/margin/order"
        selling = held > qty * 3 and self.rng.random() < 0.6
        r = self.rng.random()
        if selling and r < 0.25:  # an OCO: take profit above or stop out below
            above = await self._away(market, symbol, up=True, lo=0.001, hi=0.004)
            below = await self._away(market, symbol, up=False, lo=0.001, hi=0.004)
            if market == "margin":  # the older form margin has: a LIMIT_MAKER at price, a STOP_LOSS at stopPrice
                params = {"symbol": symbol, "side": "SELL", "quantity": f"{qty:f}", "price": f"{above:f}", "stopPrice": f"{below:f}"}
                await self.call("POST", "/sapi/v1/margin/order/oco", params | {"sideEffectType": "AUTO_REPAY"})
                return "margin_oco"
            params = {"symbol": symbol, "side": "SELL", "quantity": f"{qty:f}", "aboveType": "LIMIT_MAKER", "abovePrice": f"{above:f}"}
            params |= {"belowType": "STOP_LOSS", "belowStopPrice": f"{below:f}"}
            await self.call("POST", "/api/v3/orderList/oco", params)
            return "spot_oco"
        if not selling and market == "spot" and r < 0.2:  # an entry under the price with its exits pending
            return await self._spot_oto(symbol, qty, otoco=r < 0.1)
        if selling and r < 0.5:  # a stop-loss limit under the price
            stop = await self._away(market, symbol, up=False, lo=0.001, hi=0.004)
            tick = (await self._ticks("spot"))[symbol]
            params = {"symbol": symbol, "side": "SELL", "type": "STOP_LOSS_LIMIT", "quantity": f"{qty:f}", "timeInForce": "GTC"}
            params |= {"stopPrice": f"{stop:f}", "price": f"{stop - 5 * tick:f}"}
            if market == "margin":
                params["sideEffectType"] = "AUTO_REPAY"
            await self.call("POST", path, params)
            return f"{market}_stop"
        side = "SELL" if selling else "BUY"
        price = await self._away(market, symbol, up=side == "SELL")
        kind = "LIMIT_MAKER" if self.rng.random() < 0.3 else "LIMIT"
        params = {"symbol": symbol, "side": side, "type": kind, "quantity": f"{qty:f}", "price": f"{price:f}"}
        if kind == "LIMIT":
            params["timeInForce"] = "GTC"
        if market == "margin":
            params["sideEffectType"] = "AUTO_REPAY" if side == "SELL" else "MARGIN_BUY"
        await self.call("POST", path, params)
        return f"{market}_{kind.lower()}"

    async def _spot_oto(self, symbol: str, qty: Decimal, otoco: bool) -> str:
        """An OTO (a BUY LIMIT under the price, then a STOP_LOSS_LIMIT under that) or an OTOCO (the
        same buy, then a LIMIT_MAKER above it and a STOP_LOSS under it)."""
        entry = await self._away("spot", symbol, up=False)
        tick = (await self._ticks("spot"))[symbol]
        params = {"symbol": symbol, "workingType": "LIMIT", "workingSide": "BUY", "workingPrice": f"{entry:f}"}
        params |= {"workingQuantity": f"{qty:f}", "workingTimeInForce": "GTC", "pendingSide": "SELL", "pendingQuantity": f"{qty:f}"}
        stop = _on_tick(entry * Decimal("0.997"), tick, up=False)
        if otoco:
            maker = _on_tick(entry * Decimal("1.003"), tick, up=True)
            params |= {"pendingAboveType": "LIMIT_MAKER", "pendingAbovePrice": f"{maker:f}"}
            params |= {"pendingBelowType": "STOP_LOSS", "pendingBelowStopPrice": f"{stop:f}"}
            await self.call("POST", "/api/v3/orderList/otoco", params)
            return "spot_otoco"
        params |= {"pendingType": "STOP_LOSS_LIMIT", "pendingStopPrice": f"{stop:f}", "pendingPrice": f"{stop - 5 * tick:f}"}
        await self.call("POST", "/api/v3/orderList/oto", params | {"pendingTimeInForce": "GTC"})
        return "spot_oto"

    async def spot_cancel(self, market: str) -> str:
        path = "/api/v3/openOrders" if market == "spot" else "/sapi/v1/margin/openOrders"
        open_ = await self.call("GET", path)
        if not open_:
            return f"{market}_cancel_none"
        o = self.rng.choice(open_)
        await self.call(
            "DELETE", "/api/v3/order" if market == "spot" else "/sapi/v1/margin/order", {"symbol": o["symbol"], "orderId": o["orderId"]}
        )
        return f"{market}_cancel"

    async def order_action(self) -> str:
        r = self.rng.random()
        if r < 0.25:
            return await self.usdm_limit()
        if r < 0.35:
            return await self.usdm_amend()
        if r < 0.45:
            return await self.usdm_cancel()
        if r < 0.6:
            return await self.usdm_stop()
        if r < 0.65:
            return await self.usdm_cancel_stop()
        if r < 0.8:
            return await self.spot_order("spot")
        if r < 0.9:
            return await self.spot_order("margin")
        return await self.spot_cancel(self.rng.choice(["spot", "margin"]))

    async def wind_down(self) -> dict[str, int]:
        """Cancel every order the master has open (each market), so that the end state is defined."""
        done = {"usdm": 0, "usdm_algo": 0, "spot": 0, "margin": 0}
        symbols = {o["symbol"] for o in await self.call("GET", "/fapi/v1/openOrders")}
        for symbol in sorted(symbols):
            await self.call("DELETE", "/fapi/v1/allOpenOrders", {"symbol": symbol})
            done["usdm"] += 1
        for symbol in sorted({o["symbol"] for o in await self.call("GET", "/fapi/v1/openAlgoOrders")}):
            await self.call("DELETE", "/fapi/v1/algoOpenOrders", {"symbol": symbol})
            done["usdm_algo"] += 1
        for market, path in (("spot", "/api/v3/openOrders"), ("margin", "/sapi/v1/margin/openOrders")):
            for symbol in sorted({o["symbol"] for o in await self.call("GET", path)}):
                await self.call("DELETE", path, {"symbol": symbol})
                done[market] += 1
        return done
