"""GetLogTail: the last lines of one program's log file (logs/<name>.log), redacted."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import TYPE_CHECKING

from keystore import redact
from protocol.control_api import GetLogTail, LogTailResult
from protocol.errors import ErrorCode

from . import CommandError, command

if TYPE_CHECKING:
    from actors.control import ControlActor

MAX_LINE = 2000  # characters kept of one log line
CHUNK = 64 * 1024


def tail_lines(path: Path, lines: int) -> list[str]:
    """The last `lines` lines of `path`, reading backwards in chunks (a log may be large)."""
    with open(path, "rb") as fh:
        fh.seek(0, os.SEEK_END)
        end = fh.tell()
        data = b""
        pos = end
        while pos > 0 and data.count(b"\n") <= lines:
            step = min(CHUNK, pos)
            pos -= step
            fh.seek(pos)
            data = fh.read(step) + data
    text = data.decode("utf-8", errors="replace").splitlines()
    return [line[:MAX_LINE] for line in text[-lines:]]


@command(GetLogTail)
async def get_log_tail(actor: "ControlActor", req: GetLogTail) -> LogTailResult:
    path = actor.config.log_dir / f"{req.name}.log"
    try:
        lines = await asyncio.to_thread(tail_lines, path, req.lines)
    except FileNotFoundError:
        raise CommandError(ErrorCode.NOT_FOUND, f"name: no log file for {req.name!r}") from None
    except OSError as exc:
        raise CommandError(ErrorCode.UNAVAILABLE, f"cannot read the log of {req.name!r}: {exc.strerror}") from None
    return LogTailResult(name=req.name, lines=tuple(redact.redact(line) for line in lines))
