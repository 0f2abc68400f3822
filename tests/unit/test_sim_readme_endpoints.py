"""simulator/README.md "Endpoints served" names every REST route and WebSocket-API method registered."""

from __future__ import annotations

import pathlib
import re

from simulator.app import build_sim
from simulator.config import parse_config

README = pathlib.Path(__file__).resolve().parents[2] / "simulator" / "README.md"
METHODS = {"GET", "POST", "PUT", "DELETE"}


def table_rows() -> list[list[str]]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Endpoints served", 1)[1].split("\n## ", 1)[0]
    return [
        [c.strip() for c in line.strip().strip("|").split("|")]
        for line in section.splitlines()
        if line.startswith("| ") and not line.startswith("| ---") and not line.startswith("| endpoint")
    ]


def rest_named(cell: str) -> set[tuple[str, str]]:
    """`GET /a`, `/b` (same methods), `GET/POST /c`, `/d` / `DELETE` (another method on /d)."""
    out: set[tuple[str, str]] = set()
    methods: list[str] = []
    path = ""
    for token in re.findall(r"`([^`]+)`", cell):
        head, _, rest = token.partition(" ")
        if set(head.split("/")) <= METHODS and head:
            methods = head.split("/")
            if rest:
                path = rest.split("?")[0]
        elif token.startswith("/"):
            path = token
        else:
            continue
        out |= {(m, path) for m in methods}
    return out


def ws_named(cell: str) -> set[str]:
    """`a.b` / `c` (-> a.c), `a.b` (`.x`) (-> a.b.x)."""
    out: set[str] = set()
    last = ""
    for token in re.findall(r"`([^`]+)`", cell):
        if token.startswith("."):
            name = last + token
        elif "." in token:
            name = last = token
        elif last:
            name = last.rsplit(".", 1)[0] + "." + token
        else:
            name = token
        out.add(name)
    return out


def test_every_route_and_ws_method_is_in_the_table() -> None:
    sim = build_sim(parse_config({"simulator": {"tick_interval": 0}}))
    rows = table_rows()
    named_rest = set().union(*(rest_named(r[0]) for r in rows))
    named_ws = set().union(*(ws_named(r[2]) for r in rows if len(r) > 2))
    named_ws |= {t for r in rows for t in re.findall(r"`([a-z]\w*)`", r[2]) if len(r) > 2}
    assert sorted(set(sim.api.rest) - named_rest) == []
    assert sorted(named_rest - set(sim.api.rest)) == []  # nothing listed that is not served
    registered_ws = {m for methods in sim.api.ws.values() for m in methods}
    assert sorted(registered_ws - named_ws) == []


def test_the_parsers() -> None:
    assert rest_named("`GET /a`, `/b` / `DELETE`, `GET/POST /c`") == {
        ("GET", "/a"),
        ("GET", "/b"),
        ("DELETE", "/b"),
        ("GET", "/c"),
        ("POST", "/c"),
    }
    assert ws_named("`session.logon` / `status`, `user.sub` (`.sig`)") == {"session.logon", "session.status", "user.sub", "user.sub.sig"}
