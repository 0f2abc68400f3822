"""The request recorder: every REST and WebSocket-API request this simulator receives, as JSON lines.

Off unless a directory is given (`SimConfig.record_dir`, else the environment variable
`SIMULATOR_RECORD_DIR`, which the test suite sets so every simulator it starts, in-process or as a
subprocess, records). Each simulator instance writes its own file `<dir>/sim-<pid>-<n>.jsonl` (one
writer per file: lines never interleave), one line per request, written and flushed when it is
answered:

    {"transport": "rest" | "wsapi" | "stream", "method": "POST" | "order.place" | "GET", "path": "/fapi/v1/order"
     (the WebSocket path for wsapi), "params": [[name, value], ...], "agent": User-Agent, "account": id | null,
     "status": 200, "reply": shape | null}

Values of `signature`, `apiKey`, `listenKey` and `listenToken` are replaced by "<redacted>", and so
is a listenKey in a stream URL's path. `reply`
is the reply's shape, not its values: a dict maps each field to the shape of its value, a list holds
the merged shape of its elements, a scalar is null. Admin requests (`/_sim/...`) are not recorded;
a WebSocket upgrade is recorded as transport "stream" (its messages, for the WebSocket API, each as
"wsapi").
"""

from __future__ import annotations

import itertools
import logging
import os
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import orjson
from aiohttp import web

if TYPE_CHECKING:
    from simulator.core import Sim

log = logging.getLogger("simulator.recorder")

ENV = "SIMULATOR_RECORD_DIR"
REDACTED = frozenset({"signature", "apiKey", "listenKey", "listenToken"})
_LONG_TOKEN = re.compile(r"/[A-Za-z0-9]{40,}")  # a listenKey in a stream URL's path
_instances = itertools.count()


def shape(value: Any, depth: int = 0) -> Any:
    """The field structure of a JSON value (see the module doc); nesting deeper than 6 is cut (null)."""
    if depth > 6:
        return None
    if isinstance(value, dict):
        return {k: shape(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        merged: Any = None
        for item in value:
            merged = merge(merged, shape(item, depth + 1))
        return [merged] if value else []
    return None


def merge(a: Any, b: Any) -> Any:
    if isinstance(a, dict) and isinstance(b, dict):
        out = dict(a)
        for k, v in b.items():
            out[k] = merge(out[k], v) if k in out else v
        return out
    if isinstance(a, list) and isinstance(b, list):
        return [merge(a[0] if a else None, b[0] if b else None)] if (a or b) else []
    return a if a is not None else b


def redact(pairs: list[tuple[str, str]]) -> list[list[str]]:
    return [[k, "<redacted>" if k in REDACTED else v] for k, v in pairs]


class Recorder:
    def __init__(self, sim: "Sim", directory: str | os.PathLike[str]) -> None:
        self.sim = sim
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        self.path = path / f"sim-{os.getpid()}-{next(_instances)}.jsonl"
        self._file = open(self.path, "ab", buffering=0)  # one write per line, nothing held back

    @classmethod
    def from_config(cls, sim: "Sim") -> "Recorder | None":
        directory = sim.config.record_dir or os.environ.get(ENV)
        return cls(sim, directory) if directory else None

    def account_of(self, api_key: str | None) -> str | None:
        key = self.sim.store.keys.get(api_key) if api_key else None
        return key.account_id if key is not None else None

    def write(
        self,
        transport: str,
        method: str,
        path: str,
        params: list[tuple[str, str]],
        agent: str,
        account: str | None,
        status: int,
        reply: Any,
    ) -> None:
        line = {
            "transport": transport,
            "method": method,
            "path": path,
            "params": redact(params),
            "agent": agent,
            "account": account,
            "status": status,
            "reply": shape(reply) if status == 200 and reply is not None else None,
        }
        try:
            self._file.write(orjson.dumps(line) + b"\n")
        except (OSError, ValueError, TypeError):  # a full disk, a closed file, an odd reply: never fails a request
            log.warning("request recorder: cannot write %s", self.path)

    def close(self) -> None:
        """At the app's shutdown (a request answered later is not recorded)."""
        self._file.close()

    def middleware(self) -> Callable[..., Awaitable[web.StreamResponse]]:
        @web.middleware
        async def record(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
            if request.path.startswith("/_sim"):
                return await handler(request)
            upgrade = request.headers.get("Upgrade", "").lower() == "websocket"
            pairs = parse_qsl(request.raw_path.partition("?")[2], keep_blank_values=True)
            if not upgrade and request.body_exists:
                body = (await request.read()).decode("utf-8", "replace")  # cached: the handler reads it again
                if "json" not in request.content_type:
                    pairs += parse_qsl(body, keep_blank_values=True)
            path = _LONG_TOKEN.sub("/<redacted>", request.path) if upgrade else request.path  # /ws/<listenKey>
            agent = request.headers.get("User-Agent", "")
            account = self.account_of(request.headers.get("X-MBX-APIKEY"))
            status, reply = 0, None
            try:
                response = await handler(request)
                status = response.status
                if not upgrade and status == 200 and isinstance(response, web.Response) and response.body:
                    try:
                        reply = orjson.loads(response.body)  # type: ignore[arg-type]
                    except (orjson.JSONDecodeError, TypeError):
                        reply = None
                return response
            except web.HTTPException as exc:
                status = exc.status
                raise
            finally:
                self.write("stream" if upgrade else "rest", request.method, path, pairs, agent, account, status, reply)

        return record
