"""actors/domain/positions.py: the one position arithmetic of master and slave (USD-M)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from actors.domain.positions import moved, position_delta


@pytest.mark.parametrize(
    "side, ps, before, qty, after, clamped",
    [
        ("BUY", "BOTH", "0", "1", "1", False),
        ("SELL", "BOTH", "0.5", "1", "-0.5", False),
        ("BUY", "LONG", "1", "2", "3", False),
        ("SELL", "LONG", "1", "0.4", "0.6", False),
        ("SELL", "SHORT", "1", "2", "3", False),
        ("BUY", "SHORT", "1", "0.4", "0.6", False),
        ("SELL", "LONG", "1", "2", "0", True),
        ("BUY", "SHORT", "0.1", "1", "0", True),  # a hedge side never below 0
    ],
)
def test_an_execution_moves_the_position(side: str, ps: str, before: str, qty: str, after: str, clamped: bool) -> None:
    assert moved(D(before), side, ps, D(qty)) == (D(after), clamped)


def test_an_unknown_side_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown side"):
        position_delta("HOLD", "BOTH", D(1))
