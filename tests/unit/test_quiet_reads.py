"""actors/slave/accounts/spot.py BalanceAccount.read_quietly: the balances are read over REST only while no order
of ours is in flight; a read that one of our orders started or finished during is read again, so a
read holds exactly the trades of the orders finished before it (issue 21, chaos seed 101)."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from actors.binance.endpoints import Endpoints
from actors.binance.signing import make_signer
from actors.domain.orders import OrderIntent
from actors.slave.accounts.spot import SpotAccount


def account() -> SpotAccount:
    signer = make_signer("hmac", "k" * 64, "s" * 64)
    return SpotAccount("s1", Endpoints.local("http://127.0.0.1:9"), signer, on_state=lambda _s: None)


def intent(cid: str) -> OrderIntent:
    return OrderIntent(
        market="spot",
        symbol="BTCUSDT",
        side="SELL",
        position_side="BOTH",
        qty=Decimal("0.1"),
        kind="reduce",
        client_order_id=cid,
        ref_price=Decimal("50000"),
    )


def test_a_read_waits_for_our_order_in_flight_and_a_read_it_overlaps_is_read_again() -> None:
    async def main() -> tuple[list[str], int]:
        acct = account()
        log: list[str] = []
        release = asyncio.Event()

        async def order() -> None:
            with acct.placing(intent("cr" + "a" * 24)):
                log.append("order sent")
                await release.wait()
                log.append("order done")

        async def read() -> str:
            log.append("read")
            if len(log) == 1:  # the first read is overlapped by an order that starts and ends during it
                task = asyncio.ensure_future(order())
                await asyncio.sleep(0)
                release.set()
                await task
            return "balances"

        result = await acct.read_quietly(read)
        assert result == "balances"
        # waits for an order already in flight before reading
        release.clear()
        task = asyncio.ensure_future(order())
        await asyncio.sleep(0)
        reading = asyncio.ensure_future(acct.read_quietly(read))
        await asyncio.sleep(0)
        assert log[-1] == "order sent"  # not read while the order is in flight
        release.set()
        await task
        await reading
        return log, acct.rest_rereads

    log, rereads = asyncio.run(main())
    assert log == ["read", "order sent", "order done", "read", "order sent", "order done", "read"]
    assert rereads == 1


def test_our_orders_stream_trades_count_as_ours() -> None:
    acct = account()
    with acct.placing(intent("ct" + "b" * 24)):
        pass
    assert "ct" + "b" * 24 in acct._own
    assert acct.in_flight == 0 and acct.orders_done == 1
