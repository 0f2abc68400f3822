"""The master's sorting of order-list orders (actors/master/order_lists.py): an OCO's orders go out
with their list's id, an OTO's working order and its lone pending order on their own, an OTOCO's
pending pair with the list's id once on the book; pending orders never go out while pending; an
order whose list is not known yet waits for what tells, whichever order the events come in."""

from __future__ import annotations

from decimal import Decimal

from actors.master.order_lists import ListSorter
from actors.master.resting import OpenOrder, OrderUpdate

D = Decimal
G = 7


def up(oid: int, kind: str, x: str = "NEW", status: str = "NEW", cum: str = "0", g: int = G) -> OrderUpdate:
    return OrderUpdate(x, status, oid, f"c{oid}", "BTCUSDT", "BOTH", "SELL", kind, "GTC", D(100), D(1), D(cum), False, 1, list_id=g)


def out(updates: list[OrderUpdate]) -> list[tuple[int, str, int, Decimal]]:
    return [(u.order_id, u.x, u.list_id, u.cum_qty) for u in updates]


def test_an_ocos_orders_go_out_with_the_list_id_in_either_order_of_events() -> None:
    s = ListSorter()
    assert s.sort(up(1, "LIMIT_MAKER")) == []  # an OCO's or an OTO's working order: not known yet
    assert out(s.sort(up(2, "STOP_LOSS"))) == [(1, "NEW", G, D(0)), (2, "NEW", G, D(0))]  # two live orders: an OCO
    assert s.on_list_status(G, "OCO", False) == []
    s = ListSorter()
    assert s.on_list_status(G, "OCO", False) == []  # listStatus first: known at once
    assert out(s.sort(up(1, "LIMIT_MAKER"))) == [(1, "NEW", G, D(0))]
    assert out(s.sort(up(1, "TRADE", x="TRADE", status="PARTIALLY_FILLED", cum="0.5"))) == [(1, "TRADE", G, D("0.5"))]
    assert out(s.sort(up(5, "LIMIT", g=-1))) == [(5, "NEW", -1, D(0))]  # not in a list


def test_an_otos_maker_working_order_waits_for_its_pending_order_and_that_goes_out_alone_when_on_the_book() -> None:
    s = ListSorter()
    assert s.sort(up(1, "LIMIT_MAKER")) == []
    assert out(s.sort(up(2, "STOP_LOSS", status="PENDING_NEW"))) == [(1, "NEW", -1, D(0))]  # an OTO: the working order alone
    assert s.on_list_status(G, "OTO", False) == []
    assert out(s.sort(up(1, "LIMIT_MAKER", x="TRADE", status="FILLED", cum="1"))) == [(1, "TRADE", G, D(1))]
    assert out(s.sort(up(2, "STOP_LOSS"))) == [(2, "NEW", -1, D(0))]  # on the book: a lone order
    assert s.on_list_status(G, "OTO", True) == [] and s.kind == {} and s.pending == {}


def test_an_otocos_limit_working_order_goes_out_at_once_and_its_pair_with_the_list_id() -> None:
    s = ListSorter()
    assert out(s.sort(up(1, "LIMIT"))) == [(1, "NEW", -1, D(0))]  # a LIMIT is never an OCO's
    assert s.sort(up(2, "STOP_LOSS", status="PENDING_NEW")) == []
    assert s.sort(up(3, "TAKE_PROFIT", status="PENDING_NEW")) == []
    assert out(s.sort(up(2, "STOP_LOSS")) + s.sort(up(3, "TAKE_PROFIT"))) == [(2, "NEW", G, D(0)), (3, "NEW", G, D(0))]
    s2 = ListSorter()  # a pending order canceled with its list: never out
    s2.sort(up(1, "LIMIT"))
    s2.sort(up(2, "STOP_LOSS", status="PENDING_NEW"))
    assert s2.sort(up(2, "STOP_LOSS", x="CANCELED", status="CANCELED")) == []


def test_a_waiting_order_goes_out_with_what_it_filled_meanwhile_and_not_at_all_once_done() -> None:
    s = ListSorter()
    assert s.sort(up(1, "LIMIT_MAKER")) == []
    assert s.sort(up(1, "LIMIT_MAKER", x="TRADE", status="PARTIALLY_FILLED", cum="0.3")) == []  # its fill goes out as a fill
    assert out(s.on_list_status(G, "OTO", False)) == [(1, "NEW", -1, D("0.3")), (1, "TRADE", G, D("0.3"))]
    s = ListSorter()
    s.sort(up(1, "LIMIT_MAKER"))
    s.sort(up(1, "LIMIT_MAKER", x="TRADE", status="FILLED", cum="1"))
    assert s.on_list_status(G, "OTO", False) == []


def test_the_rebuild_names_an_otos_working_row_alone_and_knows_its_pending_rows() -> None:
    def row(oid: int, kind: str, status: str, g: int = G) -> OpenOrder:
        return OpenOrder(oid, f"c{oid}", "BTCUSDT", "BOTH", "SELL", kind, "GTC", D(100), D(1), D(0), False, 1, list_id=g, status=status)

    s = ListSorter()
    rows = [row(1, "LIMIT_MAKER", "NEW"), row(2, "STOP_LOSS", "PENDING_NEW")]
    rows += [row(3, "LIMIT_MAKER", "NEW", g=8), row(4, "STOP_LOSS", "NEW", g=8)]
    assert s.rebuild(rows) == {1: -1}  # list 8 is an OCO: its rows keep their list id
    assert out(s.sort(up(2, "STOP_LOSS"))) == [(2, "NEW", -1, D(0))]
