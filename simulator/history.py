"""Bounded histories: what the simulator remembers of past order requests, trades and orders.

It used to keep everything (every request, fill and order of the run): the demo's simulator grew by
2 MB a minute, about 3 GB a day. Now each history keeps the newest N entries, N from the config's
`[history]` table (`HistoryConfig`; 0 keeps everything):

- `Ring`: a deque with a maximum length, that also answers slices (`ring[-500:]` is a list), so it
  replaces a list that was only appended to and read (the request log, trade lists);
- `OrderHistory`: a dict of orders by id that keeps every open order and the newest `keep_closed`
  closed ones (filled, canceled, expired), in insertion order; what it drops goes through
  `on_evict(key, order)` so indexes built beside it (client ids, arrival stamps) drop it too.

Like Binance, which forgets old orders, a query for a dropped order answers -2013. The actors query
an order by client id seconds after sending it, never thousands of orders later.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from simulator.config import HistoryConfig

T = TypeVar("T")
K = TypeVar("K")
V = TypeVar("V")


class Ring(deque, Generic[T]):  # type: ignore[type-arg]
    """A deque of at most `maxlen` items (None: unbounded) whose slices are lists, like a list's.

    `dropped`: how many items fell off the front so far."""

    def __init__(self, items: Iterable[T] = (), maxlen: int | None = None) -> None:
        super().__init__(items, maxlen)
        self.dropped = 0

    def append(self, item: T) -> None:
        if self.maxlen is not None and len(self) == self.maxlen:
            self.dropped += 1
        super().append(item)

    def extend(self, items: Iterable[T]) -> None:
        for item in items:
            self.append(item)

    def __getitem__(self, index: Any) -> Any:
        if not isinstance(index, slice):
            return super().__getitem__(index)
        start, stop, step = index.indices(len(self))
        if step == 1:
            return list(itertools.islice(self, start, max(start, stop)))
        return list(self)[index]


def _is_open(order: Any) -> bool:
    return bool(order.is_open)


class OrderHistory(dict, Generic[K, V]):  # type: ignore[type-arg]
    """Orders by id: every open order and the newest `keep_closed` closed ones (0: all).

    Pruning runs when `slack` (keep_closed / 8, or len / 8 if more) new entries have come since the
    last one and drops the oldest closed orders in one pass, so it costs O(1) per order on average;
    the dict holds at most about (open + keep_closed) x 9 / 8 + slack orders. Only `d[key] = value`
    prunes (the engines' way)."""

    def __init__(
        self,
        keep_closed: int = 0,
        is_open: Callable[[V], bool] = _is_open,
        on_evict: Callable[[K, V], None] | None = None,
        items: Iterable[tuple[K, V]] = (),
    ) -> None:
        super().__init__(items)
        self.keep_closed = keep_closed
        self.is_open = is_open
        self.on_evict = on_evict
        self.dropped = 0
        self._slack = max(1, keep_closed // 8)
        self._limit = keep_closed + self._slack

    def __setitem__(self, key: K, value: V) -> None:
        super().__setitem__(key, value)
        if self.keep_closed and len(self) > self._limit:
            self.prune()

    def prune(self) -> int:
        """Drop the oldest closed orders beyond `keep_closed`; returns how many went."""
        closed = [key for key, order in self.items() if not self.is_open(order)]
        excess = len(closed) - self.keep_closed
        for key in closed[: max(0, excess)]:
            order = self.pop(key)
            if self.on_evict is not None:
                self.on_evict(key, order)
        gone = max(0, excess)
        self.dropped += gone
        # the next pass waits for `slack` more, or an eighth of what is held when open orders are many
        self._limit = len(self) + max(self._slack, len(self) // 8)
        return gone


class History:
    """Makes the bounded structures of one simulator from its config and reports on them."""

    def __init__(self, config: HistoryConfig) -> None:
        self.config = config
        self._made: dict[str, list[Ring[Any] | OrderHistory[Any, Any]]] = {"requests": [], "trades": [], "orders": []}

    def requests(self) -> Ring[Any]:
        """The order-request log (admin `GET /_sim/requests`)."""
        return self._keep("requests", Ring(maxlen=self.config.requests or None))

    def trades(self) -> Ring[Any]:
        """One market's (spot, margin: one account's) fills."""
        return self._keep("trades", Ring(maxlen=self.config.trades or None))

    def orders(self, on_evict: Callable[[Any, Any], None] | None = None, items: Iterable[tuple[Any, Any]] = ()) -> OrderHistory[Any, Any]:
        """One account's orders in one market."""
        return self._keep("orders", OrderHistory(self.config.orders, on_evict=on_evict, items=items))

    def futures_orders(self, account: Any, arrivals: dict[int, Any]) -> None:
        """Bound a USD-M account's orders (simulator.futures.FuturesAccount): a dropped order takes
        its arrival stamp along, and `live_seen` (orders stored through add_order) stays equal to
        len(orders), as FuturesAccount.open_orders() expects when every order came through it."""

        def forget(order_id: int, _order: Any) -> None:
            arrivals.pop(order_id, None)
            account.live_seen -= 1

        account.orders = self.orders(forget, account.orders.items())

    def _keep(self, kind: str, made: Any) -> Any:
        self._made[kind].append(made)
        return made

    def report(self) -> dict[str, dict[str, int]]:
        """Per kind: the configured size (0: unbounded), entries held now, entries dropped so far."""
        return {
            kind: {"size": getattr(self.config, kind), "held": sum(len(x) for x in made), "dropped": sum(x.dropped for x in made)}
            for kind, made in self._made.items()
        }
