"""Error classification: may the request have executed? (rest-api.md "HTTP Return Codes", errors.md,
usdm/authentication.md "HTTP 503 Status: Message Variants")."""

from __future__ import annotations

import pickle

import pytest

from actors.binance.errors import (
    AuthError,
    BinanceAPIError,
    ClockSkew,
    NotSent,
    OrderNotFound,
    RateLimited,
    Rejected,
    StatusUnknown,
    Unavailable,
    classify,
    classify_payload,
)

TABLE = [
    # (http status, body, expected class)
    (400, b'{"code":-2010,"msg":"Account has insufficient balance for requested action."}', Rejected),
    (400, b'{"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."}', ClockSkew),
    (400, b'{"code":-1022,"msg":"Signature for this request is not valid."}', AuthError),
    (401, b'{"code":-2015,"msg":"Invalid API-key, IP, or permissions for action."}', AuthError),
    (400, b'{"code":-2014,"msg":"API-key format invalid."}', AuthError),
    (400, b'{"code":-2013,"msg":"Order does not exist."}', OrderNotFound),
    (429, b'{"code":-1003,"msg":"Too much request weight used"}', RateLimited),
    (418, b'{"code":-1003,"msg":"Way too much request weight used; IP banned until 1659146400000."}', RateLimited),
    (500, b'{"code":-1000,"msg":"An unknown error occurred while processing the request."}', StatusUnknown),
    (502, b"<html>Bad Gateway</html>", StatusUnknown),
    (503, b'{"code":-1000,"msg":"Unknown error, please check your request or try again later."}', StatusUnknown),
    (503, b'{"code":-1001,"msg":"Internal error; unable to process your request. Please try again."}', StatusUnknown),
    (503, b'{"code":-1000,"msg":"Service Unavailable."}', Unavailable),
    (503, b'{"code":-1008,"msg":"Request throttled by system-level protection."}', Unavailable),
    (400, b'{"code":-1007,"msg":"Timeout waiting for response from backend server."}', StatusUnknown),
    (408, b'{"code":-1007,"msg":"Timeout waiting for response from backend server."}', StatusUnknown),
    (400, b'{"code":-1006,"msg":"An unexpected response was received from the message bus."}', StatusUnknown),
    (403, b"WAF", Rejected),
    (404, b"", Rejected),
]


@pytest.mark.parametrize(("status", "body", "cls"), TABLE)
def test_classification_table(status: int, body: bytes, cls: type[BinanceAPIError]) -> None:
    err = classify(status, body)
    assert type(err) is cls
    assert err.http_status == status
    assert err.may_have_executed is (cls is StatusUnknown)


def test_every_definite_failure_is_a_rejection() -> None:
    for cls in (RateLimited, AuthError, ClockSkew, OrderNotFound, Unavailable, NotSent):
        assert issubclass(cls, Rejected)
    assert not issubclass(StatusUnknown, Rejected)


def test_rate_limited_carries_retry_after_and_ban() -> None:
    err = classify(429, b'{"code":-1003,"msg":"slow down"}', retry_after="7")
    assert isinstance(err, RateLimited) and err.retry_after == 7.0 and not err.banned
    ban = classify(418, b'{"code":-1003,"msg":"banned"}', retry_after="120")
    assert isinstance(ban, RateLimited) and ban.banned and ban.retry_after == 120.0


def test_ws_api_ban_retry_after_from_error_data() -> None:
    err = classify_payload(418, -1003, "banned", data={"serverTime": 1659142907531, "retryAfter": 1659146400000})
    assert isinstance(err, RateLimited) and err.banned
    assert err.retry_after == pytest.approx(3492.469)


def test_code_and_message_survive_and_str_is_short() -> None:
    err = classify(400, b'{"code":-1121,"msg":"Invalid symbol."}')
    assert err.code == -1121 and err.msg == "Invalid symbol."
    assert str(err) == "Rejected: HTTP 400 code -1121: Invalid symbol."
    assert classify(400, b'{"code":-1121,"msg":"' + b"x" * 5000 + b'"}').msg == "x" * 300


def test_errors_pickle_round_trip() -> None:
    err = classify(429, b'{"code":-1003,"msg":"m"}', retry_after="3")
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is RateLimited and back.retry_after == 3.0 and back.code == -1003


def test_garbage_bodies_never_raise_while_classifying() -> None:
    for body in (b"\xff\xfe", b"[1,2]", b'{"code":"x","msg":5}', b"null", None):
        assert isinstance(classify(400, body), Rejected)
        assert isinstance(classify(500, body), StatusUnknown)
