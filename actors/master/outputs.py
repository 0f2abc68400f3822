"""What a market adapter asks the master's shell to do: its handlers return these, in order.

An adapter never touches the sockets or the shell: `handle`, `apply` return a list of outputs, and
`MasterActor` (shell.py) carries them out one by one (`match`). The order is kept: a config change
that a fill revealed is published before the fill.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from protocol.messages import AlgoAction, ConditionalOrder, OrderAction, RestingOrder, SnapshotReason


class Fill(NamedTuple):
    """Publish a `MasterFill` (its fields but market, epoch, seq, t_master_pub_ns; `order_qty`
    decides the status when Binance's is not a fill status)."""

    fields: dict[str, Any]


class Order(NamedTuple):
    """Publish a `MasterOrder`: a resting order was placed, amended, canceled or expired (`fields`:
    position, equity and the times)."""

    action: OrderAction
    order: RestingOrder
    fields: dict[str, Any]


class AlgoOrder(NamedTuple):
    """Publish a `MasterAlgoOrder`: a conditional order was placed, canceled, triggered, finished,
    rejected or expired (`fields`: position, equity and the times)."""

    action: AlgoAction
    order: ConditionalOrder
    fields: dict[str, Any]


class Config(NamedTuple):
    """Publish an `AccountConfigChanged` with these fields."""

    fields: dict[str, Any]


class Snapshot(NamedTuple):
    """Publish a `PositionSnapshot` of the adapter's state now."""

    reason: SnapshotReason


class Resync(NamedTuple):
    """Our state may be wrong: buffer events and rebuild from REST."""


class Duplicate(NamedTuple):
    """An event delivered twice (counted, nothing published)."""


class Recheck(NamedTuple):
    """Read the account over REST again in `delay_s` (`adapter.recheck()`, then `adapter.apply`)."""

    delay_s: float


class Lookup(NamedTuple):
    """Read one order's record now (`adapter.lookup(key)`), then hand it to `adapter.looked_up`
    (USD-M: a new trailing stop, whose ALGO_UPDATE lacks its activation price and callback rate)."""

    key: int
    t_recv_ns: int


Output = Fill | Order | AlgoOrder | Config | Snapshot | Resync | Duplicate | Recheck | Lookup
Outputs = list[Output]
