"""actors/control/coverage.py: which master fills a slave's reconciliation covers, and which stay lost."""

from __future__ import annotations

from actors.control.coverage import Coverage, FillRef, fill_ref, is_covering_skip

E1, E2 = 111, 222


def fills(cov: Coverage, epoch: int, symbols: str) -> list[FillRef]:
    """One fill per character: seq 1.. on symbol A / B."""
    out = []
    for seq, ch in enumerate(symbols, start=1):
        f = FillRef("usdm", epoch, seq, f"{ch}USDT", 1000 + seq, 5000 + seq)
        cov.add_fill(f)
        out.append(f)
    return out


def test_fills_published_while_the_slave_was_dead_are_covered_by_its_restart_sync():
    cov = Coverage()
    fills(cov, E1, "AABAB")
    for seq, sym in ((1, "AUSDT"), (2, "AUSDT")):
        cov.add_decision("s1", "usdm", E1, seq, sym)
    covered = cov.reconciled("s1", "usdm", E1, 5)
    assert [f.seq for f in covered] == [3, 4, 5]
    assert cov.reconciled("s1", "usdm", E1, 5) == []  # covered once


def test_a_fill_dropped_by_a_live_slave_is_not_covered():
    cov = Coverage()
    fills(cov, E1, "AAA")
    cov.add_decision("s1", "usdm", E1, 1, "AUSDT")
    cov.add_decision("s1", "usdm", E1, 3, "AUSDT")  # seq 2 silently skipped, then 3 decided
    assert cov.reconciled("s1", "usdm", E1, 3) == []
    assert not cov.decided("s1", "usdm", E1, 2)


def test_the_slaves_own_covering_skips_do_not_hide_the_gap_before_them():
    cov = Coverage()
    fills(cov, E1, "AAA")
    cov.add_decision("s1", "usdm", E1, 1, "AUSDT")
    # seq 2 lost on the wire; seq 3 arrives, the gap triggers a sync that covers 3 itself
    cov.add_decision("s1", "usdm", E1, 3, "AUSDT", covering=True)
    assert [f.seq for f in cov.reconciled("s1", "usdm", E1, 3)] == [2]


def test_fills_after_the_snapshot_and_other_slaves_are_untouched():
    cov = Coverage()
    fills(cov, E1, "ABAB")
    assert [f.seq for f in cov.reconciled("s1", "usdm", E1, 2)] == [1, 2]
    assert not cov.decided("s2", "usdm", E1, 1)
    assert not cov.decided("s1", "usdm", E1, 3)


def test_a_new_master_epoch_subsumes_the_older_one():
    cov = Coverage()
    fills(cov, E1, "AB")
    cov.add_decision("s1", "usdm", E1, 1, "AUSDT")
    fills(cov, E2, "A")
    covered = cov.reconciled("s1", "usdm", E2, 1)
    assert [(f.epoch, f.seq) for f in covered] == [(E1, 2), (E2, 1)]


def test_periodic_reconciliation_covers_nothing():
    cov = Coverage()
    fills(cov, E1, "A")
    assert cov.reconciled("s1", "usdm", 0, 0) == []


def test_memory_is_bounded():
    cov = Coverage(max_fills=3)
    fills(cov, E1, "AAAAA")
    assert [f.seq for f in cov.reconciled("s1", "usdm", E1, 5)] == [3, 4, 5]


def test_covering_skip_recognised():
    assert is_covering_skip("not_copied", "covered by reconciliation (gap) at snapshot seq 4")
    assert not is_covering_skip("not_copied", "position opened before this slave started")
    assert not is_covering_skip("paused", "covered by reconciliation")


def test_a_fill_reaching_control_after_the_reconciliation_that_covers_it_is_covered_then():
    """Seen in chaos seed 55: the slave's Reconciled (seq 377) arrived before the master's fill 377."""
    cov = Coverage()
    fills(cov, E1, "AB")
    cov.add_decision("s1", "usdm", E1, 1, "AUSDT")
    cov.add_decision("s1", "usdm", E1, 2, "BUSDT")
    assert cov.reconciled("s1", "usdm", E1, 3) == []  # fill 3 not known to control yet
    cov.add_decision("s1", "usdm", E1, 4, "AUSDT")  # the live slave goes on (after its sync)
    late = FillRef("usdm", E1, 3, "AUSDT", 1003, 5003)
    assert cov.add_fill(late) == [("s1", 3)]  # judged with s1's decisions as they were at the sync
    assert cov.decided("s1", "usdm", E1, 3)
    assert cov.add_fill(late) == []  # once
    after = FillRef("usdm", E1, 5, "AUSDT", 1005, 5005)
    assert cov.add_fill(after) == []  # beyond the snapshot: the slave must decide it itself


def test_a_late_fill_a_live_slave_had_dropped_before_its_sync_stays_lost():
    cov = Coverage()
    fills(cov, E1, "A")
    cov.add_decision("s1", "usdm", E1, 3, "AUSDT")  # seq 2 (not yet seen by control) skipped by s1
    cov.reconciled("s1", "usdm", E1, 3)
    assert cov.add_fill(FillRef("usdm", E1, 2, "AUSDT", 1002, 5002)) == []
    assert not cov.decided("s1", "usdm", E1, 2)


def test_decisions_are_forgotten_with_their_fills():
    """The index held one (slave, market, epoch, seq) tuple per slave and fill for the whole run
    (3 kB per master fill with 20 slaves: the control actor's memory grew without end)."""
    cov = Coverage(max_fills=10)
    for seq in range(1, 1001):
        cov.add_fill(FillRef("usdm", E1, seq, "AUSDT", 1000 + seq, 5000 + seq))
        for slave in ("s1", "s2", "s3", "s4", "s5"):
            cov.add_decision(slave, "usdm", E1, seq, "AUSDT")
    market = cov._markets["usdm"]
    assert len(market.by_seq) == 10 and len(market.decided) == 10
    assert cov.decided("s5", "usdm", E1, 1000) and cov.decided("s1", "usdm", E1, 991)
    assert not cov.decided("s1", "usdm", E1, 990)  # forgotten with its fill
    assert not cov.decided("s6", "usdm", E1, 1000)


def test_decisions_on_fills_never_indexed_are_bounded():
    cov = Coverage(max_fills=10)
    for seq in range(1, 1001):  # the fills were lost on the way to control
        cov.add_decision("s1", "usdm", E1, seq, "AUSDT")
    assert len(cov._markets["usdm"].decided) <= 20
    assert cov.decided("s1", "usdm", E1, 1000)  # the newest are kept


def test_a_decision_seen_before_its_fill_counts():
    cov = Coverage()
    cov.add_decision("s1", "usdm", E1, 1, "AUSDT")  # two sockets: the report came first
    fills(cov, E1, "AA")
    assert cov.decided("s1", "usdm", E1, 1)
    assert [f.seq for f in cov.reconciled("s1", "usdm", E1, 2)] == [2]


def test_fill_ref_interns_market_and_symbol():
    class Fill:  # a decoded MasterFill holds its own copies of the strings
        market, epoch, seq, order_id, trade_id = "".join(["us", "dm"]), E1, 1, 7, 8
        symbol = "".join(["BTC", "USDT"])

    ref = fill_ref(Fill())
    assert ref == FillRef("usdm", E1, 1, "BTCUSDT", 7, 8)
    assert ref.symbol is fill_ref(Fill()).symbol
