"""A control actor on its real sockets in a temporary deployment (tests/integration/control/)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
import zmq
import zmq.asyncio

from actors.control import ControlActor
from actors.control.supervision import ProcessInfo, ReloadResult, SupervisionError
from protocol import messages as m
from protocol.client import AsyncControlClient, ControlError
from protocol.errors import ErrorCode

CONFIG = """
[exchange]
network = "simulator"
url = "http://127.0.0.1:1"

[paths]
runtime_dir = "{runtime}"

[masters.usdm]
account = "master"

[notifications]
urls = {urls}
group_window_s = 0.2
min_interval_s = 60
stream_lost_after_s = 30

[[slaves]]
id = "s1"
sizing = "fixed_ratio"
ratio = "0.5"

[[slaves]]
id = "s2"
"""


async def ready(value: Any) -> Any:
    return value


def slave(slave_id: str, **over: Any) -> m.SlaveConfig:
    return m.SlaveConfig(id=slave_id, **over)


def mirrored(slave_id: str, symbol: str = "BTCUSDT", trade: int = 1) -> m.OrderMirrored:
    return m.OrderMirrored(
        slave_id=slave_id,
        market="usdm",
        symbol=symbol,
        position_side="BOTH",
        side="BUY",
        master_order_id=7,
        master_trade_id=trade,
        qty=Decimal("0.002"),
        exchange_order_id=99,
        status="FILLED",
        t_master_recv_ns=10,
        t_order_sent_ns=20,
        t_order_acked_ns=30,
    )


def failed(slave_id: str, symbol: str = "ETHUSDT") -> m.OrderFailed:
    return m.OrderFailed(
        slave_id=slave_id,
        market="usdm",
        symbol=symbol,
        position_side="BOTH",
        side="SELL",
        master_order_id=8,
        master_trade_id=2,
        qty=Decimal("0.1"),
        error_code=-2019,
        error_msg="Margin is insufficient.",
    )


class FakeSupervisor:
    """Stands in for AsyncSupervisor (the real one is tested against supervisord)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.pid = 100

    async def processes(self) -> list[ProcessInfo]:
        return [
            ProcessInfo(name="slave-s1", group="slave-s1", state="RUNNING", pid=self.pid),
            ProcessInfo(name="master-usdm", group="master-usdm", state="RUNNING", pid=5),
        ]

    async def restart(self, name: str) -> ProcessInfo:
        self.calls.append(("restart", name))
        if name not in ("slave-s1", "master-usdm"):
            raise SupervisionError(ErrorCode.NOT_FOUND, f"BAD_NAME: {name}", 10)
        self.pid += 1
        return ProcessInfo(name=name, group=name, state="RUNNING", pid=self.pid)

    async def add_group(self, name: str) -> None:
        self.calls.append(("add", name))

    async def remove_group(self, name: str) -> None:
        self.calls.append(("remove", name))

    async def update_groups(self, prefix: str = "slave-") -> ReloadResult:
        self.calls.append(("update", prefix))
        return ReloadResult()

    def close(self) -> None:
        pass


class Setup:
    def __init__(self, root: Path, urls: list[str]) -> None:
        self.root = root
        self.config_path = root / "copytrader.toml"
        self.runtime = root / "run"
        self.config_path.write_text(CONFIG.format(runtime=self.runtime, urls=msgspec.json.encode(urls).decode()))
        self.programs = root / "slaves"


async def expect_error(client: AsyncControlClient, msg: Any, code: ErrorCode) -> ControlError:
    with pytest.raises(ControlError) as info:
        await client.request(msg)
    assert info.value.code == code, info.value
    return info.value


# ------------------------------------------------------------------------------------ config


def raw_set(config: dict[str, Any], request_id: int = 77) -> bytes:
    return msgspec.msgpack.encode({"t": "setslave", "id": request_id, "config": config})


# ------------------------------------------------------------------------------------ reports


def pusher(actor: ControlActor) -> zmq.Socket[Any]:
    sock = zmq.Context.instance().socket(zmq.PUSH)
    sock.setsockopt(zmq.LINGER, 1000)
    sock.connect(actor.endpoints.reports)
    return sock
