"""The chaos run's seeded fault schedule, and the injector that carries it out.

Scheduled (times are seconds after trading starts):
- SIGKILL of a random slave every 20 s; of each master listener once; of the control actor once
  (supervisord restarts them all; supervisord itself is left alone);
- every user-data connection dropped, twice; one slave's listenKey expired; the master's
  user-data stream stalled for 10 s;
- one slave's key banned (418) for 30 s; one slave's key revoked (-2015) mid-run.
Continuous (every 2 s, sized on the master fills since the last round): about 5% of the slaves'
order requests answered HTTP 5xx or -1007 (half of them executed anyway), about 1% answered 429.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import random
import signal
import time
from collections import Counter
from typing import Any

import msgspec

from tests.chaos.deploy import Service

log = logging.getLogger("chaos.faults")

SLAVE_KILL_EVERY_S = 20.0
STALL_S = 10
BAN_S = 30
ORDER_FAULT_RATE = 0.05
RATE_429_RATE = 0.01


class Fault(msgspec.Struct, kw_only=True):
    at_s: float  # planned offset from the start of trading
    kind: str
    target: str = ""  # program, account or "" (all)
    t_wall: float = 0.0  # when it was injected (time.time())
    t_mono: float = 0.0
    detail: str = ""


def schedule(rng: random.Random, duration: float, slave_ids: list[str], revoked: str) -> list[Fault]:
    plan: list[Fault] = []
    t = SLAVE_KILL_EVERY_S
    while t < duration:
        plan.append(Fault(at_s=t, kind="kill_slave", target=f"slave-{rng.choice(slave_ids)}"))
        t += SLAVE_KILL_EVERY_S

    def free_time(lo: float, hi: float) -> float:
        """A time at least 4 s away from every kill already planned (one fault at a time heals)."""
        for _ in range(200):
            x = rng.uniform(lo, hi) * duration
            if all(abs(x - f.at_s) >= 4.0 for f in plan if f.kind.startswith("kill")):
                return round(x, 1)
        return round(rng.uniform(lo, hi) * duration, 1)

    for market in ("usdm", "spot", "margin"):
        plan.append(Fault(at_s=free_time(0.15, 0.8), kind="kill_master", target=f"master-{market}"))
    plan.append(Fault(at_s=free_time(0.2, 0.8), kind="kill_control", target="control"))
    plan.append(Fault(at_s=free_time(0.1, 0.45), kind="drop_user_data"))
    plan.append(Fault(at_s=free_time(0.5, 0.85), kind="drop_user_data"))
    plan.append(Fault(at_s=free_time(0.1, 0.8), kind="expire_listen_key", target=rng.choice(slave_ids)))
    plan.append(Fault(at_s=free_time(0.1, 0.8), kind="stall_stream", target="master"))
    others = [s for s in slave_ids if s != revoked]
    plan.append(Fault(at_s=free_time(0.1, 0.7), kind="ban_418", target=rng.choice(others)))
    plan.append(Fault(at_s=free_time(0.35, 0.6), kind="revoke_key", target=revoked))
    plan.sort(key=lambda f: f.at_s)
    return plan


class Injector:
    def __init__(self, svc: Service, rng: random.Random, plan: list[Fault], copying: dict[str, list[str]]) -> None:
        self.svc = svc
        self.rng = rng
        self.plan = plan
        self.copying = copying  # market ("futures"/"spot"/"margin") -> slave ids copying it
        self.done: list[Fault] = []
        self.injected: Counter[str] = Counter()  # continuous faults asked for
        self.revoked: set[str] = set()
        self.revoked_at: float | None = None

    def api_key(self, account: str) -> str:
        keys = self.svc.keys[account]
        return next((k for k in keys if k.type == "HMAC"), keys[0]).api_key

    def sigkill(self, program: str) -> str:
        pid = self.svc.pids().get(program)
        if not pid:
            return "not running"
        os.kill(pid, signal.SIGKILL)
        return f"pid {pid}"

    def apply(self, f: Fault) -> str:
        a = self.svc.admin
        match f.kind:
            case "kill_slave" | "kill_master" | "kill_control":
                return self.sigkill(f.target)
            case "drop_user_data":
                return f"closed {a('POST', '/_sim/faults/drop-user-data', {}).get('closed')}"
            case "expire_listen_key":
                return str(a("POST", "/_sim/faults/expire-listen-key", {"account": f.target}))
            case "stall_stream":
                return str(a("POST", "/_sim/faults/stall", {"seconds": STALL_S, "account": f.target}))
            case "ban_418":
                return str(
                    a("POST", "/_sim/faults/rate", {"count": 1, "status": 418, "retry_after": BAN_S, "api_key": self.api_key(f.target)})
                )
            case "revoke_key":
                self.revoked.add(f.target)
                self.revoked_at = time.time()
                return str(a("POST", "/_sim/keys/revoke", {"api_key": self.api_key(f.target), "revoked": True}))
        raise ValueError(f.kind)

    async def run(self, t0: float, stop: asyncio.Event) -> None:
        for f in self.plan:
            delay = t0 + f.at_s - time.monotonic()
            if delay > 0:
                try:
                    await asyncio.wait_for(stop.wait(), delay)
                    return  # trading ended before this fault
                except TimeoutError:
                    pass
            f.t_wall, f.t_mono = time.time(), time.monotonic()
            try:
                f.detail = await asyncio.to_thread(self.apply, f)
            except Exception as exc:  # noqa: BLE001 - record and go on
                f.detail = f"error: {exc}"
            log.info("fault %s %s: %s", f.kind, f.target, f.detail)
            self.done.append(f)

    async def continuous(self, stop: asyncio.Event) -> None:
        """Order faults (5xx / -1007, executed or not) and 429s, sized on the slave orders the
        master's new fills imply (one order per fill per copying slave)."""
        seen = {m: 0 for m in self.copying}
        owed = {"order": 0.0, "429": 0.0}
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), 2.0)
                return
            except TimeoutError:
                pass
            orders = 0
            for market, slaves in self.copying.items():
                live = [s for s in slaves if s not in self.revoked]
                try:
                    n = len(await asyncio.to_thread(self.svc.admin, "GET", f"/_sim/trades?account=master&market={market}"))
                except Exception:  # noqa: BLE001
                    continue
                orders += (n - seen[market]) * len(live)
                seen[market] = n
            owed["order"] += orders * ORDER_FAULT_RATE
            owed["429"] += orders * RATE_429_RATE
            candidates = sorted({s for v in self.copying.values() for s in v} - self.revoked)
            for _ in range(int(owed["order"])):
                kind = self.rng.choice(["5xx", "timeout"])
                executed = self.rng.random() < 0.5
                body: dict[str, Any] = {"count": 1, "kind": kind, "executed": executed, "account": self.rng.choice(candidates)}
                if kind == "5xx":
                    body["http_status"] = self.rng.choice([500, 502, 503])
                await asyncio.to_thread(self.svc.admin, "POST", "/_sim/faults/orders", body)
                self.injected[f"order_{kind}_{'executed' if executed else 'not_executed'}"] += 1
            owed["order"] -= math.floor(owed["order"])
            for _ in range(int(owed["429"])):
                await asyncio.to_thread(
                    self.svc.admin,
                    "POST",
                    "/_sim/faults/rate",
                    {"count": 1, "status": 429, "retry_after": 1, "api_key": self.api_key(self.rng.choice(candidates))},
                )
                self.injected["rate_429"] += 1
            owed["429"] -= math.floor(owed["429"])
