"""The pre-trade copyability check (pure; issue 22): before the master trades, per slave and symbol,
what of the master's next entry this slave would copy, so an operator sees who will skip.

Per symbol (those the master holds or traded since the slave started):
- the smallest master entry the slave copies: the exchange's minimum (minQty and, for a market
  order, min notional at the master's last price) over k, so a master order under it is skipped
  (`below_min_notional` / `below_min_qty`, or deferred by the policy); with fixed_amount /
  fixed_fraction every entry has the slave's own notional, so either all are copied (0) or none;
- whether entries are refused now, and why: the guards (close-only, the equity stop, the daily
  loss limit, max open positions, max total exposure), the symbol lists, k not known;
- the leverage the slave would set (the master's, under `max_leverage`) and whether its margin
  would carry the smallest copy: its free margin (USD-M available balance) against the copy's
  initial margin at that leverage (unknown margin: not judged).
"""

from __future__ import annotations

from decimal import ROUND_CEILING, Decimal

from protocol.messages import Copyability, SlaveConfig

from ..binance.filters import SymbolFilters, market_min_notional, market_rules, round_qty_up
from .sizing import FIXED, CannotSize, entry_notional, symbol_allowed

ZERO = Decimal(0)


def copyability(
    symbol: str,
    *,
    config: SlaveConfig,
    k: Decimal | CannotSize,
    filters: SymbolFilters | None,
    price: Decimal | None,
    blocked: str | None,
    leverage: int | None,
    slave_equity: Decimal | None,
    free_margin: Decimal | None,
) -> Copyability:
    """The verdict for one symbol. `blocked`: why a guard refuses entries now (None: it does not)."""
    if not symbol_allowed(config, symbol):
        return Copyability(symbol=symbol, entries="filtered by the symbol lists")
    if filters is None:
        return Copyability(symbol=symbol, entries="no exchange filters for the symbol")
    if blocked:
        return Copyability(symbol=symbol, entries=blocked[:120])
    if isinstance(k, CannotSize) and config.sizing not in FIXED:
        return Copyability(symbol=symbol, entries=f"cannot size: {k.reason}"[:120])
    rules = market_rules(filters)
    need = max(rules.min_qty, rules.step)
    if price is not None and price > 0 and market_min_notional(filters):
        need = max(need, round_qty_up(market_min_notional(filters) / price, rules.step))
    smallest: Decimal | None
    if config.sizing in FIXED:
        notional = entry_notional(config, slave_equity)
        if isinstance(notional, CannotSize):
            return Copyability(symbol=symbol, entries=f"cannot size: {notional.reason}"[:120])
        if price is None or price <= 0:
            return Copyability(symbol=symbol, entries="ok", leverage=leverage)
        if notional / price < need:
            return Copyability(symbol=symbol, entries=f"every entry skipped: {notional} is under the minimum order of {need * price} here")
        smallest, copy = ZERO, notional / price
    else:
        assert isinstance(k, Decimal)
        if k <= 0:
            return Copyability(symbol=symbol, entries="k is 0")
        smallest = (need / k).quantize(filters.step_size, rounding=ROUND_CEILING) if filters.step_size else need / k
        copy = need
    margin_ok: bool | None = None
    if free_margin is not None and price is not None and price > 0 and leverage:
        margin_ok = free_margin >= copy * price / leverage
    return Copyability(symbol=symbol, entries="ok", smallest_master_qty=smallest, leverage=leverage, margin_ok=margin_ok)
