"""Waiting for conditions: poll with a deadline, never sleep for luck."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class NotReached(AssertionError):
    pass


def eventually(check: Callable[[], T], timeout: float = 10.0, interval: float = 0.02, what: str = "") -> T:
    """Call `check` until it returns a truthy value (returned) or stops raising AssertionError.

    Raises NotReached with the last failure once `timeout` seconds have passed.
    """
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        try:
            value = check()
            if value:
                return value
            last = None
        except AssertionError as exc:
            last = exc
        if time.monotonic() >= deadline:
            raise NotReached(f"not reached within {timeout}s: {what or check!r}; last: {last!r}")
        time.sleep(interval)


async def aeventually(check: Callable[[], Awaitable[T]], timeout: float = 10.0, interval: float = 0.02, what: str = "") -> T:
    """Async form of `eventually` for coroutine checks."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while True:
        try:
            value = await check()
            if value:
                return value
            last = None
        except AssertionError as exc:
            last = exc
        if time.monotonic() >= deadline:
            raise NotReached(f"not reached within {timeout}s: {what or check!r}; last: {last!r}")
        await asyncio.sleep(interval)
