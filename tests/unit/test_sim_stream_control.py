"""simulator/stream_control.py: the /private query and the control frames, without a socket."""

from __future__ import annotations

from typing import Any

import pytest

from simulator.stream_control import QueryError, control_reply, parse_private_query


def test_pairs_keep_their_order_and_each_events_filters_the_key_before_it() -> None:
    items = [
        ("listenKey", "k1"),
        ("events", "ORDER_TRADE_UPDATE"),
        ("listenKey", "k2"),
        ("events", "ACCOUNT_UPDATE/listenKeyExpired"),
        ("listenKey", "k3"),
        ("timeUnit", "MILLISECOND"),
    ]
    assert parse_private_query(items) == [
        ("k1", frozenset({"ORDER_TRADE_UPDATE"})),
        ("k2", frozenset({"ACCOUNT_UPDATE", "listenKeyExpired"})),
        ("k3", None),  # no events named
    ]
    assert parse_private_query([("listenKey", "k"), ("events", "")]) == [("k", None)]
    assert parse_private_query([]) == []


@pytest.mark.parametrize(
    ("items", "message"),
    [
        ([("events", "ORDER_TRADE_UPDATE")], "events must follow the listenKey"),
        ([("listenKey", "")], "empty listenKey"),
        ([("listenKey", "k"), ("events", "ACCOUNT_UPDATE"), ("events", "ORDER_TRADE_UPDATE")], "events given twice"),
        ([("listenKey", "k"), ("events", "ACCOUNT_UPDATE/order_trade_update")], "order_trade_update"),
    ],
)
def test_bad_queries_name_the_problem(items: list[tuple[str, str]], message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse_private_query(items)


class Subs:
    def __init__(self) -> None:
        self.combined = True
        self.followed: list[str] = []

    def subscribe(self, names: list[str]) -> str | None:
        if "dead" in names:
            return "Invalid request: invalid stream"
        self.followed += names
        return None

    def unsubscribe(self, names: list[str]) -> None:
        self.followed = [n for n in self.followed if n not in names]

    def names(self) -> list[str]:
        return list(self.followed)


@pytest.mark.parametrize("req_id", [0, -5, 2**63 - 1, "a" * 36, "0f8c2a9e-6a3e-4f7e-9d3b-2c1d0e9f8a7b", None])
def test_accepted_ids_are_echoed(req_id: Any) -> None:
    subs = Subs()
    assert control_reply(subs, {"method": "SUBSCRIBE", "params": ["k"], "id": req_id}) == {"result": None, "id": req_id}
    assert subs.followed == ["k"]


@pytest.mark.parametrize("req_id", [True, 2**63, "a" * 37, "", 1.5, [1]])
def test_refused_ids_subscribe_nothing(req_id: Any) -> None:
    subs = Subs()
    reply = control_reply(subs, {"method": "SUBSCRIBE", "params": ["k"], "id": req_id})
    assert reply == {"error": {"code": 2, "msg": "Invalid request: request ID must be an unsigned integer"}, "id": None}
    assert subs.followed == []


def test_a_refused_subscribe_follows_nothing_and_says_why() -> None:
    subs = Subs()
    reply = control_reply(subs, {"method": "SUBSCRIBE", "params": ["k", "dead"], "id": 4})
    assert reply == {"error": {"code": 2, "msg": "Invalid request: invalid stream"}, "id": 4}
    assert subs.followed == []
    assert control_reply(subs, {"method": "SUBSCRIBE", "params": ["k", 7], "id": 5})["error"]["code"] == 2
    assert subs.followed == []


def test_properties() -> None:
    subs = Subs()
    assert control_reply(subs, {"method": "SET_PROPERTY", "params": ["combined", False], "id": 1}) == {"result": None, "id": 1}
    assert subs.combined is False
    assert control_reply(subs, {"method": "GET_PROPERTY", "params": ["combined"], "id": 2}) == {"result": False, "id": 2}
    assert control_reply(subs, {"method": "SET_PROPERTY", "params": ["combined"], "id": 3})["error"]["code"] == 1
    assert control_reply(subs, {"method": "GET_PROPERTY", "params": [1], "id": 4}) == {
        "error": {"code": 2, "msg": "Invalid request: property name must be a string"},
        "id": 4,
    }
