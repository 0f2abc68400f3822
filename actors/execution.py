"""Exactly-once order placement (ARCHITECTURE.md "Exactly-once orders").

Every order carries a client order id derived from (slave, master order, master trade, leg), so a
retry is recognisable. Binance only rejects a duplicate client id among OPEN orders: a filled MARKET
order's id can be used again, so blindly re-sending after a timeout could execute twice. Hence:

- a definite rejection (4xx business error) is final: the order did not execute;
- rate limited (429/418) or not sent at all: the request never executed; wait and send again;
- status unknown (timeout, HTTP 5xx, -1007, connection lost in flight): ask the exchange for the
  order by its client id, a few times over a few seconds (a late order may still be in flight at the
  exchange), and send again only when it is still unknown after all of them.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable, Callable

import msgspec

from .binance.errors import BinanceAPIError, NotSent, OrderNotFound, RateLimited, StatusUnknown

Place = Callable[[], Awaitable[dict[str, Any]]]
Query = Callable[[], Awaitable[dict[str, Any]]]
Sleep = Callable[[float], Awaitable[None]]


class ExecutionPolicy(msgspec.Struct, frozen=True, kw_only=True):
    # Seconds to wait between "is it there?" lookups after a status-unknown answer. The total is
    # the grace we give an order that may still be in flight at the exchange before re-sending.
    lookup_delays: tuple[float, ...] = (0.05, 0.25, 0.7, 1.5)
    max_sends: int = 4  # at most this many order requests for one intent
    deadline_s: float = 60.0  # give up (report failure) after this long, waiting included
    max_rate_limit_wait_s: float = 30.0


class ExecutionFailed(Exception):
    """The order could not be placed; `error` is the last exchange error, `unknown` True when
    its status could not be established (a person must look)."""

    def __init__(self, error: BinanceAPIError, unknown: bool, sends: int) -> None:
        super().__init__(str(error))
        self.error = error
        self.unknown = unknown
        self.sends = sends


class Executed(msgspec.Struct, frozen=True):
    result: dict[str, Any]  # the exchange's order (from the placement reply or the lookup)
    sends: int  # order requests sent
    recovered: bool  # True when the result came from a lookup after a status-unknown answer


async def place_exactly_once(
    place: Place, query: Query, policy: ExecutionPolicy = ExecutionPolicy(), *, sleep: Sleep = asyncio.sleep
) -> Executed:
    """Place one order so that it executes at most once, and report what happened."""
    deadline = time.monotonic() + policy.deadline_s
    sends = 0
    last: BinanceAPIError | None = None
    while sends < policy.max_sends and time.monotonic() < deadline:
        sends += 1
        try:
            return Executed(await place(), sends, False)
        except StatusUnknown as exc:
            last = exc
            found = await _look_up(query, policy, deadline, sleep)
            if isinstance(found, dict):
                return Executed(found, sends, True)
            if found is not _ABSENT:  # could not establish either way before the deadline
                raise ExecutionFailed(exc, True, sends) from None
            # Every lookup over the grace period said it does not exist: send it again.
        except RateLimited as exc:
            last = exc
            wait = min(exc.retry_after or 1.0, policy.max_rate_limit_wait_s, max(0.0, deadline - time.monotonic()))
            if wait <= 0 or (exc.retry_after or 0) > policy.max_rate_limit_wait_s:
                raise ExecutionFailed(exc, False, sends) from None
            await sleep(wait)
        except NotSent as exc:
            last = exc
            await sleep(min(0.2 * sends, max(0.0, deadline - time.monotonic())))
        # any other BinanceAPIError (Rejected...) is final and propagates as is
    assert last is not None
    raise ExecutionFailed(last, isinstance(last, StatusUnknown), sends)


_ABSENT = object()  # every lookup said "no such order"


async def _look_up(query: Query, policy: ExecutionPolicy, deadline: float, sleep: Sleep) -> object:
    """The order (a dict) if the exchange knows it; `_ABSENT` when every lookup over the grace
    period said it does not exist; None when that could not be established before the deadline.

    A lookup that itself fails with an unknown status does not count as "does not exist": we keep
    asking until the deadline rather than risk a second execution."""
    misses = 0
    i = 0
    while time.monotonic() < deadline:
        delay = policy.lookup_delays[min(i, len(policy.lookup_delays) - 1)]
        i += 1
        await sleep(delay)
        try:
            return await query()
        except OrderNotFound:
            misses += 1
            if misses >= len(policy.lookup_delays):
                return _ABSENT
        except (StatusUnknown, NotSent, RateLimited):
            continue
    return None


async def place_via(ws: Any, params: dict[str, Any], policy: ExecutionPolicy = ExecutionPolicy()) -> Executed:
    """`place_exactly_once` over a WebSocket API connection (`order.place`, looked up with
    `order.status` by the order's own `newClientOrderId`)."""

    async def place() -> dict[str, Any]:
        return await ws.place_order(params)

    async def query() -> dict[str, Any]:
        return await ws.order_status(params["symbol"], orig_client_order_id=params["newClientOrderId"])

    return await place_exactly_once(place, query, policy)
