"""RestartActor, FlattenSlave: acting on processes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from actors.control.supervision import SupervisionError
from protocol.control_api import Done, FlattenSlave, RestartActor
from protocol.errors import ErrorCode
from protocol.messages import FlattenCommand

from . import CommandError, command, edits

if TYPE_CHECKING:
    from actors.control import ControlActor


@command(RestartActor)
async def restart_actor(actor: "ControlActor", req: RestartActor) -> Done:
    if req.name == "control":
        raise CommandError(ErrorCode.CONFLICT, "control cannot restart itself (use supervisorctl restart control)")
    sup = actor.require_supervisor()
    actor.restarting.add(req.name)
    try:
        info = await sup.restart(req.name)
    except SupervisionError as exc:
        raise CommandError(exc.code, exc.reason) from None
    finally:
        actor.restarting.discard(req.name)
    actor.restarted_pid[req.name] = info.pid  # the poll will see this new pid: not a death
    actor.audit(f"{req.name} restarted (pid {info.pid})", slave_id=actor.slave_of(req.name))
    return Done(detail=f"{req.name} restarted: {info.state}, pid {info.pid}")


@command(FlattenSlave)
async def flatten_slave(actor: "ControlActor", req: FlattenSlave) -> Done:
    slave = edits.find_slave(actor.config, req.slave_id)
    if req.market is not None and req.market not in slave.markets:
        raise CommandError(ErrorCode.INVALID_ARGUMENT, f"market: slave {req.slave_id} does not follow {req.market}")
    actor.publish(FlattenCommand(request_id=req.id, slave_id=req.slave_id, market=req.market, symbol=req.symbol))
    scope = " ".join(x for x in (req.market, req.symbol) if x) or "all positions"
    actor.audit(f"flatten sent to {req.slave_id}: {scope}", slave_id=req.slave_id)
    return Done(detail=f"flatten sent to {req.slave_id} ({scope})")
