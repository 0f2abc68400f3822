"""The equity stop (issue 22): it acts at its threshold and not before, is told once, is kept across a
restart, refuses entries and never a reduction or a close, flattens once with `on_stop = "flatten"`,
and is lifted only by editing its thresholds (the high-water mark then starts again). The rule
(actors/domain/equity_stop.py) on its own, the slave process's side (actors/slave/equity_guard.py)
on a stand-in process with real state files, and real `MarketMirror`s (tests/helpers/mirror.py)."""

from __future__ import annotations

import asyncio
import collections
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from actors.domain.equity_stop import EquityStopState, observe, observe_daily
from actors.slave.equity_guard import check_equity_stop, equity_path, load_equity_stop
from protocol.messages import FlattenCommand, MirrorSkipped, SlaveConfig, SlaveError
from tests.helpers.mirror import Harness

D = Decimal


def cfg(**kw: Any) -> SlaveConfig:
    return SlaveConfig(id="s1", sizing="fixed_ratio", ratio=D("0.5"), **kw)


def run(config: SlaveConfig, equities: list[str], state: EquityStopState | None = None) -> tuple[EquityStopState, list[str | None]]:
    state = state or EquityStopState()
    acted = []
    for i, e in enumerate(equities):
        state, why = observe(state, config, D(e), i)
        acted.append(why)
    return state, acted


def test_the_floor_acts_below_it_not_at_it() -> None:
    state, acted = run(cfg(equity_floor=D("5000")), ["6000", "5000.00", "4999.99", "4000"])
    assert acted[:2] == [None, None]  # at the floor: not below it
    assert acted[2] == "equity 4999.99 USDT is below the floor of 5000 USDT"
    assert acted[3] is None and state.acted == acted[2] and state.acted_ms == 2  # once
    state, acted = run(cfg(equity_floor=D("5000")), ["7000"], state)
    assert acted == [None] and state.acted  # an equity that comes back does not lift it


def test_the_drawdown_acts_at_its_percentage_from_the_high_water_mark() -> None:
    state, acted = run(cfg(max_drawdown_pct=D("10")), ["10000", "12000", "10801", "10800.01"])
    assert acted == [None, None, None, None] and state.high_water == D("12000")  # 9.99 %: not yet
    state, acted = run(cfg(max_drawdown_pct=D("10")), ["10800"], state)
    assert acted == ["equity 10800.00 USDT is 10.00 % under its high-water mark of 12000.00 USDT (the limit is 10 %)"]


def test_editing_the_thresholds_lifts_it_and_restarts_the_mark_turning_it_off_forgets_it() -> None:
    state, _ = run(cfg(max_drawdown_pct=D("10")), ["12000", "10000"])
    assert state.acted
    state, acted = run(cfg(max_drawdown_pct=D("15")), ["10000", "9000"], state)
    assert acted == [None, None]
    assert not state.acted and state.high_water == D("10000")  # 10 % of the new mark: under 15 %
    off, acted = observe(state, cfg(), D("1"), 9)
    assert off == EquityStopState() and acted is None
    same, acted = observe(state, cfg(max_drawdown_pct=D("15")), None, 9)  # equity unknown now: nothing changes
    assert same == state and acted is None


def test_the_config_refuses_a_percentage_outside_0_100_and_a_floor_not_above_0() -> None:
    for bad in ("0", "100", "-5", "NaN"):
        with pytest.raises(ValueError, match="max_drawdown_pct"):
            cfg(max_drawdown_pct=D(bad))
    with pytest.raises(ValueError, match="equity_floor"):
        cfg(equity_floor=D("0"))


class Mirror:
    def __init__(self, equity: str | None) -> None:
        self.account = SimpleNamespace(equity=None if equity is None else D(equity))
        self.flattened: list[FlattenCommand] = []

    async def flatten(self, cmd: FlattenCommand, *, forget: bool = False) -> None:
        assert forget  # the intended positions go too: no check opens them again
        self.flattened.append(cmd)


def process(tmp_path: Path, config: SlaveConfig, **equities: str | None) -> Any:
    path = equity_path(tmp_path, "s1")
    state, problem = load_equity_stop(path)
    assert problem is None
    reports: list[Any] = []
    proc = SimpleNamespace(
        slave_id="s1", config=config, mirrors={m: Mirror(e) for m, e in equities.items()}, report=reports.append, reports=reports,
        guards_noted=set(), errors=collections.deque(maxlen=5), equity_stop=state, equity_stop_saved=state, equity_stop_path=path,
        spawned=[],
    )  # fmt: skip
    proc.spawn = proc.spawned.append
    return proc


def test_the_process_sums_its_markets_tells_once_keeps_it_across_a_restart_and_shows_it(tmp_path: Path) -> None:
    config = cfg(equity_floor=D("9000"), markets=("usdm", "spot"))
    p = process(tmp_path, config, usdm="6000", spot=None)
    assert check_equity_stop(p, 1) is None and p.equity_stop.high_water is None  # a market without equity: not judged
    p.mirrors["spot"].account.equity = D("4000")
    assert check_equity_stop(p, 2) is None and p.equity_stop.high_water == D("10000")
    p.mirrors["spot"].account.equity = D("2999.99")
    assert check_equity_stop(p, 3) == "equity 8999.99 USDT is below the floor of 9000 USDT"
    assert check_equity_stop(p, 4) is None
    (told,) = [r for r in p.reports if isinstance(r, SlaveError)]
    assert told.code == "guard_equity_stop" and "new entries are not copied" in told.message
    assert list(p.errors) == ["equity stop acted: equity 8999.99 USDT is below the floor of 9000 USDT"]
    assert p.spawned == []  # on_stop = "pause": the positions stay

    again = process(tmp_path, config, usdm="9500", spot="4000")  # restarted: read from its file
    assert again.equity_stop.acted == told.message.split(": ", 1)[1].split(";")[0]
    assert check_equity_stop(again, 5) is None and again.equity_stop.acted  # still acted, told nothing new
    again.config = cfg(equity_floor=D("8000"), markets=("usdm", "spot"))  # edited: lifted
    check_equity_stop(again, 6)
    assert not again.equity_stop.acted and again.equity_stop.high_water == D("13500") and list(again.errors) == []
    assert load_equity_stop(equity_path(tmp_path, "s1"))[0] == again.equity_stop  # saved


def test_flatten_closes_every_market_once(tmp_path: Path) -> None:
    p = process(tmp_path, cfg(max_drawdown_pct=D("20"), on_stop="flatten", markets=("usdm", "margin")), usdm="8000", margin="2000")
    check_equity_stop(p, 1)
    p.mirrors["usdm"].account.equity = D("6000")
    assert check_equity_stop(p, 2) is not None  # 8000 of 10000: 20 %
    check_equity_stop(p, 3)
    assert len(p.spawned) == 2  # one flatten per market, once
    for coro in p.spawned:
        asyncio.run(coro)
    assert [len(m.flattened) for m in p.mirrors.values()] == [1, 1] and p.mirrors["usdm"].flattened[0].market is None


def test_a_file_that_is_not_a_record_is_reported_by_name(tmp_path: Path) -> None:
    path = equity_path(tmp_path, "s1")
    path.write_text("{not json")
    state, problem = load_equity_stop(path)
    assert state == EquityStopState() and problem is not None and str(path) in problem


def test_once_acted_the_mirror_copies_no_entry_and_every_reduction_and_close() -> None:
    h = Harness(cfg(equity_floor=D("9000")))
    h.fill("BTCUSDT", "2")
    assert h.position("BTCUSDT") == 1
    h.slave.equity_stop = EquityStopState(armed_for="floor=9000;drawdown=None", high_water=D(10000), acted="equity 8000 ...")
    assert h.fill("BTCUSDT", "4") == [] and h.fill("ETHUSDT", "2", price="3000") == []  # an increase, an entry
    assert [r.reason for r in h.reports if isinstance(r, MirrorSkipped)] == ["equity_stop", "equity_stop"]
    (reduce,) = h.fill("BTCUSDT", "2")  # the master sells half of its 4: the slave half of its 1
    assert (reduce.side, reduce.qty, reduce.kind) == ("SELL", D("0.5"), "reduce")
    (close,) = h.fill("BTCUSDT", "0")
    assert (close.side, close.qty, close.kind) == ("SELL", D("0.5"), "close")
    assert h.corrections() == []  # a check corrects no entry the guard skipped


DAY = 86_400_000
T0 = 20_000 * DAY  # a UTC midnight


def daily(config: SlaveConfig, steps: list[tuple[int, str]], state: EquityStopState | None = None) -> tuple[EquityStopState, list[Any]]:
    state = state or EquityStopState()
    out = []
    for at, e in steps:
        state, acted, lifted = observe_daily(state, config, D(e), at)
        out.append((acted, lifted))
    return state, out


def test_the_daily_loss_limit_acts_at_its_limit_and_lifts_at_the_next_utc_day() -> None:
    config = cfg(daily_loss_limit=D("500"))
    state, out = daily(config, [(T0 + 1000, "10000"), (T0 + 5000, "10600"), (T0 + 9000, "9500.01"), (T0 + 9500, "9500")])
    assert out[:3] == [(None, False)] * 3  # 499.99 lost since the day began: not yet (a gain does not move the baseline)
    assert out[3] == ("lost 500.00 USDT today (UTC) (equity 10000.00 -> 9500.00), the limit is 500 USDT", False)
    state, out = daily(config, [(T0 + DAY - 1, "12000")], state)
    assert out == [(None, False)] and state.day_acted  # the equity back: still acted until the day ends
    state, out = daily(config, [(T0 + DAY, "9000"), (T0 + DAY + 1, "8600")], state)
    assert out == [(None, True), (None, False)] and not state.day_acted  # a new day: lifted, baseline 9000
    assert state.day_equity == D("9000") and state.day_start_ms == T0 + DAY
    state, out = daily(cfg(), [(T0 + DAY + 2, "1")], state)  # off: forgotten
    assert out == [(None, False)] and state == EquityStopState()


def test_the_rolling_window_measures_from_24_hours_ago_and_lifts_when_the_loss_is_back_under_the_limit() -> None:
    config = cfg(daily_loss_limit=D("500"), daily_loss_window="rolling_24h")
    hour = 3_600_000
    state, out = daily(config, [(T0, "10000"), (T0 + 12 * hour, "10300"), (T0 + 23 * hour, "9600")])
    assert out == [(None, False)] * 3 and state.day_equity == D("10000")  # 400 under 24 h ago
    state, out = daily(config, [(T0 + 23 * hour + 30_000, "9500")], state)  # within the minute: no new sample
    assert out[0][0] is not None and out[0][0].startswith("lost 500.00 USDT in the last 24 h") and len(state.minutes) == 3
    state, out = daily(config, [(T0 + 24 * hour + 1, "9500")], state)  # 24 h on: the baseline is 10300 now, still 800 lost
    assert out == [(None, False)] and state.day_equity == D("10300") and state.day_acted
    state, out = daily(config, [(T0 + 36 * hour + 1, "9500")], state)  # the 10300 sample is out: 9600 -> 9500, 100 lost
    assert out == [(None, True)] and not state.day_acted


def test_the_daily_limit_is_told_once_refuses_entries_and_its_reset_is_logged(tmp_path: Path) -> None:
    p = process(tmp_path, cfg(daily_loss_limit=D("100"), max_drawdown_pct=D("50")), usdm="1000")
    check_equity_stop(p, T0)
    p.mirrors["usdm"].account.equity = D("899")
    assert check_equity_stop(p, T0 + 1).startswith("lost 101.00 USDT today")
    assert check_equity_stop(p, T0 + 2) is None and not p.equity_stop.acted  # the equity stop is its own
    assert [r.code for r in p.reports if isinstance(r, SlaveError)] == ["guard_daily_loss"]
    assert list(p.errors) == ["daily loss limit acted: lost 101.00 USDT today (UTC) (equity 1000.00 -> 899.00), the limit is 100 USDT"]
    assert load_equity_stop(equity_path(tmp_path, "s1"))[0].day_acted  # kept across a restart
    check_equity_stop(p, T0 + DAY)
    assert not p.equity_stop.day_acted and list(p.errors) == [] and "daily_loss" not in p.guards_noted

    h = Harness(cfg(daily_loss_limit=D("100")))
    h.fill("BTCUSDT", "2")
    h.slave.equity_stop = EquityStopState(day_armed_for="100;utc_day", day_equity=D(1000), day_acted="lost 101 ...")
    assert h.fill("BTCUSDT", "4") == []
    assert [r.reason for r in h.reports if isinstance(r, MirrorSkipped)] == ["daily_loss"]
    (close,) = h.fill("BTCUSDT", "0")
    assert (close.side, close.qty, close.kind) == ("SELL", D(1), "close")
