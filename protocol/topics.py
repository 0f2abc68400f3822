"""PUB/SUB topics: dotted lowercase bytes, the first frame of every PUB message.

ZeroMQ matches subscriptions by byte prefix, so every prefix we hand out ends with "." — a
subscription to b"master.usdm." never matches another market, and b"control.slave.a1." never
matches slave "a10".

Master PUB (one publisher per market):   master.<market>.<kind>   kind: fill | order | snapshot | config | hb
Control PUB (config to actors):          control.slave.<slave_id>.<kind>   kind: config | flatten
                                         control.all.pause
"""

from __future__ import annotations

from typing import Final, Literal

from .messages import (
    MARKETS,
    AccountConfigChanged,
    ControlEvent,
    FlattenCommand,
    Heartbeat,
    Market,
    MasterAlgoOrder,
    MasterEvent,
    MasterFill,
    MasterOrder,
    PauseAllChanged,
    PositionSnapshot,
    SlaveConfigChanged,
)

MasterKind = Literal["fill", "order", "snapshot", "config", "hb"]
MASTER_KINDS: Final[tuple[MasterKind, ...]] = ("fill", "order", "snapshot", "config", "hb")
MASTER_ALL: Final = b"master."
CONTROL_ALL_PAUSE: Final = b"control.all.pause"

_MASTER_TOPICS: Final[dict[tuple[str, str], bytes]] = {
    (market, kind): f"master.{market}.{kind}".encode() for market in MARKETS for kind in MASTER_KINDS
}
_KIND_OF_EVENT: Final[dict[type, MasterKind]] = {
    MasterFill: "fill",
    MasterOrder: "order",
    MasterAlgoOrder: "order",
    PositionSnapshot: "snapshot",
    AccountConfigChanged: "config",
    Heartbeat: "hb",
}


def master_topic(market: Market, kind: MasterKind) -> bytes:
    """b"master.<market>.<kind>"; ValueError for an unknown market or kind."""
    try:
        return _MASTER_TOPICS[(market, kind)]
    except KeyError:
        raise ValueError(f"no master topic for market={market!r} kind={kind!r}") from None


def master_prefix(market: Market) -> bytes:
    """The SUB prefix receiving every message of one market's master: b"master.<market>."."""
    if market not in MARKETS:
        raise ValueError(f"unknown market {market!r}")
    return f"master.{market}.".encode()


def topic_for_master_event(event: MasterEvent) -> bytes:
    """The topic a master event is published under (from its type and `market`)."""
    return _MASTER_TOPICS[(event.market, _KIND_OF_EVENT[type(event)])]


def _check_slave_id(slave_id: str) -> bytes:
    if not slave_id or "." in slave_id or not slave_id.isascii():
        raise ValueError(f"bad slave id for a topic: {slave_id!r}")
    return slave_id.encode()


def control_slave_prefix(slave_id: str) -> bytes:
    """SUB prefix for everything control sends one slave: b"control.slave.<id>."."""
    return b"control.slave." + _check_slave_id(slave_id) + b"."


def control_subscriptions(slave_id: str) -> tuple[bytes, ...]:
    """Every prefix a slave subscribes to on the control PUB socket."""
    return (control_slave_prefix(slave_id), b"control.all.")


def topic_for_control_event(event: ControlEvent) -> bytes:
    if isinstance(event, SlaveConfigChanged):
        return control_slave_prefix(event.slave_id) + b"config"
    if isinstance(event, FlattenCommand):
        return control_slave_prefix(event.slave_id) + b"flatten"
    if isinstance(event, PauseAllChanged):
        return CONTROL_ALL_PAUSE
    raise TypeError(f"not a control event: {type(event).__name__}")
