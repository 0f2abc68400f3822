"""COIN-M futures (`/dapi`): only `GET /dapi/v1/exchangeInfo`, answered as Binance would for an exchange
with no COIN-M symbols configured (the simulator models USD-M only), so a client that probes
every market at start-up finds an empty one instead of a 404.

COIN-M has its own rate limits (2400 request weight and 1200 orders per minute); they are counted
on a limiter of their own, `sim.limiters["coinm"]`, configurable as `[rate_limits.coinm]`
(`weight_per_minute`, `orders_per_minute`, `enabled`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simulator.api import Ctx
from simulator.params import Params
from simulator.ratelimit import Limit, RateLimitConfig, RateLimiter
from simulator.util import now_ms

if TYPE_CHECKING:
    from simulator.core import Sim


def register(sim: "Sim") -> None:
    raw = sim.config.raw.get("rate_limits", {}) if isinstance(sim.config.raw, dict) else {}
    table = raw.get("coinm", {}) if isinstance(raw, dict) else {}
    weight, orders = int(table.get("weight_per_minute", 2400)), int(table.get("orders_per_minute", 1200))
    if weight < 1 or orders < 1:
        raise ValueError("rate_limits.coinm: limits must be positive")
    sim.limiters.setdefault(
        "coinm",
        RateLimiter(
            RateLimitConfig(
                weight=[Limit("REQUEST_WEIGHT", "MINUTE", 1, weight)],
                orders=[Limit("ORDERS", "MINUTE", 1, orders)],
                raw=[],
                enabled=bool(table.get("enabled", True)),
            )
        ),
    )

    def exchange_info(ctx: Ctx, p: Params) -> dict[str, Any]:
        return {
            "timezone": "UTC",
            "serverTime": now_ms(),
            "rateLimits": sim.limiters["coinm"].exchange_info(),
            "exchangeFilters": [],
            "symbols": [],
        }

    sim.api.route("GET", "/dapi/v1/exchangeInfo", exchange_info, weight=1, market="coinm", limiter="coinm", allowed=frozenset())
