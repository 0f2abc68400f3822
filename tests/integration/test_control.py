"""The control actor in the test's loop (sockets on ipc:// in a temporary runtime dir)."""
from __future__ import annotations

import shutil
import tempfile
import typing
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
import zmq
import zmq.asyncio
from aiohttp import web

from actors.config import load_config
from actors.control import ControlActor
from actors.control.supervision import ProcessInfo, ReloadResult, SupervisionError
from protocol import messages as m
from protocol.client import AsyncControlClient, ControlError, ControlTimeout
from protocol.codec import decode_control_server_msg, encode, unpack_control_event
from protocol.errors import ErrorCode
from protocol.topics import master_topic
from tests.helpers.wait import aeventually

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
        slave_id=slave_id, market="usdm", symbol=symbol, position_side="BOTH", side="BUY", master_order_id=7,
        master_trade_id=trade, qty=Decimal("0.002"), exchange_order_id=99, status="FILLED",
        t_master_recv_ns=10, t_order_sent_ns=20, t_order_acked_ns=30,
    )


def failed(slave_id: str, symbol: str = "ETHUSDT") -> m.OrderFailed:
    return m.OrderFailed(
        slave_id=slave_id, market="usdm", symbol=symbol, position_side="BOTH", side="SELL", master_order_id=8,
        master_trade_id=2, qty=Decimal("0.1"), error_code=-2019, error_msg="Margin is insufficient.",
    )


class FakeSupervisor:
    """Stands in for AsyncSupervisor (the real one is tested against supervisord)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.pid = 100

    async def processes(self) -> list[ProcessInfo]:
        return [ProcessInfo(name="slave-s1", group="slave-s1", state="RUNNING", pid=self.pid),
                ProcessInfo(name="master-usdm", group="master-usdm", state="RUNNING", pid=5)]

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


@pytest.fixture
def setup() -> typing.Iterator[Setup]:
    root = Path(tempfile.mkdtemp(prefix="ct-"))  # short: ipc paths must stay < 108 bytes
    yield Setup(root, [])
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
async def actor(setup: Setup) -> AsyncIterator[ControlActor]:
    control = ControlActor(setup.config_path, require_key=False, tick_s=0.05, republish_s=0.05,
                           supervisor=FakeSupervisor(), programs_dir=setup.programs, poll_interval_s=0.05)  # type: ignore[arg-type]
    await control.start()
    yield control
    await control.stop()


@pytest.fixture
async def client(actor: ControlActor) -> AsyncIterator[AsyncControlClient]:
    async with AsyncControlClient(actor.endpoints.control, timeout=5) as c:
        yield c


async def expect_error(client: AsyncControlClient, msg: Any, code: ErrorCode) -> ControlError:
    with pytest.raises(ControlError) as info:
        await client.request(msg)
    assert info.value.code == code, info.value
    return info.value


# ------------------------------------------------------------------------------------ requests

async def test_every_control_request_is_answered(actor: ControlActor, client: AsyncControlClient) -> None:
    answered: set[type] = set()

    async def ok(msg: Any) -> Any:
        answered.add(type(msg))
        return await client.request(msg)

    status = await ok(m.GetStatus(id=0))
    assert isinstance(status, m.StatusResult) and status.slaves_total == 2
    assert {a.name for a in status.actors} >= {"slave-s1", "master-usdm"}
    listing = await ok(m.ListSlaves(id=0))
    assert [s.config.id for s in listing.slaves] == ["s1", "s2"]
    assert listing.slaves[0].process_state == "RUNNING"
    assert (await ok(m.GetSlave(id=0, slave_id="s1"))).slave.config.ratio == Decimal("0.5")
    assert isinstance(await ok(m.SetSlaveConfig(id=0, config=slave("s2", ratio=Decimal(2), sizing="fixed_ratio"))), m.Done)
    assert "added" in (await ok(m.AddSlave(id=0, config=slave("s3")))).detail
    assert isinstance(await ok(m.PauseSlave(id=0, slave_id="s3")), m.Done)
    assert isinstance(await ok(m.ResumeSlave(id=0, slave_id="s3")), m.Done)
    assert isinstance(await ok(m.PauseAll(id=0)), m.Done)
    assert (await client.request(m.GetStatus(id=0))).paused_all
    assert isinstance(await ok(m.ResumeAll(id=0)), m.Done)
    assert "pid 101" in (await ok(m.RestartActor(id=0, name="slave-s1"))).detail
    assert "flatten sent" in (await ok(m.FlattenSlave(id=0, slave_id="s1", market="usdm"))).detail
    entries = (await ok(m.QueryJournal(id=0, kind="control"))).entries
    assert any("slave s3 added" in e.summary for e in entries)
    assert "acknowledged" in (await ok(m.AckError(id=0))).detail
    assert (await ok(m.Subscribe(id=0, kinds=("failed",)))).kinds == ("failed",)
    assert isinstance(await ok(m.Unsubscribe(id=0)), m.Done)
    assert "removed" in (await ok(m.RemoveSlave(id=0, slave_id="s3"))).detail
    actor.config.log_dir.mkdir(parents=True, exist_ok=True)
    (actor.config.log_dir / "slave-s1.log").write_text("".join(f"line {i}\n" for i in range(500)) + "login secret=hunter2hunter2\n")
    tail = await ok(m.GetLogTail(id=0, name="slave-s1", lines=3))
    assert tail.lines[:2] == ("line 498", "line 499") and "hunter2" not in tail.lines[2]

    assert answered == set(typing.get_args(m.ControlRequest))  # a new request type needs a line here
    assert [c for c in actor.supervisor.calls if c[0] != "update"] == [  # type: ignore[union-attr]
        ("add", "slave-s3"), ("restart", "slave-s1"), ("remove", "slave-s3")]


async def test_typed_errors(actor: ControlActor, client: AsyncControlClient) -> None:
    await expect_error(client, m.GetSlave(id=0, slave_id="nope"), ErrorCode.NOT_FOUND)
    await expect_error(client, m.AddSlave(id=0, config=slave("s1")), ErrorCode.ALREADY_EXISTS)
    await expect_error(client, m.SetSlaveConfig(id=0, config=slave("nope")), ErrorCode.NOT_FOUND)
    await expect_error(client, m.RemoveSlave(id=0, slave_id="nope"), ErrorCode.NOT_FOUND)
    await expect_error(client, m.PauseSlave(id=0, slave_id="nope"), ErrorCode.NOT_FOUND)
    await expect_error(client, m.RestartActor(id=0, name="control"), ErrorCode.CONFLICT)
    await expect_error(client, m.RestartActor(id=0, name="ghost"), ErrorCode.NOT_FOUND)
    await expect_error(client, m.FlattenSlave(id=0, slave_id="s1", market="spot"), ErrorCode.INVALID_ARGUMENT)
    await expect_error(client, m.AckError(id=0, error_id=123456), ErrorCode.NOT_FOUND)
    err = await expect_error(client, m.Subscribe(id=0, kinds=("bogus",)), ErrorCode.INVALID_ARGUMENT)
    assert "bogus" in err.reason


async def test_add_slave_needs_its_key_in_the_keystore(setup: Setup, actor: ControlActor, client: AsyncControlClient) -> None:
    actor.require_key = True
    err = await expect_error(client, m.AddSlave(id=0, config=slave("s9")), ErrorCode.NOT_FOUND)
    assert "copytrader keys add s9" in err.reason

    records = actor.config.keystore_dir / "accounts"
    records.mkdir(parents=True)
    (records / "s9.json").write_text("{}")
    assert "added" in (await client.request(m.AddSlave(id=0, config=slave("s9")))).detail
    assert (setup.programs / "slave-s9.conf").exists()


async def test_malformed_frames_get_an_error_and_the_actor_keeps_serving(actor: ControlActor) -> None:
    ctx = zmq.asyncio.Context.instance()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(actor.endpoints.control)
    try:
        async def ask(*frames: bytes) -> m.Error | m.Ok:
            await sock.send_multipart(list(frames))
            reply = decode_control_server_msg((await sock.recv_multipart())[-1])
            assert not isinstance(reply, m.Push)
            return reply

        garbage = await ask(b"\xc1\xff not msgpack")
        assert isinstance(garbage, m.Error) and garbage.code == ErrorCode.BAD_MESSAGE and garbage.id == 0
        unknown = await ask(msgspec.msgpack.encode({"t": "launch-missiles", "id": 42}))
        assert isinstance(unknown, m.Error) and unknown.id == 42 and unknown.code == ErrorCode.BAD_MESSAGE
        huge = await ask(b"\x00" * (300 * 1024))
        assert isinstance(huge, m.Error) and huge.code == ErrorCode.MESSAGE_TOO_LARGE
        with_delimiter = await ask(b"", encode(m.GetStatus(id=9)))  # a REQ-style envelope is echoed
        assert isinstance(with_delimiter, m.Ok) and with_delimiter.id == 9

        still = await ask(encode(m.ListSlaves(id=5)))
        assert isinstance(still, m.Ok) and still.id == 5
        assert actor.bad_requests == 3
    finally:
        sock.close(0)


# ------------------------------------------------------------------------------------ config

def raw_set(config: dict[str, Any], request_id: int = 77) -> bytes:
    return msgspec.msgpack.encode({"t": "setslave", "id": request_id, "config": config})


@pytest.mark.parametrize(
    ("config", "code", "field"),
    [
        ({"id": "s1", "ratio": "-1"}, ErrorCode.BAD_MESSAGE, "ratio"),
        ({"id": "s1", "markets": ["coinm"]}, ErrorCode.BAD_MESSAGE, "markets"),
        ({"id": "s1", "markets": ["spot"]}, ErrorCode.INVALID_ARGUMENT, "markets"),
        ({"id": "s1", "leverage": 3}, ErrorCode.BAD_MESSAGE, "leverage"),
    ],
)
async def test_set_slave_config_refuses_bad_values_and_leaves_the_file_alone(
    setup: Setup, actor: ControlActor, config: dict[str, Any], code: ErrorCode, field: str
) -> None:
    before = setup.config_path.read_bytes()
    sock = zmq.asyncio.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(actor.endpoints.control)
    try:
        await sock.send(raw_set(config))
        reply = decode_control_server_msg((await sock.recv_multipart())[-1])
    finally:
        sock.close(0)

    assert isinstance(reply, m.Error) and reply.id == 77 and reply.code == code
    assert field in reply.reason
    assert setup.config_path.read_bytes() == before
    assert not setup.config_path.with_name("copytrader.toml.bak").exists()


async def test_set_slave_config_writes_atomically_with_backup_and_publishes(
    setup: Setup, actor: ControlActor, client: AsyncControlClient
) -> None:
    before = setup.config_path.read_text()
    sub = zmq.asyncio.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.LINGER, 0)
    sub.setsockopt(zmq.SUBSCRIBE, b"control.")
    sub.connect(actor.endpoints.config_pub)
    try:
        first = unpack_control_event(await sub.recv_multipart())  # the periodic pause-all: we are subscribed
        assert isinstance(first, m.PauseAllChanged)

        new = slave("s1", sizing="fixed_ratio", ratio=Decimal("0.25"), symbols_deny=("DOGEUSDT",))
        await client.request(m.SetSlaveConfig(id=0, config=new))

        while True:
            event = unpack_control_event(await sub.recv_multipart())
            if isinstance(event, m.SlaveConfigChanged):
                break
        assert event.slave_id == "s1" and event.config == new and event.version > 0
    finally:
        sub.close(0)
    assert load_config(setup.config_path).slave("s1") == new
    assert setup.config_path.with_name("copytrader.toml.bak").read_text() == before
    assert [p.name for p in setup.root.iterdir() if p.name.endswith(".tmp")] == []


async def test_pause_is_persisted_in_the_config(setup: Setup, client: AsyncControlClient) -> None:
    await client.request(m.PauseSlave(id=0, slave_id="s2"))

    assert load_config(setup.config_path).slave("s2").paused
    listing = await client.request(m.ListSlaves(id=0))
    assert listing.slaves[1].config.paused


async def test_remove_slave_deletes_config_and_program(setup: Setup, client: AsyncControlClient) -> None:
    assert (setup.programs / "slave-s2.conf").exists()  # written at start for every configured slave

    await client.request(m.RemoveSlave(id=0, slave_id="s2"))

    assert [s.id for s in load_config(setup.config_path).slaves] == ["s1"]
    assert not (setup.programs / "slave-s2.conf").exists()


# ------------------------------------------------------------------------------------ reports

def pusher(actor: ControlActor) -> zmq.Socket[Any]:
    sock = zmq.Context.instance().socket(zmq.PUSH)
    sock.setsockopt(zmq.LINGER, 1000)
    sock.connect(actor.endpoints.reports)
    return sock


async def test_reports_land_in_the_journal_and_are_queryable(actor: ControlActor, client: AsyncControlClient) -> None:
    push = pusher(actor)
    try:
        for i in range(1, 6):
            push.send(encode(mirrored("s1", "BTCUSDT", trade=i)))
        push.send(encode(failed("s2", "ETHUSDT")))
        push.send(b"garbage")  # dropped and counted
        push.send(encode(m.SlaveStatusReport(slave_id="s1", state="running", t_ns=1)))

        async def six() -> tuple[m.JournalEntry, ...]:
            entries = (await client.request(m.QueryJournal(id=0, kind="mirrored"))).entries
            return entries if len(entries) == 5 else ()

        await aeventually(six, what="five mirrored reports journalled")
    finally:
        push.close()

    by_slave = (await client.request(m.QueryJournal(id=0, slave_id="s2"))).entries
    assert [e.kind for e in by_slave] == ["failed"] and by_slave[0].report == failed("s2", "ETHUSDT")
    by_symbol = (await client.request(m.QueryJournal(id=0, symbol="BTCUSDT", limit=2))).entries
    assert len(by_symbol) == 2 and all(e.symbol == "BTCUSDT" for e in by_symbol)
    assert by_symbol[0].report.master_trade_id == 5  # newest first
    assert actor.bad_reports == 1
    status = await client.request(m.GetStatus(id=0))
    assert status.unacked_errors == 1
    summary = (await client.request(m.GetSlave(id=0, slave_id="s1"))).slave
    assert summary.status is not None and summary.status.state == "running"
    assert summary.state == "running" and summary.last_error == ""


async def test_subscribe_gets_live_pushes_of_the_kinds_asked(actor: ControlActor, client: AsyncControlClient) -> None:
    await client.request(m.Subscribe(id=0, kinds=("failed", "slavecfg")))
    push = pusher(actor)
    try:
        push.send(encode(mirrored("s1")))
        push.send(encode(failed("s1")))
        first = await client.pushes.get()
        await client.request(m.PauseSlave(id=0, slave_id="s1"))
        second = await client.pushes.get()
    finally:
        push.close()

    assert first.event == failed("s1")  # the mirrored report was not asked for
    assert isinstance(second.event, m.SlaveConfigChanged) and second.event.config.paused  # type: ignore[union-attr]

    await client.request(m.Unsubscribe(id=0))
    await client.request(m.PauseSlave(id=0, slave_id="s2"))
    await client.request(m.GetStatus(id=0))  # replies are ordered after any push
    assert client.pushes.empty()


async def test_master_events_are_journalled(actor: ControlActor, client: AsyncControlClient) -> None:
    pub = zmq.Context.instance().socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    pub.bind(actor.endpoints.master_pub("usdm"))
    fill = m.MasterFill(
        market="usdm", epoch=1, seq=1, symbol="BTCUSDT", position_side="BOTH", side="BUY", order_id=1, trade_id=2,
        client_order_id="x", order_type="MARKET", price=Decimal("65000"), qty=Decimal("0.01"),
        cum_qty=Decimal("0.01"), status="FILLED", position_before=Decimal(0), position_after=Decimal("0.01"),
        equity=Decimal(1000), t_exchange_ms=1, t_master_recv_ns=2, t_master_pub_ns=3,
    )
    try:
        async def journalled() -> tuple[m.JournalEntry, ...]:
            hb = m.Heartbeat(market="usdm", epoch=1, seq=0, t_ns=1, connected=True)
            pub.send_multipart([master_topic("usdm", "hb"), encode(hb)])
            pub.send_multipart([master_topic("usdm", "fill"), encode(fill)])
            return (await client.request(m.QueryJournal(id=0, kind="master.fill", limit=1))).entries

        [entry] = await aeventually(journalled, what="master fill journalled")
    finally:
        pub.close(0)
    assert entry.symbol == "BTCUSDT" and "0 -> 0.01" in entry.summary
    assert "usdm" in actor.heartbeats
    [master] = (await client.request(m.GetStatus(id=0))).masters
    assert master.market == "usdm" and master.equity == Decimal(1000)
    assert [(p.symbol, p.qty) for p in master.positions] == [("BTCUSDT", Decimal("0.01"))]


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


async def test_twenty_failing_slaves_give_one_notification_journalled(
    receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    url, posts = receiver
    root = Path(tempfile.mkdtemp(prefix="ct-"))
    setup = Setup(root, [url])
    control = ControlActor(setup.config_path, require_key=False)
    await control.start()
    push = pusher(control)
    try:
        for i in range(10):
            push.send(encode(failed(f"f{i:02d}")))
            push.send(encode(m.SlaveError(slave_id=f"e{i:02d}", code="key_invalid", message="-2015", fatal=True, t_ns=1)))

        await aeventually(lambda: ready(len(posts) == 1 and not control.notifier._inflight), what="one post")
        await control.notifier.drain()
        await control.journal.flush()

        assert len(posts) == 1 and posts[0]["title"].startswith("copytrader: 20 alerts")
        notes = await control.journal.query(10, kind="notify")
        assert len(notes) == 1 and "20 alerts" in notes[0].summary
    finally:
        push.close()
        await control.stop()
        shutil.rmtree(root, ignore_errors=True)


async def test_lost_master_stream_raises_one_alert(setup: Setup) -> None:
    sent: list[tuple[str, str]] = []
    control = ControlActor(setup.config_path, require_key=False, sender=lambda t, b: sent.append((t, b)) or True)
    await control.start()
    try:
        control.check_master_streams(now=control._started_at + 10)
        assert control.notifier.batcher.deadline is None  # 10 s < stream_lost_after_s
        control.check_master_streams(now=control._started_at + 31)
        control.check_master_streams(now=control._started_at + 40)  # once, not every tick
        await aeventually(lambda: ready(len(sent) == 1), what="one notification")
        assert sent[0][0] == "copytrader: master-usdm: stream lost"
    finally:
        await control.stop()


async def test_flapping_and_fatal_slaves_raise_alerts(setup: Setup) -> None:
    sent: list[tuple[str, str]] = []
    control = ControlActor(setup.config_path, require_key=False, sender=lambda t, b: sent.append((t, b)) or True)
    await control.start()
    try:
        def info(state: str) -> ProcessInfo:
            return ProcessInfo(name="slave-s1", group="slave-s1", state=state)

        for i, (before, state) in enumerate([("RUNNING", "STARTING"), ("BACKOFF", "STARTING"), ("BACKOFF", "STARTING")]):
            control._process_changed("slave-s1", before, info(state), now=100.0 + i)
        control._process_changed("slave-s2", "BACKOFF", ProcessInfo(name="slave-s2", group="slave-s2", state="FATAL"), 104.0)

        await aeventually(lambda: ready(len(sent) == 1), what="one grouped notification")
        title, body = sent[0]
        assert title == "copytrader: 2 alerts (1 slave flapping, 1 slave down)"
        assert "slave-s1 is flapping" in body and "slave-s2 is FATAL" in body
        entries = await control.journal.query(10, kind="actor")
        assert len(entries) == 4 and any(not e.acked for e in entries)  # FATAL is an error to acknowledge
    finally:
        await control.stop()


async def test_async_client_times_out_when_control_does_not_answer(setup: Setup) -> None:
    mute = zmq.Context.instance().socket(zmq.ROUTER)
    mute.setsockopt(zmq.LINGER, 0)
    setup.runtime.mkdir(mode=0o700)
    endpoint = f"ipc://{setup.runtime / 'mute.ctl'}"
    mute.bind(endpoint)
    try:
        async with AsyncControlClient(endpoint, timeout=0.2) as c:
            with pytest.raises(ControlTimeout):
                await c.request(m.GetStatus(id=0))
            assert mute.poll(1000)  # the request did arrive: the timeout is the reply's
    finally:
        mute.close(0)
