"""The master's random trading for the chaos run: simulator.trader's actions (opens, scale-ins,
partial and full closes, spot and margin), plus in hedge mode leverage changes, bursts of 10
orders sent at once (10 fills within ~100 ms), and resting and conditional orders (orders.py),
all canceled when the trading ends (`wind_down`)."""

from __future__ import annotations

import asyncio
import collections
import logging
import random
from decimal import Decimal

import aiohttp

from simulator.trader import SIZES, Trader
from tests.chaos.orders import OrderActions

log = logging.getLogger("chaos.trader")


class ChaosTrader(Trader, OrderActions):
    def __init__(self, url: str, api_key: str, secret: str, rng: random.Random) -> None:
        super().__init__(url, api_key, secret, rng)
        self.kinds: collections.Counter[str] = collections.Counter()
        self.failed = 0
        self.wound_down: dict[str, int] | None = None  # what `wind_down` canceled (None: it failed)

    async def burst10(self) -> str:
        """Ten market orders at once (several per symbol; both position sides in hedge mode)."""
        symbols = [self.rng.choice(list(SIZES)) for _ in range(10)]
        sides = [self.rng.choice(["BUY", "SELL"]) for _ in range(10)]
        results = await asyncio.gather(
            *(self.order(s, side, self._qty(s, Decimal("0.5"))) for s, side in zip(symbols, sides, strict=False)), return_exceptions=True
        )
        self.failed += sum(1 for r in results if isinstance(r, BaseException))
        return "burst"

    async def leverage(self) -> str:
        symbol = self.rng.choice(list(SIZES))
        await self.call("POST", "/fapi/v1/leverage", {"symbol": symbol, "leverage": self.rng.choice([3, 5, 10, 20])})
        return "leverage"

    async def one(self) -> str:
        r = self.rng.random()
        if r < 0.04:
            return await self.burst10()
        if r < 0.08:
            return await self.leverage()
        if r < 0.18:
            return await self.spot_or_margin("spot")
        if r < 0.28:
            return await self.spot_or_margin("margin")
        if r < 0.5:
            return await self.order_action()
        return await self.act()

    async def run_for(self, actions: int, interval: float, stop: asyncio.Event) -> None:
        self.session = aiohttp.ClientSession()
        try:
            self.hedge = bool((await self.call("GET", "/fapi/v1/positionSide/dual"))["dualSidePosition"])
            self.steps = await self.spot_steps()
            done = 0
            while done < actions and not stop.is_set():
                try:
                    kind = await self.one()
                    self.kinds[kind] += 1
                except (TimeoutError, RuntimeError, aiohttp.ClientError) as exc:
                    self.failed += 1
                    log.warning("action failed: %s", exc)
                done += 1
                try:
                    await asyncio.wait_for(stop.wait(), self.rng.uniform(0.3, 1.7) * interval)
                except TimeoutError:
                    pass
            for attempt in range(3):  # the faults are still on: a cancel may fail
                try:
                    self.wound_down = await self.wind_down()
                    break
                except (TimeoutError, RuntimeError, aiohttp.ClientError) as exc:
                    log.warning("wind-down attempt %d failed: %s", attempt + 1, exc)
        finally:
            await self.session.close()
