"""Subscribe, Unsubscribe: live Pushes on the asking connection."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from protocol.control_api import Done, Subscribe, SubscribedResult, Unsubscribe
from protocol.errors import ErrorCode

from . import CommandError, command

if TYPE_CHECKING:
    from actors.control import ControlActor

PUSH_KINDS: Final = frozenset(
    {"mirrored", "skipped", "failed", "status", "desync", "reconciled", "slaveerr", "actor", "slavecfg", "pauseall"}
)


@command(Subscribe)
async def subscribe(actor: "ControlActor", req: Subscribe) -> SubscribedResult:
    unknown = sorted(set(req.kinds) - PUSH_KINDS)
    if unknown:
        raise CommandError(ErrorCode.INVALID_ARGUMENT, f"kinds: unknown {unknown} (known: {sorted(PUSH_KINDS)})")
    kinds = tuple(sorted(set(req.kinds)))
    actor.subscribe(actor.current_peer(), frozenset(kinds))
    return SubscribedResult(kinds=kinds)


@command(Unsubscribe)
async def unsubscribe(actor: "ControlActor", req: Unsubscribe) -> Done:
    actor.unsubscribe(actor.current_peer())
    return Done(detail="unsubscribed")
