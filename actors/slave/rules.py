"""The slave's constants and small helpers, shared by the mirror and its parts."""

from __future__ import annotations

import logging
import time
from decimal import Decimal
from typing import Any

import msgspec

from protocol.messages import PositionSnapshot, SlaveConfig

log = logging.getLogger("copytrader.slave")
ZERO = Decimal(0)
SNAPSHOT_TIMEOUT_S = 3.0
HEARTBEAT_LOST_S = 3.5
KEY_REFUSED_RETRY_S = 30.0  # a refused key: resync tried again this often (quietly)
RESYNC_JITTER_S = 3.0  # own stream back: spread the fleet's REST reads (Binance limits weight per IP)
RECONNECT_IVL_MAX_MS = 1000
CAPITAL_RETRY_S = 600.0  # a correction refused for capital is tried again after this long at the latest
CAPITAL_RICHER = Decimal("1.02")  # ... or once equity (or the gap) grew by 2%
CAPITAL_SMALLER = Decimal("0.9")  # ... or once the gap shrank by 10% (it needs less margin than was refused)


def _is_capital_refusal(market: str, side: str, code: int) -> bool:
    """-2019 margin is insufficient (futures); -2010 on a BUY (spot / margin: not enough quote)."""
    return code == -2019 or (code == -2010 and side == "BUY" and market != "usdm")


FILTER_ERRORS = frozenset({-1013, -1111, -4164})  # filter failure, precision, min notional: filters changed?
RESYNC_PAGE_AFTER_S = 60.0  # a resync failing this long (rate limits, timeouts) pages a person


_STARTING = object()  # placeholder worker while its first step runs


def price_passed(code: int, msg: str) -> bool:
    """The exchange refused a copy of a stop (or an OCO) because the price passed its trigger before
    the copy came: USD-M -2021 "Order would immediately trigger.", spot -2010 "Order would trigger
    immediately." / "The relationship of the prices for the orders is not correct." The master's
    order triggers now or soon; its fills are copied as fills: journalled, nobody paged."""
    return code == -2021 or (code == -2010 and ("trigger immediately" in msg or "relationship of the prices" in msg))


def now_ns() -> int:
    return time.monotonic_ns()


def _observe(account: Any, snap: PositionSnapshot) -> None:
    """Spot/margin accounts mirror the symbols of the master's snapshot (USD-M: every position)."""
    observe = getattr(account, "observe_master", None)
    if observe is not None:
        observe(snap)


def _cause(cause: str) -> Any:
    if cause == "own_reconnect":
        return "reconnect"
    if cause == "filters":
        return "gap"
    return cause if cause in ("gap", "restart", "drift", "reconnect", "start", "stale") else "gap"


def _dec(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if value is not None else ZERO
    except ArithmeticError:
        return ZERO


def msgspec_replace(config: SlaveConfig, **changes: Any) -> SlaveConfig:
    return msgspec.structs.replace(config, **changes)
