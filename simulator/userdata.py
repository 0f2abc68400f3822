"""User-data fan-out: engines publish account events, stream connections subscribe to them.

An engine calls `hub.publish(account_id, market, event)` (market: "spot", "margin", "futures").
A connection registers a `Sink` for (account_id, market); the sink wraps and queues the event for its
connection (WebSocket API: `{"subscriptionId": N, "event": {...}}`; futures listenKey streams: the
raw event). The hub knows nothing about transports.
"""

from __future__ import annotations

from typing import Any, Protocol


class Sink(Protocol):
    account_id: str
    market: str

    def push(self, event: dict[str, Any]) -> None: ...


class UserDataHub:
    def __init__(self) -> None:
        self._sinks: dict[tuple[str, str], list[Sink]] = {}

    def subscribe(self, sink: Sink) -> None:
        self._sinks.setdefault((sink.account_id, sink.market), []).append(sink)

    def unsubscribe(self, sink: Sink) -> None:
        sinks = self._sinks.get((sink.account_id, sink.market))
        if sinks and sink in sinks:
            sinks.remove(sink)

    def has_subscribers(self, account_id: str, market: str) -> bool:
        return bool(self._sinks.get((account_id, market)))

    def publish(self, account_id: str, market: str, event: dict[str, Any]) -> None:
        sinks = self._sinks.get((account_id, market))
        if not sinks:
            return
        for sink in list(sinks):
            sink.push(event)

    def sinks(self, account_id: str | None = None) -> list[Sink]:
        return [s for (acc, _), sinks in self._sinks.items() for s in sinks if account_id in (None, acc)]
