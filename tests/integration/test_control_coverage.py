"""Control journals "covered" rows for the master fills a slave missed (dead, gap) and its next
sync covered; the index survives a restart of control (rebuilt from the journal)."""

from __future__ import annotations

import shutil
import tempfile
import typing
from decimal import Decimal
from pathlib import Path

import pytest

from actors.control import ControlActor
from protocol import messages as m
from protocol.codec import pack_master_event

CONFIG = """
[exchange]
network = "simulator"
url = "http://127.0.0.1:1"

[paths]
runtime_dir = "{runtime}"

[masters.usdm]
account = "master"

[[slaves]]
id = "s1"
"""
EPOCH = 7


@pytest.fixture
def config_path() -> typing.Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="ct-"))  # short: ipc paths must stay < 108 bytes
    path = root / "copytrader.toml"
    path.write_text(CONFIG.format(runtime=root / "run"))
    yield path
    shutil.rmtree(root, ignore_errors=True)


def fill(seq: int, symbol: str = "BTCUSDT") -> m.MasterFill:
    return m.MasterFill(
        market="usdm",
        epoch=EPOCH,
        seq=seq,
        symbol=symbol,
        position_side="BOTH",
        side="BUY",
        order_id=100 + seq,
        trade_id=200 + seq,
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


def mirrored(seq: int, symbol: str = "BTCUSDT") -> m.OrderMirrored:
    return m.OrderMirrored(
        slave_id="s1",
        market="usdm",
        symbol=symbol,
        position_side="BOTH",
        side="BUY",
        master_order_id=100 + seq,
        master_trade_id=200 + seq,
        master_epoch=EPOCH,
        master_seq=seq,
        qty=Decimal("0.01"),
        exchange_order_id=9,
        status="FILLED",
        t_order_sent_ns=1,
        t_order_acked_ns=2,
    )


def reconciled(seq: int) -> m.Reconciled:
    return m.Reconciled(slave_id="s1", market="usdm", orders=1, t_ns=1, master_epoch=EPOCH, master_seq=seq)


async def covered(actor: ControlActor) -> list[int]:
    rows = await actor.journal.query(1000, kind="covered")
    return sorted(int(e.summary.split()[2]) for e in rows)  # "fill seq N covered by ..."


async def test_fills_missed_while_dead_are_journalled_as_covered_once_even_across_a_control_restart(config_path):
    actor = ControlActor(config_path, require_key=False)
    await actor.start()
    try:
        for seq in (1, 2, 3):
            actor._on_master_event(list(pack_master_event(fill(seq))))
        actor.note_report(mirrored(1))  # the slave copied fill 1, then was killed
        actor.note_report(reconciled(2))  # restarted: its sync at snapshot seq 2 covers fill 2
        await actor.journal.flush()
        assert await covered(actor) == [2]
    finally:
        await actor.stop()

    actor = ControlActor(config_path, require_key=False)  # control restarted: index from the journal
    await actor.start()
    try:
        actor.note_report(reconciled(3))
        await actor.journal.flush()
        assert await covered(actor) == [2, 3]  # fill 2 not covered twice, fill 1 (mirrored) never
        [row] = [e for e in await actor.journal.query(1000, kind="covered") if "seq 3" in e.summary]
        assert row.slave_id == "s1" and row.symbol == "BTCUSDT"
    finally:
        await actor.stop()


async def test_a_fill_skipped_silently_by_a_live_slave_is_not_covered(config_path):
    actor = ControlActor(config_path, require_key=False)
    await actor.start()
    try:
        for seq in (1, 2, 3):
            actor._on_master_event(list(pack_master_event(fill(seq))))
        actor.note_report(mirrored(1))
        actor.note_report(mirrored(3))  # 2 never decided, though the slave went on on that symbol
        actor.note_report(reconciled(3))
        await actor.journal.flush()
        assert await covered(actor) == []
    finally:
        await actor.stop()
