"""The benchmark's hop breakdown, from the stamps the slaves' reports carry."""

from __future__ import annotations

from types import SimpleNamespace

from bench.run import hop_breakdown


def _m(order: int, recv: int, sent: int) -> SimpleNamespace:
    return SimpleNamespace(
        master_order_id=order,
        master_trade_id=1,
        t_master_recv_ns=1_000,
        t_master_pub_ns=1_100,
        t_slave_recv_ns=recv,
        t_order_sent_ns=sent,
        t_order_acked_ns=sent + 5_000,
    )


def test_fanout_by_the_slaves_own_stamps_is_the_last_order_sent_per_master_event() -> None:
    mirrored = [_m(1, 2_000, 3_000), _m(1, 2_000, 9_000), _m(2, 2_000, 4_000), _m(3, 2_000, 99_000)]
    hops = hop_breakdown(mirrored, {(1, 1), (2, 1)})  # event 3 is not measured
    fan = hops["fanout_last_by_slave_sent_stamp"]
    assert fan["count"] == 2 and fan["max"] == 8.0 and fan["p50"] == 5.5
    assert hops["pub_to_slave_recv"]["p50"] == 0.9


def test_reports_without_master_stamps_are_left_out() -> None:
    m = _m(1, 2_000, 3_000)
    m.t_master_recv_ns = None
    assert hop_breakdown([m], {(1, 1)}) == {}
