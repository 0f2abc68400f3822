"""The copies of the master's conditional orders: stop-loss and take-profit on the exchange
(`orders = "mirror"`, `protective = "mirror"`, USD-M; Binance's Algo Service).

The master places a stop: the slave places its own (actors/domain/protective.py sizes it), so the
follower is protected on the exchange whatever happens to the copier. The master cancels it, or it
expires or is rejected: the slave cancels its own. Binance cannot amend an untriggered conditional
order: the master's "amendment" is a cancel and a new order, copied as such.

The master's stop triggers ("triggered": the order it became, `actual_order_id`): the fills of that
order move the target by the copy rule, and no market order is sent for them; the slave's own stop
triggered on the same price, or will. When the master's triggered order is done (its fill with
status FILLED, or "finished"), the slave settles: it cancels its own stop if that has not
triggered (a different mark price, refused...), waits for its own triggered order to be done, reads
it, and brings the position to the target with a market order ("cs" ids) — nothing when both
stops did the same.

A trailing stop is copied with the master's callback rate and activation price; one the exchange
refuses as "would immediately trigger" (-2021: the price passed the activation price before our
copy was placed, the master's is active) is placed again without it, trailing from its placement.

Client ids "ca" + 24 chars; each copy is listed in copies-<market>.json before it is sent (a
restart or a sync cancels them all, then places the snapshot's open conditional orders again).
A copy the slave cannot make (under the minimum, filtered...) is not mirrored: the fills of the
master's triggered order are then copied as fills, as in `orders = "fills"`.
A pause keeps the stops (they protect the positions the slave still holds); flatten and
`orders` / `protective` back to off cancel them.
"""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import TYPE_CHECKING, NamedTuple

import msgspec

from protocol.messages import (
    ConditionalOrder,
    MasterAlgoOrder,
    MasterFill,
    MirroredOrder,
    MirrorSkipped,
    OrderFailed,
    OrderMirrored,
    PositionSnapshot,
)

from ..binance.errors import BinanceAPIError
from ..domain.decisions import Skip
from ..domain.protective import GuardIntent, guard_intent
from ..domain.resting import reducing_part
from ..domain.sizing import FIXED, CannotSize, order_increase, order_k, ratio_k
from .rules import log, now_ns, price_passed

if TYPE_CHECKING:
    from .mirror import MarketMirror

_OWN_DONE = frozenset({"FINISHED", "CANCELED", "EXPIRED", "REJECTED", "UNKNOWN"})
_OWN_TRIGGERED = frozenset({"TRIGGERING", "TRIGGERED", "FINISHED"})
_WOULD_TRIGGER = -2021  # "Order would immediately trigger."
ZERO = Decimal(0)
_SETTLE_WAIT_S = 5.0  # the longest the slave waits for its own triggered stop to be done
_MAX_TRIGGERED = 1000  # triggered master stops remembered (their late fills are still theirs)


class Guard(NamedTuple):
    """A master conditional order and the slave's copy of it (`intent` None: not mirrored, `why`)."""

    master: ConditionalOrder
    intent: GuardIntent | None
    why: str = ""
    settled: bool = False


class ProtectiveMirror:
    """Mixin of MarketMirror: `self.guards` maps a master algo id to its Guard, `self.guard_fills`
    the order a master stop became when it triggered to the same Guard."""

    guards: dict[int, Guard]
    guard_fills: dict[int, Guard]
    guard_leftovers: set[tuple[str, str]]  # (symbol, client id) of stops and copies whose end is not established

    def _mirrors_protective(self: "MarketMirror") -> bool:
        return self._mirrors_orders() and self.config.protective == "mirror"

    def guard_keys(self: "MarketMirror") -> set[tuple[str, str]]:
        """Positions a stop is closing now (the master's triggered, or our own): not corrected
        until it is settled."""
        keys = {(g.master.symbol, g.master.position_side) for g in self.guard_fills.values() if not g.settled}
        own = getattr(self.account, "algo_status", {})
        for g in self.guards.values():
            if g.intent is not None and own.get(g.intent.client_algo_id) in _OWN_TRIGGERED:
                keys.add((g.master.symbol, g.master.position_side))
        return keys

    def guard_cids(self: "MarketMirror", saved: bool = False) -> list[tuple[str, str]]:
        """Our live stops' (symbol, client id); `saved`: with those whose end is not established
        (a cancel or a placement with no definite answer), which the next sync cancels."""
        live = [(g.master.symbol, g.intent.client_algo_id) for g in self.guards.values() if g.intent is not None]
        return live + sorted(self.guard_leftovers) if saved else live

    async def _mirror_algo(self: "MarketMirror", event: MasterAlgoOrder, t_recv: int) -> None:
        order = event.order
        known = self.guards.get(order.algo_id)
        if event.action == "placed":
            if known is None and self._mirrors_protective():
                await self._place_guard(order, event.equity, "live", t_recv)
            return
        if known is None:
            return  # not mirrored (placed before protective = mirror, or off): its fills are copied as fills
        if event.action == "triggered":
            guard = known._replace(master=order)
            self.guards[order.algo_id] = guard
            if guard.intent is not None and order.actual_order_id:
                self._remember_triggered(order.actual_order_id, guard)
            return
        del self.guards[order.algo_id]
        if event.action == "finished":  # the master publishes it after the triggered order's last update
            guard = self.guard_fills.get(order.actual_order_id)  # settled at its FILLED fill, usually
            if guard is None and known.intent is not None and order.actual_order_id not in self.guard_fills:
                guard = known  # never told "triggered" (or forgotten): ours is canceled and settled
            if guard is not None and not guard.settled:  # done without a FILLED fill: settle now
                await self._settle_guard(guard, order.actual_order_id, t_recv)
            return
        if known.intent is not None:  # canceled / expired / rejected: ours goes too
            await self._cancel_guard(known)
            self._save_copies()

    def _remember_triggered(self: "MarketMirror", actual_order_id: int, guard: Guard) -> None:
        if len(self.guard_fills) >= _MAX_TRIGGERED:
            del self.guard_fills[next(iter(self.guard_fills))]
        self.guard_fills[actual_order_id] = guard

    def _copy_of_guard(self: "MarketMirror", order: ConditionalOrder, equity: Decimal, nonce: str) -> GuardIntent | Skip:
        if self.refused:
            return Skip("market_refused", self.refused)
        k = ratio_k(self.config, self.account.equity, equity)
        if self.config.sizing in FIXED:  # k from the order's own notional (a trailing stop: at the last price)
            adds = order_increase(
                order.side, order.position_side, order_qty=order.quantity, reduce_only=order.reduce_only or order.close_position,
                position_at_start=order.position_at_place,
            )  # fmt: skip
            price = order.price or order.trigger_price or order.activate_price or self.last_price.get(order.symbol, ZERO)
            k = order_k(self.config, self.account.equity, price, adds)
        if isinstance(k, CannotSize):
            return Skip("cannot_size", k.reason)
        gate = self._entry_k((order.symbol, order.position_side), k)  # the guards (guards.py)
        if isinstance(gate, CannotSize):  # only the part that reduces is copied
            reduces = order.close_position or reducing_part(
                order.quantity, order.side, order.position_side, order.reduce_only, order.position_at_place
            )
            if not reduces:
                self.guard_acted(gate.skip, f"{gate.reason}: the master's {order.symbol} {order.order_type} entry was not mirrored")
                return Skip(gate.skip, gate.reason)
            k = ZERO
        held = self.account.holding(order.symbol, order.position_side).position
        intent = guard_intent(
            order,
            market=self.market,
            slave_id=self.slave.slave_id,
            config=self._capped((order.symbol, order.position_side)),  # max total exposure (guards.py)
            k=k,
            filters=self.account.filters.get(order.symbol),
            held=held,
            nonce=nonce,
            last_price=self.last_price.get(order.symbol, ZERO),
        )
        if (self.config.paused or self.slave.paused_all) and isinstance(intent, GuardIntent) and not _only_reduces(intent):
            return Skip("paused", "paused: a stop that would open a position is not copied")
        return intent

    async def _place_guard(self: "MarketMirror", order: ConditionalOrder, equity: Decimal, nonce: str, t_recv: int) -> None:
        intent = self._copy_of_guard(order, equity, nonce)
        if isinstance(intent, Skip):
            log.info("master conditional order %d not mirrored: %s", order.algo_id, intent.text)
            self.guards[order.algo_id] = Guard(order, None, why=intent.text)
            return
        self.guards[order.algo_id] = Guard(order, intent)  # listed before it exists: a restart cancels it
        self._save_copies()
        t_sent = now_ns()
        try:
            try:
                done = await self.account.place_algo(intent)  # type: ignore[attr-defined]
            except Exception as exc:  # noqa: BLE001 - re-raised unless a trailing stop past its activation price
                if intent.activate_price is None or _code(exc) != _WOULD_TRIGGER:
                    raise
                # the price passed the master's activation price (the master's is active): ours
                # trails from now, as the master's does (the same id: the refused one does not exist)
                intent = msgspec.structs.replace(intent, activate_price=None)
                self.guards[order.algo_id] = Guard(order, intent)
                done = await self.account.place_algo(intent)  # type: ignore[attr-defined]
        except Exception as exc:  # noqa: BLE001 - ExecutionFailed or a refusal: not mirrored, reported
            error = getattr(exc, "error", exc)
            code, msg = getattr(error, "code", 0), getattr(error, "msg", str(exc))
            log.warning("copy of master conditional order %d refused: %s", order.algo_id, msg)
            self.guards[order.algo_id] = Guard(order, None, why=f"refused: {msg}"[:200])
            if getattr(exc, "unknown", False):  # it may exist: canceled at the next sync
                self.guard_leftovers.add((order.symbol, intent.client_algo_id))
            self._save_copies()
            if price_passed(int(code or 0), str(msg)):
                text = f"the price passed its trigger before the copy came ({msg}): its fills are copied as fills"
                self.guards[order.algo_id] = Guard(order, None, why=text[:200])
                self.slave.report(MirrorSkipped(**_report_keys(self, order, intent, t_recv), reason="exchange_rejected", text=text[:300]))
                return
            self.slave.report(
                OrderFailed(
                    **_report_keys(self, order, intent, t_recv),
                    error_code=int(code or 0),
                    error_msg=str(msg)[:200],
                    status_unknown=bool(getattr(exc, "unknown", False)),
                    t_order_sent_ns=t_sent,
                    t_failed_ns=now_ns(),
                )
            )
            self.slave.notify_error("stop_not_copied", f"{order.symbol} {order.order_type}: {msg}"[:200])
            return
        r = done.result
        qty = "close-all" if intent.close_position else intent.qty
        trigger = f"trigger {intent.trigger_price}" if intent.callback_rate is None else f"callback {intent.callback_rate}%"
        self.slave.report(
            OrderMirrored(
                **_report_keys(self, order, intent, t_recv),
                reduce_only=intent.reduce_only,
                exchange_order_id=int(r.get("algoId", 0) or 0),
                status=str(r.get("algoStatus", "")),
                executed_qty=Decimal(0),
                summary=f"{intent.order_type} {qty} {trigger} (copy of master algo order {order.algo_id})",
                t_order_sent_ns=t_sent,
                t_order_acked_ns=now_ns(),
            )
        )

    async def _cancel_guard(self: "MarketMirror", guard: Guard) -> str:
        """Cancel our stop; its status after ("": not established, kept for the next sync)."""
        assert guard.intent is not None
        cid = guard.intent.client_algo_id
        try:
            status = str(await self.account.cancel_algo(cid))  # type: ignore[attr-defined]
        except (BinanceAPIError, ValueError) as exc:  # msgspec's ValidationError is a ValueError
            log.warning("cancel of the copy of master conditional order %d failed: %s", guard.master.algo_id, exc)
            status = ""
        if status:
            self.guard_leftovers.discard((guard.master.symbol, cid))
        else:
            self.guard_leftovers.add((guard.master.symbol, cid))
        return status

    async def _settle_guard(self: "MarketMirror", guard: Guard, actual_order_id: int, t_recv: int, again: int = 0) -> None:
        """The master's triggered stop is done: make sure ours is done too (canceled if it did not
        trigger; its triggered order waited for, or canceled: a limit may rest), then bring the
        position to the target."""
        assert guard.intent is not None
        self.guard_fills[actual_order_id] = guard._replace(settled=True)
        if self.config.settle_after_ms:
            await asyncio.sleep(self.config.settle_after_ms / 1000)
        acct = self.account
        cid = guard.intent.client_algo_id
        status = await self._cancel_guard(guard)
        deadline = time.monotonic() + (0 if guard.intent.price is not None else _SETTLE_WAIT_S)
        while status not in _OWN_DONE and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            status = await acct.algo_state(cid)  # type: ignore[attr-defined]
        if status not in _OWN_DONE:  # triggered and still working (a resting limit): cancel that order
            status = await acct.cancel_triggered(guard.master.symbol, cid)  # type: ignore[attr-defined]
        self._save_copies()
        if status == "CANCELED":
            log.info("our copy of master stop %d had not triggered: settled with a market order", guard.master.algo_id)
        await acct.refresh()  # our own triggered order's fills are in REST's positions now
        price = self.last_price.get(guard.master.symbol) or guard.master.trigger_price or guard.master.activate_price
        await self._settle_to_target(guard.master.symbol, guard.master.position_side, actual_order_id, price, t_recv, again)

    def _fill_of_guard(self: "MarketMirror", fill: MasterFill) -> Guard | None:
        return self.guard_fills.get(fill.order_id) if self.guard_fills else None

    async def _fill_by_guard(self: "MarketMirror", guard: Guard, fill: MasterFill, t_recv: int) -> None:
        """A fill of the master's triggered stop (the target moved already): ours closes the same."""
        why = f"closed by the slave's own copy of master stop {guard.master.algo_id} (protective = mirror)"
        self._skip(fill, t_recv, "not_copied", why)
        if fill.status == "FILLED":
            if not self.guard_fills.get(fill.order_id, guard).settled:
                await self._settle_guard(guard, fill.order_id, t_recv)
            else:  # settled before this (late) fill: settle again to the moved target, other ids
                await self._settle_to_target(fill.symbol, fill.position_side, fill.order_id, fill.price, t_recv, again=fill.trade_id)
            # the entry stays (settled, bounded): the "finished" that follows must not settle again

    async def release_triggered(self: "MarketMirror") -> None:
        """A (re)sync, before its corrections: the snapshot holds every fill of the master's
        triggered stops, so the sync's corrections settle them (our own triggered or not: ours
        is canceled if it still rests)."""
        for actual, guard in list(self.guard_fills.items()):
            self.guard_fills[actual] = guard._replace(settled=True)
        for algo_id, guard in list(self.guards.items()):
            if guard.master.actual_order_id:
                del self.guards[algo_id]
                if guard.intent is not None:
                    await self._cancel_guard(guard)

    async def drop_guards(self: "MarketMirror", why: str, symbol: str | None = None) -> None:
        """Cancel our stops (all, or one symbol's): flattened, or protective mirroring turned off."""
        for algo_id, guard in list(self.guards.items()):
            if guard.intent is None or (symbol is not None and guard.master.symbol != symbol):
                continue
            self.guards[algo_id] = Guard(guard.master, None, why=why)
            await self._cancel_guard(guard)
        self._save_copies()

    async def _reconcile_guards(self: "MarketMirror", snap: PositionSnapshot) -> None:
        """A (re)sync, after its corrections: our stops against the snapshot's open conditional
        orders. A stop whose master order is still open and whose copy is still the same (size
        after the corrections, k) stays; one whose master order is gone is canceled; one that
        differs is canceled and placed again; a master order without a copy gets one. Triggered
        ones were released before the corrections; one of ours that triggered alone is replaced."""
        if not self._mirrors_protective():
            if any(g.intent is not None for g in self.guards.values()):
                await self.drop_guards("protective mirroring off")
            return
        open_now = {o.algo_id: o for o in snap.open_algo_orders}
        nonce = f"{snap.epoch}-{snap.seq}"
        for algo_id, guard in list(self.guards.items()):
            master = open_now.get(algo_id)
            if master is None:
                del self.guards[algo_id]
                if guard.intent is not None:
                    await self._cancel_guard(guard)
                continue
            again = self._copy_of_guard(master, snap.equity, nonce)
            own = getattr(self.account, "algo_status", {}).get(guard.intent.client_algo_id) if guard.intent else None
            same = isinstance(again, GuardIntent) and guard.intent is not None and own in (None, "NEW") and _same(again, guard.intent)
            if same or (guard.intent is None and isinstance(again, Skip)):
                self.guards[algo_id] = guard._replace(master=master)
                continue
            del self.guards[algo_id]
            if guard.intent is not None:
                await self._cancel_guard(guard)
        self._save_copies()
        for order in snap.open_algo_orders:
            if order.algo_id not in self.guards:
                await self._place_guard(order, snap.equity, nonce, now_ns())


def mirrored_orders(self: "MarketMirror") -> tuple[MirroredOrder, ...]:  # noqa: N805 - the mirror, as in its mixins
    """Our open copies beside the master's orders (the status report; at most 50)."""
    rows = [
        MirroredOrder(
            kind="stop" if c.master.stop_price else "limit",  # a spot / margin stop: its stop price
            symbol=c.master.symbol,
            position_side=c.master.position_side,
            side=c.master.side,
            order_type=c.master.order_type,
            master_id=c.master.order_id,
            price=c.intent.stop_price or c.intent.price or c.master.price,
            qty=c.intent.qty,
            master_qty=c.master.orig_qty - c.master.cum_qty,
        )
        for c in self.resting.values()
        if c.intent is not None
    ]
    rows += [
        MirroredOrder(
            kind="stop",
            symbol=g.master.symbol,
            position_side=g.master.position_side,
            side=g.master.side,
            order_type=g.master.order_type,
            master_id=g.master.algo_id,
            price=g.intent.trigger_price or g.intent.activate_price or ZERO,
            qty=g.intent.qty,
            master_qty=g.master.quantity,
            close_position=g.intent.close_position,
            triggered=bool(g.master.actual_order_id),
        )
        for g in self.guards.values()
        if g.intent is not None
    ]
    return tuple(sorted(rows, key=lambda r: (r.symbol, r.kind, r.master_id))[:50])


def _only_reduces(g: GuardIntent) -> bool:
    closing = (g.position_side == "LONG") == (g.side == "SELL")
    return g.close_position or g.reduce_only or (g.position_side != "BOTH" and closing)


def _same(a: GuardIntent, b: GuardIntent) -> bool:
    """The same stop on the exchange (client ids aside; a trailing stop placed without its
    activation price, the price having passed it, is the same as one with it)."""
    if a.activate_price is None or b.activate_price is None:
        a, b = msgspec.structs.replace(a, activate_price=None), msgspec.structs.replace(b, activate_price=None)
    return msgspec.structs.replace(a, client_algo_id="") == msgspec.structs.replace(b, client_algo_id="")


def _code(exc: BaseException) -> int:
    """The exchange's error code of a refusal (ExecutionFailed wraps it in `error`)."""
    error = getattr(exc, "error", exc)
    try:
        return int(getattr(error, "code", 0) or 0)
    except (TypeError, ValueError):
        return 0


def _report_keys(mirror: "MarketMirror", order: ConditionalOrder, intent: GuardIntent, t_recv: int) -> dict[str, object]:
    """The report keys of a stop's copy (master_order_id: the master's algo id; no trade)."""
    return {
        "slave_id": mirror.slave.slave_id,
        "market": mirror.market,
        "symbol": order.symbol,
        "position_side": intent.position_side,
        "side": intent.side,
        "master_order_id": order.algo_id,
        "master_trade_id": 0,
        "qty": intent.qty,
        "client_order_id": intent.client_algo_id,
        "t_slave_recv_ns": t_recv,
    }
