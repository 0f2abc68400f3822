"""From form fields to a validated `SlaveConfig` (pure): the edit form and the add-slave wizard
build the config locally, so `SlaveConfig.__post_init__` and msgspec's constraints refuse bad
values before anything is sent to the control actor."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

from protocol.messages import MARKETS, SlaveConfig


class FormError(ValueError):
    """A field is invalid: the message names it."""


@dataclass
class SlaveForm:
    """Every per-slave setting as the form holds it (text fields are raw strings)."""

    id: str
    name: str = ""
    enabled: bool = True
    paused: bool = False
    markets: tuple[str, ...] = ("usdm",)
    sizing: str = "balance_multiplier"
    ratio: str = "1"
    multiplier: str = "1"
    amount: str = ""  # fixed_amount: "" = not set
    fraction: str = ""  # fixed_fraction: "" = not set
    symbols_allow: str = ""  # comma or space separated
    symbols_deny: str = ""
    max_leverage: str = ""  # "" = no cap
    max_position_notional: str = ""
    symbol_max_notional: str = ""  # "BTCUSDT=1000, ETHUSDT=500"
    reverse: bool = False
    min_notional_policy: str = "defer"
    on_start: str = "sync"
    margin_level_min: str = ""
    orders: str = "fills"
    settle_after_ms: str = "0"
    protective: str = "mirror"
    close_only: bool = False
    max_open_positions: str = ""  # "" = no limit
    max_total_exposure: str = ""  # "" = no limit
    max_slippage_pct: str = ""  # "" = off (entries at market)
    equity_floor: str = ""  # "" = off
    max_drawdown_pct: str = ""  # "" = off
    on_stop: str = "pause"
    daily_loss_limit: str = ""  # "" = off
    daily_loss_window: str = "utc_day"
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, c: SlaveConfig) -> "SlaveForm":
        def text(value: object) -> str:
            return "" if value is None else str(value)

        return cls(
            id=c.id,
            name=c.name,
            enabled=c.enabled,
            paused=c.paused,
            markets=tuple(c.markets),
            sizing=c.sizing,
            ratio=text(c.ratio),
            multiplier=text(c.multiplier),
            amount=text(c.amount),
            fraction=text(c.fraction),
            symbols_allow=", ".join(c.symbols_allow),
            symbols_deny=", ".join(c.symbols_deny),
            max_leverage=text(c.max_leverage),
            max_position_notional=text(c.max_position_notional),
            symbol_max_notional=", ".join(f"{k}={v}" for k, v in c.symbol_max_notional.items()),
            reverse=c.reverse,
            min_notional_policy=c.min_notional_policy,
            on_start=c.on_start,
            margin_level_min=text(c.margin_level_min),
            orders=c.orders,
            settle_after_ms=text(c.settle_after_ms),
            protective=c.protective,
            close_only=c.close_only,
            max_open_positions=text(c.max_open_positions),
            max_total_exposure=text(c.max_total_exposure),
            max_slippage_pct=text(c.max_slippage_pct),
            equity_floor=text(c.equity_floor),
            max_drawdown_pct=text(c.max_drawdown_pct),
            on_stop=c.on_stop,
            daily_loss_limit=text(c.daily_loss_limit),
            daily_loss_window=c.daily_loss_window,
        )


def _words(text: str) -> list[str]:
    return [w.strip().upper() for w in text.replace(",", " ").split() if w.strip()]


def _caps(text: str) -> dict[str, str]:
    caps: dict[str, str] = {}
    for item in text.replace(",", " ").split():
        symbol, sep, cap = item.partition("=")
        if not sep or not symbol or not cap:
            raise FormError(f"symbol_max_notional: expected SYMBOL=CAP, got {item!r}")
        caps[symbol.strip().upper()] = cap.strip()
    return caps


def build_config(form: SlaveForm) -> SlaveConfig:
    """The validated SlaveConfig of `form`; FormError naming the field otherwise."""
    unknown = [m for m in form.markets if m not in MARKETS]
    if unknown:
        raise FormError(f"markets: unknown {unknown}")
    raw: dict[str, Any] = {
        "id": form.id.strip(),
        "name": form.name.strip(),
        "enabled": form.enabled,
        "paused": form.paused,
        "markets": list(form.markets),
        "sizing": form.sizing,
        "reverse": form.reverse,
        "min_notional_policy": form.min_notional_policy,
        "on_start": form.on_start,
        "orders": form.orders,
        "protective": form.protective,
        "close_only": form.close_only,
        "on_stop": form.on_stop,
        "daily_loss_window": form.daily_loss_window,
        "symbols_allow": _words(form.symbols_allow),
        "symbols_deny": _words(form.symbols_deny),
        "symbol_max_notional": _caps(form.symbol_max_notional),
    }
    for name in ("ratio", "multiplier"):
        value = getattr(form, name).strip()
        if not value:
            raise FormError(f"{name}: required")
        raw[name] = value
    for name in (
        "amount",
        "fraction",
        "max_position_notional",
        "max_total_exposure",
        "max_slippage_pct",
        "margin_level_min",
        "equity_floor",
        "max_drawdown_pct",
        "daily_loss_limit",
    ):
        value = getattr(form, name).strip()
        if value:
            raw[name] = value
    for name in ("max_leverage", "settle_after_ms", "max_open_positions"):
        value = getattr(form, name).strip()
        if not value:
            continue
        try:
            raw[name] = int(value)
        except ValueError:
            raise FormError(f"{name}: not a whole number: {value!r}") from None
    raw.update(form.extra)
    try:
        return msgspec.convert(raw, SlaveConfig, strict=False)
    except msgspec.ValidationError as exc:
        raise FormError(_field_message(str(exc))) from None
    except (ValueError, ArithmeticError) as exc:
        raise FormError(str(exc)) from None


def _field_message(text: str) -> str:
    """msgspec says "Expected `...` - at `$.ratio`": put the field first."""
    message, _, where = text.partition(" - at `$.")
    if where:
        return f"{where.rstrip('`').split('`')[0]}: {message}"
    return text
