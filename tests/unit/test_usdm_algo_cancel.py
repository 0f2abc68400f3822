"""`AlgoOrders.cancel_algo` (actors/slave/accounts/usdm_algo.py): a cancel the exchange refuses while
the stop is still open (a 503, "Service Unavailable") is tried again, and when it stays open the
cancel's end is "" (not established: the mirror keeps it as a leftover and cancels it again at the
next periodic check), never the order's "NEW" (which the mirror would take as established and
forget, leaving the stop working: found in the chaos run)."""

from __future__ import annotations

from typing import Any

import pytest

from actors.binance import usdm_api
from actors.binance.errors import Unavailable
from actors.slave.accounts.usdm_algo import AlgoOrders


class Algos(AlgoOrders):
    def __init__(self) -> None:
        self.rest: Any = None
        self.algo_status: dict[str, str] = {}


@pytest.mark.parametrize("refusals, expected", [(1, "CANCELED"), (2, "")])
async def test_a_refused_cancel_of_an_open_stop_is_tried_again_and_never_reads_as_done(monkeypatch, refusals: int, expected: str) -> None:
    calls = {"cancel": 0}

    async def cancel(rest: Any, cid: str) -> None:
        calls["cancel"] += 1
        if calls["cancel"] <= refusals:
            raise Unavailable(503, 0, "Service Unavailable.")

    async def state(rest: Any, cid: str) -> Any:
        return type("Algo", (), {"algoStatus": "NEW"})()

    monkeypatch.setattr(usdm_api, "cancel_algo_order", cancel)
    monkeypatch.setattr(usdm_api, "algo_order", state)
    algos = Algos()
    assert await algos.cancel_algo("ca1") == expected  # type: ignore[arg-type]
    assert calls["cancel"] == 2
    assert algos.algo_status.get("ca1", "") == expected
