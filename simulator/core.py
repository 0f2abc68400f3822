"""`Sim`: the state of one simulated exchange, shared by every route, stream and engine.

Built from a `SimConfig`; `app.create_app()` wires it into an aiohttp application. Extension
points (see README "Adding endpoints"): `sim.api` (REST routes and WebSocket-API methods),
`sim.on_tick()` (periodic work after each price step), `sim.on_startup()` / `sim.on_cleanup()`
(background tasks), `sim.markets` (engines that answer the admin order/trade listings),
`sim.hub` (user-data events), `sim.faults` (fault injection), `sim.limiters` (rate limits).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from simulator.accounts import Account, AccountStore
from simulator.api import Api, OrderRequest
from simulator.config import SimConfig, default_rate_limits
from simulator.faults import FaultInjector
from simulator.history import History, Ring
from simulator.matching import Matcher
from simulator.prices import PriceEngine
from simulator.ratelimit import RateLimiter
from simulator.symbols import DEFAULT_SYMBOLS, SymbolRegistry, SymbolSpec
from simulator.userdata import UserDataHub
from simulator.util import IdGen, now_ms

if TYPE_CHECKING:
    from aiohttp import web

log = logging.getLogger("simulator")

TickHook = Callable[[dict[str, Decimal]], None]
AppHook = Callable[["web.Application"], Awaitable[None]]


class MarketEngine(Protocol):
    """What the admin API asks of each market engine (spot, margin, futures)."""

    def admin_orders(self, account_id: str | None) -> list[dict[str, Any]]: ...

    def admin_trades(self, account_id: str | None) -> list[dict[str, Any]]: ...


_SPEC_FIELDS = {
    "price",
    "tick_size",
    "step_size",
    "min_qty",
    "max_qty",
    "min_price",
    "max_price",
    "market_min_qty",
    "market_max_qty",
    "min_notional",
    "max_notional",
    "liquidity",
}


class Sim:
    def __init__(self, config: SimConfig) -> None:
        self.config = config
        self.started_ms = now_ms()
        self.store = AccountStore()
        self.symbols = SymbolRegistry()
        self.prices = PriceEngine(seed=config.seed, volatility=config.volatility)
        self.faults = FaultInjector()
        self.hub = UserDataHub()
        self.api = Api()
        self.api.add_ws_path("/ws-api/v3", "spot")
        self.api.add_ws_path("/ws-fapi/v1", "futures")
        limits = {**default_rate_limits(), **config.rate_limits}
        self.limiters: dict[str, RateLimiter] = {name: RateLimiter(cfg) for name, cfg in limits.items()}
        self.order_ids = IdGen(10_000_001)  # shared by all markets: ids are unique exchange-wide
        self.trade_ids = IdGen(5_000_001)
        self.history = History(config.history)  # how much of the past is kept ([history] in the config)
        self.order_log: Ring[OrderRequest] = self.history.requests()  # newest last (admin GET /_sim/requests)
        self.markets: dict[str, MarketEngine] = {}
        self.listen_tokens: dict[str, tuple[str, int]] = {}  # margin listenToken -> (account id, expires ms)
        self.plugin_modules: list[Any] = []
        self._tick_hooks: list[TickHook] = []
        self._startup: list[AppHook] = []
        self._cleanup: list[AppHook] = []
        self.slippage = config.slippage_bps / Decimal(10000)
        self._load_symbols()
        self._load_accounts()
        self.matcher = Matcher(self._liquidity)
        self.prices.add_listener(self.matcher.on_prices)
        if config.prices_csv:
            self.prices.load_csv(config.prices_csv)
        if config.paused:
            self.prices.pause(None, True)

    # -- set-up -------------------------------------------------------------------------------------------
    def _load_symbols(self) -> None:
        overrides = {o.symbol: o.values for o in self.config.symbols}
        for base in DEFAULT_SYMBOLS:
            spec = SymbolSpec(**{f: getattr(base, f) for f in base.__dataclass_fields__ if f != "extra"})
            self._apply_override(spec, overrides.pop(spec.symbol, {}))
            self.add_symbol(spec)
        for symbol, values in overrides.items():  # new symbols from the config
            missing = [f for f in ("base", "quote", "price", "tick_size", "step_size", "min_qty") if f not in values]
            if missing:
                raise ValueError(f"symbols.{symbol}: new symbol needs {missing}")
            spec = SymbolSpec(
                symbol,
                str(values["base"]).upper(),
                str(values["quote"]).upper(),
                Decimal(str(values["price"])),
                Decimal(str(values["tick_size"])),
                Decimal(str(values["step_size"])),
                Decimal(str(values["min_qty"])),
            )
            self._apply_override(spec, values)
            self.add_symbol(spec)

    @staticmethod
    def _apply_override(spec: SymbolSpec, values: dict[str, Any]) -> None:
        for name, value in values.items():
            if name in _SPEC_FIELDS:
                setattr(spec, name, Decimal(str(value)))
            elif name not in ("base", "quote"):
                raise ValueError(f"symbols.{spec.symbol}: unknown field {name!r}")

    def add_symbol(self, spec: SymbolSpec) -> SymbolSpec:
        """Register a symbol (any market) and give it a price if it has none yet."""
        self.symbols.add(spec)
        self.prices.add_symbol(spec.symbol, spec.price, spec.tick_size)
        return spec

    def _liquidity(self, symbol: str) -> Decimal:
        spec = self.symbols.find(symbol, "spot")
        return spec.liquidity if spec is not None else Decimal(1)

    def _load_accounts(self) -> None:
        for acc in self.config.accounts:
            self.create_account(acc.id, acc.spot, acc.margin, acc.futures, acc.futures_settings, acc.maker_commission, acc.taker_commission)
            for key in acc.keys:
                self.store.add_key(acc.id, key.api_key, key.type, key.secret, key.public_key, key.permissions, created_ms=self.started_ms)

    def create_account(
        self,
        account_id: str,
        spot: dict[str, Decimal] | None = None,
        margin: dict[str, Decimal] | None = None,
        futures: dict[str, Decimal] | None = None,
        futures_settings: dict[str, Any] | None = None,
        maker_commission: Decimal = Decimal("0.001"),
        taker_commission: Decimal = Decimal("0.001"),
    ) -> Account:
        now = now_ms()
        account = Account(account_id, maker_commission=maker_commission, taker_commission=taker_commission, created_ms=now)
        for asset, amount in (spot or {}).items():
            account.spot_balance(asset).free = amount
            if amount:
                account.spot_updated_ms = now  # funded now
        for asset, amount in (margin or {}).items():
            account.margin_balance(asset).free = amount
        account.futures_balances = dict(futures or {})
        account.futures_config = dict(futures_settings or {})
        return self.store.add_account(account)

    # -- hooks ---------------------------------------------------------------------------------------------
    def on_tick(self, hook: TickHook) -> None:
        """Run `hook(prices)` after each price step (tick loop and admin price changes)."""
        self._tick_hooks.append(hook)
        self.prices.add_listener(hook)

    def on_startup(self, hook: AppHook) -> None:
        self._startup.append(hook)

    def on_cleanup(self, hook: AppHook) -> None:
        self._cleanup.append(hook)

    def add_market(self, name: str, engine: MarketEngine) -> None:
        self.markets[name] = engine

    # -- tick loop -----------------------------------------------------------------------------------------
    async def tick_loop(self) -> None:
        interval = self.config.tick_interval
        while True:
            await asyncio.sleep(interval)
            try:
                self.prices.step()
            except Exception:  # noqa: BLE001 - one bad step never stops the exchange
                log.exception("price step failed")

    async def housekeeping_loop(self, interval: float = 0.2) -> None:
        """Expiries that must happen without price ticks (listenToken subscriptions)."""
        while True:
            await asyncio.sleep(interval)
            try:
                self.expire_listen_tokens()
            except Exception:  # noqa: BLE001
                log.exception("housekeeping failed")

    def expire_listen_tokens(self) -> None:
        now = now_ms()
        for token, (_acc, expires) in list(self.listen_tokens.items()):
            if expires <= now - 60_000:
                del self.listen_tokens[token]
        registry = getattr(self, "ws_registry", None)
        if registry is not None:
            registry.expire_subscriptions()

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()
