"""actors/execution.py: an order executes at most once whatever the exchange answers."""
from __future__ import annotations

import asyncio

import pytest

from actors.binance.errors import NotSent, OrderNotFound, RateLimited, Rejected, StatusUnknown
from actors.execution import ExecutionFailed, ExecutionPolicy, place_exactly_once


class FakeExchange:
    """Orders by client id; scripted answers for the next placements and lookups."""

    def __init__(self, place_script=(), query_script=()):
        self.place_script = list(place_script)
        self.query_script = list(query_script)
        self.executions = 0
        self.sends = 0
        self.order = None

    async def place(self):
        self.sends += 1
        action = self.place_script.pop(0) if self.place_script else "ok"
        if action in ("ok", "unknown-executed"):
            self.executions += 1
            self.order = {"orderId": self.executions, "status": "FILLED", "executedQty": "1"}
        if action == "ok":
            return self.order
        if action == "unknown-executed" or action == "unknown-not-executed":
            raise StatusUnknown(503, -1007, "Timeout waiting for response from backend server.")
        if action == "429":
            raise RateLimited(429, -1003, "Too many requests", retry_after=0.01)
        if action == "notsent":
            raise NotSent(0, 0, "not connected")
        if action == "reject":
            raise Rejected(400, -2019, "Margin is insufficient.")
        raise AssertionError(action)

    async def query(self):
        action = self.query_script.pop(0) if self.query_script else None
        if action == "unknown":
            raise StatusUnknown(504, 0, "gateway timeout")
        if self.order is None:
            raise OrderNotFound(400, -2013, "Order does not exist.")
        return self.order


async def no_sleep(_):
    await asyncio.sleep(0)


POLICY = ExecutionPolicy(lookup_delays=(0.0, 0.0, 0.0), deadline_s=5)


async def test_plain_success_sends_once():
    ex = FakeExchange()
    done = await place_exactly_once(ex.place, ex.query, POLICY, sleep=no_sleep)
    assert (ex.sends, ex.executions, done.recovered) == (1, 1, False)


async def test_unknown_but_executed_is_found_not_resent():
    ex = FakeExchange(["unknown-executed"])
    done = await place_exactly_once(ex.place, ex.query, POLICY, sleep=no_sleep)
    assert (ex.sends, ex.executions, done.recovered) == (1, 1, True)


async def test_unknown_and_not_executed_is_sent_again_once():
    ex = FakeExchange(["unknown-not-executed"])
    done = await place_exactly_once(ex.place, ex.query, POLICY, sleep=no_sleep)
    assert (ex.sends, ex.executions, done.recovered) == (2, 1, False)


async def test_lookup_that_keeps_failing_never_resends_and_reports_unknown():
    ex = FakeExchange(["unknown-not-executed"], query_script=["unknown"] * 10_000)
    with pytest.raises(ExecutionFailed) as err:
        await place_exactly_once(ex.place, ex.query, ExecutionPolicy(lookup_delays=(0.001,), deadline_s=0.2))
    assert err.value.unknown and ex.sends == 1 and ex.executions == 0


async def test_rate_limit_and_not_sent_are_retried():
    ex = FakeExchange(["429", "notsent", "ok"])
    done = await place_exactly_once(ex.place, ex.query, POLICY, sleep=no_sleep)
    assert (ex.sends, ex.executions, done.sends) == (3, 1, 3)


async def test_definite_rejection_is_final():
    ex = FakeExchange(["reject"])
    with pytest.raises(Rejected):
        await place_exactly_once(ex.place, ex.query, POLICY, sleep=no_sleep)
    assert ex.sends == 1 and ex.executions == 0


async def test_long_ban_is_not_waited_out():
    ex = FakeExchange()

    async def banned():
        raise RateLimited(418, -1003, "banned", retry_after=120, banned=True)

    with pytest.raises(ExecutionFailed) as err:
        await place_exactly_once(banned, ex.query, POLICY, sleep=no_sleep)
    assert not err.value.unknown
