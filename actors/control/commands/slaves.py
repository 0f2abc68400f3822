"""ListSlaves, GetSlave, SetSlaveConfig, AddSlave, RemoveSlave."""

from __future__ import annotations

from typing import TYPE_CHECKING

from protocol.control_api import AddSlave, Done, GetSlave, ListSlaves, RemoveSlave, SetSlaveConfig, SlaveListResult, SlaveResult
from protocol.errors import ErrorCode

from . import CommandError, command, edits

if TYPE_CHECKING:
    from actors.control import ControlActor


@command(ListSlaves)
async def list_slaves(actor: "ControlActor", req: ListSlaves) -> SlaveListResult:
    return SlaveListResult(slaves=tuple(actor.slave_summary(s.id) for s in actor.config.slaves))


@command(GetSlave)
async def get_slave(actor: "ControlActor", req: GetSlave) -> SlaveResult:
    edits.find_slave(actor.config, req.slave_id)
    return SlaveResult(slave=actor.slave_summary(req.slave_id))


@command(SetSlaveConfig)
async def set_slave_config(actor: "ControlActor", req: SetSlaveConfig) -> Done:
    await actor.update_config(lambda cfg: edits.set_slave(cfg, req.config))
    actor.publish_slave_config(req.config.id)
    actor.audit(f"slave {req.config.id} configuration set", slave_id=req.config.id)
    return Done(detail=f"slave {req.config.id} updated")


@command(AddSlave)
async def add_slave(actor: "ControlActor", req: AddSlave) -> Done:
    slave = req.config
    if any(s.id == slave.id for s in actor.config.slaves):
        raise CommandError(ErrorCode.ALREADY_EXISTS, f"slave {slave.id!r} already exists")
    if not actor.has_key(slave.id):
        raise CommandError(
            ErrorCode.NOT_FOUND, f"no API key for account {slave.id!r} in the keystore: add it first (copytrader keys add {slave.id})"
        )
    await actor.update_config(lambda cfg: edits.add_slave(cfg, slave))
    actor.publish_slave_config(slave.id)
    detail = await actor.start_slave_program(slave.id)
    actor.audit(f"slave {slave.id} added; {detail}", slave_id=slave.id)
    return Done(detail=f"slave {slave.id} added; {detail}")


@command(RemoveSlave)
async def remove_slave(actor: "ControlActor", req: RemoveSlave) -> Done:
    edits.find_slave(actor.config, req.slave_id)
    detail = await actor.stop_slave_program(req.slave_id)
    await actor.update_config(lambda cfg: edits.remove_slave(cfg, req.slave_id))
    actor.publish_slave_removed(req.slave_id)
    actor.audit(f"slave {req.slave_id} removed; {detail}", slave_id=req.slave_id)
    return Done(detail=f"slave {req.slave_id} removed; {detail}")
