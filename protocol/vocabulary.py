"""The protocol's shared vocabulary (split from messages.py): the literal and constrained types,
the value checks every message runs, and the two bases `Msg` (tagged) and `Part` (embedded).
Import them from `protocol.messages` (which re-exports each) or from here."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

import msgspec

# --------------------------------------------------------------------------- shared vocabulary

Market = Literal["usdm", "spot", "margin"]
MARKETS: tuple[Market, ...] = ("usdm", "spot", "margin")
Side = Literal["BUY", "SELL"]
PositionSide = Literal["BOTH", "LONG", "SHORT"]
# one position of an account: (symbol, position side); spot and margin: (symbol, "BOTH"). The one
# definition, used by master and slave alike.
PositionKey = tuple[str, PositionSide]
FillStatus = Literal["PARTIALLY_FILLED", "FILLED"]
SideEffect = Literal["NO_SIDE_EFFECT", "MARGIN_BUY", "AUTO_REPAY"]
MarginType = Literal["CROSSED", "ISOLATED"]  # the values /fapi/v1/marginType takes
PositionMode = Literal["one_way", "hedge"]
SnapshotReason = Literal["start", "reconnect", "request", "periodic"]
# what k is: a ratio, the equities' ratio x a multiplier, or per entry a fixed notional / a fixed fraction of equity
SizingMode = Literal["balance_multiplier", "fixed_ratio", "fixed_amount", "fixed_fraction"]
MinNotionalPolicy = Literal["defer", "round_up", "skip"]  # actors/domain/target.py says what each does
# sync: join the master's positions; new_only: copy only what it does next; flatten: new_only after closing our own;
# better_price: join each once the price is at least as good as the master's entry (actors/slave/join.py)
OnStart = Literal["sync", "new_only", "flatten", "better_price"]
LossWindow = Literal["utc_day", "rolling_24h"]  # the daily loss limit's window: the UTC day, or the last 24 h
OnStop = Literal["pause", "flatten"]  # what the equity stop does when it acts (entries stop; flatten: positions closed too)
OrdersMode = Literal["fills", "mirror"]  # fills: a market order per master fill; mirror: resting orders copied too
OrderAction = Literal["placed", "amended", "canceled", "expired"]
# the master order types published as resting orders (all but LIMIT: spot / margin; the stop types
# wait for their stop price: STOP_LOSS / TAKE_PROFIT then trade at market, the _LIMIT ones rest at `price`)
RestingOrderType = Literal["LIMIT", "LIMIT_MAKER", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"]
SPOT_STOP_TYPES = ("STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT")
SPOT_MARKET_STOPS = ("STOP_LOSS", "TAKE_PROFIT")  # no limit price: a market order once triggered
TimeInForce = Literal["GTC", "IOC", "FOK", "GTX", "GTD"]
# USD-M conditional orders, on Binance's Algo Service since 2025-12-02 (POST /fapi/v1/algoOrder)
ConditionalType = Literal["STOP_MARKET", "TAKE_PROFIT_MARKET", "STOP", "TAKE_PROFIT", "TRAILING_STOP_MARKET"]
WorkingType = Literal["MARK_PRICE", "CONTRACT_PRICE"]
# placed / canceled / expired / rejected: as the Algo Service says (ALGO_UPDATE X NEW, CANCELED,
# EXPIRED, REJECTED); triggered: it is in the matching engine as order `actual_order_id`; finished:
# that order is done (filled or canceled there)
AlgoAction = Literal["placed", "canceled", "triggered", "finished", "rejected", "expired"]
ProtectiveMode = Literal["mirror", "off"]  # orders = "mirror": copy the master's conditional (stop / take-profit) orders too
SlaveState = Literal["starting", "syncing", "running", "paused", "disabled", "degraded", "stopping", "stopped"]
SkipReason = Literal[
    "below_min_notional",  # order value under the symbol's min notional (deferred or skipped by policy)
    "below_min_qty",  # quantity rounds to zero or under LOT_SIZE minQty
    "symbol_filtered",  # not in symbols_allow / in symbols_deny
    "unknown_symbol",  # no exchange filters for the symbol on this market
    "paused",  # slave (or everything) paused
    "disabled",  # slave disabled, or market not followed by this slave
    "cap_reached",  # max_position_notional leaves no room
    "no_position",  # master reduces/closes but the slave holds nothing to reduce
    "market_refused",  # slave refuses the market (e.g. position mode differs and not flat)
    "cannot_size",  # k unavailable (master equity <= 0, slave equity unknown)
    "close_only",  # the slave's close-only guard: entries and increases are not copied
    "max_positions",  # the slave's max-open-positions guard: a new position beyond the max is not opened
    "equity_stop",  # the slave's equity stop acted: entries and increases are not copied until it is lifted
    "daily_loss",  # the slave's daily loss limit acted: entries and increases are not copied until its window resets
    "max_exposure",  # the slave's max total exposure guard: its positions' notionals already sum to the limit
    "slippage",  # the slave's entry slippage guard: the IOC limit at the master's price plus the tolerance did not fill (all)
    "insufficient_balance",  # exchange said so (-2019 / -2010 ...)
    "exchange_rejected",  # any other exchange refusal
    "not_copied",  # master event that never leads to an order (e.g. own order of a non-trade)
]

# Constrained scalar types, checked on decode and on construction.
SlaveId = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
Symbol = Annotated[str, msgspec.Meta(pattern=r"^[A-Z0-9]{2,32}$")]
Asset = Annotated[str, msgspec.Meta(pattern=r"^[A-Z0-9]{1,20}$")]
NonNegInt = Annotated[int, msgspec.Meta(ge=0)]
RequestId = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
Leverage = Annotated[int, msgspec.Meta(ge=1, le=125)]


_MAX_ADJUSTED_EXPONENT = 40  # |value| in [1e-40, 1e41): anything outside is not a price/qty


def _bad_decimal(value: Decimal) -> bool:
    """NaN/Infinity (msgspec accepts "NaN" as a Decimal string) or an absurd exponent, which
    would overflow later arithmetic ("1e999999999" is a finite Decimal)."""
    if not value.is_finite():
        return True
    return bool(value) and abs(value.adjusted()) > _MAX_ADJUSTED_EXPONENT


def _check_finite(obj: object, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        if value is not None and _bad_decimal(value):
            raise ValueError(f"`{name}` must be a finite decimal of sane size, got {value}")


def _check_non_negative(obj: object, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        if value is not None and (_bad_decimal(value) or value < 0):
            raise ValueError(f"`{name}` must be a finite decimal >= 0, got {value}")


def _check_positive(obj: object, *names: str) -> None:
    for name in names:
        value = getattr(obj, name)
        if value is not None and (_bad_decimal(value) or value <= 0):
            raise ValueError(f"`{name}` must be a finite decimal > 0, got {value}")


class Msg(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, tag_field="t"):
    """Base of every tagged message (tag in field "t")."""


class Part(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Base of untagged parts embedded in messages."""
