"""Control's constants, its persistent state, and small helpers."""

from __future__ import annotations

import contextvars
import logging

import msgspec

from .notify import Alert

log = logging.getLogger("copytrader.control")

PEER: contextvars.ContextVar[bytes] = contextvars.ContextVar("peer", default=b"")
FLAP_STARTS = 3  # this many (re)starts ...
FLAP_WINDOW_S = 120.0  # ... within this window: flapping
PAUSE_REPUBLISH_S = 5.0  # late subscribers learn the pause-all switch within this


class ControlState(msgspec.Struct, kw_only=True):
    """Control's own persistent state (not part of the deployment TOML)."""

    paused_all: bool = False
    version: int = 0  # last version number given to a published config event


class _Id(msgspec.Struct):
    id: int = 0


_peek_id = msgspec.msgpack.Decoder(_Id)


def peek_request_id(body: bytes) -> int:
    """The `id` of an undecodable request, when it can be read at all (0 otherwise)."""
    try:
        value = _peek_id.decode(body).id
    except (msgspec.DecodeError, msgspec.ValidationError):
        return 0
    return value if 0 <= value <= 2**63 - 1 else 0


def _slave_stream_alert(slave_id: str, market: str, seconds: float) -> Alert:
    return Alert(
        category="stream_lost",
        slave_id=slave_id,
        key=f"stream_lost:{slave_id}:{market}",
        title=f"{slave_id}: {market} stream lost",
        body=f"exchange connection down for {seconds:.0f}s",
    )
