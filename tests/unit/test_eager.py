"""actors/slave/eager.py: a coroutine's first step runs in the caller; the rest runs as a Task would."""

from __future__ import annotations

import asyncio

import pytest

from actors.slave.eager import run_eagerly


async def test_first_step_runs_in_the_caller_and_the_rest_in_a_task():
    loop = asyncio.get_running_loop()
    log: list[object] = []
    reply = loop.create_future()

    async def copy() -> str:
        log.append("order written")
        value = await reply
        log.append(("acked", value))
        await asyncio.sleep(0)  # a bare yield
        await asyncio.sleep(0.001)  # a timer future
        return "done"

    task = run_eagerly(copy(), name="copy")
    assert log == ["order written"]  # before run_eagerly returned: no pass of the loop needed
    assert isinstance(task, asyncio.Task) and task.get_name() == "copy"
    reply.set_result(7)
    assert await task == "done"
    assert log == ["order written", ("acked", 7)]


async def test_the_awaited_futures_exception_reaches_the_coroutine():
    reply = asyncio.get_running_loop().create_future()

    async def copy() -> str:
        try:
            await reply
        except ValueError as exc:
            return f"handled {exc}"
        return "not reached"

    task = run_eagerly(copy())
    reply.set_exception(ValueError("-2019"))
    assert await task == "handled -2019"


async def test_cancelling_the_task_cancels_the_awaited_future_and_the_coroutine_sees_it():
    reply = asyncio.get_running_loop().create_future()
    seen: list[str] = []

    async def copy() -> None:
        try:
            await reply
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise

    task = run_eagerly(copy())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert reply.cancelled() and seen == ["cancelled"]


async def test_a_coroutine_that_never_suspends_returns_none_and_an_early_error_propagates():
    ran: list[int] = []

    async def quick() -> int:
        ran.append(1)
        return 3

    async def broken() -> None:
        raise RuntimeError("bad fill")

    assert run_eagerly(quick()) is None and ran == [1]
    with pytest.raises(RuntimeError, match="bad fill"):
        run_eagerly(broken())


def test_works_on_uvloop():
    import uvloop

    async def main() -> list[str]:
        log: list[str] = []
        fut = asyncio.get_running_loop().create_future()

        async def copy() -> None:
            log.append("sent")
            log.append(await fut)

        task = run_eagerly(copy())
        assert log == ["sent"]
        fut.set_result("acked")
        await task
        return log

    assert uvloop.run(main()) == ["sent", "acked"]


async def test_cancelled_before_its_first_step_the_coroutine_is_closed_and_its_future_cancelled():
    reply = asyncio.get_running_loop().create_future()
    cleaned: list[str] = []

    async def copy() -> None:
        try:
            await reply
        finally:
            cleaned.append("finally ran")

    task = run_eagerly(copy())
    task.cancel()  # before the loop ran the task once
    with pytest.raises(asyncio.CancelledError):
        await task
    assert reply.cancelled() and cleaned == ["finally ran"]
