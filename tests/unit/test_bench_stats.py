"""The benchmark's pure figures: percentiles, fan-out per event, lost/doubled accounting."""

from __future__ import annotations

import pytest

from bench import stats
from bench.stats import Copy


def test_percentile_interpolates_between_closest_ranks():
    data = [10.0, 20.0, 30.0, 40.0]

    assert stats.percentile(data, 0) == 10.0
    assert stats.percentile(data, 50) == 25.0
    assert stats.percentile(data, 100) == 40.0
    assert stats.percentile(data, 90) == pytest.approx(37.0)


def test_percentile_refuses_nothing_and_out_of_range():
    with pytest.raises(ValueError, match="no values"):
        stats.percentile([], 50)
    with pytest.raises(ValueError, match="0..100"):
        stats.percentile([1.0], 101)


def test_summarize_gives_p50_p90_p99_max_and_none_when_empty():
    s = stats.summarize(float(v) for v in range(1, 101))

    assert (s.count, s.p50, s.p99, s.max) == (100, 50.5, 99.0, 100.0)
    assert stats.summarize([]) == stats.Summary(count=0)


def _copy(slave: str, event: int, recv: int, arrival: int, **kw: int) -> Copy:
    return Copy(slave=slave, event=event, t_master_recv_ns=recv, t_arrival_ns=arrival, **kw)


def test_fanout_is_the_last_slave_of_each_event_and_skips_incomplete_events():
    copies = [
        _copy("a", 0, 1_000, 2_000),
        _copy("b", 0, 1_000, 5_000),  # event 0: last at +4 us
        _copy("a", 1, 10_000, 13_000),
        _copy("b", 1, 10_000, 11_000),  # event 1: last at +3 us
        _copy("a", 2, 20_000, 21_000),  # event 2: b missing
    ]

    assert stats.fanout_last_us(copies, slaves=2) == [4.0, 3.0]
    assert stats.internal_us(copies[:2]) == [1.0, 4.0]


def test_end_to_end_uses_fill_stamps_and_skips_copies_without_them():
    copies = [_copy("a", 0, 0, 0, t_master_fill_ns=1_000, t_slave_fill_ns=4_000), _copy("b", 0, 0, 0)]

    assert stats.end_to_end_us(copies) == [3.0]


def test_per_slave_median():
    copies = [_copy("a", i, 0, v) for i, v in enumerate((1_000, 2_000, 9_000))] + [_copy("b", 0, 0, 5_000)]

    assert sorted(stats.per_slave_median_us(copies)) == [2.0, 5.0]


def test_accounting_counts_lost_and_doubled_pairs():
    expected = {("a", 0): "c-a0", ("a", 1): "c-a1", ("b", 0): "c-b0", ("b", 1): "c-b1"}
    executed = {"a": ["c-a0", "c-a1", "c-a1"], "b": ["c-b0", "unrelated"]}

    acc = stats.account(expected, executed)

    assert (acc.expected, acc.copied, acc.lost, acc.doubled) == (4, 2, 1, 1)
    assert acc.lost_pairs == [("b", 1)] and acc.doubled_pairs == [("a", 1)]


def test_ratio_is_naive_over_ours_and_none_without_figures():
    assert stats.ratio(10_000.0, 2_000.0) == 5.0
    assert stats.ratio(None, 2.0) is None
    assert stats.ratio(1.0, 0.0) is None
