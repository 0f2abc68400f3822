"""The TUI's link to the control actor, on the one control client (protocol/client.py; the TUI
may import only `protocol`).

`ControlLink` adds what a long-running UI needs on top of request/reply:
- a liveness probe (`GetStatus` every `probe_interval` seconds, whose answer also feeds the
  dashboard's master panel and top bar);
- a visible connection state: "connecting", "connected", "unreachable" (`on_state`);
- reconnection by itself: after a timeout the socket is replaced (a late reply can never be read
  as another request's answer), and when control answers again, or answers with another pid
  (it restarted between two probes and forgot our subscription), the link subscribes again and
  asks the UI to resynchronise (`on_state(..., resync=True)`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Final, Literal

import zmq.asyncio

from protocol.client import AsyncControlClient, ControlError, ControlUnavailable
from protocol.control_api import ControlRequest, ControlResult, GetStatus, Push, StatusResult, Subscribe
from protocol.errors import ErrorCode

LinkState = Literal["connecting", "connected", "unreachable"]
DEFAULT_TIMEOUT: Final = 5.0
DEFAULT_PROBE_INTERVAL: Final = 2.0


class ControlLink:
    """The control client with a probe, a connection state and resubscription."""

    def __init__(
        self,
        endpoint: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        probe_interval: float = DEFAULT_PROBE_INTERVAL,
        ctx: zmq.asyncio.Context | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.probe_interval = probe_interval
        self.state: LinkState = "connecting"
        self.detail = ""
        self.control_pid: int | None = None
        self.client = AsyncControlClient(endpoint, timeout=timeout, ctx=ctx, reset_after=1)

    @property
    def timeout(self) -> float:
        return self.client.timeout

    @property
    def bad_messages(self) -> int:
        return self.client.bad_messages

    async def close(self) -> None:
        await self.client.close()

    async def request(self, msg: ControlRequest, timeout: float | None = None) -> ControlResult:
        """Send `msg` with a fresh id; the `ControlResult` of the `Ok`, else ControlError."""
        return await self.client.request(msg, timeout)

    # -------------------------------------------------------------------------------- the loop
    async def run(
        self, on_push: Callable[[Push], Any], on_state: Callable[[LinkState, str, bool], Any], on_status: Callable[[StatusResult], Any]
    ) -> None:
        """Probe forever: `on_status` with every status, `on_state(state, detail, resync)` when the
        connection state changes (resync: the UI must reload everything), pushes to `on_push`."""
        self.client.on_push = on_push
        try:
            while True:
                await self.probe(on_state, on_status)
                await asyncio.sleep(self.probe_interval)
        finally:
            await self.client.close()

    async def probe(self, on_state: Callable[[LinkState, str, bool], Any], on_status: Callable[[StatusResult], Any]) -> None:
        try:
            status = await self.request(GetStatus(id=0))
            if not isinstance(status, StatusResult):
                raise ControlError(ErrorCode.BAD_MESSAGE, f"GetStatus answered {type(status).__name__}")
            pid = next((a.pid for a in status.actors if a.name == "control"), None)
            restarted = self.control_pid is not None and pid is not None and pid != self.control_pid
            self.control_pid = pid if pid is not None else self.control_pid
            resync = self.state != "connected" or restarted or not self.client.subscribed
            if resync:
                await self.request(Subscribe(id=0))  # every kind
            if self.state != "connected" or resync:
                self._set_state("connected", "", on_state, resync)
            on_status(status)
        except ControlError as exc:
            self.client.subscribed = False
            if self.state != "unreachable" or self.detail != exc.reason:
                self._set_state("unreachable", exc.reason, on_state, False)

    def _set_state(self, state: LinkState, detail: str, on_state: Callable[[LinkState, str, bool], Any], resync: bool) -> None:
        self.state = state
        self.detail = detail
        on_state(state, detail, resync)


__all__ = ["ControlLink", "ControlError", "ControlUnavailable", "LinkState"]
