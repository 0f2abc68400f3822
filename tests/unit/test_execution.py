"""actors/slave/accounts/execution.py: an order executes at most once whatever the exchange answers."""

from __future__ import annotations

import asyncio

import pytest

from actors.binance.errors import NotSent, OrderNotFound, RateLimited, Rejected, StatusUnknown
from actors.slave.accounts.execution import ExecutionFailed, ExecutionPolicy, place_exactly_once


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
    clock = Clock()  # the re-send waits out recvWindow + 1 s (issue 21 defect 8): a fake clock
    done = await place_exactly_once(
        ex.place, ex.query, ExecutionPolicy(lookup_delays=(0.0, 0.5), deadline_s=30), sleep=clock.sleep, clock=clock
    )
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


# ------------------------------------------------------------------ issue 21 defect 8: recvWindow
class Clock:
    """A fake monotonic clock; `sleep` advances it (no real waiting)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


class DelayedOriginal(FakeExchange):
    """The first send times out at the client, but the request still reaches the matching engine
    `arrives_after` seconds later (Binance forwards it while serverTime - timestamp <= recvWindow)."""

    def __init__(self, clock: Clock, arrives_after: float, recv_window_s: float) -> None:
        super().__init__()
        self.clock = clock
        self.arrives_after = arrives_after
        self.recv_window_s = recv_window_s
        self.original_at: float | None = None

    def _engine(self) -> None:
        if self.original_at is not None and self.clock.now >= self.original_at + self.arrives_after:
            if self.arrives_after <= self.recv_window_s:  # else the gateway rejects it (-1021)
                self.executions += 1
                self.order = {"orderId": 1, "status": "FILLED", "executedQty": "1"}
            self.original_at = None

    async def place(self):
        self.sends += 1
        if self.sends == 1:
            self.original_at = self.clock.now  # timestamped now; the client hears nothing back
            raise StatusUnknown(0, 0, "request timed out")
        self._engine()
        self.executions += 1
        self.order = {"orderId": 2, "status": "FILLED", "executedQty": "1"}
        return self.order

    async def query(self):
        self._engine()
        return await super().query()


@pytest.mark.parametrize("recv_window_s", [5.0, 60.0])
@pytest.mark.parametrize("arrives_after", [0.5, 3.0, 4.9])
async def test_an_original_delayed_within_recv_window_is_found_never_sent_twice(recv_window_s, arrives_after):
    clock = Clock()
    arrives_after = min(arrives_after * recv_window_s / 5.0, recv_window_s)
    ex = DelayedOriginal(clock, arrives_after, recv_window_s)
    policy = ExecutionPolicy(recv_window_s=recv_window_s)
    done = await place_exactly_once(ex.place, ex.query, policy, sleep=clock.sleep, clock=clock)
    clock.now += 1000
    ex._engine()  # an original still on its way lands now
    assert (ex.sends, ex.executions, done.recovered) == (1, 1, True)


async def test_an_original_that_never_arrives_is_resent_only_after_recv_window_and_clock_margin():
    clock = Clock()
    ex = DelayedOriginal(clock, arrives_after=1e9, recv_window_s=5.0)
    done = await place_exactly_once(ex.place, ex.query, ExecutionPolicy(recv_window_s=5.0), sleep=clock.sleep, clock=clock)
    assert (ex.sends, ex.executions, done.recovered) == (2, 1, False)
    assert clock.now >= 5.0 + 1.0  # recvWindow, plus the 1 s Binance accepts a timestamp ahead of its clock


def test_accounts_tie_the_lookup_window_to_the_recv_window_they_sign_with():
    from actors.binance.endpoints import Endpoints
    from actors.binance.signing import make_signer
    from actors.slave.accounts.margin import MarginAccount
    from actors.slave.accounts.spot import SpotAccount
    from actors.slave.accounts.usdm import UsdmAccount

    for cls in (UsdmAccount, SpotAccount, MarginAccount):
        acct = cls("s1", Endpoints.local("http://127.0.0.1:9"), make_signer("HMAC", "k", "s"), on_state=lambda s: None, recv_window=12_000)
        assert acct.policy.recv_window_s == 12.0 and acct.ws.recv_window == 12_000
        assert acct.policy.deadline_s > acct.policy.recv_window_s + 1.0
