"""A running slave's markets: built at start, added and removed live when its configuration's
`markets` change, each with its own equity refresh; and a lowered leverage cap applied at once.

- Adding a market builds its account and mirror, subscribes to that market's master listener and
  starts it as at process start (REST state, WebSocket API, own user data, then the first sync:
  `on_start` applies, as for a slave that just started). A start that fails is retried with a
  back-off for as long as the market stays configured.
- Removing a market stops copying it: no new fill is taken, orders in flight finish, its sockets
  and account are closed. Its positions stay as they are (a person flattens them if wanted);
  fills still queued are journalled as skipped, never dropped silently.
- Equity: each market's account follows its own account updates; REST is read per market every
  EQUITY_REFRESH_S, or EQUITY_STALE_S after the account marked it stale (a change it cannot value,
  or its user-data stream dropped).
- `max_leverage` edited: every USD-M symbol is aligned again at its next opening; a lowered cap is
  also applied at once to the symbols the slave or the master holds (Binance refuses it where the
  margin would not suffice: said once, tried again at the next opening).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from protocol.messages import MasterFill, SlaveConfig, SlaveError

from ..binance.errors import AuthError, BinanceAPIError
from ..domain.sizing import capped_leverage

if TYPE_CHECKING:
    from .mirror import MarketMirror
    from .process import Slave

log = logging.getLogger("copytrader.slave")

EQUITY_REFRESH_S = 300.0
EQUITY_STALE_S = 30.0
START_RETRY_MAX_S = 10.0
STOP_WAIT_S = 30.0  # orders in flight on a removed market get this long to finish
RESYNC_WAIT_S = 10.0  # ... and a resync running there (its corrections) this long


def build_mirror(slave: "Slave", market: str, account_type: Any) -> "MarketMirror":
    """The account and mirror of one market (nothing started, nothing subscribed)."""
    from .mirror import MarketMirror

    ref: list[MarketMirror] = []
    account = make_account(slave, account_type, ref)
    mirror = MarketMirror(slave, account)
    ref.append(mirror)
    _hook(account, mirror)
    mirror.forced = set(slave.forced_saved.get(market, ()))  # liquidated before a restart: still not bought back
    return mirror


def make_account(slave: "Slave", account_type: Any, ref: list["MarketMirror"]) -> Any:
    """A new account whose stream state moves the mirror in `ref` (filled in by the caller)."""

    def on_state(state: str) -> None:
        if ref:
            mirror = ref[0]
            mirror.stream_state = state
            if state != "connected":
                mirror.own_fresh = False  # events may have been missed: REST on the next sync
            if state == "disconnected":  # account updates missed while it stays down: REST within 30 s
                mirror.account.equity_stale = True
            if state == "reconnected":
                mirror.request_resync("own_reconnect")

    return account_type(
        slave.slave_id, slave.exchange_endpoints, slave.signer_factory(), on_state=on_state, recv_window=slave.app.exchange.recv_window
    )


def _hook(account: Any, mirror: "MarketMirror") -> None:
    from .accounts.usdm import UsdmAccount

    if isinstance(account, UsdmAccount):
        account.on_forced = mirror.on_forced  # its own liquidation / ADL


async def sync_markets(slave: "Slave") -> None:
    """Bring the running markets to the configuration's (one change at a time)."""
    async with slave.markets_lock:
        wanted = [m for m in slave.config.markets]
        for market in [m for m in slave.mirrors if m not in wanted]:
            await stop_market(slave, market)
        for market in wanted:
            if market not in slave.mirrors:
                await add_market(slave, market)


async def add_market(slave: "Slave", market: str) -> None:
    """Build, subscribe and (in the background) start a market added to the configuration."""
    from .process import _account_type
    from .rules import now_ns

    account_type = _account_type(market)
    if account_type is None:
        slave.report(
            SlaveError(
                slave_id=slave.slave_id,
                code="market_unsupported",
                market=market,  # type: ignore[arg-type]
                message=f"market {market} is not copied by this version",
                t_ns=now_ns(),
            )
        )
        return
    mirror = build_mirror(slave, market, account_type)
    slave.mirrors[market] = mirror
    slave._subscribe_master(market, mirror)
    log.info("market %s added: starting it", market)
    slave.spawn(_start(slave, market, mirror, account_type))


async def _start(slave: "Slave", market: str, mirror: "MarketMirror", account_type: Any) -> None:
    """Start an added market's account, then its first sync; retried while it stays configured."""
    from .rules import now_ns

    delay, told = 0.5, False
    while slave.mirrors.get(market) is mirror:
        try:
            await mirror.account.start()
        except AuthError as exc:
            slave.fatal_key_error(market, exc)
            return
        except (TimeoutError, BinanceAPIError, OSError) as exc:
            log.warning("starting market %s failed (%s); retrying in %.1fs", market, exc, delay)
            if not told:
                told = True
                slave.report(
                    SlaveError(
                        slave_id=slave.slave_id,
                        code="market_start",
                        market=market,  # type: ignore[arg-type]
                        message=f"starting {market} failed, retrying: {exc}"[:300],
                        t_ns=now_ns(),
                    )
                )
            await mirror.account.close()
            mirror.account = make_account(slave, account_type, [mirror])  # same mirror (subscription, queue)
            _hook(mirror.account, mirror)
            await asyncio.sleep(delay)
            delay = min(delay * 2, START_RETRY_MAX_S)
            continue
        if slave.mirrors.get(market) is not mirror:  # removed while it started
            await mirror.account.close()
            return
        slave.equity_read_at[market] = time.monotonic()
        mirror.request_resync("start")
        return


async def stop_market(slave: "Slave", market: str) -> None:
    """Stop copying `market`: no new fill, in-flight orders finish, sockets and account closed."""
    mirror = slave.mirrors.pop(market, None)
    if mirror is None:
        return
    log.info("market %s removed from the configuration: stopping it", market)
    mirror.hold = True  # workers take nothing new ...
    try:
        await asyncio.wait_for(mirror.idle.wait(), STOP_WAIT_S)  # ... and finish the order in hand
    except TimeoutError:
        log.warning("market %s: an order still in flight after %.0fs; closing anyway", market, STOP_WAIT_S)
    if mirror.resync_task is not None and not mirror.resync_task.done():  # its corrections finish too
        await asyncio.wait({mirror.resync_task}, timeout=RESYNC_WAIT_S)
    for reader in slave.market_readers.pop(market, []):
        reader.stop()
        reader.sock.close(0)
        if reader in slave.readers:
            slave.readers.remove(reader)
    slave.snapshot_socks.pop(market, None)
    slave.snapshot_readers.pop(market, None)
    if mirror.resync_task is not None:
        mirror.resync_task.cancel()
    for task in list(mirror.workers.values()):
        if isinstance(task, asyncio.Task):
            task.cancel()
    for fill, t_recv in mirror._drain_queued() + mirror.pending:
        if isinstance(fill, MasterFill):
            mirror._skip(fill, t_recv, "not_copied", f"market {market} removed from this slave's configuration")
    mirror.pending = []
    await mirror.account.close()
    slave.equity_read_at.pop(market, None)


async def refresh_equities(slave: "Slave", now: float) -> None:
    """Per market: equity from REST every EQUITY_REFRESH_S, or EQUITY_STALE_S after it went stale."""
    for market, mirror in list(slave.mirrors.items()):
        acct = mirror.account
        since = now - slave.equity_read_at.setdefault(market, now)
        if not ((acct.equity_stale and since > EQUITY_STALE_S) or since > EQUITY_REFRESH_S):
            continue
        slave.equity_read_at[market] = now
        try:
            await acct.refresh_equity()
        except AuthError as exc:  # revoked or expired while idle: say so before a fill is missed
            slave.fatal_key_error(market, exc)
        except (TimeoutError, BinanceAPIError, OSError) as exc:
            log.warning("%s equity refresh failed: %s", market, exc)


def leverage_cap_changed(slave: "Slave", old: SlaveConfig, new: SlaveConfig) -> None:
    """`max_leverage` edited: align every symbol again at its next opening; apply a lower cap now."""
    if old.max_leverage == new.max_leverage:
        return
    for mirror in slave.mirrors.values():
        mirror.aligned.clear()
        if mirror.market == "usdm":
            slave.spawn(apply_leverage_cap(mirror))


async def apply_leverage_cap(mirror: "MarketMirror") -> None:
    """Lower the leverage of held symbols above the cap at once (the master's, capped)."""
    cfg = mirror.config
    if cfg.max_leverage is None or mirror.slave.fatal:
        return
    acct: Any = mirror.account
    snap = mirror.last_snapshot
    master = {e.symbol: e.leverage for e in (snap.positions if snap is not None else ()) if e.qty and e.leverage}
    symbols = sorted({s for s, _ps in acct.positions} | set(master))
    for symbol in symbols:
        current = acct.leverage.get(symbol)
        base = master.get(symbol) or current
        if base is None or current is None or current <= cfg.max_leverage:
            continue
        await mirror._align(symbol, base, None)
        if acct.leverage.get(symbol) != capped_leverage(base, cfg):
            mirror.aligned.discard(symbol)  # refused (margin): tried again at the next opening


__all__ = [
    "build_mirror",
    "sync_markets",
    "add_market",
    "stop_market",
    "refresh_equities",
    "leverage_cap_changed",
    "apply_leverage_cap",
    "EQUITY_REFRESH_S",
    "EQUITY_STALE_S",
]
