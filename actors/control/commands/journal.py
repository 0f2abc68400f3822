"""QueryJournal, AckError."""

from __future__ import annotations

from typing import TYPE_CHECKING

from protocol.control_api import AckError, Done, JournalResult, QueryJournal
from protocol.errors import ErrorCode

from . import CommandError, command

if TYPE_CHECKING:
    from actors.control import ControlActor


@command(QueryJournal)
async def query_journal(actor: "ControlActor", req: QueryJournal) -> JournalResult:
    entries = await actor.journal.query(req.limit, slave_id=req.slave_id, symbol=req.symbol, kind=req.kind, before_id=req.before_id)
    return JournalResult(entries=tuple(entries))


@command(AckError)
async def ack_error(actor: "ControlActor", req: AckError) -> Done:
    count = await actor.journal.ack(req.error_id)
    if req.error_id is not None and count == 0 and not await actor.journal.exists(req.error_id):
        raise CommandError(ErrorCode.NOT_FOUND, f"error_id: no journal entry {req.error_id}")
    return Done(detail=f"{count} error(s) acknowledged")
