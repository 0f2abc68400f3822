"""Simulator configuration: a TOML file (see simulator/example.toml), validated into plain structs.

Bad input raises `ConfigError` naming the table and field that is wrong.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from simulator.ratelimit import Limit, RateLimitConfig


class ConfigError(ValueError):
    pass


@dataclass
class KeyConfig:
    api_key: str
    type: str = "HMAC"
    secret: str | None = field(default=None, repr=False)
    public_key: str | None = None
    permissions: dict[str, bool] = field(default_factory=dict)


@dataclass
class AccountConfig:
    id: str
    spot: dict[str, Decimal] = field(default_factory=dict)
    margin: dict[str, Decimal] = field(default_factory=dict)
    futures: dict[str, Decimal] = field(default_factory=dict)
    futures_settings: dict[str, Any] = field(default_factory=dict)
    keys: list[KeyConfig] = field(default_factory=list)
    maker_commission: Decimal = Decimal("0.001")
    taker_commission: Decimal = Decimal("0.001")


@dataclass
class SymbolOverride:
    symbol: str
    values: dict[str, Any]


@dataclass
class HistoryConfig:
    """How much of the past the simulator keeps (simulator/history.py); 0 keeps everything."""

    requests: int = 10_000  # order requests, for GET /_sim/requests
    trades: int = 10_000  # fills per market (futures: all accounts together; spot, margin: per account)
    orders: int = 1_000  # closed orders per account and market (open orders are always kept)


@dataclass
class SimConfig:
    seed: int = 1
    tick_interval: float = 0.25  # seconds between price steps (0 disables the tick loop)
    volatility: float = 0.0005  # relative standard deviation of one step
    slippage_bps: Decimal = Decimal("0")  # market orders fill at price * (1 +/- slippage)
    prices_csv: str | None = None
    paused: bool = False  # start with the random walk paused
    margin_max_leverage: Decimal = Decimal("3")  # cross margin: liabilities <= (lev - 1) x net equity
    rate_limits: dict[str, RateLimitConfig] = field(default_factory=dict)
    symbols: list[SymbolOverride] = field(default_factory=list)
    accounts: list[AccountConfig] = field(default_factory=list)
    history: HistoryConfig = field(default_factory=HistoryConfig)
    raw: dict[str, Any] = field(default_factory=dict)  # the whole TOML document (extra tables: futures ...)
    record_dir: str | None = None  # request recorder (recorder.py); None: $SIMULATOR_RECORD_DIR if set


def _dec(where: str, value: Any) -> Decimal:
    try:
        if isinstance(value, float):
            value = repr(value)
        result = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ConfigError(f"{where}: {value!r} is not a decimal number") from None
    if not result.is_finite():
        raise ConfigError(f"{where}: {value!r} is not a finite number")
    return result


def _balances(where: str, table: Any) -> dict[str, Decimal]:
    if table is None:
        return {}
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table of asset = amount")
    out = {}
    for asset, amount in table.items():
        value = _dec(f"{where}.{asset}", amount)
        if value < 0:
            raise ConfigError(f"{where}.{asset}: balance cannot be negative")
        out[str(asset).upper()] = value
    return out


def _rate_limits(where: str, table: dict[str, Any], futures: bool) -> RateLimitConfig:
    weight = int(table.get("weight_per_minute", 2400 if futures else 6000))
    orders: list[Limit] = []
    if futures:
        orders.append(Limit("ORDERS", "SECOND", 10, int(table.get("orders_per_10s", 300))))
        orders.append(Limit("ORDERS", "MINUTE", 1, int(table.get("orders_per_minute", 1200))))
    else:
        orders.append(Limit("ORDERS", "SECOND", 10, int(table.get("orders_per_10s", 100))))
        orders.append(Limit("ORDERS", "DAY", 1, int(table.get("orders_per_day", 200000))))
    cfg = RateLimitConfig(
        weight=[Limit("REQUEST_WEIGHT", "MINUTE", 1, weight)],
        orders=orders,
        ban_after=int(table.get("ban_after", 3)),
        ban_seconds=int(table.get("ban_seconds", 120)),
        enabled=bool(table.get("enabled", True)),
    )
    if weight < 1 or any(o.limit < 1 for o in orders):
        raise ConfigError(f"{where}: limits must be positive")
    return cfg


def default_rate_limits() -> dict[str, RateLimitConfig]:
    return {"spot": _rate_limits("rate_limits.spot", {}, False), "futures": _rate_limits("rate_limits.futures", {}, True)}


def _history(table: Any) -> HistoryConfig:
    if not isinstance(table, dict):
        raise ConfigError("[history] must be a table")
    out = HistoryConfig()
    for name, value in table.items():
        if name not in HistoryConfig.__dataclass_fields__:
            raise ConfigError(f"history.{name}: unknown field; expected one of {sorted(HistoryConfig.__dataclass_fields__)}")
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"history.{name}: {value!r} is not a whole number >= 0 (0 keeps everything)")
        setattr(out, name, value)
    return out


def parse_config(doc: dict[str, Any]) -> SimConfig:
    sim = doc.get("simulator", {})
    if not isinstance(sim, dict):
        raise ConfigError("[simulator] must be a table")
    cfg = SimConfig(raw=doc)
    try:
        cfg.seed = int(sim.get("seed", cfg.seed))
        cfg.tick_interval = float(sim.get("tick_interval", cfg.tick_interval))
        cfg.volatility = float(sim.get("volatility", cfg.volatility))
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"[simulator]: {exc}") from None
    cfg.slippage_bps = _dec("simulator.slippage_bps", sim.get("slippage_bps", 0))
    cfg.prices_csv = sim.get("prices_csv")
    cfg.paused = bool(sim.get("paused", False))
    cfg.margin_max_leverage = _dec("simulator.margin_max_leverage", sim.get("margin_max_leverage", 3))
    cfg.history = _history(doc.get("history", {}))
    limits = doc.get("rate_limits", {})
    cfg.rate_limits = {
        "spot": _rate_limits("rate_limits.spot", limits.get("spot", {}), False),
        "futures": _rate_limits("rate_limits.futures", limits.get("futures", {}), True),
    }
    for i, sym in enumerate(doc.get("symbols", [])):
        if not isinstance(sym, dict) or "symbol" not in sym:
            raise ConfigError(f'symbols[{i}]: needs symbol = "..."')
        cfg.symbols.append(SymbolOverride(str(sym["symbol"]).upper(), {k: v for k, v in sym.items() if k != "symbol"}))
    seen: set[str] = set()
    seen_keys: set[str] = set()
    for i, acc in enumerate(doc.get("accounts", [])):
        where = f"accounts[{i}]"
        if not isinstance(acc, dict) or not acc.get("id"):
            raise ConfigError(f'{where}: needs id = "..."')
        acc_id = str(acc["id"])
        where = f"accounts.{acc_id}"
        if acc_id in seen:
            raise ConfigError(f"{where}: duplicate account id")
        seen.add(acc_id)
        keys = []
        for j, key in enumerate(acc.get("keys", [])):
            kw = f"{where}.keys[{j}]"
            if not isinstance(key, dict) or not key.get("api_key"):
                raise ConfigError(f"{kw}: needs api_key")
            if key["api_key"] in seen_keys:
                raise ConfigError(f"{kw}: duplicate api_key")
            seen_keys.add(key["api_key"])
            perms = key.get("permissions", {})
            if not isinstance(perms, dict):
                raise ConfigError(f"{kw}.permissions: expected a table")
            keys.append(
                KeyConfig(
                    str(key["api_key"]),
                    str(key.get("type", "HMAC")).upper(),
                    key.get("secret"),
                    key.get("public_key"),
                    {str(k): bool(v) for k, v in perms.items()},
                )
            )
        cfg.accounts.append(
            AccountConfig(
                acc_id,
                _balances(f"{where}.spot", acc.get("spot")),
                _balances(f"{where}.margin", acc.get("margin")),
                _balances(f"{where}.futures", acc.get("futures")),
                dict(acc.get("futures_settings", {})),
                keys,
                _dec(f"{where}.maker_commission", acc.get("maker_commission", "0.001")),
                _dec(f"{where}.taker_commission", acc.get("taker_commission", "0.001")),
            )
        )
    return cfg


def load_config(path: str | Path) -> SimConfig:
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            doc = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    cfg = parse_config(doc)
    if cfg.prices_csv and not Path(cfg.prices_csv).is_absolute():
        cfg.prices_csv = str((path.parent / cfg.prices_csv).resolve())
    return cfg
