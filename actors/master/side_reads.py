"""The REST reads an adapter asks for after an event, beside the stream (a mixin of MasterActor,
shell.py): a debounced recheck of the account (`Recheck`: spot and margin balances) and the lookup
of one record an event lacked (`Lookup`: USD-M, a new trailing stop's activation price and callback
rate). Neither holds the events after it; what comes back is applied only if no rebuild came
meanwhile (a rebuild read REST itself)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .outputs import Outputs

log = logging.getLogger("copytrader.master")


class SideReads:
    adapter: Any
    generation: int
    buffering: bool
    _recheck_timer: asyncio.TimerHandle | None
    _recheck_task: asyncio.Task[None] | None
    _recheck_delay_s: float
    _lookups: set[asyncio.Task[None]]

    if TYPE_CHECKING:

        def _carry_out(self, outputs: Outputs) -> None: ...  # MasterActor's

    def _start_lookup(self, key: int, t_recv_ns: int) -> None:
        task = asyncio.get_running_loop().create_task(self._lookup(key, t_recv_ns), name="lookup")
        self._lookups.add(task)
        task.add_done_callback(self._lookups.discard)

    async def _lookup(self, key: int, t_recv_ns: int) -> None:
        """Tried twice; None goes to the adapter when both failed (it publishes nothing then)."""
        generation, reading = self.generation, None
        for attempt in range(2):
            try:
                reading = await self.adapter.lookup(key)
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the adapter publishes nothing for it (its fills are copied as fills)
                log.warning("REST lookup failed", extra={"fields": {"key": key, "attempt": attempt + 1, "error": describe(exc)}})
                await asyncio.sleep(0.5)
        if self.generation == generation and not self.buffering:
            try:
                self._carry_out(self.adapter.looked_up(key, reading, t_recv_ns))
            except Exception:
                log.exception("REST lookup not applied")

    # -- rechecks (REST reads an adapter asks for after an event) ----------------------------------
    def _schedule_recheck(self, delay_s: float) -> None:
        """Debounced: one timer at a time; one read at a time (a request during a read waits for it)."""
        if self._recheck_timer is not None:
            return
        self._recheck_delay_s = delay_s
        self._recheck_timer = asyncio.get_running_loop().call_later(delay_s, self._start_recheck)

    def _start_recheck(self) -> None:
        self._recheck_timer = None
        if self._recheck_task is None or self._recheck_task.done():
            self._recheck_task = asyncio.get_running_loop().create_task(self._recheck(), name="recheck")
        else:  # one is running: look again after it
            self._schedule_recheck(self._recheck_delay_s)

    async def _recheck(self) -> None:
        generation = self.generation
        try:
            reading = await self.adapter.recheck()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the periodic poll will catch up
            log.warning("REST recheck failed", extra={"fields": {"error": describe(exc)}})
            return
        if self.generation == generation and not self.buffering:  # else stale: a rebuild came
            try:
                self._carry_out(self.adapter.apply(reading))
            except Exception:  # never let a bad reply kill the task quietly; the poll catches up
                log.exception("REST recheck not applied")


def describe(exc: BaseException) -> str:
    """Exception text without key material (our client's errors never carry any; be sure anyway)."""
    try:
        from keystore.redact import describe_exception

        return describe_exception(exc)
    except Exception:
        return type(exc).__name__
