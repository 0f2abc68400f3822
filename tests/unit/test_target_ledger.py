"""actors/domain/target.py (the copy rule on the intended position) and actors/slave/target_store.py (kept
across restarts): hand-computed, and through a restart of the real MarketMirror."""

from __future__ import annotations

import asyncio
from decimal import Decimal as D

import pytest

from actors.domain.sizing import CannotSize
from actors.domain.target import advance, move
from actors.slave.target_store import TargetBook, TargetError, decode_target, encode_target, target_path
from protocol.messages import SlaveConfig
from tests.helpers.mirror import Harness
from tests.helpers.wait import aeventually


@pytest.mark.parametrize(
    "intended,before,after,k,flip,want",
    [
        ("0.05", "0.1", "0.3", "0.5", 1, "0.15"),  # increase: + k x q
        ("0.0015", "0.003", "0.006", "0.5", 1, "0.003"),  # a carried remainder is kept
        ("0.15", "0.3", "0.1", "0.5", 1, "0.05"),  # decrease by f = 2/3: x 1/3
        ("0.0499", "0.3", "0.1", "0.5", 1, "0.01663333333333333333333333333"),  # the remainder scales too
        ("0.15", "0.3", "0", "0.5", 1, "0"),  # flat: zero
        ("0.1", "0.2", "-0.1", "0.5", 1, "-0.05"),  # flip: k x the new side
        ("-0.03", "0.2", "-0.1", "0.5", 1, "-0.05"),  # whatever the slave's position was
        ("0", "0", "0.2", "0.5", -1, "-0.1"),  # reverse
        ("0.1", "0.2", "0.4", None, 1, "0.1"),  # k unknown: an increase leaves it
    ],
)
def test_move(intended: str, before: str, after: str, k: str | None, flip: int, want: str) -> None:
    assert move(D(intended), D(before), D(after), None if k is None else D(k), flip) == D(want)


def test_advance_moves_by_what_the_master_did_between_snapshots() -> None:
    intended = {("BTCUSDT", "BOTH"): D("0.1"), ("ETHUSDT", "SHORT"): D("0.4")}
    then = {("BTCUSDT", "BOTH"): D("0.2"), ("ETHUSDT", "SHORT"): D("1.0")}
    now = {("BTCUSDT", "BOTH"): D("0.3"), ("ETHUSDT", "SHORT"): D("0.5"), ("SOLUSDT", "LONG"): D("2")}
    moved = advance(intended, then, now, D("0.5"), reverse=False)
    assert moved == {("BTCUSDT", "BOTH"): D("0.15"), ("ETHUSDT", "SHORT"): D("0.2"), ("SOLUSDT", "LONG"): D("1")}


def test_advance_without_a_saved_target_is_k_times_the_master() -> None:
    now = {("BTCUSDT", "BOTH"): D("-0.3"), ("ETHUSDT", "LONG"): D("1")}
    assert advance({}, {}, now, D("0.5"), reverse=True) == {("BTCUSDT", "BOTH"): D("0.15"), ("ETHUSDT", "SHORT"): D("0.5")}
    assert advance({}, {}, now, CannotSize("no equity"), reverse=False) == {}


def test_advance_keeps_a_deliberate_outcome_the_master_did_not_touch() -> None:
    # skipped: the intended forgot ETH while the master holds it; nothing moved since
    then = now = {("ETHUSDT", "BOTH"): D("0.023")}
    assert advance({}, then, now, D("0.5"), reverse=False) == {}


def test_saved_target_round_trips_and_bad_files_are_named(tmp_path) -> None:  # noqa: ANN001
    data = encode_target({("BTCUSDT", "BOTH"): D("-0.0015")}, {("BTCUSDT", "BOTH"): D("-0.003")}, {("ETHUSDT", "LONG")})
    saved = decode_target(data)
    assert saved.intended == [("BTCUSDT", "BOTH", D("-0.0015"))] and saved.ignored == [("ETHUSDT", "LONG")]
    with pytest.raises(TargetError, match="f.json: not valid JSON"):
        decode_target(b"{", "f.json")
    with pytest.raises(TargetError, match="version 9"):
        decode_target(data.replace(b'"version":1', b'"version":9'))
    path = target_path(tmp_path, "s1", "usdm")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"garbage")
    book = TargetBook(path)  # a bad file: logged, the slave starts from the master's snapshot
    assert not book.loaded and book.intended == {}


def test_book_saves_atomically_and_loads(tmp_path) -> None:  # noqa: ANN001
    path = target_path(tmp_path, "s1", "usdm")
    book = TargetBook(path)
    book.ignored.add(("SOLUSDT", "BOTH"))
    book.record(("BTCUSDT", "BOTH"), D("0.1"), ("BTCUSDT", "BOTH"), D("0.2"))  # no loop: written at once
    again = TargetBook(path)
    assert again.loaded and again.intended == {("BTCUSDT", "BOTH"): D("0.1")}
    assert again.master == {("BTCUSDT", "BOTH"): D("0.2")} and again.ignored == {("SOLUSDT", "BOTH")}
    assert oct(path.stat().st_mode & 0o777) == "0o600" and [p.name for p in path.parent.iterdir()] == [path.name]


async def test_book_in_a_loop_saves_once_soon_off_the_loop(tmp_path) -> None:  # noqa: ANN001
    path = target_path(tmp_path, "s1", "usdm")
    book = TargetBook(path)
    for i in range(1, 50):
        book.record(("BTCUSDT", "BOTH"), D(i), ("BTCUSDT", "BOTH"), D(2 * i))
    assert not path.exists()  # coalesced: not on the fill's path

    async def saved() -> bool:
        return path.exists() and TargetBook(path).intended == {("BTCUSDT", "BOTH"): D(49)}

    await aeventually(saved, timeout=5)


def _restarted(tmp_path, ratio: str = "0.5", **cfg: object) -> Harness:  # noqa: ANN001
    h = Harness(SlaveConfig(id="s1", markets=("usdm",), sizing="fixed_ratio", ratio=D(ratio), **cfg))  # type: ignore[arg-type]
    h.mirror.book = TargetBook(target_path(tmp_path, "s1", "usdm"))
    return h


async def test_a_restart_moves_the_saved_target_by_what_the_master_did_meanwhile(tmp_path) -> None:  # noqa: ANN001
    before = _restarted(tmp_path, min_notional_policy="skip")
    before.fill("BTCUSDT", "0.2")
    before.fill("ETHUSDT", "0.010", price="3000")  # skipped: 15 USDT < 20, forgotten
    before.mirror.book.save_now()
    assert before.position("BTCUSDT") == D("0.1") and before.position("ETHUSDT") == 0

    after = _restarted(tmp_path, min_notional_policy="skip")
    assert after.mirror.book.loaded
    after.account.positions = dict(before.account.positions)
    after.master, after.price = dict(before.master), dict(before.price)
    after.master[("BTCUSDT", "BOTH")] = D("0.3")  # the master bought 0.1 while the slave was down
    after.seq = before.seq + 1
    snap = after.snapshot(reason="start")

    async def request_snapshot(market: str):  # noqa: ANN202
        return snap

    after.slave.request_snapshot = request_snapshot
    after.mirror.tracker.reset(snap.epoch, 0)
    await asyncio.wait_for(after.mirror.resync("start"), 5)
    # + k x 0.1 on BTC; ETH stays forgotten (a restart never places a skipped copy)
    assert [(i.side, i.symbol, str(i.qty)) for i in after.account.sent] == [("BUY", "BTCUSDT", "0.05")]
    assert after.mirror.book.intended == {("BTCUSDT", "BOTH"): D("0.15")}
    assert after.corrections() == []
