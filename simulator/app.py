"""The app factory: builds a `Sim`, registers every market's routes, returns the aiohttp app.

Futures (another engineer's module) plugs in: if `simulator/futures_api.py` exists, its
`register(sim)` runs before the routes are installed and its `add_routes(sim, app)` (optional)
afterwards, for routes that are not Binance endpoints (listenKey streams). See README "Adding endpoints".
"""
from __future__ import annotations

import asyncio
import importlib
import logging
from typing import Any

from aiohttp import web

from simulator import margin, spot, wallet
from simulator.admin import Admin
from simulator.api import make_rest_handler
from simulator.config import SimConfig
from simulator.core import Sim
from simulator.recorder import Recorder
from simulator.wsapi import SPOT_WS_PATH, WsRegistry, register_session_methods, register_user_data_methods

log = logging.getLogger("simulator")

SIM_KEY: web.AppKey[Sim] = web.AppKey("sim", Sim)
TASKS_KEY: web.AppKey[list] = web.AppKey("sim_tasks", list)
# modules with register(sim) [+ add_routes(sim, app)], in this order (the later ones use sim.futures)
PLUGINS = ("simulator.futures_api", "simulator.futures_history", "simulator.futures_modify",
           "simulator.market_data", "simulator.spot_replace", "simulator.wallet_info", "simulator.coinm",
           "simulator.liquidation")


def _load_plugins(sim: Sim) -> list[str]:
    loaded = []
    for name in PLUGINS:
        try:
            module = importlib.import_module(name)
            register = getattr(module, "register", None) or getattr(module, "setup", None)
            if register is None:
                log.info("%s has no register(sim); skipped", name)
                continue
            register(sim)
            sim.plugin_modules.append(module)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            log.exception("plugin %s failed to load", name)
            sim.plugin_errors.append(f"{name}: {exc!r}")
            continue
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not take spot/margin down
            log.exception("plugin %s failed to load", name)
            sim.plugin_errors.append(f"{name}: {exc!r}")
            continue
        loaded.append(name)
    return loaded


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
    sim.plugins = _load_plugins(sim)  # type: ignore[attr-defined]
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
