"""Rate limits counted as Binance counts them: fixed windows aligned to the wall clock.

- REQUEST_WEIGHT per IP (e.g. 6000 per 1 minute): header `X-MBX-USED-WEIGHT-1M`.
- ORDERS per account (e.g. 100 per 10 s, 200000 per day): headers `X-MBX-ORDER-COUNT-10S`, `-1D`.
Past a limit: HTTP 429 with `Retry-After` (seconds); after `ban_after` breaches within the ban
memory, HTTP 418 until the ban ends. One `RateLimiter` per API family ("spot", "futures").
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from simulator import errors

_INTERVAL_SECONDS = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400}
_LETTER = {"SECOND": "S", "MINUTE": "M", "HOUR": "H", "DAY": "D"}


@dataclass
class Limit:
    rate_limit_type: str  # REQUEST_WEIGHT | ORDERS | RAW_REQUESTS
    interval: str  # SECOND | MINUTE | HOUR | DAY
    interval_num: int
    limit: int

    @property
    def seconds(self) -> int:
        return _INTERVAL_SECONDS[self.interval] * self.interval_num

    @property
    def header_suffix(self) -> str:
        return f"{self.interval_num}{_LETTER[self.interval]}"

    def exchange_info(self) -> dict:
        return {"rateLimitType": self.rate_limit_type, "interval": self.interval, "intervalNum": self.interval_num, "limit": self.limit}


@dataclass
class RateLimitConfig:
    weight: list[Limit] = field(default_factory=lambda: [Limit("REQUEST_WEIGHT", "MINUTE", 1, 6000)])
    orders: list[Limit] = field(default_factory=lambda: [Limit("ORDERS", "SECOND", 10, 100), Limit("ORDERS", "DAY", 1, 200000)])
    raw: list[Limit] = field(default_factory=lambda: [Limit("RAW_REQUESTS", "MINUTE", 5, 61000)])
    ban_after: int = 3  # 429s within ban_memory seconds before a 418
    ban_seconds: int = 120
    ban_memory: int = 60
    enabled: bool = True


class _Counter:
    __slots__ = ("window", "count")

    def __init__(self) -> None:
        self.window = -1
        self.count = 0


class RateLimiter:
    def __init__(
        self, config: RateLimitConfig, weight_header: str = "X-MBX-USED-WEIGHT-", order_header: str = "X-MBX-ORDER-COUNT-"
    ) -> None:
        self.config = config
        self.weight_header = weight_header
        self.order_header = order_header
        self._weights: dict[tuple[str, int], _Counter] = {}
        self._orders: dict[tuple[str, int], _Counter] = {}
        self._breaches: dict[str, list[float]] = {}
        self._banned_until: dict[str, float] = {}

    # -- helpers --------------------------------------------------------------------------------------
    @staticmethod
    def _bump(table: dict[tuple[str, int], _Counter], who: str, index: int, limit: Limit, now: float, amount: int) -> _Counter:
        key = (who, index)
        counter = table.get(key)
        if counter is None:
            counter = table[key] = _Counter()
        window = int(now // limit.seconds)
        if counter.window != window:
            counter.window = window
            counter.count = 0
        counter.count += amount
        return counter

    def _retry_after(self, limit: Limit, now: float) -> int:
        return max(1, int(limit.seconds - (now % limit.seconds)) + 1)

    def _breach(self, ip: str, now: float) -> None:
        hist = [t for t in self._breaches.get(ip, []) if now - t < self.config.ban_memory]
        hist.append(now)
        self._breaches[ip] = hist
        if len(hist) >= self.config.ban_after:
            self._banned_until[ip] = now + self.config.ban_seconds
            self._breaches[ip] = []

    def banned_error(self, until: float, now: float) -> errors.BinanceError:
        until_ms = int(until * 1000)
        retry = max(1, int(until - now) + 1)
        return errors.BinanceError(
            errors.TOO_MANY_REQUESTS,
            f"Way too much request weight used; IP banned until {until_ms}. Please use WebSocket Streams for live updates to avoid bans.",
            418,
            headers={"Retry-After": str(retry)},
            data={"serverTime": int(now * 1000), "retryAfter": until_ms},
        )

    # -- API ------------------------------------------------------------------------------------------
    def check_ban(self, ip: str) -> None:
        until = self._banned_until.get(ip)
        if until is not None:
            now = time.time()
            if now < until:
                raise self.banned_error(until, now)
            del self._banned_until[ip]

    def ban(self, ip: str, seconds: float) -> None:
        self._banned_until[ip] = time.time() + seconds

    def add_weight(self, ip: str, weight: int) -> list[tuple[Limit, int]]:
        """Count `weight` for the IP; raises 429/418 past a limit. Returns (limit, used) pairs."""
        now = time.time()
        self.check_ban(ip)
        used: list[tuple[Limit, int]] = []
        for index, limit in enumerate(self.config.weight):
            counter = self._bump(self._weights, ip, index, limit, now, weight)
            used.append((limit, counter.count))
            if self.config.enabled and counter.count > limit.limit:
                self._breach(ip, now)
                raise errors.BinanceError(
                    errors.TOO_MANY_REQUESTS,
                    f"Too much request weight used; current limit is {limit.limit} request weight per "
                    f"{limit.interval_num} {limit.interval}. Please use WebSocket Streams for live updates "
                    "to avoid polling the API.",
                    429,
                    headers={"Retry-After": str(self._retry_after(limit, now)), **self.weight_headers(used)},
                    data={"serverTime": int(now * 1000), "retryAfter": int((now + self._retry_after(limit, now)) * 1000)},
                )
        return used

    def add_order(self, account_id: str) -> list[tuple[Limit, int]]:
        """Count one order for the account; raises -1015 (429) past a limit."""
        now = time.time()
        used: list[tuple[Limit, int]] = []
        for index, limit in enumerate(self.config.orders):
            counter = self._bump(self._orders, account_id, index, limit, now, 1)
            used.append((limit, counter.count))
            if self.config.enabled and counter.count > limit.limit:
                retry = self._retry_after(limit, now)
                raise errors.BinanceError(
                    errors.TOO_MANY_ORDERS,
                    f"Too many new orders; current limit is {limit.limit} orders per {limit.interval_num} {limit.interval}.",
                    429,
                    headers={"Retry-After": str(retry)},
                    data={"serverTime": int(now * 1000), "retryAfter": int((now + retry) * 1000)},
                )
        return used

    def order_counts(self, account_id: str) -> list[tuple[Limit, int]]:
        now = time.time()
        out = []
        for index, limit in enumerate(self.config.orders):
            counter = self._orders.get((account_id, index))
            count = counter.count if counter and counter.window == int(now // limit.seconds) else 0
            out.append((limit, count))
        return out

    def weight_headers(self, used: list[tuple[Limit, int]]) -> dict[str, str]:
        return {f"{self.weight_header}{limit.header_suffix}": str(count) for limit, count in used}

    def order_headers(self, used: list[tuple[Limit, int]]) -> dict[str, str]:
        return {f"{self.order_header}{limit.header_suffix}": str(count) for limit, count in used}

    @staticmethod
    def ws_rate_limits(used: list[tuple[Limit, int]]) -> list[dict]:
        return [
            {
                "rateLimitType": limit.rate_limit_type,
                "interval": limit.interval,
                "intervalNum": limit.interval_num,
                "limit": limit.limit,
                "count": count,
            }
            for limit, count in used
        ]

    def exchange_info(self) -> list[dict]:
        return [limit.exchange_info() for limit in (*self.config.weight, *self.config.orders, *self.config.raw)]
