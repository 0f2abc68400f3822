"""Control commands, one module per family (circus-style): each handler takes the control actor
and one decoded request, and returns a `ControlResult` or raises `CommandError`.

Errors become `Error` replies in one place (`dispatch`): a `CommandError` keeps its code and
reason; any other exception is INTERNAL with only its type name (never its text, which could
carry data we do not control).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from protocol.control_api import ControlRequest, ControlResult, Ok
from protocol.errors import ErrorCode
from protocol.messages import Error

if TYPE_CHECKING:
    from actors.control import ControlActor

log = logging.getLogger("copytrader.control")


class CommandError(Exception):
    """A request that cannot be done: `code` an ErrorCode, `reason` a sentence naming why."""

    def __init__(self, code: ErrorCode, reason: str) -> None:
        super().__init__(f"{code.name}: {reason}")
        self.code = code
        self.reason = reason


Handler = Callable[["ControlActor", Any], Awaitable[ControlResult]]
HANDLERS: dict[type, Handler] = {}


def command(request_type: type) -> Callable[[Handler], Handler]:
    """Register the handler of one request type."""

    def register(func: Handler) -> Handler:
        HANDLERS[request_type] = func
        return func

    return register


async def dispatch(actor: "ControlActor", request: ControlRequest) -> Ok | Error:
    handler = HANDLERS.get(type(request))
    if handler is None:
        return Error(id=request.id, code=ErrorCode.UNKNOWN_COMMAND, reason=f"no handler for {type(request).__name__}")
    try:
        return Ok(id=request.id, result=await handler(actor, request))
    except CommandError as exc:
        return Error(id=request.id, code=exc.code, reason=exc.reason)
    except Exception as exc:  # a bug: the actor keeps serving
        log.exception("handler of %s failed", type(request).__name__)
        return Error(id=request.id, code=ErrorCode.INTERNAL, reason=f"{type(request).__name__} failed: {type(exc).__name__}")


# Register every command module.
from . import journal, logs, pause, processes, slaves, status, subscribe  # noqa: E402,F401
