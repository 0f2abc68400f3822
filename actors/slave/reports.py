"""What a market mirror reports to the control actor: one decision per master fill (mirrored,
skipped, failed) with its timings, and its status (a mixin of `MarketMirror`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from protocol.messages import Copyability, MarketStatus, MasterFill, MirrorSkipped, OrderFailed, SkipReason

from ..domain.copyability import copyability
from ..domain.decisions import OrderIntent
from ..domain.sizing import CannotSize, capped_leverage, ratio_k
from .guards import GUARD_SKIPS
from .protective import mirrored_orders
from .rules import ZERO, log, now_ns


class Reports:
    """Reports of the mirror (a mixin of `MarketMirror`: its state is the mirror's)."""

    def _keys(self, fill: MasterFill | None, t_recv: int, intent: OrderIntent | None) -> dict[str, Any]:
        base: dict[str, Any] = {"slave_id": self.slave.slave_id, "market": self.market}
        if fill is not None:
            base.update(
                symbol=fill.symbol,
                master_order_id=fill.order_id,
                master_trade_id=fill.trade_id,
                master_epoch=fill.epoch,
                master_seq=fill.seq,
                master_price=fill.price,
                master_time_ms=fill.trade_time_ms or fill.t_exchange_ms,
                t_master_recv_ns=fill.t_master_recv_ns,
                t_master_pub_ns=fill.t_master_pub_ns,
                t_slave_recv_ns=t_recv,
                position_side=fill.position_side,
                side=fill.side,
                qty=ZERO,
            )
        else:
            base.update(master_order_id=0, master_trade_id=0, t_slave_recv_ns=t_recv)
        if intent is not None:
            base.update(
                symbol=intent.symbol,
                position_side=intent.position_side,
                side=intent.side,
                qty=intent.qty,
                client_order_id=intent.client_order_id,
                leg=intent.leg,
            )
        return base

    def _skip(self, fill: MasterFill, t_recv: int, reason: SkipReason, text: str, leg: int = 0) -> None:
        keys = self._keys(fill, t_recv, None)
        keys["leg"] = leg
        self.slave.report(MirrorSkipped(**keys, reason=reason, text=text))
        if reason in GUARD_SKIPS:  # a guard acted (guards.py)
            self.guard_acted(reason, f"{text}: the master's {fill.symbol} entry was not copied (its exits are)")  # type: ignore[attr-defined]

    async def _reread_balances(self, intent: OrderIntent) -> None:
        """A sell refused for balance: what we hold is less than our ledger says. Read it again
        from REST, so that the next fill and the next check work from what is really held."""
        log.warning("%s %s: sold more than held by our books; balances read again", self.market, intent.symbol)
        try:
            await self.account.refresh()
        except Exception as exc:  # noqa: BLE001 - the next resync or check reads it again
            log.warning("balances not read again: %s", exc)

    def _failed(
        self, fill: MasterFill | None, t_recv: int, intent: OrderIntent | None, code: int, msg: str, *, unknown: bool, t_sent: int = 0
    ) -> OrderFailed:
        return OrderFailed(
            **self._keys(fill, t_recv, intent),
            error_code=code,
            error_msg=msg[:300],
            status_unknown=unknown,
            t_order_sent_ns=t_sent,
            t_failed_ns=now_ns(),
        )

    # -- status -----------------------------------------------------------------------------------
    def status(self) -> MarketStatus:
        k = ratio_k(self.config, self.account.equity, self.master_equity)
        return MarketStatus(
            market=self.market,
            connected=self.account.ws.connected and self.stream_state in ("connected", "reconnected"),
            equity=self.account.equity,
            k=None if isinstance(k, CannotSize) else k,
            refused=self.refused or "",
            positions=self.drifts(),
            mirrored=mirrored_orders(self) if (self.resting or self.guards) else (),  # type: ignore[arg-type]
            copyable=self._copyable(k),
        )

    def _copyable(self, k: Decimal | CannotSize) -> tuple[Copyability, ...]:
        """The pre-trade check (actors/domain/copyability.py) of the symbols the master holds or
        traded since this slave started (at most 20, by symbol)."""
        snap = self.last_snapshot
        entries = {e.symbol: e for e in snap.positions} if snap is not None else {}
        symbols = sorted(set(self.last_price) | {s for s, _ in self.master_positions} | set(entries))[:20]
        side = "LONG" if self.master_mode == "hedge" else "BOTH"
        out = []
        for symbol in symbols:
            entry = entries.get(symbol)
            master_leverage = entry.leverage if entry is not None else None
            out.append(
                copyability(
                    symbol,
                    config=self.config,
                    k=k,
                    filters=self.account.filters.get(symbol),
                    price=self.last_price.get(symbol) or (entry.entry_price if entry is not None and entry.entry_price > 0 else None),
                    blocked=self._entry_block((symbol, side)),  # type: ignore[attr-defined]
                    leverage=capped_leverage(master_leverage, self.config) if master_leverage else None,
                    slave_equity=self.account.equity,
                    free_margin=getattr(self.account, "available", None),
                )
            )
        return tuple(out)
