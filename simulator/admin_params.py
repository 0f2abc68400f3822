"""The admin API's field readers (split from admin.py): each names the field that is wrong."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
from aiohttp import web


class AdminError(Exception):
    pass


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(data), content_type="application/json")


def _dec(body: dict[str, Any], name: str) -> Decimal:
    if name not in body:
        raise AdminError(f"missing field {name!r}")
    try:
        value = Decimal(str(body[name]))
    except (InvalidOperation, ValueError):
        raise AdminError(f"{name!r} must be a decimal number") from None
    if not value.is_finite():
        raise AdminError(f"{name!r} must be finite")
    return value


def _str(body: dict[str, Any], name: str, default: str | None = None) -> str:
    value = body.get(name, default)
    if not isinstance(value, str) or not value:
        raise AdminError(f"missing or empty string field {name!r}")
    return value


def _opt_str(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise AdminError(f"{name!r} must be a string")
    return value


def _int(body: dict[str, Any], name: str, default: int | None = None) -> int:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise AdminError(f"{name!r} must be an integer")
    return value


def _num(body: dict[str, Any], name: str, default: float | None = None) -> float:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise AdminError(f"{name!r} must be a non-negative number")
    return float(value)
