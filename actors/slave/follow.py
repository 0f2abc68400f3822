"""What a market mirror follows besides fills: the slave's forced closes (liquidation, ADL),
changed exchange filters, the master's leverage and margin type, and flatten commands (a mixin
of `MarketMirror`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from decimal import Decimal

from protocol.messages import AccountConfigChanged, FlattenCommand, SlaveError

from ..binance.errors import BinanceAPIError, NotSent, RateLimited, StatusUnknown
from ..domain.decisions import reconcile_target
from ..domain.target import slave_key
from .accounts.usdm import ForcedFill
from .rules import ZERO, log, msgspec_replace, now_ns


class Follow:
    """Forced closes, filters, account settings and flatten (a mixin of `MarketMirror`)."""

    def on_forced(self, fill: ForcedFill) -> None:
        """The exchange liquidated (or ADL-closed) part of our position. Re-entering it is a
        person's decision, not the copier's: no correction re-opens that position while the
        master's stays open (later master fills are copied by the rules, from what is left: a
        decrease sells the same fraction of it, the close closes it). Journalled and notified."""
        key = (fill.symbol, fill.position_side)
        before = abs(fill.position) + fill.qty
        if before:
            self.book.scale(key, abs(fill.position) / before)  # the one target follows the cut
        if self.master_positions.get(slave_key(fill.symbol, fill.position_side, self.reverse)):
            self.forced.add(key)  # (the master flat there: nothing a correction would restore)
            self.slave.forced_changed()  # kept across restarts
        self.own_fresh = False  # the exchange moved our account: read REST before the next correction
        text = (
            f"{fill.symbol} {fill.position_side}: {fill.kind} executed {fill.qty} ({fill.client_order_id});"
            f" position now {fill.position}. Not restored while the master's stays open; later fills are"
            " copied from what is left"
        )
        log.warning("%s", text)
        code = {"adl": "adl", "settlement": "settled"}.get(fill.kind, "liquidated")
        self.slave.report(SlaveError(slave_id=self.slave.slave_id, code=code, message=text[:300], market=self.market, t_ns=now_ns()))

    def _filters_changed(self) -> None:
        """An order failed a filter: Binance may have changed the symbol's step, tick or min
        notional. Reload exchangeInfo, then resync: the difference is ordered with the new filters."""
        if self.filters_refreshing:
            return
        self.filters_refreshing = True

        async def refresh() -> None:
            try:
                await self.account.refresh_filters()
            except BinanceAPIError as exc:
                log.warning("reloading exchange filters failed: %s", exc)
            finally:
                self.filters_refreshing = False
            self.request_resync("filters")

        asyncio.get_running_loop().create_task(refresh())

    async def _align(self, symbol: str, leverage: int | None, margin_type: str | None) -> None:
        try:
            problems = await self.account.align_symbol(symbol, leverage, margin_type, self.config)
        except (RateLimited, StatusUnknown, NotSent) as exc:  # transient: try again at the next opening
            log.warning("alignment of %s deferred: %s", symbol, exc)
            return
        except BinanceAPIError as exc:
            problems = [f"{symbol}: {exc.msg} ({exc.code})"]
        self.aligned.add(symbol)
        for p in problems:
            log.warning("alignment: %s", p)
            self.slave.report(SlaveError(slave_id=self.slave.slave_id, code="align", message=p, market=self.market, t_ns=now_ns()))

    async def _follow_config(self, ev: AccountConfigChanged) -> None:
        if self.slave.fatal:  # the key was refused: no exchange call until a person fixes it
            return
        try:
            if ev.position_mode is not None and ev.position_mode != self.master_mode:
                self.master_mode = ev.position_mode
                self.refused = await self.account.align_position_mode(ev.position_mode)
                if self.refused:
                    self.slave.report(
                        SlaveError(
                            slave_id=self.slave.slave_id, code="market_refused", message=self.refused, market=self.market, t_ns=now_ns()
                        )
                    )
            if ev.symbol is not None and (ev.leverage is not None or ev.margin_type is not None):
                await self._align(ev.symbol, ev.leverage, ev.margin_type)
        except BinanceAPIError as exc:
            log.warning("following master config change failed: %s", exc)

    async def flatten(self, cmd: FlattenCommand, *, forget: bool = False) -> None:
        """Close this slave's positions (all, or one symbol) with reduce-only orders: every one it
        holds, whatever the symbol filters (they choose what is copied, not what may be closed).
        `forget` (the equity stop's flatten): the intended positions become none too, so no check
        opens them again; once the stop is lifted, what the master does next is copied."""
        async with self._held():
            if forget:
                self.book.commit({}, self.book.master)
            if self.resting:  # a copy of a master's resting order would open it again
                await self.drop_copies(f"flattened (request {cmd.request_id})", cmd.symbol)
            if self.guards:  # nothing left to protect (and a stop entry would open it again)
                await self.drop_guards(f"flattened (request {cmd.request_id})", cmd.symbol)
            await self.account.refresh()
            positions = {k: v for k, v in self.account.snapshot_positions().items() if cmd.symbol is None or k[0] == cmd.symbol}
            unfiltered = msgspec_replace(self.config, symbols_allow=(), symbols_deny=())
            intents = reconcile_target(
                (),
                positions,
                Decimal(1),
                self.account.filters,
                market=self.market,
                slave_id=self.slave.slave_id,
                config=unfiltered,
                nonce=f"flatten-{cmd.request_id}",
                buy_commission=getattr(self.account, "buy_commission", ZERO),
            )
            for intent in intents:
                await self._send(intent, None, now_ns())

    async def _clean_start(self) -> None:
        """on_start = flatten, at the slave's first start on this market (no target saved yet):
        cancel every open order of the account and close every position it holds, then copy only
        what the master does next (new_only; sync.py then saves the target and a marker, so that a
        restart does not do it again). Positions still open after it (a close refused): a
        SlaveError, and the start fails and is tried again."""
        canceled = await self.account.cancel_every_order()
        await self.flatten(FlattenCommand(request_id="clean-start", slave_id=self.slave.slave_id), forget=True)
        await self.account.refresh()  # what the exchange says is left, not what our orders meant
        left = {k: v for k, v in self.account.snapshot_positions().items() if v}
        if left:
            message = f"clean start (on_start = flatten) left positions open: {sorted(left)}; tried again"
            self.slave.report(
                SlaveError(slave_id=self.slave.slave_id, code="clean_start", message=message[:300], market=self.market, t_ns=now_ns())
            )
            raise RuntimeError(message)
        log.info("clean start (on_start = flatten): %d open orders canceled, positions closed", canceled)

    @contextlib.asynccontextmanager
    async def _held(self) -> AsyncIterator[None]:
        """Workers finish what they are doing and take nothing new until the block ends; fills
        keep arriving in their queues and are processed, in order, afterwards."""
        self.hold = True
        try:
            await self.idle.wait()
            yield
        except BinanceAPIError as exc:
            log.warning("%s check failed: %s", self.market, exc)
        finally:
            self.hold = False
            self._wake_all()
