"""Which of the master's spot / margin order-list orders the slaves copy, and as what (pure).

A slave copies an OCO's two orders as one OCO of its own (they carry the list's id), and every
other order on its own (list id -1). The orders of the lists come one executionReport each, and the
`listStatus` event (sent with every change of a list, user-data-stream.md) names the list's type:
- **OCO**: both orders go out with the list's id;
- **OTO / OTOCO** (`listStatus` c "OTO"): the *working* order (LIMIT / LIMIT_MAKER) goes out on
  its own, as a plain resting order; the *pending* orders (X PENDING_NEW: not on the book until the
  working order is fully filled) are not published while pending, and go out when they go on the
  book (x NEW, X NEW): an OTO's one order on its own, an OTOCO's pair with the list's id (an OCO
  pair, which the slave copies as an OCO).
An order of a list whose type is not known yet is decided without waiting where its type tells:
a LIMIT is always a working order (an OCO has none), a pending order is an OTO's. Only a LIMIT_MAKER
or a stop whose list is not known yet (an OCO's, or an OTO's working LIMIT_MAKER) waits, with the
updates that follow it, until the list's `listStatus`, a PENDING_NEW of its list (an OTO), or a
second live order of its list (an OCO: both of its orders are live when placed). The fills of an
order that waits are published as fills meanwhile (the slaves copy them as such), and the order
goes out with its filled quantity, so nothing is copied twice.

The REST rebuild (openOrders rows, PENDING_NEW among them) gives the same answer: a list with
pending orders is an OTO, its live order the working one.

Binance's docs do not show the user-data events of an OTO; the PENDING_NEW executionReport and the
rows are assumed as the simulator sends them (simulator/spot_oto.py) and are to be confirmed on
testnet.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .resting import OpenOrder, OrderUpdate

PENDING = "PENDING_NEW"
_DONE = frozenset({"FILLED", "CANCELED", "EXPIRED", "EXPIRED_IN_MATCH", "REJECTED"})


class ListSorter:
    """Decides, for each order update of a list, whether and with which list id it goes to the book
    (actors/master/resting.py)."""

    def __init__(self) -> None:
        self.kind: dict[int, str] = {}  # list id -> "OCO" | "OTO"
        self.pending: dict[int, int] = {}  # order id -> list id, while PENDING_NEW
        self.pendings: dict[int, int] = {}  # list id -> how many pending orders it had (OTO 1, OTOCO 2)
        self.live: dict[int, set[int]] = {}  # list id -> its live orders seen while its type is not known
        self.held: dict[int, list[OrderUpdate]] = {}  # list id -> updates waiting for the list's type

    def clear(self) -> None:
        self.__init__()  # type: ignore[misc]

    # -- live updates --------------------------------------------------------------------------------
    def sort(self, u: "OrderUpdate") -> list["OrderUpdate"]:
        """The updates to feed the book now, in order (`u` with its list id as published)."""
        g = u.list_id
        if g < 0:
            return [u]
        oid, status, x = u.order_id, u.status, u.x
        if status == PENDING:
            if oid not in self.pending:
                self.pending[oid] = g
                self.pendings[g] = self.pendings.get(g, 0) + 1
            return self._known(g, "OTO")
        if oid in self.pending:  # a pending order goes on the book, or ends without ever being there
            del self.pending[oid]
            if x != "NEW":
                return []
            self.kind[g] = "OTO"
            return [u._replace(list_id=g if self.pendings.get(g, 0) == 2 else -1)]
        kind = self.kind.get(g)
        if kind == "OCO":
            return [u]
        if kind == "OTO":
            return [u._replace(list_id=-1) if x == "NEW" else u]
        if g in self.held and any(h.order_id == oid for h in self.held[g]):
            self.held[g].append(u)
            return []
        if x == "NEW" and u.order_type == "LIMIT":
            self.kind[g] = "OTO"  # an OCO has no LIMIT: this is a working order
            return [u._replace(list_id=-1)]
        if x != "NEW":
            return [u]  # an order the book does not know of (placed before the rebuild): the book decides
        seen = self.live.setdefault(g, set())
        seen.add(oid)
        if len(seen) >= 2:  # two live orders of a list when placed: an OCO
            return self._known(g, "OCO") + [u]
        self.held.setdefault(g, []).append(u)
        return []

    def on_list_status(self, g: int, contingency: str, all_done: bool) -> list["OrderUpdate"]:
        """listStatus: the list's type is known; the updates that waited for it, in order."""
        out = self._known(g, "OCO" if contingency == "OCO" else "OTO")
        if all_done:
            self.kind.pop(g, None)
            self.pendings.pop(g, None)
            for oid in [o for o, lid in self.pending.items() if lid == g]:
                del self.pending[oid]
        return out

    def _known(self, g: int, kind: str) -> list["OrderUpdate"]:
        """The list's type is `kind`: what waited for it goes out, each order's NEW with the filled
        quantity of its last update; an order that ended meanwhile goes out not at all (its fills
        went out as fills)."""
        self.kind[g] = kind
        self.live.pop(g, None)
        held = self.held.pop(g, [])
        last = {h.order_id: h for h in held}
        out = []
        for h in held:
            end = last[h.order_id]
            if end.status in _DONE or end.cum_qty >= end.qty:
                continue
            if h.x == "NEW":
                h = h._replace(cum_qty=end.cum_qty, list_id=h.list_id if kind == "OCO" else -1)
            out.append(h)
        return out

    # -- the REST rebuild ----------------------------------------------------------------------------
    def rebuild(self, rows: Iterable["OpenOrder"]) -> dict[int, int]:
        """Start again from REST's open orders: the list id each live row is published with (only
        rows whose list id changes: an OTO's working order, -1)."""
        self.clear()
        rows = list(rows)
        for r in rows:
            if r.list_id >= 0 and r.status == PENDING:
                self.pending[r.order_id] = r.list_id
                self.pendings[r.list_id] = self.pendings.get(r.list_id, 0) + 1
                self.kind[r.list_id] = "OTO"
        return {r.order_id: -1 for r in rows if r.list_id in self.pendings and r.status != PENDING}
