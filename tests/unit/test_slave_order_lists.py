"""A slave's copy of the master's OCO (actors/slave/order_lists.py) on an in-memory spot account:
the first order waits for its sibling and the pair is placed once as an OCO of ours (above: the
higher price; one quantity); the master's other order expiring sends nothing; the master's list done
(the order that worked filled) cancels ours once and settles to the copy rule; cross margin, which
has no OCO copies, copies the fills as fills; an order that ends before its sibling came leaves
nothing waiting; a snapshot's open pair is placed as one OCO and a lone order of a list singly."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from actors.slave.accounts.execution import Executed
from actors.slave.accounts.spot_lists import MarginOrderLists
from protocol.messages import MasterOrder, PositionSnapshot, RestingOrder, SlaveConfig
from tests.helpers.mirror import EPOCH, BalanceSimAccount, Harness, futures_filters, run_sync

D = Decimal
BTC = futures_filters("BTCUSDT", "0.001", "10")
CONFIG = SlaveConfig(id="s1", sizing="fixed_ratio", ratio=D("0.5"), orders="mirror", markets=("spot",))


class ListAccount(BalanceSimAccount):
    """Spot with OCO copies: records each list placed and canceled."""

    order_lists = True

    def __init__(self, market: str = "spot") -> None:
        super().__init__(market, {"BTCUSDT": BTC})
        self.lists: list[tuple[Any, Any, str]] = []
        self.canceled: list[tuple[str, list[str]]] = []

    def oco_refusal(self, above: Any, below: Any) -> str:  # cross margin: the real account's rule
        return MarginOrderLists.oco_refusal(self, above, below) if self.market == "margin" else ""  # type: ignore[arg-type]

    async def place_oco(self, above: Any, below: Any, list_cid: str) -> Executed:
        self.lists.append((above, below, list_cid))
        orders = [{"orderId": 100 + i, "clientOrderId": leg.client_order_id} for i, leg in enumerate((above, below))]
        return Executed(result={"listOrderStatus": "EXECUTING", "orders": orders}, sends=1, recovered=False)

    async def cancel_list(self, symbol: str, list_cid: str, legs: list[str]) -> None:
        self.canceled.append((list_cid, legs))


def leg(order_id: int, kind: str, *, price: str = "0", stop: str = "0", qty: str = "1", list_id: int = 7) -> RestingOrder:
    return RestingOrder(
        symbol="BTCUSDT",
        position_side="BOTH",
        side="SELL",
        order_id=order_id,
        client_order_id=f"web{order_id}",
        order_type=kind,  # type: ignore[arg-type]
        time_in_force="GTC",
        price=D(price),
        stop_price=D(stop),
        orig_qty=D(qty),
        position_at_place=D(2),
        list_id=list_id,
    )


MAKER = leg(1, "LIMIT_MAKER", price="51000")
STOP = leg(2, "STOP_LOSS", stop="49000")


def harness(account: BalanceSimAccount | None = None) -> Harness:
    h = Harness(CONFIG, {"BTCUSDT": BTC}, market="spot")
    if account is not None:
        h.account = account
        h.mirror.account = account  # type: ignore[assignment]
    h.account.positions[("BTCUSDT", "BOTH")] = D(1)  # k x the master's 2
    h.master[("BTCUSDT", "BOTH")] = D(2)
    h.mirror.book.intended[("BTCUSDT", "BOTH")] = D(1)
    return h


def send(h: Harness, action: str, order: RestingOrder) -> None:
    h.seq += 1
    event = MasterOrder(
        market="spot",
        epoch=EPOCH,
        seq=h.seq,
        action=action,  # type: ignore[arg-type]
        order=order,
        position=h.master.get(("BTCUSDT", "BOTH"), D(0)),
        equity=D("10000"),
        t_exchange_ms=1,
        t_master_recv_ns=1,
        t_master_pub_ns=1,
    )
    h.mirror.tracker.feed(EPOCH, event.seq)
    run_sync(h.mirror._mirror_order(event, 1))


def test_the_pair_is_placed_once_as_an_oco_and_settled_when_the_masters_is_done() -> None:
    account = ListAccount()
    h = harness(account)
    send(h, "placed", STOP)  # the first order waits for its sibling
    assert account.lists == [] and h.mirror.list_legs == {7: STOP}
    send(h, "placed", MAKER)
    ((above, below, list_cid),) = account.lists
    assert (above.order_type, above.price, below.order_type, below.stop_price) == ("LIMIT_MAKER", D(51000), "STOP_LOSS", D(49000))
    assert above.qty == below.qty == D("0.5") and list_cid.startswith("cl") and h.mirror.list_legs == {}
    assert {c.order_id for c in h.mirror.resting.values()} == {100, 101}

    send(h, "expired", STOP)  # the master's maker started working: its stop expired; ours works on
    assert account.canceled == [] and account.sent == []
    account.positions[("BTCUSDT", "BOTH")] = D("0.5")  # our maker filled on its own
    fill = h.make_fill("BTCUSDT", "1", price="51000")
    fill = fill.__class__(**{f: getattr(fill, f) for f in fill.__struct_fields__} | {"order_id": 1, "status": "FILLED"})
    h.apply(fill)
    assert account.canceled == [(list_cid, [above.client_order_id, below.client_order_id])]
    assert account.sent == []  # at the copy rule already: nothing to settle
    assert h.mirror.resting == {}


def test_cross_margin_places_a_limit_maker_and_stop_pair_and_not_a_take_profit_one() -> None:
    account = ListAccount("margin")
    h = Harness(CONFIG, {"BTCUSDT": BTC}, market="margin")
    h.account = account
    h.mirror.account = account  # type: ignore[assignment]
    h.account.positions[("BTCUSDT", "BOTH")] = D(1)
    h.master[("BTCUSDT", "BOTH")] = D(2)
    h.mirror.book.intended[("BTCUSDT", "BOTH")] = D(1)
    send(h, "placed", STOP)
    send(h, "placed", MAKER)
    ((above, below, _),) = account.lists  # the older OCO form margin has: a LIMIT_MAKER and a STOP_LOSS
    assert (above.order_type, below.order_type, above.qty) == ("LIMIT_MAKER", "STOP_LOSS", D("0.5"))
    tp, sl = leg(11, "TAKE_PROFIT", stop="51000", list_id=8), leg(12, "STOP_LOSS", stop="48000", list_id=8)
    send(h, "placed", tp)
    send(h, "placed", sl)
    assert len(account.lists) == 1  # a take-profit pair cannot be a margin OCO: its fills are copied as fills
    assert h.mirror.resting[11].intent is None and "LIMIT_MAKER and a STOP_LOSS" in h.mirror.resting[11].why


def test_an_order_of_a_list_ended_alone_leaves_nothing_waiting() -> None:
    spot = harness(ListAccount())
    send(spot, "placed", STOP)
    send(spot, "canceled", STOP)
    assert spot.mirror.list_legs == {} and spot.mirror.resting == {}


def test_a_snapshot_places_its_open_pair_as_one_oco_and_a_lone_order_of_a_list_singly() -> None:
    account = ListAccount()
    h = harness(account)
    lone = leg(5, "LIMIT_MAKER", price="52000", qty="0.4", list_id=9)  # its sibling is done: it works alone
    orders = (STOP, MAKER, lone)
    snap = PositionSnapshot(market="spot", epoch=EPOCH, seq=h.seq, equity=D("10000"), reason="start", t_ns=0, open_orders=orders)
    run_sync(h.mirror._place_snapshot_copies(snap))
    assert len(account.lists) == 1 and [i.order_type for i in account.sent] == ["LIMIT_MAKER"]
    assert account.sent[0].qty == D("0.2") and h.mirror.resting[5].oco == ()


def test_a_list_that_is_not_an_oco_is_not_mirrored() -> None:
    account = ListAccount()
    h = harness(account)
    working = leg(11, "LIMIT", price="49000", list_id=8)  # an OTO: a working LIMIT and the order its fill places
    pending = msgspec.structs.replace(leg(12, "LIMIT_MAKER", price="51000", list_id=8), side="BUY")
    send(h, "placed", working)
    send(h, "placed", pending)
    assert account.lists == [] and account.sent == []
    assert h.mirror.resting[11].intent is None and "not an OCO" in h.mirror.resting[11].why
