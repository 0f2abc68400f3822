"""Request-weight pacing: a fleet of followers on one IP stays under Binance's per-IP weight limit.

Binance counts REST request weight per IP in fixed windows aligned to the clock ("a 1 MINUTE
interval starts every minute", binance-spot-api-docs/web-socket-api.md) and reports the IP's count
so far in every response (`X-MBX-USED-WEIGHT-1M`). Past the limit it answers 429, and an IP that
keeps sending gets banned (418) for minutes: every follower and the master listener on that host
then go blind at once. 100 followers starting together (each reads its positions, account and
exchange info: about 25 weight) or resyncing together after a stream drop would do just that.

`WeightPacer` lets each process see the count the whole IP has used: before a request, if the
count last reported for the current window plus the request's weight would pass `fraction` of the
limit, the request waits for the next window, plus a random spread so that the followers that
waited do not all start again at the same instant. After a 429/418 nothing is sent before its
`Retry-After`. Orders do not go through here (they go over the WebSocket API, and are never held).
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

__all__ = ["WeightPacer", "request_weight", "FUTURES_WEIGHT_LIMIT", "SPOT_WEIGHT_LIMIT"]

FUTURES_WEIGHT_LIMIT = 2400  # REQUEST_WEIGHT per minute (USD-M exchangeInfo rateLimits)
SPOT_WEIGHT_LIMIT = 6000  # REQUEST_WEIGHT per minute (spot exchangeInfo rateLimits)

_INTERVAL_S = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400}
_LETTER = {"SECOND": "s", "MINUTE": "m", "HOUR": "h", "DAY": "d"}

# Weights of the GET requests our actors make (binance-reference: spot rest-api.md, the USD-M
# docs and change log; the simulator routes the same); anything else counts 1. `openOrders`
# without a symbol is the expensive form.
_WEIGHTS = {
    "/fapi/v2/positionRisk": 5,
    "/fapi/v3/positionRisk": 5,
    "/fapi/v2/account": 5,
    "/fapi/v3/account": 5,
    "/fapi/v2/balance": 5,
    "/fapi/v1/positionSide/dual": 30,
    "/fapi/v1/openOrders": 40,
    "/fapi/v1/income": 30,
    "/fapi/v1/leverageBracket": 1,
    "/api/v3/account": 20,
    "/api/v3/openOrders": 80,
    "/api/v3/exchangeInfo": 20,
    "/sapi/v1/margin/account": 10,
}


def request_weight(method: str, path: str, query: str = "") -> int:
    """The weight Binance counts for one request (1 when not listed)."""
    if method != "GET":
        return 1  # the POSTs/PUTs/DELETEs we make (leverage, margin type, listenKey...) weigh 1
    if path.endswith("/openOrders") and "symbol=" in query:
        return 1 if path.startswith("/fapi") else 6
    return _WEIGHTS.get(path, 1)


class WeightPacer:
    """Holds requests back while the IP's weight count is near its limit (see the module doc).

    `header` is the suffix of the used-weight header this limit is reported in (`"1m"`)."""

    def __init__(
        self,
        limit: int,
        *,
        window_s: float = 60.0,
        header: str = "1m",
        fraction: float = 0.8,
        spread_s: float = 3.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if limit <= 0 or window_s <= 0 or not 0 < fraction <= 1:
            raise ValueError(f"bad weight pacing: limit {limit}, window {window_s}s, fraction {fraction}")
        self.limit = limit
        self.window_s = window_s
        self.header = header
        self.fraction = fraction
        self.spread_s = spread_s
        self.waits = 0  # requests held back
        self.waited_s = 0.0
        self._clock = clock
        self._sleep = sleep
        self._rand = rand
        self._window = -1  # index of the window `_used` was reported in
        self._used = 0
        self._blocked_until = 0.0  # after a 429/418: nothing before this (clock seconds)

    def __repr__(self) -> str:
        return f"WeightPacer(limit={self.limit}/{self.header}, used={self._used}, waits={self.waits})"

    def configure(self, rate_limits: Iterable[Mapping[str, Any]] | None) -> None:
        """Take the REQUEST_WEIGHT limit from exchangeInfo's `rateLimits` (the shortest window)."""
        best: tuple[float, int, str] | None = None
        for item in rate_limits or ():
            try:
                if item.get("rateLimitType") != "REQUEST_WEIGHT":
                    continue
                interval = str(item["interval"])
                num = int(item["intervalNum"])
                limit = int(item["limit"])
                window = _INTERVAL_S[interval] * num
            except (KeyError, TypeError, ValueError, AttributeError):
                continue
            if limit > 0 and window > 0 and (best is None or window < best[0]):
                best = (float(window), limit, f"{num}{_LETTER[interval]}")
        if best is not None:
            self.window_s, self.limit, self.header = best

    def _index(self, t: float) -> int:
        return int(t // self.window_s)

    def seen(self, interval: str, used: int) -> None:
        """A response reported `used` weight so far in the current `interval` window ("1m")."""
        if interval != self.header:
            return
        index = self._index(self._clock())
        if index != self._window:
            self._window, self._used = index, used
        else:
            self._used = max(self._used, used)  # replies of concurrent requests come in any order

    def rate_limited(self, retry_after: float | None) -> None:
        """A 429/418 came: send nothing before `retry_after` seconds (the rest of the window if
        none was given), and count the window as full."""
        now = self._clock()
        if retry_after is None or retry_after <= 0:
            retry_after = (self._index(now) + 1) * self.window_s - now
        self._blocked_until = max(self._blocked_until, now + retry_after)
        self._window, self._used = self._index(now), self.limit

    def delay(self, weight: int) -> float:
        """Seconds to wait before a request of `weight` (0: send now)."""
        now = self._clock()
        wait = max(0.0, self._blocked_until - now)
        index = self._index(now + wait)
        if index == self._window and self._used + weight > self.fraction * self.limit:
            wait = (index + 1) * self.window_s - now
        if wait > 0:
            wait += self.spread_s * self._rand()
        return wait

    async def wait(self, weight: int) -> float:
        """Wait until a request of `weight` may go; returns the seconds waited."""
        total = 0.0
        for _ in range(3):  # a window can fill again while we waited for it
            wait = self.delay(weight)
            if wait <= 0 or math.isnan(wait):
                break
            self.waits += 1
            self.waited_s += wait
            total += wait
            await self._sleep(wait)
        return total
