"""Fixtures of the tests in tests/integration/control/."""

from __future__ import annotations

import shutil
import tempfile
import typing
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from actors.control import ControlActor
from protocol.client import AsyncControlClient
from tests.helpers.control_actor import FakeSupervisor, Setup


@pytest.fixture
def setup() -> typing.Iterator[Setup]:
    root = Path(tempfile.mkdtemp(prefix="ct-"))  # short: ipc paths must stay < 108 bytes
    yield Setup(root, [])
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
async def actor(setup: Setup) -> AsyncIterator[ControlActor]:
    control = ControlActor(
        setup.config_path,
        require_key=False,
        tick_s=0.05,
        republish_s=0.05,
        supervisor=FakeSupervisor(),
        programs_dir=setup.programs,
        poll_interval_s=0.05,
    )  # type: ignore[arg-type]
    await control.start()
    yield control
    await control.stop()


@pytest.fixture
async def client(actor: ControlActor) -> AsyncIterator[AsyncControlClient]:
    async with AsyncControlClient(actor.endpoints.control, timeout=5) as c:
        yield c


# ------------------------------------------------------------------------------------ notifications


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    posts: list[dict[str, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        posts.append(await request.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"json://127.0.0.1:{port}/hook", posts
    await runner.cleanup()
