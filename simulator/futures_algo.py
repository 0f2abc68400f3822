"""The Algo Service's state and trigger loop over the USD-M engine (`AlgoBook`).

Every account's algo orders live here (not in the matching engine: the engine sees an order only
once its algo order triggers). After each price step (tick, admin ``set_price`` / ``step``) every
open algo order of a moved symbol, of every account, in placement order, is fed its reference price
(``workingType`` MARK_PRICE: the engine's mark; CONTRACT_PRICE: the last price; both are the one
price of the symbol in this simulator). On trigger, on the account's user-data stream:

1. ``ALGO_UPDATE`` X=TRIGGERING;
2. the actual order is placed into the engine: MARKET for *_MARKET and trailing, LIMIT at ``price``
   for STOP / TAKE_PROFIT; client order id = clientAlgoId; ``ot`` = the algo type. closePosition
   takes the whole position of that side at that moment, reduce-only never more than the position;
   with nothing to reduce, or if the engine refuses the order, ``ALGO_UPDATE`` X=REJECTED with ``rm``
   (and nothing more);
3. ``ALGO_UPDATE`` X=TRIGGERED with ``ai`` = the actual orderId (before that order's events);
4. the actual order's ``ORDER_TRADE_UPDATE`` NEW / TRADE (and ``ACCOUNT_UPDATE``) as for any order;
5. ``ALGO_UPDATE`` X=FINISHED with ``aq`` / ``ap`` once the actual order is final (filled, canceled
   or expired), at once for a MARKET order, later for a resting LIMIT one.

No margin check before triggering (change log 2025-11-06); a position closed meanwhile does not cancel
a reduce-only / closePosition algo order (it is REJECTED when it triggers with nothing to close).
"""

from __future__ import annotations

import itertools
import logging
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from simulator.futures_algo_json import algo_update
from simulator.futures_algo_model import (
    LIMIT_TYPES,
    TRAILING,
    AlgoOrder,
    AlgoRequest,
    condition_met,
    observe,
    trailing_would_trigger_at_once,
)
from simulator.futures_model import ZERO, FuturesAccount, FuturesReject, OrderRequest, decimals, sign
from simulator.util import now_ms

if TYPE_CHECKING:
    from simulator.futures_api import FuturesService

log = logging.getLogger("simulator.futures_algo")

MAX_OPEN_PER_SYMBOL = 10  # exchangeInfo MAX_NUM_ALGO_ORDERS of the USD-M symbols (futures_json.py)
KEEP_CLOSED = 1000  # final algo orders kept per account (queries of older ones answer -2013)
FINAL_ORDER_STATUSES = {"FILLED", "CANCELED", "EXPIRED"}
REDUCE_REJECT = "ReduceOnly Order is rejected."


class AlgoBook:
    """All accounts' algo orders; single-threaded like the engine."""

    def __init__(self, svc: "FuturesService") -> None:
        self.svc = svc
        self.engine = svc.engine
        self.sim = svc.sim
        self._ids = itertools.count(2_000_001).__next__
        self._auto_seq = 0
        self.orders: dict[str, dict[int, AlgoOrder]] = {}  # account id -> algo id -> order (all)
        self.open: dict[str, dict[int, AlgoOrder]] = {}  # symbol -> algo id -> open order
        self.by_actual: dict[int, AlgoOrder] = {}  # actual order id -> TRIGGERED algo order

    # -- prices ---------------------------------------------------------------------------------------
    def reference_price(self, algo: AlgoOrder) -> Decimal:
        if algo.working_type == "MARK_PRICE":
            return self.engine.mark(algo.symbol)
        return self.sim.prices.price(algo.symbol)  # CONTRACT_PRICE: the last price

    def on_prices(self, prices: dict[str, Decimal]) -> None:
        for symbol in prices:
            book = self.open.get(symbol)
            if not book:
                continue
            for algo in sorted(book.values(), key=lambda a: a.algo_id):
                try:
                    if algo.is_open and observe(algo, self.reference_price(algo)):
                        self._trigger(algo)
                except Exception:  # noqa: BLE001 - one bad algo order never stops the price step
                    log.exception("algo order %s failed to trigger", algo.algo_id)

    # -- placement ------------------------------------------------------------------------------------
    def place(self, fa: FuturesAccount, req: AlgoRequest) -> AlgoOrder:
        """Validate against the account and the symbol, store, emit ALGO_UPDATE NEW."""
        spec = self.engine.spec(req.symbol)
        position_side = self._position_side(fa, req)
        if req.quantity is not None:
            probe = OrderRequest(req.symbol, req.side, "LIMIT" if req.type in LIMIT_TYPES else "MARKET", req.quantity, req.price)
            self.engine._check_filters(spec, probe)
        for value in (req.trigger_price, req.activate_price):
            if value is not None:
                if decimals(value) > spec.price_precision:
                    raise FuturesReject(-1111, "Precision is over the maximum defined for this asset.")
                if (value - spec.min_price) % spec.tick_size != 0:
                    raise FuturesReject(-4014, "Price not increased by tick size.")
        mine = self.orders.setdefault(fa.account_id, {})
        open_mine = [a for a in mine.values() if a.is_open]
        if req.client_algo_id is not None and any(a.client_algo_id == req.client_algo_id for a in open_mine):
            raise FuturesReject(-4116, "ClientOrderId is duplicated.")
        if sum(a.symbol == req.symbol for a in open_mine) >= MAX_OPEN_PER_SYMBOL:
            raise FuturesReject(-4045, "Reach max stop order limit.")
        now = now_ms()
        algo = AlgoOrder(
            algo_id=self._ids(),
            account_id=fa.account_id,
            client_algo_id=req.client_algo_id or self._auto_client_id(),
            symbol=req.symbol,
            side=req.side,
            position_side=position_side,
            type=req.type,
            time_in_force=req.time_in_force,
            quantity=req.quantity if req.quantity is not None else ZERO,
            price=req.price if req.price is not None else ZERO,
            trigger_price=req.trigger_price if req.trigger_price is not None else ZERO,
            working_type=req.working_type,
            price_protect=req.price_protect,
            close_position=req.close_position,
            reduce_only=bool(req.reduce_only) or req.close_position,
            activate_price=req.activate_price,
            callback_rate=req.callback_rate,
            stp_mode=req.stp_mode,
            good_till_date=req.good_till_date,
            create_time=now,
            update_time=now,
        )
        price = self.reference_price(algo)
        if algo.type == TRAILING:
            if algo.activate_price is not None and trailing_would_trigger_at_once(algo.side, algo.activate_price, price):
                raise FuturesReject(-2021, "Order would immediately trigger.")
            observe(algo, price)  # the extreme starts at the latest price (never triggers: rate > 0)
        elif condition_met(algo.type, algo.side, algo.trigger_price, price):
            raise FuturesReject(-2021, "Order would immediately trigger.")
        mine[algo.algo_id] = algo
        self.open.setdefault(algo.symbol, {})[algo.algo_id] = algo
        self._prune(mine)
        self._emit(algo, now)
        return algo

    def _position_side(self, fa: FuturesAccount, req: AlgoRequest) -> str:
        if fa.dual_side:
            if req.reduce_only is not None:
                raise FuturesReject(-1106, "Parameter 'reduceOnly' sent when not required.")
            if req.position_side not in ("LONG", "SHORT"):
                raise FuturesReject(-4061, "Order's position side does not match user's setting.")
            if req.close_position and (req.side == "BUY") == (req.position_side == "LONG"):
                raise FuturesReject(-1106, "Parameter 'closePosition' sent when not required.")
            return req.position_side
        if req.position_side not in (None, "BOTH"):
            raise FuturesReject(-4061, "Order's position side does not match user's setting.")
        return "BOTH"

    def _auto_client_id(self) -> str:
        self._auto_seq += 1
        return f"simalgo{self._auto_seq:015d}"

    def _prune(self, mine: dict[int, AlgoOrder]) -> None:
        closed = [a.algo_id for a in mine.values() if not a.is_open and a.status != "TRIGGERED"]
        for algo_id in closed[: max(0, len(closed) - KEEP_CLOSED)]:
            del mine[algo_id]

    # -- look-ups and cancels -------------------------------------------------------------------------
    def find(self, account_id: str, algo_id: int | None, client_id: str | None) -> AlgoOrder:
        mine = self.orders.get(account_id, {})
        algo: AlgoOrder | None = None
        if algo_id is not None:
            algo = mine.get(algo_id)
        elif client_id is not None:
            matches = [a for a in mine.values() if a.client_algo_id == client_id]
            algo = max(matches, key=lambda a: a.algo_id) if matches else None
        else:
            raise FuturesReject(-1102, "Param 'algoId' or 'clientAlgoId' must be sent, but both were empty/null!")
        if algo is None:
            raise FuturesReject(-2013, "Order does not exist.")
        return algo

    def of_account(self, account_id: str) -> list[AlgoOrder]:
        return sorted(self.orders.get(account_id, {}).values(), key=lambda a: a.algo_id)

    def cancel(self, account_id: str, algo_id: int | None, client_id: str | None) -> AlgoOrder:
        try:
            algo = self.find(account_id, algo_id, client_id)
        except FuturesReject as exc:
            if exc.code == -2013:
                raise FuturesReject(-2011, "Unknown order sent.") from None
            raise
        if not algo.is_open:
            raise FuturesReject(-2011, "Unknown order sent.")
        self._close(algo, "CANCELED")
        return algo

    def cancel_all(self, account_id: str, symbol: str) -> int:
        self.engine.spec(symbol)
        mine = [a for a in self.of_account(account_id) if a.is_open and a.symbol == symbol]
        for algo in mine:
            self._close(algo, "CANCELED")
        return len(mine)

    def _close(self, algo: AlgoOrder, status: str, reason: str = "") -> None:
        now = now_ms()
        algo.status = status
        algo.reject_reason = reason
        algo.update_time = now
        self.open.get(algo.symbol, {}).pop(algo.algo_id, None)
        self._emit(algo, now)

    def _emit(self, algo: AlgoOrder, now: int) -> None:
        self.svc.publish(algo.account_id, [algo_update(self.engine.spec(algo.symbol), algo, now)])

    # -- triggering -----------------------------------------------------------------------------------
    def _trigger(self, algo: AlgoOrder) -> None:
        now = now_ms()
        algo.trigger_time = now
        self._close(algo, "TRIGGERING")
        fa = self.engine.account(algo.account_id)
        qty = algo.quantity
        closing = algo.reduce_only or (fa.dual_side and (algo.position_side == "LONG") == (algo.side == "SELL"))
        if closing:
            pos = fa.positions.get((algo.symbol, algo.position_side))
            amt = pos.amt if pos is not None else ZERO
            if amt == 0 or sign(amt) == (1 if algo.side == "BUY" else -1):
                self._close(algo, "REJECTED", REDUCE_REJECT)
                return
            qty = abs(amt) if algo.close_position else min(qty, abs(amt))
        limit = algo.type in LIMIT_TYPES
        req = OrderRequest(
            symbol=algo.symbol,
            side=algo.side,
            type="LIMIT" if limit else "MARKET",
            quantity=qty,
            price=algo.price if limit else None,
            time_in_force=algo.time_in_force if limit else "GTC",
            position_side=algo.position_side,
            reduce_only=(closing or None) if not fa.dual_side else None,
            new_client_order_id=algo.client_algo_id,
            stp_mode=algo.stp_mode,
            good_till_date=algo.good_till_date,
        )
        try:
            order, _ = self.engine.place_order(algo.account_id, req, now)
        except FuturesReject as exc:
            self._close(algo, "REJECTED", exc.msg)
            return
        order.orig_type = algo.type
        order.working_type = algo.working_type
        algo.actual_order_id = order.order_id
        algo.actual_type = order.type
        self.by_actual[order.order_id] = algo
        self.svc.arrivals[order.order_id] = (self.sim.monotonic_ns(), "algo")
        self._close(algo, "TRIGGERED")
        self.svc.publish(algo.account_id, [self.engine._order_event(fa, order, "NEW", now)])
        self.svc.execute(algo.account_id, order, req)  # its fills reach watch(), which finishes the algo

    def watch(self, account_id: str, events: list[dict[str, Any]]) -> None:
        """A `FuturesService.publish` hook: follow the actual orders of triggered algo orders."""
        done: list[AlgoOrder] = []
        for event in events:
            if event.get("e") != "ORDER_TRADE_UPDATE":
                continue
            algo = self.by_actual.get(event["o"]["i"])
            if algo is None:
                continue
            order = self.engine.account(account_id).orders[algo.actual_order_id or 0]
            algo.actual_qty, algo.actual_price = order.executed_qty, order.avg_price
            if order.status in FINAL_ORDER_STATUSES:
                done.append(algo)
        for algo in done:
            if self.by_actual.pop(algo.actual_order_id or 0, None) is not None:
                self._close(algo, "FINISHED")
