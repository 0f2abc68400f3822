"""The WebSocket API (`/ws-api/v3` spot+margin, `/ws-fapi/v1` futures): dispatch, auth, user data.

Requests are `{"id", "method", "params"}` text frames; replies `{"id", "status", "result"|"error",
"rateLimits"}`. A method is an `Endpoint` registered with `ws=[(path, method)]` (see api.py); the
same handler serves REST. Authentication per request (`apiKey` + `signature` over the params sorted
by name) or per session (`session.logon`, Ed25519 only). User-data subscriptions
(`userDataStream.subscribe`, `.subscribe.signature`, `.subscribe.listenToken`) deliver events as
`{"subscriptionId": N, "event": {...}}` through a per-connection sender that honours stream faults.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import orjson
from aiohttp import WSMsgType, web

from simulator import errors
from simulator.api import KEYED, SIGNED, Ctx, Endpoint, OrderRequest, apply_rate_fault, check_permission, lookup_key, run_handler, run_order
from simulator.auth import check_timestamp
from simulator.params import Params, json_value_to_str
from simulator.util import now_ms
from simulator.ws_arrival import ArrivalStamps

if TYPE_CHECKING:
    from simulator.accounts import ApiKey
    from simulator.core import Sim

log = logging.getLogger("simulator.wsapi")

SPOT_WS_PATH = "/ws-api/v3"
FUTURES_WS_PATH = "/ws-fapi/v1"


class WsSubscription:
    """A user-data subscription on one connection (a `Sink` of the UserDataHub)."""

    __slots__ = ("conn", "sub_id", "account_id", "market", "kind", "expires_ms", "listen_token")

    def __init__(
        self,
        conn: "WsConn",
        sub_id: int,
        account_id: str,
        market: str,
        kind: str,
        expires_ms: int | None = None,
        listen_token: str | None = None,
    ) -> None:
        self.conn = conn
        self.sub_id = sub_id
        self.account_id = account_id
        self.market = market
        self.kind = kind  # "logon" | "signature" | "listenToken"
        self.expires_ms = expires_ms
        self.listen_token = listen_token

    def push(self, event: dict[str, Any]) -> None:
        self.conn.enqueue(self, event)


class WsConn:
    def __init__(self, sim: "Sim", ws: web.WebSocketResponse, path: str, ip: str, return_rate_limits: bool, agent: str = "") -> None:
        self.sim = sim
        self.agent = agent  # the upgrade request's User-Agent (for the request recorder)
        self.ws = ws
        self.path = path
        self.ip = ip
        self.methods = sim.api.ws[path]
        self.limiter = sim.limiters[sim.api.ws_limiter[path]]
        self.connected_since = now_ms()
        self.session_key: ApiKey | None = None
        self.authorized_since: int | None = None
        self.return_rate_limits = return_rate_limits
        self.subs: dict[int, WsSubscription] = {}
        self.next_sub_id = 0
        self.queue: asyncio.Queue[tuple[WsSubscription | None, dict[str, Any], float]] = asyncio.Queue()
        self.sender: asyncio.Task[None] | None = None
        self.closed = False

    # -- events ----------------------------------------------------------------------------------------
    def enqueue(self, sub: WsSubscription | None, event: dict[str, Any]) -> None:
        if not self.closed:
            self.queue.put_nowait((sub, event, time.monotonic()))

    async def send_events(self) -> None:
        faults = self.sim.faults
        while True:
            sub, event, queued_at = await self.queue.get()
            await faults.stream_gate(sub.account_id if sub else None, queued_at)
            if self.closed:
                return
            frame: dict[str, Any] = {"subscriptionId": sub.sub_id, "event": event} if sub else {"event": event}
            try:
                await self.ws.send_str(orjson.dumps(frame).decode())
            except (ConnectionError, RuntimeError):
                return

    def add_subscription(
        self, account_id: str, market: str, kind: str, expires_ms: int | None = None, listen_token: str | None = None
    ) -> WsSubscription:
        for sub in self.subs.values():
            if sub.account_id == account_id and sub.market == market:
                raise errors.BinanceError(errors.SUBSCRIPTION_ACTIVE, "User Data Stream subscription already active.")
        sub = WsSubscription(self, self.next_sub_id, account_id, market, kind, expires_ms, listen_token)
        self.next_sub_id += 1
        self.subs[sub.sub_id] = sub
        self.sim.hub.subscribe(sub)
        return sub

    def end_subscription(self, sub: WsSubscription, notify: bool = True) -> None:
        if self.subs.pop(sub.sub_id, None) is None:
            return
        self.sim.hub.unsubscribe(sub)
        if notify:
            self.enqueue(sub, {"e": "eventStreamTerminated", "E": now_ms()})

    def drop_all_subscriptions(self) -> None:
        for sub in list(self.subs.values()):
            self.sim.hub.unsubscribe(sub)
        self.subs.clear()

    def session_info(self) -> dict[str, Any]:
        info = {
            "apiKey": self.session_key.api_key if self.session_key else None,
            "authorizedSince": self.authorized_since,
            "connectedSince": self.connected_since,
            "returnRateLimits": self.return_rate_limits,
            "serverTime": now_ms(),
        }
        if self.path == SPOT_WS_PATH:  # USD-M's session replies have no userDataStream (usdm WebSocket API docs)
            info["userDataStream"] = bool(self.subs)
        return info

    # -- requests --------------------------------------------------------------------------------------
    async def reply(self, req_id: Any, status: int, body: dict[str, Any], asked: Any = None) -> None:
        """`asked`: the request (a dict), written with this reply to the request recorder if one runs."""
        frame = {"id": req_id, "status": status, **body}
        await self.ws.send_str(orjson.dumps(frame).decode())
        recorder = getattr(self.sim, "recorder", None)
        if recorder is not None and isinstance(asked, dict):
            params = asked.get("params")
            pairs = [(k, json_value_to_str(v)) for k, v in params.items()] if isinstance(params, dict) else []
            account = recorder.account_of(params.get("apiKey") if isinstance(params, dict) else None) or (
                self.session_key.account_id if self.session_key else None
            )
            recorder.write("wsapi", str(asked.get("method")), self.path, pairs, self.agent, account, status, body.get("result"))

    async def handle_text(self, text: str, arrival: int | None = None) -> None:
        """`arrival`: time.monotonic_ns() when the request's bytes were read (now if unknown)."""
        if arrival is None:
            arrival = time.monotonic_ns()
        req_id: Any = None
        rate_limits: list[dict] | None = None
        show_limits = self.return_rate_limits
        record: OrderRequest | None = None
        msg: Any = None
        try:
            try:
                msg = orjson.loads(text)
            except orjson.JSONDecodeError:
                raise errors.BinanceError(errors.INVALID_JSON, "Invalid JSON Request") from None
            if not isinstance(msg, dict):
                raise errors.BinanceError(errors.INVALID_JSON, "Invalid JSON Request")
            req_id = msg.get("id")
            method = msg.get("method")
            raw_params = msg.get("params") or {}
            if not isinstance(method, str) or not method:
                raise errors.mandatory("method")
            if not isinstance(raw_params, dict):
                raise errors.BinanceError(errors.INVALID_JSON, "JSON sent for parameter 'params' is not valid")
            if "/" in method:
                method = method.split("/", 1)[1]
            ep = self.methods.get(method)
            if ep is None:
                raise errors.BinanceError(errors.UNSUPPORTED_OPERATION, f"Unknown method '{method}'.")
            values = {k: json_value_to_str(v) for k, v in raw_params.items()}
            params = Params(values)
            if "returnRateLimits" in values:
                show_limits = params.bool("returnRateLimits", show_limits)
            api_key_param = values.get("apiKey")
            apply_rate_fault(self.sim, api_key_param or (self.session_key.api_key if self.session_key else None))
            used = self.limiter.add_weight(self.ip, ep.weight_of(params))
            rate_limits = self.limiter.ws_rate_limits(used)
            await self.sim.faults.delay("wsapi")
            key, account = self._authenticate(ep, values)
            if key is not None:
                check_permission(ep, key)
            if ep.allowed is not None:
                params.check_only(ep.allowed)
            ctx = Ctx(self.sim, account, key, arrival, "wsapi", self.ip, self, ep)
            if ep.order:
                assert account is not None and key is not None
                record = OrderRequest(
                    arrival, account.id, key.api_key, ep.name, "wsapi", {k: v for k, v in values.items() if k != "signature"}
                )
                self.sim.order_log.append(record)
                order_used = self.limiter.add_order(account.id)
                rate_limits = self.limiter.ws_rate_limits(order_used) + rate_limits
                result = await run_order(self.sim, ep, ctx, params, record)
                record.status = 200
            else:
                result = await run_handler(ep, ctx, params)
            body: dict[str, Any] = {"result": result}
            if show_limits and rate_limits is not None:
                body["rateLimits"] = rate_limits
            await self.reply(req_id, 200, body, msg)
        except errors.BinanceError as exc:
            if record is not None:
                record.status = exc.http_status
                record.error_code = exc.code
            error: dict[str, Any] = exc.body()
            if exc.data:
                error["data"] = exc.data
            body = {"error": error}
            if show_limits and rate_limits is not None:
                body["rateLimits"] = rate_limits
            await self.reply(req_id, exc.http_status, body, msg)
        except (ConnectionError, RuntimeError):
            raise
        except Exception:  # noqa: BLE001 - one bad message never kills the connection
            log.exception("internal error on ws request")
            await self.reply(
                req_id, 400, {"error": {"code": errors.UNKNOWN, "msg": ("An unknown error occurred while processing the request.")}}, msg
            )

    def _authenticate(self, ep: Endpoint, values: dict[str, str]) -> tuple[Any, Any]:
        if ep.security not in KEYED:
            return None, None
        sim = self.sim
        api_key = values.get("apiKey")
        if api_key:
            key = lookup_key(sim, api_key)
            if ep.security in SIGNED:
                check_timestamp(values.get("timestamp"), values.get("recvWindow"))
                verify_ws_signature(key, values)
        elif self.session_key is not None:
            key = self.session_key
            if key.revoked:
                self.session_key = None
                self.authorized_since = None
                raise errors.rejected_key()
            if ep.security in SIGNED:
                check_timestamp(values.get("timestamp"), values.get("recvWindow"))
        else:
            raise errors.mandatory("apiKey")
        return key, sim.store.accounts[key.account_id]


def ws_signature_payload(values: dict[str, str]) -> str:
    """What a client signs: params (minus signature) sorted by name, `k=v` joined with `&`."""
    return "&".join(f"{k}={v}" for k, v in sorted(values.items()) if k != "signature")


def verify_ws_signature(key: "ApiKey", values: dict[str, str]) -> None:
    signature = values.get("signature")
    if not signature:
        raise errors.mandatory("signature")
    raw = ws_signature_payload(values)
    if key.verifier.verify(raw.encode(), signature):
        return
    # Binance's SDKs percent-encode the payload (urlencode) before signing; accept that form too.
    encoded = urlencode(sorted((k, v) for k, v in values.items() if k != "signature"))
    if encoded != raw and key.verifier.verify(encoded.encode(), signature):
        return
    raise errors.bad_signature()


# -- session and user-data methods ------------------------------------------------------------------


def _conn(ctx: Ctx) -> WsConn:
    conn = ctx.conn
    if not isinstance(conn, WsConn):
        raise errors.BinanceError(errors.UNSUPPORTED_OPERATION, "This operation is not supported.")
    return conn


def session_logon(ctx: Ctx, p: Params) -> dict[str, Any]:
    conn = _conn(ctx)
    assert ctx.key is not None
    if ctx.key.key_type != "ED25519":
        raise errors.BinanceError(errors.REJECTED_MBX_KEY, "Invalid API-key, IP, or permissions for action.", 401)
    if not p.get("apiKey"):
        raise errors.mandatory("apiKey")
    conn.session_key = ctx.key
    conn.authorized_since = now_ms()
    return conn.session_info()


def session_status(ctx: Ctx, p: Params) -> dict[str, Any]:
    return _conn(ctx).session_info()


def session_logout(ctx: Ctx, p: Params) -> dict[str, Any]:
    conn = _conn(ctx)
    for sub in list(conn.subs.values()):
        if sub.kind == "logon":
            conn.end_subscription(sub)
    conn.session_key = None
    conn.authorized_since = None
    return conn.session_info()


def uds_subscribe(ctx: Ctx, p: Params) -> dict[str, Any]:
    conn = _conn(ctx)
    if conn.session_key is None:
        raise errors.BinanceError(errors.UNAUTHORIZED, "You are not authorized to execute this request.", 401)
    sub = conn.add_subscription(conn.session_key.account_id, "spot", "logon")
    return {"subscriptionId": sub.sub_id}


def uds_subscribe_signature(ctx: Ctx, p: Params) -> dict[str, Any]:
    conn = _conn(ctx)
    account = ctx.require_account()
    sub = conn.add_subscription(account.id, "spot", "signature")
    return {"subscriptionId": sub.sub_id}


def uds_subscribe_listen_token(ctx: Ctx, p: Params) -> dict[str, Any]:
    conn = _conn(ctx)
    token = p.str("listenToken")
    info = ctx.sim.listen_tokens.get(token)
    if info is None or info[1] <= now_ms():
        raise errors.BinanceError(errors.INVALID_LISTEN_TOKEN, "Invalid listenToken.")
    account_id, expires = info
    # a new token for the same account replaces (extends) the existing subscription
    for sub in list(conn.subs.values()):
        if sub.account_id == account_id and sub.market == "margin":
            sub.expires_ms = expires
            sub.listen_token = token
            return {"subscriptionId": sub.sub_id, "expirationTime": expires}
    sub = conn.add_subscription(account_id, "margin", "listenToken", expires, token)
    return {"subscriptionId": sub.sub_id, "expirationTime": expires}


def uds_unsubscribe(ctx: Ctx, p: Params) -> dict[str, Any]:
    conn = _conn(ctx)
    sub_id = p.opt_int("subscriptionId")
    if sub_id is None:
        for sub in list(conn.subs.values()):
            conn.end_subscription(sub)
    else:
        sub = conn.subs.get(sub_id)
        if sub is None:
            raise errors.BinanceError(errors.SUBSCRIPTION_INACTIVE, "User Data Stream subscription not active.")
        conn.end_subscription(sub)
    return {}


def session_subscriptions(ctx: Ctx, p: Params) -> list[dict[str, Any]]:
    return [{"subscriptionId": sid} for sid in sorted(_conn(ctx).subs)]


def register_session_methods(sim: "Sim", path: str) -> None:
    api = sim.api
    limiter = api.ws_limiter[path]
    market = "futures" if limiter == "futures" else "spot"
    api.ws_method(path, "session.logon", session_logon, security="USER_DATA", weight=2, limiter=limiter, market=market)
    api.ws_method(path, "session.status", session_status, weight=2, limiter=limiter, market=market)
    api.ws_method(path, "session.logout", session_logout, weight=2, limiter=limiter, market=market)


def register_user_data_methods(sim: "Sim", path: str = SPOT_WS_PATH) -> None:
    api = sim.api
    api.ws_method(path, "userDataStream.subscribe", uds_subscribe, weight=2)
    api.ws_method(path, "userDataStream.subscribe.signature", uds_subscribe_signature, security="USER_DATA", weight=2)
    api.ws_method(path, "userDataStream.subscribe.listenToken", uds_subscribe_listen_token, weight=2, market="margin")
    api.ws_method(path, "userDataStream.unsubscribe", uds_unsubscribe, weight=2)
    api.ws_method(path, "session.subscriptions", session_subscriptions, weight=2)


# -- the aiohttp handler and connection housekeeping --------------------------------------------------


class WsRegistry:
    """All open WebSocket-API connections (for faults and listenToken expiry)."""

    def __init__(self, sim: "Sim") -> None:
        self.sim = sim
        self.conns: set[WsConn] = set()
        sim.faults.drop_hooks.append(self.drop)
        sim.faults.expire_hooks.append(self.expire_tokens)

    def drop(self, account_id: str | None) -> int:
        closed = 0
        for conn in list(self.conns):
            if (
                account_id is None
                or any(s.account_id == account_id for s in conn.subs.values())
                or (conn.session_key is not None and conn.session_key.account_id == account_id)
            ):
                if account_id is None and not conn.subs and conn.session_key is None:
                    continue
                conn.closed = True
                conn.drop_all_subscriptions()
                asyncio.get_running_loop().create_task(conn.ws.close(code=1001, message=b"dropped by simulator"))
                closed += 1
        return closed

    def expire_tokens(self, listen_key: str | None, account_id: str | None) -> int:
        """Expire margin listenTokens now (all, one token, or one account's); subscriptions end."""
        count = 0
        for token, (acc, _exp) in list(self.sim.listen_tokens.items()):
            if (listen_key is None or listen_key == token) and (account_id is None or account_id == acc):
                self.sim.listen_tokens[token] = (acc, 0)
                count += 1
        self.expire_subscriptions(force_token=listen_key, force_account=account_id, force=True)
        return count

    def expire_subscriptions(self, force_token: str | None = None, force_account: str | None = None, force: bool = False) -> None:
        now = now_ms()
        for conn in list(self.conns):
            for sub in list(conn.subs.values()):
                if sub.kind != "listenToken":
                    continue
                forced = force and (force_token in (None, sub.listen_token)) and (force_account in (None, sub.account_id))
                if forced or (sub.expires_ms is not None and sub.expires_ms <= now):
                    conn.end_subscription(sub)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=4 * 1024 * 1024)
        await ws.prepare(request)
        show = request.query.get("returnRateLimits", "true").lower() != "false"
        conn = WsConn(self.sim, ws, path, request.remote or "?", show, request.headers.get("User-Agent", ""))
        self.conns.add(conn)
        conn.sender = asyncio.get_running_loop().create_task(conn.send_events())
        stamps = ArrivalStamps.install(request, ws)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await conn.handle_text(msg.data, stamps.pop(msg.data) if stamps is not None else None)
                elif msg.type == WSMsgType.BINARY:
                    await conn.handle_text(msg.data.decode("utf-8", "replace"))
                elif msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
        except (ConnectionError, RuntimeError, asyncio.CancelledError):
            pass
        finally:
            conn.closed = True
            conn.drop_all_subscriptions()
            self.conns.discard(conn)
            if conn.sender is not None:
                conn.sender.cancel()
        return ws
