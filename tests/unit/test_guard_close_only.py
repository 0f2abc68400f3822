"""The close-only guard (issue 22, `close_only = true`): entries and increases are not copied (each
skip journalled with reason "close_only", a person told once per time the guard is set), the
intended position does not grow, and every reduction and close is copied as ever, at the same
fraction of what the slave holds; a resting copy is placed for the part that reduces only; a check
after the guard corrects no entry; lifted, the next entry is copied. Real `MarketMirror`s on
in-memory accounts (tests/helpers/mirror.py)."""

from __future__ import annotations

from decimal import Decimal

from protocol.messages import MasterOrder, MirrorSkipped, RestingOrder, SlaveConfig, SlaveError
from tests.helpers.mirror import EPOCH, Harness, run_sync

D = Decimal
CONFIG = SlaveConfig(id="s1", sizing="fixed_ratio", ratio=D("0.5"), close_only=True)


def skips(h: Harness) -> list[str]:
    return [r.reason for r in h.reports if isinstance(r, MirrorSkipped)]


def told(h: Harness) -> list[str]:
    return [r.code for r in h.reports if isinstance(r, SlaveError)]


def sent(h: Harness) -> list[tuple[str, Decimal]]:
    return [(i.side, i.qty) for i in h.account.sent]


def test_entries_are_skipped_and_told_once_reductions_and_closes_are_copied() -> None:
    h = Harness(CONFIG)
    assert h.fill("BTCUSDT", "1") == [] and h.position("BTCUSDT") == 0  # an entry: not copied
    assert h.fill("ETHUSDT", "2", price="3000") == []
    assert skips(h) == ["close_only", "close_only"] and told(h) == ["guard_close_only"]  # told once
    assert h.mirror.book.intended.get(("BTCUSDT", "BOTH"), D(0)) == 0
    assert h.corrections() == []  # a check corrects no entry the guard skipped

    h2 = Harness(SlaveConfig(id="s1", sizing="fixed_ratio", ratio=D("0.5")))
    h2.fill("BTCUSDT", "2")  # before the guard: the slave holds k x 2 = 1
    assert h2.position("BTCUSDT") == 1
    h2.set_config(close_only=True)
    assert h2.fill("BTCUSDT", "4") == [] and h2.position("BTCUSDT") == 1  # an increase: not copied
    (reduce,) = h2.fill("BTCUSDT", "2")  # the master sells half of its 4: the slave half of its 1
    assert (reduce.side, reduce.qty, reduce.kind) == ("SELL", D("0.5"), "reduce")
    (close,) = h2.fill("BTCUSDT", "0")
    assert (close.side, close.qty, close.kind) == ("SELL", D("0.5"), "close") and h2.position("BTCUSDT") == 0
    assert told(h2) == ["guard_close_only"]


def test_a_flip_is_copied_as_its_close_only_and_lifting_the_guard_copies_the_next_entry() -> None:
    h = Harness(SlaveConfig(id="s1", sizing="fixed_ratio", ratio=D("0.5")))
    h.fill("BTCUSDT", "2")
    h.set_config(close_only=True)
    (close,) = h.fill("BTCUSDT", "-2")  # long 2 -> short 2 in one order: the slave closes its long, opens nothing
    assert (close.side, close.qty) == ("SELL", D(1)) and h.position("BTCUSDT") == 0
    assert skips(h) == ["close_only"] and told(h) == ["guard_close_only"]  # the open part of the flip
    h.fill("BTCUSDT", "0")
    h.slave.guards_noted.discard("close_only")  # what the slave process does when the guard is lifted
    h.set_config(close_only=False)
    (entry,) = h.fill("ETHUSDT", "2", price="3000")
    assert (entry.side, entry.qty) == ("BUY", D(1))


def test_a_resting_copy_is_placed_for_the_part_that_reduces_only() -> None:
    cfg = SlaveConfig(id="s1", sizing="fixed_ratio", ratio=D("0.5"), orders="mirror", close_only=True)
    h = Harness(cfg)
    h.account.positions[("BTCUSDT", "BOTH")] = D(1)
    h.master[("BTCUSDT", "BOTH")] = D(2)
    h.mirror.book.intended[("BTCUSDT", "BOTH")] = D(1)

    def order(oid: int, side: str, qty: str) -> None:
        h.seq += 1
        o = RestingOrder(symbol="BTCUSDT", position_side="BOTH", side=side, order_id=oid, client_order_id=f"w{oid}",  # type: ignore[arg-type]
                         order_type="LIMIT", time_in_force="GTC", price=D(49000 if side == "BUY" else 51000), orig_qty=D(qty),
                         position_at_place=D(2))  # fmt: skip
        event = MasterOrder(market="usdm", epoch=EPOCH, seq=h.seq, action="placed", order=o, position=D(2), equity=D(10000),
                            t_exchange_ms=1, t_master_recv_ns=1, t_master_pub_ns=1)  # fmt: skip
        h.mirror.tracker.feed(EPOCH, event.seq)
        run_sync(h.mirror._mirror_order(event, 1))

    order(1, "BUY", "1")  # adds: not mirrored
    assert h.mirror.resting[1].intent is None and "close-only" in h.mirror.resting[1].why
    order(2, "SELL", "1")  # reduces half of the master's 2: half of the slave's 1
    copy = h.mirror.resting[2].intent
    assert copy is not None and (copy.side, copy.qty) == ("SELL", D("0.5"))
    # closes the master's 2 and opens 1 short: the copy closes what the slave's 1 has left beside
    # the copy above (0.5) and opens nothing (k x 1 more without the guard)
    order(3, "SELL", "3")
    flip = h.mirror.resting[3].intent
    assert flip is not None and (flip.side, flip.qty, flip.kind) == ("SELL", D("0.5"), "close")
    assert told(h) == ["guard_close_only"]
