"""An alert the control actor accepted is delivered even when control is SIGKILLed inside the
grouping window: the next control start re-sends it, once (control runs as `python -m actors.control`,
notifications go through apprise to a local HTTP receiver)."""

from __future__ import annotations

import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
import zmq
from aiohttp import web

from actors.base import Endpoints
from actors.control.notify import RESENT_MARK
from protocol import messages as m
from protocol.codec import encode
from tests.helpers.wait import aeventually

CONFIG = """
[exchange]
network = "simulator"
url = "http://127.0.0.1:1"

[paths]
runtime_dir = "run"

[masters.usdm]
account = "master"

[notifications]
urls = {urls}
group_window_s = {window}
min_interval_s = 60

[[slaves]]
id = "s1"
"""
REPO = Path(__file__).resolve().parents[2]


class Deployment:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = root / "copytrader.toml"
        self.journal = root / "var" / "journal.db"
        self.endpoints = Endpoints(root / "run")
        self.procs: list[subprocess.Popen[bytes]] = []

    def write_config(self, url: str, window: float) -> None:
        self.config.write_text(CONFIG.format(urls=msgspec.json.encode([url]).decode(), window=window))

    def start_control(self) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "actors.control", "--config", str(self.config), "--no-supervisor"],
            cwd=REPO,
            stdout=(self.root / f"control-{len(self.procs)}.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        self.procs.append(proc)
        return proc

    def alert_rows(self) -> list[tuple[str, str]]:
        """(key, state) of every journalled alert (read-only, beside the running control)."""
        if not self.journal.exists():
            return []
        db = sqlite3.connect(f"file:{self.journal}?mode=ro", uri=True)
        try:
            return db.execute("SELECT key, state FROM alerts ORDER BY ts_ms").fetchall()
        except sqlite3.OperationalError:  # table not created yet
            return []
        finally:
            db.close()


@pytest.fixture
def dep() -> Iterator[Deployment]:
    root = Path(tempfile.mkdtemp(prefix="ca-"))  # short: ipc paths must stay < 108 bytes
    d = Deployment(root)
    yield d
    for proc in d.procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    shutil.rmtree(root, ignore_errors=True)


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


def key_revoked(slave_id: str) -> m.SlaveError:
    return m.SlaveError(slave_id=slave_id, code="key_revoked", message="API-key rejected (-2015)", fatal=True, t_ns=1)


def refused(slave_id: str) -> m.OrderFailed:
    return m.OrderFailed(
        slave_id=slave_id,
        market="usdm",
        symbol="BTCUSDT",
        position_side="BOTH",
        side="BUY",
        master_order_id=1,
        master_trade_id=1,
        qty=Decimal("0.01"),
        error_code=-2019,
        error_msg="Margin is insufficient.",
    )


async def ready(value: Any) -> Any:
    return value


async def test_alert_in_the_window_when_control_is_killed_is_sent_after_the_restart_once(
    dep: Deployment, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    url, posts = receiver
    dep.write_config(url, window=60)  # the kill lands inside the window, whatever the machine's speed
    first = dep.start_control()
    push = zmq.Context.instance().socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 0)
    push.connect(dep.endpoints.reports)  # queued until control binds
    try:
        push.send(encode(key_revoked("s1")))
        push.send(encode(refused("s1")))
        await aeventually(lambda: ready(len(dep.alert_rows()) == 2), timeout=20, what="two alerts journalled")

        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        assert posts == [] and [s for _, s in dep.alert_rows()] == ["pending", "pending"]

        dep.write_config(url, window=0.2)
        second = dep.start_control()
        await aeventually(lambda: ready(len(posts) == 1), timeout=20, what="the re-sent notification")
        await aeventually(lambda: ready([s for _, s in dep.alert_rows()] == ["sent", "sent"]), what="marked sent")

        [post] = posts
        assert post["title"] == "copytrader: 2 alerts (1 key invalid, 1 order rejected)"
        assert f"s1: key revoked{RESENT_MARK}" in post["message"]
        assert f"s1: order rejected{RESENT_MARK}" in post["message"]
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=15) == 0
        assert len(posts) == 1
    finally:
        push.close()
