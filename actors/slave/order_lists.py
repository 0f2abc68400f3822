"""The copies of the master's spot order lists (OCO) with `orders = "mirror"`.

An OCO is two orders of one side and one quantity; when one starts working the other expires. Two
single copies would not do that (and the second would find the balance locked by the first), so a
slave copies the master's OCO as an OCO of its own (spot `orderList.place.oco`, cross margin
`POST /sapi/v1/margin/order/oco` with the orders' `sideEffectType`): each order the master's
type, price and stop price (on the tick), the list's quantity the copy rule's (k x what it adds,
the same share of the slave's holding for what it reduces; the smaller of the two orders' when
their filters differ). The master's orders arrive one by one (executionReport NEW, then
listStatus): the first waits for its sibling, and the pair is placed when both are known. The
"above" order is the one whose price (a stop's stop price, a LIMIT_MAKER's price) is higher.

Our OCO works on its own: when the master's stop triggers or its LIMIT_MAKER fills, ours do the
same at the same last price; the master's fills are not copied, and the master's other order
expiring changes nothing here. When neither master order is left open, what is left of our list is
canceled (`orderList.cancel`) and the position settled to the copy rule at market, once. An OCO the
slave cannot copy (a filter, no position, a cross margin pair other than a LIMIT_MAKER and a
STOP_LOSS(_LIMIT), which is all the older OCO form that margin has can place) is not mirrored: its
fills are copied as fills. An amended OCO order ends the copy: canceled and settled.
A resync places the snapshot's open pairs again as OCOs, and a lone open order of a list (its
sibling done) as a single copy.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import msgspec

from protocol.messages import OrderMirrored, PositionSnapshot, RestingOrder

from ..binance.errors import BinanceAPIError
from ..domain.orders import OrderIntent, Skip, _cid
from .rules import log, now_ns

if TYPE_CHECKING:
    from .mirror import MarketMirror
    from .resting import Copy


def list_client_order_id(slave_id: str, market: str, symbol: str, master_list_id: int, nonce: str) -> str:
    """listClientOrderId of the copy of a master's order list: "cl" + 24 chars."""
    return _cid("cl", slave_id, market, symbol, master_list_id, nonce)


def _level(order: RestingOrder) -> Decimal:
    return order.price if order.order_type == "LIMIT_MAKER" else order.stop_price


_LIMIT_SIDE = frozenset({"LIMIT_MAKER", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"})
_STOP_SIDE = frozenset({"STOP_LOSS", "STOP_LOSS_LIMIT"})


def oco_shaped(a: RestingOrder, b: RestingOrder) -> bool:
    """Whether two orders of one list are an OCO's (one side and quantity, a LIMIT_MAKER or a
    take-profit beside a stop-loss). The master listener sends an OTO's or OTOCO's working order
    and an OTO's lone pending order as orders on their own, and an OTOCO's pending pair, once on
    the book, as an OCO pair (actors/master/order_lists.py); any other list is not mirrored: its
    fills are copied as fills."""
    kinds = {a.order_type in _LIMIT_SIDE, b.order_type in _LIMIT_SIDE}
    stops = (a.order_type in _STOP_SIDE) + (b.order_type in _STOP_SIDE)
    return a.symbol == b.symbol and a.side == b.side and a.orig_qty == b.orig_qty and kinds == {True, False} and stops == 1


class ListMirror:
    """Mixin of MarketMirror: `self.list_legs` holds a master's OCO order until its sibling comes."""

    list_legs: dict[int, RestingOrder]

    async def _place_list_leg(self: "MarketMirror", order: RestingOrder, equity: Decimal, nonce: str, t_recv: int) -> None:
        from .resting import Copy

        if not getattr(self.account, "order_lists", False):
            log.info("master order %d of order list %d not mirrored: no OCO copies on %s", order.order_id, order.list_id, self.market)
            self.resting[order.order_id] = Copy(order, None, why=f"an order list on {self.market} is not mirrored (its fills are)")
            return
        sibling = self.list_legs.pop(order.list_id, None)
        if sibling is None or sibling.order_id == order.order_id or sibling.symbol != order.symbol:
            self.list_legs[order.list_id] = order
            return
        await self._place_oco(sibling, order, equity, nonce, t_recv)

    async def _place_oco(self: "MarketMirror", a: RestingOrder, b: RestingOrder, equity: Decimal, nonce: str, t_recv: int) -> None:
        from .resting import Copy

        above, below = (a, b) if _level(a) > _level(b) else (b, a)
        if not oco_shaped(a, b):
            log.info("master order list %d is not an OCO: not mirrored (its fills are copied as fills)", a.list_id)
            for leg in (above, below):
                self.resting[leg.order_id] = Copy(leg, None, why="an order list that is not an OCO pair is not mirrored")
            return
        ia, ib = self._copy_of(above, equity, nonce), self._copy_of(below, equity, nonce)
        if isinstance(ia, Skip) or isinstance(ib, Skip):
            why = (ia if isinstance(ia, Skip) else ib).text  # type: ignore[union-attr]
            log.info("master order list %d not mirrored: %s", above.list_id, why)
            for leg in (above, below):
                self.resting[leg.order_id] = Copy(leg, None, why=f"its OCO cannot be copied: {why}")
            return
        qty = min(ia.qty, ib.qty)
        ia, ib = msgspec.structs.replace(ia, qty=qty), msgspec.structs.replace(ib, qty=qty)
        refusal = self.account.oco_refusal(ia, ib)  # type: ignore[attr-defined]
        if refusal:
            log.info("master order list %d not mirrored: %s", above.list_id, refusal)
            for leg in (above, below):
                self.resting[leg.order_id] = Copy(leg, None, why=refusal)
            return
        list_cid = list_client_order_id(self.slave.slave_id, self.market, above.symbol, above.list_id, nonce)
        self._save_copies(ia, ib)  # listed before they exist: a restart cancels them whatever happens
        ids = await self._send_oco(ia, ib, list_cid, above, below, t_recv)
        oco = (list_cid, ia.client_order_id, ib.client_order_id)
        for leg, intent in ((above, ia), (below, ib)):
            if ids is None:
                self.resting[leg.order_id] = Copy(leg, None, why="the OCO copy was refused")
            else:
                self.resting[leg.order_id] = Copy(leg, intent, ids.get(intent.client_order_id, 0), oco=oco)
        self._save_copies()

    async def _send_oco(
        self: "MarketMirror", ia: OrderIntent, ib: OrderIntent, list_cid: str, above: RestingOrder, below: RestingOrder, t_recv: int
    ) -> dict[str, int] | None:
        """Place our OCO; our order ids by client id (None: refused)."""
        t_sent = now_ns()
        try:
            done = await self.account.place_oco(ia, ib, list_cid)  # type: ignore[attr-defined]
        except BinanceAPIError as exc:
            log.warning("OCO copy of master order list %d refused: %s", above.list_id, exc)
            self._refused(above, ia, exc, t_recv, t_sent)
            return None
        ids: dict[str, int] = {}
        for row in done.result.get("orders") or []:
            try:
                ids[str(row["clientOrderId"])] = int(row["orderId"])
            except (KeyError, TypeError, ValueError):
                continue
        for intent, master in ((ia, above), (ib, below)):
            self.slave.report(
                OrderMirrored(
                    **self._keys(None, t_recv, intent) | {"master_order_id": master.order_id},
                    exchange_order_id=ids.get(intent.client_order_id, 0),
                    status=str(done.result.get("listOrderStatus", "")),
                    summary=f"OCO {intent.order_type} {intent.qty}@{intent.price or '-'}"
                    + (f" stop {intent.stop_price}" if intent.stop_price else "")
                    + f" (copy of {master.order_id}, list {master.list_id})",
                    t_order_sent_ns=t_sent,
                    t_order_acked_ns=now_ns(),
                )
            )
        return ids

    def _list_open(self: "MarketMirror", copy: "Copy") -> bool:
        """Whether the master's other order of `copy`'s OCO is still open (ours works on)."""
        return bool(copy.oco) and any(c.oco == copy.oco for c in self.resting.values())

    async def _cancel_oco(self: "MarketMirror", symbol: str, copy: "Copy") -> bool:
        """Cancel what is left of our OCO (tried twice); False: its end is not known, its orders stay
        on record and are canceled at the next sync."""
        list_cid, *legs = copy.oco
        for attempt in (1, 2):
            try:
                await self.account.cancel_list(symbol, list_cid, legs)  # type: ignore[attr-defined]
                for cid in legs:
                    self.guard_leftovers.discard((symbol, cid))
                return True
            except BinanceAPIError as exc:
                log.warning("cancel of our OCO %s failed (attempt %d): %s", list_cid, attempt, exc)
        self.guard_leftovers.update((symbol, cid) for cid in legs)
        return False

    async def _place_snapshot_lists(self: "MarketMirror", snap: PositionSnapshot) -> set[int]:
        """The snapshot's open OCO pairs placed as OCOs; the order ids it placed (or refused)."""
        by_list: dict[int, list[RestingOrder]] = {}
        for order in snap.open_orders:
            if order.list_id >= 0 and order.order_id not in self.resting:
                by_list.setdefault(order.list_id, []).append(order)
        done: set[int] = set()
        for legs in by_list.values():
            if len(legs) == 2:
                await self._place_oco(legs[0], legs[1], snap.equity, f"{snap.epoch}-{snap.seq}", now_ns())
                done.update(o.order_id for o in legs)
        return done
