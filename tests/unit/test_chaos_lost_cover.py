"""The chaos run's lost check, for a trade with no journal row (control was down): covered only by
a synchronisation of the slave in the epoch of the first journalled fill after the trade, to a
snapshot no older than that fill's seq - 1, and only if the slave decided no later fill of the same
symbol before it (tests/chaos/lost.py `covered_by_later_sync`)."""

from __future__ import annotations

from tests.chaos.lost import Published, covered_by_later_sync

E = 77  # epochs are random ids
FILLS = [Published(E, 10, 1_000, "ETHUSDT", 1, 11), Published(E, 12, 3_000, "ETHUSDT", 2, 12), Published(E, 13, 4_000, "BTCUSDT", 3, 13)]


def test_a_later_sync_covers_a_trade_the_journal_missed() -> None:
    assert covered_by_later_sync(2_000, "ETHUSDT", FILLS, [(E, 11)], set())  # seq 11: the trade or the rebuild after it
    assert covered_by_later_sync(2_000, "ETHUSDT", FILLS, [(E, 20)], set())


def test_an_older_snapshot_another_epoch_or_a_decided_later_fill_does_not() -> None:
    assert not covered_by_later_sync(2_000, "ETHUSDT", FILLS, [(E, 10)], set())  # older than the trade
    assert not covered_by_later_sync(2_000, "ETHUSDT", FILLS, [(5, 99)], set())  # another epoch: no order known
    assert not covered_by_later_sync(2_000, "ETHUSDT", FILLS, [], set())
    assert not covered_by_later_sync(5_000, "ETHUSDT", FILLS, [(E, 20)], set())  # no journalled fill after it
    # the slave decided the next ETHUSDT fill before that sync: a live slave that dropped this one
    assert not covered_by_later_sync(2_000, "ETHUSDT", FILLS, [(E, 20)], {("ETHUSDT", 2, 12)})
    assert covered_by_later_sync(2_000, "ETHUSDT", FILLS, [(E, 20)], {("BTCUSDT", 3, 13)})  # another symbol's: it was not
