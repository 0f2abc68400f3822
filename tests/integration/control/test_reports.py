"""The control actor (actors/control/): reports in the journal, live pushes, master events journalled,
notifications (one for twenty failing slaves, lost streams, flapping and fatal slaves), client timeouts.
"""

from __future__ import annotations

import shutil
import tempfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import zmq
import zmq.asyncio

from actors.control import ControlActor
from actors.control.supervision import ProcessInfo
from protocol import control_api as api, messages as m
from protocol.client import AsyncControlClient, ControlTimeout
from protocol.codec import encode
from protocol.topics import master_topic
from tests.helpers.control_actor import Setup, failed, mirrored, pusher, ready
from tests.helpers.wait import aeventually


async def test_reports_land_in_the_journal_and_are_queryable(actor: ControlActor, client: AsyncControlClient) -> None:
    push = pusher(actor)
    try:
        for i in range(1, 6):
            push.send(encode(mirrored("s1", "BTCUSDT", trade=i)))
        push.send(encode(failed("s2", "ETHUSDT")))
        push.send(b"garbage")  # dropped and counted
        push.send(encode(m.SlaveStatusReport(slave_id="s1", state="running", t_ns=1)))

        async def six() -> tuple[api.JournalEntry, ...]:
            entries = (await client.request(api.QueryJournal(id=0, kind="mirrored"))).entries
            return entries if len(entries) == 5 else ()

        await aeventually(six, what="five mirrored reports journalled")
    finally:
        push.close()

    by_slave = (await client.request(api.QueryJournal(id=0, slave_id="s2"))).entries
    assert [e.kind for e in by_slave] == ["failed"] and by_slave[0].report == failed("s2", "ETHUSDT")
    by_symbol = (await client.request(api.QueryJournal(id=0, symbol="BTCUSDT", limit=2))).entries
    assert len(by_symbol) == 2 and all(e.symbol == "BTCUSDT" for e in by_symbol)
    assert by_symbol[0].report.master_trade_id == 5  # newest first
    assert actor.bad_reports == 1
    status = await client.request(api.GetStatus(id=0))
    assert status.unacked_errors == 1
    summary = (await client.request(api.GetSlave(id=0, slave_id="s1"))).slave
    assert summary.status is not None and summary.status.state == "running"
    assert summary.state == "running" and summary.last_error == ""


async def test_subscribe_gets_live_pushes_of_the_kinds_asked(actor: ControlActor, client: AsyncControlClient) -> None:
    await client.request(api.Subscribe(id=0, kinds=("failed", "slavecfg")))
    push = pusher(actor)
    try:
        push.send(encode(mirrored("s1")))
        push.send(encode(failed("s1")))
        first = await client.pushes.get()
        await client.request(api.PauseSlave(id=0, slave_id="s1"))
        second = await client.pushes.get()
    finally:
        push.close()

    assert first.event == failed("s1")  # the mirrored report was not asked for
    assert isinstance(second.event, m.SlaveConfigChanged) and second.event.config.paused  # type: ignore[union-attr]

    await client.request(api.Unsubscribe(id=0))
    await client.request(api.PauseSlave(id=0, slave_id="s2"))
    await client.request(api.GetStatus(id=0))  # replies are ordered after any push
    assert client.pushes.empty()


async def test_master_events_are_journalled(actor: ControlActor, client: AsyncControlClient) -> None:
    pub = zmq.Context.instance().socket(zmq.PUB)
    pub.setsockopt(zmq.LINGER, 0)
    pub.bind(actor.endpoints.master_pub("usdm"))
    fill = m.MasterFill(
        market="usdm",
        epoch=1,
        seq=1,
        symbol="BTCUSDT",
        position_side="BOTH",
        side="BUY",
        order_id=1,
        trade_id=2,
        client_order_id="x",
        order_type="MARKET",
        price=Decimal("65000"),
        qty=Decimal("0.01"),
        cum_qty=Decimal("0.01"),
        status="FILLED",
        position_before=Decimal(0),
        position_after=Decimal("0.01"),
        equity=Decimal(1000),
        t_exchange_ms=1,
        t_master_recv_ns=2,
        t_master_pub_ns=3,
    )
    try:

        async def journalled() -> tuple[api.JournalEntry, ...]:
            hb = m.Heartbeat(market="usdm", epoch=1, seq=0, t_ns=1, connected=True)
            pub.send_multipart([master_topic("usdm", "hb"), encode(hb)])
            pub.send_multipart([master_topic("usdm", "fill"), encode(fill)])
            return (await client.request(api.QueryJournal(id=0, kind="master.fill", limit=1))).entries

        [entry] = await aeventually(journalled, what="master fill journalled")
    finally:
        pub.close(0)
    assert entry.symbol == "BTCUSDT" and "0 -> 0.01" in entry.summary
    assert "usdm" in actor.heartbeats
    [master] = (await client.request(api.GetStatus(id=0))).masters
    assert master.market == "usdm" and master.equity == Decimal(1000)
    assert [(p.symbol, p.qty) for p in master.positions] == [("BTCUSDT", Decimal("0.01"))]


async def test_twenty_failing_slaves_give_one_notification_journalled(receiver: tuple[str, list[dict[str, Any]]]) -> None:
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
                await c.request(api.GetStatus(id=0))
            assert mute.poll(1000)  # the request did arrive: the timeout is the reply's
    finally:
        mute.close(0)
