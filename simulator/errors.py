"""Binance error codes and the one exception type every simulator handler raises.

Codes and message texts follow binance-spot-api-docs/errors.md (and the USD-M error list for the
futures-only codes). A handler raises `BinanceError`; the REST and WebSocket-API adapters turn it
into `{"code": .., "msg": ..}` with `http_status` (REST) or `"status"` (WebSocket API).
"""

from __future__ import annotations

from typing import Any

# 10xx general
UNKNOWN = -1000
DISCONNECTED = -1001
UNAUTHORIZED = -1002
TOO_MANY_REQUESTS = -1003
UNEXPECTED_RESP = -1006
TIMEOUT = -1007
SERVER_BUSY = -1008
INVALID_MESSAGE = -1013
TOO_MANY_ORDERS = -1015
UNSUPPORTED_OPERATION = -1020
INVALID_TIMESTAMP = -1021
INVALID_SIGNATURE = -1022
# 11xx request issues
ILLEGAL_CHARS = -1100
TOO_MANY_PARAMETERS = -1101
MANDATORY_PARAM_EMPTY_OR_MALFORMED = -1102
UNKNOWN_PARAM = -1103
UNREAD_PARAMETERS = -1104
PARAM_EMPTY = -1105
PARAM_NOT_REQUIRED = -1106
BAD_PRECISION = -1111
TIF_NOT_REQUIRED = -1114
INVALID_TIF = -1115
INVALID_ORDER_TYPE = -1116
INVALID_SIDE = -1117
EMPTY_NEW_CL_ORD_ID = -1118
EMPTY_ORG_CL_ORD_ID = -1119
BAD_SYMBOL = -1121
INVALID_LISTEN_KEY = -1125
OPTIONAL_PARAMS_BAD_COMBO = -1128
INVALID_PARAMETER = -1130
INVALID_JSON = -1135
INVALID_LISTEN_TOKEN = -1209
# 20xx
NEW_ORDER_REJECTED = -2010
CANCEL_REJECTED = -2011
NO_SUCH_ORDER = -2013
BAD_API_KEY_FMT = -2014
REJECTED_MBX_KEY = -2015
SUBSCRIPTION_ACTIVE = -2035
SUBSCRIPTION_INACTIVE = -2036
# margin (sapi) codes
MARGIN_NOT_SUFFICIENT = -3041  # "Balance is not enough"
MARGIN_BORROW_EXCEEDED = -3045  # "The system does not have enough asset now."

DECIMAL_RANGE = r"^([0-9]{1,20})(\.[0-9]{1,20})?$"


class BinanceError(Exception):
    """An error answered to the client as Binance would: `{"code": code, "msg": msg}`."""

    __slots__ = ("code", "msg", "http_status", "headers", "data")

    def __init__(
        self, code: int, msg: str, http_status: int = 400, headers: dict[str, str] | None = None, data: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg
        self.http_status = http_status
        self.headers = headers
        self.data = data  # extra `error.data` for the WebSocket API (e.g. retryAfter)

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "msg": self.msg}


# Factories for the errors with fixed Binance texts (one place for the wording).


def mandatory(name: str) -> BinanceError:
    return BinanceError(MANDATORY_PARAM_EMPTY_OR_MALFORMED, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def either_mandatory(a: str, b: str) -> BinanceError:
    return BinanceError(MANDATORY_PARAM_EMPTY_OR_MALFORMED, f"Param '{a}' or '{b}' must be sent, but both were empty/null!")


def illegal_chars(name: str, legal: str = DECIMAL_RANGE) -> BinanceError:
    return BinanceError(ILLEGAL_CHARS, f"Illegal characters found in parameter '{name}'; legal range is '{legal}'.")


def bad_precision(name: str) -> BinanceError:
    return BinanceError(BAD_PRECISION, f"Parameter '{name}' has too much precision.")


def not_required(name: str) -> BinanceError:
    return BinanceError(PARAM_NOT_REQUIRED, f"Parameter '{name}' sent when not required.")


def not_all_read(read: int, sent: int) -> BinanceError:
    return BinanceError(UNREAD_PARAMETERS, f"Not all sent parameters were read; read '{read}' parameter(s) but was sent '{sent}'.")


def filter_failure(name: str) -> BinanceError:
    return BinanceError(INVALID_MESSAGE, f"Filter failure: {name}")


def invalid_symbol() -> BinanceError:
    return BinanceError(BAD_SYMBOL, "Invalid symbol.")


def invalid_side() -> BinanceError:
    return BinanceError(INVALID_SIDE, "Invalid side.")


def invalid_type() -> BinanceError:
    return BinanceError(INVALID_ORDER_TYPE, "Invalid orderType.")


def invalid_tif() -> BinanceError:
    return BinanceError(INVALID_TIF, "Invalid timeInForce.")


def invalid_param(name: str) -> BinanceError:
    return BinanceError(INVALID_PARAMETER, f"Data sent for parameter '{name}' is not valid.")


def order_does_not_exist() -> BinanceError:
    return BinanceError(NO_SUCH_ORDER, "Order does not exist.")


def cancel_unknown() -> BinanceError:
    return BinanceError(CANCEL_REJECTED, "Unknown order sent.")


def insufficient_balance() -> BinanceError:
    return BinanceError(NEW_ORDER_REJECTED, "Account has insufficient balance for requested action.")


def duplicate_order() -> BinanceError:
    return BinanceError(NEW_ORDER_REJECTED, "Duplicate order sent.")


def bad_api_key_format() -> BinanceError:
    return BinanceError(BAD_API_KEY_FMT, "API-key format invalid.", 401)


def rejected_key() -> BinanceError:
    return BinanceError(REJECTED_MBX_KEY, "Invalid API-key, IP, or permissions for action.", 401)


def bad_signature() -> BinanceError:
    return BinanceError(INVALID_SIGNATURE, "Signature for this request is not valid.")


def outside_recv_window() -> BinanceError:
    return BinanceError(INVALID_TIMESTAMP, "Timestamp for this request is outside of the recvWindow.")


def ahead_of_server() -> BinanceError:
    return BinanceError(INVALID_TIMESTAMP, "Timestamp for this request was 1000ms ahead of the server's time.")


def status_unknown(http_status: int = 408) -> BinanceError:
    return BinanceError(
        TIMEOUT, "Timeout waiting for response from backend server. Send status unknown; execution status unknown.", http_status
    )
