"""The position arithmetic master and slave share (pure): how an execution moves a USD-M position.

A (symbol, positionSide) position is signed for one-way BOTH (long > 0) and a size (>= 0) for hedge
LONG / SHORT: a BUY adds to BOTH and LONG and takes from SHORT, a SELL the reverse. A hedge side
never goes below zero: an execution that would take it there means our state was wrong (a missed
event), and the caller resyncs (`clamped`).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import NamedTuple

from protocol.messages import PositionEntry, PositionKey

ZERO = Decimal(0)


def position_delta(side: str, position_side: str, qty: Decimal) -> Decimal:
    """How an execution of `qty` moves the position of `position_side`."""
    if side not in ("BUY", "SELL"):
        raise ValueError(f"unknown side {side!r}")
    up = qty if side == "BUY" else -qty
    return -up if position_side == "SHORT" else up


class Moved(NamedTuple):
    after: Decimal
    clamped: bool  # a hedge side would have gone below zero (set to zero instead)


def moved(before: Decimal, side: str, position_side: str, qty: Decimal) -> Moved:
    """The position after an execution of `qty`."""
    after = before + position_delta(side, position_side, qty)
    if position_side != "BOTH" and after < 0:
        return Moved(ZERO, True)
    return Moved(after, False)


def positions_of(entries: Iterable[PositionEntry]) -> dict[PositionKey, Decimal]:
    """A snapshot's entries as (symbol, position side) -> amount."""
    return {(e.symbol, e.position_side): e.qty for e in entries}


__all__ = ["Moved", "moved", "position_delta", "positions_of"]
