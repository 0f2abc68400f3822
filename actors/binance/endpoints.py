"""Where Binance lives: live, testnet, or the local simulator (one host:port serves everything).

Sources (binance-reference/):
- spot REST `https://api.binance.com` (rest-api.md "General API Information"), also /sapi (margin,
  wallet); WebSocket API `wss://ws-api.binance.com:443/ws-api/v3`, testnet
  `wss://ws-api.testnet.binance.vision/ws-api/v3` (web-socket-api.md); spot testnet REST
  `https://testnet.binance.vision` (it serves /api only: no /sapi, so no margin).
- USD-M REST `https://fapi.binance.com`, testnet `https://demo-fapi.binance.com`
  (thirdparty-coincise-scrape usdm/authentication.md); WebSocket API
  `wss://ws-fapi.binance.com/ws-fapi/v1`, testnet `wss://testnet.binancefuture.com/ws-fapi/v1`
  (usdm/private_websocket_api.md); user data stream base `wss://fstream.binance.com`, testnet
  `wss://fstream.binancefuture.com`. Since the 2026 URL split (USD-M docs, "Important WebSocket Change
  Notice — Base URL Split & Migration", announced 2026-03-06, legacy URLs retired 2026-04-23) user data
  is on the `/private` route; we use its ws mode, `{base}/private/ws?listenKey=<key>&events=<E1>/<E2>`,
  the same on live, testnet and the simulator. The legacy `/ws/<listenKey>`, and the listenKey as a
  path segment under `/private/ws` (which that notice never documented), no longer deliver user data.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote

import msgspec

__all__ = ["Endpoints", "FUTURES_USER_STREAM_ROUTE", "FUTURES_USER_EVENTS", "futures_user_stream_url"]

#: Route under `futures_stream` of USD-M user data (ws mode: raw events, listenKey and events in the query).
FUTURES_USER_STREAM_ROUTE = "/private/ws"

#: The user-data events the actors consume (master listeners and slaves), named in the `events` query
#: parameter: an event not named is not delivered. ALGO_UPDATE carries the Algo Service's conditional
#: orders (mirrored resting orders); TRADE_LITE and MARGIN_CALL are not consumed, so not asked for.
FUTURES_USER_EVENTS: tuple[str, ...] = ("ORDER_TRADE_UPDATE", "ACCOUNT_UPDATE", "ACCOUNT_CONFIG_UPDATE", "ALGO_UPDATE", "listenKeyExpired")

_EVENT_NAME = re.compile(r"[A-Za-z_]+")


def futures_user_stream_url(stream_base: str, listen_key: str, events: Iterable[str] = FUTURES_USER_EVENTS) -> str:
    """`{stream_base}/private/ws?listenKey=<key>&events=E1/E2/...` (ws mode of the `/private` route)."""
    names = list(events)
    if not names:
        raise ValueError("a USD-M user-data stream needs at least one event name in events")
    bad = [n for n in names if not isinstance(n, str) or not _EVENT_NAME.fullmatch(n)]
    if bad:
        raise ValueError(f"invalid user-data event names {bad!r}: expected names like ORDER_TRADE_UPDATE")
    if not listen_key:
        raise ValueError("empty listenKey")
    return f"{stream_base.rstrip('/')}{FUTURES_USER_STREAM_ROUTE}?listenKey={quote(listen_key, safe='')}&events={'/'.join(names)}"


class Endpoints(msgspec.Struct, frozen=True, kw_only=True):
    spot_rest: str  # https base of /api/v3 and /sapi/v1 (margin, wallet)
    spot_ws_api: str  # WebSocket API (spot + margin user data), full URL
    futures_rest: str  # https base of /fapi
    futures_ws_api: str  # USD-M WebSocket API, full URL
    futures_stream: str  # base of USD-M user data streams (see futures_user_stream_url)

    @classmethod
    def live(cls) -> "Endpoints":
        return cls(
            spot_rest="https://api.binance.com",
            spot_ws_api="wss://ws-api.binance.com:443/ws-api/v3",
            futures_rest="https://fapi.binance.com",
            futures_ws_api="wss://ws-fapi.binance.com/ws-fapi/v1",
            futures_stream="wss://fstream.binance.com",
        )

    @classmethod
    def testnet(cls) -> "Endpoints":
        return cls(
            spot_rest="https://testnet.binance.vision",
            spot_ws_api="wss://ws-api.testnet.binance.vision/ws-api/v3",
            futures_rest="https://demo-fapi.binance.com",
            futures_ws_api="wss://testnet.binancefuture.com/ws-fapi/v1",
            futures_stream="wss://fstream.binancefuture.com",
        )

    @classmethod
    def local(cls, base: str) -> "Endpoints":
        """The simulator: `base` is `http://HOST:PORT` (or `HOST:PORT`)."""
        base = base.rstrip("/")
        if "://" not in base:
            base = "http://" + base
        scheme, rest = base.split("://", 1)
        ws = ("wss" if scheme == "https" else "ws") + "://" + rest
        return cls(spot_rest=base, spot_ws_api=ws + "/ws-api/v3", futures_rest=base, futures_ws_api=ws + "/ws-fapi/v1", futures_stream=ws)

    def futures_user_stream_url(self, listen_key: str, events: Iterable[str] = FUTURES_USER_EVENTS) -> str:
        return futures_user_stream_url(self.futures_stream, listen_key, events)
