"""Fault injection, driven by the admin API and honoured by every route and stream.

- latency per transport ("rest", "wsapi", "stream"), seconds added before answering / sending;
- order faults: the next N order requests (optionally for one api key or account, or one market)
  answer HTTP 5xx or -1007, with the order executed anyway or not ("status unknown" both ways);
  executed anyway may be `delay_s` later (the request still on its way to the matching engine),
  which Binance does only while `serverTime - timestamp <= recvWindow` (else it is dropped);
- rate faults: the next N requests answer 429 or 418;
- stream stalls: user-data events for an account (or all) are held back until a deadline;
- drop / expire hooks: streams register callbacks that close connections or expire listenKeys.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

TRANSPORTS = ("rest", "wsapi", "stream")
ORDER_FAULT_KINDS = ("5xx", "timeout")


@dataclass
class OrderFault:
    remaining: int
    kind: str = "5xx"  # "5xx": HTTP status, body not JSON-coded by an engine; "timeout": -1007
    http_status: int = 503
    executed: bool = False  # whether the order is executed anyway
    api_key: str | None = None
    account_id: str | None = None
    market: str | None = None  # "spot" | "margin" | "futures" | None (any)
    delay_s: float = 0.0  # executed: this many seconds after the answer (if still within recvWindow)

    def matches(self, api_key: str | None, account_id: str | None, market: str) -> bool:
        return (
            (self.api_key is None or self.api_key == api_key)
            and (self.account_id is None or self.account_id == account_id)
            and (self.market is None or self.market == market)
        )


@dataclass
class RateFault:
    remaining: int
    http_status: int = 429  # 429 | 418
    retry_after: int = 5
    api_key: str | None = None
    account_id: str | None = None


DropHook = Callable[[str | None], int]  # (account_id or None for all) -> connections closed
ExpireHook = Callable[[str | None, str | None], int]  # (listen_key, account_id) -> keys expired


class FaultInjector:
    def __init__(self) -> None:
        self.latency: dict[str, float] = {t: 0.0 for t in TRANSPORTS}
        self.order_faults: list[OrderFault] = []
        self.rate_faults: list[RateFault] = []
        self.stalls: dict[str | None, float] = {}  # account id (None = all) -> monotonic deadline
        self.drop_hooks: list[DropHook] = []
        self.expire_hooks: list[ExpireHook] = []
        self.late_orders: set[asyncio.Task[None]] = set()  # delayed executions still to come

    # -- order faults --------------------------------------------------------------------------------
    def add_order_fault(self, fault: OrderFault) -> None:
        if fault.kind not in ORDER_FAULT_KINDS:
            raise ValueError(f"kind must be one of {ORDER_FAULT_KINDS}")
        if fault.remaining < 1:
            raise ValueError("count must be >= 1")
        if fault.delay_s < 0 or (fault.delay_s and not fault.executed):
            raise ValueError("delay_s must be >= 0, and only with executed")
        self.order_faults.append(fault)

    def take_order_fault(self, api_key: str | None, account_id: str | None, market: str) -> OrderFault | None:
        if not self.order_faults:
            return None
        for fault in self.order_faults:
            if fault.matches(api_key, account_id, market):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.order_faults.remove(fault)
                return fault
        return None

    # -- rate faults ---------------------------------------------------------------------------------
    def take_rate_fault(self, api_key: str | None, account_id: str | None) -> RateFault | None:
        if not self.rate_faults:
            return None
        for fault in self.rate_faults:
            if (fault.api_key is None or fault.api_key == api_key) and (fault.account_id is None or fault.account_id == account_id):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self.rate_faults.remove(fault)
                return fault
        return None

    # -- latency and stalls ----------------------------------------------------------------------------
    async def delay(self, transport: str) -> None:
        seconds = self.latency.get(transport, 0.0)
        if seconds > 0:
            await asyncio.sleep(seconds)

    def stall(self, seconds: float, account_id: str | None = None) -> None:
        self.stalls[account_id] = time.monotonic() + seconds

    def stall_left(self, account_id: str | None) -> float:
        """Seconds a stream for this account must still hold its events back (0 when free)."""
        if not self.stalls:
            return 0.0
        now = time.monotonic()
        left = 0.0
        for who in (None, account_id):
            deadline = self.stalls.get(who)
            if deadline is not None:
                if deadline <= now:
                    self.stalls.pop(who, None)
                else:
                    left = max(left, deadline - now)
        return left

    async def stream_gate(self, account_id: str | None, queued_at: float | None = None) -> None:
        """Await before sending a stream event: honours stalls and stream latency.

        With `queued_at` (time.monotonic() when the event was queued) the latency counts from then,
        so a burst of events is delayed by the latency once, not once per event.
        """
        while True:
            left = self.stall_left(account_id)
            if left <= 0:
                break
            await asyncio.sleep(left)
        latency = self.latency.get("stream", 0.0)
        if latency > 0:
            wait = latency if queued_at is None else queued_at + latency - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)

    # -- connection hooks ------------------------------------------------------------------------------
    def drop_user_data(self, account_id: str | None = None) -> int:
        return sum(hook(account_id) for hook in list(self.drop_hooks))

    def expire_listen_keys(self, listen_key: str | None = None, account_id: str | None = None) -> int:
        return sum(hook(listen_key, account_id) for hook in list(self.expire_hooks))

    def clear(self) -> None:
        self.latency = {t: 0.0 for t in TRANSPORTS}
        self.order_faults.clear()
        self.rate_faults.clear()
        self.stalls.clear()
