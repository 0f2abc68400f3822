"""The app factory: builds a `Sim`, registers every market's routes, returns the aiohttp app.

Every market is a module with `register(sim)` (and, for routes that are not Binance endpoints
such as listenKey streams, `add_routes(sim, app)`), imported and called here in a fixed order (the
later ones use `sim.futures`). A module that fails to import or to register fails the simulator's
start with its own error: a half-built exchange that answers 404 where an endpoint should be
would make a test fail far from its cause. See README "Adding endpoints".
"""

from __future__ import annotations

import asyncio
import logging
from types import ModuleType
from typing import Any

from aiohttp import web

from simulator import (
    coinm,
    futures_algo_api,
    futures_api,
    futures_history,
    futures_modify,
    liquidation,
    margin,
    market_data,
    spot,
    spot_replace,
    wallet,
    wallet_info,
)
from simulator.admin import Admin
from simulator.api import make_rest_handler
from simulator.config import SimConfig
from simulator.core import Sim
from simulator.recorder import Recorder
from simulator.wsapi import SPOT_WS_PATH, WsRegistry, register_session_methods, register_user_data_methods

log = logging.getLogger("simulator")

SIM_KEY: web.AppKey[Sim] = web.AppKey("sim", Sim)
TASKS_KEY: web.AppKey[list] = web.AppKey("sim_tasks", list)
# registered after spot, margin and wallet, in this order (the later ones use sim.futures)
PLUGINS: tuple[ModuleType, ...] = (
    futures_api,
    futures_algo_api,
    futures_history,
    futures_modify,
    market_data,
    spot_replace,
    wallet_info,
    coinm,
    liquidation,
)


def _register_plugins(sim: Sim) -> list[str]:
    for module in PLUGINS:
        module.register(sim)
        sim.plugin_modules.append(module)
    return [m.__name__ for m in PLUGINS]


def build_sim(config: SimConfig) -> Sim:
    sim = Sim(config)
    sim.admin = Admin(sim)  # type: ignore[attr-defined]
    sim.recorder = Recorder.from_config(sim)  # type: ignore[attr-defined]
    sim.ws_registry = WsRegistry(sim)  # type: ignore[attr-defined]
    spot.register(sim)
    margin.register(sim)
    wallet.register(sim)
    for path in list(sim.api.ws):
        register_session_methods(sim, path)
    register_user_data_methods(sim, SPOT_WS_PATH)
    sim.plugins = _register_plugins(sim)  # type: ignore[attr-defined]
    return sim


def create_app(config: SimConfig, sim: Sim | None = None) -> web.Application:
    sim = sim or build_sim(config)
    recorder: Recorder | None = getattr(sim, "recorder", None)
    app = web.Application(client_max_size=1024 * 1024, middlewares=[recorder.middleware()] if recorder else [])
    app[SIM_KEY] = sim
    for (method, path), ep in sim.api.rest.items():
        app.router.add_route(method, path, make_rest_handler(sim, ep))
    registry: WsRegistry = sim.ws_registry  # type: ignore[attr-defined]
    for path in sim.api.ws:
        app.router.add_get(path, registry.handle)
    sim.admin.install(app)  # type: ignore[attr-defined]
    for module in sim.plugin_modules:
        add_routes = getattr(module, "add_routes", None)
        if add_routes is not None:
            add_routes(sim, app)

    async def start(app: web.Application) -> None:
        tasks: list[asyncio.Task[Any]] = [asyncio.get_running_loop().create_task(sim.housekeeping_loop())]
        if sim.config.tick_interval > 0:
            tasks.append(asyncio.get_running_loop().create_task(sim.tick_loop()))
        app[TASKS_KEY] = tasks
        for hook in sim._startup:
            await hook(app)

    async def stop(app: web.Application) -> None:
        for hook in sim._cleanup:
            await hook(app)
        for task in app.get(TASKS_KEY, []):
            task.cancel()
        for conn in list(registry.conns):
            conn.closed = True
            await conn.ws.close()
        if recorder is not None:
            recorder.close()

    app.on_startup.append(start)
    app.on_shutdown.append(stop)
    return app
