"""simulator/history.py: the bounded request log, trade lists and order histories, and [history]."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from simulator.config import ConfigError, HistoryConfig, parse_config
from simulator.history import History, OrderHistory, Ring


def test_ring_keeps_the_newest_and_slices_like_a_list():
    ring: Ring[int] = Ring(maxlen=5)
    for i in range(12):
        ring.append(i)
    assert list(ring) == [7, 8, 9, 10, 11] and len(ring) == 5 and ring.dropped == 7
    assert ring[0] == 7 and ring[-1] == 11
    assert ring[-3:] == [9, 10, 11] and ring[:2] == [7, 8] and ring[1:-1] == [8, 9, 10] and ring[::2] == [7, 9, 11]
    assert ring[4:2] == [] and ring[-100:] == [7, 8, 9, 10, 11]
    assert [x for x in ring if x % 2] == [7, 9, 11]
    ring.extend([12, 13])
    assert ring[:] == [9, 10, 11, 12, 13] and ring.dropped == 9


def test_an_unbounded_ring_keeps_everything():
    ring: Ring[int] = Ring()
    ring.extend(range(1000))
    assert len(ring) == 1000 and ring.dropped == 0 and ring[-2:] == [998, 999]


@dataclass
class O:  # noqa: E742 - short on purpose: the tables below build dozens
    oid: int
    status: str = "NEW"

    @property
    def is_open(self) -> bool:
        return self.status == "NEW"


def test_order_history_keeps_open_orders_and_the_newest_closed_ones_in_order():
    evicted: list[int] = []
    orders: OrderHistory[int, O] = OrderHistory(16, on_evict=lambda k, o: evicted.append(k))
    resting = [O(1), O(2)]
    for o in resting:
        orders[o.oid] = o
    for oid in range(3, 1003):
        orders[oid] = O(oid, "FILLED")
        assert len(orders) <= 2 + 16 + 2 + 2  # open + keep_closed + slack (16 // 8, or len // 8)
    assert orders[1] is resting[0] and orders[2] is resting[1]
    closed = [k for k, o in orders.items() if not o.is_open]
    assert closed == list(range(1003 - len(closed), 1003)) and len(closed) >= 16
    assert list(orders)[:2] == [1, 2]  # insertion order is kept (allOrders reads it)
    assert sorted(evicted) == evicted and set(evicted) == set(range(3, 1003 - len(closed)))
    assert orders.dropped == len(evicted)


def test_order_history_with_many_open_orders_prunes_rarely_and_never_drops_them():
    orders: OrderHistory[int, O] = OrderHistory(8)
    for oid in range(100):
        orders[oid] = O(oid)  # all open
    passes = 0
    original = orders.prune

    def counting() -> int:
        nonlocal passes
        passes += 1
        return original()

    orders.prune = counting  # type: ignore[method-assign]
    for oid in range(100, 200):
        orders[oid] = O(oid, "CANCELED")
    assert all(orders[oid].is_open for oid in range(100))
    assert passes <= 12  # one pass per len / 8 new orders, not one per order (each pass reads them all)
    assert sum(1 for o in orders.values() if not o.is_open) <= 8 + 200 // 8


def test_order_history_zero_keeps_everything():
    orders: OrderHistory[int, O] = OrderHistory(0)
    for oid in range(500):
        orders[oid] = O(oid, "FILLED")
    assert len(orders) == 500 and orders.dropped == 0


def test_history_report_counts_what_is_held_and_dropped():
    history = History(HistoryConfig(requests=3, trades=0, orders=2))
    log = history.requests()
    log.extend(range(10))
    book = history.orders()
    for oid in range(10):
        book[oid] = O(oid, "FILLED")
    report = history.report()
    assert report["requests"] == {"size": 3, "held": 3, "dropped": 7}
    assert report["trades"] == {"size": 0, "held": 0, "dropped": 0}
    assert report["orders"]["size"] == 2 and report["orders"]["held"] + report["orders"]["dropped"] == 10


def test_history_config_defaults_and_values():
    assert parse_config({}).history == HistoryConfig(10_000, 10_000, 1_000)
    assert parse_config({"history": {"requests": 0, "orders": 50}}).history == HistoryConfig(0, 10_000, 50)


@pytest.mark.parametrize(
    "table,needle",
    [
        ({"requests": -1}, "history.requests: -1 is not a whole number >= 0"),
        ({"trades": "many"}, "history.trades: 'many' is not a whole number"),
        ({"orders": True}, "history.orders: True is not a whole number"),
        ({"fills": 10}, "history.fills: unknown field"),
        ("big", "[history] must be a table"),
    ],
)
def test_bad_history_config_names_the_field(table: object, needle: str):
    with pytest.raises(ConfigError) as err:
        parse_config({"history": table})
    assert needle in str(err.value)
