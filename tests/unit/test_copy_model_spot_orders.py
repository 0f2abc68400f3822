"""The model test over spot order actions (issue 17): `orders = "mirror"` on spot BTCUSDT with the
master's LIMIT, LIMIT_MAKER and stop orders (STOP_LOSS, STOP_LOSS_LIMIT, TAKE_PROFIT,
TAKE_PROFIT_LIMIT) and its OCO lists, against a reference model written from the README and issue
17 (not from actors/domain/resting.py or actors/slave/order_lists.py).

Hypothesis drives the master: single orders that add (BUY) and reduce (SELL) its holding, OCO
SELL lists (a LIMIT_MAKER above, a STOP_LOSS below), filled in parts (a list's order that trades
first expires its sibling, which the master publishes before the fill), amended (a BUY's quantity
lowered, Binance's keepPriority amendment), canceled (a list: both orders), plain fills beside them,
and the slave's own copies filling on their own queue place (one of our OCO's orders trading
expires its sibling too). The reference model:
- a copy of an order that adds rests k x what the master has left, rounded down to the step; of
  an order that reduces, the same fraction of the slave's holding (when placed) as the order is of
  the master's holding, rounded down; an OCO's two orders have the one quantity; one under the step
  is not mirrored and its fills are copied as fills;
- the copy has the master's type, side, limit price and stop price (a market stop: no limit price);
- the target moves by the copy rule with every master fill (test_copy_model.Model.rule);
- no fill of a mirrored order, and no expiry of a list's other order, sends anything; when the
  master's order (for a list: its last open order) is done, the slave cancels what is left and
  settles to the target with market orders ("cs") only, after which it is within the minimum.
After every action: each open master order (or list) has its one copy (or OCO), the slave has no
other open order, and the engine's target is the model's exactly.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import Any

import msgspec
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from actors.binance.errors import OrderNotFound
from actors.domain.decisions import OrderIntent
from actors.slave.accounts.execution import Executed
from protocol.messages import MasterOrder, RestingOrder, SlaveConfig
from tests.helpers.mirror import EPOCH, BalanceSimAccount, Harness, futures_filters, run_sync
from tests.unit.test_copy_model import Model

D = Decimal
ZERO = D(0)
KEY = ("BTCUSDT", "BOTH")
LOT = D("0.01")  # the master's quantities: multiples of this
PRICE = D("50000")
FILTERS = futures_filters("BTCUSDT", "0.001", "10")
SINGLE = {  # type -> (limit price offset, stop price offset) from PRICE; None: none
    "LIMIT": (D(-20), None),
    "LIMIT_MAKER": (D(-30), None),
    "STOP_LOSS": (None, D(-100)),
    "STOP_LOSS_LIMIT": (D(-110), D(-100)),
    "TAKE_PROFIT": (None, D(150)),
    "TAKE_PROFIT_LIMIT": (D(160), D(150)),
}


def floor_to(x: Decimal, step: Decimal) -> Decimal:
    return (x / step).to_integral_value(ROUND_FLOOR) * step


class SpotBook(BalanceSimAccount):
    """A spot account with resting orders and OCO lists: an order rests until `fill_copy`; one of a
    list trading expires the list's other order; a cancel of a list's order cancels the list."""

    order_lists = True

    def oco_refusal(self, above: OrderIntent, below: OrderIntent) -> str:
        return ""

    def __init__(self) -> None:
        super().__init__("spot", {"BTCUSDT": FILTERS})
        self.open: dict[str, OrderIntent] = {}  # client order id -> intent
        self.filled: dict[str, Decimal] = {}
        self.done: set[str] = set()
        self.list_of: dict[str, str] = {}  # order client id -> its list's client id
        self.lists: dict[str, list[str]] = {}

    async def execute(self, intent: OrderIntent) -> Executed:
        if intent.order_type == "MARKET":
            return await super().execute(intent)
        assert intent.client_order_id not in self.open
        self.order_id += 1
        self.open[intent.client_order_id] = intent
        self.filled[intent.client_order_id] = ZERO
        return Executed(result={"orderId": self.order_id, "status": "NEW", "executedQty": "0"}, sends=1, recovered=False)

    async def place_oco(self, above: OrderIntent, below: OrderIntent, list_cid: str) -> Executed:
        assert above.qty == below.qty and above.side == below.side and list_cid not in self.lists
        rows = []
        for leg in (above, below):
            await self.execute(leg)
            self.list_of[leg.client_order_id] = list_cid
            rows.append({"orderId": self.order_id, "clientOrderId": leg.client_order_id})
        self.lists[list_cid] = [above.client_order_id, below.client_order_id]
        return Executed(result={"listOrderStatus": "EXECUTING", "orders": rows}, sends=1, recovered=False)

    def _end(self, cid: str) -> None:
        for leg in self.lists.get(self.list_of.get(cid, ""), [cid]):
            self.open.pop(leg, None)

    async def cancel(self, symbol: str, client_order_id: str) -> dict[str, Any]:
        if client_order_id not in self.open and client_order_id not in self.done and client_order_id not in self.filled:
            raise OrderNotFound(400, -2013, "Order does not exist.")
        self._end(client_order_id)
        return {}

    async def cancel_list(self, symbol: str, list_cid: str, legs: list[str]) -> None:
        assert list_cid in self.lists and legs == self.lists[list_cid], (list_cid, legs)
        self._end(legs[0])

    def fill_copy(self, cid: str, part: Decimal) -> None:
        intent = self.open[cid]
        left = intent.qty - self.filled[cid]
        qty = min(left, max(FILTERS.step_size, floor_to(left * part, FILTERS.step_size)))
        held = self.positions.get(KEY, ZERO)
        if intent.side == "SELL":
            qty = min(qty, held)  # spot sells what it holds (its balance was locked)
            if qty <= 0:
                return
        if cid in self.list_of:  # one of our OCO trades: the other expires
            for leg in self.lists[self.list_of[cid]]:
                if leg != cid:
                    self.open.pop(leg, None)
        after = held + (qty if intent.side == "BUY" else -qty)
        self.positions[KEY] = after
        if not after:
            del self.positions[KEY]
        self.filled[cid] += qty
        if self.filled[cid] == intent.qty:
            del self.open[cid]
            self.done.add(cid)


class SpotOrdersMachine(RuleBasedStateMachine):
    @initialize(k=st.sampled_from(["0.5", "2", "0.37"]))
    def setup(self, k: str) -> None:
        self.k = D(k)
        config = SlaveConfig(id="s1", sizing="fixed_ratio", ratio=self.k, orders="mirror", markets=("spot",))
        self.h = Harness(config, {"BTCUSDT": FILTERS}, market="spot")
        self.acct = SpotBook()
        self.h.account = self.h.mirror.account = self.acct
        self.h.mirror.aligned.add("BTCUSDT")
        self.h.master[KEY] = D(2)
        self.acct.positions[KEY] = floor_to(self.k * 2, FILTERS.step_size)
        self.intended = {KEY: self.k * 2}
        self.h.mirror.book.intended[KEY] = self.k * 2
        self.orders: dict[int, RestingOrder] = {}  # the master's open orders
        self.lists: dict[int, list[int]] = {}  # list id -> its orders' ids (open or not)
        self.expected: dict[int, Decimal | None] = {}  # master order id -> the copy's quantity (None: not mirrored)
        self.next_id = 7000
        self.seen = 0  # market orders checked so far

    # -- the master ----------------------------------------------------------------------------------
    def _publish(self, action: str, order: RestingOrder) -> None:
        self.h.seq += 1
        event = MasterOrder(
            market="spot",
            epoch=EPOCH,
            seq=self.h.seq,
            action=action,  # type: ignore[arg-type]
            order=order,
            position=self.h.master.get(KEY, ZERO),
            equity=D("10000"),
            t_exchange_ms=1,
            t_master_recv_ns=1,
            t_master_pub_ns=1,
        )
        self.h.mirror.tracker.feed(EPOCH, event.seq)
        run_sync(self.h.mirror._mirror_order(event, 1))

    def _fill(self, after: Decimal, order: RestingOrder | None = None, qty: Decimal = ZERO) -> None:
        before = self.h.master.get(KEY, ZERO)
        self.intended[KEY] = Model.rule(self.intended.get(KEY, ZERO), before, after, self.k, 1)
        fill = self.h.make_fill(KEY[0], after, price=PRICE)
        if order is not None:
            cum = order.cum_qty + qty
            status = "FILLED" if cum == order.orig_qty else "PARTIALLY_FILLED"
            fill = msgspec.structs.replace(fill, order_id=order.order_id, qty=qty, cum_qty=cum, status=status)
        else:
            fill = msgspec.structs.replace(fill, status="FILLED", order_type="MARKET")
        self.h.apply(fill)

    def _selling(self) -> Decimal:
        """What the master's open SELL orders lock (a list's orders share one lock)."""
        locked = sum((o.orig_qty - o.cum_qty for o in self.orders.values() if o.side == "SELL" and o.list_id < 0), ZERO)
        for ids in self.lists.values():
            left = [self.orders[o].orig_qty - self.orders[o].cum_qty for o in ids if o in self.orders]
            locked += max(left, default=ZERO)
        return locked

    def _share(self, qty: Decimal) -> Decimal:
        """The model's copy of a SELL of `qty`: the same fraction of the slave's holding."""
        master = self.h.master.get(KEY, ZERO)
        return floor_to(min(qty / master, D(1)) * self.acct.positions.get(KEY, ZERO), FILTERS.step_size)

    def _order(self, kind: str, side: str, qty: Decimal, list_id: int = -1, offsets: tuple[Any, Any] | None = None) -> RestingOrder:
        self.next_id += 1
        limit, stop = offsets or SINGLE[kind]
        return RestingOrder(
            symbol=KEY[0],
            position_side="BOTH",
            side=side,  # type: ignore[arg-type]
            order_id=self.next_id,
            client_order_id=f"web_{self.next_id}",
            order_type=kind,  # type: ignore[arg-type]
            time_in_force="GTC",
            price=PRICE + limit if limit is not None else ZERO,
            stop_price=PRICE + stop if stop is not None else ZERO,
            orig_qty=qty,
            position_at_place=self.h.master.get(KEY, ZERO),
            list_id=list_id,
        )

    @precondition(lambda self: len(self.orders) < 4)
    @rule(kind=st.sampled_from(sorted(SINGLE)), lots=st.integers(1, 60), sell=st.booleans())
    def place(self, kind: str, lots: int, sell: bool) -> None:
        qty = lots * LOT
        if sell and qty > self.h.master.get(KEY, ZERO) - self._selling():
            return  # the master's balance is locked by its other orders
        order = self._order(kind, "SELL" if sell else "BUY", qty)
        copy = self._share(qty) if sell else floor_to(self.k * qty, FILTERS.step_size)
        self.orders[order.order_id] = order
        self.expected[order.order_id] = copy if copy > 0 else None
        self._publish("placed", order)
        self.check_sent(allowed=0)

    @precondition(lambda self: len(self.orders) < 3)
    @rule(lots=st.integers(1, 60), stop_first=st.booleans())
    def place_oco(self, lots: int, stop_first: bool) -> None:
        qty = lots * LOT
        if qty > self.h.master.get(KEY, ZERO) - self._selling():
            return
        self.next_id += 1
        list_id = self.next_id
        maker = self._order("LIMIT_MAKER", "SELL", qty, list_id, (D(100), None))
        stop = self._order("STOP_LOSS", "SELL", qty, list_id, (None, D(-100)))
        copy = self._share(qty)
        self.lists[list_id] = [maker.order_id, stop.order_id]
        for leg in (stop, maker) if stop_first else (maker, stop):  # the order of their NEW reports
            self.orders[leg.order_id] = leg
            self.expected[leg.order_id] = copy if copy > 0 else None
            self._publish("placed", leg)
        self.check_sent(allowed=0)

    def _pick(self, n: int) -> RestingOrder:
        return self.orders[sorted(self.orders)[n % len(self.orders)]]

    def _siblings(self, order: RestingOrder) -> list[RestingOrder]:
        return [self.orders[o] for o in self.lists.get(order.list_id, []) if o != order.order_id and o in self.orders]

    @precondition(lambda self: bool(self.orders))
    @rule(n=st.integers(0, 3), part=st.sampled_from(["0.3", "0.5", "1"]))
    def master_fills(self, n: int, part: str) -> None:
        order = self._pick(n)
        left = order.orig_qty - order.cum_qty
        qty = min(left, max(LOT, floor_to(left * D(part), LOT)))
        pos = self.h.master.get(KEY, ZERO)
        if order.side == "SELL" and qty > pos:
            return
        mirrored = self.expected[order.order_id] is not None
        for sibling in self._siblings(order):  # it starts working: the list's other order expires first
            del self.orders[sibling.order_id]
            self._publish("expired", sibling)
            self.check_sent(allowed=0)
        self._fill(pos + (qty if order.side == "BUY" else -qty), order, qty)
        order = msgspec.structs.replace(order, cum_qty=order.cum_qty + qty)
        if order.cum_qty == order.orig_qty:
            del self.orders[order.order_id]
            self.check_done(mirrored)
        else:
            self.orders[order.order_id] = order
            self.check_sent(allowed=0 if mirrored else 1, prefix="ct")

    @precondition(lambda self: bool(self.orders))
    @rule(n=st.integers(0, 3), part=st.sampled_from(["0.4", "1"]))
    def copy_fills(self, n: int, part: str) -> None:
        copy = self.h.mirror.resting.get(self._pick(n).order_id)
        if copy is not None and copy.intent is not None and copy.intent.client_order_id in self.acct.open:
            self.acct.fill_copy(copy.intent.client_order_id, D(part))
        self.check_sent(allowed=0)

    @precondition(lambda self: bool(self.orders))
    @rule(n=st.integers(0, 3), keep=st.sampled_from(["0.5", "0.8"]))
    def amend(self, n: int, keep: str) -> None:
        order = self._pick(n)
        if order.side == "SELL" or order.list_id >= 0:
            return  # a reducing order re-sizes against the holding now, a list's amendment ends its copy: not modelled
        left = floor_to((order.orig_qty - order.cum_qty) * D(keep), LOT)
        if left <= 0:
            return
        amended = msgspec.structs.replace(order, orig_qty=order.cum_qty + left, update_ms=self.h.seq)
        self.orders[order.order_id] = amended
        was = self.expected[order.order_id]
        if was is not None:  # spot: the copy canceled, a new one of k x what the master has left
            copy = floor_to(self.k * left, FILTERS.step_size)
            self.expected[order.order_id] = copy if copy > 0 else None
        self._publish("amended", amended)
        if was is not None and self.expected[order.order_id] is None:
            self.check_done(True)  # beyond what the slave can copy: the old copy's part settled
        else:
            self.check_sent(allowed=0)

    @precondition(lambda self: bool(self.orders))
    @rule(n=st.integers(0, 3))
    def cancel(self, n: int) -> None:
        order = self._pick(n)
        mirrored = self.expected[order.order_id] is not None
        for leg in [*self._siblings(order), order]:  # a list is canceled whole: each order reported
            del self.orders[leg.order_id]
            self._publish("canceled", leg)
        self.check_done(mirrored)

    @rule(lots=st.integers(1, 20), buy=st.booleans())
    def plain_fill(self, lots: int, buy: bool) -> None:
        pos = self.h.master.get(KEY, ZERO)
        qty = lots * LOT
        if not buy and qty > pos - self._selling() - LOT:
            return  # no sale of what the open orders lock, and no close here (the copy model test covers those)
        self._fill(pos + qty if buy else pos - qty)
        self.check_sent(allowed=1, prefix="ct")

    # -- checks -------------------------------------------------------------------------------------
    def check_sent(self, allowed: int, prefix: str = "") -> None:
        new = self.acct.sent[self.seen :]
        self.seen = len(self.acct.sent)
        assert len(new) <= allowed and all(o.client_order_id.startswith(prefix) for o in new), new

    def check_done(self, mirrored: bool) -> None:
        """A master order (a list: its last open order) is done: a mirrored one is settled ("cs" only)."""
        if not mirrored:
            self.check_sent(allowed=1, prefix="ct")
            return
        self.check_sent(allowed=2, prefix="cs")
        gap = abs(self.acct.positions.get(KEY, ZERO) - self.intended.get(KEY, ZERO))
        steps = (FILTERS.min_notional / PRICE / FILTERS.step_size).to_integral_value(ROUND_CEILING)
        smallest = max(FILTERS.min_qty, steps * FILTERS.step_size)
        assert gap < smallest + FILTERS.step_size, (self.acct.positions.get(KEY), self.intended.get(KEY))

    @precondition(lambda self: hasattr(self, "h"))
    @invariant()
    def copies_match_the_masters_orders(self) -> None:
        live: set[str] = set()
        for order_id, order in self.orders.items():
            copy = self.h.mirror.resting.get(order_id)
            want = self.expected[order_id]
            if want is None:
                assert copy is None or copy.intent is None, (order, copy)
                continue
            assert copy is not None and copy.intent is not None, (order, copy)
            i = copy.intent
            limit = order.price if order.order_type not in ("STOP_LOSS", "TAKE_PROFIT") else None
            stop = order.stop_price or None
            got = (i.side, i.order_type, i.price, i.stop_price, i.qty)
            assert got == (order.side, order.order_type, limit, stop, want), (i, order, want)
            cid = i.client_order_id
            assert cid in self.acct.open or cid in self.acct.done or cid in self.acct.list_of, (i, order)
            if order.list_id >= 0:  # our OCO: one list of ours for the master's list
                assert copy.oco and cid in self.acct.lists[copy.oco[0]], (copy, order)
                live.update(self.acct.lists[copy.oco[0]])
            live.add(cid)
        assert set(self.acct.open) <= live, ("orphan copies", set(self.acct.open) - live)

    @precondition(lambda self: hasattr(self, "h"))
    @invariant()
    def the_target_is_the_models(self) -> None:
        assert self.h.mirror.book.intended.get(KEY, ZERO) == self.intended.get(KEY, ZERO)


SpotOrdersMachine.TestCase.settings = settings(
    max_examples=int(__import__("os").environ.get("MODEL_EXAMPLES", "300")),
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestCopyModelSpotOrders = SpotOrdersMachine.TestCase
