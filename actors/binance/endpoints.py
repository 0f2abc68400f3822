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
  `wss://fstream.binancefuture.com`, path `/private/ws/<listenKey>` since the 2026 split
  (binance-reference/README.md).
"""
from __future__ import annotations

import msgspec

__all__ = ["Endpoints", "FUTURES_USER_STREAM_PATH"]

#: Path under `futures_stream` of a USD-M user data stream: `{futures_stream}/private/ws/<listenKey>`.
FUTURES_USER_STREAM_PATH = "/private/ws/"


class Endpoints(msgspec.Struct, frozen=True, kw_only=True):
    spot_rest: str  # https base of /api/v3 and /sapi/v1 (margin, wallet)
    spot_ws_api: str  # WebSocket API (spot + margin user data), full URL
    futures_rest: str  # https base of /fapi
    futures_ws_api: str  # USD-M WebSocket API, full URL
    futures_stream: str  # base of USD-M user data streams (path FUTURES_USER_STREAM_PATH + listenKey)

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
        return cls(
            spot_rest=base,
            spot_ws_api=ws + "/ws-api/v3",
            futures_rest=base,
            futures_ws_api=ws + "/ws-fapi/v1",
            futures_stream=ws,
        )

    def futures_user_stream_url(self, listen_key: str) -> str:
        return self.futures_stream.rstrip("/") + FUTURES_USER_STREAM_PATH + listen_key
