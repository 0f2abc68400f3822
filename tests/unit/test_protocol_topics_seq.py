"""protocol/topics.py and protocol/seq.py: topics per market and kind, and the sequence tracker's verdicts
(gaps, duplicates, restarts, lost trailing events); protocol/errors.py codes."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from protocol import messages as m, topics
from protocol.errors import ErrorCode, ProtocolError
from protocol.seq import SeqTracker, SeqVerdict

# --------------------------------------------------------------------------- topics


def test_master_topics_are_dotted_lowercase_and_prefix_by_market() -> None:
    assert topics.master_topic("usdm", "fill") == b"master.usdm.fill"
    assert topics.master_topic("spot", "snapshot") == b"master.spot.snapshot"
    assert topics.master_topic("margin", "config") == b"master.margin.config"
    assert topics.master_topic("usdm", "hb") == b"master.usdm.hb"
    assert topics.master_prefix("usdm") == b"master.usdm."
    for market in m.MARKETS:
        for kind in topics.MASTER_KINDS:
            topic = topics.master_topic(market, kind)
            assert topic.startswith(topics.master_prefix(market)) and topic == topic.lower()
            others = [x for x in m.MARKETS if x != market]
            assert not any(topic.startswith(topics.master_prefix(o)) for o in others)


@pytest.mark.parametrize(("market", "kind"), [("coinm", "fill"), ("usdm", "trade")])
def test_unknown_topic_parts_are_refused(market: str, kind: str) -> None:
    with pytest.raises(ValueError):
        topics.master_topic(market, kind)  # type: ignore[arg-type]


def test_control_topics_do_not_leak_to_slaves_sharing_a_prefix() -> None:
    ev = m.SlaveConfigChanged(slave_id="a10", config=None)

    topic = topics.topic_for_control_event(ev)

    assert topic == b"control.slave.a10.config"
    assert topic.startswith(topics.control_slave_prefix("a10"))
    assert not topic.startswith(topics.control_slave_prefix("a1"))
    assert topics.topic_for_control_event(m.PauseAllChanged(paused=True)).startswith(topics.control_subscriptions("a1")[1])
    with pytest.raises(ValueError):
        topics.control_slave_prefix("a.b")


# --------------------------------------------------------------------------- SeqTracker


def test_seq_tracker_accepts_consecutive_numbers() -> None:
    t = SeqTracker()

    verdicts = [t.feed(7, s).verdict for s in (1, 2, 3)]

    assert verdicts == [SeqVerdict.FIRST, SeqVerdict.OK, SeqVerdict.OK]


def test_seq_tracker_reports_gap_with_expected_and_got() -> None:
    t = SeqTracker()
    t.feed(7, 1)

    r = t.feed(7, 5)

    assert (r.verdict, r.expected, r.got, r.missed) == (SeqVerdict.GAP, 2, 5, 3)
    assert t.feed(7, 6).verdict is SeqVerdict.OK  # continues after the gap


def test_seq_tracker_reports_duplicates_without_moving() -> None:
    t = SeqTracker()
    for s in (1, 2, 3):
        t.feed(7, s)

    r = t.feed(7, 2)

    assert (r.verdict, r.expected, r.got) == (SeqVerdict.DUPLICATE, 4, 2)
    assert t.feed(7, 4).verdict is SeqVerdict.OK


def test_seq_tracker_tells_a_restart_from_a_gap_or_duplicate() -> None:
    t = SeqTracker()
    for s in (1, 2, 3):
        t.feed(7, s)

    r = t.feed(8, 1)  # new epoch, seq back to 1: restart, not a duplicate

    assert r.verdict is SeqVerdict.RESTART
    assert t.feed(8, 2).verdict is SeqVerdict.OK
    assert t.feed(7, 4).verdict is SeqVerdict.RESTART  # a late message of the old epoch too


def test_seq_tracker_heartbeat_reveals_a_lost_trailing_event() -> None:
    t = SeqTracker()
    t.feed(7, 1)
    t.feed(7, 2)

    ok = t.check_heartbeat(7, 2)
    lost = t.check_heartbeat(7, 3)

    assert ok.verdict is SeqVerdict.OK
    assert (lost.verdict, lost.missed) == (SeqVerdict.GAP, 1)
    assert t.check_heartbeat(9, 0).verdict is SeqVerdict.RESTART
    assert SeqTracker().check_heartbeat(7, 5).verdict is SeqVerdict.FIRST


def test_seq_tracker_reset_after_snapshot_turns_buffered_events_into_duplicates() -> None:
    t = SeqTracker()
    t.feed(7, 1)
    t.feed(7, 4)  # gap: the slave asks for a snapshot, which covers up to seq 6

    t.reset(7, 6)

    assert t.feed(7, 5).verdict is SeqVerdict.DUPLICATE
    assert t.feed(7, 7).verdict is SeqVerdict.OK


@given(seqs=st.lists(st.integers(min_value=1, max_value=50), max_size=60))
def test_seq_tracker_never_accepts_a_number_twice(seqs: list[int]) -> None:
    t = SeqTracker()
    accepted: list[int] = []
    for s in seqs:
        r = t.feed(1, s)
        if r.verdict is not SeqVerdict.DUPLICATE:
            accepted.append(s)

    assert accepted == sorted(set(accepted))  # strictly increasing


def test_errors_carry_code_and_reason() -> None:
    err = ProtocolError(ErrorCode.NOT_FOUND, "no slave 'x'")

    assert err.code == 6 and err.reason == "no slave 'x'"
    assert "NOT_FOUND" in str(err)
