"""The control actor (actors/control/) over its real sockets: every request answered, typed errors,
malformed frames, and config changes (atomic, backed up, published).
"""

from __future__ import annotations

import typing
from decimal import Decimal
from typing import Any

import msgspec
import pytest
import zmq
import zmq.asyncio

from actors.config import load_config
from actors.control import ControlActor
from actors.control.records import record_for_equity
from protocol import control_api as api, messages as m
from protocol.client import AsyncControlClient
from protocol.codec import decode_control_server_msg, encode, unpack_control_event
from protocol.errors import ErrorCode
from tests.helpers.control_actor import Setup, expect_error, raw_set, slave

# ------------------------------------------------------------------------------------ requests


async def test_every_control_request_is_answered(actor: ControlActor, client: AsyncControlClient) -> None:
    answered: set[type] = set()

    async def ok(msg: Any) -> Any:
        answered.add(type(msg))
        return await client.request(msg)

    status = await ok(api.GetStatus(id=0))
    assert isinstance(status, api.StatusResult) and status.slaves_total == 2
    assert {a.name for a in status.actors} >= {"slave-s1", "master-usdm"}
    listing = await ok(api.ListSlaves(id=0))
    assert [s.config.id for s in listing.slaves] == ["s1", "s2"]
    assert listing.slaves[0].process_state == "RUNNING"
    assert (await ok(api.GetSlave(id=0, slave_id="s1"))).slave.config.ratio == Decimal("0.5")
    assert isinstance(await ok(api.SetSlaveConfig(id=0, config=slave("s2", ratio=Decimal(2), sizing="fixed_ratio"))), api.Done)
    assert "added" in (await ok(api.AddSlave(id=0, config=slave("s3")))).detail
    assert isinstance(await ok(api.PauseSlave(id=0, slave_id="s3")), api.Done)
    assert isinstance(await ok(api.ResumeSlave(id=0, slave_id="s3")), api.Done)
    assert isinstance(await ok(api.PauseAll(id=0)), api.Done)
    assert (await client.request(api.GetStatus(id=0))).paused_all
    assert isinstance(await ok(api.ResumeAll(id=0)), api.Done)
    assert "pid 101" in (await ok(api.RestartActor(id=0, name="slave-s1"))).detail
    assert "flatten sent" in (await ok(api.FlattenSlave(id=0, slave_id="s1", market="usdm"))).detail
    entries = (await ok(api.QueryJournal(id=0, kind="control"))).entries
    assert any("slave s3 added" in e.summary for e in entries)
    assert "acknowledged" in (await ok(api.AckError(id=0))).detail
    assert (await ok(api.Subscribe(id=0, kinds=("failed",)))).kinds == ("failed",)
    assert isinstance(await ok(api.Unsubscribe(id=0)), api.Done)
    assert "removed" in (await ok(api.RemoveSlave(id=0, slave_id="s3"))).detail
    actor.config.log_dir.mkdir(parents=True, exist_ok=True)
    (actor.config.log_dir / "slave-s1.log").write_text("".join(f"line {i}\n" for i in range(500)) + "login secret=hunter2hunter2\n")
    tail = await ok(api.GetLogTail(id=0, name="slave-s1", lines=3))
    assert tail.lines[:2] == ("line 498", "line 499") and "hunter2" not in tail.lines[2]

    assert (await ok(api.GetLedger(id=0, slave_id="s1"))).summary is None  # nothing journalled for it yet
    actor.journal.append(record_for_equity("s1", Decimal("1000")))
    actor.journal.append(record_for_equity("s1", Decimal("950")))
    await actor.journal.flush()
    ledger = await ok(api.GetLedger(id=0, slave_id="s1", hours=1))
    assert ledger.equity == (Decimal(1000), Decimal(950)) and ledger.summary.max_drawdown_pct == Decimal(5)

    assert answered == set(typing.get_args(api.ControlRequest))  # a new request type needs a line here
    assert [c for c in actor.supervisor.calls if c[0] != "update"] == [  # type: ignore[union-attr]
        ("add", "slave-s3"),
        ("restart", "slave-s1"),
        ("remove", "slave-s3"),
    ]


async def test_typed_errors(actor: ControlActor, client: AsyncControlClient) -> None:
    await expect_error(client, api.GetSlave(id=0, slave_id="nope"), ErrorCode.NOT_FOUND)
    await expect_error(client, api.AddSlave(id=0, config=slave("s1")), ErrorCode.ALREADY_EXISTS)
    await expect_error(client, api.SetSlaveConfig(id=0, config=slave("nope")), ErrorCode.NOT_FOUND)
    await expect_error(client, api.RemoveSlave(id=0, slave_id="nope"), ErrorCode.NOT_FOUND)
    await expect_error(client, api.PauseSlave(id=0, slave_id="nope"), ErrorCode.NOT_FOUND)
    await expect_error(client, api.RestartActor(id=0, name="control"), ErrorCode.CONFLICT)
    await expect_error(client, api.RestartActor(id=0, name="ghost"), ErrorCode.NOT_FOUND)
    await expect_error(client, api.FlattenSlave(id=0, slave_id="s1", market="spot"), ErrorCode.INVALID_ARGUMENT)
    await expect_error(client, api.AckError(id=0, error_id=123456), ErrorCode.NOT_FOUND)
    err = await expect_error(client, api.Subscribe(id=0, kinds=("bogus",)), ErrorCode.INVALID_ARGUMENT)
    assert "bogus" in err.reason


async def test_add_slave_needs_its_key_in_the_keystore(setup: Setup, actor: ControlActor, client: AsyncControlClient) -> None:
    actor.require_key = True
    err = await expect_error(client, api.AddSlave(id=0, config=slave("s9")), ErrorCode.NOT_FOUND)
    assert "copytrader keys add s9" in err.reason

    records = actor.config.keystore_dir / "accounts"
    records.mkdir(parents=True)
    (records / "s9.json").write_text("{}")
    assert "added" in (await client.request(api.AddSlave(id=0, config=slave("s9")))).detail
    assert (setup.programs / "slave-s9.conf").exists()


async def test_malformed_frames_get_an_error_and_the_actor_keeps_serving(actor: ControlActor) -> None:
    ctx = zmq.asyncio.Context.instance()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(actor.endpoints.control)
    try:

        async def ask(*frames: bytes) -> m.Error | api.Ok:
            await sock.send_multipart(list(frames))
            reply = decode_control_server_msg((await sock.recv_multipart())[-1])
            assert not isinstance(reply, api.Push)
            return reply

        garbage = await ask(b"\xc1\xff not msgpack")
        assert isinstance(garbage, m.Error) and garbage.code == ErrorCode.BAD_MESSAGE and garbage.id == 0
        unknown = await ask(msgspec.msgpack.encode({"t": "launch-missiles", "id": 42}))
        assert isinstance(unknown, m.Error) and unknown.id == 42 and unknown.code == ErrorCode.BAD_MESSAGE
        huge = await ask(b"\x00" * (300 * 1024))
        assert isinstance(huge, m.Error) and huge.code == ErrorCode.MESSAGE_TOO_LARGE
        with_delimiter = await ask(b"", encode(api.GetStatus(id=9)))  # a REQ-style envelope is echoed
        assert isinstance(with_delimiter, api.Ok) and with_delimiter.id == 9

        still = await ask(encode(api.ListSlaves(id=5)))
        assert isinstance(still, api.Ok) and still.id == 5
        assert actor.bad_requests == 3
    finally:
        sock.close(0)


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
        await client.request(api.SetSlaveConfig(id=0, config=new))

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
    await client.request(api.PauseSlave(id=0, slave_id="s2"))

    assert load_config(setup.config_path).slave("s2").paused
    listing = await client.request(api.ListSlaves(id=0))
    assert listing.slaves[1].config.paused


async def test_remove_slave_deletes_config_and_program(setup: Setup, client: AsyncControlClient) -> None:
    assert (setup.programs / "slave-s2.conf").exists()  # written at start for every configured slave

    await client.request(api.RemoveSlave(id=0, slave_id="s2"))

    assert [s.id for s in load_config(setup.config_path).slaves] == ["s1"]
    assert not (setup.programs / "slave-s2.conf").exists()
