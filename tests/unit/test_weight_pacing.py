"""Request-weight pacing (actors/binance/pacing.py): the IP's count, the window, 429s."""

from __future__ import annotations

import pytest

from actors.binance.pacing import FUTURES_WEIGHT_LIMIT, WeightPacer, request_weight


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.t

    async def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.t += s


def _pacer(clock: Clock, **kw: object) -> WeightPacer:
    return WeightPacer(
        kw.pop("limit", 1000),
        clock=clock,
        sleep=clock.sleep,
        rand=lambda: 0.5,  # type: ignore[arg-type]
        spread_s=2.0,
        **kw,
    )  # type: ignore[arg-type]


def test_weights_of_the_requests_our_actors_make() -> None:
    assert request_weight("GET", "/fapi/v2/positionRisk") == 5
    assert request_weight("GET", "/fapi/v1/positionSide/dual") == 30
    assert request_weight("POST", "/fapi/v1/positionSide/dual") == 1
    assert request_weight("GET", "/fapi/v1/openOrders") == 40
    assert request_weight("GET", "/fapi/v1/openOrders", "symbol=BTCUSDT&timestamp=1") == 1
    assert request_weight("GET", "/api/v3/openOrders", "symbol=BTCUSDT") == 6
    assert request_weight("GET", "/api/v3/account") == 20
    assert request_weight("GET", "/fapi/v1/time") == 1


async def test_below_the_threshold_nothing_waits() -> None:
    clock = Clock(120.0)
    p = _pacer(clock)
    p.seen("1m", 700)
    assert await p.wait(5) == 0 and clock.slept == [] and p.waits == 0


async def test_near_the_limit_a_request_waits_for_the_next_window_plus_a_spread() -> None:
    clock = Clock(130.0)  # 10 s into the window [120, 180)
    p = _pacer(clock)
    p.seen("1m", 797)
    assert await p.wait(5) == pytest.approx(50.0 + 1.0)  # 797 + 5 > 800: to 180 s, plus 0.5 x 2 s
    assert p.waits == 1
    assert await p.wait(5) == 0  # a new window: nothing reported in it yet


async def test_counts_from_an_earlier_window_do_not_hold_requests() -> None:
    clock = Clock(170.0)
    p = _pacer(clock)
    p.seen("1m", 999)
    clock.t = 181.0
    assert p.delay(5) == 0


async def test_replies_out_of_order_keep_the_highest_count_and_other_intervals_are_ignored() -> None:
    clock = Clock(60.0)
    p = _pacer(clock)
    p.seen("1m", 900)
    p.seen("1m", 100)  # an older request's reply, read later
    p.seen("10s", 5)
    assert p.delay(1) > 0


async def test_after_a_429_nothing_goes_before_retry_after() -> None:
    clock = Clock(100.0)
    p = _pacer(clock)
    p.rate_limited(7.0)
    # Retry-After ends at 107 s, still in the window counted full: to 120 s, plus 0.5 x 2 s
    assert await p.wait(1) == pytest.approx(21.0) and clock.t == pytest.approx(121.0)


async def test_a_ban_without_retry_after_waits_out_the_window() -> None:
    clock = Clock(100.0)
    p = _pacer(clock)
    p.rate_limited(None)
    assert p.delay(1) == pytest.approx(20.0 + 1.0)


def test_the_limit_comes_from_exchange_info() -> None:
    p = WeightPacer(FUTURES_WEIGHT_LIMIT)
    p.configure(
        [
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 300},
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "HOUR", "intervalNum": 1, "limit": 99999},
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "FORTNIGHT", "intervalNum": 1, "limit": 1},
            "garbage",  # type: ignore[list-item]
        ]
    )
    assert (p.limit, p.window_s, p.header) == (6000, 60.0, "1m")
    p.configure(None)  # nothing usable: unchanged
    assert p.limit == 6000


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="bad weight pacing"):
        WeightPacer(0)
    with pytest.raises(ValueError, match="bad weight pacing"):
        WeightPacer(100, fraction=0)
