"""Endpoint declarations and the REST adapter: one handler serves REST and the WebSocket API.

Declare an endpoint once:

    sim.api.route("POST", "/api/v3/order", place_order, security=TRADE, weight=1, order=True,
                  market="spot", permission="enableSpotAndMarginTrading", ws=[("/ws-api/v3", "order.place")])

`place_order(ctx: Ctx, p: Params) -> JSON-able` (plain function or coroutine) receives an already
authenticated context and the parameters; it raises `BinanceError` for Binance's error answers.
The REST adapter (here) and the WebSocket-API adapter (`wsapi.py`) do everything around it: rate
limits, faults, API key, timestamp/recvWindow, signature, permissions, order-count, the request log.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from simulator import errors
from simulator.auth import check_timestamp
from simulator.params import Params, parse_form

if TYPE_CHECKING:
    from simulator.accounts import Account, ApiKey
    from simulator.core import Sim

log = logging.getLogger("simulator.api")

# Security types (Binance's names). MARKET_DATA and USER_STREAM need an API key but no signature.
NONE = "NONE"
MARKET_DATA = "MARKET_DATA"
USER_STREAM = "USER_STREAM"
TRADE = "TRADE"
USER_DATA = "USER_DATA"
SIGNED = frozenset({TRADE, USER_DATA})
KEYED = frozenset({MARKET_DATA, USER_STREAM, TRADE, USER_DATA})

Handler = Callable[["Ctx", Params], Any | Awaitable[Any]]
JSON_CT = "application/json;charset=UTF-8"


class Ctx:
    """What a handler knows about its request (already authenticated)."""

    __slots__ = ("sim", "account", "key", "arrival_ns", "transport", "ip", "conn", "endpoint")

    def __init__(
        self,
        sim: "Sim",
        account: "Account | None",
        key: "ApiKey | None",
        arrival_ns: int,
        transport: str,
        ip: str,
        conn: Any,
        endpoint: "Endpoint",
    ) -> None:
        self.sim = sim
        self.account = account  # None for NONE-security endpoints
        self.key = key
        self.arrival_ns = arrival_ns  # time.monotonic_ns() when the request arrived
        self.transport = transport  # "rest" | "wsapi"
        self.ip = ip
        self.conn = conn  # the WsConn for WebSocket-API requests, else None
        self.endpoint = endpoint

    def require_account(self) -> "Account":
        if self.account is None:
            raise errors.rejected_key()
        return self.account


@dataclass
class Endpoint:
    name: str
    handler: Handler
    security: str = NONE
    weight: int | Callable[[Params], int] = 1
    order: bool = False  # counts toward the ORDERS limits; order faults apply
    market: str = "spot"  # spot | margin | futures | wallet (for fault filters and the request log)
    limiter: str = "spot"  # which RateLimiter counts it
    permission: str | None = None  # key permission that must be true (e.g. "enableFutures")
    allowed: frozenset[str] | None = None  # if set, other parameters answer -1104
    is_async: bool = field(init=False, default=False)

    def __post_init__(self) -> None:
        self.is_async = inspect.iscoroutinefunction(self.handler)

    def weight_of(self, params: Params) -> int:
        return self.weight(params) if callable(self.weight) else self.weight


@dataclass
class OrderRequest:
    """One order request as it arrived (admin: GET /_sim/requests)."""

    arrival_ns: int
    account_id: str | None
    api_key: str | None
    endpoint: str
    transport: str
    params: dict[str, str]
    status: int = 0
    error_code: int | None = None
    order_id: int | None = None
    client_order_id: str | None = None
    fault: str | None = None


class Api:
    """Registry of endpoints: REST routes and WebSocket-API methods per WebSocket path."""

    def __init__(self) -> None:
        self.rest: dict[tuple[str, str], Endpoint] = {}
        self.ws: dict[str, dict[str, Endpoint]] = {}  # ws path -> method -> endpoint
        self.ws_limiter: dict[str, str] = {}  # ws path -> limiter family

    def add_ws_path(self, path: str, limiter: str) -> None:
        self.ws.setdefault(path, {})
        self.ws_limiter[path] = limiter

    def route(
        self,
        method: str,
        path: str | None,
        handler: Handler,
        *,
        security: str = NONE,
        weight: int | Callable[[Params], int] = 1,
        order: bool = False,
        market: str = "spot",
        limiter: str | None = None,
        permission: str | None = None,
        allowed: frozenset[str] | None = None,
        ws: list[tuple[str, str]] | None = None,
    ) -> Endpoint:
        """Register a handler as REST route (method, path) and/or WebSocket-API methods `ws`."""
        if limiter is None:
            limiter = "futures" if market == "futures" else "spot"
        name = f"{method} {path}" if path else (ws[0][1] if ws else handler.__name__)
        ep = Endpoint(name, handler, security, weight, order, market, limiter, permission, allowed)
        if path:
            key = (method.upper(), path)
            if key in self.rest:
                raise ValueError(f"route {key} registered twice")
            self.rest[key] = ep
        for ws_path, ws_method in ws or ():
            methods = self.ws.setdefault(ws_path, {})
            if ws_method in methods:
                raise ValueError(f"ws method {ws_path} {ws_method} registered twice")
            methods[ws_method] = ep
        return ep

    def ws_method(self, path: str, method: str, handler: Handler, **kw: Any) -> Endpoint:
        return self.route("WS", None, handler, ws=[(path, method)], **kw)


# -- shared request pipeline pieces ------------------------------------------------------------------


def lookup_key(sim: "Sim", api_key: str | None) -> "ApiKey":
    if not api_key:
        raise errors.bad_api_key_format()
    key = sim.store.keys.get(api_key)
    if key is None or key.revoked:
        raise errors.rejected_key()
    return key


def check_permission(ep: Endpoint, key: "ApiKey") -> None:
    if ep.permission is not None and not key.permissions.get(ep.permission):
        raise errors.rejected_key()
    if ep.security == TRADE and not key.permissions.get("enableSpotAndMarginTrading") and ep.market in ("spot", "margin"):
        raise errors.rejected_key()


def apply_rate_fault(sim: "Sim", api_key: str | None) -> None:
    """Admin-injected 429/418 on the next N requests (optionally for one key / account)."""
    if not sim.faults.rate_faults:
        return
    key = sim.store.keys.get(api_key) if api_key else None
    fault = sim.faults.take_rate_fault(api_key, key.account_id if key else None)
    if fault is None:
        return
    now_ms = int(time.time() * 1000)
    if fault.http_status == 418:
        until = now_ms + fault.retry_after * 1000
        raise errors.BinanceError(
            errors.TOO_MANY_REQUESTS,
            f"Way too much request weight used; IP banned until {until}. Please use WebSocket Streams for live updates to avoid bans.",
            418,
            headers={"Retry-After": str(fault.retry_after)},
            data={"serverTime": now_ms, "retryAfter": until},
        )
    raise errors.BinanceError(
        errors.TOO_MANY_REQUESTS,
        "Too much request weight used; current limit is 6000 request weight per 1 MINUTE. "
        "Please use WebSocket Streams for live updates to avoid polling the API.",
        429,
        headers={"Retry-After": str(fault.retry_after)},
        data={"serverTime": now_ms, "retryAfter": now_ms + fault.retry_after * 1000},
    )


async def run_handler(ep: Endpoint, ctx: Ctx, params: Params) -> Any:
    if ep.is_async:
        return await ep.handler(ctx, params)
    return ep.handler(ctx, params)


async def run_order(sim: "Sim", ep: Endpoint, ctx: Ctx, params: Params, record: OrderRequest) -> Any:
    """Run an order handler through the order-fault injector; fills in the request record."""
    key = ctx.key
    fault = sim.faults.take_order_fault(key.api_key if key else None, ctx.account.id if ctx.account else None, ep.market)
    if fault is not None:
        record.fault = f"{fault.kind}:{'executed' if fault.executed else 'not-executed'}"
        if fault.executed and fault.delay_s > 0:
            record.fault += f":after-{fault.delay_s}s"
            task = asyncio.get_running_loop().create_task(_execute_late(ep, ctx, params, record, fault.delay_s))
            sim.faults.late_orders.add(task)
            task.add_done_callback(sim.faults.late_orders.discard)
        elif fault.executed:
            try:
                result = await run_handler(ep, ctx, params)
                if isinstance(result, dict):
                    record.order_id = result.get("orderId")
                    record.client_order_id = result.get("clientOrderId")
            except errors.BinanceError as exc:
                record.error_code = exc.code
        if fault.kind == "timeout":
            raise errors.status_unknown(fault.http_status)
        raise errors.BinanceError(
            errors.DISCONNECTED, "Internal error; unable to process your request. Please try again.", fault.http_status
        )
    result = await run_handler(ep, ctx, params)
    if isinstance(result, dict):
        record.order_id = result.get("orderId")
        record.client_order_id = result.get("clientOrderId")
    return result


async def _execute_late(ep: Endpoint, ctx: Ctx, params: Params, record: OrderRequest, delay_s: float) -> None:
    """The request reaches the matching engine `delay_s` after its answer: executed only while its
    timestamp is within recvWindow (rest-api.md "Timing security"), else dropped."""
    await asyncio.sleep(delay_s)
    try:
        check_timestamp(params.get("timestamp"), params.get("recvWindow"))
    except errors.BinanceError as exc:
        record.error_code = exc.code  # outside recvWindow at the matching engine: never executed
        return
    try:
        result = await run_handler(ep, ctx, params)
    except errors.BinanceError as exc:
        record.error_code = exc.code
        return
    if isinstance(result, dict):
        record.order_id = result.get("orderId")
        record.client_order_id = result.get("clientOrderId")


def _strip_signature(raw: str) -> tuple[str, bool]:
    """The raw form string without its `signature=` pair, and whether one was there."""
    if "signature=" not in raw:
        return raw, False
    parts = [part for part in raw.split("&") if not part.startswith("signature=")]
    return "&".join(parts), True


def make_rest_handler(sim: "Sim", ep: Endpoint) -> Callable[[web.Request], Awaitable[web.Response]]:
    limiter = sim.limiters[ep.limiter]
    keyed = ep.security in KEYED
    signed = ep.security in SIGNED

    async def handle(request: web.Request) -> web.Response:
        arrival = time.monotonic_ns()
        headers: dict[str, str] = {}
        record: OrderRequest | None = None
        ip = request.remote or "?"
        try:
            api_key_header = request.headers.get("X-MBX-APIKEY")
            apply_rate_fault(sim, api_key_header)
            raw_query = request.raw_path.partition("?")[2]
            body = ""
            if request.body_exists:  # (not can_read_body: false once the recorder's middleware has read it)
                body = (await request.read()).decode("utf-8", "replace")
            values: dict[str, str] = {}
            parse_form(raw_query, values, keep_existing=False)
            parse_form(body, values, keep_existing=True)
            params = Params(values)
            used = limiter.add_weight(ip, ep.weight_of(params))
            headers.update(limiter.weight_headers(used))
            await sim.faults.delay("rest")
            key = None
            account = None
            if keyed:
                key = lookup_key(sim, api_key_header)
                account = sim.store.accounts[key.account_id]
            if ep.order:
                record = OrderRequest(
                    arrival,
                    account.id if account else None,
                    key.api_key if key else None,
                    ep.name,
                    "rest",
                    {k: v for k, v in values.items() if k != "signature"},
                )
                sim.order_log.append(record)
            if signed:
                assert key is not None
                check_timestamp(values.get("timestamp"), values.get("recvWindow"))
                signature = values.get("signature")
                if not signature:
                    raise errors.mandatory("signature")
                q, _ = _strip_signature(raw_query)
                b, _ = _strip_signature(body)
                if not key.verifier.verify((q + b).encode(), signature):
                    # Binance's SDKs put every signed field in the query and repeat body fields in the
                    # body; accept a signature over the query alone in that case.
                    if not (b and key.verifier.verify(q.encode(), signature)):
                        raise errors.bad_signature()
            if key is not None:
                check_permission(ep, key)
            if ep.allowed is not None:
                params.check_only(ep.allowed)
            ctx = Ctx(sim, account, key, arrival, "rest", ip, None, ep)
            if ep.order:
                assert account is not None and record is not None
                used_orders = limiter.add_order(account.id)
                result = await run_order(sim, ep, ctx, params, record)
                headers.update(limiter.order_headers(used_orders))
                record.status = 200
            else:
                result = await run_handler(ep, ctx, params)
            return web.Response(status=200, body=orjson.dumps(result), headers={**headers, "Content-Type": JSON_CT})
        except errors.BinanceError as exc:
            if exc.headers:
                headers.update(exc.headers)
            if record is not None:
                record.status = exc.http_status
                record.error_code = exc.code
            headers["Content-Type"] = JSON_CT
            return web.Response(status=exc.http_status, body=orjson.dumps(exc.body()), headers=headers)
        except Exception:  # noqa: BLE001 - one bad request never kills the server
            log.exception("internal error on %s", ep.name)
            headers["Content-Type"] = JSON_CT
            return web.Response(
                status=400,
                body=orjson.dumps({"code": errors.UNKNOWN, "msg": "An unknown error occurred while processing the request."}),
                headers=headers,
            )

    return handle
