"""A thin asyncio REST client for Binance (spot /api, /sapi, USD-M /fapi) on HTTP/1.1 keep-alive.

- Parameters are always sent in the query string (the docs accept it for every method and their
  signed examples use it), encoded in insertion order; the signature covers exactly that string.
- SIGNED requests get `timestamp` (local clock + the server offset from `sync_time`), `recvWindow`
  and `signature`, plus the `X-MBX-APIKEY` header.
- Errors are raised as the classes of `errors.py`; on -1021 the client resyncs its clock once and
  retries (safe: -1021 means the request was rejected).
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from .errors import ClockSkew, NotSent, RateLimited, StatusUnknown, classify
from .httpclient import HttpClient
from .pacing import WeightPacer, request_weight
from .params import Params, encode_query
from .signing import Signer
from .transport import ConnectFailed, TransportError

__all__ = ["RestClient"]

_WEIGHT = "x-mbx-used-weight-"
_ORDERS = "x-mbx-order-count-"
_SAPI = "x-sapi-used-"


class RestClient:
    """One keep-alive HTTP session to one Binance base URL.

    `used_weight` maps an interval (`"1m"`) to the last `X-MBX-USED-WEIGHT-*` value,
    `order_count` the same for `X-MBX-ORDER-COUNT-*`, `sapi_weight` for `X-SAPI-USED-*-WEIGHT-*`
    (key like `"ip-1m"` / `"uid-1m"`).

    With a `pacer`, each request first waits while the IP's weight count is near its limit (the
    pacer learns the count from these headers and from 429/418 replies): see `pacing.py`.
    """

    def __init__(
        self,
        base_url: str,
        signer: Signer | None = None,
        *,
        recv_window: int = 5000,
        timeout: float = 10.0,
        connections: int = 4,
        pacer: WeightPacer | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.signer = signer
        self.recv_window = recv_window
        self.timeout = timeout
        self.time_offset_ms = 0
        self.used_weight: dict[str, int] = {}
        self.order_count: dict[str, int] = {}
        self.sapi_weight: dict[str, int] = {}
        self.pacer = pacer
        self._http = HttpClient(self.base_url, connections=connections)
        self._path_prefix = _path_of(self.base_url)
        self._key_headers = {"X-MBX-APIKEY": signer.api_key} if signer is not None else {}

    def __repr__(self) -> str:
        return f"RestClient({self.base_url!r}, signer={self.signer!r})"

    async def close(self) -> None:
        await self._http.close()

    async def __aenter__(self) -> "RestClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- public API --------------------------------------------------------------------------
    def now_ms(self) -> int:
        """Server time estimate in ms (local clock + offset)."""
        return int(time.time() * 1000) + self.time_offset_ms

    async def public(self, method: str, path: str, params: Params = None) -> Any:
        """A NONE-security request (market data, time, exchangeInfo)."""
        return await self._send(method, path, encode_query(params), None)

    async def api_key_only(self, method: str, path: str, params: Params = None) -> Any:
        """An API-key-only request (USER_STREAM: listenKey): `X-MBX-APIKEY`, no signature."""
        self._require_signer()
        return await self._send(method, path, encode_query(params), self._key_headers)

    async def signed(self, method: str, path: str, params: Params = None) -> Any:
        """A SIGNED request (TRADE / USER_DATA). Resyncs the clock once and retries on -1021."""
        signer = self._require_signer()
        base = encode_query(params)
        try:
            return await self._send(method, path, self._sign(signer, base), self._key_headers)
        except ClockSkew:
            await self.sync_time(_time_path_for(path))
            return await self._send(method, path, self._sign(signer, base), self._key_headers)

    async def sync_time(self, path: str = "/api/v3/time") -> int:
        """GET the server time (`/api/v3/time` or `/fapi/v1/time`); keep and return the offset in ms."""
        t0 = time.time()
        reply = await self._send("GET", path, "", None)
        t1 = time.time()
        server = int(reply["serverTime"])
        self.time_offset_ms = server - int((t0 + t1) * 500)
        return self.time_offset_ms

    # -- internals ---------------------------------------------------------------------------
    def _require_signer(self) -> Signer:
        if self.signer is None:
            raise ValueError("this RestClient has no API key (signer=None)")
        return self.signer

    def _sign(self, signer: Signer, base_query: str) -> str:
        extra = f"recvWindow={self.recv_window}&timestamp={self.now_ms()}"
        query = f"{base_query}&{extra}" if base_query else extra
        return f"{query}&signature={_quote_sig(signer.sign(query))}"

    async def _send(self, method: str, path: str, query: str, headers: dict[str, str] | None) -> Any:
        target = self._path_prefix + path + ("?" + query if query else "")
        if self.pacer is not None:
            await self.pacer.wait(request_weight(method, path, query))
        try:
            resp = await self._http.request(method, target, headers, timeout=self.timeout)
        except ConnectFailed as exc:
            raise NotSent(0, 0, f"could not connect: {exc}") from None
        except TimeoutError:
            raise StatusUnknown(0, 0, f"no reply within {self.timeout}s to {method} {path}") from None
        except (TransportError, OSError) as exc:
            raise StatusUnknown(0, 0, f"connection failed during {method} {path}: {type(exc).__name__}") from None
        status = resp.status
        self._track(resp.headers)
        body = resp.body
        if status < 300:
            try:
                return orjson.loads(body) if body else None
            except orjson.JSONDecodeError:
                raise StatusUnknown(status, 0, "unparseable response body") from None
        exc = classify(status, body, retry_after=resp.headers.get("retry-after"))
        if isinstance(exc, RateLimited) and self.pacer is not None:
            self.pacer.rate_limited(exc.retry_after)
        raise exc

    def _track(self, headers: Any) -> None:
        for name, value in headers.items():
            low = name.lower()
            if not low.startswith("x-"):
                continue
            try:
                if low.startswith(_WEIGHT):
                    interval = low[len(_WEIGHT) :]
                    used = self.used_weight[interval] = int(value)
                    if self.pacer is not None:
                        self.pacer.seen(interval, used)
                elif low.startswith(_ORDERS):
                    self.order_count[low[len(_ORDERS) :]] = int(value)
                elif low.startswith(_SAPI):
                    # x-sapi-used-ip-weight-1m / x-sapi-used-uid-weight-1m
                    rest = low[len(_SAPI) :].replace("-weight", "")
                    self.sapi_weight[rest] = int(value)
            except ValueError:
                continue


def _quote_sig(sig: str) -> str:
    # HMAC hex needs no quoting; base64 (Ed25519/RSA) needs + / = percent-encoded.
    if sig.isalnum():
        return sig
    return sig.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")


def _path_of(base_url: str) -> str:
    """The path part of a base URL (`http://h:1/prefix` -> `/prefix`), without a trailing slash."""
    rest = base_url.split("://", 1)[-1]
    slash = rest.find("/")
    return rest[slash:].rstrip("/") if slash >= 0 else ""


def _time_path_for(path: str) -> str:
    return "/fapi/v1/time" if path.startswith("/fapi") else "/api/v3/time"
