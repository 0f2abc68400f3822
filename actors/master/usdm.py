"""master-usdm's exchange side: USD-M futures user data (listenKey stream) and REST.

REST used (usdm/endpoints/private/*): GET /fapi/v1/positionSide/dual (weight 30), GET
/fapi/v2/positionRisk (weight 5: every symbol with `leverage`, `marginType`, `updateTime`; v3 lacks
leverage and margin type), GET /fapi/v2/account (weight 5: `totalMarginBalance`), and at each
(re)build GET /fapi/v1/openOrders (weight 40: the resting orders, resting.py) and GET
/fapi/v1/openAlgoOrders (the conditional orders, conditional.py). A poll every
`poll_s` (default 10 s) costs 5 weight (positionRisk; +5 for the account every snapshot interval;
+30 for the mode only when positionRisk lists nothing), about 30 a minute of the 2,400 per IP.

Position mode has no user data event; margin type changes have ACCOUNT_UPDATE
m=MARGIN_TYPE_CHANGE only on Binance (the simulator sends none), so both are also polled. A fill
whose `ps` contradicts our position mode reveals a mode change at once: AccountConfigChanged is
published before that fill.
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple

from protocol.messages import PositionKey

from ..binance import usdm_api
from ..binance.endpoints import Endpoints as ExchangeEndpoints
from ..binance.rest import RestClient
from ..binance.signing import Signer
from ..binance.userdata import FuturesUserStream
from ..binance.wire import (
    BinanceAlgoOrder,
    BinanceAlgoUpdate,
    BinanceFuturesAccount,
    BinanceFuturesAccountConfigUpdate,
    BinanceFuturesAccountUpdate,
    BinanceFuturesOrder,
    BinanceFuturesOrderTradeUpdate,
    BinanceFuturesPositionRisk,
)
from ..limits import LIMITS
from .conditional import ConditionalBook
from .outputs import AlgoOrder, Config, Duplicate, Fill, Lookup, Order, Outputs, Resync, Snapshot
from .resting import RestingBook, futures_open_order, futures_update
from .usdm_state import Drift, FuturesState


class UsdmRest(NamedTuple):
    dual: bool
    risks: list[BinanceFuturesPositionRisk]
    account: BinanceFuturesAccount
    open_orders: list[BinanceFuturesOrder] = []
    open_algo_orders: list[BinanceAlgoOrder] = []


class UsdmPoll(NamedTuple):
    """One poll's replies (`account` only on a full poll); `sent`: monotonic s, before the requests."""

    sent: float
    dual: bool
    risks: list[BinanceFuturesPositionRisk]
    account: BinanceFuturesAccount | None


class UsdmAdapter:
    market = "usdm"

    def __init__(self, endpoints: ExchangeEndpoints, signer: Signer, *, recv_window: int = 5000, state: FuturesState | None = None) -> None:
        self.endpoints = endpoints
        self.rest = RestClient(endpoints.futures_rest, signer, recv_window=recv_window)
        self.state = state or FuturesState(LIMITS.master_dedupe)
        self.resting = RestingBook()
        self.conditional = ConditionalBook()
        self.stream: FuturesUserStream | None = None
        self._suspects: dict[PositionKey, Drift] = {}
        self.corrections = 0
        # When an event last told us a symbol's config ("" = the position mode), monotonic seconds:
        # a poll whose requests went out before that must not overwrite it with older REST data.
        self._config_seen: dict[str, float] = {}

    @property
    def ready(self) -> bool:
        return self.state.ready

    def last_event_ms(self) -> int:
        return self.state.last_event_ms

    async def start_stream(self, on_event: Any, on_state: Any) -> None:
        try:
            await usdm_api.sync_time(self.rest)
        except Exception:  # the clock offset is a nicety; signed calls resync on -1021 anyway
            pass
        self.stream = FuturesUserStream(self.rest, self.endpoints.futures_stream, on_event, on_state)
        await self.stream.start()

    async def close(self) -> None:
        if self.stream is not None:
            await self.stream.stop()
        await self.rest.close()

    # -- REST ------------------------------------------------------------------------------------
    async def _mode(self) -> bool:
        return await usdm_api.dual_side_position(self.rest)

    async def _risks(self) -> list[BinanceFuturesPositionRisk]:
        return await usdm_api.position_risk(self.rest)

    async def _risks_and_mode(self) -> tuple[list[BinanceFuturesPositionRisk], bool]:
        """usdm_api.positions_and_mode through this adapter's readers (a test replaces them)."""
        risks = await self._risks()
        dual = usdm_api.mode_of(risks)
        return risks, await self._mode() if dual is None else dual

    async def _account(self) -> BinanceFuturesAccount:
        return await usdm_api.account(self.rest)

    async def fetch(self) -> UsdmRest:
        risks, dual = await self._risks_and_mode()
        return UsdmRest(dual, risks, await self._account(), await self._open_orders(), await self._open_algo_orders())

    async def _open_orders(self) -> list[BinanceFuturesOrder]:
        return await usdm_api.open_orders(self.rest)

    async def _open_algo_orders(self) -> list[BinanceAlgoOrder]:
        return await usdm_api.open_algo_orders(self.rest)

    def rebuild(self, fetched: UsdmRest) -> None:
        self.state.rebuild(fetched.dual, fetched.risks, fetched.account)
        self.resting.rebuild(map(futures_open_order, fetched.open_orders), self.state.position)
        self.conditional.rebuild(fetched.open_algo_orders, self.state.position)
        self._suspects.clear()

    async def poll(self, full: bool) -> UsdmPoll:
        """The REST reads of a poll; nothing changes until the shell hands them to `apply`."""
        sent = time.monotonic()
        risks, dual = await self._risks_and_mode()
        account = await self._account() if full else None
        return UsdmPoll(sent, dual, risks, account)

    async def recheck(self) -> None:
        return None  # USD-M's events carry everything a fill changes: no recheck is ever asked

    def apply(self, reading: UsdmPoll | None) -> Outputs:
        """Take a poll's replies (the shell calls this only if no rebuild happened meanwhile)."""
        if reading is None:
            return []
        out: Outputs = []
        state, seen, sent = self.state, self._config_seen, reading.sent
        if seen.get("", 0.0) < sent and state.set_position_mode(reading.dual):
            out.append(Config({"position_mode": state.position_mode}))
        levs, mts = state.apply_config([r for r in reading.risks if seen.get(r.symbol, 0.0) < sent])
        out.extend(Config({"symbol": symbol, "leverage": leverage}) for symbol, leverage in levs)
        out.extend(Config({"symbol": symbol, "margin_type": margin_type}) for symbol, margin_type in mts)
        corrected = self._confirm_drift(state.drift(reading.risks))
        if reading.account is not None:
            state.refresh_equity(reading.account)
        if corrected or reading.account is not None:
            out.append(Snapshot("periodic"))
        return out

    def _confirm_drift(self, drifts: list[Drift]) -> bool:
        """Correct a position only when two polls in a row saw the same disagreement (same REST
        amount and update time, our amount unchanged): a single look may just race a fill."""
        corrected = False
        suspects: dict[PositionKey, Drift] = {}
        for d in drifts:
            if self._suspects.get(d.key) == d:
                self.state.correct(d)
                self.corrections += 1
                corrected = True
            else:
                suspects[d.key] = d
        self._suspects = suspects
        return corrected

    # -- events ----------------------------------------------------------------------------------
    def handle(self, event: Any, t_recv_ns: int) -> Outputs:
        state = self.state
        if isinstance(event, BinanceFuturesOrderTradeUpdate):
            state.last_event_ms = max(state.last_event_ms, event.E)
            o = event.o
            out: Outputs = []
            linked = self.conditional.link_fill(o)  # a triggered stop's order seen before its ALGO_UPDATE
            if linked is not None:
                out.append(self._algo_output(linked, event.E, t_recv_ns))
            triggered = self.conditional.is_triggered_order(o)
            if o.x not in ("TRADE", "CALCULATED") or o.l <= 0:
                change = None if triggered else self.resting.on_event(futures_update(o), state.position)
                if change is None:
                    done = self.conditional.order_done(o) if triggered else None  # canceled in the engine
                    return out if done is None else [*out, self._algo_output(done, event.E, t_recv_ns)]
                action, order = change
                position = state.position(o.s, o.ps)
                fields = {"position": position, "equity": state.equity(), "t_exchange_ms": event.E, "t_master_recv_ns": t_recv_ns}
                return [*out, Order(action, order, fields)]
            res = state.apply_trade(o)
            if res is None:
                return [*out, Duplicate()]
            if not triggered:
                self.resting.on_event(futures_update(o), state.position)  # its filled quantity; FILLED ends it
            if res.mode_changed is not None:
                self._config_seen[""] = time.monotonic()
                out.append(Config({"position_mode": res.mode_changed, "t_exchange_ms": event.E, "t_master_recv_ns": t_recv_ns}))
            if o.x == "CALCULATED":  # liquidation / ADL: a state change, not a copyable trade
                out.append(Snapshot("periodic"))
                return out
            out.append(
                Fill(
                    {
                        "symbol": o.s,
                        "position_side": res.position_side,
                        "side": o.S,
                        "order_id": o.i,
                        "trade_id": o.t,
                        "client_order_id": o.c,
                        "order_type": o.o,
                        "price": o.L,
                        "qty": o.l,
                        "cum_qty": o.z,
                        "status": o.X,
                        "order_qty": o.q,
                        "reduce_only": o.R,
                        "position_before": res.before,
                        "position_after": res.after,
                        "equity": state.equity(),
                        "leverage": res.leverage,
                        "margin_type": res.margin_type,
                        "trade_time_ms": o.T,
                        "t_exchange_ms": event.E,
                        "t_master_recv_ns": t_recv_ns,
                    }
                )
            )
            if triggered:  # the last fill of a triggered stop's order: a held "finished" follows it
                done = self.conditional.order_done(o)
                if done is not None:
                    out.append(self._algo_output(done, event.E, t_recv_ns))
            if res.clamped:
                out.append(Resync())  # our LONG/SHORT size was wrong: take REST's
            return out
        if isinstance(event, BinanceAlgoUpdate):
            state.last_event_ms = max(state.last_event_ms, event.E)
            if self.conditional.hold_trailing(event.o, state.position, event.E):
                return [Lookup(event.o.aid, t_recv_ns)]
            change = self.conditional.on_event(event.o, state.position, event.E)
            return [] if change is None else [self._algo_output(change, event.E, t_recv_ns)]
        if isinstance(event, BinanceFuturesAccountUpdate):
            state.last_event_ms = max(state.last_event_ms, event.E)
            outcome = state.apply_account_update(event)
            out = []
            for symbol, margin_type in outcome.margin_types:
                self._config_seen[symbol] = time.monotonic()
                out.append(Config({"symbol": symbol, "margin_type": margin_type, "t_exchange_ms": event.E, "t_master_recv_ns": t_recv_ns}))
            if outcome.corrected:
                out.append(Snapshot("periodic"))
            return out
        if isinstance(event, BinanceFuturesAccountConfigUpdate):
            state.last_event_ms = max(state.last_event_ms, event.E)
            ac = event.ac
            if ac is not None and 1 <= ac.l <= 125 and state.apply_leverage(ac.s, ac.l):
                self._config_seen[ac.s] = time.monotonic()
                return [Config({"symbol": ac.s, "leverage": ac.l, "t_exchange_ms": event.E, "t_master_recv_ns": t_recv_ns})]
        return []

    async def lookup(self, key: int) -> BinanceAlgoOrder:
        return await usdm_api.algo_order_by_id(self.rest, key)

    def looked_up(self, key: int, reading: BinanceAlgoOrder | None, t_recv_ns: int) -> Outputs:
        """A held trailing stop's record (None: not read): published as placed if still open."""
        change = self.conditional.detailed(reading, key)
        return [] if change is None else [self._algo_output(change, change[1].update_ms, t_recv_ns)]

    def _algo_output(self, change: tuple[Any, Any], event_ms: int, t_recv_ns: int) -> AlgoOrder:
        action, order = change
        position = self.state.position(order.symbol, order.position_side)
        fields = {"position": position, "equity": self.state.equity(), "t_exchange_ms": event_ms, "t_master_recv_ns": t_recv_ns}
        return AlgoOrder(action, order, fields)

    def snapshot_fields(self) -> dict[str, Any]:
        state = self.state
        return {
            "equity": state.equity(),
            "positions": state.entries(),
            "position_mode": state.position_mode,
            "open_orders": self.resting.entries(),
            "open_algo_orders": self.conditional.entries(),
        }
