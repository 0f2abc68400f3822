"""Protocol errors and the numeric error codes of every request/reply envelope.

Like supervisor's faults: a small, stable list of numbers. A code never changes meaning once
released; new codes are appended.
"""

from __future__ import annotations

import enum


class ErrorCode(enum.IntEnum):
    """Numeric error codes carried in `Error.code` (control and snapshot sockets)."""

    BAD_MESSAGE = 1  # undecodable, wrong type, failed validation
    MESSAGE_TOO_LARGE = 2  # body over the socket's size limit
    BAD_FRAMES = 3  # wrong multipart layout (frame count, topic mismatch)
    UNKNOWN_COMMAND = 4  # well-formed but no handler for it
    INVALID_ARGUMENT = 5  # decoded, but the arguments make no sense for this command
    NOT_FOUND = 6  # no such slave / actor / journal entry
    ALREADY_EXISTS = 7  # AddSlave for an id that exists
    CONFLICT = 8  # the current state does not allow it (e.g. remove a running slave)
    TIMEOUT = 9  # a downstream party did not answer in time
    UNAVAILABLE = 10  # a downstream party (supervisor, master, exchange) is unreachable
    NOT_READY = 11  # the answering actor has no state yet (e.g. master before its first snapshot)
    WRONG_MARKET = 12  # a snapshot request for a market this master does not follow
    INTERNAL = 13  # a bug: the handler raised


class ProtocolError(ValueError):
    """A message that cannot be accepted: raised by every `decode_*` / `unpack_*` in codec.

    `code` is an `ErrorCode`, `reason` a human sentence naming what is wrong. The text never
    contains the raw message body (only msgspec's path-and-type description of the fault).
    """

    def __init__(self, code: ErrorCode, reason: str) -> None:
        super().__init__(f"{code.name}: {reason}")
        self.code = code
        self.reason = reason
