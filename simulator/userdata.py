"""User-data fan-out: engines publish account events, stream connections subscribe to them.

An engine calls `hub.publish(account_id, market, event)` (market: "spot", "margin", "futures").
A connection registers a `Sink` for (account_id, market); the sink wraps and queues the event for its
connection (WebSocket API: `{"subscriptionId": N, "event": {...}}`; futures listenKey streams: the
raw event). The hub knows nothing about transports.

A sink may also offer `flush_now()`: a request handler calls `hub.flush()` just before it writes
its reply, so the events its request caused leave first, in one write per connection, while the
follower's process is still awake (see `StreamConn.flush_now`). Binance does not order a reply and
the stream events of the same order; clients must handle either order.
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
        self._dirty: list[Any] = []  # sinks with events queued since the last flush()

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

    def mark(self, sink: Any) -> None:
        """`sink` queued an event that `flush()` may write at once."""
        self._dirty.append(sink)
        if len(self._dirty) > 1024:  # events that send_loop already sent, with no request since
            self.flush()

    def flush(self) -> None:
        """Write the events queued since the last flush now, where the sink can (no fault holds them)."""
        if not self._dirty:
            return
        dirty, self._dirty = self._dirty, []
        for sink in dirty:
            sink.flush_now()

    def sinks(self, account_id: str | None = None) -> list[Sink]:
        return [s for (acc, _), sinks in self._sinks.items() for s in sinks if account_id in (None, acc)]
