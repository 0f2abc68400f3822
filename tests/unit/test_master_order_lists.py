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


# -- any interleaving (Hypothesis) ------------------------------------------------------------------
# A reference model, per list: an OCO's two orders go out once each with the list's id; an OTO's or
# OTOCO's working order once on its own; its pending orders never while pending, and once each
# when on the book: an OTO's alone, an OTOCO's pair with the list's id. The events of each list come
# in Binance's order (the working order's NEW, the pending orders' PENDING_NEW, later the working
# order's fill and the pending orders' NEW), `listStatus` anywhere among them (before, between or
# after), the lists' events interleaved in any way.

from hypothesis import given, settings, strategies as st  # noqa: E402


@st.composite
def scenario(draw: st.DrawFn) -> tuple[list[tuple], dict[int, set[tuple[int, int]]]]:
    lists = draw(st.lists(st.sampled_from(["OCO", "OTO", "OTOCO"]), min_size=1, max_size=4))
    streams: list[list[tuple]] = []
    want: dict[int, set[tuple[int, int]]] = {}
    for n, kind in enumerate(lists):
        g, base = 10 + n, 100 * (n + 1)
        if kind == "OCO":
            first, second = draw(st.permutations([(base, "LIMIT_MAKER"), (base + 1, "STOP_LOSS")]))
            events: list[tuple] = [("x", up(first[0], first[1], g=g)), ("x", up(second[0], second[1], g=g))]
            want[g] = {(base, g), (base + 1, g)}
            contingency = "OCO"
        else:
            working = draw(st.sampled_from(["LIMIT", "LIMIT_MAKER"]))
            pending = [(base + 1, "STOP_LOSS")] + ([(base + 2, "TAKE_PROFIT")] if kind == "OTOCO" else [])
            events = [("x", up(base, working, g=g))] + [("x", up(oid, t, status="PENDING_NEW", g=g)) for oid, t in pending]
            activated = draw(st.booleans())
            if activated:
                events.append(("x", up(base, working, x="TRADE", status="FILLED", cum="1", g=g)))
                events += [("x", up(oid, t, g=g)) for oid, t in pending]
            pair = g if kind == "OTOCO" else -1
            want[g] = {(base, -1)} | ({(oid, pair) for oid, _ in pending} if activated else set())
            contingency = "OTO"
        at = draw(st.integers(0, len(events)))
        events.insert(at, ("l", g, contingency))
        streams.append(events)
    merged: list[tuple] = []
    while any(streams):
        pick = draw(st.sampled_from([s for s in streams if s]))
        merged.append(pick.pop(0))
    return merged, want


@settings(max_examples=300, deadline=None)
@given(scenario())
def test_any_interleaving_sends_each_order_once_with_its_lists_id_and_no_pending_order(case) -> None:
    events, want = case
    s = ListSorter()
    went: dict[int, list[tuple[int, int]]] = {}
    pending: set[int] = set()
    for event in events:
        if event[0] == "l":
            released = s.on_list_status(event[1], event[2], False)
        else:
            u = event[1]
            if u.status == "PENDING_NEW":
                pending.add(u.order_id)
            elif u.x == "NEW":
                pending.discard(u.order_id)
            released = s.sort(u)
        for r in released:
            if r.x == "NEW":
                assert r.order_id not in pending, f"pending order {r.order_id} went out"
                went.setdefault(r.order_id // 100 + 9, []).append((r.order_id, r.list_id))  # its list: 10 + n
    for g, orders in want.items():
        got = went.get(g, [])
        assert sorted(got) == sorted(orders), (g, got, orders, events)
