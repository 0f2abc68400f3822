"""The contract check of recorded requests (simulator/recorder.py lines) against Binance's specs.

Whose requests: only our actors'. Our transport (actors/binance/transport.py) sends the User-Agent
`copytrader/<version>`, and an actor process (master, slave, control: they all start through
`actors.base.setup_logging`) names itself in it: `copytrader/0.1.0 (slave-slave01)`, on REST
requests and on the upgrade request of a WebSocket-API connection. Tests that call our client
directly send no actor name; the official SDKs, binance-connector, urllib and aiohttp send their
own agents. So a tagged agent is exactly "an actor process sent this", and tests that send bad
requests on purpose (through any client) are never mistaken for the actors.

WebSocket stream connections (transport "stream": the USD-M user-data URL) are recorded, not
checked: no file in the reference folder specifies them (issue 20 section 1 moves that URL).

Checked per request: method + path (or WebSocket-API method) known to a spec, every parameter
name known for that endpoint, enum values valid where a spec lists them, mandatory parameters
present. Where a spec is stale or silent against Binance's current docs, `allowlist.py` says so,
entry by entry, naming the doc.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from tests.contract import allowlist
from tests.contract.specs import WS_AUTH, Key, Spec

ACTOR_AGENT = re.compile(r"^copytrader/[0-9A-Za-z.+-]+ \((?P<actor>[-_.0-9A-Za-z]+)\)$")
CHECKED = ("rest", "wsapi")


@dataclass
class Finding:
    endpoint: str  # "POST /fapi/v1/order" | "order.place on /ws-fapi/v1"
    problem: str  # "unknown endpoint" | "unknown parameter 'x'" | ...
    actors: set[str] = field(default_factory=set)
    count: int = 0

    def __str__(self) -> str:
        return f"{self.endpoint}: {self.problem} (sent by {', '.join(sorted(self.actors))}; {self.count}x)"


def read_records(directory: Path) -> list[dict[str, Any]]:
    """Every line of every `*.jsonl` file in `directory`; a torn last line (a killed process) is skipped."""
    out = []
    for path in sorted(directory.glob("*.jsonl")):
        for line in path.read_bytes().splitlines():
            try:
                out.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                continue
    return out


def actor_of(record: dict[str, Any]) -> str | None:
    m = ACTOR_AGENT.match(record.get("agent") or "")
    return m.group("actor") if m else None


def key_of(record: dict[str, Any]) -> Key:
    method = str(record["method"])
    if record["transport"] == "wsapi" and "/" in method:  # "v3/order.place" names the same method
        method = method.split("/", 1)[1]
    return (record["transport"], method, record["path"])


def describe(key: Key) -> str:
    transport, method, path = key
    return f"{method} {path}" if transport == "rest" else f"{method} on {path}"


def problems(key: Key, params: list[list[str]], spec: Spec | None) -> list[str]:
    if spec is None:
        return ["unknown endpoint (in no spec)"]
    allowed = allowlist.PARAMS.get(key, {})
    not_mandatory = allowlist.NOT_MANDATORY.get(key, {})
    enums = {name: set(values) | set(allowlist.ENUMS.get(key, {}).get(name, ())) for name, values in spec.enums.items()}
    out = []
    names = {name for name, _ in params}
    for name, value in params:
        if name not in spec.params and name not in allowed:
            out.append(f"unknown parameter {name!r}")
        elif name in enums and value not in enums[name]:
            out.append(f"{name}={value!r} not one of {sorted(enums[name])}")
    mandatory = spec.mandatory - set(not_mandatory)
    if key[0] == "wsapi":
        mandatory -= WS_AUTH  # a logged-on session (session.logon) sends neither (web-socket-api.md)
    for name in sorted(mandatory - names):
        out.append(f"mandatory parameter {name!r} missing")
    return out


def check(records: Iterable[dict[str, Any]], specs: dict[Key, Spec]) -> tuple[list[Finding], int]:
    """(findings, number of actor requests checked)."""
    merged = {**specs, **allowlist.extra_specs()}
    found: dict[tuple[str, str], Finding] = {}
    checked = 0
    for record in records:
        actor = actor_of(record)
        if actor is None or record.get("transport") not in CHECKED:
            continue
        checked += 1
        key = key_of(record)
        for problem in problems(key, record.get("params") or [], merged.get(key)):
            finding = found.setdefault((describe(key), problem), Finding(describe(key), problem))
            finding.actors.add(actor)
            finding.count += 1
    return sorted(found.values(), key=lambda f: (f.endpoint, f.problem)), checked
