"""QueryJournal, AckError, GetLedger."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from protocol.control_api import AckError, Done, GetLedger, JournalResult, LedgerResult, QueryJournal
from protocol.errors import ErrorCode

from ..ledger import copy_rows, summarize
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


@command(GetLedger)
async def get_ledger(actor: "ControlActor", req: GetLedger) -> LedgerResult:
    since = int(time.time() * 1000) - req.hours * 3_600_000
    reports, equity = await actor.journal.ledger_input(since, req.slave_id)
    rows = copy_rows(reports)[-500:]
    summary = summarize(reports, equity)
    return LedgerResult(
        slave_id=req.slave_id,
        summary=summary[0] if summary else None,
        equity=tuple(v for _, _, v in equity),
        slippage_bps=tuple(r.slippage_bps for r in rows if r.slippage_bps is not None),
        latency_ms=tuple(r.latency_ms for r in rows if r.latency_ms is not None),
    )
