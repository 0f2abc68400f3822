"""PauseSlave, ResumeSlave, PauseAll, ResumeAll."""

from __future__ import annotations

from typing import TYPE_CHECKING

from protocol.control_api import Done, PauseAll, PauseSlave, ResumeAll, ResumeSlave

from . import command, edits

if TYPE_CHECKING:
    from actors.control import ControlActor


async def _pause(actor: "ControlActor", slave_id: str, paused: bool) -> Done:
    edits.find_slave(actor.config, slave_id)
    await actor.update_config(lambda cfg: edits.set_paused(cfg, slave_id, paused)[0])
    actor.publish_slave_config(slave_id)
    word = "paused" if paused else "resumed"
    actor.audit(f"slave {slave_id} {word}", slave_id=slave_id)
    return Done(detail=f"slave {slave_id} {word}")


@command(PauseSlave)
async def pause_slave(actor: "ControlActor", req: PauseSlave) -> Done:
    return await _pause(actor, req.slave_id, True)


@command(ResumeSlave)
async def resume_slave(actor: "ControlActor", req: ResumeSlave) -> Done:
    return await _pause(actor, req.slave_id, False)


@command(PauseAll)
async def pause_all(actor: "ControlActor", req: PauseAll) -> Done:
    await actor.set_pause_all(True)
    actor.audit("every slave paused")
    return Done(detail="all slaves paused")


@command(ResumeAll)
async def resume_all(actor: "ControlActor", req: ResumeAll) -> Done:
    await actor.set_pause_all(False)
    actor.audit("pause-all lifted")
    return Done(detail="all slaves resumed (slaves paused one by one stay paused)")
