"""The copies of the master's resting orders (`orders = "mirror"`: USD-M LIMIT, spot and cross
margin LIMIT, LIMIT_MAKER and the stop types STOP_LOSS(_LIMIT) / TAKE_PROFIT(_LIMIT)).

A spot / margin stop is copied as the same stop (its stop price on the tick): the copy waits on the
exchange, so a follower keeps its stop when the copier is down. When the master's stop triggers,
the copy triggers at the same last price and fills on its own; the master's fills are not copied
again, and when the master's order is done the copy's leftover (one that did not trigger, or a
limit stop that did not fill) is canceled and the difference settled at market, as for a limit.

The master places a resting order: the slave places its copy (actors/domain/resting.py sizes it).
The master amends it: on USD-M the slave amends its copy (`order.modify`: price, and its own filled
quantity plus its share of what the master has left); on spot and margin (a master's
`order.amend.keepPriority`, which only lowers the quantity) the slave cancels its copy and places
its share of what the master has left as a new one (its priority is lost: Binance lets an order
keep it only when its own quantity goes down, which a share of the master's need not). A spot
`cancelReplace` of the master is a cancel and a placement, and copied as those. The master's order fills: the target moves by the
copy rule as for any fill, and no market order is sent: the copy fills on its own queue position.
The master's order is done (filled, canceled, expired): the slave cancels what is left of its copy
and settles the difference to the target with a market order ("cs" client ids, after
`settle_after_ms`). A (re)sync cancels every copy (those of the last run too: copies_state.py) and places the
snapshot's open orders again.

An order the slave cannot copy (under the minimum, filtered, no k...) is not mirrored: its fills
are copied as market orders, as in `orders = "fills"`; an amendment that makes the copy impossible
cancels it and settles, and the fills after it are copied as market orders.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

import msgspec

from protocol.messages import MasterAlgoOrder, MasterFill, MasterOrder, MirrorSkipped, OrderMirrored, PositionSnapshot, RestingOrder
from protocol.seq import SeqVerdict

from ..binance.errors import BinanceAPIError
from ..domain.decisions import OrderIntent, Skip, margin_guard, reconcile_target
from ..domain.orders import _cid
from ..domain.resting import reducing_part, resting_intent
from ..domain.sizing import FIXED, CannotSize, order_increase, order_k, ratio_k
from .copies_state import copies_path, save_copies
from .rules import ZERO, log, now_ns, price_passed

if TYPE_CHECKING:
    from .mirror import MarketMirror


class Copy(NamedTuple):
    """A master resting order and the slave's copy of it (`intent` None: not mirrored, `why`)."""

    master: RestingOrder
    intent: OrderIntent | None
    order_id: int = 0  # the copy's exchange order id
    why: str = ""
    oco: tuple[str, ...] = ()  # one order of our OCO (order_lists.py): (listClientOrderId, its orders' client ids...)


def settle_client_order_id(slave_id: str, market: str, symbol: str, master_order_id: int, leg: int, again: int = 0) -> str:
    """newClientOrderId of the market order that settles a done mirrored order: "cs" + 24 chars
    (`again`: a second settle of the same order, e.g. after a fill that came late)."""
    if again:
        return _cid("cs", slave_id, market, symbol, master_order_id, leg, again)
    return _cid("cs", slave_id, market, symbol, master_order_id, leg)


class RestingMirror:
    """Mixin of MarketMirror: `self.resting` maps a master order id to its Copy."""

    resting: dict[int, Copy]

    def _mirrors_orders(self: "MarketMirror") -> bool:
        return self.config.orders == "mirror"

    def _on_order(self: "MarketMirror", order: MasterOrder | MasterAlgoOrder, t_recv: int) -> None:
        """A resting order of the master (placed, amended, canceled, expired). It takes a number in
        the master's sequence, so it is counted; with `orders = "mirror"` it goes to its
        symbol's worker, in order with the fills, else only its fills are copied."""
        if self.syncing:
            self.pending.append((order, t_recv))
            return
        verdict = self.tracker.feed(order.epoch, order.seq).verdict
        if verdict is SeqVerdict.DUPLICATE:
            return
        if verdict is not SeqVerdict.OK:
            self.pending.append((order, t_recv))
            self.request_resync("restart" if verdict is SeqVerdict.RESTART else "gap")
        elif self._mirrors_orders():
            self._enqueue(order, t_recv)

    def resting_keys(self: "MarketMirror") -> set[tuple[str, str]]:
        """Positions with a live copy: their drift is the copy's queue, settled when it is done;
        and positions a stop is closing now (protective.py)."""
        keys = {(c.master.symbol, c.master.position_side) for c in self.resting.values() if c.intent is not None}
        return keys | self.guard_keys() if (self.guards or self.guard_fills) else keys

    def _copy_of(self: "MarketMirror", order: RestingOrder, equity: Decimal, nonce: str) -> OrderIntent | Skip:
        k = ratio_k(self.config, self.account.equity, equity)
        if self.config.sizing in FIXED:  # k from the order's own notional
            adds = order_increase(
                order.side,
                order.position_side,
                order_qty=order.orig_qty,
                reduce_only=order.reduce_only,
                position_at_start=order.position_at_place,
            )
            k = order_k(self.config, self.account.equity, order.price or order.stop_price, adds)
        if isinstance(k, CannotSize):
            return Skip("cannot_size", k.reason)
        gate = self._entry_k((order.symbol, order.position_side), k)  # the guards (guards.py)
        if isinstance(gate, CannotSize):  # only the part that reduces is copied
            remaining = order.orig_qty - order.cum_qty
            if reducing_part(remaining, order.side, order.position_side, order.reduce_only, order.position_at_place) <= 0:
                self.guard_acted(gate.skip, f"{gate.reason}: the master's {order.symbol} {order.order_type} entry was not mirrored")
                return Skip(gate.skip, gate.reason)
            k = ZERO
        if self.slave.paused_all or self.config.paused:
            return Skip("paused", "paused: the master's order is not mirrored (its fills are decided as fills)")
        holding = self.account.holding(order.symbol, order.position_side)
        intent = resting_intent(
            order,
            market=self.market,
            slave_id=self.slave.slave_id,
            config=self._capped((order.symbol, order.position_side)),  # max total exposure (guards.py)
            k=k,
            filters=self.account.filters.get(order.symbol),
            held=holding.position,
            nonce=nonce,
            quote_free=holding.quote_free,
        )
        if isinstance(intent, OrderIntent) and intent.side_effect == "MARGIN_BUY":  # borrows under the slave's floor
            return margin_guard(self.config, holding, [intent], holding.free) or intent
        return intent

    async def _mirror_order(self: "MarketMirror", event: MasterOrder, t_recv: int) -> None:
        order = event.order
        known = self.resting.get(order.order_id)
        if event.action == "placed" or (event.action == "amended" and known is None and order.list_id < 0):
            if known is None and order.list_id >= 0:
                await self._place_list_leg(order, event.equity, "live", t_recv)  # order_lists.py
            elif known is None:
                await self._place_copy(order, event.equity, "live", t_recv)
            return
        if known is None:
            waiting = self.list_legs.get(order.list_id)
            if waiting is not None and waiting.order_id == order.order_id:  # ended before its sibling came
                del self.list_legs[order.list_id]
            return
        if event.action == "amended":
            if known.intent is None:
                self.resting[order.order_id] = known._replace(master=order)
                return
            if known.oco:  # an amended OCO order ends our copy: canceled and settled, its fills copied as fills
                self.resting[order.order_id] = Copy(order, None, why="an amended OCO order is not mirrored")
                for mid, c in list(self.resting.items()):
                    if c.oco == known.oco:
                        self.resting[mid] = Copy(c.master, None, why="the other order of its OCO was amended")
                await self._settle(known, t_recv)
                return
            await self._amend_copy(known, order, event.equity, t_recv)
            return
        del self.resting[order.order_id]  # canceled / expired
        if known.intent is not None:
            await self._order_done(known, t_recv)

    async def _order_done(self: "MarketMirror", copy: Copy, t_recv: int) -> None:
        """The master's order of `copy` is done (its record gone): settle, unless it is one of an
        OCO whose other order still works (ours works on too: order_lists.py)."""
        if not self._list_open(copy):
            await self._settle(copy, t_recv)

    async def _place_copy(self: "MarketMirror", order: RestingOrder, equity: Decimal, nonce: str, t_recv: int) -> None:
        intent = self._copy_of(order, equity, nonce)
        if isinstance(intent, Skip):
            log.info("master order %d not mirrored: %s", order.order_id, intent.text)
            self.resting[order.order_id] = Copy(order, None, why=intent.text)
            return
        if intent.kind == "open" and order.symbol not in self.aligned:
            await self._align(order.symbol, None, None)
        self._save_copies(intent)  # listed before it exists: a restart cancels it whatever happens
        result = await self._send_resting(intent, order, t_recv)
        if result is None:
            self.resting[order.order_id] = Copy(order, None, why="the copy was refused")
        else:
            self.resting[order.order_id] = Copy(order, intent, int(result.get("orderId", 0)))
        self._save_copies()

    async def _amend_copy(self: "MarketMirror", known: Copy, order: RestingOrder, equity: Decimal, t_recv: int) -> None:
        assert known.intent is not None
        intent = self._copy_of(order, equity, "live")
        if isinstance(intent, Skip):
            log.info("master order %d amended beyond what this slave can copy: %s", order.order_id, intent.text)
            self.resting[order.order_id] = Copy(order, None, why=intent.text)
            await self._settle(known, t_recv)
            return
        filled = self.account.orders.applied.get(known.order_id, ZERO) if self.market == "usdm" else ZERO  # type: ignore[attr-defined]
        if self.market != "usdm" or filled >= known.intent.qty:  # spot / margin, or ours filled in full: a new copy
            await self._replace_copy(known, order, equity, t_recv)
            return
        amended = msgspec.structs.replace(intent, client_order_id=known.intent.client_order_id, qty=filled + intent.qty)
        try:
            await self.account.amend(amended)
        except BinanceAPIError as exc:
            if exc.code == -5027:  # "No need to modify the order": our copy is already so
                self.resting[order.order_id] = known._replace(master=order)
                return
            log.warning("amending the copy of master order %d failed (%s): cancelled and settled", order.order_id, exc)
            self.resting[order.order_id] = Copy(order, None, why=f"amendment refused: {exc.msg}")
            await self._settle(known, t_recv)
            return
        self.resting[order.order_id] = known._replace(master=order, intent=amended)

    async def _replace_copy(self: "MarketMirror", known: Copy, order: RestingOrder, equity: Decimal, t_recv: int) -> None:
        """Spot / margin: cancel the copy (its fills stay in the position), place the share of what
        the master has left as a new copy ("cm" id of this amendment's time)."""
        assert known.intent is not None
        if not await self._cancel_copy(order.symbol, known.intent.client_order_id):
            log.warning("amending the copy of master order %d: its cancel failed: settled", order.order_id)
            self.resting[order.order_id] = Copy(order, None, why="amendment failed: the copy's cancel had no answer")
            await self.account.refresh()
            self._save_copies()
            await self._settle_to_target(order.symbol, order.position_side, order.order_id, order.price or order.stop_price, t_recv)
            return
        del self.resting[order.order_id]
        self._save_copies()
        await self._place_copy(order, equity, f"a{order.update_ms}", t_recv)
        if self.resting[order.order_id].intent is None:  # the new copy was refused: settle what the old one left
            await self._settle_to_target(order.symbol, order.position_side, order.order_id, order.price or order.stop_price, t_recv)

    async def _send_resting(self: "MarketMirror", intent: OrderIntent, order: RestingOrder, t_recv: int) -> dict[str, Any] | None:
        t_sent = now_ns()
        try:
            done = await self.account.execute(intent)
        except BinanceAPIError as exc:
            log.warning("copy of master order %d refused: %s", order.order_id, exc)
            self._refused(order, intent, exc, t_recv, t_sent)
            return None
        r = done.result
        self.slave.report(
            OrderMirrored(
                **self._keys(None, t_recv, intent) | {"master_order_id": order.order_id},
                reduce_only=intent.reduce_only,
                exchange_order_id=int(r.get("orderId", 0)),
                status=str(r.get("status", "")),
                executed_qty=Decimal(str(r.get("executedQty") or 0)),
                summary=f"{intent.order_type} {intent.time_in_force or '-'} {intent.qty}@{intent.price or '-'}"
                + (f" stop {intent.stop_price}" if intent.stop_price else "")
                + f" (copy of {order.order_id})",
                t_order_sent_ns=t_sent,
                t_order_acked_ns=now_ns(),
            )
        )
        return r

    def _refused(self: "MarketMirror", order: RestingOrder, intent: OrderIntent, exc: BinanceAPIError, t_recv: int, t_sent: int) -> None:
        """Report a copy the exchange refused: journalled and paged, or only journalled when the
        price passed the stop's trigger before the copy came (its fills are copied as fills)."""
        if price_passed(exc.code, exc.msg):
            keys = self._keys(None, t_recv, intent) | {"master_order_id": order.order_id}
            text = f"the price passed its trigger before the copy came ({exc.msg}): its fills are copied as fills"
            self.slave.report(MirrorSkipped(**keys, reason="exchange_rejected", text=text[:300]))
        else:
            self.slave.report(self._failed(None, t_recv, intent, exc.code, exc.msg, unknown=False, t_sent=t_sent))

    def _save_copies(self: "MarketMirror", *sending: OrderIntent) -> None:
        live = [(c.master.symbol, c.intent.client_order_id) for c in self.resting.values() if c.intent is not None]
        live += self.guard_cids(saved=True)  # the copies of the master's stops ("ca" ids, protective.py)
        live += [(intent.symbol, intent.client_order_id) for intent in sending]
        save_copies(copies_path(self.slave, self.market), live)

    def _fill_of_copy(self: "MarketMirror", fill: MasterFill) -> Copy | None:
        copy = self.resting.get(fill.order_id) if self.resting else None
        return copy if copy is not None and copy.intent is not None else None

    async def _settle(self: "MarketMirror", copy: Copy, t_recv: int) -> None:
        """The master's order is done: cancel what is left of the copy, then bring the position to
        the target (moved by every master fill of the order) with a market order."""
        assert copy.intent is not None
        if self.config.settle_after_ms:
            await asyncio.sleep(self.config.settle_after_ms / 1000)
        acct = self.account
        symbol, ps = copy.master.symbol, copy.master.position_side
        canceled = await (self._cancel_oco(symbol, copy) if copy.oco else self._cancel_copy(symbol, copy.intent.client_order_id))
        if not canceled:
            await acct.refresh()
        self._save_copies()
        await self._settle_to_target(symbol, ps, copy.master.order_id, copy.master.price or copy.master.stop_price, t_recv)

    async def _settle_to_target(
        self: "MarketMirror", symbol: str, ps: str, master_order_id: int, price: Decimal, t_recv: int, again: int = 0
    ) -> None:
        """Bring one position to the target with market orders ("cs" ids of the master's order;
        `again`: a later settle of the same order, other ids)."""
        acct = self.account
        key = (symbol, ps)
        intended = self.book.intended.get(key, ZERO)
        intents = reconcile_target(
            [],
            {key: acct.positions.get(key, ZERO)},
            Decimal(1),
            acct.filters,
            market=self.market,
            slave_id=self.slave.slave_id,
            config=self.config,
            nonce=f"settle-{master_order_id}",
            prices={symbol: price},
            buy_commission=getattr(acct, "buy_commission", ZERO),  # spot / margin: a buy lands net of it
            expected={key: intended},
        )
        for leg, intent in enumerate(intents):
            cid = settle_client_order_id(self.slave.slave_id, self.market, symbol, master_order_id, leg, again)
            await self._send(msgspec.structs.replace(intent, client_order_id=cid), None, t_recv)

    async def drop_copies(self: "MarketMirror", why: str, symbol: str | None = None) -> None:
        """Cancel our live copies (all, or one symbol's): paused, or flattened. Their master
        orders stay known as not mirrored: their fills are decided as fills from now on."""
        for order_id, copy in list(self.resting.items()):
            if copy.intent is None or (symbol is not None and copy.master.symbol != symbol):
                continue
            self.resting[order_id] = Copy(copy.master, None, why=why)
            await self._cancel_copy(copy.master.symbol, copy.intent.client_order_id)
        self._save_copies()

    async def _place_snapshot_copies(self: "MarketMirror", snap: PositionSnapshot) -> None:
        placed = await self._place_snapshot_lists(snap) if getattr(self.account, "order_lists", False) else set()
        for order in snap.open_orders:
            if order.order_id in self.resting or order.order_id in placed:
                continue
            if order.list_id >= 0 and not getattr(self.account, "order_lists", False):
                self.resting[order.order_id] = Copy(order, None, why=f"an order list on {self.market} is not mirrored (its fills are)")
                continue
            await self._place_copy(order, snap.equity, f"{snap.epoch}-{snap.seq}", now_ns())
