"""Followers sharing one IP stay under its request-weight limit when they pace (simulator, 127.0.0.1:0).

The simulator counts weight per IP in fixed windows, as Binance does; here the futures limit is 60
per 2 s so the test takes seconds, not minutes. Four clients read positions (weight 5) six times
each at once: 120 weight. Paced, none gets a 429; unpaced (the control), some do."""

from __future__ import annotations

import asyncio

from actors.binance.errors import RateLimited
from actors.binance.pacing import FUTURES_WEIGHT_LIMIT, WeightPacer
from actors.binance.rest import RestClient
from actors.binance.signing import make_signer
from simulator.config import default_rate_limits
from simulator.ratelimit import Limit, RateLimitConfig
from tests.helpers.sim import InProcessSim

CLIENTS = 4
READS = 6


def _limits() -> dict[str, RateLimitConfig]:
    limits = default_rate_limits()
    limits["futures"] = RateLimitConfig(
        weight=[Limit("REQUEST_WEIGHT", "SECOND", 2, 60)], orders=limits["futures"].orders, ban_after=1000, ban_seconds=1
    )
    return limits


async def _reads(sim: InProcessSim, pacer: WeightPacer | None) -> int:
    """One follower's start-up-like reads; returns how many were refused with 429."""
    key = sim.key("slave01", "HMAC")
    rest = RestClient(sim.http_url, make_signer("HMAC", key.api_key, key.secret or ""), pacer=pacer)
    refused = 0
    try:
        if pacer is not None:
            info = await rest.public("GET", "/fapi/v1/exchangeInfo")
            pacer.configure(info["rateLimits"])
        for _ in range(READS):
            try:
                await rest.signed("GET", "/fapi/v2/positionRisk")
            except RateLimited:
                refused += 1
    finally:
        await rest.close()
    return refused


async def test_paced_followers_get_no_429_and_unpaced_ones_do() -> None:
    async with InProcessSim(overrides={"rate_limits": _limits()}) as sim:
        pacers = [WeightPacer(FUTURES_WEIGHT_LIMIT, spread_s=0.2) for _ in range(CLIENTS)]
        refused = await asyncio.gather(*(_reads(sim, p) for p in pacers))
        assert refused == [0] * CLIENTS
        assert all(p.header == "2s" and p.limit == 60 for p in pacers)  # learnt from exchangeInfo
        assert sum(p.waits for p in pacers) > 0  # 120 weight does not fit one window: some waited

        refused = await asyncio.gather(*(_reads(sim, None) for _ in range(CLIENTS)))
        assert sum(refused) > 0  # the control: without pacing the same reads pass the limit
