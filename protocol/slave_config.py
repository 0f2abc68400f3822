"""One follower's settings (`SlaveConfig`), carried in `SlaveConfigChanged` and in the control
actor's TOML `[[slaves]]` tables. Import it from `protocol.messages` (which re-exports it) or from
here."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import msgspec

from .vocabulary import (
    Leverage,
    LossWindow,
    Market,
    MinNotionalPolicy,
    OnStart,
    OnStop,
    OrdersMode,
    Part,
    ProtectiveMode,
    SizingMode,
    SlaveId,
    Symbol,
    _bad_decimal,
    _check_positive,
)


def sizing_label(c: "SlaveConfig") -> str:
    """A short name of a slave's sizing for lists (CLI, TUI): "ratio 0.5", "x1 balance", "100 USDT
    each", "5 % each"."""
    if c.sizing == "fixed_ratio":
        return f"ratio {_plain(c.ratio)}"
    if c.sizing == "fixed_amount":
        return f"{_plain(c.amount)} USDT each"
    if c.sizing == "fixed_fraction":
        return f"{_plain((c.fraction or Decimal(0)) * 100)} % each"
    return f"x{_plain(c.multiplier)} balance"


def _plain(value: Decimal | None) -> str:
    text = format(value, "f") if value is not None else "?"
    return text.rstrip("0").rstrip(".") if "." in text else text


class SlaveConfig(Part, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One follower's settings; the control actor's TOML `[[slaves]]` tables decode into this.

    Sizing (actors/domain/sizing.py): `fixed_ratio` copies `ratio` x the master's quantity;
    `balance_multiplier` copies `multiplier x slave_equity / master_equity` x the master's quantity;
    `fixed_amount` copies each master entry or increase with a notional of `amount` (quote asset,
    the position's value at the fill price: not margin, leverage does not change it) and
    `fixed_fraction` with a notional of `fraction` x the slave's equity; with both, reductions take
    the same fraction of the slave's position as of the master's, and closes close.
    `max_position_notional` caps every symbol's position value (quote asset); entries of
    `symbol_max_notional` override it per symbol. `reverse` (USD-M only) copies the opposite
    direction. `margin_level_min` (margin only): no new borrowing below this margin level.
    """

    id: SlaveId
    name: Annotated[str, msgspec.Meta(max_length=64)] = ""
    enabled: bool = True
    paused: bool = False
    markets: tuple[Market, ...] = ("usdm",)
    sizing: SizingMode = "balance_multiplier"
    ratio: Decimal = Decimal(1)
    multiplier: Decimal = Decimal(1)
    amount: Decimal | None = None  # fixed_amount: the notional (quote asset) of each copied entry or increase
    fraction: Decimal | None = None  # fixed_fraction: each entry's notional as a fraction of equity (0.05: 5 %)
    symbols_allow: tuple[Symbol, ...] = ()  # empty: every symbol
    symbols_deny: tuple[Symbol, ...] = ()
    max_leverage: Leverage | None = None
    max_position_notional: Decimal | None = None
    symbol_max_notional: dict[Symbol, Decimal] = msgspec.field(default_factory=dict)
    reverse: bool = False
    min_notional_policy: MinNotionalPolicy = "defer"
    on_start: OnStart = "sync"
    margin_level_min: Decimal | None = None
    # mirror: the master's resting limit orders are placed, amended and canceled here too (actors/slave/resting.py)
    orders: OrdersMode = "fills"
    settle_after_ms: Annotated[int, msgspec.Meta(ge=0, le=60_000)] = 0  # mirror: wait before settling a done order
    # orders = "mirror": the master's stops are copied too (actors/slave/protective.py); "off": their fills are
    protective: ProtectiveMode = "mirror"
    # guard: copy only what reduces or closes a position (the master's exits), never an entry or
    # an increase (actors/domain/sizing.py `entry_k`); lifted by setting it back to false
    close_only: bool = False
    # guard: at most this many open positions over its markets (a hedge LONG and SHORT are two), actors/slave/guards.py
    max_open_positions: Annotated[int, msgspec.Meta(ge=1, le=1000)] | None = None
    # guard: the notionals of all its positions (USDT, every market and symbol) stay under this, actors/slave/guards.py
    max_total_exposure: Decimal | None = None
    # guard: entries and increases go as IOC LIMIT at the master's fill price +/- this % (not MARKET), actors/domain/slippage.py
    max_slippage_pct: Decimal | None = None
    # guards: the equity stop (under `equity_floor` USDT, or `max_drawdown_pct` % under the high-water mark;
    # "flatten": positions closed too) and the daily loss limit (USDT, per window), actors/domain/equity_stop.py
    equity_floor: Decimal | None = None
    max_drawdown_pct: Decimal | None = None
    on_stop: OnStop = "pause"
    daily_loss_limit: Decimal | None = None
    daily_loss_window: LossWindow = "utc_day"

    def __post_init__(self) -> None:
        _check_positive(
            self,
            "ratio",
            "multiplier",
            "amount",
            "fraction",
            "max_position_notional",
            "max_total_exposure",
            "equity_floor",
            "daily_loss_limit",
        )
        if self.sizing == "fixed_amount" and self.amount is None:
            raise ValueError('`sizing = "fixed_amount"` needs `amount`, the notional (USDT) of each copied entry')
        if self.sizing == "fixed_fraction" and self.fraction is None:
            raise ValueError('`sizing = "fixed_fraction"` needs `fraction`, each entry\'s notional as a fraction of equity (0.05: 5 %)')
        if self.max_slippage_pct is not None and (_bad_decimal(self.max_slippage_pct) or not 0 < self.max_slippage_pct <= 10):
            raise ValueError(f"`max_slippage_pct` must be > 0 and at most 10 (a percentage), got {self.max_slippage_pct}")
        if self.fraction is not None and self.fraction > 10:
            raise ValueError(
                f"`fraction` is each entry's notional over the equity; over 10 (1000 %) is taken for a mistake, got {self.fraction}"
            )
        if self.max_drawdown_pct is not None and (_bad_decimal(self.max_drawdown_pct) or not 0 < self.max_drawdown_pct < 100):
            raise ValueError(f"`max_drawdown_pct` must be > 0 and < 100 (a percentage), got {self.max_drawdown_pct}")
        if self.orders == "mirror" and self.reverse:
            raise ValueError(
                '`orders = "mirror"` cannot be combined with `reverse`: a reversed copy of a resting order or stop at the'
                ' master\'s price would be on the wrong side of the book (it would fill or trigger at once); use `orders = "fills"`'
            )
        for symbol, cap in self.symbol_max_notional.items():
            if _bad_decimal(cap) or cap <= 0:
                raise ValueError(f"`symbol_max_notional[{symbol}]` must be > 0, got {cap}")
        if self.margin_level_min is not None and (_bad_decimal(self.margin_level_min) or self.margin_level_min <= 1):
            raise ValueError(f"`margin_level_min` must be > 1, got {self.margin_level_min}")
        if not self.markets:
            raise ValueError("`markets` must name at least one market")
        if len(set(self.markets)) != len(self.markets):
            raise ValueError("`markets` has duplicates")
        both = set(self.symbols_allow) & set(self.symbols_deny)
        if both:
            raise ValueError(f"symbols both allowed and denied: {sorted(both)}")
