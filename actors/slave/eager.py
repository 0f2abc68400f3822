"""Eager start of a coroutine: its first step runs now, in the caller's stack (Python 3.12's
`asyncio.eager_task_factory`, for 3.11).

Why: a master fill arrives in a ZeroMQ reader callback. Handing it to a task costs one more pass of
the event loop (the task wakes on the next pass) before the order is even built. Started eagerly,
the copy is decided, signed and written to the exchange's socket inside the reader callback; only
the wait for the exchange's reply continues in a task.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

__all__ = ["run_eagerly"]


def run_eagerly(coro: Coroutine[Any, Any, Any], *, name: str | None = None) -> asyncio.Task[Any] | None:
    """Run `coro` until it first suspends, then continue it in a task (returned).

    Returns None if it finished without suspending. An exception raised before the first
    suspension propagates to the caller (the coroutine is then finished).
    """
    try:
        yielded = coro.send(None)
    except StopIteration:
        return None
    task = asyncio.get_running_loop().create_task(_resume(coro, yielded), name=name)
    task.add_done_callback(lambda t: _finish(t, coro, yielded))
    return task


def _finish(task: asyncio.Task[Any], coro: Coroutine[Any, Any, Any], first: Any) -> None:
    """A task cancelled before its first step never ran `_resume`: close `coro` (its finally
    blocks run) and cancel the future it was waiting on, as a Task would have."""
    if task.cancelled() and coro.cr_frame is not None:
        if isinstance(first, asyncio.Future) and not first.done():
            first.cancel()
        coro.close()


async def _resume(coro: Coroutine[Any, Any, Any], yielded: Any) -> Any:
    """Drive `coro` the way a Task does: this task waits on the future `coro` yielded (no extra
    future, no extra pass of the loop), then sends into `coro`, which reads the future's outcome
    itself. Cancelling this task cancels that future, so `coro` sees CancelledError where it waits."""
    while True:
        try:
            if yielded is None:  # a bare `yield` (asyncio.sleep(0)): give the loop one pass
                await asyncio.sleep(0)
            else:
                await _Outcome(yielded)
        except BaseException as exc:  # noqa: BLE001 - delivered into the coroutine, as a Task does
            try:
                yielded = coro.throw(exc)
            except StopIteration as stop:
                return stop.value
            continue
        try:
            yielded = coro.send(None)
        except StopIteration as stop:
            return stop.value


class _Outcome:
    """Await a future until it is done, leaving its result or exception to whoever reads it."""

    __slots__ = ("fut",)

    def __init__(self, fut: asyncio.Future[Any]) -> None:
        self.fut = fut

    def __await__(self) -> Any:
        fut = self.fut
        if fut.done():
            return
        try:
            yield fut  # the running task adds its wake-up to `fut`
        except BaseException:  # noqa: BLE001
            if not fut.done():
                raise  # not `fut`'s outcome: a cancellation of this task while `fut` pends
