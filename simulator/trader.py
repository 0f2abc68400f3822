"""Master-trader activity for the demo: random but plausible trading on one account, on USD-M
futures (most of the time), spot and cross margin.

    python -m simulator.trader --url http://127.0.0.1:PORT --config simulator/example.toml \
        --account master [--seed 1] [--interval 3] [--actions N]

Futures: opens, scale-ins, partial and full closes, flips through zero (one-way mode), leverage
changes and the odd burst of orders. Spot: buys and partial sells. Margin: borrow-buys, repaying
sells, and short sales with borrowing covered by repaying buys. All all through the public Binance API with the account's HMAC key (a market
participant like any other: this module shares no code with the copier).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import logging
import random
import sys
import time
import tomllib
import urllib.parse
from decimal import ROUND_DOWN, Decimal
from typing import Any

import aiohttp

log = logging.getLogger("trader")

# symbol -> (typical order size, step): sizes keep notional between ~100 and ~5,000 USDT
SIZES = {
    "BTCUSDT": (Decimal("0.02"), Decimal("0.001")),
    "ETHUSDT": (Decimal("0.5"), Decimal("0.001")),
    "SOLUSDT": (Decimal("5"), Decimal("1")),
    "BNBUSDT": (Decimal("2"), Decimal("0.01")),
    "XRPUSDT": (Decimal("1000"), Decimal("0.1")),
    "DOGEUSDT": (Decimal("10000"), Decimal("1")),
}


class Trader:
    def __init__(self, url: str, api_key: str, secret: str, rng: random.Random) -> None:
        self.url = url.rstrip("/")
        self.api_key = api_key
        self._secret = secret.encode()
        self.rng = rng
        self.session: aiohttp.ClientSession | None = None
        self.hedge = False
        self.steps: dict[str, Decimal] = {}
        self.markets: tuple[str, ...] = ("usdm", "spot", "margin")

    def __repr__(self) -> str:
        return f"Trader({self.url!r})"

    async def call(self, method: str, path: str, params: dict[str, Any] | None = None) -> Any:
        assert self.session is not None
        query = urllib.parse.urlencode({**(params or {}), "timestamp": int(time.time() * 1000)})
        sig = hmac.new(self._secret, query.encode(), hashlib.sha256).hexdigest()
        async with self.session.request(
            method, f"{self.url}{path}?{query}&signature={sig}", headers={"X-MBX-APIKEY": self.api_key}
        ) as resp:
            body = await resp.json(content_type=None)
            if resp.status >= 400:
                raise RuntimeError(f"{method} {path}: {resp.status} {body}")
            return body

    async def positions(self) -> dict[tuple[str, str], Decimal]:
        out = {}
        for p in await self.call("GET", "/fapi/v2/positionRisk"):
            amt = Decimal(p["positionAmt"])
            if amt:
                out[(p["symbol"], p["positionSide"])] = amt
        return out

    def _qty(self, symbol: str, scale: Decimal = Decimal(1)) -> Decimal:
        size, step = SIZES[symbol]
        q = size * scale * Decimal(str(round(self.rng.uniform(0.5, 1.5), 3)))
        return max(step, (q / step).to_integral_value(ROUND_DOWN) * step)

    async def order(self, symbol: str, side: str, qty: Decimal, position_side: str | None = None, reduce_only: bool = False) -> None:
        params: dict[str, Any] = {"symbol": symbol, "side": side, "type": "MARKET", "quantity": f"{qty:f}"}
        if self.hedge:
            params["positionSide"] = position_side or ("LONG" if side == "BUY" else "SHORT")
        elif reduce_only:
            params["reduceOnly"] = "true"
        await self.call("POST", "/fapi/v1/order", params)
        log.info("%s %s %s %s", side, qty, symbol, params.get("positionSide", ""))

    async def act(self) -> str:
        """One plausible action given the current positions."""
        pos = await self.positions()
        r = self.rng.random()
        if not pos or r < 0.25:  # open (or add on) a position
            symbol = self.rng.choice(list(SIZES))
            side = self.rng.choice(["BUY", "SELL"])
            await self.order(symbol, side, self._qty(symbol))
            return "open"
        (symbol, ps), amt = self.rng.choice(sorted(pos.items()))
        long_ = amt > 0 if ps == "BOTH" else ps == "LONG"
        size = abs(amt)
        step = SIZES[symbol][1]
        close_side = "SELL" if long_ else "BUY"
        open_side = "BUY" if long_ else "SELL"
        if r < 0.45:
            await self.order(symbol, open_side, self._qty(symbol), ps if self.hedge else None)
            return "scale_in"
        if r < 0.65:
            part = (size * Decimal(self.rng.choice(["0.25", "0.3333", "0.5"])) / step).to_integral_value(ROUND_DOWN) * step
            if part > 0:
                await self.order(symbol, close_side, part, ps if self.hedge else None, reduce_only=True)
                return "partial_close"
        if r < 0.8 or self.hedge:
            await self.order(symbol, close_side, size, ps if self.hedge else None, reduce_only=True)
            return "close"
        if r < 0.9:  # flip through zero in one order (one-way mode)
            await self.order(symbol, close_side, size + self._qty(symbol))
            return "flip"
        await self.call("POST", "/fapi/v1/leverage", {"symbol": symbol, "leverage": self.rng.choice([3, 5, 10, 20])})
        return "leverage"

    async def spot_steps(self) -> dict[str, Decimal]:
        info = await self.call("GET", "/api/v3/exchangeInfo")
        steps = {}
        for sym in info["symbols"]:
            for f in sym["filters"]:
                if f["filterType"] == "LOT_SIZE":
                    steps[sym["symbol"]] = Decimal(f["stepSize"])
        return steps

    async def spot_or_margin(self, market: str) -> str:
        """One spot or cross-margin action on BTCUSDT / ETHUSDT (a few hundred USDT each)."""
        symbol = self.rng.choice(["BTCUSDT", "ETHUSDT"])
        base = symbol.removesuffix("USDT")
        step = self.steps.get(symbol, Decimal("0.0001"))
        size = {"BTCUSDT": Decimal("0.005"), "ETHUSDT": Decimal("0.1")}[symbol]
        qty = max(step, (size * Decimal(str(round(self.rng.uniform(0.5, 1.5), 3))) / step).to_integral_value(ROUND_DOWN) * step)
        path = "/api/v3/order" if market == "spot" else "/sapi/v1/margin/order"
        if market == "spot":
            acct = await self.call("GET", "/api/v3/account")
            free = next((Decimal(b["free"]) for b in acct["balances"] if b["asset"] == base), Decimal(0))
        else:
            acct = await self.call("GET", "/sapi/v1/margin/account")
            asset = next((a for a in acct["userAssets"] if a["asset"] == base), None)
            free = Decimal(asset["netAsset"]) if asset else Decimal(0)
        params: dict[str, Any] = {"symbol": symbol, "type": "MARKET"}
        if free > qty * 4 and self.rng.random() < 0.5:  # sell part of what is held
            part = ((free / 3) / step).to_integral_value(ROUND_DOWN) * step
            params.update(side="SELL", quantity=f"{part:f}")
            if market == "margin":
                params["sideEffectType"] = "AUTO_REPAY"
            kind = "sell"
        elif market == "margin" and free < 0:  # cover the short, repaying the loan
            params.update(side="BUY", quantity=f"{-free:f}", sideEffectType="AUTO_REPAY")
            kind = "cover"
        elif market == "margin" and free <= 0 and self.rng.random() < 0.4:  # short sale on borrowed coins
            params.update(side="SELL", quantity=f"{qty:f}", sideEffectType="MARGIN_BUY")
            kind = "short"
        else:
            params.update(side="BUY", quantity=f"{qty:f}")
            if market == "margin":
                params["sideEffectType"] = "MARGIN_BUY"
            kind = "buy"
        await self.call("POST", path, params)
        log.info("%s %s %s %s %s", market, params["side"], params["quantity"], symbol, params.get("sideEffectType", ""))
        return f"{market}_{kind}"

    async def burst(self, n: int = 10) -> None:
        """n orders at once on different symbols (copiers must keep up with bursts)."""
        symbols = self.rng.sample(list(SIZES), k=min(n, len(SIZES)))
        await asyncio.gather(*(self.order(s, self.rng.choice(["BUY", "SELL"]), self._qty(s)) for s in symbols), return_exceptions=True)

    async def run(self, interval: float, actions: int | None) -> None:
        self.session = aiohttp.ClientSession()
        try:
            self.hedge = bool((await self.call("GET", "/fapi/v1/positionSide/dual"))["dualSidePosition"])
            self.steps = await self.spot_steps()
            done = 0
            while actions is None or done < actions:
                try:
                    r = self.rng.random()
                    if r < 0.05:
                        await self.burst()
                        kind = "burst"
                    elif r < 0.17 and "spot" in self.markets:
                        kind = await self.spot_or_margin("spot")
                    elif r < 0.29 and "margin" in self.markets:
                        kind = await self.spot_or_margin("margin")
                    else:
                        kind = await self.act()
                    done += 1
                    log.info("action %d: %s", done, kind)
                except (RuntimeError, aiohttp.ClientError) as exc:
                    log.warning("action failed: %s", exc)
                await asyncio.sleep(self.rng.uniform(0.3, 1.7) * interval)
        finally:
            await self.session.close()


def load_key(config: str, account: str) -> tuple[str, str]:
    with open(config, "rb") as fh:
        doc = tomllib.load(fh)
    for acc in doc.get("accounts", []):
        if acc.get("id") == account:
            for key in acc.get("keys", []):
                if key.get("type", "HMAC").upper() == "HMAC":
                    return key["api_key"], key["secret"]
    raise SystemExit(f"no HMAC key for account {account!r} in {config}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="random but plausible master trading for the demo")
    ap.add_argument("--url", required=True)
    ap.add_argument("--config", required=True, help="the simulator's config (for the account's key)")
    ap.add_argument("--account", default="master")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--interval", type=float, default=3.0, help="mean seconds between actions")
    ap.add_argument("--actions", type=int, default=None, help="stop after N actions (default: run forever)")
    ap.add_argument("--markets", default="usdm,spot,margin", help="markets to trade (comma separated)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s trader %(levelname)s %(message)s", stream=sys.stdout)
    api_key, secret = load_key(args.config, args.account)
    trader = Trader(args.url, api_key, secret, random.Random(args.seed))
    trader.markets = tuple(m.strip() for m in args.markets.split(",") if m.strip())
    asyncio.run(trader.run(args.interval, args.actions))
    return 0


if __name__ == "__main__":
    sys.exit(main())
