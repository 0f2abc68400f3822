"""Exactly-once order placement (ARCHITECTURE.md "Exactly-once orders").

Every order carries a client order id derived from (slave, master order, master trade, leg), so a
retry is recognisable. Binance only rejects a duplicate client id among OPEN orders: a filled MARKET
order's id can be used again, so blindly re-sending after a timeout could execute twice. Hence:

- a definite rejection (4xx business error) is final: the order did not execute;
- rate limited (429/418) or not sent at all: the request never executed; wait and send again;
- status unknown (timeout, HTTP 5xx, -1007, connection lost in flight): ask the exchange for the
  order by its client id, and send again only when it still does not exist once the original can no
  longer execute. Binance forwards a request to the matching engine while `serverTime - timestamp
  <= recvWindow` and accepts a timestamp up to 1 s ahead of its clock (rest-api.md "Timing
  security"): so the original may still arrive until recvWindow + 1 s after it was sent. The grace
  is that, by construction: the accounts build their policy from the very recvWindow their
  clients sign with (`for_recv_window`), and "does not exist" counts only from a lookup made after
  that moment (measured from when the unknown answer came, which is after the send).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec

from ...binance.errors import BinanceAPIError, NotSent, OrderNotFound, RateLimited, StatusUnknown

CLOCK_MARGIN_S = 1.0  # Binance accepts a timestamp up to 1 s ahead of its server time

Place = Callable[[], Awaitable[dict[str, Any]]]
Query = Callable[[], Awaitable[dict[str, Any]]]
Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


class ExecutionPolicy(msgspec.Struct, frozen=True, kw_only=True):
    # Seconds to wait between "is it there?" lookups after a status-unknown answer. The total is
    # the grace we give an order that may still be in flight at the exchange before re-sending.
    lookup_delays: tuple[float, ...] = (0.05, 0.25, 0.7, 1.5)
    max_sends: int = 4  # at most this many order requests for one intent
    deadline_s: float = 60.0  # give up (report failure) after this long, waiting included
    max_rate_limit_wait_s: float = 30.0
    # The recvWindow (seconds) the orders are signed with: no re-send before it (+ CLOCK_MARGIN_S)
    # has passed since the unknown answer. Set from the client's own value (`for_recv_window`).
    recv_window_s: float = 5.0


def for_recv_window(policy: ExecutionPolicy, recv_window_ms: int | float | None) -> ExecutionPolicy:
    """`policy` for orders signed with `recv_window_ms` (Binance's default 5000 when None); the
    deadline leaves room for the whole window and a few lookups after it."""
    window = (recv_window_ms if recv_window_ms is not None else 5000) / 1000
    return msgspec.structs.replace(policy, recv_window_s=window, deadline_s=max(policy.deadline_s, window + CLOCK_MARGIN_S + 15.0))


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
    place: Place, query: Query, policy: ExecutionPolicy = ExecutionPolicy(), *, sleep: Sleep = asyncio.sleep, clock: Clock = time.monotonic
) -> Executed:
    """Place one order so that it executes at most once, and report what happened."""
    deadline = clock() + policy.deadline_s
    sends = 0
    last: BinanceAPIError | None = None
    while sends < policy.max_sends and clock() < deadline:
        sends += 1
        try:
            return Executed(await place(), sends, False)
        except StatusUnknown as exc:
            last = exc
            window_end = clock() + policy.recv_window_s + CLOCK_MARGIN_S  # the original cannot execute after
            found = await _look_up(query, policy, deadline, window_end, sleep, clock)
            if isinstance(found, dict):
                return Executed(found, sends, True)
            if found is not _ABSENT:  # could not establish either way before the deadline
                raise ExecutionFailed(exc, True, sends) from None
            # Every lookup over the grace period said it does not exist: send it again.
        except RateLimited as exc:
            last = exc
            wait = min(exc.retry_after or 1.0, policy.max_rate_limit_wait_s, max(0.0, deadline - clock()))
            if wait <= 0 or (exc.retry_after or 0) > policy.max_rate_limit_wait_s:
                raise ExecutionFailed(exc, False, sends) from None
            await sleep(wait)
        except NotSent as exc:
            last = exc
            await sleep(min(0.2 * sends, max(0.0, deadline - clock())))
        # any other BinanceAPIError (Rejected...) is final and propagates as is
    assert last is not None
    raise ExecutionFailed(last, isinstance(last, StatusUnknown), sends)


_ABSENT = object()  # every lookup said "no such order"


async def _look_up(query: Query, policy: ExecutionPolicy, deadline: float, window_end: float, sleep: Sleep, clock: Clock) -> object:
    """The order (a dict) if the exchange knows it; `_ABSENT` when every lookup said it does not
    exist, the last of them asked after `window_end` (when the original can no longer reach the
    matching engine); None when that could not be established before the deadline.

    A lookup that itself fails with an unknown status does not count as "does not exist": we keep
    asking until the deadline rather than risk a second execution."""
    misses = 0
    i = 0
    while clock() < deadline:
        delay = policy.lookup_delays[min(i, len(policy.lookup_delays) - 1)]
        i += 1
        await sleep(delay)
        asked = clock()
        try:
            return await query()
        except OrderNotFound:
            misses += 1
            if misses >= len(policy.lookup_delays) and asked >= window_end:
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
