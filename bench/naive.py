"""The naive copier the benchmark compares us with, as typical open-source copiers are built:
one process listens to the master stream, then places each follower's order one after another over
REST with a synchronous HTTP client (one keep-alive connection, HMAC-signed query strings).

    python -m bench.naive --endpoint ipc://.../master-usdm.pub --url http://127.0.0.1:PORT \
        --accounts accounts.json

`accounts.json`: [{"id", "api_key", "secret"}] (simulator keys). Prints `ready` once it heard the
master's heartbeat (its subscription is live), then `done <order_id> <trade_id> <failed>
<t_master_recv_ns> <t_master_pub_ns> <symbol>` after each master fill was copied to every account.
Copy rule: the master's side and quantity (ratio 1), reduce-only
when the master's order was.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import http.client
import sys
import time
from urllib.parse import urlencode, urlsplit

import orjson
import zmq

from protocol import codec
from protocol.messages import MasterFill


class SyncRest:
    """A synchronous signed REST client over one keep-alive http.client connection."""

    def __init__(self, url: str, timeout: float = 10.0) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.timeout = timeout
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def signed(self, method: str, path: str, api_key: str, secret: str, params: dict[str, str]) -> tuple[int, bytes]:
        query = urlencode({**params, "timestamp": int(time.time() * 1000), "recvWindow": 10000})
        sig = hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()
        target = f"{path}?{query}&signature={sig}"
        headers = {"X-MBX-APIKEY": api_key}
        for attempt in (0, 1):
            try:
                self.conn.request(method, target, headers=headers)
                resp = self.conn.getresponse()
                return resp.status, resp.read()
            except (http.client.HTTPException, OSError):
                self.conn.close()  # keep-alive dropped: reconnect once
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        self.conn.close()


def naive_cid(fill: MasterFill) -> str:
    """Client order id of the naive copy of a master fill (the same for every account)."""
    return f"nv{fill.order_id}-{fill.trade_id}"


def copy_fill(rest: SyncRest, accounts: list[dict[str, str]], fill: MasterFill) -> int:
    """Place the fill's copy for each account, one after another; returns how many failed."""
    params = {
        "symbol": fill.symbol,
        "side": fill.side,
        "type": "MARKET",
        "quantity": format(fill.qty, "f"),
        "newClientOrderId": naive_cid(fill),
    }
    if fill.reduce_only:
        params["reduceOnly"] = "true"
    failed = 0
    for acc in accounts:
        status, _ = rest.signed("POST", "/fapi/v1/order", acc["api_key"], acc["secret"], params)
        failed += status != 200
    return failed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.naive", description=__doc__.splitlines()[0])
    ap.add_argument("--endpoint", required=True, help="the master listener's PUB endpoint")
    ap.add_argument("--url", required=True, help="exchange base URL")
    ap.add_argument("--accounts", required=True, help="JSON file: [{id, api_key, secret}]")
    ap.add_argument("--market", default="usdm")
    args = ap.parse_args(argv)
    with open(args.accounts, "rb") as fh:
        accounts = orjson.loads(fh.read())
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, f"master.{args.market}.".encode())
    sub.connect(args.endpoint)
    rest = SyncRest(args.url)
    ready = False
    out = sys.stdout
    try:
        while True:
            frames = sub.recv_multipart()
            try:
                event = codec.unpack_master_event(frames)
            except Exception:  # noqa: BLE001 - a bad message never stops the copier
                continue
            if not isinstance(event, MasterFill):
                if not ready:
                    ready = True
                    out.write("ready\n")
                    out.flush()
                continue
            failed = copy_fill(rest, accounts, event)
            out.write(f"done {event.order_id} {event.trade_id} {failed} {event.t_master_recv_ns} {event.t_master_pub_ns} {event.symbol}\n")
            out.flush()
    except KeyboardInterrupt:
        return 0
    finally:
        rest.close()
        sub.close(0)


if __name__ == "__main__":
    sys.exit(main())
